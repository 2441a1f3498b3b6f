/// @file message.hpp
/// @brief The 19 Fed-BioMed message types and the four factories (placeholder, being written).
#pragma once
#include "fedbiomed/json.hpp"

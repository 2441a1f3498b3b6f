// The one name of a JSON value's type used in error texts ("a string", "an array", "a number"...).
#pragma once

#include "fedbiomed/json.hpp"

namespace fedbiomed::detail {

/// "null", "a boolean", "a number", "a string", "an array", "an object"... Never throws.
const char* json_type_word(const Json& value) noexcept;

}  // namespace fedbiomed::detail

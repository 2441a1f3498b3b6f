/// @file test_failure.hpp
/// @brief Test support: whether the running test has failed, without making the bench depend on
/// GoogleTest (the library is built with it only when it is found).
#pragma once

namespace fbm_test {

/// @brief True when the GoogleTest test running now has a failure; always false in a program without
/// GoogleTest (the bench). Used to dump a broker's log or a child's output only when it can help.
bool current_test_failed();

/// @brief True when any test of this process has failed so far (false without GoogleTest).
bool any_test_failed();

}  // namespace fbm_test

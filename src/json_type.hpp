// The one name of a JSON value's type used in error texts: "integer", "string"... as a noun in a
// sentence ("found integer 42") and with its article ("the payload is an integer").
#pragma once

#include "fedbiomed/json.hpp"

namespace fedbiomed::detail {

/// "null", "boolean", "integer", "float", "string", "array", "object", "binary" or "discarded".
/// Never throws.
const char* json_type_name(const Json& value) noexcept;

/// The same name with its article: "null", "a boolean", "an integer", "a float", "a string", "an
/// array", "an object", "a binary value", "a discarded value". Never throws.
const char* json_type_word(const Json& value) noexcept;

}  // namespace fedbiomed::detail

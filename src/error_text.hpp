// The text of an error with its FB code in front, as every fault, failed Delivery and exception of the
// library shows it: "FB103: messaging call error: <detail>" (the reference's wording, then ours).
#pragma once

#include <string>

#include "fedbiomed/errors.hpp"

namespace fedbiomed::detail {

/// "<error_text(code)>: <detail>", or error_text(code) alone when @p detail is empty. Throws only
/// std::bad_alloc.
std::string with_code(ErrorNumbers code, const std::string& detail);

}  // namespace fedbiomed::detail

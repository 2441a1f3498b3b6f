// The checks on MessagingOptions made when a Messaging object is constructed.
#pragma once

#include "fedbiomed/messaging_options.hpp"

namespace fedbiomed::detail {

/// @throws MessagingError (FB103) "invalid messaging options: ..." naming the first problem (see the
///         Messaging constructor's documentation for the list).
void validate_options(const MessagingOptions& options);

}  // namespace fedbiomed::detail

/// @file forwarded_log.hpp
/// @brief How fbm-researcher prints a node's log record received on general/logger.
#pragma once

#include <string>

#include "fedbiomed/json.hpp"

namespace fbm_cli {

/// @brief Formats a `log` message (spec section 9) as "[node_id] LEVEL message".
///
/// The record's text is in `msg`, itself a JSON string holding asctime, node_id, name, level and
/// message. When `msg` is not such a JSON object (a peer other than a Fed-BioMed node), the raw `msg`
/// text is printed instead, so nothing is lost. @throws std::bad_alloc only.
std::string format_forwarded_log(const fedbiomed::Json& log_message);

}  // namespace fbm_cli

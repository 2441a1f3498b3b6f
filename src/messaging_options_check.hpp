// The checks on MessagingOptions made when a Messaging object is constructed.
#pragma once

#include <chrono>

#include "fedbiomed/messaging_options.hpp"

namespace fedbiomed::detail {

/// @throws MessagingError (FB103) "invalid messaging options: ..." naming the first problem (see the
///         Messaging constructor's documentation for the list).
void validate_options(const MessagingOptions& options);

/// The longest the client's receive thread is held for one inbound message (MessagingOptions::
/// inbound_max_bytes): a quarter of @p keepalive, so that neither the broker (1.5 keepalives without a
/// packet) nor Paho (which sends PINGREQ from that thread) sees the connection idle; between 100 ms and
/// 15 s; 15 s without keepalive.
std::chrono::milliseconds hold_patience(std::chrono::seconds keepalive) noexcept;

}  // namespace fedbiomed::detail

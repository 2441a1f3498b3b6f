// Whether a connection is still sending: what tells a long upload from a stalled network when a nudge
// (paho_session.hpp) goes unanswered. Linux only (TCP_INFO, SIOCOUTQ), as the rest of socket tuning.
#pragma once

#include <cstdint>
#include <optional>

namespace fedbiomed::detail {

/// The send side of a TCP connection, read from the kernel.
struct TcpSendProgress {
    std::uint64_t bytes_acked = 0;     ///< bytes the peer has acknowledged since the connection began
    std::uint64_t unacknowledged = 0;  ///< bytes written and not yet acknowledged (the send queue)
};

/// The send progress of socket @p fd; nothing when @p fd < 0 or the kernel does not report it. Never throws.
std::optional<TcpSendProgress> tcp_send_progress(int fd) noexcept;

}  // namespace fedbiomed::detail

// Whether a connection is still moving data: what tells a long transfer from a stalled network when a
// nudge (paho_session.hpp) goes unanswered. Linux only (TCP_INFO, SIOCOUTQ, SIOCINQ), as the rest of socket
// tuning.
#pragma once

#include <cstdint>
#include <optional>

namespace fedbiomed::detail {

/// The progress of a TCP connection in both directions, read from the kernel.
struct TcpProgress {
    std::uint64_t bytes_acked = 0;     ///< bytes the peer has acknowledged since the connection began
    std::uint64_t unacknowledged = 0;  ///< bytes written and not yet acknowledged (the send queue)
    std::uint64_t bytes_received = 0;  ///< bytes received from the peer since the connection began
    std::uint64_t unread = 0;          ///< bytes received and not yet read by the application
};

/// The progress of socket @p fd; nothing when @p fd < 0 or the kernel does not report it. Never throws.
std::optional<TcpProgress> tcp_progress(int fd) noexcept;

}  // namespace fedbiomed::detail

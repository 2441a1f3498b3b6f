// TCP_NODELAY on the connection to the broker, which Paho C does not set and does not let us set.
//
// Why: with Nagle's algorithm on, a small write waits while an earlier small write of the same socket is
// not acknowledged yet. A QoS 1 exchange writes twice in a row (the PUBACK of the request, then the
// reply's PUBLISH), and the peer delays its TCP acknowledgement by up to 40 ms (Linux delayed ACK): each
// hop of a request/reply then costs about 40 ms instead of tens of microseconds (measured: 88 ms instead
// of about 0.3 ms for a ping/pong round trip on loopback, docs/performance.md).
// Paho C 1.3 offers no hook on its socket, so after each successful connection the session
// (paho_session.cpp, on the connection supervisor's thread) finds it: a TCP socket of this process whose
// peer is the broker's address and port (inodes from /proc/net/tcp*, matched to /proc/self/fd links, then
// getpeername on those few descriptors only), and sets TCP_NODELAY on it. Setting it is idempotent and
// harmless on any other socket to the same broker (for example another Messaging object of the same
// process), so the match does not need to be exact.
#pragma once

#include <string>
#include <vector>

#include <sys/socket.h>

namespace fedbiomed::detail {

/// The addresses of @p host (brackets of an IPv6 literal removed) and @p port, as the connection resolves
/// them (getaddrinfo, any family, stream sockets). May block on name resolution. Never throws.
/// @return the addresses; empty when resolution failed, and then @p error (if given) says why.
std::vector<sockaddr_storage> resolve_broker(const std::string& host, int port,
                                             std::string* error = nullptr) noexcept;

/// Sets TCP_NODELAY on every TCP socket of this process whose peer is one of @p broker (any address with
/// @p port when @p broker is empty: a false match is harmless). Never resolves names; one readdir of
/// /proc/self/fd and a few system calls per candidate descriptor. Never throws.
/// @return the number of sockets found (already set or newly set).
int enable_tcp_nodelay(const std::vector<sockaddr_storage>& broker, int port) noexcept;

}  // namespace fedbiomed::detail

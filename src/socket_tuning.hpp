// TCP_NODELAY on the connection to the broker, which Paho C does not set and does not let us set.
//
// Why: with Nagle's algorithm on, a small write waits while an earlier small write of the same socket is
// not acknowledged yet. A QoS 1 exchange writes twice in a row (the PUBACK of the request, then the
// reply's PUBLISH), and the peer delays its TCP acknowledgement by up to 40 ms (Linux delayed ACK): each
// hop of a request/reply then costs about 40 ms instead of tens of microseconds (measured: 88 ms instead
// of about 0.3 ms for a ping/pong round trip on loopback, docs/performance.md). Paho C 1.3 offers no hook
// on its socket, so after each successful connection we find it: a TCP socket of this process whose peer
// is the broker's address and port (inodes from /proc/net/tcp*, matched to /proc/self/fd links, then
// getpeername on those few descriptors only), and set TCP_NODELAY on
// it. Setting it is idempotent and harmless on any other socket to the same broker (for example another
// Messaging object of the same process), so the match does not need to be exact.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include <sys/socket.h>

namespace fedbiomed::detail {

/// Finds this process's TCP connections to one broker and turns Nagle's algorithm off on them.
///
/// Thread-safe. resolve() may block on name resolution: call it from a thread that may block (the one
/// calling Messaging::start()); apply() never resolves names and is cheap (one readdir of /proc/self/fd
/// and a few system calls per descriptor), so it may run on Paho's callback thread after a reconnection.
class BrokerSocketTuner {
public:
    BrokerSocketTuner(std::string host, int port);

    /// Resolves the broker's addresses (once; later calls do nothing). Never throws.
    void resolve() noexcept;

    /// Sets TCP_NODELAY on every TCP socket of this process whose peer is the broker (any resolved
    /// address, or, when resolution failed, any address with the broker's port).
    /// @return the number of sockets found (already set or newly set). Never throws.
    int apply() noexcept;

private:
    bool matches(const sockaddr_storage& peer) const noexcept;

    const std::string host_;
    const int port_;
    mutable std::mutex mutex_;
    bool resolved_ = false;
    std::vector<sockaddr_storage> addresses_;  // guarded by mutex_
};

/// One-shot form: resolve @p host and apply to its connections on @p port. May block on name resolution.
/// @return the number of sockets found. Never throws.
int enable_tcp_nodelay_to(const std::string& host, int port) noexcept;

}  // namespace fedbiomed::detail

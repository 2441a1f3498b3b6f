// The socket of this client's connection to the broker, which Paho C neither tunes nor shows us.
//
// Why tune it at all:
// - TCP_NODELAY. With Nagle's algorithm on, a small write waits while an earlier small write of the same
//   socket is not acknowledged yet. A QoS 1 exchange writes twice in a row (the PUBACK of the request, then
//   the reply's PUBLISH), and the peer delays its TCP acknowledgement by up to 40 ms (Linux delayed ACK):
//   each hop of a request/reply then costs about 40 ms instead of tens of microseconds.
// - TCP_QUICKACK. A broker that keeps Nagle on (Mosquitto's default: `set_tcp_nodelay false`) holds its
//   next small write to us (the reply after the PUBACK, the SUBACK after the CONNACK) until we acknowledge
//   its previous one, and our kernel delays that acknowledgement by about 40 ms. Setting TCP_QUICKACK sends
//   a pending acknowledgement at once; Linux leaves quick-ack mode by itself, so the session re-arms it
//   each time it has read an answer it was waiting for and nothing else is expected (paho_session.cpp).
//   Measured on a stock Mosquitto: ping round trip 44 ms -> below 1 ms (docs/performance.md).
//
// Finding exactly this client's socket: Paho C 1.3 offers no hook on its socket, and every client of the
// process shares Paho's threads, so neither the thread nor the peer address tells two clients of the same
// broker apart. The session therefore connects under a process-wide gate (lock_connect_gate()): it takes a
// snapshot of the TCP sockets towards the broker's port before Paho connects, and once Paho has connected
// the one socket of this process towards the broker's address that was not there before is its own
// (BrokerSocket::claim_new()). It keeps a duplicate descriptor of that socket: the duplicate names the same
// socket for as long as the session lives, even if Paho closes its descriptor and the number is reused by
// another connection, so a later option can never land on somebody else's socket. Anything ambiguous (two
// new sockets: another client of the process connected outside the gate) claims nothing and tunes nothing.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include <sys/socket.h>

namespace fedbiomed::detail {

/// The addresses of @p host (brackets of an IPv6 literal removed) and @p port, as Paho C resolves them
/// (getaddrinfo: any family, stream sockets, TCP), in resolver order. May block on name resolution. Never
/// throws.
/// @return the addresses; empty when resolution failed, and then @p error (if given) says why.
std::vector<sockaddr_storage> resolve_broker(const std::string& host, int port,
                                             std::string* error = nullptr) noexcept;

/// The one address of @p addresses that Paho C 1.3 connects to: the first IPv4 address, else the last one.
std::optional<sockaddr_storage> connection_address(const std::vector<sockaddr_storage>& addresses) noexcept;

/// Socket inodes of the TCP connections of this network namespace whose remote port is @p port, in any
/// state (a connection still being opened included). Reads /proc/net/tcp and /proc/net/tcp6 only: no
/// descriptor of the process is touched. Never throws (empty when /proc cannot be read).
std::unordered_set<unsigned long> sockets_towards_port(int port) noexcept;

/// Serialises the connection attempts of the process between the snapshot taken before Paho connects and
/// BrokerSocket::claim_new(), so that the socket that appeared in between belongs to the one attempt
/// holding the gate. Blocks while another session holds it (at most its bounded hold, paho_session.cpp).
std::unique_lock<std::mutex> lock_connect_gate();

/// One connection's socket, held through a duplicate descriptor of the client's own (close-on-exec).
/// Move-only; closing it never closes the connection while the client still has its descriptor.
/// Thread-safety: the options may be set from any thread while the object lives; moving or destroying it
/// must not race with them.
class BrokerSocket {
public:
    BrokerSocket() noexcept = default;
    ~BrokerSocket();
    BrokerSocket(BrokerSocket&& other) noexcept;
    BrokerSocket& operator=(BrokerSocket&& other) noexcept;
    BrokerSocket(const BrokerSocket&) = delete;
    BrokerSocket& operator=(const BrokerSocket&) = delete;

    /// The socket of this process connected to @p broker (address and port) whose inode is not in
    /// @p before nor claimed by another BrokerSocket of the process. Never resolves names; one readdir of
    /// /proc/self/fd and a few system calls per candidate. Never throws.
    /// @return the claimed socket; an invalid one when there is none or more than one such socket.
    static BrokerSocket claim_new(const std::unordered_set<unsigned long>& before,
                                  const sockaddr_storage& broker) noexcept;

    bool valid() const noexcept { return fd_ >= 0; }
    /// The duplicate descriptor (-1 when invalid). Names the same socket as the client's descriptor.
    int descriptor() const noexcept { return fd_; }
    /// The socket's inode (0 when invalid): the identity of the socket, whatever the descriptor number.
    unsigned long inode() const noexcept { return inode_; }

    /// Turns Nagle's algorithm off. @return false when invalid or refused.
    bool set_nodelay() const noexcept;
    /// Enters quick-ack mode: a pending acknowledgement leaves at once, and the next few are not delayed.
    /// One system call; does nothing when invalid.
    void quickack() const noexcept;
    /// True when received bytes wait in the socket (nothing to re-arm for: more is being read).
    bool input_pending() const noexcept;

private:
    BrokerSocket(int fd, unsigned long inode) noexcept : fd_(fd), inode_(inode) {}
    void reset() noexcept;

    int fd_ = -1;
    unsigned long inode_ = 0;
};

/// The inode of the socket behind descriptor @p fd (0 when it is not a socket). For checks and tests.
unsigned long socket_inode_of(int fd) noexcept;

/// BrokerSocket::quickack() on a descriptor read from an atomic (Paho's threads). Nothing when @p fd < 0.
void quickack_on(int fd) noexcept;
/// BrokerSocket::input_pending() on a descriptor read from an atomic. False when @p fd < 0.
bool input_pending_on(int fd) noexcept;

}  // namespace fedbiomed::detail

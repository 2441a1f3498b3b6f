// This client's socket to the broker (src/transport/socket_tuning.hpp): the one connection to the broker's
// address and port that appeared since the snapshot is claimed, through a descriptor of its own; anything
// ambiguous, older or already claimed is left alone. A plain listening socket on 127.0.0.1 stands in for
// the broker; no MQTT is needed to observe the socket's identity or TCP_NODELAY. (The same with Paho and a
// real Mosquitto: tests/integration/broker_socket_test.cpp.)
#include "transport/socket_tuning.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "transport/tcp_progress.hpp"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// A file descriptor closed on scope exit.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    return address;
}

// A listener on 127.0.0.1 with a kernel-chosen port; returns the port.
int listen_on_loopback(Fd& listener) {
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener.get(), 4) != 0 ||
        ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    return ntohs(address.sin_port);
}

void connect_to(const Fd& client, int port) {
    const sockaddr_in address = loopback(port);
    if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
    }
}

bool nodelay(const Fd& socket) {
    int value = 0;
    socklen_t length = sizeof value;
    if (::getsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &value, &length) != 0) {
        throw std::runtime_error("getsockopt(TCP_NODELAY) failed");
    }
    return value != 0;
}

Fd tcp_socket() {
    return Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
}

sockaddr_storage storage_of(const sockaddr_in& address) {
    sockaddr_storage storage{};
    std::memcpy(&storage, &address, sizeof address);
    return storage;
}

using fedbiomed::detail::BrokerSocket;
using fedbiomed::detail::socket_inode_of;
using fedbiomed::detail::sockets_towards_port;

}  // namespace

TEST(SocketTuning, ClaimsTheOneNewConnectionToTheBroker) {
    Fd broker = tcp_socket();
    Fd other = tcp_socket();
    const int broker_port = listen_on_loopback(broker);
    const int other_port = listen_on_loopback(other);
    const auto before = sockets_towards_port(broker_port);
    Fd to_broker = tcp_socket();
    Fd to_other = tcp_socket();
    connect_to(to_broker, broker_port);
    connect_to(to_other, other_port);
    ASSERT_FALSE(nodelay(to_broker));  // the kernel default: Nagle on

    BrokerSocket claimed = BrokerSocket::claim_new(before, storage_of(loopback(broker_port)));
    ASSERT_TRUE(claimed.valid());
    // The same socket (its identity is the inode), through another descriptor.
    EXPECT_EQ(claimed.inode(), socket_inode_of(to_broker.get()));
    EXPECT_NE(claimed.descriptor(), to_broker.get());
    EXPECT_TRUE(claimed.set_nodelay());
    EXPECT_TRUE(nodelay(to_broker));
    EXPECT_FALSE(nodelay(to_other));
    EXPECT_FALSE(claimed.input_pending());
}

TEST(SocketTuning, AConnectionThatWasThereBeforeIsNotClaimed) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    Fd earlier = tcp_socket();
    connect_to(earlier, port);
    const auto before = sockets_towards_port(port);
    EXPECT_EQ(before.count(socket_inode_of(earlier.get())), 1U);
    EXPECT_FALSE(BrokerSocket::claim_new(before, storage_of(loopback(port))).valid());
    EXPECT_FALSE(nodelay(earlier));
}

TEST(SocketTuning, TwoNewConnectionsAreAmbiguousAndNeitherIsTouched) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    const auto before = sockets_towards_port(port);
    Fd first = tcp_socket();
    Fd second = tcp_socket();
    connect_to(first, port);
    connect_to(second, port);
    EXPECT_FALSE(BrokerSocket::claim_new(before, storage_of(loopback(port))).valid());
    EXPECT_FALSE(nodelay(first));
    EXPECT_FALSE(nodelay(second));
}

TEST(SocketTuning, AClaimedSocketIsNotClaimedAgainUntilReleased) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    const auto before = sockets_towards_port(port);
    Fd client = tcp_socket();
    connect_to(client, port);
    const auto address = storage_of(loopback(port));
    {
        BrokerSocket first = BrokerSocket::claim_new(before, address);
        ASSERT_TRUE(first.valid());
        // Another session of the process connecting later must not take it for its own.
        EXPECT_FALSE(BrokerSocket::claim_new(before, address).valid());
        BrokerSocket moved = std::move(first);
        EXPECT_FALSE(first.valid());  // NOLINT(bugprone-use-after-move): the moved-from state is the point
        EXPECT_TRUE(moved.valid());
        EXPECT_FALSE(BrokerSocket::claim_new(before, address).valid());
    }
    // Released (and the client's own descriptor still open): claimable again, the same socket.
    BrokerSocket again = BrokerSocket::claim_new(before, address);
    ASSERT_TRUE(again.valid());
    EXPECT_EQ(again.inode(), socket_inode_of(client.get()));
}

TEST(SocketTuning, TheClaimOutlivesTheClientsDescriptorNumber) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    const auto before = sockets_towards_port(port);
    auto client = std::make_unique<Fd>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    connect_to(*client, port);
    BrokerSocket claimed = BrokerSocket::claim_new(before, storage_of(loopback(port)));
    ASSERT_TRUE(claimed.valid());
    const unsigned long inode = claimed.inode();
    const int number = client->get();
    client.reset();  // the client closes its descriptor; the number is free for the next socket
    Fd reuse = tcp_socket();
    connect_to(reuse, port);
    ASSERT_EQ(reuse.get(), number) << "the kernel hands out the lowest free number";
    // Setting an option through the claim still reaches the claimed socket, never the newcomer.
    EXPECT_EQ(socket_inode_of(claimed.descriptor()), inode);
    EXPECT_NE(socket_inode_of(reuse.get()), inode);
    EXPECT_TRUE(claimed.set_nodelay());
    EXPECT_FALSE(nodelay(reuse));
}

TEST(SocketTuning, AnotherAddressWithTheSamePortIsLeftAlone) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    const auto before = sockets_towards_port(port);
    Fd client = tcp_socket();
    connect_to(client, port);
    // 127.0.0.2 is not where this connection goes, even though the port is the same.
    const auto elsewhere = fedbiomed::detail::resolve_broker("127.0.0.2", port);
    ASSERT_EQ(elsewhere.size(), 1U);
    EXPECT_FALSE(BrokerSocket::claim_new(before, elsewhere.front()).valid());
    EXPECT_FALSE(nodelay(client));
}

TEST(SocketTuning, HostNamesResolveToTheAddressPahoConnectsTo) {
    using fedbiomed::detail::connection_address;
    using fedbiomed::detail::resolve_broker;
    // Paho C 1.3 takes the first IPv4 address of the list, else the last entry.
    const auto localhost = connection_address(resolve_broker("localhost", 1883));
    ASSERT_TRUE(localhost.has_value());
    ASSERT_EQ(localhost->ss_family, AF_INET);
    sockaddr_in v4{};
    std::memcpy(&v4, &*localhost, sizeof v4);
    EXPECT_EQ(ntohl(v4.sin_addr.s_addr), INADDR_LOOPBACK);
    EXPECT_EQ(ntohs(v4.sin_port), 1883);
    // An IPv6 literal, with the brackets of a URI, is that address.
    const auto v6 = connection_address(resolve_broker("[::1]", 1883));
    ASSERT_TRUE(v6.has_value());
    ASSERT_EQ(v6->ss_family, AF_INET6);
    sockaddr_in6 six{};
    std::memcpy(&six, &*v6, sizeof six);
    EXPECT_TRUE(IN6_IS_ADDR_LOOPBACK(&six.sin6_addr));
    // Unresolvable: nothing, and a reason.
    std::string error;
    EXPECT_TRUE(resolve_broker("no-such-host.invalid", 1883, &error).empty());
    EXPECT_FALSE(error.empty());
    EXPECT_FALSE(connection_address({}).has_value());
}

// The progress that tells a long transfer from a stalled connection (tcp_progress.hpp): what the peer's
// kernel acknowledged on one side, what arrived and waits unread on the other.
TEST(TcpProgress, CountsWhatThePeerAcknowledgedAndWhatArrivedUnread) {
    Fd listener(tcp_socket());
    const int port = listen_on_loopback(listener);
    Fd client(tcp_socket());
    connect_to(client, port);
    Fd server(::accept(listener.get(), nullptr, nullptr));
    ASSERT_GE(server.get(), 0);
    const auto sender_before = fedbiomed::detail::tcp_progress(client.get());
    const auto receiver_before = fedbiomed::detail::tcp_progress(server.get());
    ASSERT_TRUE(sender_before.has_value());
    ASSERT_TRUE(receiver_before.has_value());
    const std::string data(1000, 'x');
    ASSERT_EQ(::send(client.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    // Loopback acknowledges within microseconds; no event says so: poll the kernel's counters, 10 s at most.
    std::optional<fedbiomed::detail::TcpProgress> sender;
    std::optional<fedbiomed::detail::TcpProgress> receiver;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
        sender = fedbiomed::detail::tcp_progress(client.get());
        receiver = fedbiomed::detail::tcp_progress(server.get());
        ASSERT_TRUE(sender.has_value());
        ASSERT_TRUE(receiver.has_value());
        if (sender->bytes_acked >= sender_before->bytes_acked + data.size() &&
            receiver->unread >= data.size()) {
            break;
        }
        std::this_thread::yield();
    } while (std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(sender->bytes_acked, sender_before->bytes_acked + data.size());
    EXPECT_EQ(sender->unacknowledged, 0U);
    EXPECT_EQ(receiver->bytes_received, receiver_before->bytes_received + data.size());
    EXPECT_EQ(receiver->unread, data.size());
    EXPECT_FALSE(fedbiomed::detail::tcp_progress(-1).has_value());
}

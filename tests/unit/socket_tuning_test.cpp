// TCP_NODELAY on the broker connection (src/transport/socket_tuning.hpp): it must find this process's TCP
// connections to the broker's address and port, turn Nagle's algorithm off on them, and leave every other
// socket alone. A plain listening socket on 127.0.0.1 stands in for the broker; no MQTT is needed to observe
// TCP_NODELAY.
#include "transport/socket_tuning.hpp"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

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

}  // namespace

TEST(SocketTuning, SetsNodelayOnTheConnectionToTheBrokerOnly) {
    Fd broker = tcp_socket();
    Fd other = tcp_socket();
    const int broker_port = listen_on_loopback(broker);
    const int other_port = listen_on_loopback(other);
    Fd to_broker = tcp_socket();
    Fd to_other = tcp_socket();
    connect_to(to_broker, broker_port);
    connect_to(to_other, other_port);
    ASSERT_FALSE(nodelay(to_broker));  // the kernel default: Nagle on

    const auto broker_addresses = fedbiomed::detail::resolve_broker("127.0.0.1", broker_port);
    ASSERT_FALSE(broker_addresses.empty());
    EXPECT_EQ(fedbiomed::detail::enable_tcp_nodelay(broker_addresses, broker_port), 1);
    EXPECT_TRUE(nodelay(to_broker));
    EXPECT_FALSE(nodelay(to_other));
    // Idempotent: applying again finds the same socket and changes nothing else.
    EXPECT_EQ(fedbiomed::detail::enable_tcp_nodelay(broker_addresses, broker_port), 1);
    EXPECT_TRUE(nodelay(to_broker));
    EXPECT_FALSE(nodelay(to_other));
}

TEST(SocketTuning, AHostNameMatchesItsResolvedAddresses) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    Fd first = tcp_socket();
    Fd second = tcp_socket();
    connect_to(first, port);
    connect_to(second, port);
    // "localhost" resolves to 127.0.0.1 (and perhaps ::1); both connections of this process are the broker's.
    EXPECT_EQ(
        fedbiomed::detail::enable_tcp_nodelay(fedbiomed::detail::resolve_broker("localhost", port), port), 2);
    EXPECT_TRUE(nodelay(first));
    EXPECT_TRUE(nodelay(second));
}

TEST(SocketTuning, AnotherAddressWithTheSamePortIsLeftAlone) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    Fd client = tcp_socket();
    connect_to(client, port);
    // 127.0.0.2 is not where this connection goes, even though the port is the same.
    EXPECT_EQ(
        fedbiomed::detail::enable_tcp_nodelay(fedbiomed::detail::resolve_broker("127.0.0.2", port), port), 0);
    EXPECT_FALSE(nodelay(client));
}

TEST(SocketTuning, WithoutAResolvedAddressThePortDecides) {
    Fd broker = tcp_socket();
    const int port = listen_on_loopback(broker);
    Fd client = tcp_socket();
    connect_to(client, port);
    // Name resolution failed (no address): matched by port alone, which is harmless (TCP_NODELAY only
    // changes when small segments leave).
    std::string error;
    EXPECT_TRUE(fedbiomed::detail::resolve_broker("no-such-host.invalid", port, &error).empty());
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(fedbiomed::detail::enable_tcp_nodelay({}, port), 1);
    EXPECT_TRUE(nodelay(client));
}

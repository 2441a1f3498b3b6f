// The doorbell of Paho's receive thread (src/transport/receive_thread_doorbell.hpp), on its own: no broker,
// only Paho's client and the loopback connection the doorbell makes to it. What a ring buys (connections
// noticed at once) is measured in bench/ (the connect workload), never asserted here.
#include "transport/receive_thread_doorbell.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>

#include <gtest/gtest.h>

#include <dirent.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using fedbiomed::detail::ReceiveThreadDoorbell;
using namespace std::chrono_literals;

constexpr auto kBudget = 5s;
constexpr auto kWait = 10s;

bool wait_until(const std::function<bool()>& condition) {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(1ms);  // polling a condition the kernel holds: no event to wait on
    }
    return true;
}

// The descriptors of this process that are sockets.
std::vector<int> own_sockets() {
    std::vector<int> sockets;
    DIR* directory = ::opendir("/proc/self/fd");
    if (directory == nullptr) {
        return sockets;
    }
    const int own = ::dirfd(directory);
    while (const dirent* entry = ::readdir(directory)) {
        char* end = nullptr;
        const long number = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || number == own) {
            continue;
        }
        int type = 0;
        socklen_t length = sizeof type;
        if (::getsockopt(static_cast<int>(number), SOL_SOCKET, SO_TYPE, &type, &length) == 0) {
            sockets.push_back(static_cast<int>(number));
        }
    }
    ::closedir(directory);
    return sockets;
}

// The socket of this process whose peer is @p fd's own address: Paho's end of the doorbell's connection.
int peer_socket_of(int fd) {
    sockaddr_storage mine{};
    socklen_t mine_length = sizeof mine;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&mine), &mine_length) != 0) {
        return -1;
    }
    for (const int candidate : own_sockets()) {
        sockaddr_storage peer{};
        socklen_t length = sizeof peer;
        if (candidate != fd && ::getpeername(candidate, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
            length == mine_length && std::memcmp(&peer, &mine, length) == 0) {
            return candidate;
        }
    }
    return -1;
}

int queued(int fd, unsigned long request) {
    int bytes = -1;
    return ::ioctl(fd, request, &bytes) == 0 ? bytes : -1;
}

TEST(ReceiveThreadDoorbell, OneDoorbellIsSharedWhileHeldAndANewOneIsMadeAfter) {
    auto first = ReceiveThreadDoorbell::acquire(kBudget);
    ASSERT_NE(first, nullptr);
    auto second = ReceiveThreadDoorbell::acquire(kBudget);
    EXPECT_EQ(second.get(), first.get());
    first->ring();
    EXPECT_EQ(second->rings(), 1U);
    first.reset();
    second.reset();
    auto third = ReceiveThreadDoorbell::acquire(kBudget);
    ASSERT_NE(third, nullptr);
    EXPECT_EQ(third->rings(), 0U);  // a new doorbell, not the old one kept alive
}

TEST(ReceiveThreadDoorbell, EveryRingIsReadByPahosReceiveThread) {
    auto doorbell = ReceiveThreadDoorbell::acquire(kBudget);
    ASSERT_NE(doorbell, nullptr);
    const int paho = peer_socket_of(doorbell->descriptor());
    ASSERT_GE(paho, 0) << "Paho's end of the doorbell's connection is not a socket of this process";
    constexpr unsigned long kRings = 1000;
    for (unsigned long i = 0; i < kRings; ++i) {
        doorbell->ring();
    }
    EXPECT_EQ(doorbell->rings(), kRings);
    // Everything rung has reached Paho's socket (nothing left unacknowledged on ours), and Paho's receive
    // thread has read it all: one pass of its loop per ring.
    EXPECT_TRUE(wait_until([&] {
        return queued(doorbell->descriptor(), SIOCOUTQ) == 0 && queued(paho, SIOCINQ) == 0;
    })) << "left on our side: "
        << queued(doorbell->descriptor(), SIOCOUTQ) << " bytes, unread by Paho: " << queued(paho, SIOCINQ)
        << " bytes";
}

TEST(ReceiveThreadDoorbell, ReleasedItLeavesNoSocketBehind) {
    const std::size_t before = own_sockets().size();
    auto doorbell = ReceiveThreadDoorbell::acquire(kBudget);
    ASSERT_NE(doorbell, nullptr);
    // Paho's end and ours; the listener is closed as soon as Paho's client is accepted.
    EXPECT_EQ(own_sockets().size(), before + 2);
    doorbell.reset();
    EXPECT_EQ(own_sockets().size(), before);
}

}  // namespace

/// @file stalling_proxy.hpp
/// @brief Test support: a TCP proxy on a free loopback port in front of a broker, which can stop
/// forwarding without closing anything (a stalled network: packets neither arrive nor fail) and resume.
#pragma once

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace fbm_test {

/// @brief Forwards every connection accepted on port() to 127.0.0.1:target_port, byte for byte, in both
/// directions, on one thread. Not copyable; drive it from the test's thread (the methods are thread-safe).
class StallingProxy {
public:
    /// @brief Listens on a free loopback port. @throws std::runtime_error when it cannot.
    explicit StallingProxy(int target_port);
    /// @brief Closes every connection and the listener.
    ~StallingProxy();
    StallingProxy(const StallingProxy&) = delete;
    StallingProxy& operator=(const StallingProxy&) = delete;

    /// @brief The port clients connect to.
    int port() const { return port_; }

    /// @brief Stops forwarding: what is sent waits in the sockets' buffers, nothing is closed, new
    /// connections are accepted (and connected to the target) but carry nothing either.
    void pause();

    /// @brief Forwards again, starting with what waited.
    void resume();

    /// @brief Connections accepted so far.
    int accepted() const { return accepted_.load(); }

    /// @brief Closes every connection now (both sides see the socket close), keeps listening.
    void drop_connections();

private:
    struct Pair {
        int client = -1;
        int upstream = -1;
    };
    void run();
    void wake();

    int target_port_;
    int listen_fd_ = -1;
    int wake_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> paused_{false};
    std::atomic<bool> stop_{false};
    std::atomic<bool> drop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

}  // namespace fbm_test

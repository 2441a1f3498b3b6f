#include "stalling_proxy.hpp"

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fbm_test {
namespace {

sockaddr_in loopback(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// Writes everything (loopback peers always read, so a blocking write does not stall for long).
bool write_all(int fd, const char* data, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t sent = ::send(fd, data + done, size - done, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent <= 0) {
            return false;
        }
        done += static_cast<std::size_t>(sent);
    }
    return true;
}

}  // namespace

StallingProxy::StallingProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("StallingProxy: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        throw std::runtime_error("StallingProxy: eventfd failed");
    }
    thread_ = std::thread([this] { run(); });
}

StallingProxy::~StallingProxy() {
    stop_.store(true);
    wake();
    thread_.join();
    ::close(listen_fd_);
    ::close(wake_fd_);
}

void StallingProxy::wake() {
    const std::uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
}

void StallingProxy::pause() {
    paused_.store(true);
    wake();
}

void StallingProxy::resume() {
    paused_.store(false);
    wake();
}

void StallingProxy::drop_connections() {
    drop_.store(true);
    wake();
}

void StallingProxy::run() {
    std::vector<Pair> pairs;
    auto close_pair = [](Pair& pair) {
        ::close(pair.client);
        ::close(pair.upstream);
        pair.client = pair.upstream = -1;
    };
    char buffer[65536];
    while (!stop_.load()) {
        if (drop_.exchange(false)) {
            for (auto& pair : pairs) {
                close_pair(pair);
            }
            pairs.clear();
        }
        const bool forwarding = !paused_.load();
        std::vector<pollfd> fds;
        fds.push_back({wake_fd_, POLLIN, 0});
        fds.push_back({listen_fd_, POLLIN, 0});
        for (const auto& pair : pairs) {
            // Paused: nothing is read, so nothing moves and nothing is noticed (not even a close).
            const short events = forwarding ? POLLIN : 0;
            fds.push_back({pair.client, events, 0});
            fds.push_back({pair.upstream, events, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            continue;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            (void)::read(wake_fd_, &count, sizeof count);
        }
        const std::size_t polled = pairs.size();  // pairs accepted below are polled from the next round
        if ((fds[1].revents & POLLIN) != 0) {
            const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client >= 0) {
                accepted_.fetch_add(1);
                const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                const sockaddr_in target = loopback(target_port_);
                if (upstream < 0 ||
                    ::connect(upstream, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0) {
                    ::close(client);
                    if (upstream >= 0) {
                        ::close(upstream);
                    }
                } else {
                    pairs.push_back({client, upstream});
                }
            }
        }
        if (!forwarding) {
            continue;
        }
        for (std::size_t i = 0; i < polled; ++i) {
            const pollfd& from_client = fds[2 + 2 * i];
            const pollfd& from_upstream = fds[3 + 2 * i];
            Pair& pair = pairs[i];
            bool ok = true;
            for (const auto* side : {&from_client, &from_upstream}) {
                if (!ok || side->revents == 0) {
                    continue;
                }
                const int source = side->fd;
                const int sink = source == pair.client ? pair.upstream : pair.client;
                const ssize_t got = ::recv(source, buffer, sizeof buffer, 0);
                ok = got > 0 && write_all(sink, buffer, static_cast<std::size_t>(got));
            }
            if (!ok) {
                close_pair(pair);
            }
        }
        std::vector<Pair> open;
        for (const auto& pair : pairs) {
            if (pair.client >= 0) {
                open.push_back(pair);
            }
        }
        pairs.swap(open);
    }
    for (auto& pair : pairs) {
        close_pair(pair);
    }
}

}  // namespace fbm_test

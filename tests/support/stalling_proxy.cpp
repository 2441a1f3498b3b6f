#include "stalling_proxy.hpp"

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "loopback.hpp"
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fbm_test {
namespace {

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
    const LoopbackListener listener = listen_on_loopback(16);
    listen_fd_ = listener.fd;
    port_ = listener.port;
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        ::close(listen_fd_);
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
        // Paused: the connections are not polled at all, so nothing moves and nothing is noticed (not even
        // a close). Polling them with no events would not do: poll() still reports POLLERR and POLLHUP, and
        // a peer that closed during the pause would make this loop spin until resume().
        const std::size_t polled = forwarding ? pairs.size() : 0;  // later accepts: from the next round
        for (std::size_t i = 0; i < polled; ++i) {
            fds.push_back({pairs[i].client, POLLIN, 0});
            fds.push_back({pairs[i].upstream, POLLIN, 0});
        }
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            continue;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            (void)::read(wake_fd_, &count, sizeof count);
        }
        if ((fds[1].revents & POLLIN) != 0) {
            const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client >= 0) {
                accepted_.fetch_add(1);
                const int upstream = connect_to_loopback(target_port_);
                if (upstream < 0) {
                    ::close(client);
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

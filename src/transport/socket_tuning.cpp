#include "transport/socket_tuning.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fedbiomed::detail {
namespace {

// The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d), if it is one.
bool mapped_v4(const sockaddr_in6& address, in_addr& out) noexcept {
    if (!IN6_IS_ADDR_V4MAPPED(&address.sin6_addr)) {
        return false;
    }
    std::memcpy(&out, address.sin6_addr.s6_addr + 12, sizeof out);
    return true;
}

int port_of(const sockaddr_storage& address) noexcept {
    if (address.ss_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, &address, sizeof v4);
        return ntohs(v4.sin_port);
    }
    if (address.ss_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, &address, sizeof v6);
        return ntohs(v6.sin6_port);
    }
    return -1;
}

// Same host address, whatever the family (an IPv4 address may appear IPv4-mapped in an IPv6 socket).
bool same_host(const sockaddr_storage& a, const sockaddr_storage& b) noexcept {
    in_addr a4{};
    in_addr b4{};
    bool a_is_v4 = false;
    bool b_is_v4 = false;
    if (a.ss_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, &a, sizeof v4);
        a4 = v4.sin_addr;
        a_is_v4 = true;
    } else if (a.ss_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, &a, sizeof v6);
        a_is_v4 = mapped_v4(v6, a4);
    }
    if (b.ss_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, &b, sizeof v4);
        b4 = v4.sin_addr;
        b_is_v4 = true;
    } else if (b.ss_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, &b, sizeof v6);
        b_is_v4 = mapped_v4(v6, b4);
    }
    if (a_is_v4 || b_is_v4) {
        return a_is_v4 && b_is_v4 && a4.s_addr == b4.s_addr;
    }
    if (a.ss_family != AF_INET6 || b.ss_family != AF_INET6) {
        return false;
    }
    sockaddr_in6 a6{};
    sockaddr_in6 b6{};
    std::memcpy(&a6, &a, sizeof a6);
    std::memcpy(&b6, &b, sizeof b6);
    return std::memcmp(&a6.sin6_addr, &b6.sin6_addr, sizeof a6.sin6_addr) == 0;
}

// The descriptor's peer, when it is a connected TCP socket over IPv4 or IPv6.
bool tcp_peer(int fd, sockaddr_storage& peer) noexcept {
    int type = 0;
    socklen_t length = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_STREAM) {
        return false;
    }
    length = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
        return false;  // not connected (a listening socket, or a connection still in progress)
    }
    return peer.ss_family == AF_INET || peer.ss_family == AF_INET6;
}

// Inodes of the TCP connections of this network namespace whose remote port is @p port, read from
// /proc/net/tcp and /proc/net/tcp6 (columns: sl local_address rem_address st ... inode). Reading these
// files touches no descriptor of ours, so it cannot race with threads opening or closing files.
std::unordered_set<unsigned long> inodes_with_remote_port(int port) {
    std::unordered_set<unsigned long> inodes;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
            unsigned long inode = 0;
            if (!(fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
                  timeout >> inode)) {
                continue;
            }
            const std::size_t colon = remote.rfind(':');
            if (colon == std::string::npos) {
                continue;
            }
            if (std::strtol(remote.c_str() + colon + 1, nullptr, 16) == port && inode != 0) {
                inodes.insert(inode);
            }
        }
    }
    return inodes;
}

// The socket inode behind descriptor @p name of /proc/self/fd ("socket:[12345]"), or 0. readlink() reads
// a path, not the descriptor itself.
unsigned long socket_inode(const char* name) {
    char target[64] = {};
    const std::string path = std::string("/proc/self/fd/") + name;
    const ssize_t length = ::readlink(path.c_str(), target, sizeof target - 1);
    if (length <= 0) {
        return 0;
    }
    const std::string_view text(target, static_cast<std::size_t>(length));
    constexpr std::string_view kPrefix = "socket:[";
    if (text.substr(0, kPrefix.size()) != kPrefix) {
        return 0;
    }
    return std::strtoul(target + kPrefix.size(), nullptr, 10);
}

// The scans of /proc/self/fd, one at a time in the whole process: two scans (two sessions connecting at
// once) would otherwise fstat() the descriptor the other one's opendir() holds while it is being closed and
// reused, which ThreadSanitizer rightly reports as a race. The same mutex guards the claimed inodes.
std::mutex& scan_mutex() {
    static std::mutex mutex;
    return mutex;
}

// Inodes held by a BrokerSocket of this process (guarded by scan_mutex()).
std::unordered_set<unsigned long>& claimed_inodes() {
    static std::unordered_set<unsigned long> inodes;
    return inodes;
}

}  // namespace

std::vector<sockaddr_storage> resolve_broker(const std::string& host, int port, std::string* error) noexcept {
    std::vector<sockaddr_storage> found;
    try {
        // Paho C's own hints (Socket_new() in Paho C 1.3), so that the list is the one the connection used.
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_protocol = IPPROTO_TCP;
        addrinfo* list = nullptr;
        const std::string service = std::to_string(port);
        // Brackets of an IPv6 literal are not part of the address.
        std::string name = host;
        if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
            name = name.substr(1, name.size() - 2);
        }
        const int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &list);
        if (rc != 0) {
            if (error != nullptr) {
                *error = rc == EAI_SYSTEM ? std::system_category().message(errno)
                                          : std::string(::gai_strerror(rc));
            }
            return found;
        }
        for (const addrinfo* entry = list; entry != nullptr; entry = entry->ai_next) {
            if (entry->ai_addrlen <= sizeof(sockaddr_storage)) {
                sockaddr_storage address{};
                std::memcpy(&address, entry->ai_addr, entry->ai_addrlen);
                found.push_back(address);
            }
        }
        ::freeaddrinfo(list);
    } catch (...) {
        found.clear();  // std::bad_alloc: callers fall back to what needs no address
    }
    return found;
}

std::optional<sockaddr_storage> connection_address(const std::vector<sockaddr_storage>& addresses) noexcept {
    // Paho C 1.3 (Socket_new): "prefer ip4 addresses", else the last entry of the list.
    for (const auto& address : addresses) {
        if (address.ss_family == AF_INET) {
            return address;
        }
    }
    if (addresses.empty()) {
        return std::nullopt;
    }
    return addresses.back();
}

std::unordered_set<unsigned long> sockets_towards_port(int port) noexcept {
    try {
        return inodes_with_remote_port(port);
    } catch (...) {
        return {};  // std::bad_alloc: an empty snapshot only makes claim_new() stricter
    }
}

std::unique_lock<std::mutex> lock_connect_gate() {
    static std::mutex gate;
    return std::unique_lock<std::mutex>(gate);
}

unsigned long socket_inode_of(int fd) noexcept {
    struct stat status {};
    if (fd < 0 || ::fstat(fd, &status) != 0 || !S_ISSOCK(status.st_mode)) {
        return 0;
    }
    return static_cast<unsigned long>(status.st_ino);
}

BrokerSocket::~BrokerSocket() {
    reset();
}

BrokerSocket::BrokerSocket(BrokerSocket&& other) noexcept : fd_(other.fd_), inode_(other.inode_) {
    other.fd_ = -1;
    other.inode_ = 0;
}

BrokerSocket& BrokerSocket::operator=(BrokerSocket&& other) noexcept {
    if (this != &other) {
        reset();
        fd_ = other.fd_;
        inode_ = other.inode_;
        other.fd_ = -1;
        other.inode_ = 0;
    }
    return *this;
}

void BrokerSocket::reset() noexcept {
    if (fd_ < 0) {
        return;
    }
    {
        std::lock_guard<std::mutex> lock(scan_mutex());
        claimed_inodes().erase(inode_);
    }
    ::close(fd_);
    fd_ = -1;
    inode_ = 0;
}

BrokerSocket BrokerSocket::claim_new(const std::unordered_set<unsigned long>& before,
                                     const sockaddr_storage& broker) noexcept {
    const int port = port_of(broker);
    if (port <= 0) {
        return {};
    }
    std::lock_guard<std::mutex> scan_lock(scan_mutex());
    std::unordered_set<unsigned long> candidates;
    try {
        candidates = inodes_with_remote_port(port);
        for (const unsigned long inode : before) {
            candidates.erase(inode);
        }
        for (const unsigned long inode : claimed_inodes()) {
            candidates.erase(inode);
        }
    } catch (...) {
        return {};  // std::bad_alloc: leave every socket alone
    }
    if (candidates.empty()) {
        return {};
    }
    DIR* directory = ::opendir("/proc/self/fd");
    if (directory == nullptr) {
        return {};  // no procfs: nothing we can do, latency stays Paho's default
    }
    const int own = ::dirfd(directory);
    long found_fd = -1;
    unsigned long found_inode = 0;
    bool ambiguous = false;
    // readdir() is safe here: this stream is ours alone and scans are serialised by scan_mutex().
    while (const dirent* entry = ::readdir(directory)) {  // NOLINT(concurrency-mt-unsafe)
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd < 0 || fd == own) {
            continue;
        }
        // Only descriptors that are new TCP connections to the broker's port are touched at all: calling
        // anything on every descriptor would race with threads closing and reusing them.
        const unsigned long inode = socket_inode(entry->d_name);
        if (candidates.count(inode) == 0) {
            continue;
        }
        sockaddr_storage peer{};
        if (!tcp_peer(static_cast<int>(fd), peer) || port_of(peer) != port || !same_host(peer, broker)) {
            continue;
        }
        if (found_fd >= 0 && inode != found_inode) {
            ambiguous = true;  // two new connections to the broker: which one is ours cannot be told
            break;
        }
        found_fd = fd;
        found_inode = inode;
    }
    ::closedir(directory);
    if (ambiguous || found_fd < 0) {
        return {};
    }
    const int copy = ::fcntl(static_cast<int>(found_fd), F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
        return {};
    }
    // The number may have been closed and reused between the scan and the duplication: the copy must
    // still be the socket that was found.
    if (socket_inode_of(copy) != found_inode) {
        ::close(copy);
        return {};
    }
    try {
        claimed_inodes().insert(found_inode);
    } catch (...) {
        ::close(copy);
        return {};
    }
    return BrokerSocket(copy, found_inode);
}

bool BrokerSocket::set_nodelay() const noexcept {
    const int on = 1;
    return fd_ >= 0 && ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0;
}

void BrokerSocket::quickack() const noexcept {
    quickack_on(fd_);
}

bool BrokerSocket::input_pending() const noexcept {
    return input_pending_on(fd_);
}

void quickack_on(int fd) noexcept {
    if (fd >= 0) {
        const int on = 1;
        (void)::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
    }
}

bool input_pending_on(int fd) noexcept {
    int queued = 0;
    return fd >= 0 && ::ioctl(fd, FIONREAD, &queued) == 0 && queued > 0;
}

}  // namespace fedbiomed::detail

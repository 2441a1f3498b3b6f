#include "transport/tcp_progress.hpp"

#include <cstddef>

// The kernel's own struct tcp_info (glibc's <netinet/tcp.h> lacks tcpi_bytes_acked and
// tcpi_bytes_received); not included together with <netinet/tcp.h>, whose definitions clash with it, hence
// a file of its own.
#include <linux/in.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace fedbiomed::detail {

std::optional<TcpProgress> tcp_progress(int fd) noexcept {
    if (fd < 0) {
        return std::nullopt;
    }
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 ||
        length < offsetof(tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received) {
        return std::nullopt;  // a kernel older than 4.1 reports neither count
    }
    int unacknowledged = 0;
    int unread = 0;
    if (::ioctl(fd, SIOCOUTQ, &unacknowledged) != 0 || unacknowledged < 0 ||
        ::ioctl(fd, SIOCINQ, &unread) != 0 || unread < 0) {
        return std::nullopt;
    }
    return TcpProgress{info.tcpi_bytes_acked, static_cast<std::uint64_t>(unacknowledged),
                       info.tcpi_bytes_received, static_cast<std::uint64_t>(unread)};
}

}  // namespace fedbiomed::detail

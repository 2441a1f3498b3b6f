/// @file loopback.hpp
/// @brief Test and bench support: TCP on 127.0.0.1 (the only network the tests use).
#pragma once

#include <netinet/in.h>

namespace fbm_test {

/// @brief The IPv4 address 127.0.0.1:@p port (port 0: any free port, for bind()).
sockaddr_in loopback_address(int port);

/// @brief A socket listening on 127.0.0.1 on a free port chosen by the kernel.
struct LoopbackListener {
    int fd = -1;   ///< listening socket (close-on-exec); the caller closes it
    int port = 0;  ///< the port it got
};

/// @brief Binds and listens on 127.0.0.1:0 with @p backlog. @throws std::runtime_error on failure.
LoopbackListener listen_on_loopback(int backlog);

/// @brief A TCP socket connected to 127.0.0.1:@p port (close-on-exec), or -1 when nothing accepts.
int connect_to_loopback(int port);

/// @brief A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released): nothing
/// listens on it, but another process may take it. @throws std::runtime_error on failure.
int free_loopback_port();

/// @brief True when something accepts a TCP connection on 127.0.0.1:@p port now.
bool accepts_connections(int port);

}  // namespace fbm_test

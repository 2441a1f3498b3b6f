#include "transport/receive_thread_doorbell.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "client_thread_hold.hpp"
#include <MQTTAsync.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fedbiomed::detail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// What the doorbell writes: an MQTT PINGRESP (fixed header, no remaining length).
constexpr unsigned char kPingresp[2] = {0xD0, 0x00};
// What it answers to the CONNECT of its client: an MQTT 3.1.1 CONNACK, accepted, no session present. Sent
// as soon as the connection is accepted, before the CONNECT arrives: data waiting on the socket also ends
// the receive thread's first poll, which would otherwise last its whole 10 ms.
constexpr unsigned char kConnack[4] = {0x20, 0x02, 0x00, 0x00};
// After a failed set-up, how long no new one is tried (each could take its whole budget).
constexpr milliseconds kRetryAfterFailure{60000};
// At most this many connections are accepted and refused while waiting for the client's own.
constexpr int kMaxStrangers = 4;

// Where Paho's callbacks report the set-up's outcome. Never destroyed, and matched by generation: a
// callback of a set-up given up on (its client destroyed while Paho was about to call it) finds nothing of
// that set-up it could touch after it is gone.
struct SetupSignal {
    std::mutex mutex;
    std::condition_variable cv;
    std::uintptr_t generation = 0;  // guarded by mutex
    int outcome = 0;                // guarded by mutex: 0 waiting, 1 connected, -1 failed
};

SetupSignal& setup_signal() {
    static SetupSignal* const instance = new SetupSignal;
    return *instance;
}

void report_setup(void* context, int outcome) noexcept {
    try {
        SetupSignal& signal = setup_signal();
        {
            std::lock_guard<std::mutex> lock(signal.mutex);
            if (signal.generation != reinterpret_cast<std::uintptr_t>(context)) {
                return;
            }
            signal.outcome = outcome;
        }
        signal.cv.notify_all();
    } catch (...) {
        // The mutex could not be taken: the set-up times out and the process goes without a doorbell.
    }
}

// Paho's callbacks, on its threads. Nothing in them throws.
void on_connected(void* context, MQTTAsync_successData*) {
    report_setup(context, 1);
}
void on_refused(void* context, MQTTAsync_failureData*) {
    report_setup(context, -1);
}

int remaining_ms(Clock::time_point deadline) noexcept {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

bool same_endpoint(const sockaddr_storage& a, socklen_t a_length, const sockaddr_storage& b,
                   socklen_t b_length) noexcept {
    return a_length == b_length && a.ss_family == b.ss_family &&
           ((a.ss_family == AF_INET &&
             reinterpret_cast<const sockaddr_in&>(a).sin_port ==
                 reinterpret_cast<const sockaddr_in&>(b).sin_port &&
             reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr ==
                 reinterpret_cast<const sockaddr_in&>(b).sin_addr.s_addr) ||
            (a.ss_family == AF_INET6 &&
             reinterpret_cast<const sockaddr_in6&>(a).sin6_port ==
                 reinterpret_cast<const sockaddr_in6&>(b).sin6_port &&
             std::memcmp(&reinterpret_cast<const sockaddr_in6&>(a).sin6_addr,
                         &reinterpret_cast<const sockaddr_in6&>(b).sin6_addr, sizeof(in6_addr)) == 0));
}

// Whether @p peer (the far end of an accepted connection to @p listener) is a socket of this very process:
// a TCP socket whose own address is @p peer and whose peer is the listener. Any local program may connect
// to the listener during the instant it is open, and only Paho's client may ring.
bool is_own_socket(const sockaddr_storage& peer, socklen_t peer_length, const sockaddr_storage& listener,
                   socklen_t listener_length) noexcept {
    DIR* directory = ::opendir("/proc/self/fd");
    if (directory == nullptr) {
        return false;
    }
    bool found = false;
    const int own = ::dirfd(directory);
    while (const dirent* entry = ::readdir(directory)) {
        char* end = nullptr;
        const long number = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || number == own) {
            continue;
        }
        const int fd = static_cast<int>(number);
        int type = 0;
        socklen_t type_length = sizeof type;
        sockaddr_storage local{};
        socklen_t length = sizeof local;
        sockaddr_storage remote{};
        socklen_t remote_length = sizeof remote;
        if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_length) == 0 && type == SOCK_STREAM &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0 &&
            same_endpoint(local, length, peer, peer_length) &&
            ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_length) == 0 &&
            same_endpoint(remote, remote_length, listener, listener_length)) {
            found = true;
            break;
        }
    }
    ::closedir(directory);
    return found;
}

// A listening socket on the loopback interface (IPv4, else IPv6), on a port the kernel picks. Only one
// connection may wait in its backlog. -1 when there is no loopback interface.
int open_listener(std::string& uri, sockaddr_storage& bound, socklen_t& bound_length) noexcept {
    for (const int family : {AF_INET, AF_INET6}) {
        const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            continue;
        }
        sockaddr_storage address{};
        socklen_t length = 0;
        if (family == AF_INET) {
            auto& v4 = reinterpret_cast<sockaddr_in&>(address);
            v4.sin_family = AF_INET;
            v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            length = sizeof v4;
        } else {
            auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
            v6.sin6_family = AF_INET6;
            v6.sin6_addr = in6addr_loopback;
            length = sizeof v6;
        }
        if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0 && ::listen(fd, 1) == 0 &&
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
            const int port = family == AF_INET ? ntohs(reinterpret_cast<sockaddr_in&>(address).sin_port)
                                               : ntohs(reinterpret_cast<sockaddr_in6&>(address).sin6_port);
            uri = std::string(family == AF_INET ? "tcp://127.0.0.1:" : "tcp://[::1]:") + std::to_string(port);
            bound = address;
            bound_length = length;
            return fd;
        }
        ::close(fd);
    }
    return -1;
}

// The process's doorbell while a session holds it, and when the last set-up failed.
struct Registry {
    std::mutex mutex;  // held through a set-up: concurrent acquirers wait for the same one
    std::weak_ptr<ReceiveThreadDoorbell> current;
    Clock::time_point failed_at{};
    bool failed = false;
};

Registry& registry() {
    static Registry* const instance = new Registry;
    return *instance;
}

}  // namespace

struct ReceiveThreadDoorbell::State {
    MQTTAsync client = nullptr;
    int bell = -1;  // our end of the client's connection
    std::atomic<unsigned long> rings{0};
    std::atomic<bool> broken{false};

    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        if (client != nullptr) {
            // Closes the client's socket; with the last client of the process, Paho's threads stop. Takes
            // Paho's mutex, which a held receive thread keeps: end the hold first (client_thread_hold.hpp).
            const ClientThreadHold::Use use(ClientThreadHold::Kind::brief);
            MQTTAsync_destroy(&client);
        }
        if (bell >= 0) {
            ::close(bell);
        }
    }

    // Connects a Paho client to a listener of ours and accepts it. False, with everything undone by the
    // destructor, when any step fails or @p deadline passes.
    bool set_up(Clock::time_point deadline) noexcept;
};

bool ReceiveThreadDoorbell::State::set_up(Clock::time_point deadline) noexcept {
    std::string uri;
    sockaddr_storage listening{};
    socklen_t listening_length = 0;
    const int listener = open_listener(uri, listening, listening_length);
    if (listener < 0) {
        return false;
    }
    SetupSignal& signal = setup_signal();
    std::uintptr_t generation = 0;
    bool connected = false;
    try {
        {
            std::lock_guard<std::mutex> lock(signal.mutex);
            generation = ++signal.generation;
            signal.outcome = 0;
        }
        const std::string id =
            "fbm-doorbell-" + std::to_string(::getpid()) + "-" + std::to_string(generation);
        MQTTAsync_connectOptions options = MQTTAsync_connectOptions_initializer;
        options.keepAliveInterval = 0;  // no PINGREQ, ever: the client never writes after its CONNECT
        options.cleansession = 1;
        options.MQTTVersion = MQTTVERSION_3_1_1;
        options.connectTimeout = 1 + remaining_ms(deadline) / 1000;
        options.onSuccess = on_connected;
        options.onFailure = on_refused;
        options.context = reinterpret_cast<void*>(generation);
        if (MQTTAsync_create(&client, uri.c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr) !=
                MQTTASYNC_SUCCESS ||
            MQTTAsync_connect(client, &options) != MQTTASYNC_SUCCESS) {
            ::close(listener);
            return false;
        }
        // Accept the client's connection, and only it. Looks at Paho's verdict between short waits: a
        // client that failed to connect must not hold the set-up (and the registry) for the whole budget.
        const auto refused = [&] {
            std::lock_guard<std::mutex> lock(signal.mutex);
            return signal.outcome == -1;
        };
        for (int strangers = 0; bell < 0 && strangers < kMaxStrangers && !refused();) {
            pollfd waiting{listener, POLLIN, 0};
            const int ready = ::poll(&waiting, 1, std::min(remaining_ms(deadline), 10));
            if (ready < 0 || (ready == 0 && remaining_ms(deadline) == 0)) {
                break;
            }
            if (ready == 0) {
                continue;
            }
            sockaddr_storage peer{};
            socklen_t length = sizeof peer;
            const int accepted = ::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length,
                                           SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (accepted < 0) {
                ++strangers;  // out of descriptors, or the connection went: bounded like a stranger
                continue;
            }
            if (is_own_socket(peer, length, listening, listening_length)) {
                // Every ring must leave at once: with Nagle on, a ring would wait for the acknowledgement
                // of the previous one, which the client's kernel delays by up to 40 ms.
                const int on = 1;
                ::setsockopt(accepted, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                bell = accepted;
            } else {
                ::close(accepted);
                ++strangers;
            }
        }
        ::close(listener);  // nobody else can connect from now on
        if (bell < 0 || ::send(bell, kConnack, sizeof kConnack, MSG_NOSIGNAL) != sizeof kConnack) {
            return false;
        }
        std::unique_lock<std::mutex> lock(signal.mutex);
        signal.cv.wait_until(lock, deadline, [&] { return signal.outcome != 0; });
        connected = signal.outcome == 1;
        ++signal.generation;  // a late callback of this set-up finds nothing to report to
    } catch (...) {
        connected = false;
    }
    return connected;
}

ReceiveThreadDoorbell::ReceiveThreadDoorbell(std::unique_ptr<State> state) noexcept
    : state_(std::move(state)) {}

ReceiveThreadDoorbell::~ReceiveThreadDoorbell() = default;

std::shared_ptr<ReceiveThreadDoorbell> ReceiveThreadDoorbell::acquire(milliseconds budget) noexcept {
    try {
        Registry& shared = registry();
        std::lock_guard<std::mutex> lock(shared.mutex);
        if (auto existing = shared.current.lock()) {
            if (existing->working()) {
                return existing;
            }
            // Broken: its holders keep it (their rings fail, and they fall back to nudges); a new one
            // serves from now on.
        }
        if (shared.failed && Clock::now() - shared.failed_at < kRetryAfterFailure) {
            return nullptr;
        }
        auto state = std::make_unique<State>();
        bool ready = false;
        {
            // The CONNACK is read by the receive thread: no hold while connecting.
            const ClientThreadHold::Use use(ClientThreadHold::Kind::handshake);
            ready = state->set_up(Clock::now() + budget);
        }
        if (!ready) {
            state.reset();  // destroys Paho's client before the next attempt may start
            shared.failed = true;
            shared.failed_at = Clock::now();
            return nullptr;
        }
        shared.failed = false;
        std::shared_ptr<ReceiveThreadDoorbell> doorbell(new ReceiveThreadDoorbell(std::move(state)));
        shared.current = doorbell;
        return doorbell;
    } catch (...) {
        return nullptr;
    }
}

bool ReceiveThreadDoorbell::ring() const noexcept {
    if (state_->broken.load(std::memory_order_relaxed)) {
        return false;
    }
    const ssize_t sent = ::send(state_->bell, kPingresp, sizeof kPingresp, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent == static_cast<ssize_t>(sizeof kPingresp)) {
        state_->rings.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return true;  // full of rings Paho has yet to read: it will run its passes
    }
    state_->broken.store(true, std::memory_order_relaxed);  // Paho closed its end (or it never was)
    return false;
}

bool ReceiveThreadDoorbell::working() const noexcept {
    return !state_->broken.load(std::memory_order_relaxed);
}

unsigned long ReceiveThreadDoorbell::rings() const noexcept {
    return state_->rings.load(std::memory_order_relaxed);
}

int ReceiveThreadDoorbell::descriptor() const noexcept {
    return state_->bell;
}

}  // namespace fedbiomed::detail

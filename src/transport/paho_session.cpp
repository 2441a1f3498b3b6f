#include "transport/paho_session.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "client_thread_hold.hpp"
#include "fedbiomed/logger.hpp"
#include "transport/receive_thread_waker.hpp"
#include "transport/socket_tuning.hpp"
#include "transport/tcp_progress.hpp"
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

namespace fedbiomed::detail {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

// Extra time given to Paho's own connect timeout so that ours, which knows the caller's deadline, decides.
constexpr std::chrono::seconds kPahoTimeoutSlack{1};
// Longest time spent on the TCP probe that tells "refused" from "accepted but the handshake failed".
constexpr milliseconds kProbeBudget{1000};

milliseconds remaining(PahoSession::Clock::time_point deadline) {
    const auto left = duration_cast<milliseconds>(deadline - PahoSession::Clock::now());
    return std::max(left, milliseconds(0));
}

std::string format_host(const std::string& host) {
    // An IPv6 literal needs brackets in a URI.
    if (host.find(':') != std::string::npos && host.front() != '[') {
        return "[" + host + "]";
    }
    return host;
}

// Paho C 1.3's failure text when the socket returned an error (closed) while it waited for the CONNACK of
// the CONNECT it had sent (MQTTAsyncUtils.c, MQTTAsync_cycle): the TCP connection was up, the broker hung
// up on the CONNECT. A broker that does not speak the requested protocol version does that.
constexpr const char* kClosedAfterConnect = "TCP connect completion failure";
// Paho's words when its receive thread fails a client for an error on the client's socket number
// (session.hpp, SocketNumberMixUp): before a CONNACK, most likely another connection's socket.
constexpr const char* kReceiveThreadSocketError = "socket error";

int mqtt_version_number(MqttVersion version) {
    return version == MqttVersion::v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
}

// Tries a plain TCP connection to the first address; returns 0 when it was accepted, else the errno
// (ETIMEDOUT when no answer within budget).
int probe_tcp(const sockaddr_storage& address, milliseconds budget) {
    const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    const socklen_t length = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    int result = 0;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
        if (errno != EINPROGRESS) {
            result = errno;
        } else {
            pollfd waiter{fd, POLLOUT, 0};
            const int ready = ::poll(&waiter, 1, static_cast<int>(budget.count()));
            if (ready <= 0) {
                result = ETIMEDOUT;
            } else {
                socklen_t size = sizeof result;
                if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &result, &size) != 0) {
                    result = errno;
                }
            }
        }
    }
    ::close(fd);
    return result;
}

std::string c_string(const MQTTLenString& text) {
    return text.data == nullptr ? std::string() : std::string(text.data, static_cast<std::size_t>(text.len));
}

// What a received message carries in its MQTT 5 user properties, read straight from the property list:
// the end-to-end id and acknowledgement topic (both needed), and the signature (all five needed).
struct CarriedTags {
    std::optional<EndToEndTag> tag;
    std::optional<SignatureTag> signature;
};

CarriedTags read_tags(const mqtt::message& message) {
    const MQTTProperties& list = message.get_properties().c_struct();
    CarriedTags carried;
    if (list.count <= 0 || list.array == nullptr) {
        return carried;
    }
    EndToEndTag tag;
    SignatureTag signature;
    for (int i = 0; i < list.count; ++i) {
        const MQTTProperty& property = list.array[i];
        if (property.identifier != MQTTPROPERTY_CODE_USER_PROPERTY) {
            continue;
        }
        const std::string name = c_string(property.value.data);
        if (name == kIdProperty) {
            tag.id = c_string(property.value.value);
        } else if (name == kAckProperty) {
            tag.ack_topic = c_string(property.value.value);
        } else if (name == kSignatureAlgorithmProperty) {
            signature.algorithm = c_string(property.value.value);
        } else if (name == kSignerProperty) {
            signature.signer = c_string(property.value.value);
        } else if (name == kSignatureTimeProperty) {
            signature.timestamp = c_string(property.value.value);
        } else if (name == kSignatureNonceProperty) {
            signature.nonce = c_string(property.value.value);
        } else if (name == kSignatureProperty) {
            signature.signature = c_string(property.value.value);
        }
    }
    if (!tag.id.empty() && !tag.ack_topic.empty()) {
        carried.tag = std::move(tag);
    }
    // Partly there: kept, so that the verifier refuses it as malformed instead of taking it for unsigned.
    if (!signature.algorithm.empty() || !signature.signer.empty() || !signature.signature.empty()) {
        carried.signature = std::move(signature);
    }
    return carried;
}

mqtt::properties user_properties(const std::optional<EndToEndTag>& tag,
                                 const std::optional<SignatureTag>& signature) {
    mqtt::properties properties;
    if (tag) {
        properties.add(mqtt::property(mqtt::property::USER_PROPERTY, kIdProperty, tag->id));
        properties.add(mqtt::property(mqtt::property::USER_PROPERTY, kAckProperty, tag->ack_topic));
    }
    if (signature) {
        properties.add(
            mqtt::property(mqtt::property::USER_PROPERTY, kSignatureAlgorithmProperty, signature->algorithm));
        properties.add(mqtt::property(mqtt::property::USER_PROPERTY, kSignerProperty, signature->signer));
        properties.add(
            mqtt::property(mqtt::property::USER_PROPERTY, kSignatureTimeProperty, signature->timestamp));
        properties.add(
            mqtt::property(mqtt::property::USER_PROPERTY, kSignatureNonceProperty, signature->nonce));
        properties.add(
            mqtt::property(mqtt::property::USER_PROPERTY, kSignatureProperty, signature->signature));
    }
    return properties;
}

// True when Paho refused a publication because it is not connected (it waits for the next connection).
bool is_disconnection(int rc) {
    return rc == MQTTASYNC_DISCONNECTED || rc == MQTTASYNC_MAX_BUFFERED_MESSAGES ||
           rc == MQTTASYNC_OPERATION_INCOMPLETE;
}

// MQTT 5 PUBACK reason codes 0x80..0xA2 say the broker refused the publication for good. (For MQTT 3.1.1
// Paho reports no reason code: its placeholder, 255, is outside that range.)
constexpr int kFirstRefusalReason = 0x80;
constexpr int kLastReasonCode = 0xA2;

// The top bit of the user context marks a QoS 1/2 publication (the outbox's ids never reach it): its
// completion is the broker's PUBACK/PUBCOMP, read on Paho's receive thread.
constexpr std::uint64_t kAwaitsAck = std::uint64_t{1} << 63U;

std::uint64_t context_of(void* context) noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(context));
}

std::uint64_t id_of(void* context) noexcept {
    return context_of(context) & ~kAwaitsAck;
}

// How long a connecting session keeps the process's connect gate (socket_tuning.hpp) at most: its socket
// appears within microseconds of Paho starting the attempt and the CONNACK normally within milliseconds; a
// broker that does not answer must not hold the other sessions of the process back for its whole timeout.
constexpr milliseconds kGateHold{500};

// Paho C 1.3 runs one receive thread for every client of the process. It waits in poll() on the sockets it
// knew when the wait began, for up to a second, and only adds a new client's socket (and notices that its
// TCP connection is established, which is when it sends CONNECT) after that poll returns: a second client
// of the process waited up to a second, twice (measured: 2.1 s instead of milliseconds; reported upstream as
// paho.mqtt.cpp issue 365, and paho.mqtt.c pull request 1458 proposed a shorter poll).
// Traffic on any socket of that poll ends it, so the connecting session asks the connected sessions of the
// process for an UNSUBSCRIBE of a topic nobody uses: the broker answers with an UNSUBACK and changes nothing.
// First right after the attempt starts (Paho handles its commands in order, so the new socket exists by the
// time the answer arrives), then with growing pauses while no CONNACK came. A session given the process's
// doorbell (receive_thread_doorbell.hpp) rings that instead: no broker round trip, and it also serves the
// first client of a process, which has nobody to nudge. The nudges remain for a session without one.
constexpr const char* kNudgeTopic = "fedbiomed/$nudge";

// The steady clock in nanoseconds since its epoch: what the nudges' atomics hold.
std::int64_t steady_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
constexpr milliseconds kFirstNudgePause{2};
// With the doorbell (receive_thread_doorbell.hpp) a wake-up costs a system call, not a broker round trip.
constexpr std::chrono::microseconds kFirstRingPause{100};
constexpr milliseconds kLongestNudgePause{256};
constexpr std::size_t kKeptNudgeTokens = 64;

// The sessions of the process that are connected, the ones that can nudge, and the waker that keeps Paho's
// receive thread from its blind 100 ms (receive_thread_waker.hpp) while there is at least one. Never
// destroyed: Paho's threads and a session the application never destroyed may still use it at exit.
struct ConnectedSessions {
    std::mutex mutex;
    std::vector<PahoSession*> sessions;  // guarded by mutex
    // Guarded by mutex; present while a session of `sessions` keeps the process awake (keeps_awake()).
    std::unique_ptr<ReceiveThreadWaker> waker;
};

ConnectedSessions& connected() {
    static ConnectedSessions* const instance = new ConnectedSessions;
    return *instance;
}

// Nudges one connected session of the process other than @p self (among those that keep the process awake
// with @p keeping_awake), if there is one; false when there is none. Under the registry's mutex, so that the
// session nudged cannot be destroyed meanwhile.
bool nudge_others(const PahoSession* self, bool keeping_awake = false) {
    ConnectedSessions& registry = connected();
    std::lock_guard<std::mutex> lock(registry.mutex);
    for (PahoSession* other : registry.sessions) {
        if (other != self && (!keeping_awake || other->keeps_awake()) && other->nudge()) {
            return true;  // one suffices: the poll ends on the first answer
        }
    }
    return false;
}

// When Paho's receive thread last entered or left the message callback (steady_ns(); 0: never). Written
// by that thread for every message, on the way in and on the way out (a hold can last seconds), read by the
// waker.
std::atomic<std::int64_t> last_delivery_ns{0};

// Within this much of a delivery the receive thread is not in a poll about to time out: the poll that
// followed the delivery began less than this before the skipped tick, so the next tick comes less than
// 625 ms into that poll, and its nudge has 375 ms for its answer to end the poll before its second is up.
constexpr milliseconds kRecentDelivery = kReceiveWakePeriod / 4;

// The waker's periodic nudge. Skipped while a hold keeps the receive thread in a callback (it is not in
// poll() then), and while messages flow, which is when holds come and go: the nudge's Use ends a hold, and
// while the waker then waits for Paho's mutex every hold yields at once, so a flood at a slow handler had
// QoS 1 messages dropped for the inbound bound (client_thread_hold.hpp, Dispatcher::admit()). Meanwhile
// the nudges' watch on stalled connections (PahoSession::nudge()) pauses, and Paho's keepalive takes over.
void keep_receive_thread_awake() noexcept {
    try {
        const std::int64_t since_delivery = steady_ns() - last_delivery_ns.load(std::memory_order_relaxed);
        if (!ClientThreadHold::holding() &&
            since_delivery >= std::chrono::duration_cast<std::chrono::nanoseconds>(kRecentDelivery).count()) {
            nudge_others(nullptr, true);
        }
    } catch (...) {
        // The registry's mutex could not be taken: the next period tries again.
    }
}

bool any_keeps_awake(const std::vector<PahoSession*>& sessions) {
    return std::any_of(sessions.begin(), sessions.end(),
                       [](const PahoSession* session) { return session->keeps_awake(); });
}

void remember_session(PahoSession* session) {
    ConnectedSessions& registry = connected();
    std::lock_guard<std::mutex> lock(registry.mutex);
    registry.sessions.push_back(session);
    if (!registry.waker && session->keeps_awake()) {
        registry.waker = std::make_unique<ReceiveThreadWaker>(keep_receive_thread_awake, kReceiveWakePeriod);
    }
}

void forget_session(const PahoSession* session) noexcept {
    std::unique_ptr<ReceiveThreadWaker> idle;
    try {
        ConnectedSessions& registry = connected();
        std::lock_guard<std::mutex> lock(registry.mutex);
        auto& sessions = registry.sessions;
        sessions.erase(std::remove(sessions.begin(), sessions.end(), session), sessions.end());
        if (!any_keeps_awake(sessions)) {
            idle = std::move(registry.waker);
        }
    } catch (...) {
    }
    // Joined outside the registry's mutex, which its thread takes to nudge.
    idle.reset();
}

}  // namespace

std::string connack_text(int code) {
    switch (code) {
    case 1: return "unacceptable protocol version (CONNACK 1)";
    case 2: return "client identifier rejected (CONNACK 2)";
    case 3: return "server unavailable (CONNACK 3)";
    case 4: return "bad user name or password (CONNACK 4)";
    case 5: return "not authorised (CONNACK 5)";
    default: break;
    }
    std::string text;
    switch (code) {
    case 0x84: text = "unsupported protocol version"; break;
    case 0x85: text = "client identifier not valid"; break;
    case 0x86: text = "bad user name or password"; break;
    case 0x87: text = "not authorised"; break;
    case 0x88: text = "server unavailable"; break;
    case 0x89: text = "server busy"; break;
    case 0x8A: text = "banned"; break;
    case 0x8C: text = "bad authentication method"; break;
    default: {
        const char* paho = ::MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(code));
        text = paho != nullptr ? paho : "refused";
        break;
    }
    }
    return text + " (CONNACK reason code " + std::to_string(code) + ")";
}

std::string PahoSession::make_uri(const BrokerAddress& broker) {
    return std::string(broker.tls ? "ssl://" : "tcp://") + format_host(broker.host) + ":" +
           std::to_string(broker.port);
}

std::string suback_text(int code) {
    std::string text;
    switch (code) {
    case 0x80: text = "failure (usually the broker's ACL)"; break;
    case 0x83: text = "implementation specific error"; break;
    case 0x87: text = "not authorised"; break;
    case 0x8F: text = "topic filter invalid"; break;
    case 0x97: text = "quota exceeded"; break;
    case 0x9E: text = "shared subscriptions not supported"; break;
    case 0xA1: text = "subscription identifiers not supported"; break;
    case 0xA2: text = "wildcard subscriptions not supported"; break;
    default: text = "refused"; break;
    }
    return text + " (SUBACK code " + std::to_string(code) + ")";
}

bool ConnectRefused::transient() const noexcept {
    switch (code_) {
    case 3:     // MQTT 3.1.1: server unavailable
    case 0x88:  // MQTT 5: server unavailable
    case 0x89:  // server busy
    case 0x97:  // quota exceeded
    case 0x9C:  // use another server
    case 0x9D:  // server moved
    case 0x9F:  // connection rate exceeded
        return true;
    default: return false;
    }
}

PahoSession::PahoSession(const MessagingOptions& options, const SessionSettings& settings,
                         SessionCallbacks callbacks)
    : broker_(settings.broker.host),
      port_(settings.broker.port),
      tls_(settings.broker.tls),
      mqtt5_(settings.mqtt_version == MqttVersion::v5),
      connect_timeout_(options.connect_timeout),
      keep_awake_(options.keep_awake),
      callbacks_(std::move(callbacks)),
      stall_bound_(std::chrono::duration_cast<std::chrono::milliseconds>(options.keepalive) * 3 / 2) {
    doorbell_ = settings.doorbell;
    if (tls_) {
        tls_probe_ =
            TlsProbeSettings{settings.broker.host, options.tls.ca_file,      options.tls.cert_file,
                             options.tls.key_file, options.tls.key_password, options.tls.verify_server};
    }
    endpoint_ = format_host(settings.broker.host) + ":" + std::to_string(settings.broker.port);
    uri_ = make_uri(settings.broker);
    const int version = mqtt_version_number(settings.mqtt_version);

    mqtt::create_options create(version);
    // Paho C counts publications queued but not yet written against this limit even while connected and
    // refuses more with -12 ("No more messages can be buffered"); the default (100) is far too low for a
    // burst of sends. Nothing is buffered by Paho while disconnected: the Outbox keeps what waits for a
    // connection, and a publication made while Paho is disconnected is refused at once and kept there.
    create.set_max_buffered_messages(1000000);
    create.set_send_while_disconnected(false, false);
    try {
        client_ = std::make_unique<mqtt::async_client>(uri_, settings.client_id, create, nullptr);
    } catch (const std::exception& error) {
        throw MessagingError(ErrorNumbers::FB101, "the MQTT client refused the broker address " + uri_ +
                                                      " or the client id '" + settings.client_id + "' (" +
                                                      std::string(error.what()) + ")");
    }

    // Registered before connect() and never changed afterwards (Paho's rule). Nothing escapes into Paho.
    client_->set_message_callback([this](const mqtt::const_message_ptr& message) {
        last_delivery_ns.store(steady_ns(), std::memory_order_relaxed);
        try {
            CarriedTags carried = mqtt5_ ? read_tags(*message) : CarriedTags{};
            ReceivedMessage received{message->get_topic(),   message->get_payload_str(),
                                     message->is_retained(), std::move(carried.tag),
                                     message->get_qos(),     std::move(carried.signature)};
            callbacks_.on_message(received);
        } catch (...) {
            // The receiver counts what it could not take (memory exhausted) itself.
        }
        last_delivery_ns.store(steady_ns(), std::memory_order_relaxed);  // after a hold, too
        // A QoS 0 message (a reply, a federation's pongs) gets no PUBACK from us to carry the TCP
        // acknowledgement, and a broker with Nagle on holds its next message until that acknowledgement
        // comes. When nothing more is waiting in the socket, acknowledge now. (At QoS 1 Paho has already
        // written the PUBACK, which carries it.)
        if (message->get_qos() == 0) {
            const int fd = quick_.load(std::memory_order_relaxed);
            if (fd >= 0 && !input_pending_on(fd)) {
                quickack_on(fd);
            }
        }
    });
    client_->set_connection_lost_handler([this](const std::string& cause) {
        const bool first = alive_.exchange(false);
        try {
            // Paho leaves the SUBSCRIBE tokens of a connection the broker closed pending: wake subscribe().
            { const std::lock_guard<std::mutex> lock(wait_mutex_); }
            wait_cv_.notify_all();
            if (first) {  // not when a stalled nudge (report_stall) reported it already, with its own cause
                callbacks_.on_connection_lost(cause);
            }
        } catch (...) {
        }
    });
    if (mqtt5_ && callbacks_.on_disconnect_packet) {
        client_->set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode reason) {
            try {
                callbacks_.on_disconnect_packet(static_cast<int>(reason));
            } catch (...) {
            }
        });
    }

    connect_options_.set_mqtt_version(version);  // explicit: the default falls back to 3.1 (callbacks twice)
    if (version == MQTTVERSION_5) {
        connect_options_.set_clean_session(false);  // v5 uses clean start; Paho refuses cleansession there
        connect_options_.set_clean_start(settings.clean_session);
        // A persistent MQTT 5 session needs an expiry: 0 (the default) ends it with the connection.
        const auto expiry = settings.clean_session ? std::chrono::seconds(0) : options.session_expiry;
        mqtt::properties properties;
        properties.add(mqtt::property(mqtt::property::SESSION_EXPIRY_INTERVAL,
                                      static_cast<int32_t>(std::min<std::chrono::seconds::rep>(
                                          expiry.count(), std::numeric_limits<int32_t>::max()))));
        connect_options_.set_properties(properties);
    } else {
        connect_options_.set_clean_session(settings.clean_session);
    }
    if (settings.will) {
        // Retained, so that whoever subscribes later still learns that the component went away.
        if (settings.will->signature && settings.mqtt_version == MqttVersion::v5) {
            connect_options_.set_will(mqtt::will_options(
                settings.will->topic, settings.will->payload.data(), settings.will->payload.size(),
                options.qos, true, user_properties(std::nullopt, settings.will->signature)));
        } else {
            connect_options_.set_will(mqtt::will_options(settings.will->topic, settings.will->payload.data(),
                                                         settings.will->payload.size(), options.qos, true));
        }
    }
    connect_options_.set_keep_alive_interval(static_cast<int>(options.keepalive.count()));
    const auto timeout_seconds = std::chrono::duration_cast<std::chrono::seconds>(
        options.connect_timeout + std::chrono::milliseconds(999));
    connect_options_.set_connect_timeout(static_cast<int>((timeout_seconds + kPahoTimeoutSlack).count()));
    connect_options_.set_automatic_reconnect(false);
    if (!options.username.empty()) {
        connect_options_.set_user_name(options.username);
        connect_options_.set_password(options.password);
    }
    if (settings.broker.tls) {
        mqtt::ssl_options ssl;
        if (!options.tls.ca_file.empty()) {
            ssl.set_trust_store(options.tls.ca_file);
        }
        if (!options.tls.cert_file.empty()) {
            ssl.set_key_store(options.tls.cert_file);
        }
        if (!options.tls.key_file.empty()) {
            ssl.set_private_key(options.tls.key_file);
        }
        if (!options.tls.key_password.empty()) {
            ssl.set_private_key_password(options.tls.key_password);
        }
        ssl.set_enable_server_cert_auth(options.tls.verify_server);
        ssl.set_verify(options.tls.verify_server);
        // No error or PSK handler: those of Paho C++ 1.2.0 crash.
        connect_options_.set_ssl(std::move(ssl));
    }
}

PahoSession::~PahoSession() {
    forget_session(this);  // before the client goes: no other session may nudge through it any more
    interrupt();
    alive_.store(false);
    try {
        // Paho's destruction takes its library mutex, which a held receive thread keeps (see
        // client_thread_hold.hpp): end the hold first.
        const ClientThreadHold::Use use(ClientThreadHold::Kind::brief);
        client_.reset();
    } catch (...) {
    }
    completions_.release();
    kept_tokens_.clear();
    {
        std::lock_guard<std::mutex> lock(nudge_mutex_);
        nudge_tokens_.clear();
    }
    // Paho's threads are done with this client: the socket may go.
    quick_.store(-1);
    socket_ = BrokerSocket();
}

void PahoSession::acknowledge_now() const noexcept {
    quickack_on(quick_.load(std::memory_order_relaxed));
}

bool PahoSession::nudge() noexcept {
    try {
        if (!alive_.load()) {
            return false;  // lost or being destroyed: its descriptor may already be another connection's
        }
        const std::int64_t now = steady_ns();
        const std::int64_t since = unanswered_since_ns_.load();
        if (since != 0) {
            // A nudge is on its way: its answer will wake Paho's thread, and more would only pile up behind
            // it (Paho sends no command while it is still writing a message).
            if (stall_bound_.count() == 0 || std::chrono::nanoseconds(now - since) < stall_bound_ ||
                still_moving(now)) {
                return true;
            }
            report_stall(std::chrono::nanoseconds(now - since));
            return false;
        }
        std::int64_t none = 0;
        if (!unanswered_since_ns_.compare_exchange_strong(none, now)) {
            return true;  // another thread's nudge went out meanwhile
        }
        // Before the UNSUBSCRIBE, whose answer may come (and reset the clock) before unsubscribe() returns.
        progress_at_nudge_ = tcp_progress(quick_.load());
        mqtt::token_ptr token;
        try {
            const ClientThreadHold::Use use(ClientThreadHold::Kind::brief);
            token = client_->unsubscribe(kNudgeTopic, nullptr, nudge_answers_);
        } catch (...) {
            unanswered_since_ns_.store(0);
            return false;  // not connected any more: another session may nudge instead
        }
        keep_nudge_token(std::move(token));
        return true;
    } catch (...) {
        return false;  // out of memory: another session may nudge instead
    }
}

void PahoSession::keep_nudge_token(mqtt::token_ptr token) {
    std::lock_guard<std::mutex> lock(nudge_mutex_);
    // A long-lived session nudges for every connection of the others: keep the list short.
    if (nudge_tokens_.size() >= kKeptNudgeTokens) {
        // Only in the older half: a token that completed a moment ago may still be in use on Paho's
        // thread, one added dozens of nudges ago is not.
        const auto older_end = nudge_tokens_.begin() + static_cast<std::ptrdiff_t>(kKeptNudgeTokens / 2);
        const auto done =
            std::stable_partition(nudge_tokens_.begin(), older_end,
                                  [](const mqtt::token_ptr& kept) { return !kept->is_complete(); });
        nudge_tokens_.erase(done, older_end);
    }
    nudge_tokens_.push_back(std::move(token));
}

bool PahoSession::still_moving(std::int64_t now) noexcept {
    // An answer can wait behind a long transfer without the connection being stalled: Paho sends nothing
    // behind a message it is still writing, and reads the UNSUBACK only after a message it is still
    // receiving (or after a push-back hold, which leaves it unread in the socket). Bytes acknowledged with
    // nothing left to send prove nothing: a paused proxy's kernel, or a hung broker's, acknowledges a nudge
    // it will never answer.
    const std::optional<TcpProgress> progress = tcp_progress(quick_.load());
    if (!progress || !progress_at_nudge_) {
        return false;  // the socket is unknown: judged on the answer alone, as Paho judges a PINGRESP
    }
    const TcpProgress& then = *progress_at_nudge_;
    const bool moving = progress->unread > 0 || progress->bytes_received != then.bytes_received ||
                        (progress->unacknowledged > 0 && progress->bytes_acked != then.bytes_acked);
    if (moving) {
        progress_at_nudge_ = progress;  // a new window, from now
        unanswered_since_ns_.store(now);
    }
    return moving;
}

void PahoSession::report_stall(std::chrono::nanoseconds waited) noexcept {
    if (!alive_.exchange(false)) {
        return;  // Paho reported the loss first
    }
    try {
        // What Paho's connection-lost handler does, from this thread (under the registry's mutex: the
        // callback must only signal, as it does, never create or destroy a session).
        { const std::lock_guard<std::mutex> lock(wait_mutex_); }
        wait_cv_.notify_all();
        callbacks_.on_connection_lost(
            "no answer from the broker for " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()) +
            " ms (1.5 x keepalive): the connection is stalled");
    } catch (...) {
    }
}

void PahoSession::Completions::keep(std::uint64_t id, mqtt::delivery_token_ptr token, SharedText topic) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (completed_early_.erase(id) != 0) {
        spare_.push_back(std::move(token));
        return;
    }
    auto& slot = tokens_[id];
    if (slot.token) {
        spare_.push_back(std::move(slot.token));  // an earlier send's token: Paho may still hold it
    }
    slot.token = std::move(token);
    slot.topic = std::move(topic);
}

void PahoSession::Completions::retire(std::uint64_t id, std::vector<mqtt::delivery_token_ptr>& released,
                                      bool interrupted) {
    std::lock_guard<std::mutex> lock(mutex_);
    released.swap(spare_);  // released by the caller, on Paho's thread
    const auto found = tokens_.find(id);
    if (found == tokens_.end()) {
        completed_early_.insert(id);
        return;
    }
    if (interrupted && found->second.topic) {
        remember_interrupted(id, found->second.topic);
    }
    spare_.push_back(std::move(found->second.token));
    tokens_.erase(found);
}

void PahoSession::Completions::release() noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    tokens_.clear();
    spare_.clear();
    completed_early_.clear();
}

void PahoSession::Completions::remember_interrupted(std::uint64_t id, const SharedText& topic) {
    for (auto& [kept_id, kept_topic] : interrupted_) {
        if (*kept_topic == *topic) {
            kept_id = std::min(kept_id, id);
            return;
        }
    }
    if (interrupted_.size() < kTopicsNamed) {
        interrupted_.emplace_back(id, topic);
        return;
    }
    auto newest = std::max_element(interrupted_.begin(), interrupted_.end(),
                                   [](const auto& a, const auto& b) { return a.first < b.first; });
    if (id < newest->first) {
        *newest = {id, topic};
    }
}

std::vector<std::string> PahoSession::Completions::topics(std::size_t limit) const noexcept {
    try {
        std::vector<std::pair<std::uint64_t, const std::string*>> all;
        std::lock_guard<std::mutex> lock(mutex_);
        for (const auto& [id, topic] : interrupted_) {
            all.emplace_back(id, topic.get());
        }
        for (const auto& [id, kept] : tokens_) {
            if (kept.topic) {
                all.emplace_back(id, kept.topic.get());
            }
        }
        std::sort(all.begin(), all.end());
        std::vector<std::string> names;
        for (const auto& entry : all) {
            if (names.size() >= limit) {
                break;
            }
            if (std::find(names.begin(), names.end(), *entry.second) == names.end()) {
                names.push_back(*entry.second);
            }
        }
        return names;
    } catch (...) {
        return {};
    }
}

void PahoSession::Completions::on_success(const mqtt::token& token) {
    void* context = token.get_user_context();
    // The broker's acknowledgement was just read. A broker with Nagle on may be holding its next write to
    // us (the reply to what we sent, or the next PUBACKs of a stream) until we acknowledge this one, and
    // our kernel would wait up to 40 ms to do so. Acknowledge at once when it was the last one awaited, or
    // when nothing more waits in the socket (more PUBACKs may be held back); while more is being read the
    // acknowledgement of the last segment will do.
    if ((context_of(context) & kAwaitsAck) != 0) {
        const int fd = owner_.quick_.load(std::memory_order_relaxed);
        if (owner_.awaiting_ack_.fetch_sub(1, std::memory_order_acq_rel) == 1 || !input_pending_on(fd)) {
            quickack_on(fd);
        }
    }
    try {
        const std::uint64_t id = id_of(context);
        std::vector<mqtt::delivery_token_ptr> released;
        retire(id, released, false);
        owner_.callbacks_.on_published(id);
    } catch (...) {
        // Nothing may escape into Paho.
    }
}

void PahoSession::Completions::on_failure(const mqtt::token& token) {
    if ((context_of(token.get_user_context()) & kAwaitsAck) != 0) {
        owner_.awaiting_ack_.fetch_sub(1, std::memory_order_acq_rel);
    }
    try {
        const std::uint64_t id = id_of(token.get_user_context());
        PublishFailure failure;
        const int reason = static_cast<int>(token.get_reason_code());
        const int rc = token.get_return_code();
        if (reason >= kFirstRefusalReason && reason <= kLastReasonCode) {
            failure.refusal_reason = reason;
        } else if (!owner_.alive_.load() || rc == MQTTASYNC_DISCONNECTED ||
                   rc == MQTTASYNC_OPERATION_INCOMPLETE || rc == MQTTASYNC_FAILURE) {
            // Lost or destroyed; MQTTASYNC_FAILURE is what Paho C reports for a publication interrupted by
            // a broken socket, before its connection-lost callback runs (seen when the broker is killed
            // mid-stream). Any other code is the client refusing the publication: it fails.
            failure.connection_gone = true;
        } else {
            failure.client_error = "MQTT client error " + std::to_string(rc);
            const char* text = MQTTAsync_strerror(rc);
            if (text != nullptr) {
                failure.client_error += ": ";
                failure.client_error += text;
            }
        }
        std::vector<mqtt::delivery_token_ptr> released;
        retire(id, released, failure.connection_gone);
        owner_.callbacks_.on_publish_failed(id, failure);
    } catch (...) {
        // Nothing may escape into Paho.
    }
}

void PahoSession::Waiter::completed(const mqtt::token& token, bool succeeded) noexcept {
    try {
        {
            std::lock_guard<std::mutex> lock(owner_.wait_mutex_);
            owner_.completed_.push_back(&token);
            if (succeeded) {
                owner_.succeeded_.push_back(&token);
            }
        }
        // A SUBACK (or UNSUBACK) was just read: the broker, if it keeps Nagle on, holds the next one (or the
        // first message) until we acknowledge this one.
        owner_.acknowledge_now();
        owner_.wait_cv_.notify_all();
    } catch (...) {
    }
}

void PahoSession::interrupt() noexcept {
    try {
        {
            std::lock_guard<std::mutex> lock(wait_mutex_);
            interrupted_.store(true);
        }
        wait_cv_.notify_all();
    } catch (...) {
    }
}

bool PahoSession::wait(const mqtt::token_ptr& token, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(wait_mutex_);
    auto done = [&] {
        return std::find(completed_.begin(), completed_.end(), token.get()) != completed_.end();
    };
    wait_cv_.wait_until(lock, deadline, [&] { return interrupted_.load() || !alive_.load() || done(); });
    return done();
}

void PahoSession::throw_connect_failure(const std::string& detail) const {
    throw MessagingError(ErrorNumbers::FB101, detail);
}

std::string PahoSession::describe_transport_failure(const std::string& paho_text,
                                                    Clock::time_point deadline) const {
    std::string resolve_error;
    const auto addresses = resolve_broker(broker_, port_, &resolve_error);
    const auto address = connection_address(addresses);
    if (!address) {
        return "unknown host " + broker_ + " (name resolution failed: " +
               (resolve_error.empty() ? std::string("no address") : resolve_error) + ")";
    }
    const milliseconds budget = std::min(kProbeBudget, std::max(remaining(deadline), milliseconds(100)));
    const int probe = probe_tcp(*address, budget);
    if (probe == ECONNREFUSED) {
        return "broker " + endpoint_ +
               " refused the TCP connection (connection refused: is the broker running?)";
    }
    if (probe != 0) {
        return "broker " + endpoint_ + " is not reachable (" + std::system_category().message(probe) + ")";
    }
    if (tls_) {
        // Paho says "TCP/TLS connect failure" whatever happened: one handshake of our own finds the cause.
        const std::string cause = diagnose_tls_failure(addresses.front(), tls_probe_, budget);
        if (!cause.empty()) {
            return "TLS connection to " + endpoint_ + " failed: " + cause;
        }
        return "TLS connection to " + endpoint_ +
               " failed (handshake or certificate verification; check tls.ca_file, tls.cert_file, "
               "tls.key_file, "
               "tls.verify_server and that the listener speaks TLS): " +
               paho_text;
    }
    return "broker " + endpoint_ + " accepted the TCP connection but the MQTT handshake failed: " + paho_text;
}

std::string PahoSession::tls_failure_cause(Clock::time_point deadline) const {
    const auto addresses = resolve_broker(broker_, port_, nullptr);
    if (!connection_address(addresses)) {
        return {};
    }
    const milliseconds budget = std::min(kProbeBudget, std::max(remaining(deadline), milliseconds(100)));
    return diagnose_tls_failure(addresses.front(), tls_probe_, budget);
}

bool PahoSession::wait_connect(const mqtt::token_ptr& token, Clock::time_point deadline) {
    if (doorbell_) {
        // Each ring is one more pass of Paho's receive thread: the pass after the send thread made the
        // socket adds it to the poll, the next one sees the TCP connection and sends CONNECT (TLS: the
        // first handshake message). Rung at once, then with growing pauses while no CONNACK came. A broken
        // doorbell (Paho closed its end) leaves the rest to the nudges below.
        std::chrono::microseconds pause = kFirstRingPause;
        while (doorbell_->ring()) {
            if (wait(token, std::min(deadline, Clock::now() + pause))) {
                return true;
            }
            if (interrupted_.load() || Clock::now() >= deadline) {
                return false;
            }
            pause = std::min(pause * 2, std::chrono::microseconds(kLongestNudgePause));
        }
    }
    milliseconds pause = kFirstNudgePause;
    while (nudge_others(this)) {
        if (wait(token, std::min(deadline, Clock::now() + pause))) {
            return true;
        }
        if (interrupted_.load() || Clock::now() >= deadline) {
            return false;
        }
        pause = std::min(pause * 2, kLongestNudgePause);
    }
    return wait(token, deadline);  // the only client of the process: its socket is polled from the start
}

void PahoSession::connect(Clock::time_point deadline) {
    // The CONNACK is read by the receive thread: no hold while connecting (client_thread_hold.hpp).
    const ClientThreadHold::Use use(ClientThreadHold::Kind::handshake);
    // Resolved once per connection, as Paho resolves it, and before the gate: a name server may be slow.
    const std::optional<sockaddr_storage> address = connection_address(resolve_broker(broker_, port_));
    // The socket that appears between this snapshot and the CONNACK is ours, provided no other session of
    // the process connects meanwhile: the gate (socket_tuning.hpp), released after kGateHold at the latest.
    std::unique_lock<std::mutex> gate = lock_connect_gate();
    const std::unordered_set<unsigned long> before = sockets_towards_port(port_);
    mqtt::token_ptr token;
    try {
        token = client_->connect(connect_options_, nullptr, waiter_);
        kept_tokens_.push_back(token);
    } catch (const mqtt::exception& error) {
        throw_connect_failure("cannot start connecting to " + uri_ + ": " + std::string(error.what()));
    }
    bool answered = false;
    try {
        answered = wait_connect(token, std::min(deadline, Clock::now() + kGateHold));
        if (!answered && !interrupted_.load()) {
            gate.unlock();  // a slow broker: let the other sessions of the process connect meanwhile
            answered = wait_connect(token, deadline);
        }
        if (answered) {
            token->wait();  // completed: returns at once, or throws the failure
        }
    } catch (const mqtt::exception& error) {
        if (gate.owns_lock()) {
            gate.unlock();
        }
        const int code = error.get_return_code();
        if (code > 0) {
            throw ConnectRefused(code,
                                 "broker " + endpoint_ + " refused the connection: " + connack_text(code));
        }
        std::string paho_text = error.what();
        if (code == MQTTASYNC_FAILURE && error.get_message() == kReceiveThreadSocketError) {
            throw SocketNumberMixUp("broker " + endpoint_ + ": Paho failed the attempt before any answer (" +
                                    paho_text + ")");
        }
        if (paho_text.find(kClosedAfterConnect) != std::string::npos) {
            // Paho's words for "CONNECT sent, then the socket closed before any CONNACK". Over TLS 1.3 a
            // broker refuses a client certificate after the handshake, when our CONNECT is already written:
            // the same words. Our own handshake names such a cause, and then it is no protocol question.
            if (tls_) {
                const std::string cause = tls_failure_cause(deadline);
                if (!cause.empty()) {
                    throw_connect_failure("TLS connection to " + endpoint_ + " failed: " + cause);
                }
            }
            throw ClosedBeforeConnack("broker " + endpoint_ +
                                      " closed the connection after the CONNECT without answering it (" +
                                      paho_text + ")");
        }
        throw_connect_failure(describe_transport_failure(paho_text, deadline));
    }
    if (!answered) {
        if (interrupted_.load()) {
            throw_connect_failure("connection attempt to " + endpoint_ + " interrupted (stopping)");
        }
        throw_connect_failure("broker " + endpoint_ + " did not answer within " +
                              std::to_string(connect_timeout_.count()) + " ms (timeout)");
    }
    if (address) {
        socket_ = BrokerSocket::claim_new(before, *address);
    }
    if (gate.owns_lock()) {
        gate.unlock();
    }
    // Paho C never sets TCP_NODELAY; without it a QoS 1 request/reply waits for Nagle and the peer's
    // delayed ACK, about 40 ms per hop. Then the acknowledgement of the CONNACK leaves at once, so that a
    // broker with Nagle on does not hold the first SUBACK back (socket_tuning.hpp). Every connection,
    // reconnections included.
    if (socket_.valid()) {
        socket_.set_nodelay();
        socket_.quickack();
        quick_.store(socket_.descriptor());
    }
    try {
        const mqtt::connect_response response = token->get_connect_response();  // by value: a copy
        session_present_ = response.is_session_present();
        const mqtt::properties& properties = response.get_properties();
        if (properties.contains(mqtt::property::RECEIVE_MAXIMUM)) {
            const auto value = mqtt::get<uint16_t>(properties, mqtt::property::RECEIVE_MAXIMUM);
            receive_maximum_ = value == 0 ? 65535U : value;
        }
    } catch (const std::exception&) {
        // No readable connect response: keep the protocol's default.
    }
    try {
        remember_session(this);  // from now on it can wake Paho for the next session, and keep it awake
    } catch (...) {
        // Out of memory or no thread: Paho's receive thread keeps its own timers, as before.
    }
    if (tls_ && !tls_probe_.verify_server) {
        library_logger()->warn(
            "TLS connection to {} made WITHOUT verifying the broker's certificate (tls.verify_server = "
            "false): "
            "anyone on the network path can impersonate the broker and read or change every message",
            endpoint_);
    }
}

void PahoSession::throw_closed_after_subscribe(const std::vector<std::string>& topics,
                                               const std::vector<mqtt::token_ptr>& tokens) {
    // The broker's objection is one of the SUBSCRIBEs it did not acknowledge, most likely the first; but
    // the SUBACK of an earlier one may arrive with the close and be seen after it, so each is named (up to
    // three), in order.
    std::vector<std::string> unacknowledged;
    {
        std::lock_guard<std::mutex> lock(wait_mutex_);
        for (std::size_t i = 0; i < tokens.size() && i < topics.size(); ++i) {
            if (std::find(succeeded_.begin(), succeeded_.end(), tokens[i].get()) == succeeded_.end()) {
                unacknowledged.push_back(topics[i]);
            }
        }
    }
    if (unacknowledged.empty()) {
        unacknowledged.push_back(topics.back());
    }
    std::string named = unacknowledged.front();
    if (unacknowledged.size() > 1) {
        named += " (or to ";
        for (std::size_t i = 1; i < unacknowledged.size() && i < 3; ++i) {
            named += (i == 1 ? "" : ", ") + unacknowledged[i];
        }
        named += unacknowledged.size() > 3 ? ", ..., not acknowledged either)" : ", not acknowledged either)";
    }
    throw_connect_failure(
        "broker " + endpoint_ + " closed the connection right after the SUBSCRIBE to " + named +
        " without acknowledging it (RabbitMQ does so when its ACL forbids this component to read the topic, "
        "and when the node holding a persistent session is down)");
}

// A broker that grants less than QoS 2 for a QoS 2 subscription does not do exactly-once at all: RabbitMQ
// grants 1 and answers a QoS 2 publication with a PUBACK, which Paho reports as an exactly-once success.
// Running on would silently turn exactly-once into at-least-once, so the component refuses to (a refusal:
// the same broker answers the same way next time).
void PahoSession::check_exactly_once_granted(const mqtt::token& token, const std::string& topic) const {
    constexpr int kQosNotSupported = 0x9B;  // MQTT 5's reason code for it, used as the refusal's code
    int granted = -1;
    try {
        const auto codes = token.get_subscribe_response().get_reason_codes();
        if (!codes.empty()) {
            granted = static_cast<int>(codes.front());
        }
    } catch (const std::exception&) {
        return;  // no readable SUBACK: nothing to say
    }
    if (granted >= 0 && granted < 2) {
        throw ConnectRefused(kQosNotSupported,
                             "broker " + endpoint_ + " granted QoS " + std::to_string(granted) +
                                 " for the QoS 2 subscription to " + topic +
                                 ": it does not provide exactly-once delivery (RabbitMQ grants 1 and "
                                 "acknowledges QoS 2 publications as QoS 1); use qos 1 with this broker");
    }
}

void PahoSession::subscribe(const std::vector<std::string>& topics, int qos, Clock::time_point deadline) {
    // The SUBACKs come behind what the broker kept for a persistent session: no hold until they are read.
    const ClientThreadHold::Use use(ClientThreadHold::Kind::handshake);
    // Issue every SUBSCRIBE first, then wait: one round trip in total instead of one per topic.
    std::vector<mqtt::token_ptr> tokens;
    tokens.reserve(topics.size());
    for (const auto& topic : topics) {
        try {
            tokens.push_back(client_->subscribe(topic, qos, nullptr, waiter_));
            kept_tokens_.push_back(tokens.back());
        } catch (const mqtt::exception& error) {
            if (!tokens.empty() && (!alive_.load() || is_disconnection(error.get_return_code()))) {
                // Closed by the broker after one of the SUBSCRIBEs already sent.
                throw_closed_after_subscribe(topics, tokens);
            }
            throw_connect_failure("cannot subscribe to " + topic + ": " + std::string(error.what()));
        }
    }
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        bool answered = false;
        try {
            answered = wait(tokens[i], deadline);
            if (answered) {
                tokens[i]->wait();  // completed: returns at once, or throws the refusal
            }
        } catch (const mqtt::exception& error) {
            const int code = error.get_reason_code() >= kFirstRefusalReason ? error.get_reason_code()
                                                                            : error.get_return_code();
            if (code < 0 && (!alive_.load() || is_disconnection(code))) {
                // Not a refusal: the connection closed while the SUBSCRIBE waited for its SUBACK (Paho
                // fails the pending ones with "operation incomplete").
                throw_closed_after_subscribe(topics, tokens);
            }
            const std::string text =
                "broker " + endpoint_ + " refused the subscription to " + topics[i] + ": ";
            if (code >= kFirstRefusalReason && code <= kLastReasonCode) {
                // The broker's verdict on this topic (an ACL, usually): the same next time, so it is a
                // refusal like a CONNACK's, never retried in a loop.
                throw ConnectRefused(code, text + suback_text(code));
            }
            throw_connect_failure(text + error.what());
        }
        if (answered && qos == 2) {
            check_exactly_once_granted(*tokens[i], topics[i]);
        }
        if (!answered) {
            if (interrupted_.load()) {
                throw_connect_failure("subscription to " + topics[i] + " interrupted (stopping)");
            }
            if (!alive_.load()) {
                throw_closed_after_subscribe(topics, tokens);
            }
            throw_connect_failure("broker " + endpoint_ + " did not acknowledge the subscription to " +
                                  topics[i] + " within " + std::to_string(connect_timeout_.count()) +
                                  " ms (timeout)");
        }
    }
}

SendResult PahoSession::publish(const Publication& publication) {
    // The outbox id travels as Paho's opaque user context (Completions reads it back).
    const bool awaits_ack = publication.qos > 0;
    // NOLINTNEXTLINE(performance-no-int-to-ptr)
    void* context = reinterpret_cast<void*>(
        static_cast<std::uintptr_t>(publication.id | (awaits_ack ? kAwaitsAck : std::uint64_t{0})));
    SendResult result;
    if (awaits_ack) {
        awaiting_ack_.fetch_add(1, std::memory_order_acq_rel);  // before Paho can complete it
    }
    bool handed = false;  // once Paho has it, its completion callback settles awaiting_ack_
    // At QoS 1/2 Paho takes its library mutex, which a held receive thread keeps: end the hold first.
    std::optional<ClientThreadHold::Use> use;
    if (awaits_ack) {
        use.emplace(ClientThreadHold::Kind::brief);
    }
    auto not_handed = [&] {
        if (awaits_ack && !handed) {
            awaiting_ack_.fetch_sub(1, std::memory_order_acq_rel);
        }
    };
    try {
        // A copy of the topic that only Paho owns: sharing our string would have its reference count
        // dropped inside libpaho-mqttpp3 (the delivery token) and on our threads (the outbox), which
        // ThreadSanitizer cannot order (it does not see the library's atomics). A topic is a few dozen bytes.
        mqtt::string_ref topic(std::string(*publication.topic));
        const std::string& payload = *publication.payload;
        mqtt::delivery_token_ptr token;
        if (!publication.tag && !publication.signature) {
            token = client_->publish(std::move(topic), payload.data(), payload.size(), publication.qos,
                                     publication.retained, context, completions_);
        } else {
            auto message = mqtt::message::create(std::move(topic), payload.data(), payload.size(),
                                                 publication.qos, publication.retained,
                                                 user_properties(publication.tag, publication.signature));
            token = client_->publish(std::move(message), context, completions_);
        }
        handed = true;
        completions_.keep(publication.id, std::move(token), publication.topic);
    } catch (const mqtt::exception& error) {
        not_handed();
        result.status =
            is_disconnection(error.get_return_code()) ? SendStatus::not_connected : SendStatus::refused;
        result.error = error.what();
    } catch (const std::bad_alloc&) {
        not_handed();
        throw;
    } catch (const std::exception& error) {
        not_handed();
        result.status = SendStatus::refused;
        result.error = error.what();
    }
    return result;
}

bool PahoSession::connected() const noexcept {
    try {
        const ClientThreadHold::Use use(ClientThreadHold::Kind::brief);  // is_connected takes Paho's mutex
        return client_->is_connected();
    } catch (...) {
        return false;
    }
}

bool PahoSession::disconnect(std::chrono::milliseconds timeout) noexcept {
    try {
        // Paho's send thread writes the DISCONNECT under its library mutex: no hold until it is done.
        const ClientThreadHold::Use use(ClientThreadHold::Kind::brief);
        if (!client_->is_connected()) {
            return false;
        }
        auto token = client_->disconnect(static_cast<int>(timeout.count()));
        kept_tokens_.push_back(token);
        return token->wait_for(timeout + std::chrono::milliseconds(500));
    } catch (...) {
        return false;
    }
}

}  // namespace fedbiomed::detail

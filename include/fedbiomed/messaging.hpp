/// @file messaging.hpp
/// @brief The message bus of one Fed-BioMed component (a researcher or a node) over an MQTT broker.
///
/// ## Threading contract
/// - **Paho's network thread** runs the library's own MQTT callbacks. They only copy inbound payloads into
///   a bounded queue and update state; no user code ever runs there.
/// - **The dispatcher thread**, one per Messaging object (started by start(), joined by stop()), decodes
///   each payload, checks its protocol version and calls the MessageHandler, then the FaultHandler for
///   anything that went wrong. User callbacks may call send_message(), send_error() and the accessors,
///   may wait on a Delivery, may block (inbound messages then wait in the bounded queue) and may throw
///   (reported as a fault, the next message is delivered as usual). From a callback, start() throws
///   (FB103) and stop() is allowed (the dispatcher thread ends once the callback returns); destroying the
///   Messaging object from its own callback is not allowed.
/// - Log forwarding (nodes) runs on whatever thread logs; it never waits for the network, only briefly on
///   locks (see logger.hpp).
/// - All public methods are thread-safe unless said otherwise.
///
/// ## Differences from the reference (Fed-BioMed 4.5), all deliberate
/// start() waits for CONNACK and SUBACKs with a deadline and throws FB101 naming the cause; a bad inbound
/// payload or a throwing handler is reported and counted instead of killing the receiver; ids that would
/// change the topic tree are refused; send_message() returns a Delivery instead of dropping silently;
/// stop() sends DISCONNECT; send_error() from a researcher is an FB103 error; MQTT 3.1.1 is requested
/// explicitly (5 on option). Topics, subscriptions, payload bytes and the protocol-version rule are the
/// reference's.
///
/// ## Resilience (docs/reliability.md has the guarantees and the measured fault tests)
/// A lost connection is re-established automatically (exponential backoff with jitter) and the
/// subscriptions are restored on every reconnection. By default publications and subscriptions use QoS 1
/// and the session is persistent with a stable client id ("fbm-node-<id>", "fbm-researcher-<id>"), so the
/// broker keeps what arrives for a component while it is away; what is sent while disconnected waits in a
/// bounded outbox and goes out after the reconnection. Components announce themselves online on private
/// topics (fedbiomed-messaging/presence/...) that reference components never subscribe to, with a will
/// that announces them offline when they die; two processes using the same component id are detected
/// and stopped with a sticky FB101 failure instead of kicking each other off the broker forever.
/// MessagingOptions::reference_compatible() returns the reference's QoS 0, clean-session behaviour.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fedbiomed/errors.hpp"
#include "fedbiomed/json.hpp"

namespace fedbiomed {

/// @brief Which kind of component a Messaging object serves; it selects topics and subscriptions.
enum class ComponentType {
    researcher = 1,  ///< publishes on general/nodes, subscribes general/researcher, monitoring, logger
    node = 2,        ///< publishes on general/researcher, subscribes general/nodes and `general/<id>`
};

/// @brief MQTT protocol version spoken to the broker. Always requested explicitly: Paho's default would try
/// 3.1.1 and then fall back to MQTT 3.1.
enum class MqttVersion {
    v3_1_1,  ///< MQTT 3.1.1, as the reference
    v5,      ///< MQTT 5
};

/// @brief TLS settings; TLS is used when @ref enabled is true (the broker URI becomes ssl://).
struct TlsOptions {
    bool enabled = false;       ///< connect with TLS
    std::string ca_file;        ///< PEM file of trusted CAs; empty: the system's default store
    std::string cert_file;      ///< client certificate (PEM) for mutual TLS; empty: none
    std::string key_file;       ///< client private key (PEM); empty: none
    std::string key_password;   ///< password of @ref key_file, if encrypted
    bool verify_server = true;  ///< verify the broker's certificate and host name
};

/// @brief What start() does when the broker cannot be reached.
enum class FirstConnect {
    fail_fast,    ///< one attempt bounded by MessagingOptions::connect_timeout, then FB101
    keep_trying,  ///< retry with the reconnection backoff until MessagingOptions::first_connect_deadline
};

/// @brief Random spread of the reconnection delays, so that many components restarted together do not
/// reconnect in lockstep.
enum class BackoffJitter {
    none,          ///< exact delays: min_delay, 2 x min_delay, 4 x ... up to max_delay
    full,          ///< a delay drawn uniformly in [0, exponential delay] (never below 1 ms)
    decorrelated,  ///< a delay drawn uniformly in [min_delay, 3 x previous delay], capped at max_delay
};

/// @brief Automatic reconnection after a lost connection (and between start() attempts in
/// FirstConnect::keep_trying mode).
struct ReconnectOptions {
    /// Reconnect automatically. When false, a lost connection is final as in the reference: a sticky
    /// failure reported as FB100 (not FB101: the broker refused nothing), is_failed() becomes true, pending
    /// and buffered publications fail, and only stop() then start() reconnects.
    bool enabled = true;
    std::chrono::milliseconds min_delay{100};    ///< first delay after a loss (and base of the backoff)
    std::chrono::milliseconds max_delay{30000};  ///< the delays grow by a factor 2 up to this bound
    BackoffJitter jitter = BackoffJitter::full;  ///< how delays are spread
};

/// @brief What send_message() does when the outbox is full (see MessagingOptions::outbox_capacity).
enum class OutboxOverflow {
    /// Messages still waiting to be handed to the client (sent while disconnected, or held back by the
    /// in-flight window) fail (FB103), oldest first, until the new one fits. Messages already handed to the
    /// client (in flight, or awaiting an end-to-end acknowledgement) are never evicted: the client owns
    /// them. When evicting every waiting message would still leave no room (everything held is in flight
    /// or a log record, or the new message needs more bytes than that frees), nothing is evicted and the
    /// new message's Delivery fails (FB103), as with drop_newest.
    drop_oldest,
    drop_newest,  ///< the new message's Delivery fails at once (FB103); nothing already accepted is lost
    throw_error,  ///< send_message() throws MessagingError (FB103); nothing already accepted is lost
};

/// @brief Plain configuration values of a Messaging object. Defaults suit a local Mosquitto and lose no
/// message across broker restarts and reconnections (see docs/reliability.md for what that covers).
// Grouped by topic for readers, not packed: one object per component, its padding is irrelevant.
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding)
struct MessagingOptions {
    std::string broker = "localhost";                ///< host name or address of the broker
    int port = 1883;                                 ///< TCP port of the broker
    std::string username;                            ///< MQTT user name; empty: anonymous
    std::string password;                            ///< MQTT password (used only with a user name)
    TlsOptions tls;                                  ///< TLS settings
    MqttVersion mqtt_version = MqttVersion::v3_1_1;  ///< protocol version
    /// MQTT client id. Empty (the default): "fbm-node-<id>" or "fbm-researcher-<id>" with a persistent
    /// session, or an id assigned by the broker (as the reference) without one. Two processes must never
    /// share a client id: the broker disconnects one for the other (detected, see takeover_threshold).
    std::string client_id;
    /// Keep the MQTT session on the broker across disconnections (clean session off in MQTT 3.1.1, clean
    /// start off with a session expiry in MQTT 5): the broker keeps the subscriptions and queues the QoS 1
    /// messages that arrive while the component is away. The reference uses a clean session.
    bool persistent_session = true;
    /// MQTT 5 only: how long the broker keeps a persistent session after the component went away.
    /// (MQTT 3.1.1 sessions do not expire; Mosquitto's persistent_client_expiration bounds them.)
    std::chrono::seconds session_expiry{std::chrono::hours(24 * 7)};
    /// Each connection attempt gives up after this (FB101): it bounds the CONNACK and the SUBACKs together.
    std::chrono::milliseconds connect_timeout{10000};
    /// What start() does when the broker is not there. FirstConnect::fail_fast (the default) throws FB101
    /// after one attempt; FirstConnect::keep_trying retries (backoff of @ref reconnect, no busy loop)
    /// until first_connect_deadline.
    FirstConnect first_connect = FirstConnect::fail_fast;
    /// FirstConnect::keep_trying only: start() throws FB101 when not connected after this long.
    /// std::chrono::milliseconds::max() waits forever (stop() from another thread still interrupts it).
    std::chrono::milliseconds first_connect_deadline{std::chrono::minutes(5)};
    ReconnectOptions reconnect;  ///< automatic reconnection
    /// MQTT keepalive interval. A silent connection (stalled network) is detected as lost within about
    /// three times this interval (Paho sends a PINGREQ after one interval of silence, checking once per
    /// interval, and gives up one interval later), then reconnected. 0 turns keepalive, and with it the
    /// detection of a silent connection, off (MQTT's rule).
    std::chrono::seconds keepalive{60};
    /// QoS of publications and subscriptions (0, 1 or 2). The reference uses 0; 1 (the default) lets a
    /// Delivery report the broker's acknowledgement and lets the broker keep messages for absent
    /// components.
    int qos = 1;
    /// Larger outbound messages are refused (send_message() throws MessageError FB601); larger inbound
    /// payloads are rejected without decoding (fault FB601).
    std::size_t max_payload_bytes = std::size_t{16} * 1024U * 1024U;
    std::size_t max_json_depth = 512;  ///< deeper nesting in an inbound payload is rejected (FB601)
    /// Inbound messages waiting for the dispatcher; when full, the oldest waiting message is dropped,
    /// counted and reported as a fault (FB100).
    std::size_t inbound_queue_capacity = 100000;
    /// Publications the library holds until the broker (or, with end_to_end_ack, the receiver)
    /// acknowledges them: those handed to the client and those waiting for a connection. When one more
    /// would exceed this count or outbox_max_bytes, @ref outbox_overflow decides; every overflow is counted
    /// (MessagingStats::outbox_overflows) and reported as a fault (FB103). Forwarded log records are never
    /// buffered while disconnected (they are dropped and counted).
    std::size_t outbox_capacity = 100000;
    /// Payload bytes held by the outbox at most.
    std::size_t outbox_max_bytes = std::size_t{256} * 1024U * 1024U;
    OutboxOverflow outbox_overflow = OutboxOverflow::drop_newest;  ///< policy when the outbox is full
    /// Announce this component on `fedbiomed-messaging/presence/<node|researcher>/<id>` (retained "online",
    /// with a retained "offline" will the broker publishes if the component dies; stop() publishes
    /// "offline" itself). Researchers follow the nodes' announcements (online_nodes(), presence handler).
    /// Reference components never subscribe to these topics. Also what detects duplicate ids.
    bool presence = true;
    /// Duplicate ids: when this many signs that another process uses this component id are seen within
    /// takeover_window, the component stops reconnecting: sticky failure FB101 "another process is
    /// connected with the same component id", reported on both processes. Only the broker's word counts as
    /// a sign, never a message that another client could forge: under MQTT 5 a disconnection with reason
    /// code 0x8E "session taken over"; under MQTT 3.1.1 (needs @ref presence) a connection the broker
    /// closed with another instance's announcement found on our own presence topic during it or the next
    /// connection. Two processes sharing a component id but configured with different client ids are not
    /// disconnected by the broker and are only warned about. 0 disables the detection.
    int takeover_threshold = 3;
    std::chrono::milliseconds takeover_window{60000};  ///< see takeover_threshold
    /// End-to-end acknowledgement between components of this library (requires MQTT 5 and QoS >= 1 here;
    /// the receiver needs MQTT 5 too but not this option). Each message carries an id in MQTT 5 user
    /// properties, which the broker strips for MQTT 3.1.1 subscribers such as the reference's; the
    /// receiver acknowledges it on the sender's topic `fedbiomed-messaging/ack/<node|researcher>/<id>` (named
    /// in the message) once its handler has run and drops duplicates; the sender re-sends until
    /// acknowledged. The Delivery completes on that acknowledgement (for a broadcast: the first one). Off
    /// by default: a reference peer would never acknowledge.
    bool end_to_end_ack = false;
    /// end_to_end_ack: the Delivery fails (FB102) when no receiver acknowledged within this time after
    /// send_message().
    std::chrono::milliseconds end_to_end_timeout{60000};
    /// end_to_end_ack: a message acknowledged by the broker but not by a receiver is sent again after this.
    std::chrono::milliseconds end_to_end_resend_interval{2000};
    /// send_error() sends at most this many error messages per second on average, in bursts of at most
    /// error_burst: what bad requests make a node send back stays bounded however many arrive. The others
    /// are not sent: their Delivery fails (FB103), they are counted (MessagingStats::errors_rate_limited)
    /// and logged together, once per episode. 0 lifts the limit.
    double error_rate = 10.0;
    double error_burst = 20.0;  ///< see error_rate
    /// forward_logs: at most this many log records per second on general/logger, in bursts of at most
    /// forwarded_log_burst. The others are counted (MessagingStats::logs_rate_limited) and announced by
    /// one WARNING record "N log record(s) not forwarded" before the next record forwarded. Local sinks
    /// (the console) still get every record. 0 lifts the limit.
    double forwarded_log_rate = 20.0;
    double forwarded_log_burst = 100.0;  ///< see forwarded_log_rate
    /// Nodes only: while started, forward the library logger's records of INFO and above to general/logger
    /// as reference `log` messages (spec section 9; see logger.hpp). At most one forwarder per process:
    /// the first node started.
    bool forward_logs = true;
    /// stop() waits at most this long for publications not acknowledged yet (including those waiting for
    /// a reconnection), then fails them.
    std::chrono::milliseconds stop_timeout{5000};

    /// @brief The reference's wire behaviour: QoS 0, clean session, broker-assigned client id, no presence
    /// announcements (so nothing beyond the reference's own traffic), no end-to-end acknowledgement.
    /// Reconnection and the outbox stay on: they change nothing on the wire. @throws std::bad_alloc only.
    static MessagingOptions reference_compatible();
};

/// @brief Something that went wrong in inbound traffic, a callback, the connection or the outbox, reported
/// instead of thrown.
struct MessagingFault {
    /// FB601 undecodable payload, not an object, or larger than max_payload_bytes (also a malformed
    /// presence announcement); FB104 / FB625 incompatible or mistyped protocol version; FB100 inbound queue
    /// overflow (oldest messages dropped) or connection to the broker lost; FB103 an exception from the
    /// MessageHandler (or that exception's own code when it is a FedbiomedError), or a publication refused
    /// or dropped because the outbox was full; FB102 no end-to-end acknowledgement in time.
    /// Sticky failures (no reconnection until stop() then start()) keep the code of their cause: FB101 when
    /// the broker refused a reconnection (credentials, authorisation) or another process uses the same
    /// component id; FB100 when the connection was lost with reconnect.enabled false (reported after the
    /// FB100 of the loss itself) or when the connection supervisor itself failed.
    ErrorNumbers code = ErrorNumbers::FB100;
    std::string message;  ///< full text, beginning with the code's text
    std::string topic;    ///< topic the payload arrived on (empty when not about a payload)
};

/// @brief Counters since construction; they only grow.
struct MessagingStats {
    std::uint64_t received = 0;          ///< payloads that arrived on the reference topics (general/...)
    std::uint64_t handled = 0;           ///< messages handed to the MessageHandler (even if it then threw)
    std::uint64_t decode_errors = 0;     ///< payloads refused as FB601 (not JSON, not an object, too large)
    std::uint64_t version_errors = 0;    ///< messages refused for their protocol version (FB104/FB625)
    std::uint64_t version_warnings = 0;  ///< messages accepted with a version warning
    std::uint64_t handler_errors = 0;    ///< exceptions thrown by the MessageHandler
    std::uint64_t inbound_dropped = 0;   ///< messages dropped because the inbound queue was full
    std::uint64_t published = 0;         ///< messages the broker acknowledged (or written, at QoS 0)
    std::uint64_t publish_failures = 0;  ///< messages that failed (not connected, refused, lost, stopped)
    std::uint64_t logs_forwarded = 0;    ///< log records published on general/logger (acknowledged)
    /// Log records that reached the forwarder but were not delivered: not connected, refused, still pending
    /// at stop() or at a lost connection, unencodable, or logged from inside the logging path (never
    /// forwarded: no recursion).
    std::uint64_t logs_dropped = 0;
    std::uint64_t connection_attempts = 0;  ///< connection attempts made (start() and reconnections)
    std::uint64_t connection_losses = 0;    ///< established connections that were lost (not by stop())
    std::uint64_t reconnections = 0;        ///< connections re-established after a loss
    /// Publications handed to the client again: after a lost connection, or (end_to_end_ack) because the
    /// receiver's acknowledgement did not come in time. Each may reach a receiver twice.
    std::uint64_t resent = 0;
    std::uint64_t outbox_overflows = 0;  ///< publications refused or dropped because the outbox was full
    /// Inbound messages carrying an end-to-end id already handled, dropped before the MessageHandler.
    std::uint64_t duplicates_dropped = 0;
    std::uint64_t end_to_end_timeouts = 0;  ///< publications failed for lack of an end-to-end acknowledgement
    /// send_error() calls not sent because they exceeded MessagingOptions::error_rate (their Delivery
    /// failed with FB103).
    std::uint64_t errors_rate_limited = 0;
    /// Log records not forwarded because they exceeded MessagingOptions::forwarded_log_rate (also counted
    /// in logs_dropped).
    std::uint64_t logs_rate_limited = 0;
    /// Presence records of another instance found on this component's own presence topic: another process
    /// with the same id, or a forgery. None of them changes the component's state by itself.
    std::uint64_t foreign_presence_records = 0;
};

/// @brief Where the connection to the broker stands, as told to a ConnectionStateHandler.
enum class ConnectionState {
    connected,     ///< connected and subscribed (after start(), and again after every reconnection)
    disconnected,  ///< the connection was lost; the library is reconnecting (publications are buffered)
    failed,        ///< sticky: refused by the broker, duplicate id, or lost with reconnection disabled
};

/// @brief One change of the connection state.
struct ConnectionEvent {
    ConnectionState state = ConnectionState::disconnected;  ///< the new state
    /// Why: the cause of a loss, the refusal or duplicate-id text of a failure (with its FB code);
    /// empty for a connection.
    std::string reason;
    /// connected: the attempts this connection took: for the first connection 1 with
    /// FirstConnect::fail_fast, or the attempts start() made with FirstConnect::keep_trying; after a loss,
    /// the attempts the reconnection took. disconnected and failed: 0.
    std::uint64_t attempts = 0;
};

/// @brief A component announced online or gone offline on its presence topic.
struct PresenceEvent {
    ComponentType type = ComponentType::node;  ///< the announcing component's type (nodes, for researchers)
    std::string id;                            ///< its component id
    bool online = false;                       ///< true: announced online; false: offline
    /// "online", "stopped" (clean stop()), "connection lost" (the broker published its will: it died or
    /// its network failed), "duplicate id", or the text of the announcement.
    std::string reason;
};

/// @brief Outcome of one publication: a handle the caller may wait on.
///
/// Cheap to copy; all copies share the same state. Never blocks unless wait_for() is called. The outcome
/// is set once: by the broker's acknowledgement (on Paho's thread), by a receiver's acknowledgement with
/// end_to_end_ack, by a refusal (of the broker or of the client), by an end-to-end timeout (FB102), by
/// stop(), by an outbox overflow or by a sticky failure. A lost connection does not end it: the
/// publication is sent again after the reconnection.
class Delivery {
public:
    /// @brief Where the publication stands.
    enum class State {
        pending,    ///< handed to the client, no answer yet
        delivered,  ///< the broker acknowledged it (QoS 1/2) or it was written to the socket (QoS 0)
        failed,     ///< it will not be delivered; see error()
    };

    /// @brief An empty handle, already failed with "no publication".
    Delivery();

    /// @brief The current state. @throws nothing.
    State state() const noexcept;

    /// @brief Waits until the outcome is known or @p timeout passes.
    /// @return true when the state is no longer pending. @throws nothing.
    /// @warning Do not call from a Paho callback; calling it from a MessageHandler is fine.
    bool wait_for(std::chrono::milliseconds timeout) const noexcept;

    /// @brief True once the broker accepted the message (with end_to_end_ack: once a receiver acknowledged
    /// it). @throws nothing.
    bool delivered() const noexcept { return state() == State::delivered; }

    /// @brief Why it failed, with an FB code (e.g. "FB103: messaging call error: not connected"); empty
    /// otherwise. @throws std::bad_alloc only.
    std::string error() const;

    /// @brief Internal shared state (opaque to users).
    struct Shared;
    /// @brief Internal: wraps a shared state.
    explicit Delivery(std::shared_ptr<Shared> shared) noexcept;

private:
    std::shared_ptr<Shared> shared_;
};

/// @brief Called on the dispatcher thread for every valid inbound message (a JSON object whose
/// protocol_version passed), with the topic it arrived on. May call send_message(), block or throw; an
/// exception becomes a fault (FB103, or the FedbiomedError's own code) and the next message is delivered.
using MessageHandler = std::function<void(const Json& msg, const std::string& topic)>;

/// @brief Called on the dispatcher thread for every fault (see MessagingFault), after it was logged on the
/// library logger. An exception thrown here is caught and logged.
using FaultHandler = std::function<void(const MessagingFault& fault)>;

/// @brief Called on the dispatcher thread for every change of the connection state, in order, interleaved
/// with the messages in the order things happened. May call send_message() (a publication made while
/// disconnected is buffered). An exception thrown here is caught and logged.
using ConnectionStateHandler = std::function<void(const ConnectionEvent& event)>;

/// @brief Researchers: called on the dispatcher thread when a node announces itself online or offline
/// (including the retained announcements received after each connection). An exception thrown here is
/// caught and logged.
using PresenceHandler = std::function<void(const PresenceEvent& event)>;

/// @brief The message bus of one component. Non-copyable, non-movable (callbacks hold its address).
class Messaging {
public:
    /// @brief Reference-compatible constructor (Fed-BioMed 4.x `Messaging(on_message, type, id, broker,
    /// port)`): the default MessagingOptions with @p broker and @p port. No network activity.
    /// @throws MessagingError (FB103) when @p id would change the topic tree: empty, containing '/', '+',
    ///         '#' or a NUL, or a reserved name ("nodes", "researcher", "monitoring", "logger"); or when
    ///         @p broker is empty or @p port is outside 1..65535.
    Messaging(MessageHandler on_message, ComponentType type, std::string id, std::string broker = "localhost",
              int port = 1883);

    /// @brief Constructor with every option. No network activity; nothing checks that the broker or the TLS
    /// files exist (start() reports those).
    /// @throws MessagingError (FB103) for a hostile id (see above), or "invalid messaging options: ..."
    ///         naming the first of these problems: broker empty; port outside 1..65535; qos not 0, 1 or 2;
    ///         connect_timeout or first_connect_deadline not positive; keepalive outside 0..65535 s;
    ///         inbound_queue_capacity, max_payload_bytes or max_json_depth 0; stop_timeout negative;
    ///         reconnect.min_delay not positive or reconnect.max_delay below it; outbox_capacity or
    ///         outbox_max_bytes 0, or outbox_capacity above 1000000; takeover_threshold negative or
    ///         takeover_window not positive; session_expiry negative; with end_to_end_ack: mqtt_version not
    ///         v5, qos 0, or end_to_end_timeout or end_to_end_resend_interval not positive.
    Messaging(MessageHandler on_message, ComponentType type, std::string id, MessagingOptions options);

    /// @brief Stops (see stop()) if still running. @throws nothing.
    ~Messaging();

    Messaging(const Messaging&) = delete;
    Messaging& operator=(const Messaging&) = delete;
    Messaging(Messaging&&) = delete;
    Messaging& operator=(Messaging&&) = delete;

    /// @brief Sets the fault handler. Call before start().
    /// @throws MessagingError (FB103) when called after start().
    void set_fault_handler(FaultHandler on_fault);

    /// @brief Sets the connection-state handler (see ConnectionStateHandler). Call before start().
    /// @throws MessagingError (FB103) when called after start().
    void set_connection_state_handler(ConnectionStateHandler on_state);

    /// @brief Researchers: sets the presence handler (see PresenceHandler). Call before start(). Needs
    /// options.presence (on by default).
    /// @throws MessagingError (FB103) when called after start().
    void set_presence_handler(PresenceHandler on_presence);

    /// @brief Connects, waits for the broker's answer (no busy loop) and subscribes the component's topics;
    /// when it returns, the component can receive. With FirstConnect::fail_fast (default) one attempt is
    /// made, bounded by options.connect_timeout; with FirstConnect::keep_trying attempts are repeated with
    /// the reconnection backoff until options.first_connect_deadline (a refusal by the broker still fails
    /// at once). From then on a lost connection is re-established automatically (options.reconnect).
    /// Calling it while started does nothing; calling it after stop() connects again. A node then
    /// forwards its logs (options.forward_logs). A successful start() clears is_failed().
    /// @param block when true, then blocks the caller until stop() is called from another thread.
    /// @throws MessagingError (FB101) when the broker refuses (bad credentials, not authorised), cannot be
    ///         reached (down, unknown host, TLS failure) or does not answer in time; the text says which,
    ///         e.g. "FB101: cannot connect to the messaging server: broker 127.0.0.1:1883 refused the
    ///         connection: not authorised (CONNACK 5)". A connection attempt that timed out is abandoned
    ///         (it cannot complete later). Also FB101 when stop() is called from another thread while it
    ///         waits. MessagingError (FB103) when called from a handler.
    void start(bool block = false);

    /// @brief Stops log forwarding, announces the component offline (options.presence), waits (at most
    /// options.stop_timeout) for pending and buffered deliveries, fails those still pending, sends a clean
    /// DISCONNECT (so the broker does not publish the will), stops reconnecting, discards inbound messages
    /// not yet handled (logged with their count) and joins the dispatcher. Interrupts a start() waiting in
    /// another thread. Safe to call twice, before start(), and from the destructor; allowed from a handler
    /// (the dispatcher thread then ends when the handler returns).
    /// @throws nothing.
    void stop() noexcept;

    /// @brief Publishes @p msg, serialised with serialize_msg(), on the component's default topic, or on
    /// `general/<client>` when @p client is given.
    /// Never waits for the network: the publication is handed to Paho, or kept in the outbox while the
    /// connection is being re-established, and the outcome arrives in the Delivery. A reserved name is a
    /// valid @p client (the reference sends add_scalar with "monitoring").
    /// @return a Delivery: failed at once when not started (before start(), after stop()), after a sticky
    ///         failure, or when the outbox is full (OutboxOverflow::drop_newest, or drop_oldest when
    ///         evicting cannot make room, see OutboxOverflow); otherwise pending until the broker
    ///         acknowledges (QoS 1/2; with end_to_end_ack: until a receiver acknowledges), also across
    ///         reconnections.
    /// @throws MessageError (FB601) when @p msg cannot be serialised or is larger than
    ///         options.max_payload_bytes; MessagingError (FB103) when @p client is not a valid topic level,
    ///         or when the outbox is full and options.outbox_overflow is OutboxOverflow::throw_error.
    Delivery send_message(const Json& msg, const std::optional<std::string>& client = std::nullopt);

    /// @brief Nodes only: sends an `error` message on general/researcher, as the reference's send_error;
    /// the payload is byte-identical to the reference's: {"command": "error", "errnum": "<text>",
    /// "node_id": ..., "extra_msg": ..., "researcher_id": ..., "protocol_version": "1"}.
    /// @return a Delivery, as send_message().
    /// @throws MessagingError (FB103) "send_error is only available to nodes" for a researcher.
    ///         MessageError (FB601) when the payload is larger than options.max_payload_bytes (a long
    ///         @p extra_msg), or when @p extra_msg, @p researcher_id or the node's id is not valid UTF-8
    ///         (serialize_msg()). MessageValidationError (FB601, see message.hpp) when the reference's
    ///         node-side outgoing validation (NodeMessages::format_outgoing_message()) refuses the message,
    ///         which only an @p errnum that is not an ErrorNumbers member (a cast integer) can cause.
    Delivery send_error(ErrorNumbers errnum, const std::string& extra_msg = "",
                        const std::string& researcher_id = "<unknown>");

    /// @brief "general/nodes" for a researcher, "general/researcher" for a node. @throws nothing.
    const std::string& default_send_topic() const noexcept;

    /// @brief The topics this component subscribes to, in subscription order. @throws nothing.
    const std::vector<std::string>& subscribed_topics() const noexcept;

    /// @brief True while connected to the broker with the subscriptions in place; false from the moment a
    /// loss is noticed until the reconnection is complete. @throws nothing.
    bool is_connected() const noexcept;

    /// @brief True when the last start() failed, or after a sticky failure: the broker refused a
    /// reconnection, another process uses this component id, or the connection was lost with
    /// reconnection disabled. Not during an ordinary reconnection. Cleared by a successful start() (after a
    /// sticky failure, call stop() then start() to try again). @throws nothing.
    bool is_failed() const noexcept;

    /// @brief The MQTT client id in use ("fbm-node-<id>" by default; empty when the broker assigns one).
    /// @throws nothing.
    const std::string& client_id() const noexcept;

    /// @brief Researchers: the ids of the nodes whose latest presence announcement is "online", sorted.
    /// Empty for a node, without options.presence, and after stop() (the next start() learns the list
    /// again from the broker's retained announcements). @throws std::bad_alloc only.
    std::vector<std::string> online_nodes() const;

    /// @brief This component's id. @throws nothing.
    const std::string& id() const noexcept;

    /// @brief This component's type. @throws nothing.
    ComponentType component_type() const noexcept;

    /// @brief A snapshot of the counters. @throws nothing.
    MessagingStats stats() const noexcept;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

/// @brief Checks that @p id can be a component id: non-empty, no '/', '+', '#' or NUL, not a reserved
/// topic name. @throws MessagingError (FB103) naming the problem.
void validate_component_id(const std::string& id);

}  // namespace fedbiomed

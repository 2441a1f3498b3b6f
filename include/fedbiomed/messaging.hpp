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

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fedbiomed/delivery.hpp"
#include "fedbiomed/errors.hpp"
#include "fedbiomed/json.hpp"
#include "fedbiomed/messaging_events.hpp"
#include "fedbiomed/messaging_options.hpp"

namespace fedbiomed {

/// @brief The message bus of one component. Non-copyable, non-movable (callbacks hold its address).
class Messaging {
public:
    /// @brief Reference-compatible constructor (Fed-BioMed 4.x `Messaging(on_message, type, id, broker,
    /// port)`): the default MessagingOptions with @p broker and @p port. No network activity.
    /// @throws MessagingError (FB103) when @p id would change the topic tree: empty, containing '/', '+',
    ///         '#', '.' (RabbitMQ turns it into '/') or a NUL, or a reserved name ("nodes", "researcher",
    ///         "monitoring", "logger"); or when
    ///         @p broker is empty or @p port is outside 1..65535.
    Messaging(MessageHandler on_message, ComponentType type, std::string id, std::string broker = "localhost",
              int port = 1883);

    /// @brief Constructor with every option. No network activity; nothing checks that the broker or the TLS
    /// files exist (start() reports those); the signing keys are loaded here.
    /// @throws MessagingError (FB103) for a hostile id (see above), or "invalid messaging options: ..."
    ///         naming the first of these problems: broker empty (and brokers empty); more than 64 brokers;
    ///         port outside 1..65535; qos not 0, 1 or 2;
    ///         connect_timeout or first_connect_deadline not positive; keepalive outside 0..65535 s;
    ///         inbound_queue_capacity, max_payload_bytes or max_json_depth 0; max_payload_bytes above
    ///         MessagingOptions::kMaxPayloadBytesLimit (64 MiB); inbound_max_bytes below max_payload_bytes;
    ///         stop_timeout negative;
    ///         reconnect.min_delay not positive or reconnect.max_delay below it; outbox_capacity or
    ///         outbox_max_bytes 0, or outbox_capacity above 1000000; takeover_threshold negative or
    ///         takeover_window not positive; session_expiry negative; with end_to_end_ack: mqtt_version not
    ///         v5, qos 0, or end_to_end_timeout or end_to_end_resend_interval not positive; error_rate or
    ///         forwarded_log_rate outside 0..1e9 or their bursts outside 1..1e9; a duration above 366 days;
    ///         presence_heartbeat not 0 and outside 10 ms..24 h; signing.max_clock_skew negative;
    ///         an entry of brokers that is not a broker address ("broker address 'x': why");
    ///         signing.require_signed or signing.trusted_keys without signing.key_file, signing.key_file with
    ///         mqtt_version v3_1_1, signing.max_age or replay_cache_capacity not positive. Also FB103
    ///         "message signing: ..." naming a key file or the trusted-key directory that cannot be used
    ///         (SigningOptions: read here, unlike the TLS files).
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

    /// @brief The broker in use, as "host:port" ("[ipv6]:port"; "ssl://" in front with TLS): the one
    /// connected to, being tried, or last tried (MessagingOptions::brokers). Any thread.
    /// @throws std::bad_alloc only.
    std::string broker() const;

    /// @brief The MQTT client id in use ("fbm-node-<id>" by default; empty when the broker assigns one).
    /// @throws nothing.
    const std::string& client_id() const noexcept;

    /// @brief Researchers: the ids of the nodes whose latest presence announcement is "online", sorted.
    /// Empty for a node, without options.presence, and after stop() (the next start() learns the list
    /// again from the broker's retained announcements). @throws std::bad_alloc only.
    std::vector<std::string> online_nodes() const;

    /// @brief The components this one sends to (nodes for a researcher, researchers for a node) that are
    /// online and announced end-to-end acknowledgement, sorted: those a message waits for with
    /// EndToEndAck::automatic (see MessagingOptions::end_to_end_ack). Known from their presence records,
    /// which the broker sends with the subscriptions: when start() returns, those already online are
    /// known. Empty without options.presence or with EndToEndAck::off. @throws std::bad_alloc only.
    std::vector<std::string> end_to_end_peers() const;

    /// @brief This component's id. @throws nothing.
    const std::string& id() const noexcept;

    /// @brief This component's type. @throws nothing.
    ComponentType component_type() const noexcept;

    /// @brief A snapshot of the counters. The connection counters (connection_attempts,
    /// connection_losses, reconnections) are updated before the connection-state event that reports the
    /// same change is queued, so a state handler that reads them sees that change counted. Any thread.
    /// @throws nothing.
    MessagingStats stats() const noexcept;

private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace fedbiomed

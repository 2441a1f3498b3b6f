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
/// - Log forwarding (nodes) runs on whatever thread logs; it never waits for the network.
/// - All public methods are thread-safe unless said otherwise.
///
/// ## Differences from the reference (Fed-BioMed 4.5), all deliberate
/// start() waits for CONNACK and SUBACKs with a deadline and throws FB101 naming the cause; a bad inbound
/// payload or a throwing handler is reported and counted instead of killing the receiver; ids that would
/// change the topic tree are refused; send_message() returns a Delivery instead of dropping silently;
/// stop() sends DISCONNECT; send_error() from a researcher is an FB103 error; MQTT 3.1.1 is requested
/// explicitly (5 on option); the default QoS is 1 (the reference uses 0: set MessagingOptions::qos = 0 to
/// match it exactly). Topics, subscriptions, payload bytes and the protocol-version rule are the
/// reference's.
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
    node = 2,        ///< publishes on general/researcher, subscribes general/nodes and general/<id>
};

/// @brief MQTT protocol version spoken to the broker (always set explicitly, see DESIGN.md).
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

/// @brief Plain configuration values of a Messaging object. Defaults suit a local Mosquitto.
struct MessagingOptions {
    std::string broker = "localhost";                ///< host name or address of the broker
    int port = 1883;                                 ///< TCP port of the broker
    std::string username;                            ///< MQTT user name; empty: anonymous
    std::string password;                            ///< MQTT password (used only with a user name)
    TlsOptions tls;                                  ///< TLS settings
    MqttVersion mqtt_version = MqttVersion::v3_1_1;  ///< protocol version
    /// MQTT client id. Empty: the broker assigns one, as the reference does.
    std::string client_id;
    /// start() gives up after this (FB101): it bounds the CONNACK and the SUBACKs together.
    std::chrono::milliseconds connect_timeout{10000};
    std::chrono::seconds keepalive{60};  ///< MQTT keepalive interval
    /// QoS of publications and subscriptions (0, 1 or 2). The reference uses 0; 1 lets a Delivery report
    /// the broker's acknowledgement.
    int qos = 1;
    /// Larger outbound messages are refused (send_message() throws MessageError FB601); larger inbound
    /// payloads are rejected without decoding (fault FB601).
    std::size_t max_payload_bytes = 16U * 1024U * 1024U;
    std::size_t max_json_depth = 512;  ///< deeper nesting in an inbound payload is rejected (FB601)
    /// Inbound messages waiting for the dispatcher; when full, the oldest waiting message is dropped,
    /// counted and reported as a fault (FB100).
    std::size_t inbound_queue_capacity = 100000;
    /// Nodes only: while started, forward the library logger's records of INFO and above to general/logger
    /// as reference `log` messages (spec section 9; see logger.hpp). At most one forwarder per process:
    /// the first node started.
    bool forward_logs = true;
    /// stop() waits at most this long for publications the broker has not acknowledged yet, then fails
    /// them.
    std::chrono::milliseconds stop_timeout{5000};
};

/// @brief Something that went wrong with inbound traffic or a callback, reported instead of thrown.
struct MessagingFault {
    /// FB601 undecodable payload, not an object, or larger than max_payload_bytes; FB104 / FB625
    /// incompatible or mistyped protocol version; FB100 inbound queue overflow (oldest messages dropped)
    /// or connection to the broker lost; FB103 an exception from the MessageHandler (or that exception's
    /// own code when it is a FedbiomedError).
    ErrorNumbers code = ErrorNumbers::FB100;
    std::string message;  ///< full text, beginning with the code's text
    std::string topic;    ///< topic the payload arrived on (empty when not about a payload)
};

/// @brief Counters since construction; they only grow.
struct MessagingStats {
    std::uint64_t received = 0;          ///< payloads that arrived from the broker
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
    /// at stop(), unencodable, or logged from inside the logging path (never forwarded: no recursion).
    std::uint64_t logs_dropped = 0;
};

/// @brief Outcome of one publication: a handle the caller may wait on.
///
/// Cheap to copy; all copies share the same state. Never blocks unless wait_for() is called. The outcome
/// is set once, by Paho's thread (broker's answer), by a lost connection, or by stop().
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

    /// @brief True once the broker accepted the message. @throws nothing.
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

/// @brief The message bus of one component. Non-copyable, non-movable (callbacks hold its address).
class Messaging {
public:
    /// @brief Reference-compatible constructor (Fed-BioMed 4.x `Messaging(on_message, type, id, broker,
    /// port)`). No network activity.
    /// @throws MessagingError (FB103) when @p id would change the topic tree: empty, containing '/', '+',
    ///         '#' or a NUL, or a reserved name ("nodes", "researcher", "monitoring", "logger").
    Messaging(MessageHandler on_message, ComponentType type, std::string id, std::string broker = "localhost",
              int port = 1883);

    /// @brief Constructor with every option. No network activity.
    /// @throws MessagingError (FB103) for a hostile id (see above) or invalid options (port, qos).
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

    /// @brief Connects, waits for the broker's answer (at most options.connect_timeout, no busy loop) and
    /// subscribes the component's topics; when it returns, the component can receive. Calling it while
    /// started does nothing; calling it after stop() connects again. A node then forwards its logs
    /// (options.forward_logs). A successful start() clears is_failed().
    /// @param block when true, then blocks the caller until stop() is called from another thread.
    /// @throws MessagingError (FB101) when the broker refuses (bad credentials, not authorised), cannot be
    ///         reached (down, unknown host, TLS failure) or does not answer in time; the text says which,
    ///         e.g. "FB101: cannot connect to the messaging server: broker 127.0.0.1:1883 refused the
    ///         connection: not authorised (CONNACK 5)". A connection attempt that timed out is abandoned
    ///         (it cannot complete later). MessagingError (FB103) when called from a handler.
    void start(bool block = false);

    /// @brief Stops log forwarding, waits (at most options.stop_timeout) for pending deliveries, fails those
    /// still pending, sends a clean DISCONNECT, discards inbound messages not yet handled (logged with
    /// their count) and joins the dispatcher. Safe to call twice, before start(), and from the destructor;
    /// allowed from a handler (the dispatcher thread then ends when the handler returns).
    /// @throws nothing.
    void stop() noexcept;

    /// @brief Publishes @p msg, serialised with serialize_msg(), on the component's default topic, or on
    /// `general/<client>` when @p client is given.
    /// Never waits for the network: the publication is handed to Paho and the outcome arrives in the
    /// Delivery. A reserved name is a valid @p client (the reference sends add_scalar with "monitoring").
    /// @return a Delivery: failed at once when not connected, pending until the broker acknowledges.
    /// @throws MessageError (FB601) when @p msg cannot be serialised or is larger than
    ///         options.max_payload_bytes; MessagingError (FB103) when @p client is not a valid topic level.
    Delivery send_message(const Json& msg, const std::optional<std::string>& client = std::nullopt);

    /// @brief Nodes only: sends an `error` message on general/researcher, as the reference's send_error;
    /// the payload is byte-identical to the reference's: {"command": "error", "errnum": "<text>",
    /// "node_id": ..., "extra_msg": ..., "researcher_id": ..., "protocol_version": "1"}.
    /// @return a Delivery, as send_message().
    /// @throws MessagingError (FB103) "send_error is only available to nodes" for a researcher.
    Delivery send_error(ErrorNumbers errnum, const std::string& extra_msg = "",
                        const std::string& researcher_id = "<unknown>");

    /// @brief "general/nodes" for a researcher, "general/researcher" for a node. @throws nothing.
    const std::string& default_send_topic() const noexcept;

    /// @brief The topics this component subscribes to, in subscription order. @throws nothing.
    const std::vector<std::string>& subscribed_topics() const noexcept;

    /// @brief True while connected to the broker. @throws nothing.
    bool is_connected() const noexcept;

    /// @brief True when the last start() failed or the connection was lost since (there is no automatic
    /// reconnection yet); cleared by a successful start(). @throws nothing.
    bool is_failed() const noexcept;

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

/// @file messaging.hpp
/// @brief The message bus of one Fed-BioMed component (a researcher or a node) over an MQTT broker.
///
/// ## Threading contract
/// - **Paho's network thread** runs the library's own MQTT callbacks. They only copy inbound payloads into
///   a bounded queue and update state; no user code ever runs there.
/// - **The dispatcher thread**, one per Messaging object, decodes each payload, checks its protocol
///   version and calls the MessageHandler, then the FaultHandler for anything that went wrong. User
///   callbacks may call every method of Messaging (send_message() included) except stop() and start(),
///   may block (inbound messages then wait in the queue) and may throw (reported as a fault, the next
///   message is delivered as usual).
/// - All public methods are thread-safe unless said otherwise.
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
    bool enabled = false;         ///< connect with TLS
    std::string ca_file;          ///< PEM file of trusted CAs; empty: the system's default store
    std::string cert_file;        ///< client certificate (PEM) for mutual TLS; empty: none
    std::string key_file;         ///< client private key (PEM); empty: none
    std::string key_password;     ///< password of @ref key_file, if encrypted
    bool verify_server = true;    ///< verify the broker's certificate and host name
};

/// @brief Plain configuration values of a Messaging object. Defaults suit a local Mosquitto.
struct MessagingOptions {
    std::string broker = "localhost";  ///< host name or address of the broker
    int port = 1883;                   ///< TCP port of the broker
    std::string username;              ///< MQTT user name; empty: anonymous
    std::string password;              ///< MQTT password (used only with a user name)
    TlsOptions tls;                    ///< TLS settings
    MqttVersion mqtt_version = MqttVersion::v3_1_1;  ///< protocol version
    /// MQTT client id. Empty: the broker assigns one, as the reference does.
    std::string client_id;
    std::chrono::milliseconds connect_timeout{10000};  ///< start() gives up after this (FB101)
    std::chrono::seconds keepalive{60};                ///< MQTT keepalive interval
    int qos = 1;                       ///< QoS of publications and subscriptions (0, 1 or 2)
    std::size_t max_payload_bytes = 16U * 1024U * 1024U;  ///< larger payloads are refused/rejected
    std::size_t max_json_depth = 512;  ///< deeper nesting in an inbound payload is rejected (FB601)
    /// Inbound messages waiting for the dispatcher; when full, the oldest waiting message is dropped,
    /// counted and reported as a fault (FB100).
    std::size_t inbound_queue_capacity = 100000;
    /// Nodes only: forward library log records of INFO and above to general/logger once connected.
    bool forward_logs = true;
    std::chrono::milliseconds stop_timeout{5000};  ///< stop() waits this long for pending deliveries
};

/// @brief Something that went wrong with inbound traffic or a callback, reported instead of thrown.
struct MessagingFault {
    /// FB601 undecodable payload or not an object, FB104 / FB625 incompatible or mistyped protocol
    /// version, FB100 inbound queue overflow, FB103 an exception from the MessageHandler (or that
    /// exception's own code when it is a FedbiomedError).
    ErrorNumbers code = ErrorNumbers::FB100;
    std::string message;  ///< full text, beginning with the code's text
    std::string topic;    ///< topic the payload arrived on (empty when not about a payload)
};

/// @brief Counters since construction; they only grow.
struct MessagingStats {
    std::uint64_t received = 0;          ///< payloads that arrived from the broker
    std::uint64_t handled = 0;           ///< messages handed to the MessageHandler
    std::uint64_t decode_errors = 0;     ///< payloads that were not a JSON object (FB601)
    std::uint64_t version_errors = 0;    ///< messages refused for their protocol version (FB104/FB625)
    std::uint64_t version_warnings = 0;  ///< messages accepted with a version warning
    std::uint64_t handler_errors = 0;    ///< exceptions thrown by the MessageHandler
    std::uint64_t inbound_dropped = 0;   ///< messages dropped because the inbound queue was full
    std::uint64_t published = 0;         ///< publications the broker acknowledged (or sent, at QoS 0)
    std::uint64_t publish_failures = 0;  ///< publications that failed
    std::uint64_t logs_forwarded = 0;    ///< log records published on general/logger
    std::uint64_t logs_dropped = 0;      ///< log records that could not be forwarded
};

/// @brief Outcome of one publication: a handle the caller may wait on.
///
/// Cheap to copy; all copies share the same state. Never blocks unless wait_for() is called.
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
/// protocol_version passed). May call send_message(), block or throw.
using MessageHandler = std::function<void(const Json& msg, const std::string& topic)>;

/// @brief Called on the dispatcher thread for every fault (see MessagingFault). Must not call stop().
/// An exception thrown here is caught and logged.
using FaultHandler = std::function<void(const MessagingFault& fault)>;

/// @brief The message bus of one component. Non-copyable, non-movable (callbacks hold its address).
class Messaging {
public:
    /// @brief Reference-compatible constructor (Fed-BioMed 4.x `Messaging(on_message, type, id, broker, port)`).
    /// No network activity.
    /// @throws MessagingError (FB103) when @p id would change the topic tree: empty, containing '/', '+',
    ///         '#' or a NUL, or a reserved name ("nodes", "researcher", "monitoring", "logger").
    Messaging(MessageHandler on_message, ComponentType type, std::string id,
              std::string broker = "localhost", int port = 1883);

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
    /// subscribes the component's topics. Calling it while started does nothing.
    /// @param block when true, then blocks the caller until stop() is called from another thread.
    /// @throws MessagingError (FB101) when the broker refuses (bad credentials, not authorised), cannot be
    ///         reached (down, unknown host) or does not answer in time; the text says which.
    void start(bool block = false);

    /// @brief Sends a clean DISCONNECT after waiting (at most options.stop_timeout) for pending
    /// deliveries, fails those still pending, and joins the dispatcher. Safe to call twice.
    /// @warning Must not be called from a MessageHandler or FaultHandler (it joins their thread).
    /// @throws nothing.
    void stop() noexcept;

    /// @brief Publishes @p msg, serialised with serialize_msg(), on the component's default topic, or on
    /// `general/<client>` when @p client is given.
    /// @return a Delivery: failed at once when not connected, pending until the broker acknowledges.
    /// @throws MessageError (FB601) when @p msg cannot be serialised or is larger than
    ///         options.max_payload_bytes; MessagingError (FB103) when @p client is not a valid topic level.
    Delivery send_message(const Json& msg, const std::optional<std::string>& client = std::nullopt);

    /// @brief Nodes only: sends an `error` message (errnum, node_id, extra_msg, researcher_id) on
    /// general/researcher, as the reference's send_error.
    /// @throws MessagingError (FB103) when this component is not a node.
    Delivery send_error(ErrorNumbers errnum, const std::string& extra_msg = "",
                        const std::string& researcher_id = "<unknown>");

    /// @brief "general/nodes" for a researcher, "general/researcher" for a node. @throws nothing.
    const std::string& default_send_topic() const noexcept;

    /// @brief The topics this component subscribes to, in subscription order. @throws nothing.
    const std::vector<std::string>& subscribed_topics() const noexcept;

    /// @brief True while connected to the broker. @throws nothing.
    bool is_connected() const noexcept;

    /// @brief True once the connection was lost unexpectedly or refused. @throws nothing.
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

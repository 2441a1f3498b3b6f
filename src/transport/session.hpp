// What the rest of the library knows of a connection to the broker: plain values in, plain values out.
// The one implementation, PahoSession (paho_session.hpp), is the only code that sees Paho's types; the parts
// above (publisher, inbound pipeline, connection supervisor) see this interface only.
//
// A session serves one connection: the connection supervisor makes a new one for every attempt and
// destroys it when the connection is lost or stopped (paho_session.hpp says why).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker_address.hpp"
#include "end_to_end.hpp"
#include "fedbiomed/errors.hpp"
#include "signature_tag.hpp"

namespace fedbiomed::detail {

class ReceiveThreadDoorbell;  // receive_thread_doorbell.hpp

/// Text shared between the outbox and the client without copying (topics, payloads).
using SharedText = std::shared_ptr<const std::string>;

/// One publication handed to the session.
struct Publication {
    std::uint64_t id = 0;  ///< the outbox's id: completions name it
    SharedText topic;
    SharedText payload;
    int qos = 1;
    bool retained = false;
    std::optional<EndToEndTag> tag;         ///< written as MQTT 5 user properties (end_to_end.hpp)
    std::optional<SignatureTag> signature;  ///< written as MQTT 5 user properties (signature_tag.hpp)
};

/// What Session::publish() did with a publication.
enum class SendStatus : std::uint8_t {
    handed_over,    ///< the client has it; its completion will come through the callbacks
    not_connected,  ///< the client is not connected (any more): the publication waits for the next one
    refused,        ///< the client refused it for another reason (see SendResult::error)
};

struct SendResult {
    SendStatus status = SendStatus::handed_over;
    std::string error;  ///< refused: the client's words
};

/// Why a publication handed over did not complete.
struct PublishFailure {
    /// MQTT 5 PUBACK reason code 0x80..0xA2 when the broker refused it for good; -1 otherwise.
    int refusal_reason = -1;
    /// True when the connection was gone (lost, or the client destroyed) before it completed: it may be
    /// sent again on the next connection.
    bool connection_gone = false;
    std::string client_error;  ///< otherwise: the client's error ("MQTT client error -1: ...")
};

/// A message the broker delivered. The references are valid during the callback only.
struct ReceivedMessage {
    const std::string& topic;
    const std::string& payload;
    bool retained = false;
    std::optional<EndToEndTag> tag;  ///< read from the MQTT 5 user properties (MQTT 5 only)
    int qos = 0;                     ///< the QoS it was delivered with (1/2: the broker keeps what follows)
    std::optional<SignatureTag> signature;  ///< read from the MQTT 5 user properties (MQTT 5 only)
};

/// Called on the client's threads. They must not block (except on_message, which may hold the receive
/// thread through ClientThreadHold), must not throw (they are wrapped anyway) and must not call back into
/// the session.
struct SessionCallbacks {
    std::function<void(const ReceivedMessage& message)> on_message;
    std::function<void(const std::string& cause)> on_connection_lost;
    /// MQTT 5: the broker sent DISCONNECT with this reason code (0x8E: session taken over).
    std::function<void(int reason_code)> on_disconnect_packet;
    /// Publication @p id completed: acknowledged by the broker (QoS 1/2) or written (QoS 0).
    std::function<void(std::uint64_t id)> on_published;
    std::function<void(std::uint64_t id, const PublishFailure& failure)> on_publish_failed;
};

/// What a session needs beyond the options: decided by the Messaging object.
struct SessionSettings {
    BrokerAddress broker;        ///< where this session connects
    std::string client_id;       ///< empty: assigned by the broker
    bool clean_session = false;  ///< false: persistent session (clean start off + expiry in MQTT 5)
    struct Will {
        std::string topic;
        std::string payload;
        std::optional<SignatureTag> signature;  ///< MQTT 5: the will's user properties
    };
    std::optional<Will> will;  ///< published retained by the broker if the connection dies
    /// The protocol of this connection: v3_1_1 or v5 (the connection supervisor resolves automatic).
    MqttVersion mqtt_version = MqttVersion::v5;
    /// The process's doorbell for Paho's receive thread (receive_thread_doorbell.hpp): rung while the
    /// connection is being made, so that it does not wait for the thread's next pass. May be null.
    std::shared_ptr<ReceiveThreadDoorbell> doorbell;
};

/// The broker refused the connection with a CONNACK code (@ref code): bad credentials, not authorised,
/// banned...; or one of its subscriptions with a SUBACK failure code (an ACL). Retrying does not help,
/// unless the code says the server is unavailable or busy.
class ConnectRefused : public MessagingError {
public:
    ConnectRefused(int code, const std::string& detail)
        : MessagingError(ErrorNumbers::FB101, detail), code_(code) {}
    int code() const noexcept { return code_; }
    /// True for refusals worth retrying later (server unavailable or busy, rate or quota exceeded...).
    bool transient() const noexcept;

private:
    int code_;
};

/// The broker accepted the TCP connection, received our CONNECT and closed the connection without a
/// CONNACK: what a broker that does not speak the requested protocol version does (RabbitMQ 3.10 with
/// MQTT 5). Retried like any other transport failure.
class ClosedBeforeConnack : public MessagingError {
public:
    explicit ClosedBeforeConnack(const std::string& detail) : MessagingError(ErrorNumbers::FB101, detail) {}
};

/// Paho failed the connection attempt with "socket error" before any CONNACK. Seen when the number of the
/// attempt's new socket had just been freed by another connection's failure: Paho C 1.3.12's receive thread
/// handles a failed read on a connection that is still handshaking twice (MQTTAsync_cycle() fails the
/// connection and closes its socket, then MQTTAsync_receiveThread() looks the socket's number up again and
/// fails whatever client holds it now). The attempt tells nothing about the broker: the caller makes it
/// again once, at once. The one genuine failure in those words, a CONNECT only partly written whose rest
/// cannot be sent (Socket_continueWrites()), then costs one more try.
class SocketNumberMixUp : public MessagingError {
public:
    explicit SocketNumberMixUp(const std::string& detail) : MessagingError(ErrorNumbers::FB101, detail) {}
};

class Session {
public:
    using Clock = std::chrono::steady_clock;

    Session() = default;
    /// Destroys the client; a connection attempt still in progress is abandoned; no callback runs after.
    virtual ~Session() = default;
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    /// Connects and waits for the CONNACK until @p deadline or interrupt() (no busy loop).
    /// @throws ConnectRefused when the broker answered with a refusal; ClosedBeforeConnack when it hung up
    ///         on the CONNECT; SocketNumberMixUp when Paho failed the attempt for another connection's
    ///         socket; MessagingError (FB101) saying why otherwise: unreachable, unknown host, TLS failure,
    ///         timeout, or interrupted.
    virtual void connect(Clock::time_point deadline) = 0;

    /// Subscribes every topic at @p qos and waits for each SUBACK until @p deadline or interrupt().
    /// @throws ConnectRefused when the broker refused a subscription (SUBACK failure code); MessagingError
    ///         (FB101) when one is not acknowledged in time or the broker closed the connection meanwhile.
    virtual void subscribe(const std::vector<std::string>& topics, int qos, Clock::time_point deadline) = 0;

    /// Makes a wait in connect() or subscribe() return at once (they then throw). Thread-safe, never
    /// throws; the session cannot connect any more afterwards.
    virtual void interrupt() noexcept = 0;

    /// Hands one publication to the client without waiting. Never throws except std::bad_alloc.
    virtual SendResult publish(const Publication& publication) = 0;

    /// Sends DISCONNECT and waits at most @p timeout for it to complete. Never throws.
    virtual bool disconnect(std::chrono::milliseconds timeout) noexcept = 0;

    /// True while the client is connected. Never throws.
    virtual bool connected() const noexcept = 0;

    /// The distinct topics (at most @p limit, oldest publication first) of the publications handed to the
    /// client that did not complete, or that the connection's end interrupted. Read after the connection
    /// was lost, to name what the broker may have objected to: RabbitMQ closes the connection of a
    /// publication its ACL forbids. Never throws (empty when out of memory).
    virtual std::vector<std::string> unacknowledged_topics(std::size_t limit) const noexcept = 0;

    /// The CONNACK's "session present" flag: the broker resumed a session it held for this client id
    /// (always false for a clean session). Valid after connect(). Never throws.
    virtual bool session_present() const noexcept = 0;

    /// How many QoS 1/2 publications the broker accepts in flight (MQTT 5 CONNACK "receive maximum";
    /// 65535 otherwise). Valid after connect().
    virtual std::size_t receive_maximum() const noexcept = 0;

    /// True for an MQTT 5 connection (it carries end-to-end ids in user properties).
    virtual bool mqtt5() const noexcept = 0;

    /// "host:port" as shown in error messages.
    virtual const std::string& endpoint() const noexcept = 0;
};

}  // namespace fedbiomed::detail

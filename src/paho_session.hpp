// One connection to the broker through Paho's async_client: connect with a deadline, subscribe, publish,
// disconnect. A session serves one connection: the supervisor (messaging.cpp) makes a new one for every
// connection attempt and destroys it when the connection is lost or stopped. Destroying the client is the
// only sure way to cancel an attempt still running in Paho's threads, and it leaves nothing in flight inside
// Paho to be re-sent behind the Outbox's back (the Outbox re-sends what was not acknowledged). Reusing one
// client across reconnections, as Paho's own automatic reconnect does, was tried and rejected: Paho
// C 1.3.12's re-send of its in-flight publications after a reconnection races with their release between its
// two threads (a use-after-free seen by AddressSanitizer when the broker is killed mid-stream).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <mqtt/async_client.h>

#include "fedbiomed/messaging.hpp"

namespace fedbiomed::detail {

/// The broker refused the connection with a CONNACK code (@ref code): bad credentials, not authorised,
/// banned... Retrying does not help, unless the code says the server is unavailable or busy.
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

/// What a session needs beyond the options: decided by the Messaging object.
struct SessionSettings {
    std::string client_id;       ///< empty: assigned by the broker
    bool clean_session = false;  ///< false: persistent session (clean start off + expiry in MQTT 5)
    struct Will {
        std::string topic;
        std::string payload;
    };
    std::optional<Will> will;  ///< published retained by the broker if the connection dies
};

class PahoSession {
public:
    using Clock = std::chrono::steady_clock;

    /// Called on a Paho thread; must not block, must not throw (they are wrapped anyway).
    struct Callbacks {
        std::function<void(const mqtt::const_message_ptr& message)> on_message;
        std::function<void(const std::string& cause)> on_connection_lost;
        /// MQTT 5: the broker sent DISCONNECT with this reason code (0x8E: session taken over).
        std::function<void(int reason_code)> on_disconnect_packet;
    };

    /// Creates the client (no network activity). The callbacks are registered here, before any connect,
    /// and never changed. @throws MessagingError (FB101) when the broker address is not usable.
    PahoSession(const MessagingOptions& options, const SessionSettings& settings, Callbacks callbacks);

    /// Destroys the client; a connection attempt still in progress is abandoned. Never throws.
    ~PahoSession();

    PahoSession(const PahoSession&) = delete;
    PahoSession& operator=(const PahoSession&) = delete;

    /// Connects and waits for the CONNACK until @p deadline or interrupt() (no busy loop).
    /// @throws ConnectRefused when the broker answered with a refusal; MessagingError (FB101) saying why
    ///         otherwise: unreachable, unknown host, TLS failure, timeout, or interrupted.
    void connect(Clock::time_point deadline);

    /// Subscribes every topic at @p qos and waits for each SUBACK until @p deadline or interrupt().
    /// @throws MessagingError (FB101) when a subscription is refused or not acknowledged in time.
    void subscribe(const std::vector<std::string>& topics, int qos, Clock::time_point deadline);

    /// Makes a wait in connect() or subscribe() return at once (they then throw). Thread-safe, never
    /// throws; the session cannot connect any more afterwards.
    void interrupt() noexcept;

    /// Hands one publication to Paho without waiting; completion arrives through @p listener with
    /// @p context. Without @p properties Paho copies @p payload into a message object it creates and
    /// releases itself (a message object created here would have its last reference dropped inside
    /// libpaho-mqttpp3 on Paho's thread, a hand-over ThreadSanitizer cannot see); with MQTT 5 properties a
    /// message object is needed. @return Paho's token (the caller keeps it until completion).
    /// @throws mqtt::exception when Paho refuses it at once (not connected...).
    mqtt::delivery_token_ptr publish(mqtt::string_ref topic, const std::string& payload, int qos,
                                     bool retained, void* context, mqtt::iaction_listener& listener,
                                     const mqtt::properties* properties = nullptr);

    /// Sends DISCONNECT and waits at most @p timeout for it to complete. Never throws.
    /// @return true when the disconnect completed cleanly.
    bool disconnect(std::chrono::milliseconds timeout) noexcept;

    /// True while Paho's client is connected. Never throws.
    bool connected() const noexcept;

    /// How many QoS 1/2 publications the broker accepts in flight (MQTT 5 CONNACK "receive maximum";
    /// 65535 otherwise). Valid after connect(). Paho C 1.3 holds the excess back and then sends only about
    /// a window per second (it waits for its own timer, not for the acknowledgements), so callers keep
    /// at most this many in flight themselves.
    std::size_t receive_maximum() const noexcept { return receive_maximum_; }

    /// "host:port" as shown in error messages.
    const std::string& endpoint() const noexcept { return endpoint_; }

    /// The URI a session made with @p options uses.
    static std::string make_uri(const MessagingOptions& options);

private:
    // Wakes connect()/subscribe() when one of their tokens completes.
    class Waiter final : public mqtt::iaction_listener {
    public:
        explicit Waiter(PahoSession& owner) : owner_(owner) {}
        void on_success(const mqtt::token& token) override { completed(token); }
        void on_failure(const mqtt::token& token) override { completed(token); }

    private:
        void completed(const mqtt::token& token) noexcept;
        PahoSession& owner_;
    };

    // Waits until @p token completes, @p deadline passes or interrupt(); true when it completed.
    bool wait(const mqtt::token_ptr& token, Clock::time_point deadline);

    [[noreturn]] void throw_connect_failure(const std::string& detail) const;
    std::string describe_transport_failure(const std::string& paho_text, Clock::time_point deadline) const;

    const MessagingOptions& options_;
    std::string endpoint_;
    std::string uri_;
    // Kept for the client's lifetime, as Paho keeps pointers into them.
    mqtt::connect_options connect_options_;
    Waiter waiter_{*this};
    std::mutex wait_mutex_;
    std::condition_variable wait_cv_;
    std::atomic<bool> interrupted_{false};
    std::size_t receive_maximum_ = 65535;
    std::vector<const mqtt::token*> completed_;  // tokens the Waiter saw complete (guarded by wait_mutex_)
    std::unique_ptr<mqtt::async_client> client_;
    // Tokens of connect / subscribe / disconnect, dropped only after the client is destroyed: their
    // reference counts also change inside libpaho-mqttpp3, invisible to ThreadSanitizer, and dropping
    // them while Paho's threads may still hold them would look like a race.
    std::vector<mqtt::token_ptr> kept_tokens_;
};

/// Text for an MQTT 3.1.1 CONNACK return code or an MQTT 5 CONNACK reason code ("not authorised").
std::string connack_text(int code);

}  // namespace fedbiomed::detail

// One connection to the broker through Paho's async_client: connect with a deadline, subscribe, publish,
// disconnect. A session is used once: start() creates one, stop() (or a failed start) destroys it, which is
// the only sure way to cancel a connection attempt that is still running in Paho's threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <mqtt/async_client.h>

#include "delivery.hpp"
#include "fedbiomed/messaging.hpp"

namespace fedbiomed::detail {

class PahoSession {
public:
    using Clock = std::chrono::steady_clock;

    /// Called on a Paho thread; must not block, must not throw (they are wrapped anyway).
    struct Callbacks {
        std::function<void(mqtt::const_message_ptr message)> on_message;
        std::function<void(const std::string& cause)> on_connection_lost;
    };

    /// Creates the client (no network activity). The callbacks are registered here, before any connect,
    /// and never changed. @throws MessagingError (FB101) when the broker address is not usable.
    PahoSession(const MessagingOptions& options, Callbacks callbacks, PendingPublications& pending);

    /// Destroys the client; a connection attempt still in progress is abandoned. Never throws.
    ~PahoSession();

    PahoSession(const PahoSession&) = delete;
    PahoSession& operator=(const PahoSession&) = delete;

    /// Connects and waits for the CONNACK until @p deadline (no busy loop).
    /// @throws MessagingError (FB101) saying why: refused (with the CONNACK code), unreachable, unknown
    ///         host, TLS failure, or timeout.
    void connect(Clock::time_point deadline);

    /// Subscribes every topic at @p qos and waits for each SUBACK until @p deadline.
    /// @throws MessagingError (FB101) when a subscription is refused or not acknowledged in time.
    void subscribe(const std::vector<std::string>& topics, int qos, Clock::time_point deadline);

    /// Hands one publication to Paho without waiting; completion arrives through @p pending (the action
    /// listener) with @p context, which also keeps Paho's token (see PendingPublications::attach()).
    /// Paho copies @p payload into a message object it creates and releases itself: a message object
    /// created here would have its last reference dropped inside libpaho-mqttpp3 on Paho's thread, a
    /// hand-over ThreadSanitizer cannot see (one memcpy of the payload is the price).
    /// @throws mqtt::exception when Paho refuses it at once (not connected...).
    void publish(mqtt::string_ref topic, const std::string& payload, int qos, void* context);

    /// Sends DISCONNECT and waits at most @p timeout for it to complete. Never throws.
    /// @return true when the disconnect completed cleanly.
    bool disconnect(std::chrono::milliseconds timeout) noexcept;

    /// True while Paho's client is connected. Never throws.
    bool connected() const noexcept;

    /// "host:port" as shown in error messages.
    const std::string& endpoint() const noexcept { return endpoint_; }

    /// The URI given to Paho (tcp://host:port or ssl://host:port).
    const std::string& uri() const noexcept { return uri_; }

private:
    [[noreturn]] void throw_connect_failure(const std::string& detail) const;
    std::string describe_transport_failure(const std::string& paho_text, Clock::time_point deadline) const;

    const MessagingOptions& options_;
    PendingPublications& pending_;
    std::string endpoint_;
    std::string uri_;
    // Kept for the client's lifetime, as Paho keeps pointers into them.
    mqtt::connect_options connect_options_;
    std::unique_ptr<mqtt::async_client> client_;
    // Tokens of connect / subscribe / disconnect, dropped only after the client is destroyed: their
    // reference counts also change inside libpaho-mqttpp3, invisible to ThreadSanitizer, and dropping
    // them while Paho's threads may still hold them would look like a race.
    std::vector<mqtt::token_ptr> kept_tokens_;
};

/// Text for an MQTT 3.1.1 CONNACK return code or an MQTT 5 CONNACK reason code ("not authorised").
std::string connack_text(int code);

}  // namespace fedbiomed::detail

// The shared state behind a Delivery handle, and the registry of publications Paho has not finished yet.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <mqtt/delivery_token.h>
#include <mqtt/iaction_listener.h>

#include "counters.hpp"
#include "fedbiomed/messaging.hpp"

namespace fedbiomed {

/// One publication's outcome. Completed once (the first completion wins), by a Paho thread or by stop().
struct Delivery::Shared {
    mutable std::mutex mutex;
    mutable std::condition_variable done;
    State state = State::pending;
    std::string error;

    /// Records the outcome and wakes the waiters; later calls are ignored. Never blocks for long.
    void complete(State outcome, std::string why = {}) noexcept;
};

namespace detail {

/// A failed Delivery with @p error as its reason.
Delivery failed_delivery(std::string error);

/// Publications handed to Paho and not finished yet, keyed by an id that travels as Paho's user context.
///
/// It is also the action listener of every publication: Paho calls on_success/on_failure on its own
/// threads; they only look the id up, complete the Delivery and count. Ids are never reused, so a late
/// callback for a publication that stop() already failed finds nothing and does nothing.
class PendingPublications final : public mqtt::iaction_listener {
public:
    enum class Kind : std::uint8_t {
        message,  ///< counted in published / publish_failures
        log,      ///< a forwarded log record: counted in logs_forwarded / logs_dropped
    };

    explicit PendingPublications(Counters& counters) : counters_(counters) {}

    /// Registers a publication; the returned pointer is the user context to give Paho.
    void* add(std::shared_ptr<Delivery::Shared> shared, Kind kind);

    /// The publication of @p context could not even be handed to Paho: fail it with @p error.
    void cancel(void* context, const std::string& error) noexcept;

    /// Keeps Paho's token of the publication of @p context until Paho completes it.
    ///
    /// Why: the token's reference count is also changed inside libpaho-mqttpp3, which ThreadSanitizer
    /// cannot see. Dropping our reference on the caller's thread would look like a race with Paho freeing
    /// the token on its thread. So our reference is dropped on Paho's thread, in the completion callback;
    /// if the publication already completed, the token waits in a list emptied by the next completion or
    /// by release_tokens().
    void attach(void* context, mqtt::delivery_token_ptr token);

    /// Drops the tokens still kept. Call only once the client is destroyed (no Paho callback can run).
    void release_tokens() noexcept;

    /// Fails every pending publication with @p error; returns how many there were.
    std::size_t fail_all(const std::string& error) noexcept;

    /// Waits until nothing is pending or @p timeout passes; true when nothing is pending.
    bool wait_empty(std::chrono::milliseconds timeout) const;

    /// Number of pending publications.
    std::size_t size() const;

    void on_success(const mqtt::token& token) override;
    void on_failure(const mqtt::token& token) override;

private:
    struct Entry {
        std::shared_ptr<Delivery::Shared> shared;  // null for log records
        Kind kind = Kind::message;
        mqtt::delivery_token_ptr token;  // Paho's token, once attach() ran
    };

    void finish(std::uint64_t id, bool ok, const std::string& error, bool on_paho_thread) noexcept;
    void finish_entry(Entry& entry, bool ok, const std::string& error) noexcept;

    Counters& counters_;
    mutable std::mutex mutex_;
    mutable std::condition_variable empty_;
    std::unordered_map<std::uint64_t, Entry> entries_;
    std::vector<mqtt::delivery_token_ptr> spare_tokens_;  // see attach()
    std::uint64_t next_id_ = 1;
};

}  // namespace detail
}  // namespace fedbiomed

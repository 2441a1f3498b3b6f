// Every publication the library still owes: handed to the client and not acknowledged yet, or waiting for
// a connection. It survives reconnections (a new client is made for every connection; what the old one had
// in flight is handed to the new one), is bounded (count and bytes, with an overflow policy), completes each
// Delivery once, and is the action listener Paho calls on its threads for every publication.
//
// Locking: one mutex, never held while calling Paho (Paho calls the listener with its own mutex held).
// The caller serialises the hand-over to Paho (take() then attach()) with its own "send" mutex so that
// messages leave in the order they were added.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <mqtt/delivery_token.h>
#include <mqtt/iaction_listener.h>
#include <mqtt/types.h>

#include "counters.hpp"
#include "delivery.hpp"
#include "fedbiomed/messaging.hpp"

namespace fedbiomed::detail {

class Outbox final : public mqtt::iaction_listener {
public:
    using Clock = std::chrono::steady_clock;

    enum class Kind : std::uint8_t {
        message,  ///< send_message / send_error: kept until acknowledged, across reconnections
        log,      ///< a forwarded log record: never buffered while disconnected, dropped at a loss
        control,  ///< presence and acknowledgements: not counted, not bounded, dropped at a loss
    };

    struct Limits {
        std::size_t capacity = 100000;
        std::size_t max_bytes = std::size_t{256} * 1024U * 1024U;
        OutboxOverflow overflow = OutboxOverflow::drop_newest;
    };

    /// What add() did.
    struct Added {
        bool accepted = false;    ///< the publication is now in the outbox
        bool rejected = false;    ///< refused for lack of room (throw_error / drop_newest policy)
        bool closed = false;      ///< refused because the outbox is closed (its Delivery failed)
        std::size_t evicted = 0;  ///< older messages failed to make room (drop_oldest policy)
        Delivery delivery{std::shared_ptr<Delivery::Shared>()};  ///< messages: accepted or failed
    };

    /// One publication to hand to the client, taken by take().
    struct Ready {
        std::uint64_t id = 0;
        mqtt::string_ref topic;
        std::shared_ptr<const std::string> payload;
        int qos = 1;
        bool retained = false;
        bool end_to_end = false;  ///< carries an end-to-end id (see end_to_end.hpp)
    };

    /// @p on_requeue is called (outside the lock, possibly on a Paho thread; must not block) when a
    /// publication failed transiently while connected and waits to be handed over again.
    ///
    /// @p on_control_refused is called (outside the lock, on a Paho thread; must not block) when the broker
    /// refuses a control publication (presence, acknowledgements) with an MQTT 5 reason code: nobody
    /// waits on those, so this is how a denial gets reported.
    using ControlRefused = std::function<void(const std::string& topic, int reason_code)>;
    Outbox(Limits limits, Counters& counters, std::function<void()> on_requeue,
           ControlRefused on_control_refused = {});

    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    /// Adds a publication (waiting to be taken). @p connected says whether a log or control publication
    /// may wait at all (otherwise it is dropped and counted at once). For a message, @p waiter is the
    /// Delivery state to complete; for a control publication it may be null or a state to wait on.
    Added add(Kind kind, mqtt::string_ref topic, std::string&& payload, int qos, bool retained,
              bool end_to_end, bool connected);

    /// A control publication whose completion the caller will wait for (presence at stop()).
    Delivery add_control_waited(mqtt::string_ref topic, std::string&& payload, int qos, bool retained);

    /// How much may be handed to the client and not completed yet, on the current connection. Paho C 1.3
    /// finishes a partial socket write only when data arrives or its receive thread's 1 s poll times out,
    /// and every command queued in it makes its lists longer: what is in flight must stay small
    /// (docs/performance.md).
    struct Window {
        std::size_t acknowledged = 16;    ///< QoS 1/2 publications not acknowledged (receive maximum)
        std::size_t unacknowledged = 64;  ///< QoS 0 publications not written to the socket yet
        std::size_t bytes = 1U << 20U;    ///< payload bytes in flight (one publication always may go)
    };

    /// Takes up to @p max publications waiting to be handed over, oldest first, and marks them in flight;
    /// stops at the first one the window (see set_window()) has no room for, so that order is kept.
    std::vector<Ready> take(std::size_t max);

    /// Sets the window of the current connection. When completions make room while publications wait,
    /// on_requeue is called so that someone takes them: once half the room is free, so that a saturated
    /// stream does not cost a thread wake-up per message.
    void set_window(Window window);

    /// A connection was (re)established: receivers get resend_after from now before silence counts as a
    /// stall (see sweep_end_to_end()); they have just reconnected too, typically.
    void connected();

    /// Keeps Paho's token of publication @p id until Paho completes it. Why: the token's reference count is
    /// also changed inside libpaho-mqttpp3, which ThreadSanitizer cannot see; dropping our reference on the
    /// caller's thread would look like a race with Paho freeing the token on its thread. So our reference
    /// is dropped on Paho's thread, in the completion callback; a token whose publication already
    /// completed waits in a list emptied by the next completion or by release_tokens().
    void attach(std::uint64_t id, mqtt::delivery_token_ptr token);

    /// The client refused publication @p id at once: wait for the next connection (@p transient) or fail.
    void refused(std::uint64_t id, bool transient, const std::string& error);

    /// The connection was lost: messages in flight wait for the next one (they are sent again then), logs
    /// and control publications in flight are dropped. Call before the old client is destroyed.
    void connection_lost();

    /// End-to-end acknowledgement of publication @p id: completes its Delivery. Thread-safe (Paho thread).
    void end_to_end_acknowledged(std::uint64_t id);

    /// End-to-end bookkeeping at @p now: a message the broker acknowledged @p resend_after ago without a
    /// receiver's acknowledgement is sent again when a later message was acknowledged (it was lost) or
    /// when no acknowledgement came at all for @p resend_after; messages older than @p timeout fail (FB102).
    struct Sweep {
        std::size_t resend = 0;
        std::size_t timed_out = 0;
    };
    Sweep sweep_end_to_end(Clock::time_point now, std::chrono::milliseconds resend_after,
                           std::chrono::milliseconds timeout);

    /// Fails every publication with @p error; @return the number of messages among them.
    std::size_t fail_all(const std::string& error);

    /// Fails every publication with @p error and refuses every later add() with it (the same error) until
    /// open(): a publication racing with stop() or a sticky failure fails at once instead of waiting for a
    /// next start(). @return the number of messages failed.
    std::size_t close(const std::string& error);

    /// Accepts publications again (start()).
    void open();

    /// Waits until nothing is owed any more or @p timeout passes; true when nothing is owed.
    bool wait_empty(std::chrono::milliseconds timeout) const;

    /// Publications owed (all kinds).
    std::size_t size() const;

    /// Drops the tokens still kept. Call only once the client is destroyed (no Paho callback can run).
    void release_tokens() noexcept;

    void on_success(const mqtt::token& token) override;
    void on_failure(const mqtt::token& token) override;

private:
    enum class State : std::uint8_t { waiting, in_flight, awaiting_receiver };

    struct Entry {
        Kind kind = Kind::message;
        State state = State::waiting;
        bool end_to_end = false;
        bool counted = false;  // holds a place in the capacity (messages and logs)
        int qos = 1;
        bool retained = false;
        std::uint32_t sends = 0;
        mqtt::string_ref topic;
        std::shared_ptr<const std::string> payload;
        std::shared_ptr<Delivery::Shared> shared;
        mqtt::delivery_token_ptr token;
        Clock::time_point created;
        Clock::time_point last_sent;
    };

    // Completions gathered under the lock and applied after it (Delivery waiters are woken unlocked).
    struct Completion {
        std::shared_ptr<Delivery::Shared> shared;
        Kind kind = Kind::message;
        bool ok = false;
        std::string error;
    };

    void erase_locked(std::map<std::uint64_t, Entry>::iterator it, bool ok, const std::string& error,
                      std::vector<Completion>& done);
    void finish(std::vector<Completion>& done);
    std::size_t fail_all_locked(const std::string& error, std::vector<Completion>& done);
    bool make_room_locked(Kind kind, std::size_t bytes, std::vector<Completion>& done, Added& added);
    void keep_token_locked(Entry& entry, mqtt::delivery_token_ptr token);
    // The entry leaves the in-flight state and frees its room in the window; sets wake_ when take() had
    // stopped for lack of room and there is enough now.
    void leave_flight_locked(Entry& entry);
    // Whether someone must take the waiting publications (and forgets it).
    bool take_wake_locked() noexcept;

    const Limits limits_;
    Counters& counters_;
    std::function<void()> on_requeue_;
    ControlRefused on_control_refused_;

    mutable std::mutex mutex_;
    mutable std::condition_variable empty_;
    std::map<std::uint64_t, Entry> entries_;
    std::set<std::uint64_t> waiting_;       // ids waiting to be taken, oldest first
    std::set<std::uint64_t> waiting_logs_;  // the log records among them: evicted first for a message
    bool closed_ = false;                   // see close()
    std::string closed_reason_;
    std::size_t counted_ = 0;  // entries holding a place in the capacity
    std::size_t bytes_ = 0;    // their payload bytes
    Window window_{65535, 65535, std::size_t(-1)};
    std::size_t in_flight_ = 0;        // QoS 1/2 publications in flight
    std::size_t in_flight_qos0_ = 0;   // QoS 0 publications in flight
    std::size_t in_flight_bytes_ = 0;  // their payload bytes, all QoS
    bool blocked_ = false;             // take() stopped for lack of room in the window
    bool wake_ = false;                // room was made since: someone must take the waiting publications
    std::uint64_t next_id_ = 1;
    // End-to-end: the latest acknowledgement, and the highest id acknowledged (see sweep_end_to_end()).
    Clock::time_point last_acknowledgement_{};
    std::uint64_t highest_acknowledged_ = 0;
    std::vector<mqtt::delivery_token_ptr> spare_tokens_;
};

}  // namespace fedbiomed::detail

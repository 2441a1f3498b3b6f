// Every publication the library still owes: handed to the client and not acknowledged yet, or waiting for
// a connection. It survives reconnections (a new client is made for every connection; what the old one had
// in flight is handed to the new one), is bounded (count and bytes, with an overflow policy) and completes
// each Delivery once. It knows nothing of the MQTT client: the transport reports completions as plain values
// (published(), publish_failed()), on the client's threads.
//
// Locking: one mutex, never held while calling the client (which calls us with its own mutex held).
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

#include "counters.hpp"
#include "delivery_state.hpp"
#include "fedbiomed/messaging_options.hpp"
#include "transport/session.hpp"

namespace fedbiomed::detail {

/// "MQTT 5 reason code 135, not authorized": a PUBACK refusal in words.
std::string puback_reason_text(int reason);

class Outbox {
public:
    using Clock = std::chrono::steady_clock;

    enum class Kind : std::uint8_t {
        message,  ///< send_message / send_error: kept until acknowledged, across reconnections
        log,      ///< a forwarded log record: never buffered while disconnected, dropped at a loss
        control,  ///< presence and acknowledgements: not counted, not bounded, dropped at a loss
    };

    /// Whether the broker keeps the publication for later subscribers.
    enum class Retain : bool { no = false, yes = true };
    /// Whether the publication carries an end-to-end id (see end_to_end.hpp) and waits for a receiver.
    enum class EndToEnd : bool { off = false, on = true };
    /// Whether the connection is up when the publication is added (logs and control publications never
    /// wait for one).
    enum class Link : bool { down = false, up = true };

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
        SharedText topic;
        SharedText payload;
        int qos = 1;
        bool retained = false;
        bool end_to_end = false;  ///< carries an end-to-end id (see end_to_end.hpp)
    };

    /// "outbox full (capacity N messages, B bytes)": the start of every overflow text.
    std::string full_text() const;

    /// @p on_requeue is called (outside the lock, possibly on a Paho thread; must not block) when a
    /// publication failed because the connection went, or when room was made in the window, and
    /// publications wait to be handed over.
    ///
    /// @p on_control_refused is called (outside the lock, on a client thread; must not block) when the
    /// broker refuses a publication with an MQTT 5 reason code (an ACL: "not authorized"): for a control
    /// publication (presence, acknowledgements) nobody waits on its Delivery, and for a message the
    /// sender may not look, so this is how a denial gets reported.
    using ControlRefused = std::function<void(const std::string& topic, int reason_code)>;
    Outbox(Limits limits, Counters& counters, std::function<void()> on_requeue,
           ControlRefused on_control_refused = {});

    Outbox(const Outbox&) = delete;
    Outbox& operator=(const Outbox&) = delete;

    /// Adds a publication (waiting to be taken). @p link says whether a log or control publication may
    /// wait at all (otherwise it is dropped and counted at once). A message gets a Delivery to complete;
    /// with @p end_to_end on, it completes once each of @p receivers acknowledged it (none given: the
    /// first acknowledgement).
    Added add(Kind kind, SharedText topic, std::string&& payload, int qos, Retain retain, EndToEnd end_to_end,
              Link link, std::vector<std::string> receivers = {});

    /// A control publication whose completion the caller will wait for (presence at stop()).
    Delivery add_control_waited(SharedText topic, std::string&& payload, int qos, Retain retain);

    /// How much may be handed to the client and not completed yet, on the current connection. Paho C 1.3
    /// finishes a partial socket write only when data arrives or its receive thread's 1 s poll times out,
    /// and every command queued in it makes its lists longer: what is in flight must stay small
    /// (docs/performance.md).
    struct Window {
        std::size_t acknowledged = 16;    ///< QoS 1/2 publications not acknowledged (receive maximum)
        std::size_t unacknowledged = 64;  ///< QoS 0 publications not written to the socket yet
        std::size_t bytes = 1U << 20U;    ///< payload bytes in flight (one publication always may go)
    };

    /// Whether the connection can carry end-to-end ids (MQTT 5 user properties).
    enum class Tags : bool { impossible = false, possible = true };

    /// Takes up to @p max publications waiting to be handed over, oldest first, and marks them in flight;
    /// stops at the first one the window (see set_window()) has no room for, so that order is kept. With
    /// @p tags impossible (an MQTT 3.1.1 connection), an end-to-end message goes as a plain one and
    /// completes on the broker's acknowledgement. @p now is when they leave (end-to-end copies are timed
    /// from it).
    std::vector<Ready> take(std::size_t max, Tags tags = Tags::possible,
                            Clock::time_point now = Clock::now());

    /// Sets the window of the current connection. When completions make room while publications wait,
    /// on_requeue is called so that someone takes them: once half the room is free, so that a saturated
    /// stream does not cost a thread wake-up per message.
    void set_window(Window window);

    /// A connection was (re)established: receivers get resend_after from now before silence counts as a
    /// stall (see sweep_end_to_end()); they have just reconnected too, typically.
    void connected();

    /// The client could not take publication @p id because it is not connected: it waits for the next
    /// connection (a message), or fails (a log or control publication).
    void handed_back(std::uint64_t id);

    /// The client refused publication @p id at once for another reason: it fails with @p error.
    void refused(std::uint64_t id, const std::string& error);

    /// Publication @p id completed: acknowledged by the broker (QoS 1/2) or written (QoS 0). Client thread.
    void published(std::uint64_t id);

    /// Publication @p id did not complete. A message is sent again on the next connection only when the
    /// connection went (@p failure says so); a refusal or any other error fails it. Client thread.
    void publish_failed(std::uint64_t id, const PublishFailure& failure);

    /// The connection was lost: messages in flight wait for the next one (they are sent again then), logs
    /// and control publications in flight are dropped. Call before the old client is destroyed.
    void connection_lost();

    /// End-to-end acknowledgement of publication @p id by @p receiver: completes its Delivery once every
    /// receiver it was meant for acknowledged it. An acknowledgement of a receiver the message was not
    /// meant for changes nothing. Thread-safe (called on a client thread).
    void end_to_end_acknowledged(std::uint64_t id, const std::string& receiver);

    /// End-to-end bookkeeping at @p now, per receiver: a message the broker acknowledged without the
    /// acknowledgement of receiver R is sent again, @p resend_after after its last copy (doubling with each
    /// copy, up to 8 times), when R acknowledged a later message (it was lost on the way to R) or nothing
    /// at all for @p resend_after (R, or the way to it, stalled). Messages older than @p timeout fail
    /// (FB102, naming the receivers missing).
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

    /// What the writes of the current connection are doing, for the watch on stalled writes
    /// (ConnectionSupervisor::watch_writes()).
    struct Writes {
        std::size_t unwritten = 0;      ///< QoS 0 publications handed to the client and not written yet
        bool blocked = false;           ///< publications wait for room in the window
        std::uint64_t completions = 0;  ///< publications that left the flight since the outbox was made
    };
    Writes writes() const;

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
        SharedText topic;
        SharedText payload;
        std::shared_ptr<Delivery::Shared> shared;
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
    // waiting_ with the running totals of the messages in it (what drop_oldest could evict).
    void enqueue_locked(std::uint64_t id, const Entry& entry);
    void dequeue_locked(std::uint64_t id, const Entry& entry);
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
    std::set<std::uint64_t> waiting_;        // ids waiting to be taken, oldest first
    std::set<std::uint64_t> waiting_logs_;   // the log records among them: evicted first for a message
    std::size_t waiting_messages_ = 0;       // messages among them
    std::size_t waiting_message_bytes_ = 0;  // their payload bytes
    bool closed_ = false;                    // see close()
    std::string closed_reason_;
    std::size_t counted_ = 0;  // entries holding a place in the capacity
    std::size_t bytes_ = 0;    // their payload bytes
    Window window_{65535, 65535, std::size_t(-1)};
    std::size_t in_flight_ = 0;        // QoS 1/2 publications in flight
    std::size_t in_flight_qos0_ = 0;   // QoS 0 publications in flight
    std::size_t in_flight_bytes_ = 0;  // their payload bytes, all QoS
    bool blocked_ = false;             // take() stopped for lack of room in the window
    std::uint64_t left_flight_ = 0;    // publications that left the flight (progress, see writes())
    bool wake_ = false;                // room was made since: someone must take the waiting publications
    std::uint64_t next_id_ = 1;
    // End-to-end, per receiver ("" for the messages meant for no receiver in particular): its latest
    // acknowledgement and the highest id it acknowledged (see sweep_end_to_end()). Only receivers a message
    // was meant for get an entry, so forged acknowledgements cannot grow it.
    struct Progress {
        Clock::time_point last{};
        std::uint64_t highest = 0;
    };
    std::map<std::string, Progress> progress_;
    Clock::time_point connected_at_{};
};

}  // namespace fedbiomed::detail

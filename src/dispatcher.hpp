// The bounded inbound queue and the thread that drains it, so no user code ever runs on Paho's threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>

#include "counters.hpp"
#include "inbound_item.hpp"

namespace fedbiomed::detail {

/// A FIFO with a capacity and a drop-oldest-message policy, drained by one thread it owns (the dispatcher
/// thread, on which every user callback runs).
///
/// push() is called from Paho's threads: one lock per item, never blocks for long (the item's strings are
/// moved in; only the deque may allocate).
/// The processing function runs on the dispatcher thread only; it receives each item, and is told how many
/// items were dropped since its previous call (so the overflow is reported from the dispatcher thread too).
class Dispatcher {
public:
    using Process = std::function<void(InboundItem& item)>;
    using ReportDrops = std::function<void(std::uint64_t dropped)>;

    Dispatcher(std::size_t capacity, Process process, ReportDrops report_drops);
    ~Dispatcher();

    Dispatcher(const Dispatcher&) = delete;
    Dispatcher& operator=(const Dispatcher&) = delete;

    /// The bound on the payload bytes held (MessagingOptions::inbound_max_bytes): the payloads of the
    /// messages and presence records queued and of the one being processed.
    struct ByteBound {
        std::size_t max_bytes = std::numeric_limits<std::size_t>::max();
        /// The longest a client thread is held for one message (well below the keepalive: see admit()).
        std::chrono::milliseconds patience{15000};
        /// Messages dropped by admit() since the last report (dispatcher thread; one call per second at most,
        /// the drops in between are added up).
        ReportDrops report;
        /// Where the held bytes, their peak, the holds and the drops are counted (may be null).
        Counters* counters = nullptr;
    };

    /// Sets the byte bound. Call before start().
    void set_byte_bound(ByteBound bound);

    /// The client's receive thread, before it copies and push()es a payload of @p bytes: true when it may be
    /// queued, false when it was dropped (counted, reported by the dispatcher thread).
    ///
    /// Up to half the bound, or when nothing is held, it is queued at once. Beyond: at QoS 0 (@p may_hold
    /// false) it is queued if it fits within the bound, else dropped. At QoS 1/2 the calling thread is held
    /// (ClientThreadHold) until the dispatcher brings the held bytes down to half the bound, for
    /// ByteBound::patience at most; when the hold ends without room (patience exhausted, another thread
    /// needs the client library, end_holds()) it is queued if it fits within the bound, else dropped. While
    /// a connection of the process is being made it is queued (the handshake's answers wait behind it).
    /// Never throws.
    bool admit(std::size_t bytes, bool may_hold) noexcept;

    /// Ends any hold and begins none until the next start() (stop() calls it first: what it waits for
    /// needs the client thread). Never throws.
    void end_holds() noexcept;

    /// The payload bytes held now (queued and being processed).
    std::size_t held_bytes() const noexcept;

    /// Starts the thread (no-op when running). Must not be called from the dispatcher thread.
    void start();

    /// Queues @p item; when the queue is full the oldest waiting message (or presence announcement) is
    /// discarded, else the oldest fault. Connection-state changes and overflow reports are never discarded:
    /// when only they wait, a new message or fault is discarded instead, and a new event goes past the
    /// capacity (there are few: one per connection change). @return true when an item had to be discarded.
    /// Never throws except std::bad_alloc.
    bool push(InboundItem&& item);

    /// What request_stop() leaves to do: the thread to join (empty when called from the dispatcher thread
    /// itself, which cannot join itself; it is then joined by the next start() or the destructor).
    struct Stopping {
        std::size_t discarded = 0;  ///< queued items that will never be processed
        std::thread thread;
    };

    /// Asks the thread to finish the item in progress and exit, discards what is queued, and hands back
    /// the thread so the caller can join it without holding its own locks.
    Stopping request_stop() noexcept;

    /// request_stop() and join. @return the number of discarded items.
    std::size_t stop() noexcept;

    /// True when called from the dispatcher thread.
    bool on_dispatcher_thread() const noexcept;

    /// True while the dispatcher thread runs (also after request_stop(), until the item in progress is
    /// done: a stop() called from a handler cannot wait for its own thread).
    bool running() const noexcept { return thread_id_.load() != std::thread::id(); }

private:
    using Clock = std::chrono::steady_clock;

    void run();
    void add_bytes_locked(std::size_t bytes) noexcept;
    void remove_bytes_locked(std::size_t bytes) noexcept;
    bool fits_locked(std::size_t bytes, std::size_t limit) const noexcept;
    // Counts a message refused for lack of room and wakes the reporter; returns false (mutex_ held).
    bool refuse_locked() noexcept;

    const std::size_t capacity_;
    Process process_;
    ReportDrops report_drops_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<InboundItem> queue_;
    std::uint64_t dropped_unreported_ = 0;
    ByteBound bound_;
    std::size_t held_bytes_ = 0;                  // payloads queued and being processed
    std::uint64_t bound_dropped_unreported_ = 0;  // dropped by admit(), not reported yet
    Clock::time_point next_bound_report_{};
    bool holds_ended_ = false;
    bool stopping_ = false;
    std::thread thread_;
    std::atomic<std::thread::id> thread_id_{};
};

}  // namespace fedbiomed::detail

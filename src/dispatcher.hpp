// The bounded inbound queue and the thread that drains it, so no user code ever runs on Paho's threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

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
    void run();

    const std::size_t capacity_;
    Process process_;
    ReportDrops report_drops_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<InboundItem> queue_;
    std::uint64_t dropped_unreported_ = 0;
    bool stopping_ = false;
    std::thread thread_;
    std::atomic<std::thread::id> thread_id_{};
};

}  // namespace fedbiomed::detail

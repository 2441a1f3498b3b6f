// The bounded inbound queue and the thread that drains it, so no user code ever runs on Paho's threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "fedbiomed/errors.hpp"

namespace fedbiomed::detail {

/// Something for the dispatcher thread: an inbound message, or an event/fault noticed on a Paho thread.
struct InboundItem {
    enum class Kind : std::uint8_t {
        message,  ///< @ref topic / @ref payload: an inbound message, copied out of Paho's structures
        fault,    ///< @ref code / @ref text / @ref topic describe a fault to report
        event,    ///< @ref text is a warning to log (e.g. the connection was lost)
    };
    Kind kind = Kind::message;
    std::string topic;
    std::string payload;
    ErrorNumbers code = ErrorNumbers::FB100;
    std::string text;
};

/// A FIFO with a capacity and a drop-oldest-message policy, drained by one thread it owns.
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

    /// Queues @p item; when the queue is full the oldest waiting message is discarded (the oldest item
    /// when only faults and events wait). @return true when an item had to be discarded. Never throws
    /// except std::bad_alloc.
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

#include "dispatcher.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace fedbiomed::detail {

Dispatcher::Dispatcher(std::size_t capacity, Process process, ReportDrops report_drops)
    : capacity_(capacity == 0 ? 1 : capacity),
      process_(std::move(process)),
      report_drops_(std::move(report_drops)) {}

Dispatcher::~Dispatcher() {
    stop();
    if (thread_.joinable()) {
        // stop() was called from the dispatcher thread earlier; this destructor runs elsewhere.
        if (thread_.get_id() != std::this_thread::get_id()) {
            thread_.join();
        } else {
            thread_.detach();
        }
    }
}

void Dispatcher::start() {
    std::thread previous;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (thread_.joinable() && !stopping_) {
            return;
        }
        previous = std::move(thread_);  // a thread stopped from inside itself: join it outside the lock
    }
    if (previous.joinable()) {
        previous.join();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
    queue_.clear();
    dropped_unreported_ = 0;
    thread_ = std::thread([this] { run(); });
}

namespace {

bool is_event(const InboundItem& item) noexcept {
    return std::holds_alternative<StateChange>(item) || std::holds_alternative<OverflowReport>(item);
}

}  // namespace

bool Dispatcher::push(InboundItem&& item) {
    bool was_empty = false;
    bool dropped = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) {
            return false;
        }
        if (queue_.size() >= capacity_) {
            // Drop the oldest inbound message, never a fault or a connection event when a message can go
            // instead: under a flood the reports are what tells the user what happened. (The messages are
            // nearly always at the front: the scan is short.)
            auto victim = std::find_if(queue_.begin(), queue_.end(), [](const InboundItem& queued) {
                return std::holds_alternative<InboundMessage>(queued) ||
                       std::holds_alternative<InboundPresence>(queued);
            });
            if (victim == queue_.end()) {
                victim = std::find_if(queue_.begin(), queue_.end(), [](const InboundItem& queued) {
                    return std::holds_alternative<Fault>(queued);
                });
            }
            ++dropped_unreported_;
            dropped = true;
            if (victim != queue_.end()) {
                queue_.erase(victim);
            } else if (!is_event(item)) {
                // Only events wait, and they are never dropped: the newcomer is.
                wake_.notify_one();
                return true;
            } else {
                // An event among events: kept beyond the capacity (there is one per connection change).
                --dropped_unreported_;
                dropped = false;
            }
        }
        was_empty = queue_.empty();
        queue_.push_back(std::move(item));
    }
    // The thread only sleeps when the queue is empty, so only that transition needs a wake-up.
    if (was_empty || dropped) {
        wake_.notify_one();
    }
    return dropped;
}

Dispatcher::Stopping Dispatcher::request_stop() noexcept {
    Stopping result;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        result.discarded = queue_.size();
        queue_.clear();
        if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
            result.thread = std::move(thread_);
        }
    }
    wake_.notify_all();
    return result;
}

std::size_t Dispatcher::stop() noexcept {
    Stopping stopping = request_stop();
    if (stopping.thread.joinable()) {
        stopping.thread.join();
    }
    return stopping.discarded;
}

bool Dispatcher::on_dispatcher_thread() const noexcept {
    return std::this_thread::get_id() == thread_id_.load();
}

void Dispatcher::run() {
    // Set here, not by start(): a finished thread's id may be reused by another thread.
    thread_id_.store(std::this_thread::get_id());
    struct ClearId {
        std::atomic<std::thread::id>& id;
        ~ClearId() { id.store(std::thread::id()); }
    } clear_id{thread_id_};
    for (;;) {
        std::optional<InboundItem> item;
        std::uint64_t dropped = 0;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty() || dropped_unreported_ != 0; });
            if (stopping_) {
                return;
            }
            dropped = dropped_unreported_;
            dropped_unreported_ = 0;
            if (!queue_.empty()) {
                item.emplace(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        try {
            if (dropped != 0) {
                report_drops_(dropped);
            }
            if (item) {
                process_(*item);
            }
        } catch (...) {
            // process_ catches everything itself; this is the last line of defence of the thread.
        }
    }
}

}  // namespace fedbiomed::detail

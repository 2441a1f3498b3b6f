#include "dispatcher.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "client_thread_hold.hpp"

namespace fedbiomed::detail {

Dispatcher::Dispatcher(std::size_t capacity, Process process, ReportDrops report_drops)
    : capacity_(capacity == 0 ? 1 : capacity),
      process_(std::move(process)),
      report_drops_(std::move(report_drops)) {}

namespace {

// Byte-bound drops are reported at most this often (the drops in between are added up): a flood must not
// turn into a fault per message.
constexpr std::chrono::seconds kBoundReportInterval{1};

// The payload bytes an item holds: what the byte bound counts (faults and events are small and few).
std::size_t payload_bytes(const InboundItem& item) noexcept {
    if (const auto* message = std::get_if<InboundMessage>(&item)) {
        return message->payload.size();
    }
    if (const auto* presence = std::get_if<InboundPresence>(&item)) {
        return presence->payload.size();
    }
    return 0;
}

}  // namespace

void Dispatcher::set_byte_bound(ByteBound bound) {
    std::lock_guard<std::mutex> lock(mutex_);
    bound_ = std::move(bound);
    if (bound_.max_bytes == 0) {
        bound_.max_bytes = 1;
    }
}

void Dispatcher::add_bytes_locked(std::size_t bytes) noexcept {
    held_bytes_ += bytes;
    if (bound_.counters != nullptr) {
        bound_.counters->inbound_bytes.store(held_bytes_, std::memory_order_relaxed);
        auto& peak = bound_.counters->inbound_bytes_peak;
        std::uint64_t seen = peak.load(std::memory_order_relaxed);
        while (seen < held_bytes_ &&
               !peak.compare_exchange_weak(seen, held_bytes_, std::memory_order_relaxed)) {
        }
    }
}

void Dispatcher::remove_bytes_locked(std::size_t bytes) noexcept {
    held_bytes_ -= std::min(bytes, held_bytes_);
    if (bound_.counters != nullptr) {
        bound_.counters->inbound_bytes.store(held_bytes_, std::memory_order_relaxed);
    }
}

// Nothing held (a payload larger than the limit must still get through one at a time), or room for it.
bool Dispatcher::fits_locked(std::size_t bytes, std::size_t limit) const noexcept {
    return held_bytes_ == 0 || (bytes <= limit && held_bytes_ <= limit - bytes);
}

std::size_t Dispatcher::held_bytes() const noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_bytes_;
}

// A message the bound has no room for: counted, and reported by the dispatcher thread. @return false.
bool Dispatcher::refuse_locked() noexcept {
    ++bound_dropped_unreported_;
    if (bound_.counters != nullptr) {
        Counters::bump(bound_.counters->inbound_dropped);
        Counters::bump(bound_.counters->inbound_bound_drops);
    }
    wake_.notify_one();
    return false;
}

bool Dispatcher::admit(std::size_t bytes, bool may_hold) noexcept {
    try {
        const std::size_t push_back_from = bound_.max_bytes / 2;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_ || fits_locked(bytes, push_back_from)) {
                return true;  // (while stopping push() discards it anyway)
            }
            if (!may_hold || holds_ended_) {
                return fits_locked(bytes, bound_.max_bytes) || refuse_locked();
            }
        }
        if (bound_.counters != nullptr) {
            Counters::bump(bound_.counters->inbound_held_back);
        }
        // Hold Paho's receive thread (see client_thread_hold.hpp): the broker keeps what follows.
        const auto outcome = ClientThreadHold::hold(Clock::now() + bound_.patience, [&] {
            std::lock_guard<std::mutex> lock(mutex_);
            return stopping_ || holds_ended_ || fits_locked(bytes, push_back_from);
        });
        std::lock_guard<std::mutex> lock(mutex_);
        return stopping_ || outcome == ClientThreadHold::Outcome::handshake ||
               fits_locked(bytes, bound_.max_bytes) || refuse_locked();
    } catch (...) {
        return true;  // a lock that cannot be taken: behave as without a bound
    }
}

void Dispatcher::end_holds() noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex_);
        holds_ended_ = true;
    } catch (...) {
    }
    ClientThreadHold::wake();
}

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
    holds_ended_ = false;
    queue_.clear();
    dropped_unreported_ = 0;
    bound_dropped_unreported_ = 0;
    held_bytes_ = 0;
    remove_bytes_locked(0);
    thread_ = std::thread([this] { run(); });
}

namespace {

bool is_event(const InboundItem& item) noexcept {
    return std::holds_alternative<StateChange>(item) || std::holds_alternative<OverflowReport>(item) ||
           std::holds_alternative<PresenceCheck>(item);
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
                remove_bytes_locked(payload_bytes(*victim));
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
        const std::size_t bytes = payload_bytes(item);
        queue_.push_back(std::move(item));
        add_bytes_locked(bytes);
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
        for (const InboundItem& item : queue_) {
            remove_bytes_locked(payload_bytes(item));
        }
        queue_.clear();
        if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
            result.thread = std::move(thread_);
        }
    }
    wake_.notify_all();
    ClientThreadHold::wake();  // a client thread held for room: it is not coming
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
        std::uint64_t bound_dropped = 0;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            for (;;) {
                if (stopping_) {
                    return;
                }
                if (!queue_.empty() || dropped_unreported_ != 0) {
                    break;
                }
                if (bound_dropped_unreported_ == 0) {
                    wake_.wait(lock);
                } else if (Clock::now() >= next_bound_report_) {
                    break;
                } else {
                    wake_.wait_until(lock, next_bound_report_);
                }
            }
            dropped = dropped_unreported_;
            dropped_unreported_ = 0;
            const auto now = Clock::now();
            if (bound_dropped_unreported_ != 0 && now >= next_bound_report_) {
                bound_dropped = bound_dropped_unreported_;
                bound_dropped_unreported_ = 0;
                next_bound_report_ = now + kBoundReportInterval;
            }
            if (!queue_.empty()) {
                item.emplace(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        // Counted until processed (a handler may move the payload out): taken now.
        const std::size_t bytes = item ? payload_bytes(*item) : 0;
        try {
            if (dropped != 0) {
                report_drops_(dropped);
            }
            if (bound_dropped != 0 && bound_.report) {
                bound_.report(bound_dropped);
            }
            if (item) {
                process_(*item);
            }
        } catch (...) {
            // process_ catches everything itself; this is the last line of defence of the thread.
        }
        if (bytes != 0) {
            {
                std::lock_guard<std::mutex> lock(mutex_);
                remove_bytes_locked(bytes);
            }
            ClientThreadHold::wake();  // a client thread may be held for this room
        }
    }
}

}  // namespace fedbiomed::detail

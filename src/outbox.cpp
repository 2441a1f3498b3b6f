#include "outbox.hpp"

#include <algorithm>
#include <utility>

#include "error_text.hpp"

namespace fedbiomed::detail {
namespace {

// Why a log or control publication fails when the connection goes before it completed.
const std::string& lost_before_completion() {
    static const std::string text =
        with_code(ErrorNumbers::FB103, "connection to the broker lost before the publication completed");
    return text;
}

}  // namespace

std::string puback_reason_text(int reason) {
    std::string text = "MQTT 5 reason code " + std::to_string(reason);
    switch (reason) {
    case 0x80: return text + ", unspecified error";
    case 0x83: return text + ", implementation specific error";
    case 0x87: return text + ", not authorized";
    case 0x90: return text + ", topic name invalid";
    case 0x97: return text + ", quota exceeded";
    case 0x99: return text + ", payload format invalid";
    default: return text;
    }
}

std::string Outbox::full_text() const {
    return "outbox full (capacity " + std::to_string(limits_.capacity) + " messages, " +
           std::to_string(limits_.max_bytes) + " bytes)";
}

void Outbox::enqueue_locked(std::uint64_t id, const Entry& entry) {
    if (!waiting_.insert(id).second) {
        return;
    }
    if (entry.kind == Kind::message) {
        ++waiting_messages_;
        waiting_message_bytes_ += entry.payload->size();
    } else if (entry.kind == Kind::log) {
        waiting_logs_.insert(id);
    }
}

void Outbox::dequeue_locked(std::uint64_t id, const Entry& entry) {
    if (waiting_.erase(id) == 0) {
        return;
    }
    if (entry.kind == Kind::message) {
        --waiting_messages_;
        waiting_message_bytes_ -= entry.payload->size();
    } else if (entry.kind == Kind::log) {
        waiting_logs_.erase(id);
    }
}

Outbox::Outbox(Limits limits, Counters& counters, std::function<void()> on_requeue,
               ControlRefused on_control_refused)
    : limits_(limits),
      counters_(counters),
      on_requeue_(std::move(on_requeue)),
      on_control_refused_(std::move(on_control_refused)) {}

void Outbox::finish(std::vector<Completion>& done) {
    for (auto& completion : done) {
        switch (completion.kind) {
        case Kind::message:
            Counters::bump(completion.ok ? counters_.published : counters_.publish_failures);
            break;
        case Kind::log:
            Counters::bump(completion.ok ? counters_.logs_forwarded : counters_.logs_dropped);
            break;
        case Kind::control: break;
        }
        if (completion.shared) {
            completion.shared->complete(completion.ok ? Delivery::State::delivered : Delivery::State::failed,
                                        completion.ok ? std::string() : std::move(completion.error));
        }
    }
    done.clear();
}

void Outbox::leave_flight_locked(Entry& entry) {
    if (entry.state != State::in_flight) {
        return;
    }
    entry.state = State::waiting;  // the caller sets the next state; this room is not freed twice
    ++left_flight_;
    std::size_t& count = entry.qos == 0 ? in_flight_qos0_ : in_flight_;
    if (count != 0) {
        --count;
    }
    in_flight_bytes_ -= std::min(in_flight_bytes_, entry.payload->size());
    // Wake up the taker once half the room is free again, not at every completion: a completion comes
    // per message (acknowledged, or written for QoS 0), and a thread wake-up per message would cost more
    // than the window saves; half a window still in flight keeps the connection busy meanwhile.
    if (blocked_ && in_flight_ <= window_.acknowledged / 2 && in_flight_qos0_ <= window_.unacknowledged / 2 &&
        in_flight_bytes_ <= window_.bytes / 2 && !waiting_.empty()) {
        blocked_ = false;
        wake_ = true;
    }
}

bool Outbox::take_wake_locked() noexcept {
    const bool wake = wake_;
    wake_ = false;
    return wake;
}

void Outbox::set_window(Window window) {
    std::lock_guard<std::mutex> lock(mutex_);
    window.acknowledged = std::max<std::size_t>(window.acknowledged, 1);
    window.unacknowledged = std::max<std::size_t>(window.unacknowledged, 1);
    window.bytes = std::max<std::size_t>(window.bytes, 1);
    window_ = window;
}

void Outbox::connected() {
    std::lock_guard<std::mutex> lock(mutex_);
    connected_at_ = Clock::now();
}

void Outbox::erase_locked(std::map<std::uint64_t, Entry>::iterator it, bool ok, const std::string& error,
                          std::vector<Completion>& done) {
    Entry& entry = it->second;
    leave_flight_locked(entry);
    if (entry.counted) {
        --counted_;
        bytes_ -= entry.payload->size();
    }
    dequeue_locked(it->first, entry);
    done.push_back(Completion{std::move(entry.shared), entry.kind, ok, ok ? std::string() : error});
    entries_.erase(it);
    if (entries_.empty()) {
        empty_.notify_all();
    }
}

bool Outbox::make_room_locked(Kind kind, std::size_t bytes, std::vector<Completion>& done, Added& added) {
    auto full = [&] { return counted_ + 1 > limits_.capacity || bytes_ + bytes > limits_.max_bytes; };
    if (!full()) {
        return true;
    }
    if (kind == Kind::message) {
        // Under pressure log records go first, whatever the policy: a reply must never be refused for
        // room that a log record about someone's bad input holds (docs/reliability.md, "Under attack").
        while (full() && !waiting_logs_.empty()) {
            const auto entry = entries_.find(*waiting_logs_.begin());
            if (entry == entries_.end()) {
                waiting_logs_.erase(waiting_logs_.begin());
                continue;
            }
            erase_locked(entry, false,
                         with_code(ErrorNumbers::FB103,
                                   full_text() + ": log record dropped to make room for a message"),
                         done);
        }
        if (!full()) {
            return true;
        }
    }
    if (kind == Kind::message && limits_.overflow == OutboxOverflow::drop_oldest) {
        // Only messages not handed to the client can be dropped: the client owns the others. Drop nothing
        // unless dropping them all would make room: otherwise they would be lost and the new one refused.
        // (Running totals: no scan unless something is dropped.)
        if (counted_ - waiting_messages_ + 1 > limits_.capacity ||
            bytes_ - waiting_message_bytes_ + bytes > limits_.max_bytes) {
            return false;
        }
        for (auto id = waiting_.begin(); id != waiting_.end() && full();) {
            const auto entry = entries_.find(*id);
            ++id;
            if (entry != entries_.end() && entry->second.kind == Kind::message) {
                Counters::bump(counters_.outbox_overflows);
                ++added.evicted;
                erase_locked(entry, false,
                             with_code(ErrorNumbers::FB103,
                                       full_text() + ": dropped to make room for a newer message"),
                             done);
            }
        }
        if (!full()) {
            return true;
        }
    }
    return false;
}

Outbox::Added Outbox::add(Kind kind, SharedText topic, std::string&& payload, int qos, Retain retain,
                          EndToEnd end_to_end, Link link, std::vector<std::string> receivers) {
    Added added;
    std::shared_ptr<Delivery::Shared> shared;
    if (kind == Kind::message) {
        shared = std::make_shared<Delivery::Shared>();
        if (end_to_end == EndToEnd::on) {
            shared->expect(std::move(receivers));
        }
        added.delivery = Delivery(shared);
    }
    std::vector<Completion> done;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (closed_) {
            added.closed = true;
            if (kind == Kind::message) {
                Counters::bump(counters_.publish_failures);
                shared->complete(Delivery::State::failed, closed_reason_);
            } else if (kind == Kind::log) {
                Counters::bump(counters_.logs_dropped);
            }
            return added;
        }
        if (kind != Kind::message && link == Link::down) {
            // Logs and control publications never wait for a connection.
            if (kind == Kind::log) {
                Counters::bump(counters_.logs_dropped);
            }
            return added;
        }
        if (kind != Kind::control && !make_room_locked(kind, payload.size(), done, added)) {
            if (kind == Kind::log) {
                Counters::bump(counters_.logs_dropped);
            } else {
                Counters::bump(counters_.outbox_overflows);
                added.rejected = true;
                if (limits_.overflow != OutboxOverflow::throw_error) {
                    Counters::bump(counters_.publish_failures);
                    shared->complete(
                        Delivery::State::failed,
                        with_code(ErrorNumbers::FB103, full_text() + ": message to " + *topic + " not sent"));
                }
            }
        } else {
            const std::uint64_t id = next_id_++;
            Entry entry;
            entry.kind = kind;
            entry.end_to_end = end_to_end == EndToEnd::on;
            entry.counted = kind != Kind::control;
            entry.qos = qos;
            entry.retained = retain == Retain::yes;
            entry.topic = std::move(topic);
            entry.payload = std::make_shared<const std::string>(std::move(payload));
            entry.shared = std::move(shared);
            entry.created = Clock::now();
            if (entry.counted) {
                ++counted_;
                bytes_ += entry.payload->size();
            }
            enqueue_locked(id, entries_.emplace(id, std::move(entry)).first->second);
            added.accepted = true;
        }
    }
    finish(done);
    return added;
}

Delivery Outbox::add_control_waited(SharedText topic, std::string&& payload, int qos, Retain retain) {
    auto shared = std::make_shared<Delivery::Shared>();
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_) {
        shared->complete(Delivery::State::failed, closed_reason_);
        return Delivery(std::move(shared));
    }
    const std::uint64_t id = next_id_++;
    Entry entry;
    entry.kind = Kind::control;
    entry.qos = qos;
    entry.retained = retain == Retain::yes;
    entry.topic = std::move(topic);
    entry.payload = std::make_shared<const std::string>(std::move(payload));
    entry.shared = shared;
    entry.created = Clock::now();
    enqueue_locked(id, entries_.emplace(id, std::move(entry)).first->second);
    return Delivery(std::move(shared));
}

std::vector<Outbox::Ready> Outbox::take(std::size_t max, Tags tags, Clock::time_point now) {
    std::vector<Ready> ready;
    std::lock_guard<std::mutex> lock(mutex_);
    while (!waiting_.empty() && ready.size() < max) {
        const std::uint64_t id = *waiting_.begin();
        const auto found = entries_.find(id);
        if (found == entries_.end()) {
            waiting_.erase(waiting_.begin());
            continue;
        }
        Entry& entry = found->second;
        std::size_t& count = entry.qos == 0 ? in_flight_qos0_ : in_flight_;
        const std::size_t limit = entry.qos == 0 ? window_.unacknowledged : window_.acknowledged;
        const std::size_t bytes = entry.payload->size();
        if (count >= limit || (in_flight_bytes_ != 0 && in_flight_bytes_ + bytes > window_.bytes)) {
            // In order: nothing overtakes it. A completion will call on_requeue (see leave_flight_locked()).
            blocked_ = true;
            break;
        }
        ++count;
        in_flight_bytes_ += bytes;
        dequeue_locked(id, entry);
        if (tags == Tags::impossible && entry.end_to_end) {
            // An MQTT 3.1.1 connection cannot carry the id (nor a copy's): the broker's acknowledgement is
            // all there is.
            entry.end_to_end = false;
            entry.shared->expect({});
        }
        entry.state = State::in_flight;
        entry.last_sent = now;
        if (++entry.sends > 1) {
            Counters::bump(counters_.resent);
        }
        ready.push_back(Ready{id, entry.topic, entry.payload, entry.qos, entry.retained, entry.end_to_end});
    }
    return ready;
}

void Outbox::handed_back(std::uint64_t id) {
    std::vector<Completion> done;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = entries_.find(id);
        if (found == entries_.end()) {
            return;
        }
        if (found->second.kind == Kind::message) {
            leave_flight_locked(found->second);
            found->second.state = State::waiting;
            enqueue_locked(id, found->second);
        } else {
            erase_locked(found, false, lost_before_completion(), done);
        }
    }
    finish(done);
}

void Outbox::refused(std::uint64_t id, const std::string& error) {
    std::vector<Completion> done;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = entries_.find(id);
        if (found == entries_.end()) {
            return;
        }
        erase_locked(found, false, error, done);
    }
    finish(done);
}

void Outbox::connection_lost() {
    std::vector<Completion> done;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = entries_.begin(); it != entries_.end();) {
            const auto current = it++;
            Entry& entry = current->second;
            if (entry.state != State::in_flight) {
                continue;
            }
            if (entry.kind == Kind::message) {
                leave_flight_locked(entry);
                entry.state = State::waiting;
                enqueue_locked(current->first, entry);
            } else {
                erase_locked(current, false, lost_before_completion(), done);
            }
        }
        // A new connection starts with an empty window (and pumps what waits).
        in_flight_ = 0;
        in_flight_qos0_ = 0;
        in_flight_bytes_ = 0;
        blocked_ = false;
        wake_ = false;
    }
    finish(done);
}

void Outbox::end_to_end_acknowledged(std::uint64_t id, const std::string& receiver) {
    std::vector<Completion> done;
    bool wake = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = entries_.find(id);
        if (found == entries_.end() || !found->second.end_to_end) {
            return;  // completed already (a copy acknowledged again), or never ours to wait for
        }
        Entry& entry = found->second;
        if (!entry.shared->acknowledge(receiver)) {
            return;  // a receiver it was not meant for, or one that acknowledged already
        }
        // How far this receiver got (see sweep_end_to_end()); "" stands for any receiver of the messages
        // meant for no one in particular.
        const bool anyone = !entry.shared->expects_receivers();
        Progress& progress = progress_[anyone ? std::string() : receiver];
        progress.last = Clock::now();
        progress.highest = std::max(progress.highest, id);
        if (!entry.shared->all_acknowledged()) {
            return;
        }
        erase_locked(found, true, {}, done);  // a copy sent again may still be in flight
        wake = take_wake_locked();
    }
    finish(done);
    if (wake && on_requeue_) {
        on_requeue_();
    }
}

namespace {

// The delay before copy number sends + 1 of an end-to-end message: resend_after, doubled with each copy up
// to 8 times.
std::chrono::milliseconds resend_delay(std::chrono::milliseconds resend_after, std::uint32_t sends) {
    const std::uint32_t doublings = std::min<std::uint32_t>(sends > 0 ? sends - 1 : 0, 3);
    return resend_after * (1U << doublings);
}

}  // namespace

Outbox::Sweep Outbox::sweep_end_to_end(Clock::time_point now, std::chrono::milliseconds resend_after,
                                       std::chrono::milliseconds timeout) {
    Sweep sweep;
    std::vector<Completion> done;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = entries_.begin(); it != entries_.end();) {
            const auto current = it++;
            Entry& entry = current->second;
            if (!entry.end_to_end) {
                continue;
            }
            const auto expires = entry.created + timeout;
            if (expires <= now) {
                ++sweep.timed_out;
                Counters::bump(counters_.end_to_end_timeouts);
                const std::string missing = entry.shared->missing_text(5);
                erase_locked(
                    current, false,
                    with_code(ErrorNumbers::FB102, "no end-to-end acknowledgement of the message to ") +
                        *entry.topic + (missing.empty() ? std::string() : " from " + missing) + " within " +
                        std::to_string(timeout.count()) + " ms (" + std::to_string(entry.sends) + " send(s))",
                    done);
                continue;
            }
            if (entry.state != State::awaiting_receiver ||
                entry.last_sent + resend_delay(resend_after, entry.sends) > now) {
                continue;
            }
            // Messages reach each receiver in the order they were sent. While a receiver's acknowledgements
            // keep coming, a message it has not acknowledged is either queued behind the others (leave it)
            // or lost, which shows as a later one it acknowledged (a gap: send it again). Without any
            // acknowledgement from it for resend_after, the message goes again too. Per receiver: a fast
            // node never makes a message still queued at a slow one look lost.
            std::vector<std::string> missing = entry.shared->missing();
            if (missing.empty()) {
                missing.emplace_back();  // meant for no one in particular: any receiver's progress counts
            }
            bool again = false;
            for (const auto& receiver : missing) {
                const auto found = progress_.find(receiver);
                const Progress progress = found == progress_.end() ? Progress{} : found->second;
                const bool gap = current->first < progress.highest;
                const bool stalled = now - std::max(progress.last, connected_at_) >= resend_after;
                if (gap || stalled) {
                    again = true;
                    break;
                }
            }
            if (again) {
                entry.state = State::waiting;
                enqueue_locked(current->first, entry);
                ++sweep.resend;
            }
        }
    }
    finish(done);
    return sweep;
}

std::size_t Outbox::fail_all_locked(const std::string& error, std::vector<Completion>& done) {
    std::size_t messages = 0;
    while (!entries_.empty()) {
        messages += entries_.begin()->second.kind == Kind::message ? 1U : 0U;
        erase_locked(entries_.begin(), false, error, done);
    }
    return messages;
}

std::size_t Outbox::fail_all(const std::string& error) {
    std::vector<Completion> done;
    std::size_t messages = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        messages = fail_all_locked(error, done);
    }
    finish(done);
    return messages;
}

std::size_t Outbox::close(const std::string& error) {
    std::vector<Completion> done;
    std::size_t messages = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
        closed_reason_ = error;
        messages = fail_all_locked(error, done);
    }
    finish(done);
    return messages;
}

void Outbox::open() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = false;
    closed_reason_.clear();
}

bool Outbox::wait_empty(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return empty_.wait_for(lock, timeout, [this] { return entries_.empty(); });
}

std::size_t Outbox::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

Outbox::Writes Outbox::writes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return Writes{in_flight_qos0_, blocked_, left_flight_};
}

void Outbox::published(std::uint64_t id) {
    std::vector<Completion> done;
    bool freed = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = entries_.find(id);
        if (found == entries_.end()) {
            return;
        }
        Entry& entry = found->second;
        if (entry.state == State::awaiting_receiver) {
            return;  // the broker acknowledged another copy too
        }
        if (entry.end_to_end) {
            // The broker has it; the Delivery waits for a receiver's acknowledgement.
            leave_flight_locked(entry);
            entry.state = State::awaiting_receiver;
            dequeue_locked(found->first, entry);
        } else {
            erase_locked(found, true, {}, done);
        }
        freed = take_wake_locked();
    }
    finish(done);
    if (freed && on_requeue_) {
        on_requeue_();
    }
}

void Outbox::publish_failed(std::uint64_t id, const PublishFailure& failure) {
    bool requeued = false;
    std::vector<Completion> done;
    std::string refused_control_topic;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto found = entries_.find(id);
        if (found == entries_.end() || found->second.state != State::in_flight) {
            return;  // already handed back by connection_lost(), or acknowledged meanwhile
        }
        Entry& entry = found->second;
        leave_flight_locked(entry);
        if (failure.refusal_reason >= 0) {
            refused_control_topic = *entry.topic;
            erase_locked(
                found, false,
                with_code(ErrorNumbers::FB103, "the broker refused the publication to " + *entry.topic +
                                                   " (" + puback_reason_text(failure.refusal_reason) + ")"),
                done);
        } else if (failure.connection_gone && entry.kind == Kind::message) {
            // Interrupted (connection lost, client destroyed): send it again on the next connection.
            entry.state = State::waiting;
            enqueue_locked(found->first, entry);
            requeued = true;
        } else if (failure.connection_gone) {
            erase_locked(found, false, lost_before_completion(), done);
        } else {
            erase_locked(
                found, false,
                with_code(ErrorNumbers::FB103, "the publication to " + *entry.topic + " did not complete (" +
                                                   failure.client_error + ")"),
                done);
        }
        requeued = take_wake_locked() || requeued;
    }
    finish(done);
    if (requeued && on_requeue_) {
        on_requeue_();
    }
    if (!refused_control_topic.empty() && on_control_refused_) {
        on_control_refused_(refused_control_topic, failure.refusal_reason);
    }
}

}  // namespace fedbiomed::detail

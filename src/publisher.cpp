#include "publisher.hpp"

#include <algorithm>
#include <utility>

#include "error_text.hpp"

namespace fedbiomed::detail {
namespace {

// Publications handed to the client per batch when the outbox is flushed (the send mutex is held throughout).
constexpr std::size_t kPumpBatch = 512;
// What may be handed to the client and not completed yet (performance, docs/performance.md). Paho C 1.3
// finishes a partial socket write only when data arrives or its 1 s poll times out, so the data in flight
// must stay below the socket buffer: 16 QoS 1 publications of 64 KiB (1 MiB) never stalled, 64 and 128
// did; hence the byte bound. The count stays at 16 although 64 gives about 10 % more ~280 B messages per
// second: a faster publisher lets the broker hold more acknowledged messages in memory, and a broker
// killed with SIGKILL lost 30-290 of 20 000 with 64 against 0-3 with 16 (24 once under TSan)
// (docs/reliability.md). At QoS 0 nothing comes back to bound the stream: without a window Paho's command
// queue grows long and every operation on it slows down (the publisher's CPU per message halves with the
// window).
constexpr std::size_t kFlowWindow = 16;
constexpr std::size_t kUnacknowledgedWindow = 64;
constexpr std::size_t kFlowWindowBytes = std::size_t{1} << 20U;
// A QoS 0 publication this large may fill the socket's buffer and be left half written by Paho, which goes
// on only at the next pass of its receive thread: its hand-over starts the watch on stalled writes
// (ConnectionSupervisor::watch_writes()).
constexpr std::size_t kLargeWrite = std::size_t{64} << 10U;
// End-to-end acknowledgements: ids per publication (about 20 bytes each), and how many may wait for a pump.
constexpr std::size_t kAcksPerPublication = 256;
constexpr std::size_t kPendingAcknowledgements = 100000;

}  // namespace

Publisher::Publisher(Config config, Counters& counters, Hooks hooks)
    : config_(std::move(config)),
      counters_(counters),
      hooks_(std::move(hooks)),
      outbox_(
          config_.limits, counters_, [this] { hooks_.request_work(); },
          [this](const std::string& topic, int reason_code) {
              if (hooks_.control_refused) {
                  hooks_.control_refused(topic, reason_code);
              }
          }) {}

Delivery Publisher::publish(Outbox::Kind kind, SharedText topic, std::string&& payload) {
    auto end_to_end = Outbox::EndToEnd::off;
    std::vector<std::string> receivers;
    if (kind == Outbox::Kind::message && config_.end_to_end != EndToEndAck::off && config_.qos > 0) {
        // Decided when the message is sent, from the presence known then: a receiver that announces
        // end-to-end acknowledgement later is not waited for (and acknowledges anyway).
        if (hooks_.end_to_end_receivers) {
            receivers = hooks_.end_to_end_receivers(*topic);
        }
        if (!receivers.empty() || config_.end_to_end == EndToEndAck::on) {
            end_to_end = Outbox::EndToEnd::on;
        }
    }
    const auto link = link_up() ? Outbox::Link::up : Outbox::Link::down;
    const SharedText topic_text = topic;
    Outbox::Added added = outbox_.add(kind, std::move(topic), std::move(payload), config_.qos,
                                      Outbox::Retain::no, end_to_end, link, std::move(receivers));
    note_overflow(added);
    if (added.rejected && config_.limits.overflow == OutboxOverflow::throw_error) {
        throw MessagingError(ErrorNumbers::FB103,
                             outbox_.full_text() + ": message to " + *topic_text + " not sent");
    }
    // Read again: had the connection come back between the first read and add(), the supervisor's
    // flush might have run before this publication was there to be taken.
    if (added.accepted && link_up()) {
        pump();
    }
    return added.delivery;
}

void Publisher::publish_control(SharedText topic, std::string&& payload, int qos, Outbox::Retain retain) {
    const auto link = link_up() ? Outbox::Link::up : Outbox::Link::down;
    const Outbox::Added added = outbox_.add(Outbox::Kind::control, std::move(topic), std::move(payload), qos,
                                            retain, Outbox::EndToEnd::off, link);
    if (added.accepted && link_up()) {
        pump();
    }
}

void Publisher::acknowledge_later(const std::string& topic, std::string id) {
    if (!link_up()) {
        return;  // not connected: the sender sends the message again, and it is acknowledged then
    }
    std::lock_guard<std::mutex> lock(acks_mutex_);
    if (pending_ack_count_ >= kPendingAcknowledgements) {
        return;  // nobody pumped for a long while: the sender sends these again
    }
    pending_acks_[topic].push_back(std::move(id));
    ++pending_ack_count_;
}

void Publisher::flush_acknowledgements_soon() {
    bool pending = false;
    {
        std::lock_guard<std::mutex> lock(acks_mutex_);
        pending = pending_ack_count_ != 0;
    }
    if (pending && link_up()) {
        pump();
    }
}

void Publisher::flush_acknowledgements() {
    std::map<std::string, std::vector<std::string>> pending;
    {
        std::lock_guard<std::mutex> lock(acks_mutex_);
        if (pending_ack_count_ == 0) {
            return;
        }
        pending.swap(pending_acks_);
        pending_ack_count_ = 0;
    }
    for (auto& [topic, ids] : pending) {
        const SharedText topic_text = std::make_shared<const std::string>(topic);
        for (std::size_t first = 0; first < ids.size(); first += kAcksPerPublication) {
            std::string payload;
            for (std::size_t i = first; i < ids.size() && i < first + kAcksPerPublication; ++i) {
                payload += (i == first ? "" : " ") + ids[i];
            }
            outbox_.add(Outbox::Kind::control, topic_text, std::move(payload), 0, Outbox::Retain::no,
                        Outbox::EndToEnd::off, Outbox::Link::up);
        }
    }
}

Delivery Publisher::publish_control_waited(SharedText topic, std::string&& payload, Outbox::Retain retain) {
    Delivery delivery = outbox_.add_control_waited(std::move(topic), std::move(payload), config_.qos, retain);
    pump();
    return delivery;
}

void Publisher::note_overflow(const Outbox::Added& added) {
    if (added.evicted == 0 && !added.rejected) {
        return;
    }
    evicted_unreported_.fetch_add(added.evicted);
    if (added.rejected) {
        refused_unreported_.fetch_add(1);
    }
    // One report queued at a time, however many overflows: a flood of refused publications must not push
    // inbound messages out of the dispatcher's queue.
    if (!report_queued_.exchange(true)) {
        hooks_.report_overflow();
    }
}

std::optional<Fault> Publisher::take_overflow_report() {
    report_queued_.store(false);
    const std::uint64_t refused = refused_unreported_.exchange(0);
    const std::uint64_t evicted = evicted_unreported_.exchange(0);
    if (refused == 0 && evicted == 0) {
        return std::nullopt;
    }
    std::string text = outbox_.full_text() + ":";
    if (refused != 0) {
        text += " " + std::to_string(refused) + " new message(s) not sent";
    }
    if (evicted != 0) {
        text += std::string(refused != 0 ? "," : "") + " " + std::to_string(evicted) +
                " older message(s) dropped";
    }
    return Fault{ErrorNumbers::FB103, with_code(ErrorNumbers::FB103, text), {}};
}

void Publisher::pump() {
    std::lock_guard<std::mutex> send(send_mutex_);
    pump_locked();
}

// send_mutex_ held: the session cannot change, and publications leave in the outbox's order.
void Publisher::pump_locked() {
    if (!session_ || !link_up()) {
        return;
    }
    const bool large = pump_batches();
    if (hooks_.watch_writes) {
        const Outbox::Writes writes = outbox_.writes();
        if (writes.unwritten != 0 && (large || writes.blocked)) {
            hooks_.watch_writes();
        }
    }
}

bool Publisher::pump_batches() {
    bool large = false;
    // Acknowledgements first: they are older than whatever this pump was called for (often the reply to
    // the message they acknowledge), and they then leave in one publication per sender.
    flush_acknowledgements();
    const auto tags = session_->mqtt5() ? Outbox::Tags::possible : Outbox::Tags::impossible;
    for (;;) {
        std::vector<Outbox::Ready> batch = outbox_.take(kPumpBatch, tags);
        if (batch.empty()) {
            return large;
        }
        // A short batch means take() found nothing more it may hand over; whoever adds or frees room
        // later pumps again. Only a full batch may leave more behind.
        bool more = batch.size() == kPumpBatch;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            Outbox::Ready& ready = batch[i];
            Publication publication{ready.id,    std::move(ready.topic), std::move(ready.payload),
                                    ready.qos,   ready.retained,         std::nullopt,
                                    std::nullopt};
            if (ready.end_to_end) {
                publication.tag = EndToEndTag{end_to_end_id(config_.instance, ready.id), config_.ack_topic};
            }
            SendResult result;
            try {
                // Signed at each hand-over, not once: a copy sent again (reconnection, end-to-end resend)
                // gets a fresh time and nonce, so the receiver's replay check does not take it for a replay.
                if (hooks_.sign && session_->mqtt5()) {
                    publication.signature =
                        hooks_.sign(*publication.topic, *publication.payload, publication.tag);
                }
                result = session_->publish(publication);
                large = large || (publication.qos == 0 && publication.payload->size() >= kLargeWrite);
            } catch (const std::exception& error) {
                result = SendResult{SendStatus::refused, error.what()};
            }
            if (result.status == SendStatus::not_connected) {
                // The connection is going: this one and the rest of the batch wait for the next.
                for (std::size_t j = i; j < batch.size(); ++j) {
                    outbox_.handed_back(batch[j].id);
                }
                return large;
            }
            if (result.status == SendStatus::refused) {
                outbox_.refused(ready.id,
                                with_code(ErrorNumbers::FB103,
                                          "the MQTT client refused the publication: " + result.error));
                more = true;  // its room in the window is free again
            }
        }
        if (!more) {
            return large;
        }
    }
}

void Publisher::attach(std::unique_ptr<Session> session, std::vector<Control> first) {
    outbox_.set_window(Outbox::Window{std::min(session->receive_maximum(), kFlowWindow),
                                      kUnacknowledgedWindow, kFlowWindowBytes});
    outbox_.connected();
    std::lock_guard<std::mutex> send(send_mutex_);
    session_ = std::move(session);
    link_up_.store(true, std::memory_order_release);
    for (Control& control : first) {
        outbox_.add(Outbox::Kind::control, std::move(control.topic), std::move(control.payload), config_.qos,
                    control.retain, Outbox::EndToEnd::off, Outbox::Link::up);
    }
    pump_locked();  // what waited for this connection, in order
}

std::unique_ptr<Session> Publisher::detach() {
    std::lock_guard<std::mutex> send(send_mutex_);
    link_up_.store(false);
    return std::move(session_);
}

Publisher::Clock::time_point Publisher::sweep_end_to_end() {
    const auto sweep = outbox_.sweep_end_to_end(Clock::now(), config_.end_to_end_resend_interval,
                                                config_.end_to_end_timeout);
    if (sweep.timed_out != 0) {
        hooks_.fault(Fault{
            ErrorNumbers::FB102,
            with_code(ErrorNumbers::FB102,
                      std::to_string(sweep.timed_out) + " message(s) not acknowledged end to end within " +
                          std::to_string(config_.end_to_end_timeout.count()) + " ms: their Delivery failed"),
            {}});
    }
    if (sweep.resend != 0) {
        hooks_.request_work();
    }
    // A sweep walks the whole outbox: a few per resend interval, however many messages are due (and
    // new messages need no wake-up of their own).
    const auto period = std::clamp(config_.end_to_end_resend_interval / 4, std::chrono::milliseconds(10),
                                   std::chrono::milliseconds(1000));
    return Clock::now() + period;
}

void Publisher::acknowledged(const std::string& payload, const std::string& receiver) {
    // "id id ...": at most kAcksPerPublication of them are read, so that a forged payload costs bounded work.
    std::size_t start = 0;
    for (std::size_t read = 0; start < payload.size() && read < kAcksPerPublication; ++read) {
        std::size_t end = payload.find(' ', start);
        if (end == std::string::npos) {
            end = payload.size();
        }
        if (const auto sequence =
                sequence_of(std::string_view(payload).substr(start, end - start), config_.instance)) {
            outbox_.end_to_end_acknowledged(*sequence, receiver);
        }
        start = end + 1;
    }
}

}  // namespace fedbiomed::detail

// The outbound path, from send_message() (or the log forwarder, or presence) to the client: the outbox
// that holds what is owed, the pump that hands it to the connected session in order within the flow
// window, the completions the transport reports back, the end-to-end sweep, and the aggregated report of
// outbox overflows. Any thread may publish; nothing here waits for the broker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "counters.hpp"
#include "inbound_item.hpp"
#include "outbox.hpp"
#include "transport/session.hpp"

namespace fedbiomed::detail {

class Publisher {
public:
    using Clock = std::chrono::steady_clock;

    struct Config {
        int qos = 1;
        Outbox::Limits limits;
        EndToEndAck end_to_end = EndToEndAck::off;  ///< option end_to_end_ack (see publish())
        std::string instance;                       ///< this Messaging object's instance id (end-to-end ids)
        std::string ack_topic;                      ///< where receivers acknowledge our messages
        std::chrono::milliseconds end_to_end_timeout{60000};
        std::chrono::milliseconds end_to_end_resend_interval{2000};
    };

    /// Given by the composition root. Called outside every lock of the publisher; must not block.
    struct Hooks {
        std::function<void()> request_work;      ///< someone should pump() soon (the supervisor's thread)
        std::function<void()> report_overflow;   ///< queue an OverflowReport for the dispatcher thread
        std::function<void(Fault fault)> fault;  ///< queue a fault for the dispatcher thread
        /// The broker refused a control publication (client thread; see Outbox::ControlRefused).
        std::function<void(const std::string& topic, int reason_code)> control_refused;
        /// The receivers of a message on @p topic that acknowledge end to end (announced, online), as
        /// known now. Any thread.
        std::function<std::vector<std::string>(const std::string& topic)> end_to_end_receivers;
        /// Signs a publication as it is handed to the session (MessagingOptions::signing; empty: unsigned).
        /// Called with the send mutex held, on any thread that pumps. May throw (the publication is then
        /// refused).
        std::function<SignatureTag(const std::string& topic, const std::string& payload,
                                   const std::optional<EndToEndTag>& tag)>
            sign;
        /// A QoS 0 write may be left unfinished by the client (a large one, or a full window): someone
        /// should watch the writes and wake the client when they stop moving (the supervisor's thread).
        /// Called with the send mutex held; must not block.
        std::function<void()> watch_writes;
    };

    /// A control publication to make as soon as a session is attached (presence "online").
    struct Control {
        SharedText topic;
        std::string payload;
        Outbox::Retain retain = Outbox::Retain::no;
    };

    Publisher(Config config, Counters& counters, Hooks hooks);

    /// Adds a message or a log record and pumps when connected. @return its Delivery (messages). A message
    /// goes end to end (Config::end_to_end) towards the receivers Hooks::end_to_end_receivers names: with
    /// EndToEndAck::automatic only when there is one, with EndToEndAck::on always.
    /// @throws MessagingError (FB103) when the outbox is full and the policy is throw_error.
    Delivery publish(Outbox::Kind kind, SharedText topic, std::string&& payload);

    /// Adds a control publication at @p qos (dropped at once when not connected) and pumps.
    void publish_control(SharedText topic, std::string&& payload, int qos, Outbox::Retain retain);

    /// An end-to-end acknowledgement of @p id to publish on @p topic (a client thread, which must not call
    /// into the client): gathered with the others waiting for the same topic into one QoS 0 publication
    /// ("id id ...", at most kAcksPerPublication ids) made by the next pump: the reply a handler sends,
    /// flush_acknowledgements_soon() after a message was handled, or the supervisor's periodic pump (a
    /// handler that runs for an hour). No thread is woken for it: a wake-up per message doubled a round
    /// trip on two busy cores. Dropped when not connected (the sender sends the message again).
    void acknowledge_later(const std::string& topic, std::string id);

    /// Pumps when acknowledgements wait (the dispatcher thread, after each message). Never blocks for long.
    void flush_acknowledgements_soon();

    /// Adds a control publication whose completion the caller waits for (presence at stop()) and pumps.
    Delivery publish_control_waited(SharedText topic, std::string&& payload, Outbox::Retain retain);

    /// Hands what waits in the outbox to the session, oldest first, within the window.
    void pump();

    /// See Outbox::writes().
    Outbox::Writes writes() const { return outbox_.writes(); }

    /// A connection is up: @p session becomes the one publications go to; @p first are added before what
    /// waited is pumped.
    void attach(std::unique_ptr<Session> session, std::vector<Control> first);

    /// Removes the session from the publication path (the caller destroys it).
    std::unique_ptr<Session> detach();

    /// The client said the connection is lost (client thread): stop pumping at once. Never throws.
    void link_lost() noexcept { link_up_.store(false, std::memory_order_release); }

    /// True while a session is attached and its connection not known lost.
    bool link_up() const noexcept { return link_up_.load(std::memory_order_acquire); }

    /// The connection was lost: what was in flight waits for the next one (see Outbox::connection_lost()).
    void connection_lost() { outbox_.connection_lost(); }

    /// End-to-end bookkeeping; @return when it has work next.
    Clock::time_point sweep_end_to_end();

    /// Completions reported by the transport (client threads).
    void published(std::uint64_t id) { outbox_.published(id); }
    void publish_failed(std::uint64_t id, const PublishFailure& failure) {
        outbox_.publish_failed(id, failure);
    }
    /// An end-to-end acknowledgement (its payload is the id) of @p receiver arrived (client thread).
    void acknowledged(const std::string& payload, const std::string& receiver);

    /// The overflows since the last call, as one fault text (dispatcher thread); nullopt when none.
    std::optional<Fault> take_overflow_report();

    /// See Outbox.
    std::size_t close(const std::string& error) { return outbox_.close(error); }
    std::size_t fail_all(const std::string& error) { return outbox_.fail_all(error); }
    /// Accepts publications again (start()); a report queued before a stop() was discarded with the queue.
    void open() {
        report_queued_.store(false);
        outbox_.open();
    }
    bool wait_empty(std::chrono::milliseconds timeout) const { return outbox_.wait_empty(timeout); }

private:
    void pump_locked();
    // Hands over batch after batch; @return whether a QoS 0 publication of kLargeWrite bytes or more left.
    bool pump_batches();
    // Moves the acknowledgements gathered by acknowledge_later() into the outbox (send_mutex_ held).
    void flush_acknowledgements();
    void note_overflow(const Outbox::Added& added);

    const Config config_;
    Counters& counters_;
    const Hooks hooks_;
    Outbox outbox_;

    // Overflows not reported yet, and whether an OverflowReport is queued.
    std::atomic<std::uint64_t> refused_unreported_{0};
    std::atomic<std::uint64_t> evicted_unreported_{0};
    std::atomic<bool> report_queued_{false};

    // The connected session; publishers and the supervisor use it under send_mutex_, which also keeps
    // publications leaving in the outbox's order.
    std::mutex send_mutex_;
    std::unique_ptr<Session> session_;
    std::atomic<bool> link_up_{false};

    // End-to-end acknowledgements waiting for the next pump, per topic (acknowledge_later()).
    std::mutex acks_mutex_;
    std::map<std::string, std::vector<std::string>> pending_acks_;
    std::size_t pending_ack_count_ = 0;
};

}  // namespace fedbiomed::detail

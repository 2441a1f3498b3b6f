#include "fedbiomed/messaging.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "counters.hpp"
#include "delivery.hpp"
#include "dispatcher.hpp"
#include "end_to_end.hpp"
#include "error_text.hpp"
#include "fedbiomed/logger.hpp"
#include "fedbiomed/message.hpp"
#include "fedbiomed/version.hpp"
#include "log_forwarder.hpp"
#include "log_hub.hpp"
#include "outbox.hpp"
#include "paho_session.hpp"
#include "presence.hpp"
#include "rate_limiter.hpp"
#include "reconnect_policy.hpp"
#include "takeover_detector.hpp"
#include "topics.hpp"

namespace fedbiomed {

using detail::Counters;
using detail::InboundItem;
using detail::Outbox;
using detail::with_code;

namespace {

using Clock = std::chrono::steady_clock;

// A connection that lasted this long was not a flapping one: the next loss starts the backoff afresh.
constexpr std::chrono::seconds kStableConnection{10};
// Publications handed to Paho per batch when the outbox is flushed (the send mutex is held throughout).
constexpr std::size_t kPumpBatch = 512;
// What may be handed to Paho and not completed yet (performance, docs/performance.md). Paho C 1.3
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
// Faults about inbound payloads logged per second (bursts): the rest are counted (rate_limiter.hpp).
constexpr double kFaultLogRate = 10.0;
constexpr double kFaultLogBurst = 20.0;
// Receivers remember this many end-to-end ids to drop duplicates.
constexpr std::size_t kRecentIds = 65536;
// Waits bounded by these when the component announces its end (clean stop, duplicate id).
constexpr std::chrono::milliseconds kDisconnectTimeout{1000};
constexpr std::chrono::milliseconds kFarewellTimeout{2000};
// The text of a dispatcher item that only wakes the dispatcher to deliver connection-state events.
constexpr const char* kControlToken = "\x01state";

const char* json_kind(const Json& value) noexcept {
    switch (value.type()) {
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::null: return "null";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "a number";
    default: return "not an object";
    }
}

// Durations that are added to the current time must stay far from the clock's range (about 292 years):
// anything above a year is a mistake, not a wish (first_connect_deadline alone may be "forever").
constexpr std::chrono::milliseconds kLongestDuration = std::chrono::hours(24 * 366);

const char* too_long(const MessagingOptions& options) {
    const std::pair<const char*, std::chrono::milliseconds> durations[] = {
        {"connect_timeout", options.connect_timeout},
        {"stop_timeout", options.stop_timeout},
        {"reconnect.max_delay", options.reconnect.max_delay},
        {"takeover_window", options.takeover_window},
        {"end_to_end_timeout", options.end_to_end_timeout},
        {"end_to_end_resend_interval", options.end_to_end_resend_interval},
    };
    for (const auto& [name, value] : durations) {
        if (value > kLongestDuration) {
            return name;
        }
    }
    return nullptr;
}

void validate_options(const MessagingOptions& options) {
    std::string problem;
    if (options.broker.empty()) {
        problem = "broker is empty";
    } else if (options.port < 1 || options.port > 65535) {
        problem = "port " + std::to_string(options.port) + " is not in 1..65535";
    } else if (options.qos < 0 || options.qos > 2) {
        problem = "qos " + std::to_string(options.qos) + " is not 0, 1 or 2";
    } else if (options.connect_timeout.count() <= 0) {
        problem = "connect_timeout must be positive";
    } else if (options.first_connect_deadline.count() <= 0) {
        problem = "first_connect_deadline must be positive";
    } else if (options.keepalive.count() < 0 || options.keepalive.count() > 65535) {
        problem = "keepalive must be in 0..65535 s";
    } else if (options.inbound_queue_capacity == 0) {
        problem = "inbound_queue_capacity must be at least 1";
    } else if (options.max_payload_bytes == 0) {
        problem = "max_payload_bytes must be positive";
    } else if (options.max_json_depth == 0) {
        problem = "max_json_depth must be positive";
    } else if (options.stop_timeout.count() < 0) {
        problem = "stop_timeout must not be negative";
    } else if (options.reconnect.min_delay.count() <= 0 ||
               options.reconnect.max_delay < options.reconnect.min_delay) {
        problem = "reconnect delays must satisfy 0 < min_delay <= max_delay";
    } else if (options.outbox_capacity == 0 || options.outbox_max_bytes == 0) {
        problem = "outbox_capacity and outbox_max_bytes must be positive";
    } else if (options.outbox_capacity > 1000000) {
        problem = "outbox_capacity must not exceed 1000000 (the MQTT client's own buffer)";
    } else if (options.takeover_threshold < 0 || options.takeover_window.count() <= 0) {
        problem = "takeover_threshold must not be negative and takeover_window must be positive";
    } else if (options.session_expiry.count() < 0) {
        problem = "session_expiry must not be negative";
    } else if (options.end_to_end_ack && options.mqtt_version != MqttVersion::v5) {
        problem = "end_to_end_ack needs mqtt_version v5 (the message id travels in MQTT 5 user properties)";
    } else if (options.end_to_end_ack && options.qos == 0) {
        problem = "end_to_end_ack needs qos 1 or 2";
    } else if (options.end_to_end_ack &&
               (options.end_to_end_timeout.count() <= 0 || options.end_to_end_resend_interval.count() <= 0)) {
        problem = "end_to_end_timeout and end_to_end_resend_interval must be positive";
    } else if (!(options.error_rate >= 0.0) || !(options.error_burst >= 1.0) ||
               !(options.forwarded_log_rate >= 0.0) || !(options.forwarded_log_burst >= 1.0) ||
               options.error_rate > 1e9 || options.forwarded_log_rate > 1e9 || options.error_burst > 1e9 ||
               options.forwarded_log_burst > 1e9) {
        problem = "error_rate and forwarded_log_rate must be in 0..1e9, their bursts in 1..1e9";
    } else if (const char* name = too_long(options)) {
        problem = std::string(name) + " must not exceed 366 days";
    } else if (options.session_expiry.count() > 0xFFFFFFFFLL) {
        problem = "session_expiry must not exceed 4294967295 s (MQTT 5)";
    }
    if (!problem.empty()) {
        throw MessagingError(ErrorNumbers::FB103, "invalid messaging options: " + problem);
    }
}

std::string effective_client_id(ComponentType type, const std::string& id, const MessagingOptions& options) {
    if (!options.client_id.empty()) {
        return options.client_id;
    }
    return options.persistent_session ? detail::default_client_id(type, id) : std::string();
}

Clock::time_point saturating_add(Clock::time_point from, std::chrono::milliseconds span) {
    if (span >= std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - from)) {
        return Clock::time_point::max();
    }
    return from + span;
}

// True when Paho refused a publication because it is not connected (it waits for the next connection).
bool is_disconnection(const mqtt::exception& error) {
    const int rc = error.get_return_code();
    return rc == MQTTASYNC_DISCONNECTED || rc == MQTTASYNC_MAX_BUFFERED_MESSAGES ||
           rc == MQTTASYNC_OPERATION_INCOMPLETE;
}

}  // namespace

MessagingOptions MessagingOptions::reference_compatible() {
    MessagingOptions options;
    options.qos = 0;
    options.persistent_session = false;
    options.client_id.clear();
    options.presence = false;
    options.end_to_end_ack = false;
    return options;
}

class Messaging::Impl {
public:
    Impl(MessageHandler on_message, ComponentType type, std::string id, MessagingOptions options)
        : on_message_(std::move(on_message)),
          type_(type),
          id_((validate_component_id(id), std::move(id))),
          options_((validate_options(options), std::move(options))),
          default_topic_(detail::default_topic(type_)),
          subscriptions_(detail::subscriptions(type_, id_)),
          all_subscriptions_(make_all_subscriptions()),
          client_id_(effective_client_id(type_, id_, options_)),
          instance_(detail::make_instance_id()),
          own_presence_topic_(detail::presence_topic(type_, id_)),
          own_ack_topic_(detail::ack_topic(type_, id_)),
          default_topic_ref_(default_topic_),
          researcher_topic_ref_(std::string(detail::kResearcherTopic)),
          logger_topic_ref_(std::string(detail::kLoggerTopic)),
          presence_topic_ref_(own_presence_topic_),
          uri_(detail::PahoSession::make_uri(options_)),
          limits_{options_.max_json_depth, options_.max_payload_bytes},
          outbox_(
              Outbox::Limits{options_.outbox_capacity, options_.outbox_max_bytes, options_.outbox_overflow},
              counters_, [this] { request_work(); },
              [this](const std::string& topic, int reason) { on_control_refused(topic, reason); }),
          takeover_(options_.takeover_threshold, options_.takeover_window),
          error_limiter_(options_.error_rate, options_.error_burst),
          fault_log_limiter_(kFaultLogRate, kFaultLogBurst),
          recent_ids_(kRecentIds),
          dispatcher_(
              options_.inbound_queue_capacity, [this](InboundItem& item) { process(item); },
              [this](std::uint64_t dropped) { report_drops(dropped); }) {
        if (!on_message_) {
            library_logger()->warn("Messaging {}: no message handler defined", id_);
        }
    }

    ~Impl() { stop(); }

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    template <class Handler>
    void set_before_start(Handler& slot, Handler value, const char* name) {
        std::lock_guard<std::mutex> lock(lifecycle_mutex_);
        // After a stop() called from a handler, the dispatcher thread still runs that handler and may
        // read the callbacks: they are only replaced once it has finished.
        if (started_ || dispatcher_.running()) {
            throw MessagingError(ErrorNumbers::FB103, std::string(name) +
                                                          "() must be called before start() (or after stop() "
                                                          "has finished delivering)");
        }
        slot = std::move(value);
    }

    void set_fault_handler(FaultHandler on_fault) {
        set_before_start(on_fault_, std::move(on_fault), "set_fault_handler");
    }
    void set_connection_state_handler(ConnectionStateHandler on_state) {
        set_before_start(on_state_, std::move(on_state), "set_connection_state_handler");
    }
    void set_presence_handler(PresenceHandler on_presence) {
        set_before_start(on_presence_, std::move(on_presence), "set_presence_handler");
    }

    void start(bool block) {
        if (dispatcher_.on_dispatcher_thread()) {
            throw MessagingError(ErrorNumbers::FB103,
                                 "start() must not be called from a message or fault handler");
        }
        std::uint64_t generation = 0;
        {
            std::lock_guard<std::mutex> lock(lifecycle_mutex_);
            {
                std::lock_guard<std::mutex> block_lock(block_mutex_);
                generation = stop_generation_;
            }
            if (!started_) {
                connect_locked();
            }
        }
        if (block) {
            std::unique_lock<std::mutex> block_lock(block_mutex_);
            block_cv_.wait(block_lock, [&] { return stop_generation_ != generation; });
        }
    }

    void stop() noexcept {
        interrupt_start();
        detail::Dispatcher::Stopping stopping;
        bool was_started = false;
        std::size_t abandoned = 0;
        try {
            std::lock_guard<std::mutex> lock(lifecycle_mutex_);
            was_started = started_;
            started_ = false;
            accepting_.store(false);
            uninstall_forwarder();
            if (supervisor_.joinable()) {
                leaving_.store(true);
                if (was_started && !sticky_.load()) {
                    if (options_.presence && connected_.load()) {
                        outbox_.add_control_waited(
                            presence_topic_ref_, presence_payload("offline", "stopped"), options_.qos, true);
                        pump();
                    }
                    // Let what is owed finish first (PUBACKs; a reconnection if one is under way), bounded.
                    outbox_.wait_empty(options_.stop_timeout);
                }
                // What is still pending now will not be waited for: say why before the client goes. Closed,
                // the outbox also refuses a send_message() that passed its accepting_ check just before
                // stop() began (its Delivery fails instead of staying pending for a next start()).
                abandoned = outbox_.close(with_code(
                    ErrorNumbers::FB103, "messaging stopped before the broker acknowledged the publication"));
                {
                    std::lock_guard<std::mutex> state(state_mutex_);
                    stop_requested_ = true;
                    if (connecting_ != nullptr) {
                        connecting_->interrupt();
                    }
                }
                state_cv_.notify_all();
                supervisor_.join();  // it sends DISCONNECT and destroys the client: no Paho callback after
            }
            abandoned += outbox_.fail_all(with_code(
                ErrorNumbers::FB103, "messaging stopped before the broker acknowledged the publication"));
            connected_.store(false);
            stopping = dispatcher_.request_stop();
        } catch (...) {
            // stop() never throws; everything above only throws std::bad_alloc.
        }
        if (stopping.thread.joinable()) {
            stopping.thread.join();
        }
        // What was known of the nodes is stale once stopped; the next start() learns it again from the
        // retained announcements.
        presence_.clear();
        {
            std::lock_guard<std::mutex> block_lock(block_mutex_);
            ++stop_generation_;
        }
        block_cv_.notify_all();
        if (was_started) {
            try {
                if (abandoned != 0 || stopping.discarded != 0) {
                    library_logger()->warn(
                        "Messaging {} stopped: {} publication(s) not acknowledged, {} inbound message(s) not "
                        "delivered",
                        id_, abandoned, stopping.discarded);
                } else {
                    library_logger()->info("Messaging {} stopped", id_);
                }
            } catch (...) {
            }
        }
    }

    Delivery send_message(const Json& msg, const std::optional<std::string>& client) {
        std::string payload = serialize_msg(msg);
        check_size(payload);
        if (client) {
            return publish(mqtt::string_ref(detail::client_topic(*client)), std::move(payload),
                           Outbox::Kind::message);
        }
        return publish(default_topic_ref_, std::move(payload), Outbox::Kind::message);
    }

    Delivery send_error(ErrorNumbers errnum, const std::string& extra_msg, const std::string& researcher_id) {
        if (type_ != ComponentType::node) {
            throw MessagingError(ErrorNumbers::FB103, "send_error is only available to nodes");
        }
        // Before any work: under a flood of bad requests most calls end here, and cheaply.
        const auto allowance = error_limiter_.take(Clock::now());
        if (!allowance.allowed) {
            return refuse_rate_limited_error(allowance.first_refusal);
        }
        if (allowance.refused_before != 0) {
            library_logger()->warn(
                "Messaging {}: {} error message(s) were not sent (send_error is limited to "
                "{}/s, bursts of {})",
                id_, allowance.refused_before, options_.error_rate, options_.error_burst);
        }
        // As the reference does (spec 3.8): the dict, validated by the node-side outgoing factory, then
        // sent with protocol_version appended, which gives its member order on the wire: command, errnum,
        // node_id, extra_msg, researcher_id, protocol_version.
        Json msg = Json::object();
        msg["command"] = "error";
        msg["errnum"] = errnum;
        msg["node_id"] = id_;
        msg["extra_msg"] = extra_msg;
        msg["researcher_id"] = researcher_id;
        (void)NodeMessages::format_outgoing_message(msg);
        msg["protocol_version"] = std::string(kProtocolVersion);
        std::string payload = serialize_msg(msg);
        check_size(payload);
        return publish(researcher_topic_ref_, std::move(payload), Outbox::Kind::message);
    }

    const std::string& default_send_topic() const noexcept { return default_topic_; }
    const std::vector<std::string>& subscribed_topics() const noexcept { return subscriptions_; }
    bool is_connected() const noexcept { return connected_.load(); }
    bool is_failed() const noexcept { return failed_.load(); }
    const std::string& id() const noexcept { return id_; }
    const std::string& client_id() const noexcept { return client_id_; }
    ComponentType component_type() const noexcept { return type_; }
    std::vector<std::string> online_nodes() const { return presence_.online(); }

    MessagingStats stats() const noexcept { return counters_.snapshot(); }

private:
    std::vector<std::string> make_all_subscriptions() const {
        // The reference's topics first (in its order), then the library's own.
        std::vector<std::string> topics = subscriptions_;
        if (options_.presence) {
            topics.push_back(detail::presence_topic(type_, id_));
            if (type_ == ComponentType::researcher) {
                topics.push_back(detail::node_presence_filter());
            }
        }
        if (options_.end_to_end_ack) {
            topics.push_back(detail::ack_topic(type_, id_));
        }
        return topics;
    }

    // send_error() beyond error_rate: bad requests must not make a node flood the broker with error
    // messages (docs/reliability.md, "Under attack"). One log line per episode, one summary after it.
    Delivery refuse_rate_limited_error(bool first_refusal) {
        Counters::bump(counters_.errors_rate_limited);
        Counters::bump(counters_.publish_failures);
        if (first_refusal) {
            library_logger()->warn(
                "Messaging {}: send_error limited to {}/s (bursts of {}): error messages "
                "are not sent until the rate falls (counted in stats().errors_rate_limited)",
                id_, options_.error_rate, options_.error_burst);
        }
        return detail::failed_delivery(with_code(
            ErrorNumbers::FB103, "error message not sent: send_error is limited to " +
                                     std::to_string(options_.error_rate) + " per second (error_rate)"));
    }

    // ---- Lifecycle (start/stop, caller's thread) ----

    // Runs with lifecycle_mutex_ held: starts the dispatcher and the supervisor, and waits for the first
    // connection (or its failure).
    void connect_locked() {
        if (supervisor_.joinable()) {
            supervisor_.join();  // a supervisor that ended on a sticky failure
        }
        dispatcher_.start();
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            stop_requested_ = false;
            lost_signal_ = false;
            work_signal_ = false;
            takeover_signal_ = false;
            taken_over_ = false;
            start_outcome_ = StartOutcome::pending;
            start_error_.clear();
        }
        sticky_.store(false);
        leaving_.store(false);
        presence_refusal_reported_.store(false);
        takeover_.reset();
        outbox_.open();
        accepting_.store(true);
        supervisor_ = std::thread([this] { supervise(); });
        std::string error;
        bool failed = false;
        {
            std::unique_lock<std::mutex> state(state_mutex_);
            state_cv_.wait(state, [&] { return start_outcome_ != StartOutcome::pending; });
            failed = start_outcome_ == StartOutcome::failed;
            error = start_error_;
        }
        if (failed) {
            if (error.empty()) {
                error = "the connection supervisor failed";
            }
            accepting_.store(false);
            supervisor_.join();
            outbox_.close(with_code(ErrorNumbers::FB103, "not connected to the broker: " + error));
            dispatcher_.stop();
            failed_.store(true);
            const MessagingError failure(ErrorNumbers::FB101, error);
            library_logger()->critical("Messaging {}: {}", id_, failure.what());
            throw failure;
        }
        started_ = true;
        library_logger()->info("Messaging {} successfully connected to the message broker {} as {}", id_,
                               uri_, client_id_.empty() ? std::string("(broker-assigned id)") : client_id_);
        if (type_ == ComponentType::node && options_.forward_logs) {
            install_forwarder();
        }
    }

    // stop() called while start() waits: the first connection is abandoned and start() throws FB101.
    void interrupt_start() noexcept {
        try {
            {
                std::lock_guard<std::mutex> state(state_mutex_);
                if (start_outcome_ != StartOutcome::pending) {
                    return;
                }
                stop_requested_ = true;
                if (connecting_ != nullptr) {
                    connecting_->interrupt();
                }
            }
            state_cv_.notify_all();
        } catch (...) {
        }
    }

    void install_forwarder() {
        auto forwarder = std::make_shared<detail::LogForwarder>(
            id_,
            [this](std::string&& payload) {
                publish(logger_topic_ref_, std::move(payload), Outbox::Kind::log);
            },
            counters_, detail::LogForwarder::Rate{options_.forwarded_log_rate, options_.forwarded_log_burst});
        forwarder->set_level(spdlog::level::info);
        if (detail::log_hub().add_forwarder(forwarder)) {
            forwarder_ = std::move(forwarder);
        } else {
            library_logger()->info("Messaging {}: log forwarding already active for another node - ignoring",
                                   id_);
        }
    }

    void uninstall_forwarder() {
        if (forwarder_) {
            // When remove() returns no thread is inside the forwarder any more.
            detail::log_hub().remove(forwarder_);
            forwarder_.reset();
        }
    }

    void check_size(const std::string& payload) const {
        if (payload.size() > options_.max_payload_bytes) {
            throw MessageError(ErrorNumbers::FB601, "message of " + std::to_string(payload.size()) +
                                                        " bytes exceeds max_payload_bytes (" +
                                                        std::to_string(options_.max_payload_bytes) + ")");
        }
    }

    // ---- Publication path (any thread). Never waits for the broker. ----

    Delivery publish(const mqtt::string_ref& topic, std::string&& payload, Outbox::Kind kind) {
        const bool is_log = kind == Outbox::Kind::log;
        auto refuse = [&](const std::string& why) {
            Counters::bump(is_log ? counters_.logs_dropped : counters_.publish_failures);
            return detail::failed_delivery(with_code(ErrorNumbers::FB103, why));
        };
        if (!accepting_.load(std::memory_order_acquire)) {
            return refuse("not connected to the broker, message to " + topic.str() + " not sent");
        }
        if (sticky_.load(std::memory_order_acquire)) {
            return refuse("messaging has failed (" + sticky_reason() + "), message to " + topic.str() +
                          " not sent");
        }
        const bool end_to_end = options_.end_to_end_ack && kind == Outbox::Kind::message;
        const bool connected = connected_.load(std::memory_order_acquire);
        Outbox::Added added =
            outbox_.add(kind, topic, std::move(payload), options_.qos, false, end_to_end, connected);
        if (added.evicted != 0) {
            push_fault(ErrorNumbers::FB103,
                       with_code(ErrorNumbers::FB103,
                                 "outbox full (capacity " + std::to_string(options_.outbox_capacity) +
                                     " messages, " + std::to_string(options_.outbox_max_bytes) + " bytes): " +
                                     std::to_string(added.evicted) + " older message(s) dropped"));
        }
        if (added.rejected) {
            const std::string why = "outbox full (capacity " + std::to_string(options_.outbox_capacity) +
                                    " messages, " + std::to_string(options_.outbox_max_bytes) +
                                    " bytes): message to " + topic.str() + " not sent";
            push_fault(ErrorNumbers::FB103, with_code(ErrorNumbers::FB103, why));
            if (options_.outbox_overflow == OutboxOverflow::throw_error) {
                throw MessagingError(ErrorNumbers::FB103, why);
            }
        }
        // Read again: had the connection come back between the first read and add(), the supervisor's
        // flush might have run before this publication was there to be taken.
        if (added.accepted && connected_.load(std::memory_order_acquire)) {
            pump();
        }
        return added.delivery;
    }

    // Hands what waits in the outbox to the client, oldest first.
    void pump() {
        std::lock_guard<std::mutex> send(send_mutex_);
        pump_locked();
    }

    // send_mutex_ held: the session cannot change, and publications leave in the outbox's order.
    void pump_locked() {
        if (!session_ || !connected_.load(std::memory_order_acquire)) {
            return;
        }
        for (;;) {
            std::vector<Outbox::Ready> batch = outbox_.take(kPumpBatch);
            if (batch.empty()) {
                return;
            }
            // A short batch means take() found nothing more it may hand over; whoever adds or frees room
            // later pumps again. Only a full batch may leave more behind.
            bool more = batch.size() == kPumpBatch;
            for (std::size_t i = 0; i < batch.size(); ++i) {
                Outbox::Ready& ready = batch[i];
                // The outbox id travels as Paho's opaque user context (Outbox::on_success reads it back).
                // NOLINTNEXTLINE(performance-no-int-to-ptr)
                void* context = reinterpret_cast<void*>(static_cast<std::uintptr_t>(ready.id));
                try {
                    std::optional<mqtt::properties> properties;
                    if (ready.end_to_end) {
                        properties = detail::end_to_end_properties(detail::end_to_end_id(instance_, ready.id),
                                                                   own_ack_topic_);
                    }
                    outbox_.attach(ready.id, session_->publish(std::move(ready.topic), *ready.payload,
                                                               ready.qos, ready.retained, context, outbox_,
                                                               properties ? &*properties : nullptr));
                } catch (const mqtt::exception& error) {
                    if (is_disconnection(error)) {
                        // The connection is going: this one and the rest of the batch wait for the next.
                        for (std::size_t j = i; j < batch.size(); ++j) {
                            outbox_.refused(batch[j].id, true, {});
                        }
                        return;
                    }
                    outbox_.refused(
                        ready.id, false,
                        with_code(ErrorNumbers::FB103,
                                  std::string("the MQTT client refused the publication: ") + error.what()));
                    more = true;  // its room in the window is free again
                } catch (const std::exception& error) {
                    outbox_.refused(
                        ready.id, false,
                        with_code(ErrorNumbers::FB103,
                                  std::string("the MQTT client refused the publication: ") + error.what()));
                    more = true;  // its room in the window is free again
                }
            }
            if (!more) {
                return;
            }
        }
    }

    // ---- The supervisor thread: connects, watches the connection, reconnects ----

    enum class StartOutcome { pending, connected, failed };

    enum class Attempt { connected, transient, refused };

    struct AttemptResult {
        Attempt kind = Attempt::transient;
        std::string detail;  // why, without the FB101 text
    };

    enum class Ending { stop, lost, takeover };

    // The supervisor thread's body. Nothing may escape a std::thread (it would terminate the process):
    // an unexpected exception (no entropy source, memory exhausted) becomes a sticky failure, reported.
    void supervise() noexcept {
        try {
            supervise_connection();
        } catch (const std::exception& error) {
            abandon_supervision(error.what());
        } catch (...) {
            abandon_supervision("unknown exception");
        }
    }

    void abandon_supervision(const char* what) noexcept {
        try {
            const std::string detail =
                std::string("the connection supervisor of Messaging ") + id_ + " failed (" + what + ")";
            finish_start(false, detail);  // start() throws it as FB101
            fail_sticky(ErrorNumbers::FB100, with_code(ErrorNumbers::FB100, detail + "; stopped connecting"));
        } catch (...) {
            finish_start_noexcept();
        }
    }

    // Last resort when even the failure could not be built: start() must not wait forever.
    void finish_start_noexcept() noexcept {
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            if (start_outcome_ == StartOutcome::pending) {
                start_outcome_ = StartOutcome::failed;
            }
        }
        sticky_.store(true);
        failed_.store(true);
        connected_.store(false);
        state_cv_.notify_all();
    }

    void supervise_connection() {
        const auto started_at = Clock::now();
        const bool keep_trying = options_.first_connect == FirstConnect::keep_trying;
        const auto first_deadline = saturating_add(started_at, options_.first_connect_deadline);
        std::random_device seed;
        detail::ReconnectPolicy backoff(options_.reconnect,
                                        (static_cast<std::uint64_t>(seed()) << 32U) ^ seed());
        bool ever_connected = false;
        std::uint64_t attempts = 0;
        std::string last_error;
        for (;;) {
            if (stop_requested()) {
                if (!ever_connected) {
                    finish_start(false, "start() interrupted by stop()" +
                                            (last_error.empty() ? std::string()
                                                                : " (last attempt: " + last_error + ")"));
                }
                break;
            }
            ++attempts;
            Counters::bump(counters_.connection_attempts);
            const AttemptResult result = attempt();
            if (result.kind == Attempt::connected) {
                const auto connected_at = Clock::now();
                if (ever_connected) {
                    Counters::bump(counters_.reconnections);
                    library_logger()->info("Messaging {} reconnected to the broker after {} attempt(s)", id_,
                                           attempts);
                } else {
                    finish_start(true, {});
                }
                emit_state(ConnectionState::connected, {}, attempts);
                ever_connected = true;
                attempts = 0;
                const Ending ending = watch();
                if (ending == Ending::stop) {
                    break;
                }
                if (ending == Ending::takeover) {
                    give_up_duplicate();
                    break;
                }
                const std::uint64_t lost_connection = connection_seq_.load();
                const std::string cause = take_loss_cause();
                handle_loss(cause);
                if (takeover_sign_at_loss(lost_connection)) {
                    // The other process has just taken our session over, and may not have seen enough
                    // signs yet: one more connection takes it back (its sign), then we leave for good.
                    if (attempt().kind == Attempt::connected) {
                        give_up_duplicate();
                    } else {
                        fail_duplicate();
                    }
                    break;
                }
                if (Clock::now() - connected_at >= kStableConnection) {
                    backoff.reset();
                }
                if (!options_.reconnect.enabled) {
                    fail_sticky(ErrorNumbers::FB100,
                                with_code(ErrorNumbers::FB100, "Messaging " + id_ +
                                                                   " lost its connection to the broker" +
                                                                   cause + " and reconnection is disabled"));
                    break;
                }
                last_error = "connection lost" + cause;
            } else if (result.kind == Attempt::refused) {
                // Credentials, authorisation, banned...: retrying in a loop would only hammer the broker.
                if (!ever_connected) {
                    finish_start(false, result.detail);
                } else {
                    fail_sticky(
                        ErrorNumbers::FB101,
                        with_code(ErrorNumbers::FB101, result.detail + " (on reconnection; not retried)"));
                }
                break;
            } else {
                last_error = result.detail;
                library_logger()->debug("Messaging {}: connection attempt {} failed: {}", id_, attempts,
                                        result.detail);
                if (!ever_connected && (!keep_trying || Clock::now() >= first_deadline)) {
                    std::string error = result.detail;
                    if (keep_trying) {
                        error += " (gave up after " + std::to_string(attempts) + " attempts in " +
                                 std::to_string(options_.first_connect_deadline.count()) + " ms)";
                    }
                    finish_start(false, error);
                    break;
                }
            }
            auto wake = Clock::now() + backoff.next();
            if (!ever_connected) {
                wake = std::min(wake, first_deadline);
            }
            if (!wait_backoff(wake)) {
                continue;  // stop requested: handled at the top of the loop
            }
        }
        teardown_session(true);
    }

    bool stop_requested() {
        std::lock_guard<std::mutex> state(state_mutex_);
        return stop_requested_;
    }

    void finish_start(bool ok, const std::string& error) {
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            if (start_outcome_ != StartOutcome::pending) {
                return;
            }
            start_outcome_ = ok ? StartOutcome::connected : StartOutcome::failed;
            start_error_ = error;
        }
        state_cv_.notify_all();
    }

    // Sleeps until @p wake (end-to-end deadlines keep being enforced meanwhile). False when stop() asked.
    bool wait_backoff(Clock::time_point wake) {
        for (;;) {
            auto until = wake;
            if (options_.end_to_end_ack) {
                until = std::min(until, sweep_end_to_end());
            }
            std::unique_lock<std::mutex> state(state_mutex_);
            state_cv_.wait_until(state, until, [&] { return stop_requested_; });
            if (stop_requested_) {
                return false;
            }
            if (Clock::now() >= wake) {
                return true;
            }
        }
    }

    detail::SessionSettings make_settings(std::uint64_t seq) const {
        detail::SessionSettings settings;
        settings.client_id = client_id_;
        settings.clean_session = !options_.persistent_session;
        if (options_.presence) {
            settings.will = detail::SessionSettings::Will{own_presence_topic_,
                                                          presence_record("offline", "connection lost", seq)};
        }
        return settings;
    }

    // A new client (no network activity); callbacks carry its generation, so that a late callback of a
    // client already destroyed is ignored.
    std::unique_ptr<detail::PahoSession> make_session() {
        const std::uint64_t generation = ++generation_;
        detail::PahoSession::Callbacks callbacks;
        callbacks.on_message = [this](const mqtt::const_message_ptr& message) { on_paho_message(message); };
        callbacks.on_connection_lost = [this, generation](const std::string& cause) {
            on_paho_connection_lost(generation, cause);
        };
        callbacks.on_disconnect_packet = [this, generation](int reason) {
            on_paho_disconnect_packet(generation, reason);
        };
        return std::make_unique<detail::PahoSession>(options_, make_settings(connection_seq_.load() + 1),
                                                     std::move(callbacks));
    }

    // One connection attempt, with a client of its own (see paho_session.hpp): a failed attempt or a lost
    // connection destroys the client, so nothing Paho held can be sent again behind the Outbox's back.
    AttemptResult attempt() {
        const std::uint64_t seq = connection_seq_.load() + 1;
        attempt_seq_.store(seq);
        AttemptResult result;
        std::unique_ptr<detail::PahoSession> session;
        try {
            try {
                session = make_session();
            } catch (const std::exception& error) {
                // Paho refused to create the client (an address or a client id it cannot use): the same
                // options fail the same way every time, so this is not retried.
                result.kind = Attempt::refused;
                result.detail = error.what();
                return result;
            }
            {
                std::lock_guard<std::mutex> state(state_mutex_);
                if (stop_requested_) {
                    session->interrupt();
                }
                connecting_ = session.get();
                lost_signal_ = false;
                taken_over_ = false;
                loss_cause_.clear();
            }
            const auto deadline = Clock::now() + options_.connect_timeout;
            session->connect(deadline);
            session->subscribe(all_subscriptions_, options_.qos, deadline);
            if (!session->connected()) {
                // Lost between the last SUBACK and now: the connection-lost callback saw "not connected".
                throw MessagingError(ErrorNumbers::FB101, "connection to " + session->endpoint() +
                                                              " lost right after subscribing");
            }
            result.kind = Attempt::connected;
        } catch (const detail::ConnectRefused& error) {
            result.kind = error.transient() ? Attempt::transient : Attempt::refused;
            result.detail = error.detail();
        } catch (const FedbiomedError& error) {
            result.kind = Attempt::transient;
            result.detail = error.detail();
        } catch (const std::exception& error) {
            result.kind = Attempt::transient;
            result.detail = error.what();
        }
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            connecting_ = nullptr;
        }
        if (result.kind != Attempt::connected) {
            // Destroying the client is what cancels a connection attempt still running in Paho's threads.
            session.reset();
            outbox_.release_tokens();
            return result;
        }
        connection_seq_.store(seq);
        outbox_.set_window(Outbox::Window{std::min(session->receive_maximum(), kFlowWindow),
                                          kUnacknowledgedWindow, kFlowWindowBytes});
        outbox_.connected();
        {
            std::lock_guard<std::mutex> send(send_mutex_);
            session_ = std::move(session);
            failed_.store(false);
            connected_.store(true, std::memory_order_release);
            if (options_.presence) {
                // Retained: researchers that subscribe later learn it too; it replaces our will's record.
                outbox_.add(Outbox::Kind::control, presence_topic_ref_, presence_payload("online", {}),
                            options_.qos, true, false, true);
            }
            pump_locked();  // what waited for this connection, in order
        }
        return result;
    }

    // Connected: waits for the loss, stop(), a duplicate-id verdict, or work (re-send, end-to-end sweeps).
    Ending watch() {
        // The end-to-end sweep walks the whole outbox: on its period only, not at every wake-up (the
        // pump is woken every half window of completions under a stream).
        auto next_sweep = Clock::now();
        for (;;) {
            auto until = Clock::time_point::max();
            if (options_.end_to_end_ack) {
                if (Clock::now() >= next_sweep) {
                    next_sweep = sweep_end_to_end();
                }
                until = next_sweep;
            }
            bool work = false;
            {
                std::unique_lock<std::mutex> state(state_mutex_);
                state_cv_.wait_until(state, until, [&] {
                    return stop_requested_ || lost_signal_ || takeover_signal_ || work_signal_;
                });
                if (stop_requested_) {
                    return Ending::stop;
                }
                if (takeover_signal_) {
                    return Ending::takeover;
                }
                if (lost_signal_) {
                    return Ending::lost;
                }
                work = work_signal_;
                work_signal_ = false;
            }
            if (work || (options_.end_to_end_ack && Clock::now() >= next_sweep)) {
                pump();
            }
        }
    }

    // End-to-end bookkeeping; @return when it has work next.
    Clock::time_point sweep_end_to_end() {
        const auto sweep = outbox_.sweep_end_to_end(Clock::now(), options_.end_to_end_resend_interval,
                                                    options_.end_to_end_timeout);
        if (sweep.timed_out != 0) {
            push_fault(
                ErrorNumbers::FB102,
                with_code(ErrorNumbers::FB102, std::to_string(sweep.timed_out) +
                                                   " message(s) not acknowledged end to end within " +
                                                   std::to_string(options_.end_to_end_timeout.count()) +
                                                   " ms: their Delivery failed"));
        }
        if (sweep.resend != 0) {
            request_work();
        }
        // A sweep walks the whole outbox: a few per resend interval, however many messages are due (and
        // new messages need no wake-up of their own).
        const auto period = std::clamp(options_.end_to_end_resend_interval / 4, std::chrono::milliseconds(10),
                                       std::chrono::milliseconds(1000));
        return Clock::now() + period;
    }

    std::string take_loss_cause() {
        std::lock_guard<std::mutex> state(state_mutex_);
        return loss_cause_.empty() ? std::string() : " (" + loss_cause_ + ")";
    }

    void handle_loss(const std::string& cause) {
        connected_.store(false);
        Counters::bump(counters_.connection_losses);
        // What the old client had in flight waits for the next connection; then the old client goes.
        outbox_.connection_lost();
        teardown_session(false);
        const std::string text =
            with_code(ErrorNumbers::FB100, "Messaging " + id_ + " lost its connection to the broker" + cause +
                                               (options_.reconnect.enabled ? "; reconnecting" : ""));
        push_fault(ErrorNumbers::FB100, text);
        emit_state(ConnectionState::disconnected, text, 0);
    }

    // Removes the session from the publication path and destroys it (supervisor thread only).
    void teardown_session(bool clean) {
        std::unique_ptr<detail::PahoSession> session;
        {
            std::lock_guard<std::mutex> send(send_mutex_);
            connected_.store(false);
            session = std::move(session_);
        }
        if (!session) {
            return;
        }
        if (clean) {
            session->disconnect(kDisconnectTimeout);
        }
        session.reset();  // no Paho callback of this client runs after this
        outbox_.release_tokens();
    }

    void fail_sticky(ErrorNumbers code, const std::string& text) {
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            sticky_reason_ = text;
        }
        sticky_.store(true);
        failed_.store(true);
        connected_.store(false);
        teardown_session(true);
        outbox_.close(text);
        try {
            library_logger()->critical("Messaging {}: {}", id_, text);
        } catch (...) {
        }
        push_fault(code, text);
        emit_state(ConnectionState::failed, text, 0);
    }

    std::string sticky_reason() {
        std::lock_guard<std::mutex> state(state_mutex_);
        return sticky_reason_;
    }

    // Another process uses this id (connected: this connection has just taken the session back, the other
    // process's last sign): leave a retained "duplicate" record naming it, disconnect, and stay failed.
    // The record is information for operators, not proof: nobody acts on it (takeover_detector.hpp).
    void give_up_duplicate() {
        std::string other;
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            other = takeover_other_;
        }
        leaving_.store(true);
        if (options_.presence && connected_.load()) {
            detail::PresenceRecord record = make_record("duplicate", takeover_.describe());
            record.other = other;
            Delivery farewell = outbox_.add_control_waited(
                presence_topic_ref_, detail::encode_presence(record), options_.qos, true);
            pump();
            farewell.wait_for(kFarewellTimeout);
        }
        fail_duplicate();
    }

    void fail_duplicate() {
        leaving_.store(true);
        fail_sticky(
            ErrorNumbers::FB101,
            with_code(ErrorNumbers::FB101,
                      "another process is connected with the same component id (" +
                          std::string(detail::type_name(type_)) + " " + id_ +
                          (client_id_.empty() ? std::string() : ", client id " + client_id_) +
                          "): the broker keeps disconnecting one for the other; stopped reconnecting (" +
                          takeover_.describe() + "). Give every component its own id."));
    }

    // Supervisor thread, after the loss of connection @p connection: whether the broker's evidence of a
    // takeover (takeover_detector.hpp) now makes a verdict.
    bool takeover_sign_at_loss(std::uint64_t connection) {
        bool taken_over = false;
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            taken_over = taken_over_;
            taken_over_ = false;
        }
        if (taken_over) {
            return takeover_.sign(Clock::now(),
                                  "session taken over by another connection (MQTT 5 reason code 0x8E)");
        }
        // Without the broker's word (MQTT 3.1.1 has none; Mosquitto 2.0 closes an MQTT 5 connection taken
        // over without it too): the loss counts when another instance's record explains it.
        if (options_.presence) {
            return takeover_.connection_lost(connection, Clock::now());
        }
        return false;
    }

    // ---- Presence records ----

    detail::PresenceRecord make_record(const std::string& state, const std::string& reason,
                                       std::uint64_t seq = 0) const {
        detail::PresenceRecord record;
        record.state = state;
        record.type = detail::type_name(type_);
        record.id = id_;
        record.instance = instance_;
        record.reason = reason;
        record.seq = seq == 0 ? connection_seq_.load() : seq;
        return record;
    }

    std::string presence_record(const std::string& state, const std::string& reason,
                                std::uint64_t seq) const {
        return detail::encode_presence(make_record(state, reason, seq));
    }

    std::string presence_payload(const std::string& state, const std::string& reason) const {
        return detail::encode_presence(make_record(state, reason));
    }

    // ---- Signals to the supervisor (any thread; never block) ----

    void request_work() noexcept {
        try {
            {
                std::lock_guard<std::mutex> state(state_mutex_);
                work_signal_ = true;
            }
            state_cv_.notify_all();
        } catch (...) {
        }
    }

    void request_takeover(const std::string& other) {
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            takeover_signal_ = true;
            takeover_other_ = other;
        }
        state_cv_.notify_all();
    }

    // ---- Paho threads: copy, count, hand over, return. No user code, no logging, no waiting. ----

    void on_paho_message(const mqtt::const_message_ptr& message) {
        const std::string& topic = message->get_topic();
        if (options_.end_to_end_ack && topic == own_ack_topic_) {
            // A receiver acknowledged one of our messages: complete it here, like a PUBACK.
            if (const auto sequence = detail::sequence_of(message->get_payload_str(), instance_)) {
                outbox_.end_to_end_acknowledged(*sequence);
            }
            return;
        }
        const bool is_presence =
            topic.compare(0, detail::kPresencePrefix.size(), detail::kPresencePrefix) == 0;
        if (!is_presence) {
            Counters::bump(counters_.received);  // reference traffic only: presence is the library's own
        }
        InboundItem item;
        item.topic = topic;
        const std::string& payload = message->get_payload_str();
        if (payload.size() > options_.max_payload_bytes) {
            item.kind = InboundItem::Kind::fault;
            item.code = ErrorNumbers::FB601;
            item.text =
                with_code(ErrorNumbers::FB601, "payload of " + std::to_string(payload.size()) + " bytes on " +
                                                   item.topic + " exceeds max_payload_bytes (" +
                                                   std::to_string(options_.max_payload_bytes) +
                                                   "): rejected without decoding");
            Counters::bump(counters_.decode_errors);
        } else {
            // A copy: Paho's message object stays on Paho's thread (its reference count changes inside
            // libpaho-mqttpp3, where ThreadSanitizer cannot follow it to our thread).
            item.payload = payload;
            if (is_presence) {
                // For presence items the text says whether the broker delivered a retained record.
                item.text = message->is_retained() ? "retained" : "live";
            } else if (options_.mqtt_version == MqttVersion::v5) {
                if (auto tag = detail::read_end_to_end(*message)) {
                    item.text = detail::pack_tag(*tag);
                }
            }
        }
        if (dispatcher_.push(std::move(item))) {
            Counters::bump(counters_.inbound_dropped);
        }
    }

    void on_paho_connection_lost(std::uint64_t generation, const std::string& cause) {
        {
            std::lock_guard<std::mutex> state(state_mutex_);
            if (generation != generation_.load()) {
                return;  // a callback of a client already replaced
            }
            lost_signal_ = true;
            loss_cause_ = cause;
        }
        connected_.store(false);
        state_cv_.notify_all();
    }

    void on_paho_disconnect_packet(std::uint64_t generation, int reason) {
        constexpr int kSessionTakenOver = 0x8E;
        if (reason != kSessionTakenOver || generation != generation_.load()) {
            return;
        }
        // Counted by the supervisor when it handles the loss that follows (takeover_detector.hpp).
        std::lock_guard<std::mutex> state(state_mutex_);
        loss_cause_ = "the broker said: session taken over (MQTT 5 reason code 0x8E)";
        taken_over_ = true;
    }

    // Paho thread: the broker refused one of our presence records (MQTT 5 PUBACK reason code), typically
    // an ACL. Said once per start(): presence and duplicate-id detection do not work without it.
    void on_control_refused(const std::string& topic, int reason) noexcept {
        try {
            if (topic != own_presence_topic_ || presence_refusal_reported_.exchange(true)) {
                return;
            }
            push_fault(
                ErrorNumbers::FB103,
                with_code(ErrorNumbers::FB103,
                          "the broker refused the presence announcement on " + topic +
                              " (MQTT 5 reason code " + std::to_string(reason) +
                              (reason == 0x87 ? ", not authorized" : "") +
                              "): researchers cannot follow this component's presence and duplicate "
                              "ids are detected only from the broker's disconnections; allow the topic "
                              "in the broker's ACL, or set presence = false"));
        } catch (...) {
        }
    }

    // ---- Dispatcher thread ----

    void push_fault(ErrorNumbers code, std::string text) {
        InboundItem item;
        item.kind = InboundItem::Kind::fault;
        item.code = code;
        item.text = std::move(text);
        if (dispatcher_.push(std::move(item))) {
            Counters::bump(counters_.inbound_dropped);
        }
    }

    void emit_state(ConnectionState state, std::string reason, std::uint64_t attempts) {
        ConnectionEvent event;
        event.state = state;
        event.reason = std::move(reason);
        event.attempts = attempts;
        {
            std::lock_guard<std::mutex> lock(control_mutex_);
            control_.push_back(std::move(event));
        }
        InboundItem item;
        item.kind = InboundItem::Kind::event;
        item.text = kControlToken;
        if (dispatcher_.push(std::move(item))) {
            Counters::bump(counters_.inbound_dropped);
        }
    }

    void deliver_state_events() {
        std::deque<ConnectionEvent> events;
        {
            std::lock_guard<std::mutex> lock(control_mutex_);
            events.swap(control_);
        }
        for (const auto& event : events) {
            if (!on_state_) {
                continue;
            }
            try {
                on_state_(event);
            } catch (const std::exception& error) {
                log_callback_error("connection-state handler", error.what());
            } catch (...) {
                log_callback_error("connection-state handler", "a non-standard exception");
            }
        }
    }

    void log_callback_error(const char* which, const char* what) noexcept {
        try {
            library_logger()->error("Messaging {}: the {} threw: {}", id_, which, what);
        } catch (...) {
        }
    }

    void process(InboundItem& item) {
        // A state event is delivered at its token's place in the queue, after the messages that arrived
        // before it (the order things happened). A full queue drops messages, not tokens (dispatcher.cpp);
        // should one go anyway, its event is delivered at the next token or the next drop report.
        if (item.kind == InboundItem::Kind::event && item.text == kControlToken) {
            deliver_state_events();
            return;
        }
        if (item.kind == InboundItem::Kind::message) {
            if (item.topic.compare(0, detail::kPresencePrefix.size(), detail::kPresencePrefix) == 0) {
                handle_presence(item.topic, item.payload, item.text == "retained");
            } else {
                handle_message(item);
            }
        } else if (item.kind == InboundItem::Kind::fault) {
            report_fault(item.code, std::move(item.text), std::move(item.topic));
        } else {
            library_logger()->warn("Messaging {}: {}", id_, item.text);
        }
    }

    void handle_presence(const std::string& topic, const std::string& payload, bool retained) {
        std::optional<detail::PresenceRecord> record;
        try {
            record = detail::decode_presence(payload, limits_);
        } catch (const std::exception& error) {
            Counters::bump(counters_.decode_errors);
            const auto* fedbiomed_error = dynamic_cast<const FedbiomedError*>(&error);
            report_fault(ErrorNumbers::FB601,
                         (fedbiomed_error != nullptr ? std::string(error.what())
                                                     : with_code(ErrorNumbers::FB601, error.what())) +
                             " (presence announcement on " + topic + " ignored)",
                         topic);
            return;
        }
        if (!record) {
            return;
        }
        if (topic == own_presence_topic_) {
            own_presence(*record, retained);
            return;
        }
        if (type_ != ComponentType::researcher || detail::node_of_presence_topic(topic) != record->id) {
            return;
        }
        if (auto event = presence_.apply(*record)) {
            library_logger()->debug("Messaging {}: node {} is {} ({})", id_, event->id,
                                    event->online ? "online" : "offline", event->reason);
            if (on_presence_) {
                try {
                    on_presence_(*event);
                } catch (const std::exception& error) {
                    log_callback_error("presence handler", error.what());
                } catch (...) {
                    log_callback_error("presence handler", "a non-standard exception");
                }
            }
        }
    }

    // A record on our own presence topic. Anyone the broker's ACL lets publish there can write one, so a
    // record changes nothing by itself (takeover_detector.hpp): it is counted, and under MQTT 3.1.1 it
    // explains a connection the broker closed.
    void own_presence(const detail::PresenceRecord& record, bool retained) {
        const std::uint64_t connection = connection_seq_.load();
        if (record.instance == instance_) {
            // Our own record. A retained one is replaced by the "online" we publish at each connection; a
            // live "offline" of an earlier connection is its will, published by a broker that noticed it
            // dead only after we had reconnected (a stalled network): announce again, so that the retained
            // record is right. Once per connection: a copy of our record replayed by someone else must not
            // make us publish again and again. (The will of the current connection comes from a broker
            // shutting down: the connection is closing, the next one announces itself anyway.)
            if (!retained && record.state != "online" && record.seq < connection && connected_.load() &&
                !leaving_.load() && reannounced_connection_.exchange(connection) != connection) {
                outbox_.add(Outbox::Kind::control, presence_topic_ref_, presence_payload("online", {}),
                            options_.qos, true, false, true);
                pump();
            }
            return;
        }
        Counters::bump(counters_.foreign_presence_records);
        const std::string who = "instance " + record.instance + " (" + record.state + ")";
        // Attributed to the connection being made or in use (a retained record arrives as we subscribe).
        if (takeover_.foreign_record(attempt_seq_.load(), Clock::now(), who)) {
            request_takeover(record.instance);
            return;
        }
        if (warned_foreign_connection_ != connection) {
            // Once per connection: a flood of records must not become a flood of log lines.
            warned_foreign_connection_ = connection;
            library_logger()->warn(
                "Messaging {}: a presence record of another {} appeared on {} ({}): ignored. If another "
                "process "
                "uses this component id the broker will keep disconnecting one for the other, which is "
                "detected; a record alone proves nothing (anyone allowed to publish there can write it)",
                id_, who, own_presence_topic_, retained ? "retained" : "live");
        }
    }

    void send_end_to_end_ack(const detail::EndToEndTag& tag) {
        if (!detail::is_ack_topic(tag.ack_topic)) {
            return;  // not an acknowledgement topic: never publish where a message tells us to
        }
        // QoS 0: an acknowledgement takes no place in the in-flight window, and a lost one only costs a
        // duplicate (the sender sends again, this receiver drops it and acknowledges again).
        std::string payload = tag.id;
        const Outbox::Added added = outbox_.add(Outbox::Kind::control, mqtt::string_ref(tag.ack_topic),
                                                std::move(payload), 0, false, false, connected_.load());
        if (added.accepted && connected_.load(std::memory_order_acquire)) {
            pump();
        }
    }

    void handle_message(InboundItem& item) {
        const std::string& topic = item.topic;
        const std::string& payload = item.payload;
        std::optional<detail::EndToEndTag> tag;
        if (!item.text.empty()) {
            tag = detail::unpack_tag(item.text);
        }
        if (tag && !recent_ids_.insert(tag->id)) {
            // Handled already: acknowledge again (the first acknowledgement may be lost), do not deliver.
            Counters::bump(counters_.duplicates_dropped);
            send_end_to_end_ack(*tag);
            return;
        }
        handle_payload(topic, payload);
        if (tag) {
            send_end_to_end_ack(*tag);
        }
    }

    void handle_payload(const std::string& topic, const std::string& payload) {
        if (!on_message_) {
            return;  // as the reference: without a handler the payload is ignored (warned at construction)
        }
        Json decoded;
        try {
            decoded = deserialize_msg(payload, limits_);
        } catch (const FedbiomedError& error) {
            Counters::bump(counters_.decode_errors);
            report_fault(error.code(), std::string(error.what()) + " (payload on " + topic + ")", topic);
            return;
        } catch (const std::exception& error) {
            Counters::bump(counters_.decode_errors);
            report_fault(
                ErrorNumbers::FB601,
                with_code(ErrorNumbers::FB601, std::string(error.what()) + " (payload on " + topic + ")"),
                topic);
            return;
        }
        if (!decoded.is_object()) {
            Counters::bump(counters_.decode_errors);
            report_fault(
                ErrorNumbers::FB601,
                with_code(ErrorNumbers::FB601,
                          "payload on " + topic + " is not a JSON object (it is " + json_kind(decoded) + ")"),
                topic);
            return;
        }
        try {
            if (check_message_version(decoded).verdict == VersionVerdict::warn) {
                Counters::bump(counters_.version_warnings);
            }
        } catch (const FedbiomedError& error) {
            Counters::bump(counters_.version_errors);
            report_fault(error.code(), std::string(error.what()) + " (message on " + topic + " ignored)",
                         topic);
            return;
        } catch (const std::exception& error) {
            Counters::bump(counters_.version_errors);
            report_fault(ErrorNumbers::FB625,
                         with_code(ErrorNumbers::FB625,
                                   std::string(error.what()) + " (message on " + topic + " ignored)"),
                         topic);
            return;
        }
        Counters::bump(counters_.handled);
        try {
            on_message_(decoded, topic);
        } catch (const FedbiomedError& error) {
            Counters::bump(counters_.handler_errors);
            report_fault(error.code(),
                         std::string(error.what()) + " (thrown by the message handler on " + topic + ")",
                         topic);
        } catch (const std::exception& error) {
            Counters::bump(counters_.handler_errors);
            report_fault(
                ErrorNumbers::FB103,
                with_code(ErrorNumbers::FB103, "the message handler threw on " + topic + ": " + error.what()),
                topic);
        } catch (...) {
            Counters::bump(counters_.handler_errors);
            report_fault(ErrorNumbers::FB103,
                         with_code(ErrorNumbers::FB103,
                                   "the message handler threw a non-standard exception on " + topic),
                         topic);
        }
    }

    void report_drops(std::uint64_t dropped) {
        deliver_state_events();  // in case a token was among the dropped items
        report_fault(
            ErrorNumbers::FB100,
            with_code(ErrorNumbers::FB100,
                      "inbound queue full (capacity " + std::to_string(options_.inbound_queue_capacity) +
                          "): " + std::to_string(dropped) + " oldest message(s) dropped"),
            {});
    }

    void report_fault(ErrorNumbers code, std::string text, std::string topic) noexcept {
        try {
            // Faults about inbound payloads come at the rate a hostile client chooses: the log (which a
            // node forwards on general/logger) gets a bounded number of lines and a count of the rest; the
            // fault handler still gets every one.
            const auto allowance = topic.empty() ? detail::RateLimiter::Outcome{true, 0, false}
                                                 : fault_log_limiter_.take(Clock::now());
            if (allowance.allowed && allowance.refused_before != 0) {
                library_logger()->error(
                    "Messaging {}: {} (and {} similar fault(s) about inbound payloads not "
                    "logged before it; see stats())",
                    id_, text, allowance.refused_before);
            } else if (allowance.allowed) {
                library_logger()->error("Messaging {}: {}", id_, text);
            }
        } catch (...) {
        }
        if (!on_fault_) {
            return;
        }
        try {
            MessagingFault fault;
            fault.code = code;
            fault.message = std::move(text);
            fault.topic = std::move(topic);
            on_fault_(fault);
        } catch (const std::exception& error) {
            log_callback_error("fault handler", error.what());
        } catch (...) {
            log_callback_error("fault handler", "a non-standard exception");
        }
    }

    // Immutable after construction (read from every thread without locks).
    const MessageHandler on_message_;
    // Written before start() only, read by the threads it starts.
    FaultHandler on_fault_;
    ConnectionStateHandler on_state_;
    PresenceHandler on_presence_;
    const ComponentType type_;
    const std::string id_;
    const MessagingOptions options_;
    const std::string default_topic_;
    const std::vector<std::string> subscriptions_;
    const std::vector<std::string> all_subscriptions_;
    const std::string client_id_;
    const std::string instance_;
    const std::string own_presence_topic_;
    const std::string own_ack_topic_;
    const mqtt::string_ref default_topic_ref_;
    const mqtt::string_ref researcher_topic_ref_;
    const mqtt::string_ref logger_topic_ref_;
    const mqtt::string_ref presence_topic_ref_;
    const std::string uri_;
    const DecodeLimits limits_;

    Counters counters_;
    Outbox outbox_;
    detail::PresenceTracker presence_;
    detail::TakeoverDetector takeover_;
    detail::RateLimiter error_limiter_;
    detail::RateLimiter fault_log_limiter_;
    detail::RecentIds recent_ids_;  // dispatcher thread only

    std::atomic<bool> connected_{false};
    std::atomic<bool> failed_{false};
    std::atomic<bool> accepting_{false};  // started: publications are accepted (sent or buffered)
    std::atomic<bool> sticky_{false};     // a sticky failure: publications are refused
    std::atomic<bool> presence_refusal_reported_{false};  // once per start()
    std::atomic<bool> leaving_{false};          // announcing our end: our own records must not be "repaired"
    std::atomic<std::uint64_t> generation_{0};  // connection attempts made (callbacks carry theirs)
    std::atomic<std::uint64_t> connection_seq_{0};  // successful connections (presence record order)
    std::atomic<std::uint64_t> attempt_seq_{
        0};  // the connection being made or in use (connection_seq_ + 1 or =)
    std::atomic<std::uint64_t> reannounced_connection_{0};  // connection that already repaired its record
    std::uint64_t warned_foreign_connection_ = 0;           // dispatcher thread only

    std::mutex lifecycle_mutex_;                       // serialises start() and stop()
    bool started_ = false;                             // guarded by lifecycle_mutex_
    std::shared_ptr<detail::LogForwarder> forwarder_;  // guarded by lifecycle_mutex_
    std::thread supervisor_;                           // started and joined under lifecycle_mutex_

    // The supervisor's state, guarded by state_mutex_; state_cv_ wakes it (and start()).
    std::mutex state_mutex_;
    std::condition_variable state_cv_;
    bool stop_requested_ = false;
    bool lost_signal_ = false;
    bool work_signal_ = false;
    bool takeover_signal_ = false;
    bool taken_over_ = false;  // the broker said "session taken over" (MQTT 5) before this loss
    std::string takeover_other_;
    std::string loss_cause_;
    std::string sticky_reason_;
    StartOutcome start_outcome_ = StartOutcome::connected;
    std::string start_error_;
    detail::PahoSession* connecting_ = nullptr;  // the attempt stop() may interrupt

    // The connected session; publishers and the supervisor use it under send_mutex_.
    std::mutex send_mutex_;
    std::unique_ptr<detail::PahoSession> session_;

    // Connection-state events waiting for the dispatcher thread.
    std::mutex control_mutex_;
    std::deque<ConnectionEvent> control_;

    std::mutex block_mutex_;
    std::condition_variable block_cv_;
    std::uint64_t stop_generation_ = 0;

    // Last: its thread uses everything above, and it is stopped before they are destroyed.
    detail::Dispatcher dispatcher_;
};

// ---- Messaging ----

Messaging::Messaging(MessageHandler on_message, ComponentType type, std::string id, std::string broker,
                     int port)
    : Messaging(std::move(on_message), type, std::move(id), [&] {
          MessagingOptions options;
          options.broker = std::move(broker);
          options.port = port;
          return options;
      }()) {}

Messaging::Messaging(MessageHandler on_message, ComponentType type, std::string id, MessagingOptions options)
    : impl_(std::make_unique<Impl>(std::move(on_message), type, std::move(id), std::move(options))) {}

Messaging::~Messaging() = default;

void Messaging::set_fault_handler(FaultHandler on_fault) {
    impl_->set_fault_handler(std::move(on_fault));
}

void Messaging::set_connection_state_handler(ConnectionStateHandler on_state) {
    impl_->set_connection_state_handler(std::move(on_state));
}

void Messaging::set_presence_handler(PresenceHandler on_presence) {
    impl_->set_presence_handler(std::move(on_presence));
}

void Messaging::start(bool block) {
    impl_->start(block);
}

void Messaging::stop() noexcept {
    impl_->stop();
}

Delivery Messaging::send_message(const Json& msg, const std::optional<std::string>& client) {
    return impl_->send_message(msg, client);
}

Delivery Messaging::send_error(ErrorNumbers errnum, const std::string& extra_msg,
                               const std::string& researcher_id) {
    return impl_->send_error(errnum, extra_msg, researcher_id);
}

const std::string& Messaging::default_send_topic() const noexcept {
    return impl_->default_send_topic();
}

const std::vector<std::string>& Messaging::subscribed_topics() const noexcept {
    return impl_->subscribed_topics();
}

bool Messaging::is_connected() const noexcept {
    return impl_->is_connected();
}

bool Messaging::is_failed() const noexcept {
    return impl_->is_failed();
}

const std::string& Messaging::client_id() const noexcept {
    return impl_->client_id();
}

std::vector<std::string> Messaging::online_nodes() const {
    return impl_->online_nodes();
}

const std::string& Messaging::id() const noexcept {
    return impl_->id();
}

ComponentType Messaging::component_type() const noexcept {
    return impl_->component_type();
}

MessagingStats Messaging::stats() const noexcept {
    return impl_->stats();
}

}  // namespace fedbiomed

// Messaging::Impl, the composition root: it builds the parts, wires them with callbacks and runs
// start()/stop(). The parts (docs/architecture.md) call each other only through what it hands them:
//
//   Impl ─┬─ ConnectionSupervisor (connection_supervisor.hpp): lifecycle Phase, connects, reconnects
//         ├─ Publisher (publisher.hpp): outbox, pump, flow window, end-to-end sweep
//         ├─ InboundPipeline (inbound_pipeline.hpp): queue, dispatcher thread, decode, handler
//         ├─ PresenceService (presence_service.hpp): our records, duplicate-id evidence, the nodes
//         ├─ UserCallbacks (user_callbacks.hpp): the only caller of the user's callbacks
//         └─ PahoSession (transport/): made per connection attempt, the only code that sees Paho
#include "fedbiomed/messaging.hpp"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <utility>

#include <spdlog/spdlog.h>

#include "certificate_identity.hpp"
#include "connection_supervisor.hpp"
#include "counters.hpp"
#include "delivery_state.hpp"
#include "error_text.hpp"
#include "fedbiomed/logger.hpp"
#include "fedbiomed/message.hpp"
#include "fedbiomed/version.hpp"
#include "inbound_pipeline.hpp"
#include "log_forwarder.hpp"
#include "log_hub.hpp"
#include "message_signing.hpp"
#include "messaging_options_check.hpp"
#include "presence_service.hpp"
#include "publisher.hpp"
#include "rate_limiter.hpp"
#include "takeover_detector.hpp"
#include "topics.hpp"
#include "transport/paho_session.hpp"
#include "transport/receive_thread_doorbell.hpp"
#include "user_callbacks.hpp"

namespace fedbiomed {

using detail::Counters;
using detail::Outbox;
using detail::SharedText;
using detail::with_code;

namespace {

// Bounded wait for the "duplicate" record to leave before a duplicate id's sticky failure.
constexpr std::chrono::milliseconds kFarewellTimeout{2000};
// At most this long setting up the doorbell of Paho's receive thread (a loopback connection: about a
// millisecond, 110 ms when Paho's thread starts before its socket exists); without it, connections only
// take longer.
constexpr std::chrono::milliseconds kDoorbellBudget{2000};

std::string effective_client_id(ComponentType type, const std::string& id, const MessagingOptions& options) {
    if (!options.client_id.empty()) {
        return options.client_id;
    }
    return options.persistent_session ? detail::default_client_id(type, id) : std::string();
}

std::vector<std::string> all_subscriptions(ComponentType type, const std::string& id,
                                           const MessagingOptions& options) {
    // The reference's topics first (in its order), then the library's own.
    std::vector<std::string> topics = detail::subscriptions(type, id);
    const bool end_to_end = options.end_to_end_ack != EndToEndAck::off;
    if (options.presence) {
        topics.push_back(detail::presence_topic(type, id));
        if (type == ComponentType::researcher) {
            topics.push_back(detail::node_presence_filter());
        } else if (end_to_end) {
            // A node follows the researchers' announcements for their end-to-end capability only.
            topics.push_back(detail::presence_filter(ComponentType::researcher));
        }
    }
    if (end_to_end) {
        // Last: the broker sends the retained presence records right after their SUBACK, so when this
        // last SUBACK returns the peers' capabilities are known (PresenceService::peer_record()).
        topics.push_back(detail::ack_filter(type, id));
    }
    return topics;
}

SharedText shared(std::string text) {
    return std::make_shared<const std::string>(std::move(text));
}

// An end-to-end id is "<16 hex digits>:<sequence>"; a longer one is not ours to echo back.
constexpr std::size_t kLongestEndToEndId = 64;

constexpr const char* kStopped = "messaging stopped before the broker acknowledged the publication";

}  // namespace

class Messaging::Impl {
public:
    Impl(MessageHandler on_message, ComponentType type, std::string id, MessagingOptions options)
        : type_(type),
          id_((validate_component_id(id), std::move(id))),
          options_((detail::validate_options(options), std::move(options))),
          default_topic_(detail::default_topic(type_)),
          subscriptions_(detail::subscriptions(type_, id_)),
          client_id_(effective_client_id(type_, id_, options_)),
          instance_(detail::make_instance_id()),
          default_topic_ref_(shared(default_topic_)),
          researcher_topic_ref_(shared(std::string(detail::kResearcherTopic))),
          logger_topic_ref_(shared(std::string(detail::kLoggerTopic))),
          presence_topic_ref_(shared(detail::presence_topic(type_, id_))),
          signing_(detail::MessageSigning::make(options_.signing, id_)),
          callbacks_(id_, std::move(on_message)),
          takeover_(options_.takeover_threshold, options_.takeover_window),
          error_limiter_(options_.error_rate, options_.error_burst),
          publisher_(publisher_config(), counters_, publisher_hooks()),
          presence_(presence_config(), counters_, takeover_, callbacks_, presence_hooks()),
          supervisor_(supervisor_config(), counters_, takeover_, supervisor_hooks()),
          inbound_(inbound_config(), counters_, callbacks_, inbound_hooks()) {
        if (!callbacks_.has_message_handler()) {
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
        if (supervisor_.started() || inbound_.dispatcher().running()) {
            throw MessagingError(ErrorNumbers::FB103, std::string(name) +
                                                          "() must be called before start() (or after stop() "
                                                          "has finished delivering)");
        }
        slot = std::move(value);
    }

    void set_fault_handler(FaultHandler value) {
        set_before_start(callbacks_.on_fault, std::move(value), "set_fault_handler");
    }
    void set_connection_state_handler(ConnectionStateHandler value) {
        set_before_start(callbacks_.on_state, std::move(value), "set_connection_state_handler");
    }
    void set_presence_handler(PresenceHandler value) {
        set_before_start(callbacks_.on_presence, std::move(value), "set_presence_handler");
    }

    void start(bool block) {
        if (inbound_.dispatcher().on_dispatcher_thread()) {
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
            if (!supervisor_.started()) {
                connect_locked();
            }
        }
        if (block) {
            std::unique_lock<std::mutex> block_lock(block_mutex_);
            block_cv_.wait(block_lock, [&] { return stop_generation_ != generation; });
        }
    }

    void stop() noexcept {
        supervisor_.interrupt_start();
        inbound_.dispatcher().end_holds();  // what stop() waits for below needs the client's thread
        detail::Dispatcher::Stopping stopping;
        bool was_started = false;
        std::size_t abandoned = 0;
        try {
            std::lock_guard<std::mutex> lock(lifecycle_mutex_);
            const detail::Phase before = supervisor_.begin_leaving();
            was_started = before == detail::Phase::connected || before == detail::Phase::reconnecting ||
                          before == detail::Phase::farewell || before == detail::Phase::failed;
            uninstall_forwarder();
            if (was_started && before != detail::Phase::failed) {
                // In farewell the retained record says "duplicate": it stays the last word.
                if (options_.presence && publisher_.link_up() && before != detail::Phase::farewell) {
                    publisher_.publish_control_waited(
                        presence_topic_ref_, presence_.payload("offline", "stopped"), Outbox::Retain::yes);
                }
                // Let what is owed finish first (PUBACKs; a reconnection if one is under way), bounded.
                publisher_.wait_empty(options_.stop_timeout);
            }
            // What is still pending now will not be waited for: say why before the client goes. Closed, the
            // outbox also refuses a send_message() that passed the phase check just before stop() began
            // (its Delivery fails instead of staying pending for a next start()).
            abandoned = publisher_.close(with_code(ErrorNumbers::FB103, kStopped));
            supervisor_.stop_and_join();
            abandoned += publisher_.fail_all(with_code(ErrorNumbers::FB103, kStopped));
            publisher_.detach();
            supervisor_.finish_stop(before);
            stopping = inbound_.dispatcher().request_stop();
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
            return publish(shared(detail::client_topic(*client)), std::move(payload), Outbox::Kind::message);
        }
        return publish(default_topic_ref_, std::move(payload), Outbox::Kind::message);
    }

    Delivery send_error(ErrorNumbers errnum, const std::string& extra_msg, const std::string& researcher_id) {
        if (type_ != ComponentType::node) {
            throw MessagingError(ErrorNumbers::FB103, "send_error is only available to nodes");
        }
        // Before any work: under a flood of bad requests most calls end here, and cheaply.
        const auto allowance = error_limiter_.take(detail::RateLimiter::Clock::now());
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
    bool is_connected() const noexcept { return publisher_.link_up(); }
    bool is_failed() const noexcept { return supervisor_.is_failed(); }
    std::string broker() const { return supervisor_.broker(); }
    const std::string& id() const noexcept { return id_; }
    const std::string& client_id() const noexcept { return client_id_; }
    ComponentType component_type() const noexcept { return type_; }
    std::vector<std::string> online_nodes() const { return presence_.online(); }
    std::vector<std::string> end_to_end_peers() const { return presence_.acknowledging_peers(); }
    MessagingStats stats() const noexcept { return counters_.snapshot(); }

private:
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

    // ---- The wiring: each part gets its configuration and the callbacks it may call ----

    detail::Publisher::Config publisher_config() const {
        detail::Publisher::Config config;
        config.qos = options_.qos;
        config.limits =
            Outbox::Limits{options_.outbox_capacity, options_.outbox_max_bytes, options_.outbox_overflow};
        config.end_to_end = options_.end_to_end_ack;
        config.instance = instance_;
        config.ack_topic = detail::ack_topic(type_, id_);
        config.end_to_end_timeout = options_.end_to_end_timeout;
        config.end_to_end_resend_interval = options_.end_to_end_resend_interval;
        return config;
    }

    detail::Publisher::Hooks publisher_hooks() {
        detail::Publisher::Hooks hooks;
        hooks.request_work = [this] { supervisor_.request_work(); };
        hooks.watch_writes = [this] { supervisor_.watch_writes(); };
        hooks.report_overflow = [this] { inbound_.push(detail::OverflowReport{}); };
        hooks.fault = [this](detail::Fault fault) { inbound_.push(std::move(fault)); };
        if (signing_) {
            hooks.sign = [this](const std::string& topic, const std::string& payload,
                                const std::optional<detail::EndToEndTag>& tag) {
                return signing_->sign(topic, payload, tag);
            };
        }
        hooks.control_refused = [this](const std::string& topic, int reason) {
            control_refused(topic, reason);
        };
        hooks.end_to_end_receivers = [this](const std::string& topic) { return end_to_end_receivers(topic); };
        return hooks;
    }

    // Any thread: who must acknowledge a message on @p topic end to end. A researcher's broadcast: every
    // node that announced it; a message to one node: that node, if it announced it; a node's message to the
    // researchers: every researcher that announced it.
    std::vector<std::string> end_to_end_receivers(const std::string& topic) const {
        if (topic == *default_topic_ref_) {
            return presence_.acknowledging_peers();
        }
        if (type_ == ComponentType::researcher &&
            topic.compare(0, detail::kTopicPrefix.size(), detail::kTopicPrefix) == 0) {
            std::string node = topic.substr(detail::kTopicPrefix.size());
            if (presence_.peer_acknowledges(node)) {
                return {std::move(node)};
            }
        }
        return {};
    }

    // Client thread: the broker refused one of our presence records (MQTT 5 PUBACK reason code), typically
    // an ACL. Said once per start(): presence and duplicate-id detection do not work without it.
    void control_refused(const std::string& topic, int reason) {
        if (topic != *presence_topic_ref_) {
            report_refusal(topic, reason);
            return;
        }
        if (presence_refusal_reported_.exchange(true)) {
            return;
        }
        inbound_.push(detail::Fault{
            ErrorNumbers::FB103,
            with_code(
                ErrorNumbers::FB103,
                "the broker refused the presence announcement on " + topic + " (MQTT 5 reason code " +
                    std::to_string(reason) + (reason == 0x87 ? ", not authorized" : "") +
                    "): researchers cannot follow this component's presence and duplicate ids are detected "
                    "only from the broker's disconnections; allow the topic in the broker's ACL, or set "
                    "presence = false"),
            {}});
    }

    // Client thread: the broker refused a publication to @p topic (MQTT 5 PUBACK reason code). Its Delivery
    // fails; the fault says it once per topic and start(), as a component that keeps sending where an ACL
    // forbids it would otherwise fill the fault queue.
    void report_refusal(const std::string& topic, int reason) {
        {
            std::lock_guard<std::mutex> lock(refused_topics_mutex_);
            if (refused_topics_.size() >= kRefusedTopicsReported || !refused_topics_.insert(topic).second) {
                return;
            }
        }
        inbound_.push(detail::Fault{
            ErrorNumbers::FB103,
            with_code(
                ErrorNumbers::FB103,
                "the broker refused the publication to " + topic + " (" + detail::puback_reason_text(reason) +
                    "): the broker's ACL does not let this component publish there (said once per topic)"),
            topic});
    }

    detail::PresenceService::Config presence_config() const {
        return detail::PresenceService::Config{
            type_,
            id_,
            instance_,
            *presence_topic_ref_,
            DecodeLimits{options_.max_json_depth, detail::kMaxPresenceRecordBytes},
            options_.presence_heartbeat,
            signing_ != nullptr};
    }

    detail::PresenceService::Hooks presence_hooks() {
        detail::PresenceService::Hooks hooks;
        hooks.connection_seq = [this] { return supervisor_.connection_seq(); };
        hooks.attempt_seq = [this] { return supervisor_.attempt_seq(); };
        hooks.may_repair = [this] {
            return supervisor_.phase() == detail::Phase::connected && publisher_.link_up();
        };
        hooks.announce = [this](std::string&& payload) {
            publisher_.publish_control(presence_topic_ref_, std::move(payload), options_.qos,
                                       Outbox::Retain::yes);
        };
        hooks.heartbeat = [this](std::string&& payload) {
            // QoS 0, not retained: a lost one is covered by the next, and the broker stores nothing.
            publisher_.publish_control(presence_topic_ref_, std::move(payload), 0, Outbox::Retain::no);
        };
        hooks.check_nodes = [this] { return inbound_.push(detail::PresenceCheck{}); };
        hooks.takeover = [this](const std::string& other) { supervisor_.request_takeover(other); };
        return hooks;
    }

    detail::ConnectionSupervisor::Config supervisor_config() const {
        detail::ConnectionSupervisor::Config config;
        config.id = id_;
        config.type = type_;
        config.client_id = client_id_;
        config.brokers = detail::broker_addresses(options_);
        config.subscriptions = all_subscriptions(type_, id_, options_);
        config.mqtt_version = options_.mqtt_version;
        config.qos = options_.qos;
        config.persistent_session = options_.persistent_session;
        config.presence = options_.presence;
        config.connect_timeout = options_.connect_timeout;
        config.first_connect = options_.first_connect;
        config.first_connect_deadline = options_.first_connect_deadline;
        config.reconnect = options_.reconnect;
        return config;
    }

    detail::ConnectionSupervisor::Hooks supervisor_hooks() {
        detail::ConnectionSupervisor::Hooks hooks;
        hooks.make_session = [this](std::uint64_t generation, std::uint64_t seq,
                                    const detail::BrokerAddress& broker, MqttVersion version, bool fallback) {
            return make_session(generation, seq, broker, version, fallback);
        };
        hooks.attach = [this](std::unique_ptr<detail::Session> session) {
            // Only an MQTT 5 connection carries the ids: announce what this connection can do.
            presence_.set_acknowledging(session->mqtt5() && options_.end_to_end_ack != EndToEndAck::off);
            std::vector<detail::Publisher::Control> first;
            if (options_.presence) {
                presence_.connected(detail::PresenceService::Clock::now());
                // Retained: researchers that subscribe later learn it too; it replaces our will's record.
                first.push_back({presence_topic_ref_, presence_.payload("online", {}), Outbox::Retain::yes});
            }
            publisher_.attach(std::move(session), std::move(first));
        };
        hooks.detach = [this] { return publisher_.detach(); };
        hooks.connection_lost = [this] {
            presence_.disconnected();
            publisher_.connection_lost();
        };
        // Always: besides the end-to-end deadlines of our messages, its periodic pump hands over the
        // acknowledgements of messages queued behind a long handler (a sender may force end to end on us).
        // With presence, the same pass sends our heartbeats and notices the peers' that stopped.
        hooks.sweep = [this] {
            const auto next = publisher_.sweep_end_to_end();
            if (!options_.presence) {
                return next;
            }
            // At most 10 passes a second for presence: the peers' announced periods (network input) must
            // not make this thread walk the outbox at their pace.
            const auto now = detail::PresenceService::Clock::now();
            return std::min(next, std::max(presence_.tick(now), now + std::chrono::milliseconds(100)));
        };
        hooks.pump = [this] { publisher_.pump(); };
        hooks.fault = [this](detail::Fault fault) { inbound_.push(std::move(fault)); };
        hooks.state = [this](ConnectionEvent event) { inbound_.push(detail::StateChange{std::move(event)}); };
        hooks.close_outbox = [this](const std::string& error) { publisher_.close(error); };
        hooks.writes = [this] { return publisher_.writes(); };
        // Rung without the publisher's lock: a thread busy pumping does not mean the partial write moves.
        // Supervisor thread, like make_session(), the only other user of doorbell_.
        hooks.wake_client = [this] { return doorbell_ && doorbell_->ring(); };
        hooks.farewell = [this](const std::string& other, const std::string& why) {
            if (!options_.presence || !publisher_.link_up()) {
                return;
            }
            detail::PresenceRecord record = presence_.record("duplicate", why);
            record.other = other;
            publisher_
                .publish_control_waited(presence_topic_ref_, detail::encode_presence(record),
                                        Outbox::Retain::yes)
                .wait_for(kFarewellTimeout);
        };
        return hooks;
    }

    detail::InboundPipeline::Config inbound_config() const {
        detail::InboundPipeline::Config config;
        config.id = id_;
        if (options_.end_to_end_ack != EndToEndAck::off) {
            config.own_ack_prefix = detail::ack_topic(type_, id_) + "/";
            if (options_.presence) {
                const auto peer =
                    type_ == ComponentType::node ? ComponentType::researcher : ComponentType::node;
                config.peer_presence_prefix = detail::presence_topic(peer, "");
            }
        }
        config.max_payload_bytes = options_.max_payload_bytes;
        config.queue_capacity = options_.inbound_queue_capacity;
        config.max_bytes = options_.inbound_max_bytes;
        config.hold_patience = detail::hold_patience(options_.keepalive);
        config.limits = DecodeLimits{options_.max_json_depth, options_.max_payload_bytes};
        config.signing = signing_.get();
        config.peer_type = type_ == ComponentType::node ? ComponentType::researcher : ComponentType::node;
        return config;
    }

    detail::InboundPipeline::Hooks inbound_hooks() {
        detail::InboundPipeline::Hooks hooks;
        hooks.acknowledged = [this](const std::string& payload, const std::string& receiver) {
            publisher_.acknowledged(payload, receiver);
        };
        hooks.flush_acks = [this] { publisher_.flush_acknowledgements_soon(); };
        hooks.peer_presence = [this](const std::string& topic, const std::string& payload) {
            presence_.peer_record(topic, payload);
        };
        hooks.send_ack = [this](const detail::EndToEndTag& tag) { send_end_to_end_ack(tag); };
        hooks.presence = [this](const detail::InboundPresence& presence) { presence_.received(presence); };
        hooks.presence_check = [this] { presence_.expire_nodes(); };
        hooks.overflow = [this] {
            if (auto fault = publisher_.take_overflow_report()) {
                callbacks_.fault(std::move(*fault));
            }
        };
        return hooks;
    }

    // A new client (no network activity); callbacks carry its generation, so that a late callback of a
    // client already destroyed is ignored.
    // Throws MessagingError (FB101) when the client certificate has expired or is not this component's
    // (certificate_identity.hpp): checked before every connection to a TLS broker, so that a renewed or
    // replaced file is read again, and a refusal is final (never retried in a loop).
    std::unique_ptr<detail::Session> make_session(std::uint64_t generation, std::uint64_t seq,
                                                  const detail::BrokerAddress& broker, MqttVersion version,
                                                  bool fallback) {
        if (broker.tls && !options_.tls.cert_file.empty()) {
            detail::check_client_certificate(options_.tls.cert_file, options_.tls.identity_attribute, id_);
        }
        if (signing_ && version != MqttVersion::v5) {
            // Never unsigned behind the operator's back: the signature needs MQTT 5's user properties.
            throw MessagingError(
                ErrorNumbers::FB101,
                "signed messages need MQTT 5, and the broker " + broker.display() +
                    " speaks MQTT 3.1.1 only (mqtt_version automatic fell back): refusing to "
                    "connect unsigned (signing.key_file is set)");
        }
        detail::SessionSettings settings;
        settings.broker = broker;
        if (!doorbell_ || !doorbell_->working()) {
            // Once per component (and per process while one holds it), on the first attempt: from then on
            // every connection is noticed by Paho's receive thread at once (receive_thread_doorbell.hpp).
            doorbell_ = detail::ReceiveThreadDoorbell::acquire(kDoorbellBudget);
        }
        settings.doorbell = doorbell_;
        // fallback: the persistent session cannot be resumed there (connection_supervisor.cpp).
        settings.client_id = fallback ? detail::fallback_client_id(client_id_) : client_id_;
        settings.clean_session = fallback || !options_.persistent_session;
        settings.mqtt_version = version;
        if (options_.presence) {
            settings.will = detail::SessionSettings::Will{
                *presence_topic_ref_, presence_.payload("offline", "connection lost", seq), std::nullopt};
            if (signing_) {
                // Signed now, published by the broker when the connection dies: presence records are checked
                // for authenticity only, not freshness (docs/security.md).
                settings.will->signature = signing_->sign(settings.will->topic, settings.will->payload, {});
            }
        }
        detail::SessionCallbacks callbacks;
        callbacks.on_message = [this](const detail::ReceivedMessage& message) { inbound_.received(message); };
        callbacks.on_connection_lost = [this, generation](const std::string& cause) {
            publisher_.link_lost();
            supervisor_.connection_lost(generation, cause);
        };
        callbacks.on_disconnect_packet = [this, generation](int reason) {
            supervisor_.disconnect_packet(generation, reason);
        };
        callbacks.on_published = [this](std::uint64_t publication) { publisher_.published(publication); };
        callbacks.on_publish_failed = [this](std::uint64_t publication,
                                             const detail::PublishFailure& failure) {
            publisher_.publish_failed(publication, failure);
        };
        return std::make_unique<detail::PahoSession>(options_, settings, std::move(callbacks));
    }

    // ---- Lifecycle (caller's thread) ----

    // Runs with lifecycle_mutex_ held: starts the dispatcher and the supervisor, and waits for the first
    // connection (or its failure).
    void connect_locked() {
        supervisor_.join();  // a supervisor that ended on a sticky failure
        inbound_.dispatcher().start();
        takeover_.reset();
        presence_refusal_reported_.store(false);
        {
            std::lock_guard<std::mutex> lock(refused_topics_mutex_);
            refused_topics_.clear();
        }
        publisher_.open();
        if (const auto error = supervisor_.start()) {
            publisher_.close(with_code(ErrorNumbers::FB103, "not connected to the broker: " + *error));
            inbound_.dispatcher().stop();
            const MessagingError failure(ErrorNumbers::FB101, *error);
            library_logger()->critical("Messaging {}: {}", id_, failure.what());
            throw failure;
        }
        library_logger()->info("Messaging {} successfully connected to the message broker {} as {}", id_,
                               supervisor_.broker(),
                               client_id_.empty() ? std::string("(broker-assigned id)") : client_id_);
        if (type_ == ComponentType::node && options_.forward_logs) {
            install_forwarder();
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

    // ---- Publication (any thread). Never waits for the broker. ----

    Delivery publish(const SharedText& topic, std::string&& payload, Outbox::Kind kind) {
        if (auto refusal = supervisor_.refusal(*topic)) {
            Counters::bump(kind == Outbox::Kind::log ? counters_.logs_dropped : counters_.publish_failures);
            return detail::failed_delivery(with_code(ErrorNumbers::FB103, *refusal));
        }
        return publisher_.publish(kind, topic, std::move(payload));
    }

    // Dispatcher thread: acknowledges a handled message to its sender.
    // Client thread (see InboundPipeline::received()): never calls into the client, the supervisor's
    // thread hands the acknowledgement over.
    void send_end_to_end_ack(const detail::EndToEndTag& tag) {
        if (!detail::is_ack_topic(tag.ack_topic) || tag.id.size() > kLongestEndToEndId) {
            return;  // not an acknowledgement topic: never publish where a message tells us to
        }
        // QoS 0: an acknowledgement takes no place in the in-flight window, and a lost one only costs a
        // duplicate (the sender sends again, this receiver drops it and acknowledges again). In our own
        // name: the topic's last level, which a broker ACL can hold us to.
        publisher_.acknowledge_later(tag.ack_topic + "/" + id_, tag.id);
    }

    // Immutable after construction (read from every thread without locks).
    const ComponentType type_;
    const std::string id_;
    const MessagingOptions options_;
    const std::string default_topic_;
    const std::vector<std::string> subscriptions_;
    const std::string client_id_;
    const std::string instance_;
    const SharedText default_topic_ref_;
    const SharedText researcher_topic_ref_;
    const SharedText logger_topic_ref_;
    const SharedText presence_topic_ref_;
    // Signed messages: our key and the trusted keys (null when signing is off). Before the parts that use it.
    const std::unique_ptr<const detail::MessageSigning> signing_;

    // The parts, in dependency order: each is destroyed before what it uses.
    Counters counters_;
    detail::UserCallbacks callbacks_;
    detail::TakeoverDetector takeover_;
    detail::RateLimiter error_limiter_;
    std::atomic<bool> presence_refusal_reported_{false};       // once per start()
    static constexpr std::size_t kRefusedTopicsReported = 64;  // bounds the set below
    std::mutex refused_topics_mutex_;
    std::set<std::string> refused_topics_;  // topics whose refusal was reported since start()
    detail::Publisher publisher_;
    detail::PresenceService presence_;
    // Paho's receive thread's doorbell (transport/receive_thread_doorbell.hpp), acquired at the first
    // connection attempt and kept until this component is destroyed, so that reconnections find it ready.
    // Used on the supervisor thread only (make_session() and the wake_client hook); released after the
    // supervisor's sessions.
    std::shared_ptr<detail::ReceiveThreadDoorbell> doorbell_;
    detail::ConnectionSupervisor supervisor_;
    // Last: its dispatcher thread uses everything above, and it is stopped before they are destroyed.
    detail::InboundPipeline inbound_;

    std::mutex lifecycle_mutex_;                       // serialises start() and stop()
    std::shared_ptr<detail::LogForwarder> forwarder_;  // guarded by lifecycle_mutex_

    // start(true) waits for the next stop().
    std::mutex block_mutex_;
    std::condition_variable block_cv_;
    std::uint64_t stop_generation_ = 0;
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

std::string Messaging::broker() const {
    return impl_->broker();
}

const std::string& Messaging::client_id() const noexcept {
    return impl_->client_id();
}

std::vector<std::string> Messaging::online_nodes() const {
    return impl_->online_nodes();
}

std::vector<std::string> Messaging::end_to_end_peers() const {
    return impl_->end_to_end_peers();
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

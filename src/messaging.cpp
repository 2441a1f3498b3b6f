#include "fedbiomed/messaging.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include <spdlog/spdlog.h>

#include "counters.hpp"
#include "delivery.hpp"
#include "dispatcher.hpp"
#include "fedbiomed/logger.hpp"
#include "fedbiomed/version.hpp"
#include "log_forwarder.hpp"
#include "log_hub.hpp"
#include "paho_session.hpp"
#include "topics.hpp"

namespace fedbiomed {

using detail::Counters;
using detail::InboundItem;
using detail::PendingPublications;

namespace {

std::string with_code(ErrorNumbers code, const std::string& detail) {
    std::string text(error_text(code));
    text += ": ";
    text += detail;
    return text;
}

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
    }
    if (!problem.empty()) {
        throw MessagingError(ErrorNumbers::FB103, "invalid messaging options: " + problem);
    }
}

}  // namespace

class Messaging::Impl {
public:
    Impl(MessageHandler on_message, ComponentType type, std::string id, MessagingOptions options)
        : on_message_(std::move(on_message)),
          type_(type),
          id_((validate_component_id(id), std::move(id))),
          options_((validate_options(options), std::move(options))),
          default_topic_(detail::default_topic(type_)),
          subscriptions_(detail::subscriptions(type_, id_)),
          default_topic_ref_(default_topic_),
          researcher_topic_ref_(std::string(detail::kResearcherTopic)),
          logger_topic_ref_(std::string(detail::kLoggerTopic)),
          limits_{options_.max_json_depth, options_.max_payload_bytes},
          pending_(counters_),
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

    void set_fault_handler(FaultHandler on_fault) {
        std::lock_guard<std::mutex> lock(lifecycle_mutex_);
        if (started_) {
            throw MessagingError(ErrorNumbers::FB103, "set_fault_handler() must be called before start()");
        }
        on_fault_ = std::move(on_fault);
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
        detail::Dispatcher::Stopping stopping;
        bool was_started = false;
        std::size_t abandoned = 0;
        try {
            std::lock_guard<std::mutex> lock(lifecycle_mutex_);
            was_started = started_;
            started_ = false;
            uninstall_forwarder();
            connected_.store(false);
            std::unique_ptr<detail::PahoSession> session;
            {
                std::unique_lock<std::shared_mutex> write(session_mutex_);
                // Let what was handed to Paho finish first (PUBACKs at QoS 1/2), bounded by stop_timeout.
                if (session_ && pending_.size() != 0) {
                    write.unlock();
                    pending_.wait_empty(options_.stop_timeout);
                    write.lock();
                }
                session = std::move(session_);
            }
            // What is still pending now will not be waited for: say why before Paho discards it (-11).
            abandoned = pending_.fail_all(with_code(
                ErrorNumbers::FB103, "messaging stopped before the broker acknowledged the publication"));
            if (session) {
                session->disconnect(std::chrono::milliseconds(1000));
                session.reset();  // no Paho callback runs after this
            }
            pending_.fail_all(with_code(ErrorNumbers::FB103,
                                        "messaging stopped before the broker acknowledged the publication"));
            stopping = dispatcher_.request_stop();
        } catch (...) {
            // stop() never throws; everything above only throws std::bad_alloc.
        }
        if (stopping.thread.joinable()) {
            stopping.thread.join();
        }
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
                           PendingPublications::Kind::message);
        }
        return publish(default_topic_ref_, std::move(payload), PendingPublications::Kind::message);
    }

    Delivery send_error(ErrorNumbers errnum, const std::string& extra_msg, const std::string& researcher_id) {
        if (type_ != ComponentType::node) {
            throw MessagingError(ErrorNumbers::FB103, "send_error is only available to nodes");
        }
        // The reference's member order: command, errnum, node_id, extra_msg, researcher_id, protocol_version.
        Json msg = Json::object();
        msg["command"] = "error";
        msg["errnum"] = errnum;
        msg["node_id"] = id_;
        msg["extra_msg"] = extra_msg;
        msg["researcher_id"] = researcher_id;
        msg["protocol_version"] = std::string(kProtocolVersion);
        std::string payload = serialize_msg(msg);
        check_size(payload);
        return publish(researcher_topic_ref_, std::move(payload), PendingPublications::Kind::message);
    }

    const std::string& default_send_topic() const noexcept { return default_topic_; }
    const std::vector<std::string>& subscribed_topics() const noexcept { return subscriptions_; }
    bool is_connected() const noexcept { return connected_.load(); }
    bool is_failed() const noexcept { return failed_.load(); }
    const std::string& id() const noexcept { return id_; }
    ComponentType component_type() const noexcept { return type_; }
    MessagingStats stats() const noexcept { return counters_.snapshot(); }

private:
    // Runs with lifecycle_mutex_ held.
    void connect_locked() {
        dispatcher_.start();
        const auto deadline = detail::PahoSession::Clock::now() + options_.connect_timeout;
        std::unique_ptr<detail::PahoSession> session;
        try {
            detail::PahoSession::Callbacks callbacks;
            callbacks.on_message = [this](mqtt::const_message_ptr message) {
                on_paho_message(std::move(message));
            };
            callbacks.on_connection_lost = [this](const std::string& cause) {
                on_paho_connection_lost(cause);
            };
            session = std::make_unique<detail::PahoSession>(options_, std::move(callbacks), pending_);
            session->connect(deadline);
            session->subscribe(subscriptions_, options_.qos, deadline);
            if (!session->connected()) {
                // Lost between the last SUBACK and now: the connection-lost callback saw "not connected".
                throw MessagingError(ErrorNumbers::FB101, "connection to " + session->endpoint() +
                                                              " lost right after subscribing");
            }
        } catch (const std::exception& error) {
            failed_.store(true);
            // Destroying the client is what cancels a connection attempt still running in Paho's threads.
            session.reset();
            dispatcher_.stop();
            library_logger()->critical("Messaging {}: {}", id_, error.what());
            if (dynamic_cast<const MessagingError*>(&error) != nullptr) {
                throw;
            }
            throw MessagingError(ErrorNumbers::FB101, error.what());
        }
        {
            std::unique_lock<std::shared_mutex> write(session_mutex_);
            session_ = std::move(session);
        }
        failed_.store(false);
        connected_.store(true);
        started_ = true;
        library_logger()->info("Messaging {} successfully connected to the message broker {}", id_,
                               session_uri());
        if (type_ == ComponentType::node && options_.forward_logs) {
            install_forwarder();
        }
    }

    std::string session_uri() {
        std::shared_lock<std::shared_mutex> read(session_mutex_);
        return session_ ? session_->uri() : std::string();
    }

    void install_forwarder() {
        auto forwarder = std::make_shared<detail::LogForwarder>(
            id_,
            [this](std::string&& payload) {
                publish(logger_topic_ref_, std::move(payload), PendingPublications::Kind::log);
            },
            counters_);
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

    // The one publication path (messages, errors, log records). Never waits for the broker.
    // The topic is taken by value and moved into Paho: no reference count of it changes on this thread
    // after Paho took its own (see PahoSession::publish()).
    Delivery publish(mqtt::string_ref topic, std::string&& payload, PendingPublications::Kind kind) {
        const bool is_log = kind == PendingPublications::Kind::log;
        auto refuse = [&](const std::string& why) {
            Counters::bump(is_log ? counters_.logs_dropped : counters_.publish_failures);
            return detail::failed_delivery(with_code(ErrorNumbers::FB103, why));
        };
        if (!connected_.load(std::memory_order_acquire)) {
            return refuse("not connected to the broker, message to " + topic.str() + " not sent");
        }
        std::shared_ptr<Delivery::Shared> shared;
        if (!is_log) {
            shared = std::make_shared<Delivery::Shared>();
        }
        std::shared_lock<std::shared_mutex> read(session_mutex_);
        if (!session_) {
            return refuse("not connected to the broker, message to " + topic.str() + " not sent");
        }
        void* context = pending_.add(shared, kind);
        try {
            session_->publish(std::move(topic), payload, options_.qos, context);
        } catch (const std::exception& error) {
            pending_.cancel(
                context, with_code(ErrorNumbers::FB103,
                                   std::string("the MQTT client refused the publication: ") + error.what()));
        }
        if (is_log) {
            return Delivery(nullptr);
        }
        return Delivery(std::move(shared));
    }

    // ---- Paho threads: copy, count, hand over, return. No user code, no logging, no waiting. ----

    void on_paho_message(mqtt::const_message_ptr message) {
        Counters::bump(counters_.received);
        InboundItem item;
        item.topic = message->get_topic();
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
        }
        if (dispatcher_.push(std::move(item))) {
            Counters::bump(counters_.inbound_dropped);
        }
    }

    void on_paho_connection_lost(const std::string& cause) {
        const bool was_connected = connected_.exchange(false);
        failed_.store(true);
        // No automatic reconnection yet: nothing pending will ever complete.
        pending_.fail_all(
            with_code(ErrorNumbers::FB103, "connection to the broker lost before the publication completed"));
        if (was_connected) {
            InboundItem item;
            item.kind = InboundItem::Kind::fault;
            item.code = ErrorNumbers::FB100;
            item.text =
                with_code(ErrorNumbers::FB100, "Messaging " + id_ + " lost its connection to the broker" +
                                                   (cause.empty() ? std::string() : " (" + cause + ")"));
            dispatcher_.push(std::move(item));
        }
    }

    // ---- Dispatcher thread ----

    void process(InboundItem& item) {
        if (item.kind == InboundItem::Kind::message) {
            handle_message(item.topic, item.payload);
        } else if (item.kind == InboundItem::Kind::fault) {
            report_fault(item.code, std::move(item.text), std::move(item.topic));
        } else {
            library_logger()->warn("Messaging {}: {}", id_, item.text);
        }
    }

    void handle_message(const std::string& topic, const std::string& payload) {
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
        report_fault(
            ErrorNumbers::FB100,
            with_code(ErrorNumbers::FB100,
                      "inbound queue full (capacity " + std::to_string(options_.inbound_queue_capacity) +
                          "): " + std::to_string(dropped) + " oldest message(s) dropped"),
            {});
    }

    void report_fault(ErrorNumbers code, std::string text, std::string topic) noexcept {
        try {
            library_logger()->error("Messaging {}: {}", id_, text);
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
            try {
                library_logger()->error("Messaging {}: the fault handler threw: {}", id_, error.what());
            } catch (...) {
            }
        } catch (...) {
            try {
                library_logger()->error("Messaging {}: the fault handler threw a non-standard exception",
                                        id_);
            } catch (...) {
            }
        }
    }

    // Immutable after construction (read from every thread without locks).
    const MessageHandler on_message_;
    FaultHandler on_fault_;  // written before start() only, read by the dispatcher thread it starts
    const ComponentType type_;
    const std::string id_;
    const MessagingOptions options_;
    const std::string default_topic_;
    const std::vector<std::string> subscriptions_;
    const mqtt::string_ref default_topic_ref_;
    const mqtt::string_ref researcher_topic_ref_;
    const mqtt::string_ref logger_topic_ref_;
    const DecodeLimits limits_;

    Counters counters_;
    PendingPublications pending_;

    std::atomic<bool> connected_{false};
    std::atomic<bool> failed_{false};

    std::mutex lifecycle_mutex_;                       // serialises start() and stop()
    bool started_ = false;                             // guarded by lifecycle_mutex_
    std::shared_ptr<detail::LogForwarder> forwarder_;  // guarded by lifecycle_mutex_

    // Shared by publishers (the client is used, never replaced), exclusive to install or remove it.
    mutable std::shared_mutex session_mutex_;
    std::unique_ptr<detail::PahoSession> session_;

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

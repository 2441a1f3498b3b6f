#include "endpoint.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include <mqtt/async_client.h>

#include "child.hpp"
#include "fedbiomed/messaging.hpp"
#include "fedbiomed/version.hpp"
#include <unistd.h>

namespace fbm_bench {
namespace {

using fedbiomed::Json;

// The limits Messaging applies by default, so the raw clients decode under the same rules.
fedbiomed::DecodeLimits default_limits() {
    const fedbiomed::MessagingOptions defaults;
    return fedbiomed::DecodeLimits{defaults.max_json_depth, defaults.max_payload_bytes};
}

std::string publish_topic(Side side) {
    return side == Side::researcher ? "general/nodes" : "general/researcher";
}

std::vector<std::string> subscribe_topics(Side side, const std::string& id) {
    if (side == Side::researcher) {
        return {"general/researcher", "general/monitoring", "general/logger"};
    }
    return {"general/nodes", "general/" + id};
}

// ------------------------------------------------------------------------------------------------
// This library
// ------------------------------------------------------------------------------------------------

class LibEndpoint final : public Endpoint {
public:
    explicit LibEndpoint(EndpointConfig config) : config_(std::move(config)) {}

    void start(MessageSink sink) override {
        fedbiomed::MessagingOptions options;  // the library's defaults, except where the broker is
        options.broker = "127.0.0.1";
        options.port = config_.port;
        if (config_.qos >= 0) {
            options.qos = config_.qos;
        }
        options.persistent_session = !config_.clean_session;
        // An A/B switch for the cost of end-to-end acknowledgement (docs/performance.md), inherited by every
        // role process: FBM_BENCH_END_TO_END=off measures the library without it.
        if (const char* end_to_end = std::getenv("FBM_BENCH_END_TO_END")) {
            if (std::string(end_to_end) == "off") {
                options.end_to_end_ack = fedbiomed::EndToEndAck::off;
            }
        }
        // The same for the waker of Paho's receive thread: FBM_BENCH_KEEP_AWAKE=off.
        if (const char* keep_awake = std::getenv("FBM_BENCH_KEEP_AWAKE")) {
            if (std::string(keep_awake) == "off") {
                options.keep_awake = false;
            }
        }
        // And for the protocol: FBM_BENCH_MQTT=3.1.1 (the default negotiates MQTT 5 with Mosquitto).
        if (const char* version = std::getenv("FBM_BENCH_MQTT")) {
            if (std::string(version) == "3.1.1") {
                options.mqtt_version = fedbiomed::MqttVersion::v3_1_1;
            }
        }
        const auto type = config_.side == Side::researcher ? fedbiomed::ComponentType::researcher
                                                           : fedbiomed::ComponentType::node;
        messaging_ = std::make_unique<fedbiomed::Messaging>(
            [sink = std::move(sink)](const Json& msg, const std::string& /*topic*/) { sink(msg); }, type,
            config_.id, options);
        messaging_->set_fault_handler([this](const fedbiomed::MessagingFault& fault) {
            if (fault.code == fedbiomed::ErrorNumbers::FB601 ||
                fault.code == fedbiomed::ErrorNumbers::FB104 ||
                fault.code == fedbiomed::ErrorNumbers::FB625) {
                bad_.fetch_add(1, std::memory_order_relaxed);
            }
            std::fprintf(stderr, "fbm-bench %s: fault: %s\n", config_.id.c_str(), fault.message.c_str());
        });
        messaging_->start();
    }

    void send(const Json& msg) override {
        last_ = messaging_->send_message(msg);
        if (last_.state() == fedbiomed::Delivery::State::failed) {
            // Refused at once (the outbox is full): this publication is dropped, never sent.
            dropped_.fetch_add(1, std::memory_order_relaxed);
        }
        if (config_.max_outstanding > 0) {
            outstanding_.push_back(last_);
            while (outstanding_.size() > config_.max_outstanding) {
                outstanding_.front().wait_for(std::chrono::minutes(1));
                outstanding_.pop_front();
            }
        }
    }

    void flush() override {
        // Bounded, so that a stuck publication costs one minute of the run, not the run.
        if (!last_.wait_for(std::chrono::minutes(1))) {
            std::fprintf(stderr, "fbm-bench %s: last publication still pending after 1 minute\n",
                         config_.id.c_str());
        }
    }

    void stop() override {
        if (messaging_) {
            messaging_->stop();
        }
    }

    std::uint64_t drops() const override { return dropped_.load(); }
    std::uint64_t bad_messages() const override { return bad_.load(); }

private:
    EndpointConfig config_;
    std::unique_ptr<fedbiomed::Messaging> messaging_;
    fedbiomed::Delivery last_;
    std::deque<fedbiomed::Delivery> outstanding_;
    std::atomic<std::uint64_t> bad_{0};
    std::atomic<std::uint64_t> dropped_{0};
};

// ------------------------------------------------------------------------------------------------
// Raw Paho C++, as a newcomer writes it: Paho's defaults everywhere (create options, connect options,
// no TCP_NODELAY), the codec of this library for the JSON work, and a retry when Paho refuses a
// publication because its buffer of 100 queued commands is full (error -12, thrown as an exception).
// ------------------------------------------------------------------------------------------------

// The careful variant (paho_wait) is the same client, written by a user who read Paho's documentation:
// it keeps at most kCarefulWindow publications outstanding and waits on the oldest token before the next
// one, so Paho never refuses (-12 comes at 100 queued commands) and no time goes into a retry loop. Both
// keep Paho's defaults otherwise (no TCP_NODELAY: Paho offers no option for it).
constexpr std::size_t kCarefulWindow = 64;

class PahoEndpoint final : public Endpoint {
public:
    explicit PahoEndpoint(EndpointConfig config, bool careful = false)
        : config_(with_window(std::move(config), careful)),
          topic_(publish_topic(config_.side)),
          limits_(default_limits()),
          client_("tcp://127.0.0.1:" + std::to_string(config_.port), config_.id) {}

    ~PahoEndpoint() override {
        try {
            stop();
        } catch (...) {
        }
    }

    void start(MessageSink sink) override {
        sink_ = std::move(sink);
        client_.set_message_callback([this](mqtt::const_message_ptr message) {
            try {
                Json msg = fedbiomed::deserialize_msg(message->get_payload_str(), limits_);
                fedbiomed::check_message_version(msg);
                sink_(msg);
            } catch (const std::exception& error) {
                bad_.fetch_add(1, std::memory_order_relaxed);
                std::fprintf(stderr, "fbm-bench %s: bad message: %s\n", config_.id.c_str(), error.what());
            }
        });
        client_.connect()->wait();
        connected_ = true;
        if (config_.subscribe) {
            for (const auto& topic : subscribe_topics(config_.side, config_.id)) {
                client_.subscribe(topic, effective_qos(config_))->wait();
            }
        }
    }

    void send(const Json& msg) override {
        const std::string payload = fedbiomed::serialize_msg(msg);
        for (;;) {
            try {
                last_ =
                    client_.publish(topic_, payload.data(), payload.size(), effective_qos(config_), false);
                if (config_.max_outstanding > 0) {
                    outstanding_.push_back(last_);
                    while (outstanding_.size() > config_.max_outstanding) {
                        outstanding_.front()->wait();
                        outstanding_.pop_front();
                    }
                }
                return;
            } catch (const mqtt::exception& error) {
                if (error.get_return_code() != MQTTASYNC_MAX_BUFFERED_MESSAGES) {
                    throw;
                }
                ++retries_;  // refused by Paho and sent again: nothing is lost
                std::this_thread::yield();
            }
        }
    }

    void flush() override {
        if (last_) {
            last_->wait();
        }
    }

    void stop() override {
        if (connected_) {
            connected_ = false;
            client_.disconnect()->wait();
        }
    }

    std::uint64_t retries() const override { return retries_; }
    std::uint64_t bad_messages() const override { return bad_.load(); }

private:
    static EndpointConfig with_window(EndpointConfig config, bool careful) {
        if (careful && (config.max_outstanding == 0 || config.max_outstanding > kCarefulWindow)) {
            config.max_outstanding = kCarefulWindow;
        }
        return config;
    }

    EndpointConfig config_;
    const std::string topic_;
    const fedbiomed::DecodeLimits limits_;
    mqtt::async_client client_;
    MessageSink sink_;
    mqtt::delivery_token_ptr last_;
    std::deque<mqtt::delivery_token_ptr> outstanding_;
    bool connected_ = false;
    std::uint64_t retries_ = 0;
    std::atomic<std::uint64_t> bad_{0};
};

// ------------------------------------------------------------------------------------------------
// mosquitto_sub | this process | mosquitto_pub -l: the transport reference. Both tools run out of the
// box (no --nodelay). Lines are the payloads (JSON text never holds a raw newline).
// ------------------------------------------------------------------------------------------------

constexpr std::string_view kReadyPayload = "__fbm_bench_ready__";

class ToolsEndpoint final : public Endpoint {
public:
    explicit ToolsEndpoint(EndpointConfig config) : config_(std::move(config)), limits_(default_limits()) {}

    ~ToolsEndpoint() override {
        try {
            stop();
        } catch (...) {
        }
    }

    void start(MessageSink sink) override {
        sink_ = std::move(sink);
        const std::string port = std::to_string(config_.port);
        const std::string qos = std::to_string(effective_qos(config_));
        // The retained marker arrives right after the SUBACK: once it is read, every subscription is live.
        const std::string ready_topic = "bench/ready/" + config_.id + "-" + std::to_string(::getpid());
        Child marker = launch({"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", "1", "-r", "-t",
                               ready_topic, "-m", std::string(kReadyPayload)},
                              false, false, config_.stderr_path);
        if (marker.process.wait() != 0) {
            throw std::runtime_error("mosquitto_pub (ready marker) failed");
        }
        std::vector<std::string> sub_args{"mosquitto_sub",    "-h", "127.0.0.1", "-p", port, "-q", qos, "-i",
                                          config_.id + "_sub"};
        if (config_.subscribe) {
            for (const auto& topic : subscribe_topics(config_.side, config_.id)) {
                sub_args.push_back("-t");
                sub_args.push_back(topic);
            }
        }
        sub_args.push_back("-t");
        sub_args.push_back(ready_topic);
        sub_ = launch(sub_args, false, true, config_.stderr_path);
        reader_ = std::thread([this] { read_loop(); });
        {
            std::unique_lock<std::mutex> lock(mutex_);
            if (!ready_cv_.wait_for(lock, std::chrono::seconds(20), [this] { return ready_; })) {
                throw std::runtime_error("mosquitto_sub did not deliver the ready marker");
            }
        }
        if (!config_.publish) {
            return;
        }
        pub_ = launch({"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-q", qos, "-i", config_.id + "_pub",
                       "-l", "-t", publish_topic(config_.side)},
                      true, false, config_.stderr_path);
        // mosquitto_pub -l polls for its CONNACK every 100 ms before it reads stdin; give it that time so
        // the first measured line does not wait for the connection (there is no signal to wait on).
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }

    void send(const Json& msg) override {
        out_ += fedbiomed::serialize_msg(msg);
        out_.push_back('\n');
        if (!config_.batch_writes || out_.size() >= 64 * 1024) {
            write_out();
        }
    }

    void flush() override {
        write_out();
        if (pub_.process.running()) {
            pub_.process.close_stdin();  // mosquitto_pub sends what it read, waits for the acks, and exits
            pub_.process.wait();
        }
    }

    void stop() override {
        if (pub_.process.running()) {
            pub_.process.close_stdin();
            if (!pub_.process.wait_for(std::chrono::seconds(30))) {
                pub_.process.terminate();
            }
        }
        if (sub_.process.running()) {
            sub_.process.terminate();
        }
        if (reader_.joinable()) {
            reader_.join();
        }
    }

    std::uint64_t bad_messages() const override { return bad_.load(); }

private:
    void write_out() {
        if (!out_.empty()) {
            if (!pub_.process.write_stdin(out_)) {
                throw std::runtime_error("mosquitto_pub closed its input");
            }
            out_.clear();
        }
    }

    void read_loop() {
        std::string_view line;
        while (sub_.out.next_view(line)) {
            if (line.empty()) {
                continue;
            }
            if (line == kReadyPayload) {
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    ready_ = true;
                }
                ready_cv_.notify_all();
                continue;
            }
            try {
                Json msg = fedbiomed::deserialize_msg(line, limits_);
                fedbiomed::check_message_version(msg);
                sink_(msg);
            } catch (const std::exception& error) {
                bad_.fetch_add(1, std::memory_order_relaxed);
                std::fprintf(stderr, "fbm-bench %s: bad message: %s\n", config_.id.c_str(), error.what());
            }
        }
    }

    EndpointConfig config_;
    const fedbiomed::DecodeLimits limits_;
    MessageSink sink_;
    Child sub_;
    Child pub_;
    std::thread reader_;
    std::mutex mutex_;
    std::condition_variable ready_cv_;
    bool ready_ = false;
    std::string out_;
    std::atomic<std::uint64_t> bad_{0};
};

}  // namespace

Impl parse_impl(const std::string& text) {
    if (text == "lib") {
        return Impl::lib;
    }
    if (text == "paho") {
        return Impl::paho;
    }
    if (text == "paho-wait") {
        return Impl::paho_wait;
    }
    if (text == "tools") {
        return Impl::tools;
    }
    throw std::invalid_argument("unknown implementation '" + text + "' (lib, paho, paho-wait or tools)");
}

const char* impl_name(Impl impl) noexcept {
    switch (impl) {
    case Impl::lib: return "lib";
    case Impl::paho: return "paho";
    case Impl::paho_wait: return "paho-wait";
    case Impl::tools: return "tools";
    }
    return "?";
}

int effective_qos(const EndpointConfig& config) {
    if (config.qos >= 0) {
        return config.qos;
    }
    return config.impl == Impl::lib ? fedbiomed::MessagingOptions{}.qos : 1;
}

std::unique_ptr<Endpoint> make_endpoint(const EndpointConfig& config) {
    switch (config.impl) {
    case Impl::lib: return std::make_unique<LibEndpoint>(config);
    case Impl::paho: return std::make_unique<PahoEndpoint>(config);
    case Impl::paho_wait: return std::make_unique<PahoEndpoint>(config, true);
    case Impl::tools: return std::make_unique<ToolsEndpoint>(config);
    }
    throw std::invalid_argument("unknown implementation");
}

}  // namespace fbm_bench

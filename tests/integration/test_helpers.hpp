// Helpers of the integration tests: a raw MQTT client to observe and inject traffic, fake brokers for the
// connection-failure cases, ids and messages. What the program tests and the bench share too (processes,
// Mosquitto, recorders, options) is in tests/support.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fedbiomed/messaging.hpp>

#include "child_process.hpp"
#include "event_recorder.hpp"
#include "mosquitto_broker.hpp"
#include "test_broker.hpp"
#include "test_options.hpp"
#include "wait.hpp"

namespace fbm_test {

using namespace std::chrono_literals;

/// A unique-per-process suffix for ids, so concurrent test processes never share an id.
std::string unique_suffix();

/// A reference ping request from @p researcher_id, numbered by @p sequence (tests count and order them).
fedbiomed::Json ping(const std::string& researcher_id, int sequence);

/// A reference "pong" reply of @p node_id to @p researcher_id's ping @p sequence.
fedbiomed::Json pong(const std::string& researcher_id, const std::string& node_id, int sequence);

/// How many times @p needle occurs in @p text (e.g. a broker log).
std::size_t count_occurrences(const std::string& text, const std::string& needle);

/// One message seen by a RawClient.
struct RawMessage {
    std::string topic;
    std::string payload;
};

/// A minimal MQTT 3.1.1 client written for the tests on a plain socket (not Paho, not our library): it
/// injects arbitrary bytes and observes exactly what we publish, independently of the code under test.
/// (It also avoids Paho C's 1-2 s delay when a second client connects in the same process.)
class RawClient {
public:
    /// Connects to @p broker and subscribes @p topics (QoS 1); returns once the SUBACKs arrived.
    /// @throws std::runtime_error when the broker does not answer.
    explicit RawClient(const MosquittoBroker& broker, const std::vector<std::string>& topics = {});
    /// Same, with a client id and a persistent session (clean session off) when @p persistent: the broker
    /// then keeps the subscriptions and queues QoS 1 messages while this client is away.
    RawClient(const MosquittoBroker& broker, const std::vector<std::string>& topics,
              const std::string& client_id, bool persistent);
    /// Same on the test broker (test_broker.hpp): on the next node of a cluster.
    explicit RawClient(TestBroker& broker, const std::vector<std::string>& topics = {});
    RawClient(TestBroker& broker, const std::vector<std::string>& topics, const std::string& client_id,
              bool persistent);
    /// Same, on any port (e.g. a proxy in front of the broker).
    RawClient(int port, const std::vector<std::string>& topics, const std::string& client_id,
              bool persistent);
    /// Sends DISCONNECT and closes the socket.
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    /// Publishes @p payload at QoS 1 and waits for the PUBACK. @throws std::runtime_error on timeout.
    void publish(const std::string& topic, const std::string& payload);

    /// Publishes @p payload at QoS 1 with the retain flag, and waits for the PUBACK.
    void publish_retained(const std::string& topic, const std::string& payload);

    /// True once the broker closed the connection.
    bool closed() const;

    /// Subscribes @p topic at QoS 1 and waits for the SUBACK.
    void subscribe(const std::string& topic);

    /// Waits until at least @p count messages arrived; false on timeout.
    bool wait_for_count(std::size_t count, std::chrono::milliseconds timeout = kWait) const;

    /// A copy of everything received so far, in arrival order.
    std::vector<RawMessage> messages() const;

private:
    void connect_to(int port, const std::vector<std::string>& topics, const std::string& client_id,
                    bool persistent);
    void publish_with(std::uint8_t header, const std::string& topic, const std::string& payload);
    void send_packet(std::uint8_t header, const std::string& body);
    bool wait_ack(std::uint16_t packet_id);
    void read_loop();

    int fd_ = -1;
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<RawMessage> messages_;
    std::vector<std::uint16_t> acks_;  // packet ids of SUBACK / PUBACK received
    bool connacked_ = false;
    bool closed_ = false;
    std::uint16_t next_id_ = 1;
    std::mutex send_mutex_;
    std::thread reader_;
};

/// A TCP server on a free loopback port that accepts connections and either stays silent (never sends a
/// CONNACK), answers every CONNECT with a CONNACK carrying @p connack_code, or does so after @p delay.
class FakeBroker {
public:
    /// silent: never answers; connack: answers CONNECT with @p connack_code; delayed_connack: after
    /// @p delay. suback: accepts the connection (CONNACK 0) and answers every SUBSCRIBE with a SUBACK
    /// carrying @p connack_code as its MQTT 3.1.1 return code (0x80: failure); close_on_subscribe:
    /// accepts the connection and closes it when a SUBSCRIBE arrives (RabbitMQ's way of refusing one).
    /// mqtt311_only: closes a connection whose CONNECT asks for MQTT 5 (RabbitMQ 3.10's way), accepts an
    /// MQTT 3.1.1 one and grants its subscriptions with return code @p connack_code.
    enum class Mode { silent, connack, delayed_connack, suback, close_on_subscribe, mqtt311_only };
    explicit FakeBroker(Mode mode, std::uint8_t connack_code = 0,
                        std::chrono::milliseconds delay = std::chrono::milliseconds(0));
    ~FakeBroker();
    FakeBroker(const FakeBroker&) = delete;
    FakeBroker& operator=(const FakeBroker&) = delete;
    int port() const { return port_; }
    /// Connections accepted so far.
    int accepted() const { return accepted_.load(); }
    /// CONNACKs sent (or attempted, if the client had already gone) so far.
    int answered() const { return answered_.load(); }
    /// SUBSCRIBE packets received (suback and close_on_subscribe modes).
    int subscribes() const { return subscribes_.load(); }
    /// Clients that had already closed their connection when their CONNACK was due.
    int gone_before_answer() const { return gone_before_answer_.load(); }
    /// mqtt311_only: connections closed because their CONNECT asked for MQTT 5.
    int refused_mqtt5() const { return refused_mqtt5_.load(); }

private:
    void run();
    // suback and close_on_subscribe: reads @p fd's packets until it closes or the test ends.
    void serve_subscriptions(int fd);
    Mode mode_;
    std::uint8_t code_;
    std::chrono::milliseconds delay_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> answered_{0};
    std::atomic<int> gone_before_answer_{0};
    std::atomic<int> refused_mqtt5_{0};
    std::atomic<int> subscribes_{0};
    std::thread thread_;
};

/// The fault-peer helper program (tests/integration/fault_peer.cpp).
std::string fault_peer_binary();

/// How a fault peer's output is captured: one stream (its event lines on stdout, a sanitizer's report on
/// stderr), dumped when the test fails.
inline CaptureOptions peer_capture() {
    CaptureOptions options;
    options.merge_stderr = true;
    return options;
}

/// Process CPU time (all threads) so far.
std::chrono::nanoseconds process_cpu_time();

}  // namespace fbm_test

// Helpers shared by the integration tests: a raw MQTT client to observe and inject traffic, recorders for
// handler and fault calls, fake brokers for the connection-failure cases, and a subprocess runner.
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

#include "mosquitto_broker.hpp"

namespace fbm_test {

using namespace std::chrono_literals;

/// Generous bound for "this should happen now" waits: only reached when the test fails.
inline constexpr std::chrono::milliseconds kWait{10000};

/// Options pointing at @p broker, with a short connect timeout suited to tests.
fedbiomed::MessagingOptions options_for(const MosquittoBroker& broker);

/// A unique-per-process suffix for ids, so concurrent test processes never share an id.
std::string unique_suffix();

/// A reference ping request from @p researcher_id, numbered by @p sequence (tests count and order them).
fedbiomed::Json ping(const std::string& researcher_id, int sequence);

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

/// Records what a Messaging hands to its MessageHandler and FaultHandler.
class Recorder {
public:
    /// A handler that records (msg, topic).
    fedbiomed::MessageHandler handler();
    /// A fault handler that records every fault.
    fedbiomed::FaultHandler fault_handler();

    bool wait_messages(std::size_t count, std::chrono::milliseconds timeout = kWait) const;
    bool wait_faults(std::size_t count, std::chrono::milliseconds timeout = kWait) const;
    std::vector<std::pair<fedbiomed::Json, std::string>> messages() const;
    std::vector<fedbiomed::MessagingFault> faults() const;
    void add_message(const fedbiomed::Json& msg, const std::string& topic);
    void add_fault(const fedbiomed::MessagingFault& fault);

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<std::pair<fedbiomed::Json, std::string>> messages_;
    std::vector<fedbiomed::MessagingFault> faults_;
};

/// A TCP server on a free loopback port that accepts connections and either stays silent (never sends a
/// CONNACK), answers every CONNECT with a CONNACK carrying @p connack_code, or does so after @p delay.
class FakeBroker {
public:
    enum class Mode { silent, connack, delayed_connack };
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
    /// Clients that had already closed their connection when their CONNACK was due.
    int gone_before_answer() const { return gone_before_answer_.load(); }

private:
    void run();
    Mode mode_;
    std::uint8_t code_;
    std::chrono::milliseconds delay_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> answered_{0};
    std::atomic<int> gone_before_answer_{0};
    std::thread thread_;
};

/// A child process with its output in files, driven by the test: waits on its output, signals, restarts.
/// The child is killed when the test process dies (PR_SET_PDEATHSIG) and by the destructor.
class PeerProcess {
public:
    /// Starts @p args (args[0] is an absolute path). @throws std::runtime_error when it cannot start.
    explicit PeerProcess(std::vector<std::string> args);
    ~PeerProcess();
    PeerProcess(const PeerProcess&) = delete;
    PeerProcess& operator=(const PeerProcess&) = delete;

    /// Waits until the output (stdout and stderr) contains @p text; false on timeout or exit before.
    bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout = kWait) const;
    /// Number of output lines beginning with @p prefix.
    std::size_t count_lines(const std::string& prefix) const;
    /// Every output line beginning with @p prefix, without it.
    std::vector<std::string> lines(const std::string& prefix) const;
    /// Everything printed so far.
    std::string output() const;
    /// Sends @p signal_number.
    void signal(int signal_number);
    /// Waits for the exit; @return its status, or -1 when killed by a signal, or -2 on timeout.
    int wait_exit(std::chrono::milliseconds timeout = kWait);
    /// True while it runs (not reaped).
    bool running() const { return pid_ > 0; }
    int pid() const { return pid_; }

private:
    std::string output_path_;
    int pid_ = -1;
};

/// The fault-peer helper program (tests/integration/fault_peer.cpp).
std::string fault_peer_binary();

/// Process CPU time (all threads) so far.
std::chrono::nanoseconds process_cpu_time();

/// Result of a finished subprocess.
struct ProcessResult {
    int exit_code = -1;  ///< exit status, or -1 when killed on timeout / by a signal
    bool timed_out = false;
    std::string output;  ///< stdout and stderr, interleaved
};

/// Runs @p args (args[0] is an absolute path) to completion, killing it after @p timeout.
ProcessResult run_process(const std::vector<std::string>& args, std::chrono::milliseconds timeout);

}  // namespace fbm_test

// This client's own socket to the broker, through Paho and a real Mosquitto in its stock configuration
// (Nagle on, `set_tcp_nodelay` left out): every session of one process claims exactly its own socket
// (src/transport/socket_tuning.hpp), tunes that one only, and a request/reply works on such a broker.
// Identity is observed, not inferred: breaking the socket a session claimed must end that session's
// connection and no other. Times are recorded (RecordProperty), never asserted.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "mosquitto_broker.hpp"
#include "test_options.hpp"
#include "transport/paho_session.hpp"
#include "transport/receive_thread_doorbell.hpp"
#include "wait.hpp"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace {

using fedbiomed::MqttVersion;
using fedbiomed::detail::PahoSession;
using fedbiomed::detail::Publication;
using fedbiomed::detail::SendStatus;
using fedbiomed::detail::Session;
using fedbiomed::detail::SessionCallbacks;
using fedbiomed::detail::SessionSettings;
using Clock = std::chrono::steady_clock;

// What one session's callbacks saw (they run on Paho's threads).
struct Observed {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> payloads;
    std::vector<std::uint64_t> published;
    bool lost = false;

    template <class Pred>
    bool wait_for(Pred pred) {
        std::unique_lock<std::mutex> lock(mutex);
        return changed.wait_for(lock, fbm_test::kWait, pred);
    }
};

// A session with its own observer; connects on construction.
struct Client {
    std::shared_ptr<Observed> seen = std::make_shared<Observed>();
    std::unique_ptr<PahoSession> session;
    double connect_ms = 0;

    Client(const fedbiomed::MessagingOptions& options, const std::string& id,
           const std::function<void(const std::string&, const std::string&)>& on_message = {}) {
        SessionCallbacks callbacks;
        auto observed = seen;
        callbacks.on_message = [observed, on_message](const fedbiomed::detail::ReceivedMessage& message) {
            if (on_message) {
                on_message(message.topic, message.payload);
            }
            std::lock_guard<std::mutex> lock(observed->mutex);
            observed->payloads.push_back(message.payload);
            observed->changed.notify_all();
        };
        callbacks.on_connection_lost = [observed](const std::string&) {
            std::lock_guard<std::mutex> lock(observed->mutex);
            observed->lost = true;
            observed->changed.notify_all();
        };
        callbacks.on_published = [observed](std::uint64_t published) {
            std::lock_guard<std::mutex> lock(observed->mutex);
            observed->published.push_back(published);
            observed->changed.notify_all();
        };
        callbacks.on_publish_failed = [](std::uint64_t, const fedbiomed::detail::PublishFailure&) {};
        SessionSettings settings;
        settings.broker = fedbiomed::detail::broker_addresses(options).front();
        settings.client_id = id;
        settings.clean_session = true;
        session = std::make_unique<PahoSession>(options, settings, std::move(callbacks));
        const auto start = Clock::now();
        session->connect(Clock::now() + fbm_test::kWait);
        connect_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    }

    void publish(std::uint64_t id, const std::string& topic, const std::string& payload, int qos) const {
        Publication publication;
        publication.id = id;
        publication.topic = std::make_shared<const std::string>(topic);
        publication.payload = std::make_shared<const std::string>(payload);
        publication.qos = qos;
        ASSERT_EQ(session->publish(publication).status, SendStatus::handed_over);
    }
};

fbm_test::MosquittoBroker stock_broker() {
    fbm_test::MosquittoBroker::Options options;
    options.tcp_nodelay = false;  // Mosquitto's own default
    return fbm_test::MosquittoBroker(options);
}

fedbiomed::MessagingOptions options_for(const fbm_test::MosquittoBroker& broker, MqttVersion version) {
    auto options = fbm_test::options_for(broker);
    options.mqtt_version = version;
    return options;
}

bool nodelay(int fd) {
    int value = 0;
    socklen_t length = sizeof value;
    return ::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &length) == 0 && value != 0;
}

int port_of(const sockaddr_storage& address) {
    if (address.ss_family == AF_INET) {
        return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
}

int peer_port(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    return ::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 ? port_of(address) : -1;
}

int local_port(int fd) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    return ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 ? port_of(address) : -1;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0.0 : values[values.size() / 2];
}

class BrokerSocket : public ::testing::TestWithParam<MqttVersion> {};

std::string version_name(const ::testing::TestParamInfo<MqttVersion>& info) {
    return info.param == MqttVersion::v5 ? "mqtt5" : "mqtt311";
}

}  // namespace

TEST_P(BrokerSocket, TwoSessionsOfOneProcessEachClaimAndTuneTheirOwnSocket) {
    auto broker = stock_broker();
    const auto options = options_for(broker, GetParam());
    Client first(options, "socket-first");
    Client second(options, "socket-second");
    RecordProperty("first_connect_ms", std::to_string(first.connect_ms));
    RecordProperty("second_connect_ms", std::to_string(second.connect_ms));

    const int a = first.session->broker_socket_descriptor();
    const int b = second.session->broker_socket_descriptor();
    ASSERT_GE(a, 0) << "the first session found no socket of its own";
    ASSERT_GE(b, 0) << "the second session found no socket of its own";
    EXPECT_NE(first.session->broker_socket_inode(), second.session->broker_socket_inode());
    EXPECT_EQ(peer_port(a), broker.port());
    EXPECT_EQ(peer_port(b), broker.port());
    EXPECT_NE(local_port(a), local_port(b));
    EXPECT_TRUE(nodelay(a));
    EXPECT_TRUE(nodelay(b));

    // The socket the first session claimed is the first session's connection: breaking it ends that
    // connection, and the second session goes on as if nothing happened.
    ASSERT_EQ(::shutdown(a, SHUT_RDWR), 0);
    EXPECT_TRUE(first.seen->wait_for([&] { return first.seen->lost; }));
    second.publish(7, "socket/alive", "still here", 1);
    EXPECT_TRUE(second.seen->wait_for([&] {
        return std::find(second.seen->published.begin(), second.seen->published.end(), 7U) !=
               second.seen->published.end();
    }));
    EXPECT_FALSE(second.seen->lost);
    EXPECT_TRUE(second.session->connected());
}

TEST_P(BrokerSocket, RequestReplyOnAStockBroker) {
    auto broker = stock_broker();
    const auto options = options_for(broker, GetParam());
    // The responder answers every request on the reply topic, at the request's QoS (the payload's first
    // character), from a thread of its own as the library's dispatcher does (no call into Paho from its
    // callbacks).
    Client responder(options, "socket-responder");
    responder.session->subscribe({"socket/request"}, 1, Clock::now() + fbm_test::kWait);
    std::atomic<bool> done{false};
    std::thread answering([&] {
        std::size_t answered = 0;
        std::uint64_t id = 1;
        while (true) {
            std::vector<std::string> requests;
            {
                std::unique_lock<std::mutex> lock(responder.seen->mutex);
                responder.seen->changed.wait(
                    lock, [&] { return done.load() || responder.seen->payloads.size() > answered; });
                if (done.load()) {
                    return;
                }
                requests.assign(responder.seen->payloads.begin() + static_cast<std::ptrdiff_t>(answered),
                                responder.seen->payloads.end());
                answered = responder.seen->payloads.size();
            }
            for (const auto& request : requests) {
                Publication reply;
                reply.id = id++;
                reply.topic = std::make_shared<const std::string>("socket/reply");
                reply.payload = std::make_shared<const std::string>(request);
                reply.qos = request.front() == '0' ? 0 : 1;
                responder.session->publish(reply);
            }
        }
    });
    // Stops the responder's thread however the test ends (a failed ASSERT returns early).
    struct Stop {
        std::function<void()> run;
        ~Stop() { run(); }
    } stop{[&] {
        {
            std::lock_guard<std::mutex> lock(responder.seen->mutex);
            done.store(true);
        }
        responder.seen->changed.notify_all();
        answering.join();
    }};
    Client requester(options, "socket-requester");
    requester.session->subscribe({"socket/reply"}, 1, Clock::now() + fbm_test::kWait);

    for (const int qos : {1, 0}) {
        constexpr int kRounds = 20;
        std::vector<double> rounds;
        for (int round = 0; round < kRounds; ++round) {
            const std::string payload = std::to_string(qos) + "-" + std::to_string(round);
            const auto start = Clock::now();
            requester.publish(1000U + static_cast<std::uint64_t>(round), "socket/request", payload, qos);
            ASSERT_TRUE(requester.seen->wait_for([&] {
                return std::find(requester.seen->payloads.begin(), requester.seen->payloads.end(), payload) !=
                       requester.seen->payloads.end();
            })) << "no reply to "
                << payload;
            rounds.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
        }
        RecordProperty("round_trip_p50_us_qos" + std::to_string(qos), std::to_string(median(rounds)));
    }
    EXPECT_FALSE(requester.seen->lost);
}

TEST_P(BrokerSocket, AHostNameIsResolvedAsTheConnectionResolvesIt) {
    auto broker = stock_broker();
    auto options = options_for(broker, GetParam());
    options.broker = "localhost";  // 127.0.0.1 and perhaps ::1: Paho connects to the IPv4 one
    Client client(options, "socket-by-name");
    const int fd = client.session->broker_socket_descriptor();
    ASSERT_GE(fd, 0);
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    ASSERT_EQ(::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length), 0);
    ASSERT_EQ(peer.ss_family, AF_INET);
    EXPECT_EQ(ntohl(reinterpret_cast<const sockaddr_in&>(peer).sin_addr.s_addr), INADDR_LOOPBACK);
    EXPECT_TRUE(nodelay(fd));
}

INSTANTIATE_TEST_SUITE_P(Versions, BrokerSocket, ::testing::Values(MqttVersion::v3_1_1, MqttVersion::v5),
                         version_name);

namespace {

// The doorbell of Paho's receive thread (src/transport/receive_thread_doorbell.hpp) in a component's life:
// its connections ring it, every component of the process shares it, and it goes with the last of them.
TEST(Doorbell, ComponentsRingTheOneDoorbellOfTheProcessAndReleaseItWithTheLastOfThem) {
    auto broker = stock_broker();
    const auto options = fbm_test::options_for(broker);
    std::weak_ptr<fedbiomed::detail::ReceiveThreadDoorbell> held;
    {
        fedbiomed::Messaging node(nullptr, fedbiomed::ComponentType::node, "node_doorbell", options);
        node.start();
        auto doorbell = fedbiomed::detail::ReceiveThreadDoorbell::acquire(fbm_test::kWait);
        ASSERT_NE(doorbell, nullptr);
        EXPECT_GT(doorbell->rings(), 0U) << "the node's connection did not ring the doorbell";
        const unsigned long after_node = doorbell->rings();
        fedbiomed::Messaging researcher(nullptr, fedbiomed::ComponentType::researcher, "researcher_doorbell",
                                        options);
        researcher.start();
        EXPECT_GT(doorbell->rings(), after_node) << "the second component did not ring the same doorbell";
        EXPECT_TRUE(node.is_connected());
        EXPECT_TRUE(researcher.is_connected());
        held = doorbell;
        doorbell.reset();
        researcher.stop();
        node.stop();
        EXPECT_FALSE(held.expired()) << "released while components of the process still live";
    }
    EXPECT_TRUE(held.expired()) << "still held after the last component of the process was destroyed";
}

}  // namespace

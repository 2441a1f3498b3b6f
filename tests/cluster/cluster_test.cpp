// The message bus on a 3-node RabbitMQ cluster (MQTT plugin), started once per test run by the ctest
// fixture (tests/support/rabbitmq_cluster.sh): components spread over different RabbitMQ nodes, a kill -9
// of the RabbitMQ node a component is connected to in the middle of a 20 000-message stream, and a
// persistent session resumed after its RabbitMQ node was killed and restarted. RabbitMQ 3.10 speaks MQTT
// 3.1.1 only (../shared facts: docs/deploy.md).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "child_process.hpp"
#include "event_recorder.hpp"
#include "wait.hpp"

namespace {

using fedbiomed::ComponentType;
using fedbiomed::ConnectionState;
using fedbiomed::Delivery;
using fedbiomed::Json;
using fedbiomed::Messaging;
using fedbiomed::MessagingOptions;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Restarting a killed RabbitMQ node takes 8 to 12 s on an idle machine, more under load.
constexpr milliseconds kNodeRestart{180000};

/// The cluster the fixture started: its MQTT ports (node I listens on ports()[I - 1]) and the script that
/// kills and restarts its nodes.
class Cluster {
public:
    Cluster() : base_(env("FBM_RMQ_BASE")), script_(FBM_RMQ_SCRIPT) {
        std::ifstream file(base_ + "/cluster.env");
        std::string line;
        std::getline(file, line);  // RMQ_MQTT_PORTS="p1 p2 p3"
        const auto open = line.find('"');
        std::istringstream ports(line.substr(open + 1, line.rfind('"') - open - 1));
        for (int port = 0; ports >> port;) {
            ports_.push_back(port);
        }
        if (ports_.size() != 3) {
            throw std::runtime_error("no 3-node cluster in " + base_ +
                                     " (is the cluster.start fixture running?)");
        }
    }

    std::string address(int node) const {
        return "127.0.0.1:" + std::to_string(ports_.at(static_cast<std::size_t>(node - 1)));
    }

    /// kill -9 of node @p node's Erlang VM; returns once it is gone.
    void kill(int node) const { run({"kill", std::to_string(node)}); }

    /// Starts node @p node again; returns once its MQTT port accepts connections.
    void restart(int node) const { run({"restart", std::to_string(node)}); }

    /// rabbitmqctl @p args against node @p node (users and permissions are cluster-wide).
    void ctl(int node, const std::vector<std::string>& args) const {
        std::vector<std::string> all = {"ctl", std::to_string(node)};
        all.insert(all.end(), args.begin(), args.end());
        run(all);
    }

private:
    static std::string env(const char* name) {
        const char* value = std::getenv(name);
        if (value == nullptr || *value == '\0') {
            throw std::runtime_error(std::string(name) + " is not set: run the cluster tests through ctest");
        }
        return value;
    }

    void run(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {"/bin/bash", script_};
        argv.push_back(args.at(0));
        argv.push_back(base_);
        argv.insert(argv.end(), args.begin() + 1, args.end());
        const fbm_test::RunResult result = fbm_test::run_program(argv, kNodeRestart);
        if (result.status != 0) {
            throw std::runtime_error("rabbitmq_cluster.sh " + args.at(0) + " failed:\n" + result.out +
                                     result.err);
        }
    }

    std::string base_;
    std::string script_;
    std::vector<int> ports_;
};

std::string unique(const std::string& prefix) {
    static int counter = 0;
    return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

/// Options for a component of the cluster tests, connected first to the brokers in @p order.
MessagingOptions cluster_options(const Cluster& cluster, std::vector<int> order) {
    MessagingOptions options;
    for (const int node : order) {
        options.brokers.push_back(cluster.address(node));
    }
    options.connect_timeout = milliseconds(5000);
    options.reconnect.min_delay = milliseconds(50);
    options.reconnect.max_delay = milliseconds(1000);
    options.stop_timeout = milliseconds(5000);
    options.forward_logs = false;
    return options;
}

Json ping(const std::string& researcher, std::int64_t sequence) {
    return Json{{"protocol_version", "1"},
                {"researcher_id", researcher},
                {"sequence", sequence},
                {"command", "ping"}};
}

/// What a receiving node saw: each sequence number and how often.
class SequenceCounter {
public:
    fedbiomed::MessageHandler handler() {
        return [this](const Json& msg, const std::string& /*topic*/) {
            std::lock_guard<std::mutex> lock(mutex_);
            const auto sequence = msg.at("sequence").get<std::int64_t>();
            if (!seen_.insert(sequence).second) {
                ++duplicates_;
            }
            changed_.notify_all();
        };
    }
    std::size_t distinct() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return seen_.size();
    }
    std::size_t duplicates() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return duplicates_;
    }
    bool has(std::int64_t sequence) const {
        std::lock_guard<std::mutex> lock(mutex_);
        return seen_.count(sequence) != 0;
    }
    bool wait_distinct(std::size_t count, milliseconds timeout) const {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return seen_.size() >= count; });
    }

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::set<std::int64_t> seen_;
    std::size_t duplicates_ = 0;
};

TEST(Cluster, RequestAndReplyAcrossRabbitMqNodes) {
    const Cluster cluster;
    const std::string rid = unique("researcher");
    fbm_test::Recorder replies;
    Messaging researcher(replies.handler(), ComponentType::researcher, rid,
                         cluster_options(cluster, {1, 2, 3}));
    std::unique_ptr<Messaging> node;
    const std::string nid = unique("node");
    node = std::make_unique<Messaging>(
        [&node, &nid](const Json& msg, const std::string& /*topic*/) {
            Json pong = {
                {"protocol_version", "1"}, {"researcher_id", msg.at("researcher_id")}, {"node_id", nid},
                {"success", true},         {"sequence", msg.at("sequence")},           {"command", "pong"}};
            node->send_message(pong);
        },
        ComponentType::node, nid, cluster_options(cluster, {2, 3, 1}));
    node->start();
    researcher.start();
    EXPECT_EQ(node->broker(), cluster.address(2));
    EXPECT_EQ(researcher.broker(), cluster.address(1));

    researcher.send_message(ping(rid, 7));
    ASSERT_TRUE(replies.wait_messages(1, milliseconds(20000)));
    const auto got = replies.messages();
    EXPECT_EQ(got[0].first.at("command"), "pong");
    EXPECT_EQ(got[0].first.at("sequence"), 7);
    EXPECT_EQ(got[0].first.at("node_id"), nid);
    node->stop();
    researcher.stop();
}

TEST(Cluster, KillingTheNodeASenderUsesFailsItOverAndLosesNothingAcknowledged) {
    const Cluster cluster;
    constexpr std::int64_t kMessages = 20000;
    SequenceCounter received;
    // The receiver lives on node 2 (its persistent session's queue is there); the sender on node 1 with a
    // clean session, so that nothing it needs dies with node 1.
    Messaging receiver(received.handler(), ComponentType::node, unique("node"),
                       cluster_options(cluster, {2}));
    receiver.start();
    const std::string rid = unique("researcher");
    MessagingOptions sender_options = cluster_options(cluster, {1, 2, 3});
    sender_options.persistent_session = false;
    fbm_test::StateRecorder states;
    Messaging sender(nullptr, ComponentType::researcher, rid, sender_options);
    sender.set_connection_state_handler(states.handler());
    sender.start();
    ASSERT_EQ(sender.broker(), cluster.address(1));

    std::vector<Delivery> deliveries;
    deliveries.reserve(static_cast<std::size_t>(kMessages));
    for (std::int64_t i = 0; i < kMessages; ++i) {
        deliveries.push_back(sender.send_message(ping(rid, i)));
    }
    ASSERT_TRUE(received.wait_distinct(static_cast<std::size_t>(kMessages / 4), milliseconds(120000)))
        << received.distinct() << " received before the kill";
    const auto killed_at = std::chrono::steady_clock::now();
    cluster.kill(1);
    const auto moved = states.wait_first(
        [&](const fedbiomed::ConnectionEvent& event) {
            return event.state == ConnectionState::connected && event.broker != cluster.address(1);
        },
        milliseconds(60000));
    ASSERT_TRUE(moved.has_value()) << "the sender did not fail over";
    const auto failover_ms =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed_at).count();

    std::size_t delivered = 0;
    for (const Delivery& delivery : deliveries) {
        ASSERT_TRUE(delivery.wait_for(milliseconds(120000))) << "a delivery still pending";
        delivered += delivery.delivered() ? 1U : 0U;
    }
    EXPECT_EQ(delivered, static_cast<std::size_t>(kMessages));
    // Every message the broker acknowledged reaches the receiver.
    EXPECT_TRUE(received.wait_distinct(delivered, milliseconds(120000)));
    std::size_t lost = 0;
    for (std::int64_t i = 0; i < kMessages; ++i) {
        if (deliveries[static_cast<std::size_t>(i)].delivered() && !received.has(i)) {
            ++lost;
        }
    }
    EXPECT_EQ(lost, 0U);
    const auto stats = sender.stats();
    ::testing::Test::RecordProperty("failover_ms", std::to_string(failover_ms));
    ::testing::Test::RecordProperty("resent", std::to_string(stats.resent));
    ::testing::Test::RecordProperty("duplicates", std::to_string(received.duplicates()));
    std::cout << "cluster kill -9 of the sender's RabbitMQ node: failover " << failover_ms << " ms, "
              << delivered << " delivered, " << lost << " lost, " << stats.resent << " re-sent, "
              << received.duplicates() << " duplicates at the handler\n";
    sender.stop();
    receiver.stop();
    cluster.restart(1);
}

TEST(Cluster, APersistentSessionWhoseRabbitMqNodeDiesFailsOverWithACleanSessionAndKeepsReceiving) {
    const Cluster cluster;
    const std::string nid = unique("node");
    SequenceCounter received;
    // The node's persistent session (a durable queue) is made on RabbitMQ node 3, its first broker.
    fbm_test::StateRecorder states;
    Messaging node(received.handler(), ComponentType::node, nid, cluster_options(cluster, {3, 1, 2}));
    node.set_connection_state_handler(states.handler());
    node.start();
    ASSERT_EQ(node.broker(), cluster.address(3));
    const std::string rid = unique("researcher");
    MessagingOptions sender_options = cluster_options(cluster, {1});
    sender_options.persistent_session = false;
    Messaging sender(nullptr, ComponentType::researcher, rid, sender_options);
    sender.start();
    ASSERT_TRUE(sender.send_message(ping(rid, 0), nid).wait_for(milliseconds(20000)));
    ASSERT_TRUE(received.wait_distinct(1, milliseconds(20000)));

    // While node 3 is down no other node can resume the session (its queue lives on node 3): the node
    // moves to node 1 with a clean session instead of waiting for node 3, and says so.
    const auto killed_at = std::chrono::steady_clock::now();
    cluster.kill(3);
    const auto moved = states.wait_first(
        [&](const fedbiomed::ConnectionEvent& event) {
            return event.state == ConnectionState::connected && event.broker != cluster.address(3);
        },
        milliseconds(120000));
    const auto failover_ms =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed_at).count();
    ASSERT_TRUE(moved.has_value()) << "the node did not fail over while its session's RabbitMQ node is down";
    EXPECT_EQ(moved->session, fedbiomed::SessionOutcome::replaced) << moved->reason;
    EXPECT_NE(moved->reason.find("could not resume the persistent session of " + nid), std::string::npos)
        << moved->reason;
    EXPECT_NE(moved->reason.find("connected with a clean session instead, as fbm-node-" + nid + "-fallback"),
              std::string::npos)
        << moved->reason;

    // It keeps receiving there.
    std::vector<Delivery> deliveries;
    for (std::int64_t i = 1; i <= 10; ++i) {
        deliveries.push_back(sender.send_message(ping(rid, i), nid));
    }
    for (const Delivery& delivery : deliveries) {
        ASSERT_TRUE(delivery.wait_for(milliseconds(20000)));
        EXPECT_TRUE(delivery.delivered()) << delivery.error();
    }
    EXPECT_TRUE(received.wait_distinct(11, milliseconds(30000))) << received.distinct() << " of 11";
    ::testing::Test::RecordProperty("failover_ms", std::to_string(failover_ms));
    std::cout << "persistent session, kill -9 of its RabbitMQ node: failover with a clean session in "
              << failover_ms << " ms\n";
    node.stop();
    sender.stop();
    cluster.restart(3);
}

TEST(Cluster, AForbiddenSubscriptionOrPublicationIsReportedByTopicAndRetriedWithBackoff) {
    const Cluster cluster;
    // A user that may use every topic but general/<forbidden> (RabbitMQ matches its topic permissions
    // against the AMQP routing key, with dots).
    const std::string user = unique("fbmacl");
    const std::string forbidden = unique("node");
    cluster.ctl(1, {"add_user", user, "s3cret"});
    cluster.ctl(1, {"set_permissions", "-p", "/", user, ".*", ".*", ".*"});
    const std::string except = "^(?!general\\." + forbidden + "$).*";
    cluster.ctl(1, {"set_topic_permissions", "-p", "/", user, "amq.topic", except, except});
    auto with_user = [&](std::vector<int> order) {
        MessagingOptions options = cluster_options(cluster, std::move(order));
        options.username = user;
        options.password = "s3cret";
        return options;
    };

    // The node may not read its own topic: RabbitMQ closes the connection instead of refusing the
    // SUBSCRIBE; start() fails and names the topic.
    try {
        Messaging node(nullptr, ComponentType::node, forbidden, with_user({1}));
        node.start();
        ADD_FAILURE() << "start() succeeded although general/" << forbidden << " may not be read";
    } catch (const fedbiomed::MessagingError& error) {
        const std::string what = error.what();
        EXPECT_EQ(error.code(), fedbiomed::ErrorNumbers::FB101) << what;
        // Named among the subscriptions not acknowledged when the connection closed (the SUBACK of an
        // earlier one may be seen after the close).
        EXPECT_NE(what.find("closed the connection right after the SUBSCRIBE to "), std::string::npos)
            << what;
        EXPECT_NE(what.find("general/" + forbidden), std::string::npos) << what;
        EXPECT_NE(what.find("ACL"), std::string::npos) << what;
    }

    // A researcher may not publish to it: each time, RabbitMQ closes the connection; each loss names the
    // publication, and the reconnections follow the backoff (the publication is sent again each time).
    const std::string rid = unique("researcher");
    MessagingOptions options = with_user({1});
    options.persistent_session = false;
    fbm_test::StateRecorder states;
    Messaging researcher(nullptr, ComponentType::researcher, rid, options);
    researcher.set_connection_state_handler(states.handler());
    researcher.start();
    const Delivery refused = researcher.send_message(ping(rid, 1), forbidden);
    constexpr std::size_t kLosses = 4;
    ASSERT_TRUE(states.wait_count_if(fbm_test::in_state(ConnectionState::disconnected), kLosses,
                                     milliseconds(120000)));
    for (const auto& event : states.events()) {
        if (event.state != ConnectionState::disconnected) {
            continue;
        }
        // It names the forbidden topic among those of the publications awaiting their acknowledgement
        // (the presence record published at each connection may be one of them).
        EXPECT_NE(event.reason.find("general/" + forbidden), std::string::npos) << event.reason;
        EXPECT_NE(event.reason.find(" acknowledgement (if the broker is still up, check that its ACL"),
                  std::string::npos)
            << event.reason;
    }
    EXPECT_EQ(refused.state(), Delivery::State::pending) << "kept and sent again after each reconnection";
    const auto stats = researcher.stats();
    ::testing::Test::RecordProperty("losses", std::to_string(stats.connection_losses));
    ::testing::Test::RecordProperty("attempts", std::to_string(stats.connection_attempts));
    std::cout << "forbidden publication on RabbitMQ: " << stats.connection_losses << " losses, "
              << stats.connection_attempts << " connection attempts\n";
    researcher.stop();
    EXPECT_EQ(refused.state(), Delivery::State::failed);
    cluster.ctl(1, {"delete_user", user});
}

TEST(Cluster, APersistentSessionIsResumedAfterItsRabbitMqNodeIsKilledAndRestarted) {
    const Cluster cluster;
    const std::string nid = unique("node");
    SequenceCounter received;
    // The node's session (a durable queue) is made on RabbitMQ node 3, then the node goes away.
    {
        Messaging node(received.handler(), ComponentType::node, nid, cluster_options(cluster, {3}));
        node.start();
        node.stop();
    }
    // Messages for it, queued on node 3 while it is away, survive a kill -9 of node 3.
    const std::string rid = unique("researcher");
    MessagingOptions sender_options = cluster_options(cluster, {1});
    sender_options.persistent_session = false;
    Messaging sender(nullptr, ComponentType::researcher, rid, sender_options);
    sender.start();
    std::vector<Delivery> deliveries;
    for (std::int64_t i = 0; i < 10; ++i) {
        deliveries.push_back(sender.send_message(ping(rid, i), nid));
    }
    for (const Delivery& delivery : deliveries) {
        ASSERT_TRUE(delivery.wait_for(milliseconds(20000)));
        ASSERT_TRUE(delivery.delivered()) << delivery.error();
    }
    sender.stop();
    cluster.kill(3);
    cluster.restart(3);

    Messaging node(received.handler(), ComponentType::node, nid, cluster_options(cluster, {3}));
    node.start();
    EXPECT_TRUE(received.wait_distinct(10, milliseconds(30000))) << received.distinct() << " of 10";
    node.stop();
}

// RabbitMQ keeps retained messages and wills on the node the client is connected to: a researcher on
// another node never sees a node's retained "online" record, and no will is published when the node's
// RabbitMQ node dies. The heartbeats are what tells, both ways.
TEST(Cluster, PresenceFollowsANodeOnAnotherRabbitMqNodeThroughItsHeartbeats) {
    Cluster cluster;
    const std::string nid = unique("node");
    MessagingOptions node_options = cluster_options(cluster, {1});  // no other broker to fail over to
    node_options.presence_heartbeat = milliseconds(300);
    Messaging node(nullptr, ComponentType::node, nid, node_options);
    node.start();

    fbm_test::PresenceRecorder presence;
    Messaging researcher(nullptr, ComponentType::researcher, unique("researcher"),
                         cluster_options(cluster, {2}));
    researcher.set_presence_handler(presence.handler());
    researcher.start();
    const auto online = [&](const fedbiomed::PresenceEvent& event) {
        return event.id == nid && event.online;
    };
    ASSERT_TRUE(presence.wait_first(online, milliseconds(10000)));

    cluster.kill(1);
    const auto gone = presence.wait_first(
        [&](const fedbiomed::PresenceEvent& event) { return event.id == nid && !event.online; },
        milliseconds(10000));
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->reason.rfind("no heartbeat for ", 0), 0U) << gone->reason;
    EXPECT_TRUE(researcher.online_nodes().empty());

    cluster.restart(1);
    // The node reconnects by itself, and its next record brings it back.
    EXPECT_TRUE(presence.wait_count_if(online, 2, kNodeRestart));
    node.stop();
    researcher.stop();
}

}  // namespace

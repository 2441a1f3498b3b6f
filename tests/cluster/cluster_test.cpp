// The message bus on a 3-node RabbitMQ cluster (MQTT plugin), started once per test run by the ctest
// fixture (tests/support/rabbitmq_cluster.sh): components spread over different RabbitMQ nodes, a kill -9
// of the RabbitMQ node a component is connected to in the middle of a 20 000-message stream, and a
// persistent session resumed after its RabbitMQ node was killed and restarted. RabbitMQ 3.10 speaks MQTT
// 3.1.1 only (../shared facts: docs/deploy.md).
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/logger.hpp>
#include <fedbiomed/messaging.hpp>

#include "child_process.hpp"
#include "event_recorder.hpp"
#include "test_broker.hpp"
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

using fbm_test::TestBroker;

// A rabbitmqctl call takes about 2 s; more under load.
constexpr milliseconds kCtlTimeout{60000};

/// The cluster the fixture started (test_broker.hpp: node I listens on port_of(I)).
TestBroker& the_cluster() {
    TestBroker& broker = fbm_test::test_broker();
    if (broker.kind() != fbm_test::BrokerKind::rabbitmq_cluster) {
        throw std::runtime_error("FBM_RMQ_BASE is not set: run the cluster tests through ctest");
    }
    return broker;
}

/// rabbitmqctl @p args against node @p node (users and permissions are cluster-wide).
void ctl(int node, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/bin/bash", FBM_RMQ_SCRIPT, "ctl", std::getenv("FBM_RMQ_BASE"),
                                     std::to_string(node)};
    argv.insert(argv.end(), args.begin(), args.end());
    const fbm_test::RunResult result = fbm_test::run_program(argv, kCtlTimeout);
    if (result.status != 0) {
        throw std::runtime_error("rabbitmq_cluster.sh ctl failed:\n" + result.out + result.err);
    }
}

std::string unique(const std::string& prefix) {
    static int counter = 0;
    return prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
}

/// For a component started right after a RabbitMQ node was restarted: that node may still close a
/// connection or two (seen in CI), so start() keeps trying, as docs/deploy.md advises cluster users.
MessagingOptions after_restart(MessagingOptions options) {
    options.first_connect = fedbiomed::FirstConnect::keep_trying;
    options.first_connect_deadline = milliseconds(60000);
    return options;
}

/// Options for a component of the cluster tests, connected first to the brokers in @p order.
MessagingOptions cluster_options(const TestBroker& cluster, std::vector<int> order) {
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
    /// How many of the sequences [@p from, @p to) have not arrived.
    std::size_t missing(std::int64_t from, std::int64_t to) const {
        std::lock_guard<std::mutex> lock(mutex_);
        return missing_locked(from, to);
    }
    /// Waits until every sequence of [@p from, @p to) has arrived.
    bool wait_all(std::int64_t from, std::int64_t to, milliseconds timeout) const {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return missing_locked(from, to) == 0; });
    }

private:
    std::size_t missing_locked(std::int64_t from, std::int64_t to) const {
        // The sequences are dense: compare the count in the range with its size.
        const auto present = std::distance(seen_.lower_bound(from), seen_.lower_bound(to));
        return static_cast<std::size_t>(to - from - present);
    }

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::set<std::int64_t> seen_;
    std::size_t duplicates_ = 0;
};

/// kill -9 of a RabbitMQ node for the rest of a scope: the destructor starts it again, also when an ASSERT
/// ends the test early, so that the next test has its three nodes.
class KilledNode {
public:
    KilledNode(TestBroker& cluster, int node) : cluster_(cluster), node_(node) { cluster_.kill(node_); }
    ~KilledNode() {
        if (!restarted_) {
            try {
                cluster_.restart(node_);
            } catch (const std::exception& error) {
                ADD_FAILURE() << error.what();
            }
        }
    }
    KilledNode(const KilledNode&) = delete;
    KilledNode& operator=(const KilledNode&) = delete;

    /// Starts the node again now; returns once every node of the cluster answers MQTT.
    void restart() {
        cluster_.restart(node_);
        restarted_ = true;
    }

private:
    TestBroker& cluster_;
    int node_;
    bool restarted_ = false;
};

TEST(Cluster, RequestAndReplyAcrossRabbitMqNodes) {
    TestBroker& cluster = the_cluster();
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
    TestBroker& cluster = the_cluster();
    constexpr std::int64_t kMessages = 20000;
    SequenceCounter received;
    // The receiver lives on node 2 (its persistent session's queue is there); the sender on node 1 with a
    // clean session, so that nothing it needs dies with node 1. The stream goes to the receiver's own
    // topic: a broadcast would also fill the queue of every persistent node session earlier tests left on
    // the cluster (until a minute after their last consumer: the test cluster's mqtt.subscription_ttl), at
    // the speed of RabbitMQ's disk writes.
    const std::string nid = unique("node");
    Messaging receiver(received.handler(), ComponentType::node, nid, cluster_options(cluster, {2, 3, 1}));
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
        deliveries.push_back(sender.send_message(ping(rid, i), nid));
    }
    ASSERT_TRUE(received.wait_distinct(static_cast<std::size_t>(kMessages / 4), milliseconds(120000)))
        << received.distinct() << " received before the kill";
    const auto killed_at = std::chrono::steady_clock::now();
    KilledNode killed(cluster, 1);
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
    ::testing::Test::RecordProperty("connection_losses", std::to_string(stats.connection_losses));
    std::cout << "cluster kill -9 of the sender's RabbitMQ node: failover " << failover_ms << " ms, "
              << delivered << " delivered, " << lost << " lost, " << stats.resent << " re-sent, "
              << received.duplicates() << " duplicates at the handler, " << stats.connection_losses
              << " connection losses\n";
    sender.stop();
    receiver.stop();
    killed.restart();
}

// kill -9 of the RabbitMQ node a receiver uses (where its persistent session's queue lives) in the middle
// of a 20 000-message QoS 1 stream. The receiver fails over with a clean session; the messages the broker
// acknowledged while no queue of the receiver could take them are lost (RabbitMQ drops them: without
// MQTT 5 there is no end-to-end acknowledgement to send them again), those sent once it is on another
// node all arrive, and when the node is back its persistent session is resumed with what it held.
TEST(Cluster, KillingTheNodeAReceiverUsesFailsItOverAndItsSessionIsResumedWhenTheNodeIsBack) {
    TestBroker& cluster = the_cluster();
    constexpr std::int64_t kMessages = 20000;
    constexpr std::int64_t kFirstPart = kMessages / 2;
    SequenceCounter received;  // across both lives of the receiver
    const std::string nid = unique("node");
    fbm_test::StateRecorder states;
    auto receiver = std::make_unique<Messaging>(received.handler(), ComponentType::node, nid,
                                                cluster_options(cluster, {2, 3, 1}));
    receiver->set_connection_state_handler(states.handler());
    receiver->start();
    ASSERT_EQ(receiver->broker(), cluster.address(2));
    const std::string rid = unique("researcher");
    MessagingOptions sender_options = cluster_options(cluster, {1, 3, 2});
    sender_options.persistent_session = false;
    Messaging sender(nullptr, ComponentType::researcher, rid, sender_options);
    sender.start();
    ASSERT_EQ(sender.broker(), cluster.address(1));

    std::vector<Delivery> deliveries;
    deliveries.reserve(static_cast<std::size_t>(kMessages) + 1);
    for (std::int64_t i = 0; i < kFirstPart; ++i) {
        deliveries.push_back(sender.send_message(ping(rid, i), nid));
    }
    ASSERT_TRUE(received.wait_distinct(static_cast<std::size_t>(kFirstPart / 4), milliseconds(120000)))
        << received.distinct() << " received before the kill";
    const auto killed_at = std::chrono::steady_clock::now();
    KilledNode killed(cluster, 2);
    const auto moved = states.wait_first(
        [&](const fedbiomed::ConnectionEvent& event) {
            return event.state == ConnectionState::connected && event.broker != cluster.address(2);
        },
        milliseconds(120000));
    ASSERT_TRUE(moved.has_value()) << "the receiver did not fail over";
    const auto failover_ms =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed_at).count();
    EXPECT_EQ(moved->session, fedbiomed::SessionOutcome::replaced) << moved->reason;

    // The second part is sent once the receiver is subscribed on another node: all of it arrives.
    for (std::int64_t i = kFirstPart; i < kMessages; ++i) {
        deliveries.push_back(sender.send_message(ping(rid, i), nid));
    }
    std::size_t delivered = 0;
    for (const Delivery& delivery : deliveries) {
        ASSERT_TRUE(delivery.wait_for(milliseconds(120000))) << "a delivery still pending";
        delivered += delivery.delivered() ? 1U : 0U;
    }
    EXPECT_EQ(delivered, static_cast<std::size_t>(kMessages));
    EXPECT_TRUE(received.wait_all(kFirstPart, kMessages, milliseconds(120000)))
        << received.missing(kFirstPart, kMessages) << " messages sent after the failover are missing";
    const std::size_t missing_while_down = received.missing(0, kFirstPart);

    // The node comes back; the receiver starts again there and resumes its persistent session, which
    // gives what it held at the kill (persistent messages survive kill -9).
    killed.restart();
    receiver->stop();
    receiver.reset();
    // The library's attempts are logged at DEBUG: if the resumption fails, the output says why.
    fedbiomed::set_log_level("DEBUG");
    fbm_test::StateRecorder resumed_states;
    receiver = std::make_unique<Messaging>(received.handler(), ComponentType::node, nid,
                                           after_restart(cluster_options(cluster, {2, 3, 1})));
    receiver->set_connection_state_handler(resumed_states.handler());
    receiver->start();
    // Node 2 comes first in the list, but a node that has just rebooted may still drop a connection
    // (seen once in CI), and the receiver then rightly goes to the next node: the session lives on node 2
    // and is resumed through any node once node 2 is up. Where it landed is reported, not asserted.
    const std::string resumed_on = receiver->broker();
    const auto first = resumed_states.wait_first(
        [](const fedbiomed::ConnectionEvent& event) { return event.state == ConnectionState::connected; },
        milliseconds(20000));
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->session, fedbiomed::SessionOutcome::resumed) << first->reason;
    // A marker queued behind whatever the session held: once it is in, the backlog is too.
    ASSERT_TRUE(sender.send_message(ping(rid, kMessages), nid).wait_for(milliseconds(20000)));
    EXPECT_TRUE(received.wait_all(kMessages, kMessages + 1, milliseconds(60000)))
        << "the marker sent after the resumption never arrived";
    const std::size_t lost = received.missing(0, kFirstPart);
    const auto stats = sender.stats();
    ::testing::Test::RecordProperty("failover_ms", std::to_string(failover_ms));
    ::testing::Test::RecordProperty("missing_while_down", std::to_string(missing_while_down));
    ::testing::Test::RecordProperty("lost", std::to_string(lost));
    ::testing::Test::RecordProperty("resent", std::to_string(stats.resent));
    ::testing::Test::RecordProperty("duplicates", std::to_string(received.duplicates()));
    std::cout << "cluster kill -9 of the receiver's RabbitMQ node: failover " << failover_ms << " ms, "
              << delivered << " delivered, " << missing_while_down
              << " missing until the node was back and the session resumed, " << lost
              << " lost (acknowledged by RabbitMQ while the receiver had no queue), resumed through "
              << (resumed_on == cluster.address(2) ? "its own node" : "another node") << ", " << stats.resent
              << " re-sent, " << received.duplicates() << " duplicates at the handler\n";
    receiver->stop();
    sender.stop();
}

TEST(Cluster, APersistentSessionWhoseRabbitMqNodeDiesFailsOverWithACleanSessionAndKeepsReceiving) {
    TestBroker& cluster = the_cluster();
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
    KilledNode killed(cluster, 3);
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
    killed.restart();
}

TEST(Cluster, AForbiddenSubscriptionOrPublicationIsReportedByTopicAndRetriedWithBackoff) {
    TestBroker& cluster = the_cluster();
    // A user that may use every topic but general/<forbidden> (RabbitMQ matches its topic permissions
    // against the AMQP routing key, with dots).
    const std::string user = unique("fbmacl");
    const std::string forbidden = unique("node");
    ctl(1, {"add_user", user, "s3cret"});
    ctl(1, {"set_permissions", "-p", "/", user, ".*", ".*", ".*"});
    const std::string except = "^(?!general\\." + forbidden + "$).*";
    ctl(1, {"set_topic_permissions", "-p", "/", user, "amq.topic", except, except});
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
    std::size_t losses = 0;
    std::size_t naming_it = 0;
    for (const auto& event : states.events()) {
        if (event.state != ConnectionState::disconnected) {
            continue;
        }
        // It names the publications awaiting their acknowledgement (the presence record published at each
        // connection may be one of them), the forbidden one among them when it was still awaited as the
        // loss was handled. A CI run under load once saw one loss name the presence record alone: that
        // loss came before the forbidden publication was in flight again, or after its refusal was
        // reported.
        ++losses;
        naming_it += event.reason.find("general/" + forbidden) != std::string::npos ? 1U : 0U;
        EXPECT_NE(event.reason.find(" acknowledgement (if the broker is still up, check that its ACL"),
                  std::string::npos)
            << event.reason;
    }
    EXPECT_GT(naming_it * 2, losses) << naming_it << " of " << losses << " losses name general/" << forbidden;
    EXPECT_EQ(refused.state(), Delivery::State::pending) << "kept and sent again after each reconnection";
    const auto stats = researcher.stats();
    ::testing::Test::RecordProperty("losses", std::to_string(stats.connection_losses));
    ::testing::Test::RecordProperty("attempts", std::to_string(stats.connection_attempts));
    std::cout << "forbidden publication on RabbitMQ: " << stats.connection_losses << " losses, "
              << stats.connection_attempts << " connection attempts\n";
    researcher.stop();
    EXPECT_EQ(refused.state(), Delivery::State::failed);
    ctl(1, {"delete_user", user});
}

TEST(Cluster, APersistentSessionIsResumedAfterItsRabbitMqNodeIsKilledAndRestarted) {
    TestBroker& cluster = the_cluster();
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
    KilledNode(cluster, 3).restart();

    Messaging node(received.handler(), ComponentType::node, nid,
                   after_restart(cluster_options(cluster, {3})));
    node.start();
    EXPECT_TRUE(received.wait_distinct(10, milliseconds(30000))) << received.distinct() << " of 10";
    node.stop();
}

// RabbitMQ keeps retained messages and wills on the node the client is connected to: a researcher on
// another node never sees a node's retained "online" record, and no will is published when the node's
// RabbitMQ node dies. The heartbeats are what tells, both ways.
TEST(Cluster, PresenceFollowsANodeOnAnotherRabbitMqNodeThroughItsHeartbeats) {
    TestBroker& cluster = the_cluster();
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

    KilledNode killed(cluster, 1);
    const auto gone = presence.wait_first(
        [&](const fedbiomed::PresenceEvent& event) { return event.id == nid && !event.online; },
        milliseconds(10000));
    ASSERT_TRUE(gone);
    EXPECT_EQ(gone->reason.rfind("no heartbeat for ", 0), 0U) << gone->reason;
    EXPECT_TRUE(researcher.online_nodes().empty());

    killed.restart();
    // The node reconnects by itself, and its next record brings it back.
    EXPECT_TRUE(presence.wait_count_if(online, 2, milliseconds(60000)));
    node.stop();
    researcher.stop();
}

}  // namespace

// Every public method of Messaging against a real Mosquitto: construction and id checks, topics and
// subscriptions of both component types, start/stop (twice, blocking, restart), send_message / send_error
// and the bytes they put on the wire, MQTT version selection.
#include <algorithm>
#include <thread>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::Delivery;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Messaging;
using fedbiomed::MessagingError;
using fedbiomed::MessagingOptions;

TEST(MessagingApi, ConstructionDoesNoNetworkAndReportsTopics) {
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_1234", "127.0.0.1", 1);
    EXPECT_FALSE(researcher.is_connected());
    EXPECT_FALSE(researcher.is_failed());
    EXPECT_EQ(researcher.default_send_topic(), "general/nodes");
    EXPECT_EQ(researcher.subscribed_topics(),
              (std::vector<std::string>{"general/researcher", "general/monitoring", "general/logger"}));
    EXPECT_EQ(researcher.id(), "researcher_1234");
    EXPECT_EQ(researcher.component_type(), ComponentType::researcher);

    Messaging node(nullptr, ComponentType::node, "node_5678", "127.0.0.1", 1);
    EXPECT_FALSE(node.is_connected());
    EXPECT_EQ(node.default_send_topic(), "general/researcher");
    EXPECT_EQ(node.subscribed_topics(), (std::vector<std::string>{"general/nodes", "general/node_5678"}));
    EXPECT_EQ(node.component_type(), ComponentType::node);
    const auto stats = node.stats();
    EXPECT_EQ(stats.received, 0U);
    EXPECT_EQ(stats.published, 0U);
}

TEST(MessagingApi, IdsThatWouldChangeTheTopicTreeAreRefused) {
    const std::vector<std::pair<std::string, std::string>> hostile = {
        {"", "empty"},
        {"node/1", "'/'"},
        {"node+", "'+'"},
        {"#", "'#'"},
        {"node.1", "'.' (RabbitMQ turns it into '/'"},
        {std::string("no\0de", 5), "NUL"},
        {"nodes", "reserved"},
        {"researcher", "reserved"},
        {"monitoring", "reserved"},
        {"logger", "reserved"},
    };
    for (const auto type : {ComponentType::node, ComponentType::researcher}) {
        for (const auto& [id, reason] : hostile) {
            try {
                Messaging messaging(nullptr, type, id);
                ADD_FAILURE() << "id '" << id << "' was accepted";
            } catch (const MessagingError& error) {
                EXPECT_EQ(error.code(), ErrorNumbers::FB103);
                const std::string what = error.what();
                EXPECT_EQ(what.rfind("FB103: messaging call error", 0), 0U) << what;
                EXPECT_NE(what.find(reason), std::string::npos) << what;
            }
        }
    }
    EXPECT_NO_THROW(fedbiomed::validate_component_id("node_3f6c6a1e-0b8e-4a57-a6d2-1f2d6d0c9a77"));
    EXPECT_THROW(fedbiomed::validate_component_id("a/b"), MessagingError);
    EXPECT_THROW(fedbiomed::validate_component_id("node_a.b"), MessagingError);
}

TEST(MessagingApi, InvalidOptionsAreRefused) {
    MessagingOptions bad_port;
    bad_port.port = 0;
    EXPECT_THROW(Messaging(nullptr, ComponentType::node, "node_a", bad_port), MessagingError);
    MessagingOptions bad_qos;
    bad_qos.qos = 3;
    EXPECT_THROW(Messaging(nullptr, ComponentType::node, "node_a", bad_qos), MessagingError);
    MessagingOptions bad_timeout;
    bad_timeout.connect_timeout = std::chrono::milliseconds(0);
    EXPECT_THROW(Messaging(nullptr, ComponentType::node, "node_a", bad_timeout), MessagingError);
    // Durations added to the clock are bounded (366 days) so that no deadline overflows.
    MessagingOptions endless_stop;
    endless_stop.stop_timeout = std::chrono::milliseconds::max();
    try {
        Messaging node(nullptr, ComponentType::node, "node_a", endless_stop);
        ADD_FAILURE() << "a stop_timeout of milliseconds::max() was accepted";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), fedbiomed::ErrorNumbers::FB103);
        EXPECT_NE(std::string(error.what()).find("stop_timeout"), std::string::npos) << error.what();
    }
    MessagingOptions endless_backoff;
    endless_backoff.reconnect.max_delay = std::chrono::hours(24 * 400);
    EXPECT_THROW(Messaging(nullptr, ComponentType::node, "node_a", endless_backoff), MessagingError);
    // A heartbeat period is 0 (none) or 10 ms..24 h: a shorter one would flood the broker.
    for (const auto period : {std::chrono::milliseconds(-1), std::chrono::milliseconds(9),
                              std::chrono::milliseconds(std::chrono::hours(25))}) {
        MessagingOptions heartbeat;
        heartbeat.presence_heartbeat = period;
        try {
            Messaging node(nullptr, ComponentType::node, "node_a", heartbeat);
            ADD_FAILURE() << "presence_heartbeat " << period.count() << " ms was accepted";
        } catch (const MessagingError& error) {
            EXPECT_NE(std::string(error.what()).find("presence_heartbeat"), std::string::npos)
                << error.what();
        }
    }
    MessagingOptions no_heartbeat;
    no_heartbeat.presence_heartbeat = std::chrono::milliseconds(0);
    EXPECT_NO_THROW(Messaging(nullptr, ComponentType::node, "node_a", no_heartbeat));
    // Payloads stay far below RabbitMQ's 128 MiB message limit, over which it wedges the connection.
    MessagingOptions largest;
    largest.max_payload_bytes = MessagingOptions::kMaxPayloadBytesLimit;
    EXPECT_NO_THROW(Messaging(nullptr, ComponentType::node, "node_a", largest));
    for (const std::size_t bytes : {MessagingOptions::kMaxPayloadBytesLimit + 1, std::size_t{128} << 20U}) {
        MessagingOptions too_large;
        too_large.max_payload_bytes = bytes;
        try {
            Messaging node(nullptr, ComponentType::node, "node_a", too_large);
            ADD_FAILURE() << "max_payload_bytes " << bytes << " was accepted";
        } catch (const MessagingError& error) {
            EXPECT_EQ(error.code(), fedbiomed::ErrorNumbers::FB103);
            EXPECT_NE(std::string(error.what()).find("max_payload_bytes must not exceed 67108864"),
                      std::string::npos)
                << error.what();
        }
    }
    // first_connect_deadline alone may be "forever".
    MessagingOptions forever;
    forever.first_connect_deadline = std::chrono::milliseconds::max();
    EXPECT_NO_THROW(Messaging(nullptr, ComponentType::node, "node_a", forever));
}

TEST(MessagingApi, ReferenceConstructorConnectsToTheGivenBroker) {
    auto& broker = test_broker();
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, "node_refctor_" + unique_suffix(), broker.host(),
                   broker.port());
    node.start();
    EXPECT_TRUE(node.is_connected());
    EXPECT_FALSE(node.is_failed());
    node.stop();
    EXPECT_FALSE(node.is_connected());
}

TEST(MessagingApi, ResearcherReceivesOnItsThreeTopicsOnly) {
    auto& broker = test_broker();
    Recorder recorder;
    Messaging researcher(recorder.handler(), ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    researcher.start();
    ASSERT_TRUE(researcher.is_connected());

    RawClient peer(broker);
    // general/nodes and general/<x> are not ours: they must not arrive; the last one proves the order.
    peer.publish("general/nodes", ping("R", 1).dump());
    peer.publish("general/node_x", ping("R", 2).dump());
    peer.publish("general/researcher", pong("R", "N", 3).dump());
    peer.publish("general/monitoring", pong("R", "N", 4).dump());
    peer.publish("general/logger", pong("R", "N", 5).dump());
    ASSERT_TRUE(recorder.wait_messages(3));
    const auto messages = recorder.messages();
    ASSERT_EQ(messages.size(), 3U);
    EXPECT_EQ(messages[0].second, "general/researcher");
    EXPECT_EQ(messages[0].first.at("sequence"), 3);
    EXPECT_EQ(messages[1].second, "general/monitoring");
    EXPECT_EQ(messages[2].second, "general/logger");
}

TEST(MessagingApi, NodeReceivesBroadcastsAndItsOwnTopicOnly) {
    auto& broker = test_broker();
    Recorder recorder;
    const std::string id = "node_" + unique_suffix();
    Messaging node(recorder.handler(), ComponentType::node, id, options_for(broker));
    node.start();

    RawClient peer(broker);
    peer.publish("general/node_other", ping("R", 1).dump());
    peer.publish("general/researcher", pong("R", "N", 2).dump());
    peer.publish("general/" + id, ping("R", 3).dump());
    peer.publish("general/nodes", ping("R", 4).dump());
    ASSERT_TRUE(recorder.wait_messages(2));
    const auto messages = recorder.messages();
    ASSERT_EQ(messages.size(), 2U);
    EXPECT_EQ(messages[0].second, "general/" + id);
    EXPECT_EQ(messages[0].first.at("sequence"), 3);
    EXPECT_EQ(messages[1].second, "general/nodes");
    EXPECT_EQ(messages[1].first.at("sequence"), 4);
}

TEST(MessagingApi, SendMessageUsesTheReferenceTopicsAndBytes) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/#"});
    const std::string node_id = "node_" + unique_suffix();
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    Messaging node(nullptr, ComponentType::node, node_id, options_for(broker));
    researcher.start();
    node.start();

    Delivery broadcast = researcher.send_message(ping("RES_1", 7));
    Delivery direct = researcher.send_message(ping("RES_1", 8), node_id);
    Delivery reply = node.send_message(pong("RES_1", "NODE_A", 7));
    Json scalar = Json::object();
    scalar["protocol_version"] = "1";
    scalar["command"] = "add_scalar";
    Delivery monitoring = node.send_message(scalar, std::string("monitoring"));
    for (auto* delivery : {&broadcast, &direct, &reply, &monitoring}) {
        ASSERT_TRUE(delivery->wait_for(kWait));
        EXPECT_TRUE(delivery->delivered()) << delivery->error();
        EXPECT_EQ(delivery->state(), Delivery::State::delivered);
        EXPECT_EQ(delivery->error(), "");
    }
    ASSERT_TRUE(observer.wait_for_count(4));
    auto messages = observer.messages();
    ASSERT_EQ(messages.size(), 4U);
    auto find = [&](const std::string& topic) {
        return std::find_if(messages.begin(), messages.end(),
                            [&](const RawMessage& m) { return m.topic == topic; });
    };
    ASSERT_NE(find("general/nodes"), messages.end());
    EXPECT_EQ(find("general/nodes")->payload,
              R"({"protocol_version": "1", "researcher_id": "RES_1", "sequence": 7, "command": "ping"})");
    ASSERT_NE(find("general/" + node_id), messages.end());
    EXPECT_EQ(find("general/" + node_id)->payload,
              R"({"protocol_version": "1", "researcher_id": "RES_1", "sequence": 8, "command": "ping"})");
    ASSERT_NE(find("general/researcher"), messages.end());
    EXPECT_EQ(find("general/researcher")->payload,
              R"({"protocol_version": "1", "researcher_id": "RES_1", "node_id": "NODE_A", "success": true, )"
              R"("sequence": 7, "command": "pong"})");
    ASSERT_NE(find("general/monitoring"), messages.end());
    EXPECT_EQ(find("general/monitoring")->payload, R"({"protocol_version": "1", "command": "add_scalar"})");
    EXPECT_EQ(researcher.stats().published, 2U);
    EXPECT_EQ(node.stats().published, 2U);
}

TEST(MessagingApi, ResearcherAndNodeTalkBothWays) {
    auto& broker = test_broker();
    const std::string node_id = "node_" + unique_suffix();
    const std::string researcher_id = "researcher_" + unique_suffix();
    Recorder researcher_inbox;
    Messaging researcher(researcher_inbox.handler(), ComponentType::researcher, researcher_id,
                         options_for(broker));
    std::unique_ptr<Messaging> node;
    // The node answers from its handler, as the reference node does for ping.
    node = std::make_unique<Messaging>(
        [&](const Json& msg, const std::string& /*topic*/) {
            const auto sequence = msg.at("sequence").get<int>();
            node->send_message(pong(msg.at("researcher_id").get<std::string>(), node_id, sequence));
            Json scalar = Json::object();
            scalar["protocol_version"] = "1";
            scalar["node_id"] = node_id;
            scalar["command"] = "add_scalar";
            node->send_message(scalar, std::string("monitoring"));
        },
        ComponentType::node, node_id, options_for(broker));
    researcher.start();
    node->start();

    researcher.send_message(ping(researcher_id, 1));           // broadcast
    researcher.send_message(ping(researcher_id, 2), node_id);  // addressed to the node
    ASSERT_TRUE(researcher_inbox.wait_messages(4));
    const auto messages = researcher_inbox.messages();
    std::vector<int> pongs;
    int scalars = 0;
    for (const auto& [msg, topic] : messages) {
        if (topic == "general/researcher") {
            EXPECT_EQ(msg.at("command"), "pong");
            EXPECT_EQ(msg.at("node_id"), node_id);
            pongs.push_back(msg.at("sequence").get<int>());
        } else {
            EXPECT_EQ(topic, "general/monitoring");
            ++scalars;
        }
    }
    std::sort(pongs.begin(), pongs.end());
    EXPECT_EQ(pongs, (std::vector<int>{1, 2}));
    EXPECT_EQ(scalars, 2);
    node->stop();
}

TEST(MessagingApi, StartTwiceIsHarmless) {
    auto& broker = shared_broker();
    auto options = options_for(broker);
    options.client_id = "fbm-start-twice-" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.start();
    node.start();
    EXPECT_TRUE(node.is_connected());
    node.stop();
    ASSERT_TRUE(wait_until(
        [&] {
            return broker.log().find("Client " + options.client_id + " disconnected") != std::string::npos;
        },
        kWait));
    EXPECT_EQ(count_occurrences(broker.log(), " as " + options.client_id + " "), 1U) << broker.log();
}

TEST(MessagingApi, StopSendsACleanDisconnectAndIsSafeTwiceAndFromTheDestructor) {
    auto& broker = shared_broker();
    auto options = options_for(broker);
    options.client_id = "fbm-stop-" + unique_suffix();
    {
        Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(), options);
        researcher.start();
        researcher.stop();
        EXPECT_FALSE(researcher.is_connected());
        EXPECT_FALSE(researcher.is_failed());
        researcher.stop();
        EXPECT_FALSE(researcher.is_connected());
    }  // destructor: a third stop
    // "disconnected" is what mosquitto logs for a DISCONNECT packet; a dropped socket is "closed its
    // connection".
    ASSERT_TRUE(wait_until(
        [&] {
            return broker.log().find("Client " + options.client_id + " disconnected.") != std::string::npos;
        },
        kWait))
        << broker.log();
    EXPECT_EQ(broker.log().find("Client " + options.client_id + " closed its connection"), std::string::npos);

    // The destructor alone also disconnects cleanly.
    options.client_id = "fbm-dtor-" + unique_suffix();
    {
        Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
        node.start();
    }
    ASSERT_TRUE(wait_until(
        [&] {
            return broker.log().find("Client " + options.client_id + " disconnected.") != std::string::npos;
        },
        kWait));
    // Never started: stop() is a no-op.
    Messaging idle(nullptr, ComponentType::node, "node_idle", options);
    idle.stop();
    idle.stop();
    EXPECT_FALSE(idle.is_connected());
}

TEST(MessagingApi, StartCanBeCalledAgainAfterStop) {
    auto& broker = test_broker();
    Recorder recorder;
    const std::string id = "node_" + unique_suffix();
    Messaging node(recorder.handler(), ComponentType::node, id, options_for(broker));
    node.start();
    node.stop();
    node.start();
    ASSERT_TRUE(node.is_connected());
    RawClient peer(broker);
    peer.publish("general/" + id, ping("R", 1).dump());
    ASSERT_TRUE(recorder.wait_messages(1));
    EXPECT_TRUE(node.send_message(pong("R", id, 1)).wait_for(kWait));
}

TEST(MessagingApi, BlockingStartReturnsWhenStopIsCalled) {
    auto& broker = test_broker();
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options_for(broker));
    std::atomic<bool> returned{false};
    std::thread runner([&] {
        node.start(true);
        returned.store(true);
    });
    ASSERT_TRUE(wait_until([&] { return node.is_connected(); }, kWait));
    EXPECT_FALSE(returned.load());
    node.stop();
    runner.join();
    EXPECT_TRUE(returned.load());
    EXPECT_FALSE(node.is_connected());
}

TEST(MessagingApi, SendWhileNotConnectedFailsClearly) {
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options_for(test_broker()));
    Delivery before = node.send_message(pong("R", "N", 1));
    EXPECT_TRUE(before.wait_for(std::chrono::milliseconds(0)));
    EXPECT_EQ(before.state(), Delivery::State::failed);
    EXPECT_FALSE(before.delivered());
    EXPECT_NE(before.error().find("FB103"), std::string::npos) << before.error();
    EXPECT_NE(before.error().find("not connected"), std::string::npos) << before.error();
    node.start();
    node.stop();
    Delivery after = node.send_error(ErrorNumbers::FB300, "late");
    EXPECT_EQ(after.state(), Delivery::State::failed);
    EXPECT_EQ(node.stats().publish_failures, 2U);
    EXPECT_EQ(node.stats().published, 0U);

    Delivery empty;
    EXPECT_EQ(empty.state(), Delivery::State::failed);
    EXPECT_NE(empty.error().find("no publication"), std::string::npos);
}

TEST(MessagingApi, SendMessageRefusesBadClientsBadMessagesAndOversize) {
    auto& broker = test_broker();
    auto options = options_for(broker);
    options.max_payload_bytes = 200;
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(), options);
    researcher.start();
    for (const std::string& client : std::vector<std::string>{"", "a/b", "+", "x#", std::string("a\0b", 3)}) {
        try {
            researcher.send_message(ping("R", 1), client);
            ADD_FAILURE() << "client '" << client << "' accepted";
        } catch (const MessagingError& error) {
            EXPECT_EQ(error.code(), ErrorNumbers::FB103);
        }
    }
    Json not_an_enum = ping("R", 1);
    not_an_enum["errnum"] = 42;  // only an ErrorNumbers member may travel in errnum
    EXPECT_THROW(researcher.send_message(not_an_enum), fedbiomed::MessageError);
    Json big = ping("R", 1);
    big["padding"] = std::string(300, 'x');
    try {
        researcher.send_message(big);
        ADD_FAILURE() << "oversize message accepted";
    } catch (const fedbiomed::MessageError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB601);
        EXPECT_NE(std::string(error.what()).find("max_payload_bytes"), std::string::npos);
    }
    // Reserved names are fine as a client: the reference sends add_scalar with client="monitoring".
    EXPECT_TRUE(researcher.send_message(ping("R", 1), std::string("monitoring")).wait_for(kWait));
}

TEST(MessagingApi, SendErrorFromANodeHasTheReferenceShape) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/researcher"});
    Messaging node(nullptr, ComponentType::node, "NODE_A", options_for(broker));
    node.start();
    Delivery delivery = node.send_error(ErrorNumbers::FB301, "bad thing", "RES_1");
    ASSERT_TRUE(delivery.wait_for(kWait));
    EXPECT_TRUE(delivery.delivered());
    Delivery defaults = node.send_error(ErrorNumbers::FB312);
    ASSERT_TRUE(observer.wait_for_count(2));
    const auto messages = observer.messages();
    EXPECT_EQ(messages[0].payload,
              R"({"command": "error", "errnum": "FB301: Protocol error", "node_id": "NODE_A", )"
              R"("extra_msg": "bad thing", "researcher_id": "RES_1", "protocol_version": "1"})");
    EXPECT_EQ(
        messages[1].payload,
        R"({"command": "error", "errnum": "FB312: Node stopped in SIGTERM signal handler", )"
        R"("node_id": "NODE_A", "extra_msg": "", "researcher_id": "<unknown>", "protocol_version": "1"})");
}

TEST(MessagingApi, SendErrorFromAResearcherIsAClearError) {
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(test_broker()));
    researcher.start();
    try {
        researcher.send_error(ErrorNumbers::FB301, "x");
        ADD_FAILURE() << "send_error accepted from a researcher";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB103);
        EXPECT_NE(std::string(error.what()).find("send_error is only available to nodes"), std::string::npos);
    }
    EXPECT_TRUE(researcher.is_connected());
}

TEST(MessagingApi, MqttVersionIsExplicit) {
    auto& broker = shared_broker();
    Recorder recorder;
    auto v3 = options_for(broker);
    v3.client_id = "fbm-v311-" + unique_suffix();
    v3.mqtt_version = fedbiomed::MqttVersion::v3_1_1;
    auto v5 = options_for(broker);
    v5.client_id = "fbm-v5-" + unique_suffix();
    v5.mqtt_version = fedbiomed::MqttVersion::v5;
    const std::string node_id = "node_" + unique_suffix();
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(), v3);
    Messaging node(recorder.handler(), ComponentType::node, node_id, v5);
    researcher.start();
    node.start();
    ASSERT_TRUE(researcher.send_message(ping("R", 9), node_id).wait_for(kWait));
    ASSERT_TRUE(recorder.wait_messages(1));
    EXPECT_EQ(recorder.messages()[0].first.at("sequence"), 9);
    EXPECT_TRUE(node.send_message(pong("R", node_id, 9)).wait_for(kWait));
    // mosquitto logs the protocol level (p2 = MQTT 3.1.1, p5 = MQTT 5) and the clean-session flag (c0: the
    // persistent session of the default options).
    const std::string log = broker.log();
    EXPECT_NE(log.find(" as " + v3.client_id + " (p2, c0"), std::string::npos) << log;
    EXPECT_NE(log.find(" as " + v5.client_id + " (p5, c0"), std::string::npos) << log;
}

TEST(MessagingApi, QosZeroWorksLikeTheReference) {
    auto& broker = test_broker();
    Recorder recorder;
    auto options = options_for(broker);
    options.qos = 0;
    const std::string node_id = "node_" + unique_suffix();
    Messaging node(recorder.handler(), ComponentType::node, node_id, options);
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(), options);
    node.start();
    researcher.start();
    Delivery delivery = researcher.send_message(ping("R", 3), node_id);
    ASSERT_TRUE(delivery.wait_for(kWait));
    EXPECT_TRUE(delivery.delivered());
    ASSERT_TRUE(recorder.wait_messages(1));
}

TEST(MessagingApi, WithoutAPersistentSessionTheBrokerAssignsTheClientId) {
    MosquittoBroker broker;  // its own: the log must hold this node's connection only
    auto options = options_for(broker);
    options.persistent_session = false;
    Messaging node(nullptr, ComponentType::node, "node_auto_" + unique_suffix(), options);
    EXPECT_EQ(node.client_id(), "");
    node.start();
    EXPECT_TRUE(node.is_connected());
    const std::string log = broker.log();
    EXPECT_EQ(count_occurrences(log, " as auto-"), 1U) << log;
    // p5: MQTT 5 by default (MqttVersion::automatic), which Mosquitto speaks.
    EXPECT_EQ(count_occurrences(log, "(p5, c1, k60)"), 1U) << log;
}

}  // namespace
}  // namespace fbm_test

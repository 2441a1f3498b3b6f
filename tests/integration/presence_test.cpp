// Presence: components announce themselves online on fedbiomed-messaging/presence/..., the broker announces
// them offline (their will) when they die, a clean stop() says so itself; researchers follow the nodes;
// nothing of this reaches the MessageHandler or the reference topics.
#include <algorithm>
#include <csignal>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Messaging;
using fedbiomed::PresenceEvent;

// Waits for an event about @p id with the given state; returns it (an empty event if none came).
PresenceEvent wait_presence(const PresenceRecorder& presence, const std::string& id, bool online) {
    return presence
        .wait_first([&](const PresenceEvent& event) { return event.id == id && event.online == online; })
        .value_or(PresenceEvent{});
}

TEST(Presence, AResearcherFollowsNodesComingAndGoing) {
    auto& broker = test_broker();
    const std::string early = "node_early_" + unique_suffix();
    Messaging early_node(nullptr, ComponentType::node, early, quiet_options(broker));
    early_node.start();

    Recorder inbox;
    PresenceRecorder presence;
    Messaging researcher(inbox.handler(), ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    researcher.set_presence_handler(presence.handler());
    researcher.start();
    // A node online before the researcher started: its retained announcement tells.
    EXPECT_EQ(wait_presence(presence, early, true).id, early);

    const std::string clean = "node_clean_" + unique_suffix();
    {
        Messaging node(nullptr, ComponentType::node, clean, quiet_options(broker));
        node.start();
        const PresenceEvent online = wait_presence(presence, clean, true);
        EXPECT_EQ(online.id, clean);
        EXPECT_EQ(online.type, ComponentType::node);
        EXPECT_EQ(online.reason, "online");
        auto nodes = researcher.online_nodes();
        EXPECT_NE(std::find(nodes.begin(), nodes.end(), clean), nodes.end());
    }  // stop(): "offline", then DISCONNECT
    const PresenceEvent stopped = wait_presence(presence, clean, false);
    EXPECT_EQ(stopped.id, clean);
    EXPECT_EQ(stopped.reason, "stopped");

    // A node process killed outright: the broker publishes its will.
    const std::string killed = "node_killed_" + unique_suffix();
    ChildProcess peer({fault_peer_binary(), "--port", std::to_string(broker.port()), "--id", killed},
                      peer_capture());
    ASSERT_TRUE(peer.wait_for_stdout("ready", kWait));
    EXPECT_EQ(wait_presence(presence, killed, true).id, killed);
    peer.send_signal(SIGKILL);
    EXPECT_EQ(peer.wait_exit(kWait), 128 + SIGKILL);
    const PresenceEvent died = wait_presence(presence, killed, false);
    EXPECT_EQ(died.id, killed);
    EXPECT_EQ(died.reason, "connection lost");

    const auto nodes = researcher.online_nodes();
    EXPECT_NE(std::find(nodes.begin(), nodes.end(), early), nodes.end());
    EXPECT_EQ(std::find(nodes.begin(), nodes.end(), clean), nodes.end());
    EXPECT_EQ(std::find(nodes.begin(), nodes.end(), killed), nodes.end());
    // None of it reached the message handler.
    EXPECT_TRUE(inbox.messages().empty());
    EXPECT_EQ(researcher.stats().received, 0U);
    // Once stopped, the researcher no longer claims to know who is online.
    researcher.stop();
    EXPECT_TRUE(researcher.online_nodes().empty());
}

// A node process that hangs (here: stopped by SIGSTOP) keeps its TCP connection open, so the broker
// publishes no will until the keep-alive runs out; its heartbeats stop at once.
TEST(Presence, ANodeThatStopsBeatingIsTakenOfflineAndComesBackWithItsNextHeartbeat) {
    auto& broker = test_broker();
    PresenceRecorder presence;
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                         quiet_options(broker));
    researcher.set_presence_handler(presence.handler());
    researcher.start();

    const std::string hung = "node_hung_" + unique_suffix();
    ChildProcess peer({fault_peer_binary(), "--port", std::to_string(broker.port()), "--id", hung,
                       "--keepalive", "60", "--heartbeat", "100"},
                      peer_capture());
    ASSERT_TRUE(peer.wait_for_stdout("ready", kWait));
    EXPECT_EQ(wait_presence(presence, hung, true).id, hung);
    peer.send_signal(SIGSTOP);
    const PresenceEvent silent = wait_presence(presence, hung, false);
    EXPECT_EQ(silent.id, hung);
    EXPECT_EQ(silent.reason.rfind("no heartbeat for ", 0), 0U) << silent.reason;
    EXPECT_NE(silent.reason.find("every 100 ms"), std::string::npos) << silent.reason;
    EXPECT_TRUE(researcher.online_nodes().empty());

    peer.send_signal(SIGCONT);
    const auto online_again = [&](const PresenceEvent& event) { return event.id == hung && event.online; };
    EXPECT_TRUE(presence.wait_count_if(online_again, 2));
    EXPECT_EQ(researcher.online_nodes(), std::vector<std::string>{hung});
    peer.send_signal(SIGINT);
    EXPECT_EQ(peer.wait_exit(kWait), 0);
    EXPECT_TRUE(presence.wait_first([&](const PresenceEvent& event) {
        return event.id == hung && !event.online && event.reason == "stopped";
    }));
}

// What a RabbitMQ node that dies leaves behind: the "online" record retained on another node, and no will.
// The record announced heartbeats, so the researcher does not believe it for ever.
TEST(Presence, ARetainedOnlineRecordWhoseHeartbeatsNeverComeExpires) {
    auto& broker = shared_broker();
    const std::string ghost = "node_ghost_" + unique_suffix();
    const std::string topic = "fedbiomed-messaging/presence/node/" + ghost;
    RawClient writer(broker);
    writer.publish_retained(topic, R"({"state":"online","type":"node","id":")" + ghost +
                                       R"(","instance":"0123456789abcdef","seq":1,"ack":1,"heartbeat":100})");

    PresenceRecorder presence;
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                         quiet_options(broker));
    researcher.set_presence_handler(presence.handler());
    researcher.start();
    EXPECT_EQ(wait_presence(presence, ghost, true).id, ghost);
    const PresenceEvent expired = wait_presence(presence, ghost, false);
    EXPECT_EQ(expired.reason.rfind("no heartbeat for ", 0), 0U) << expired.reason;
    EXPECT_TRUE(researcher.online_nodes().empty());
    // Nor does a broadcast wait for its end-to-end acknowledgement any more.
    EXPECT_TRUE(wait_until([&] { return researcher.end_to_end_peers().empty(); }, kWait));
    writer.publish_retained(topic, "");  // leaves the shared broker clean
}

// A component with heartbeats sends them live, never retained, on its own presence topic only; a
// component with presence_heartbeat 0 announces no period and sends none.
TEST(Presence, HeartbeatsAreLiveCopiesOfTheOnlineRecord) {
    auto& broker = shared_broker();
    const std::string beating = "node_beating_" + unique_suffix();
    const std::string still = "node_still_" + unique_suffix();
    RawClient observer(broker, {"fedbiomed-messaging/presence/node/" + beating,
                                "fedbiomed-messaging/presence/node/" + still});
    auto fast = quiet_options(broker);
    fast.presence_heartbeat = std::chrono::milliseconds(50);
    auto none = quiet_options(broker);
    none.presence_heartbeat = std::chrono::milliseconds(0);
    Messaging beating_node(nullptr, ComponentType::node, beating, fast);
    Messaging still_node(nullptr, ComponentType::node, still, none);
    still_node.start();
    beating_node.start();
    // The "online" record of each, then at least 3 heartbeats of the beating one.
    ASSERT_TRUE(observer.wait_for_count(5));
    beating_node.stop();
    still_node.stop();
    std::size_t beats = 0;
    for (const RawMessage& message : observer.messages()) {
        const Json record = Json::parse(message.payload);
        if (message.topic.find(still) != std::string::npos) {
            EXPECT_FALSE(record.contains("heartbeat")) << message.payload;
        } else if (record.at("state") == "online") {
            EXPECT_EQ(record.at("heartbeat"), 50) << message.payload;
            ++beats;
        }
    }
    EXPECT_GE(beats, 4U);  // the connection's record and its heartbeats, all the same "online" record
    // What the broker retained is the last record published with the retain flag: the stop's "offline".
    RawClient late(broker, {"fedbiomed-messaging/presence/node/" + beating});
    ASSERT_TRUE(late.wait_for_count(1));
    EXPECT_EQ(Json::parse(late.messages().front().payload).at("state"), "offline");
}

TEST(Presence, ReferenceTopicsCarryNothingButTheReferenceTraffic) {
    // A broker of its own: "#" would also receive the retained presence records of earlier tests run in
    // the same process on a shared broker.
    MosquittoBroker broker;
    RawClient general(broker, {"general/#"});
    RawClient everything(broker, {"#"});
    const std::string node_id = "node_" + unique_suffix();
    {
        Messaging node(nullptr, ComponentType::node, node_id, quiet_options(broker));
        Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                             options_for(broker));
        node.start();
        researcher.start();
        ASSERT_TRUE(node.send_error(ErrorNumbers::FB301, "marker").wait_for(kWait));
    }
    // Presence went on the library's own topics (online and offline of both components)...
    ASSERT_TRUE(everything.wait_for_count(5));
    std::size_t presence = 0;
    for (const auto& message : everything.messages()) {
        presence += message.topic.rfind("fedbiomed-messaging/presence/", 0) == 0 ? 1U : 0U;
    }
    EXPECT_EQ(presence, 4U);
    // ...and a reference subscriber (general/...) saw only the error message.
    ASSERT_TRUE(general.wait_for_count(1));
    EXPECT_EQ(general.messages().size(), 1U);
    EXPECT_EQ(general.messages()[0].topic, "general/researcher");
}

TEST(Presence, MalformedAnnouncementsAreReportedAndIgnored) {
    auto& broker = test_broker();
    Recorder recorder;
    Messaging researcher(recorder.handler(), ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    researcher.set_fault_handler(recorder.fault_handler());
    researcher.start();
    RawClient peer(broker);
    const std::string topic = "fedbiomed-messaging/presence/node/node_fake_" + unique_suffix();
    peer.publish(topic, "not json");
    peer.publish(topic, R"({"state": "online"})");
    peer.publish(topic, R"({"state": "dancing", "type": "node", "id": "x", "instance": "y"})");
    ASSERT_TRUE(recorder.wait_faults(3));
    for (const auto& fault : recorder.faults()) {
        EXPECT_EQ(fault.code, ErrorNumbers::FB601) << fault.message;
        EXPECT_EQ(fault.topic, topic);
        EXPECT_NE(fault.message.find("presence announcement"), std::string::npos) << fault.message;
    }
    EXPECT_TRUE(researcher.online_nodes().empty());
    EXPECT_TRUE(recorder.messages().empty());
    EXPECT_TRUE(researcher.is_connected());
}

}  // namespace
}  // namespace fbm_test

// End-to-end acknowledgement on the default options, against the real broker: negotiated through the
// presence records between components of this library, acknowledged by each receiver in its own name as
// soon as a message is queued for its handler (so a long handler fails no delivery), a broadcast that says
// which nodes acknowledged and which did not, and a reference peer that gets the very same bytes and
// nothing else.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/json.hpp>
#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::Delivery;
using fedbiomed::Json;
using fedbiomed::Messaging;

std::vector<std::string> sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

TEST(EndToEnd, LibraryComponentsNegotiateItAndEachReceiverAcknowledgesInItsOwnName) {
    MosquittoBroker broker;
    RawClient observer(broker, {"fedbiomed-messaging/ack/#"});
    const std::string suffix = unique_suffix();
    const std::string node_a = "node_a_" + suffix;
    const std::string node_b = "node_b_" + suffix;
    const std::string researcher_id = "researcher_" + suffix;
    Recorder inbox_a;
    Recorder inbox_b;
    Recorder researcher_inbox;
    Messaging a(inbox_a.handler(), ComponentType::node, node_a, options_for(broker));
    Messaging b(inbox_b.handler(), ComponentType::node, node_b, options_for(broker));
    Messaging researcher(researcher_inbox.handler(), ComponentType::researcher, researcher_id,
                         options_for(broker));
    a.start();
    b.start();
    researcher.start();
    // The nodes' records were retained before the researcher subscribed: known when start() returned.
    EXPECT_EQ(researcher.end_to_end_peers(), sorted({node_a, node_b}));
    ASSERT_TRUE(
        wait_until([&] { return a.end_to_end_peers() == std::vector<std::string>{researcher_id}; }, kWait));

    // A broadcast waits for both nodes, and says so.
    const Delivery broadcast = researcher.send_message(ping("R", 1));
    ASSERT_TRUE(broadcast.wait_for(kWait));
    EXPECT_TRUE(broadcast.delivered()) << broadcast.error();
    EXPECT_EQ(sorted(broadcast.acknowledged_by()), sorted({node_a, node_b}));
    EXPECT_TRUE(broadcast.not_acknowledged_by().empty());

    // A message to one node waits for that node only.
    const Delivery direct = researcher.send_message(ping("R", 2), node_a);
    ASSERT_TRUE(direct.wait_for(kWait));
    EXPECT_EQ(direct.acknowledged_by(), std::vector<std::string>{node_a});

    // A node's reply waits for the researcher.
    const Delivery reply = a.send_message(pong("R", node_a, 2));
    ASSERT_TRUE(reply.wait_for(kWait));
    EXPECT_EQ(reply.acknowledged_by(), std::vector<std::string>{researcher_id});
    ASSERT_TRUE(researcher_inbox.wait_messages(1));

    // Each acknowledgement went out in its sender's own name (the topic's last level), which a broker ACL
    // can enforce (docs/deploy/fedbiomed.acl).
    ASSERT_TRUE(observer.wait_for_count(4));
    std::vector<std::string> topics;
    for (const auto& message : observer.messages()) {
        topics.push_back(message.topic);
    }
    const std::string to_researcher = "fedbiomed-messaging/ack/researcher/" + researcher_id + "/";
    EXPECT_NE(std::find(topics.begin(), topics.end(), to_researcher + node_a), topics.end());
    EXPECT_NE(std::find(topics.begin(), topics.end(), to_researcher + node_b), topics.end());
    EXPECT_NE(std::find(topics.begin(), topics.end(),
                        "fedbiomed-messaging/ack/node/" + node_a + "/" + researcher_id),
              topics.end());
    EXPECT_EQ(inbox_a.messages().size(), 2U);
    EXPECT_EQ(inbox_b.messages().size(), 1U);
}

TEST(EndToEnd, AReferencePeerGetsTheSameBytesAndNothingElse) {
    MosquittoBroker broker;
    const std::string suffix = unique_suffix();
    const std::string reference_id = "node_reference_" + suffix;
    const std::string library_id = "node_library_" + suffix;
    // What a reference node subscribes to, in MQTT 3.1.1, as the reference does.
    RawClient reference(broker, {"general/nodes", "general/" + reference_id});
    Recorder library_inbox;
    Messaging library_node(library_inbox.handler(), ComponentType::node, library_id, options_for(broker));
    library_node.start();
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + suffix, options_for(broker));
    researcher.start();
    EXPECT_EQ(researcher.end_to_end_peers(), std::vector<std::string>{library_id});

    const Json request = ping("R", 7);
    const Delivery broadcast = researcher.send_message(request);
    ASSERT_TRUE(broadcast.wait_for(kWait));
    EXPECT_EQ(broadcast.acknowledged_by(), std::vector<std::string>{library_id});
    // To the reference node alone: nobody to wait for, the broker's acknowledgement completes it.
    const Delivery direct = researcher.send_message(ping("R", 8), reference_id);
    ASSERT_TRUE(direct.wait_for(kWait));
    EXPECT_TRUE(direct.delivered()) << direct.error();
    EXPECT_TRUE(direct.acknowledged_by().empty());
    EXPECT_TRUE(direct.not_acknowledged_by().empty());

    ASSERT_TRUE(reference.wait_for_count(2));
    // A marker through the same subscription: anything extra sent before it would have arrived before it.
    ASSERT_TRUE(researcher.send_message(ping("R", 9), reference_id).wait_for(kWait));
    ASSERT_TRUE(reference.wait_for_count(3));
    const auto received = reference.messages();
    ASSERT_EQ(received.size(), 3U);
    EXPECT_EQ(received[0].topic, "general/nodes");
    EXPECT_EQ(received[0].payload, fedbiomed::serialize_msg(request));
    EXPECT_EQ(received[1].topic, "general/" + reference_id);
    EXPECT_EQ(received[2].topic, "general/" + reference_id);
}

TEST(EndToEnd, ABroadcastSaysWhichNodesDidNotAcknowledge) {
    MosquittoBroker broker;
    const std::string suffix = unique_suffix();
    const std::string node_id = "node_" + suffix;
    const std::string ghost_id = "node_ghost_" + suffix;
    // A node that announced end-to-end acknowledgement and went silent without its will reaching anyone
    // (a frozen process, a broker node that kept a stale retained record).
    RawClient ghost(broker);
    ghost.publish_retained("fedbiomed-messaging/presence/node/" + ghost_id,
                           R"({"state":"online","type":"node","id":")" + ghost_id +
                               R"(","instance":"00000000000000aa","seq":1,"ack":1})");
    Recorder inbox;
    Messaging node(inbox.handler(), ComponentType::node, node_id, options_for(broker));
    node.start();
    auto options = options_for(broker);
    options.end_to_end_timeout = std::chrono::milliseconds(1500);
    options.end_to_end_resend_interval = std::chrono::milliseconds(200);
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + suffix, options);
    researcher.start();
    EXPECT_EQ(researcher.end_to_end_peers(), sorted({node_id, ghost_id}));

    const Delivery broadcast = researcher.send_message(ping("R", 1));
    ASSERT_TRUE(broadcast.wait_for(kWait));
    EXPECT_EQ(broadcast.state(), Delivery::State::failed);
    EXPECT_NE(broadcast.error().find("FB102"), std::string::npos) << broadcast.error();
    EXPECT_NE(broadcast.error().find(ghost_id), std::string::npos) << broadcast.error();
    EXPECT_EQ(broadcast.acknowledged_by(), std::vector<std::string>{node_id});
    EXPECT_EQ(broadcast.not_acknowledged_by(), std::vector<std::string>{ghost_id});
    // The copies sent for the ghost reached the live node too: handled once, the copies dropped.
    ASSERT_TRUE(inbox.wait_messages(1));
    EXPECT_EQ(inbox.messages().size(), 1U);
    EXPECT_GE(researcher.stats().resent, 1U);
    EXPECT_EQ(researcher.stats().end_to_end_timeouts, 1U);
    // Bounded: the copies back off (about 200, 400, 800 ms apart), a handful in 1.5 s.
    EXPECT_LE(researcher.stats().resent, 4U);
}

TEST(EndToEnd, AHandlerThatRunsLongFailsNoDeliveryAndRunsOncePerMessage) {
    MosquittoBroker broker;
    const std::string suffix = unique_suffix();
    const std::string node_id = "node_" + suffix;
    std::mutex mutex;
    std::condition_variable changed;
    bool release = false;
    std::vector<int> handled;
    // Stands for an hour of training: the first message blocks the handler until the test releases it.
    Messaging node(
        [&](const Json& message, const std::string&) {
            std::unique_lock<std::mutex> lock(mutex);
            handled.push_back(message.at("sequence").get<int>());
            changed.notify_all();
            changed.wait(lock, [&] { return release; });
        },
        ComponentType::node, node_id, options_for(broker));
    node.start();
    auto options = options_for(broker);
    options.end_to_end_timeout = std::chrono::milliseconds(1000);
    options.end_to_end_resend_interval = std::chrono::milliseconds(100);
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + suffix, options);
    researcher.start();
    ASSERT_EQ(researcher.end_to_end_peers(), std::vector<std::string>{node_id});

    std::vector<Delivery> deliveries;
    for (int i = 0; i < 5; ++i) {
        deliveries.push_back(researcher.send_message(ping("R", i), node_id));
    }
    // Every Delivery completes while the handler is still busy with the first message: receipt is
    // acknowledged when a message is queued for the handler, not when the handler returns.
    for (const auto& delivery : deliveries) {
        ASSERT_TRUE(delivery.wait_for(kWait));
        EXPECT_TRUE(delivery.delivered()) << delivery.error();
        EXPECT_EQ(delivery.acknowledged_by(), std::vector<std::string>{node_id});
    }
    {
        std::lock_guard<std::mutex> lock(mutex);
        EXPECT_EQ(handled, std::vector<int>{0}) << "the handler is still on its first message";
        release = true;
    }
    changed.notify_all();
    {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(changed.wait_for(lock, kWait, [&] { return handled.size() >= 5; }));
    }
    EXPECT_EQ(researcher.stats().end_to_end_timeouts, 0U);
    node.stop();
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(handled, (std::vector<int>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace fbm_test

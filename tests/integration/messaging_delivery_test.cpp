// Publications: the Delivery handle says whether the broker accepted each message; bursts are not refused
// by Paho's buffer limit; stop() drains or fails what is pending; a lost connection is noticed and reported.
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

TEST(MessagingDelivery, ABurstIsDeliveredCompletelyAndInOrder) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/nodes"});
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    researcher.start();
    constexpr int kCount = 1500;  // well above Paho C's default limit of 100 queued publications
    std::vector<Delivery> deliveries;
    deliveries.reserve(kCount);
    for (int i = 0; i < kCount; ++i) {
        deliveries.push_back(researcher.send_message(ping("R", i)));
    }
    for (auto& delivery : deliveries) {
        ASSERT_TRUE(delivery.wait_for(kWait));
        ASSERT_TRUE(delivery.delivered()) << delivery.error();
    }
    ASSERT_TRUE(observer.wait_for_count(kCount));
    const auto messages = observer.messages();
    for (int i = 0; i < kCount; ++i) {
        ASSERT_EQ(Json::parse(messages[static_cast<std::size_t>(i)].payload).at("sequence"), i);
    }
    EXPECT_EQ(researcher.stats().published, static_cast<std::uint64_t>(kCount));
    EXPECT_EQ(researcher.stats().publish_failures, 0U);
}

TEST(MessagingDelivery, SendingFromManyThreadsIsSafe) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/researcher"});
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options_for(broker));
    node.start();
    constexpr int kThreads = 4;
    constexpr int kEach = 100;
    std::vector<std::thread> senders;
    std::atomic<int> delivered{0};
    for (int t = 0; t < kThreads; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                if (node.send_message(ping("R", t * kEach + i)).wait_for(kWait)) {
                    delivered.fetch_add(1);
                }
            }
        });
    }
    for (auto& sender : senders) {
        sender.join();
    }
    EXPECT_EQ(delivered.load(), kThreads * kEach);
    ASSERT_TRUE(observer.wait_for_count(kThreads * kEach));
    EXPECT_EQ(node.stats().published, static_cast<std::uint64_t>(kThreads * kEach));
}

TEST(MessagingDelivery, StopFailsWhatTheBrokerNeverAcknowledged) {
    MosquittoBroker broker;
    auto options = options_for(broker);
    options.stop_timeout = std::chrono::milliseconds(200);
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.start();
    broker.pause();  // the broker keeps the connection but answers nothing: no PUBACK will come
    Delivery pending = node.send_error(ErrorNumbers::FB300, "never acknowledged");
    EXPECT_FALSE(pending.wait_for(std::chrono::milliseconds(50)));
    EXPECT_EQ(pending.state(), Delivery::State::pending);
    node.stop();
    broker.resume();
    EXPECT_EQ(pending.state(), Delivery::State::failed);
    EXPECT_NE(pending.error().find("FB103"), std::string::npos) << pending.error();
    EXPECT_NE(pending.error().find("stopped before the broker acknowledged"), std::string::npos)
        << pending.error();
    EXPECT_EQ(node.stats().publish_failures, 1U);
}

TEST(MessagingDelivery, StopWaitsForPendingAcknowledgements) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/researcher"});
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options_for(broker));
    node.start();
    std::vector<Delivery> deliveries;
    for (int i = 0; i < 200; ++i) {
        deliveries.push_back(node.send_message(ping("R", i)));
    }
    node.stop();  // drains: every publication handed to Paho before stop() completes
    for (const auto& delivery : deliveries) {
        EXPECT_EQ(delivery.state(), Delivery::State::delivered) << delivery.error();
    }
    EXPECT_TRUE(observer.wait_for_count(200));
}

TEST(MessagingDelivery, ALostConnectionIsNoticedReportedAndLaterSendsWaitForTheReconnection) {
    MosquittoBroker broker;
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, "node_" + unique_suffix(), options_for(broker));
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    broker.kill();
    ASSERT_TRUE(wait_until([&] { return !node.is_connected(); }, kWait));
    EXPECT_FALSE(node.is_failed());  // an ordinary reconnection is not a failure
    ASSERT_TRUE(recorder.wait_faults(1));
    const auto fault = recorder.faults()[0];
    EXPECT_EQ(fault.code, ErrorNumbers::FB100);
    EXPECT_NE(fault.message.find("lost its connection to the broker"), std::string::npos) << fault.message;
    Delivery after = node.send_message(ping("R", 1));
    EXPECT_EQ(after.state(), Delivery::State::pending);
    broker.start();
    ASSERT_TRUE(after.wait_for(kWait));
    EXPECT_TRUE(after.delivered()) << after.error();
    EXPECT_TRUE(node.is_connected());
    EXPECT_FALSE(node.is_failed());
}

}  // namespace
}  // namespace fbm_test

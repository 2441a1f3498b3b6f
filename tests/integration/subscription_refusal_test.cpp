// A broker that refuses a subscription, by a SUBACK failure code or by closing the connection right after
// the SUBSCRIBE (RabbitMQ's way): start() fails with FB101 naming the topic and the cause, at once, and a
// component told to keep trying does so with backoff, not in a tight loop.
#include <chrono>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ErrorNumbers;
using fedbiomed::Messaging;
using fedbiomed::MessagingError;

std::string start_error(Messaging& messaging) {
    try {
        messaging.start();
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB101);
        return error.what();
    }
    ADD_FAILURE() << "start() succeeded";
    return {};
}

TEST(SubscriptionRefusal, ASubackFailureCodeFailsStartNamingTheTopic) {
    FakeBroker broker(FakeBroker::Mode::suback, 0x80);
    auto options = options_for(broker.port());
    options.presence = false;
    Messaging node(nullptr, ComponentType::node, "node_suback", options);
    const std::string what = start_error(node);
    EXPECT_NE(what.find("refused the subscription to general/nodes"), std::string::npos) << what;
    EXPECT_NE(what.find("SUBACK"), std::string::npos) << what;
}

TEST(SubscriptionRefusal, ARefusedSubscriptionIsNotRetriedEvenWhenToldToKeepTrying) {
    FakeBroker broker(FakeBroker::Mode::suback, 0x80);
    auto options = options_for(broker.port());
    options.presence = false;
    options.first_connect = fedbiomed::FirstConnect::keep_trying;
    options.first_connect_deadline = std::chrono::milliseconds(3000);
    Messaging node(nullptr, ComponentType::node, "node_suback_keep", options);
    const std::string what = start_error(node);
    EXPECT_NE(what.find("refused the subscription to general/nodes"), std::string::npos) << what;
    // One connection: an ACL does not change by itself, so retrying would only hammer the broker.
    EXPECT_EQ(broker.accepted(), 1);
    EXPECT_EQ(node.stats().connection_attempts, 1U);
}

TEST(SubscriptionRefusal, AConnectionClosedRightAfterSubscribeIsReportedAsSuchAndRetriedWithBackoff) {
    FakeBroker broker(FakeBroker::Mode::close_on_subscribe);
    auto options = options_for(broker.port());
    options.presence = false;
    Messaging node(nullptr, ComponentType::node, "node_closed", options);
    const std::string what = start_error(node);
    EXPECT_NE(what.find("closed the connection right after the SUBSCRIBE to general/nodes"),
              std::string::npos)
        << what;

    // Told to keep trying, it does, with the reconnection backoff: a bounded number of attempts.
    options.first_connect = fedbiomed::FirstConnect::keep_trying;
    options.first_connect_deadline = std::chrono::milliseconds(2000);
    options.reconnect.min_delay = std::chrono::milliseconds(100);
    options.reconnect.max_delay = std::chrono::milliseconds(1000);
    options.reconnect.jitter = fedbiomed::BackoffJitter::none;
    Messaging retrying(nullptr, ComponentType::node, "node_closed_keep", options);
    const auto before = broker.accepted();
    const std::string again = start_error(retrying);
    EXPECT_NE(again.find("closed the connection right after the SUBSCRIBE"), std::string::npos) << again;
    const auto attempts = broker.accepted() - before;
    ::testing::Test::RecordProperty("attempts_in_2s", attempts);
    // 100, 200, 400, 800 ms without jitter: at most 5 attempts in 2 s (a tight loop would make hundreds).
    EXPECT_LE(attempts, 6);
    EXPECT_GE(attempts, 2);
}

// A broker that grants less than QoS 2 for a QoS 2 subscription (Mosquitto with max_qos 1 here, RabbitMQ
// always) would turn exactly-once into at-least-once behind Paho's back: start() refuses, naming it, under
// both protocol versions, and a component told to keep trying does not retry it.
TEST(SubscriptionRefusal, ABrokerThatDowngradesQos2IsRefusedNotUsed) {
    MosquittoBroker::Options broker_options;
    broker_options.extra_config = {"max_qos 1"};
    MosquittoBroker broker(broker_options);
    for (const auto version : {fedbiomed::MqttVersion::v3_1_1, fedbiomed::MqttVersion::v5}) {
        auto options = options_for(broker);
        options.qos = 2;
        options.mqtt_version = version;
        options.presence = false;  // a QoS 2 will is refused at CONNECT by max_qos 1: test the SUBACK alone
        options.first_connect = fedbiomed::FirstConnect::keep_trying;
        options.first_connect_deadline = std::chrono::seconds(20);
        Messaging node(nullptr, ComponentType::node, "node_qos2_" + unique_suffix(), options);
        const std::string what = start_error(node);
        EXPECT_NE(what.find("granted QoS 1 for the QoS 2 subscription"), std::string::npos) << what;
        EXPECT_NE(what.find("exactly-once"), std::string::npos) << what;
        EXPECT_EQ(node.stats().connection_attempts, 1U);  // a refusal: not retried
    }
    // At QoS 1 the same broker is fine.
    auto options = options_for(broker);
    Messaging node(nullptr, ComponentType::node, "node_qos1_" + unique_suffix(), options);
    node.start();
    EXPECT_TRUE(node.is_connected());
}

}  // namespace
}  // namespace fbm_test

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

}  // namespace
}  // namespace fbm_test

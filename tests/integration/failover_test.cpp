// A broker list (MessagingOptions::brokers): the first connection skips brokers that do not answer, a
// start() with none answering names each one's reason, and a component that loses its broker fails over
// to the next one, where its subscriptions work and what it sent meanwhile arrives; the connection
// events say which broker each one is about.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ConnectionEvent;
using fedbiomed::ConnectionState;
using fedbiomed::Delivery;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Messaging;
using fedbiomed::MessagingError;
using fedbiomed::MessagingOptions;

std::string address_of(int port) {
    return "127.0.0.1:" + std::to_string(port);
}

std::string address_of(const MosquittoBroker& broker) {
    return address_of(broker.port());
}

TEST(Failover, TheFirstConnectionSkipsABrokerThatIsNotThere) {
    MosquittoBroker live;
    const int dead = free_loopback_port();  // nothing listens there
    MessagingOptions options = fast_reconnect(live);
    options.brokers = {address_of(dead), address_of(live)};
    StateRecorder states;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.set_connection_state_handler(states.handler());
    node.start();  // fail_fast: one round of the list, not one broker
    EXPECT_TRUE(node.is_connected());
    const auto connected = states.wait_first(in_state(ConnectionState::connected));
    ASSERT_TRUE(connected.has_value());
    EXPECT_EQ(connected->broker, address_of(live));
    EXPECT_EQ(connected->attempts, 2U);
    EXPECT_EQ(node.stats().connection_attempts, 2U);
}

TEST(Failover, ASilentBrokerCostsOneConnectTimeoutThenTheNextIsUsed) {
    MosquittoBroker live;
    FakeBroker silent(FakeBroker::Mode::silent);  // accepts TCP, never answers CONNECT
    MessagingOptions options = fast_reconnect(live);
    options.connect_timeout = std::chrono::milliseconds(1000);
    options.brokers = {address_of(silent.port()), address_of(live)};
    StateRecorder states;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.set_connection_state_handler(states.handler());
    node.start();
    EXPECT_TRUE(node.is_connected());
    EXPECT_GE(silent.accepted(), 1);
    const auto connected = states.wait_first(in_state(ConnectionState::connected));
    ASSERT_TRUE(connected.has_value());
    EXPECT_EQ(connected->broker, address_of(live));
}

TEST(Failover, AStartWithNoBrokerAnsweringNamesEachOne) {
    const int first = free_loopback_port();
    const int second = free_loopback_port();
    MessagingOptions options = options_for(first);
    options.brokers = {address_of(first), "[::1]:" + std::to_string(second)};
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    try {
        node.start();
        FAIL() << "start() succeeded with no broker";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB101);
        const std::string text = error.what();
        EXPECT_NE(text.find("no broker of the list answered"), std::string::npos) << text;
        EXPECT_NE(text.find(address_of(first)), std::string::npos) << text;
        EXPECT_NE(text.find("[::1]:" + std::to_string(second)), std::string::npos) << text;
    }
    EXPECT_FALSE(node.is_connected());
    EXPECT_TRUE(node.is_failed());
    EXPECT_EQ(node.stats().connection_attempts, 2U);
}

TEST(Failover, ALostBrokerIsReplacedByTheNextAndBack) {
    MosquittoBroker first;
    MosquittoBroker second;
    MessagingOptions options = fast_reconnect(first);
    options.brokers = {address_of(first), address_of(second)};
    Recorder recorder;
    StateRecorder states;
    const std::string id = "node_" + unique_suffix();
    // The counters as the state handler sees them at each event: the change an event reports is counted.
    // Declared before the node, so that they outlive its dispatcher thread.
    std::mutex counted_mutex;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> counted;  // (connection_losses, reconnections)
    Messaging node(recorder.handler(), ComponentType::node, id, options);
    node.set_connection_state_handler(
        [&, forward = states.handler()](const fedbiomed::ConnectionEvent& event) {
            const auto now = node.stats();
            {
                std::lock_guard<std::mutex> lock(counted_mutex);
                counted.emplace_back(now.connection_losses, now.reconnections);
            }
            forward(event);
        });
    node.start();
    ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::connected), 1));

    {
        RawClient researcher(first);
        researcher.publish("general/" + id, ping("R", 1).dump());
        ASSERT_TRUE(recorder.wait_messages(1));
    }

    // The first broker dies: the node moves to the second, and what it sends meanwhile is not lost.
    RawClient observer(second, {"general/researcher"});
    first.kill();
    ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::disconnected), 1));
    const Delivery during = node.send_message(ping("R", 2));
    ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::connected), 2));
    ASSERT_TRUE(during.wait_for(kWait));
    EXPECT_TRUE(during.delivered()) << during.error();
    ASSERT_TRUE(observer.wait_for_count(1));
    EXPECT_EQ(Json::parse(observer.messages()[0].payload).at("sequence"), 2);
    // Its subscriptions were made on the second broker.
    {
        RawClient researcher(second);
        researcher.publish("general/nodes", ping("R", 3).dump());
        ASSERT_TRUE(recorder.wait_messages(2));
        EXPECT_EQ(recorder.messages()[1].first.at("sequence"), 3);
    }

    // The second dies and the first is back: the list wraps around.
    first.start();
    second.kill();
    ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::connected), 3));
    {
        RawClient researcher(first);
        researcher.publish("general/" + id, ping("R", 4).dump());
        ASSERT_TRUE(recorder.wait_messages(3));
        EXPECT_EQ(recorder.messages()[2].first.at("sequence"), 4);
    }

    std::vector<std::pair<ConnectionState, std::string>> seen;
    for (const ConnectionEvent& event : states.events()) {
        seen.emplace_back(event.state, event.broker);
    }
    const std::vector<std::pair<ConnectionState, std::string>> expected = {
        {ConnectionState::connected, address_of(first)},  {ConnectionState::disconnected, address_of(first)},
        {ConnectionState::connected, address_of(second)}, {ConnectionState::disconnected, address_of(second)},
        {ConnectionState::connected, address_of(first)},
    };
    EXPECT_EQ(seen, expected);
    {
        // Exact where nothing can have happened between the change and the handler (the test waits for
        // each "connected" before it kills a broker); a "disconnected" handler that runs late may already
        // see the reconnection that followed it.
        std::lock_guard<std::mutex> lock(counted_mutex);
        ASSERT_EQ(counted.size(), 5U);
        const std::uint64_t losses_expected[] = {0, 1, 1, 2, 2};
        for (std::size_t i = 0; i < counted.size(); ++i) {
            EXPECT_EQ(counted[i].first, losses_expected[i]) << "event " << i;
        }
        EXPECT_EQ(counted[0].second, 0U);
        EXPECT_LE(counted[1].second, 1U);
        EXPECT_EQ(counted[2].second, 1U);
        EXPECT_GE(counted[3].second, 1U);
        EXPECT_LE(counted[3].second, 2U);
        EXPECT_EQ(counted[4].second, 2U);
    }
    const auto stats = node.stats();
    EXPECT_EQ(stats.connection_losses, 2U);
    EXPECT_EQ(stats.reconnections, 2U);
    EXPECT_FALSE(node.is_failed());
}

}  // namespace
}  // namespace fbm_test

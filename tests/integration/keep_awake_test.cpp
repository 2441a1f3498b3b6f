// MessagingOptions::keep_awake: while connected, a process exchanges an UNSUBSCRIBE of an unused topic and
// its UNSUBACK with the broker every 500 ms, which keeps Paho's shared receive thread from its 100 ms pause
// after each quiet second (src/transport/receive_thread_waker.hpp). Observed in Mosquitto's log, which names
// the client of every UNSUBSCRIBE; the latency it saves is measured in bench/ (the idle workload), never
// asserted here.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::Messaging;

std::size_t unsubscribes_from(const MosquittoBroker& broker, const std::string& client_id) {
    return count_occurrences(broker.log(), "Received UNSUBSCRIBE from " + client_id + "\n");
}

TEST(KeepAwake, AQuietConnectedComponentKeepsExchangingWithTheBroker) {
    auto& broker = shared_broker();
    auto options = options_for(broker);
    options.client_id = "fbm-awake-" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.start();
    // Nothing is sent or received meanwhile: the exchanges are the waker's, twice a second.
    EXPECT_TRUE(wait_until([&] { return unsubscribes_from(broker, options.client_id) >= 4; }, kWait))
        << broker.log();
    EXPECT_TRUE(node.is_connected());
    node.stop();
}

TEST(KeepAwake, NothingIsExchangedWhileMessagesFlow) {
    // While messages keep arriving, Paho's receive thread is not idle in its poll, and a nudge would only
    // end the holds of the inbound bound (Dispatcher::admit()): under load that dropped QoS 1 messages of a
    // flood at a slow handler. So the waker leaves a flow alone, and resumes once it stops.
    auto& broker = shared_broker();
    auto options = options_for(broker);
    options.client_id = "fbm-flow-" + unique_suffix();
    options.presence = false;  // only the test's messages
    const std::string id = "node_" + unique_suffix();
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, id, options);
    node.start();
    ASSERT_TRUE(wait_until([&] { return unsubscribes_from(broker, options.client_id) >= 2; }, kWait))
        << "the waker is at work before the flow\n"
        << broker.log();
    RawClient peer(broker);
    const std::string topic = "general/" + id;
    const std::string ping =
        R"({"protocol_version": "1", "researcher_id": "R", "command": "ping", "sequence": 0})";
    const std::size_t before = unsubscribes_from(broker, options.client_id);
    // 3 s of messages, each sent once the previous one was handled: six of the waker's periods.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    std::size_t sent = 0;
    while (std::chrono::steady_clock::now() < until) {
        peer.publish(topic, ping);
        ++sent;
        ASSERT_TRUE(recorder.wait_messages(sent)) << "message " << sent << " was not handled";
    }
    const std::size_t during = unsubscribes_from(broker, options.client_id) - before;
    // One may have been on its way when `before` was counted, and more may slip in when a round trip
    // takes longer than the waker's margin (a quarter of its period) on a loaded machine; six without the
    // rule.
    EXPECT_LE(during, 3U) << sent << " messages handled\n" << broker.log();
    RecordProperty("messages", static_cast<int>(sent));
    RecordProperty("exchanges_during_the_flow", static_cast<int>(during));
    EXPECT_TRUE(wait_until(
        [&] { return unsubscribes_from(broker, options.client_id) >= before + during + 2; }, kWait))
        << "the waker resumes after the flow\n"
        << broker.log();
    node.stop();
}

TEST(KeepAwake, AComponentWithItOffSendsNothingWhileAnotherOfTheProcessKeepsItOn) {
    auto& broker = shared_broker();
    auto awake = options_for(broker);
    awake.client_id = "fbm-awake-" + unique_suffix();
    auto quiet = options_for(broker);
    quiet.client_id = "fbm-quiet-" + unique_suffix();
    quiet.keep_awake = false;
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(), awake);
    researcher.start();
    // Started second: its own connection is helped along by the process's doorbell (no nudge at all), and
    // the first one never nudges through it.
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), quiet);
    node.start();
    const std::size_t before = unsubscribes_from(broker, awake.client_id);
    ASSERT_TRUE(wait_until([&] { return unsubscribes_from(broker, awake.client_id) >= before + 4; }, kWait))
        << broker.log();
    EXPECT_EQ(unsubscribes_from(broker, quiet.client_id), 0U) << broker.log();
    node.stop();
    researcher.stop();
}

TEST(KeepAwake, OffEverywhereInTheProcessNothingIsExchanged) {
    auto& broker = shared_broker();
    auto quiet = options_for(broker);
    quiet.client_id = "fbm-quiet-" + unique_suffix();
    quiet.keep_awake = false;
    auto witness = options_for(broker);
    witness.client_id = "fbm-witness-" + unique_suffix();
    witness.keep_awake = false;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), quiet);
    node.start();
    // A window to look in, closed by events rather than a sleep: another component of the process, also
    // with keep_awake off, whose presence heartbeats (every 100 ms) the broker's log counts.
    witness.presence_heartbeat = std::chrono::milliseconds(100);
    Messaging clock(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(), witness);
    clock.start();
    const std::string heartbeat = "Received PUBLISH from " + witness.client_id;
    // One heartbeat first: by then the broker has logged every nudge of the witness's connect.
    const std::size_t first = count_occurrences(broker.log(), heartbeat);
    ASSERT_TRUE(wait_until([&] { return count_occurrences(broker.log(), heartbeat) > first; }, kWait));
    const std::size_t seen = count_occurrences(broker.log(), heartbeat);
    // The witness's connection was helped along by the process's doorbell (without one, by nudges through
    // the node: any connected component of the process serves for that, keep_awake or not); what counts is
    // what follows.
    const std::size_t connect_nudges = unsubscribes_from(broker, quiet.client_id);
    // 15 heartbeats of the witness: 1.5 s, three of the waker's periods.
    ASSERT_TRUE(wait_until([&] { return count_occurrences(broker.log(), heartbeat) >= seen + 15; }, kWait))
        << broker.log();
    EXPECT_EQ(unsubscribes_from(broker, quiet.client_id), connect_nudges) << broker.log();
    EXPECT_EQ(unsubscribes_from(broker, witness.client_id), 0U) << broker.log();
    clock.stop();
    node.stop();
}

}  // namespace
}  // namespace fbm_test

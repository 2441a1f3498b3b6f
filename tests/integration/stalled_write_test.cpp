// Large QoS 0 messages into a socket that fills: Paho C leaves a write to a full socket unfinished and goes
// on with it only at its receive thread's next pass, which waits for incoming data or its 1 s poll timeout;
// at QoS 0 nothing comes back. The library watches the writes and wakes Paho (the connection supervisor's
// watch_writes(), through the process's doorbell). Observed through stats().stalled_writes_woken and the
// Deliveries; what it buys in messages per second is measured in bench/ (throughput, 64 KiB QoS 0).
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::Delivery;
using fedbiomed::EndToEndAck;
using fedbiomed::Messaging;

TEST(StalledWrites, AWriteLeftUnfinishedByAFullSocketIsWokenAndEverythingIsWritten) {
    MosquittoBroker broker;
    auto options = options_for(broker);
    options.qos = 0;
    options.end_to_end_ack = EndToEndAck::off;
    options.keep_awake = false;  // no nudge may wake Paho in its place
    const std::string researcher = "researcher_" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.start();

    // A frozen broker reads nothing: our socket's buffer and its receive buffer fill (at most a few MiB
    // here), and Paho is left with a write it cannot finish. 16 MiB of messages is well beyond that.
    broker.pause();
    constexpr int kMessages = 256;
    std::vector<Delivery> deliveries;
    for (int i = 0; i < kMessages; ++i) {
        auto message = pong(researcher, node.id(), i);
        message["padding"] = std::string(std::size_t{64} * 1024U, 'x');
        deliveries.push_back(node.send_message(message));
    }
    // Nothing completes while the broker sleeps: the watch notices and wakes Paho (in vain for now).
    ASSERT_TRUE(wait_until([&] { return node.stats().stalled_writes_woken >= 1; }, kWait))
        << "the stalled write was never noticed";
    broker.resume();
    for (int i = 0; i < kMessages; ++i) {
        ASSERT_TRUE(deliveries[static_cast<std::size_t>(i)].wait_for(kWait)) << "message " << i;
        EXPECT_TRUE(deliveries[static_cast<std::size_t>(i)].delivered()) << "message " << i;
    }
    const auto stats = node.stats();
    EXPECT_GE(stats.published, static_cast<std::uint64_t>(kMessages));
    EXPECT_EQ(stats.publish_failures, 0U);
    EXPECT_EQ(stats.connection_losses, 0U);
    EXPECT_TRUE(node.is_connected());
    node.stop();
}

}  // namespace
}  // namespace fbm_test

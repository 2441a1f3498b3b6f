// Inbound memory bounded in bytes (MessagingOptions::inbound_max_bytes): a flood of large messages at a
// handler that cannot keep up stays within the bound; at QoS 1 the client's receive thread is held so the
// broker keeps the rest, and nothing is lost or handled twice; at QoS 0 what exceeds the bound is dropped,
// counted and reported; stop() is not delayed by a held receive thread.
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Messaging;

constexpr std::size_t kBound = std::size_t{1} << 20;      // 1 MiB of held payloads
constexpr std::size_t kPadding = std::size_t{64} * 1024;  // 64 KiB per message: 16 fill the bound
constexpr int kFlood = 200;                               // 12.5 MiB sent: more than 12 times the bound

std::string large_ping(int sequence) {
    return R"({"protocol_version": "1", "researcher_id": "R", "command": "ping", "sequence": )" +
           std::to_string(sequence) + R"(, "padding": ")" + std::string(kPadding, 'x') + "\"}";
}

fedbiomed::MessagingOptions bounded_options(TestBroker& broker) {
    auto options = options_for(broker);
    options.max_payload_bytes = 2 * kPadding;
    options.inbound_max_bytes = kBound;
    return options;
}

// A handler that blocks on its first message until the test opens the gate, and records the sequences.
class SlowHandler {
public:
    void operator()(const Json& msg, const std::string&) {
        const int sequence = msg.at("sequence").get<int>();
        std::unique_lock<std::mutex> lock(mutex_);
        if (!first_taken_) {
            first_taken_ = true;
            changed_.notify_all();
            changed_.wait_for(lock, 4 * kWait, [&] { return open_; });
        }
        ++seen_[sequence];
        changed_.notify_all();
    }
    bool wait_first() {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, kWait, [&] { return first_taken_; });
    }
    void open() {
        std::lock_guard<std::mutex> lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    bool wait_count(std::size_t count, std::chrono::milliseconds timeout) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return seen_.size() >= count; });
    }
    std::map<int, int> seen() {
        std::lock_guard<std::mutex> lock(mutex_);
        return seen_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool first_taken_ = false;
    bool open_ = false;
    std::map<int, int> seen_;  // sequence -> times handled
};

TEST(InboundMemory, AtQos1AFloodAtASlowHandlerStaysWithinTheBoundAndLosesNothing) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    auto options = bounded_options(broker);
    options.presence = false;  // only the test's payloads
    SlowHandler slow;
    Recorder recorder;
    Messaging node([&](const Json& msg, const std::string& topic) { slow(msg, topic); }, ComponentType::node,
                   id, options);
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    // The sender is a plain socket, not Paho: Paho's receive thread, held here, serves every Paho client of
    // the process.
    RawClient peer(broker);
    const std::string topic = "general/" + id;
    peer.publish(topic, large_ping(0));
    ASSERT_TRUE(slow.wait_first());
    for (int i = 1; i < kFlood; ++i) {
        peer.publish(topic, large_ping(i));  // the broker acknowledges: it holds what the node does not read
    }
    ASSERT_TRUE(wait_until([&] { return node.stats().inbound_held_back > 0; }, kWait))
        << "the receive thread was never held";
    const auto while_blocked = node.stats();
    EXPECT_LE(while_blocked.inbound_bytes, kBound);
    EXPECT_LT(while_blocked.received, static_cast<std::uint64_t>(kFlood)) << "the broker holds the rest";
    RecordProperty("received_while_blocked", static_cast<int>(while_blocked.received));
    slow.open();
    ASSERT_TRUE(slow.wait_count(static_cast<std::size_t>(kFlood), 6 * kWait));
    const auto seen = slow.seen();
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(kFlood));
    for (const auto& [sequence, times] : seen) {
        EXPECT_EQ(times, 1) << "message " << sequence << " handled " << times << " times";
    }
    const auto stats = node.stats();
    EXPECT_EQ(stats.handled, static_cast<std::uint64_t>(kFlood));
    EXPECT_EQ(stats.inbound_dropped, 0U);
    EXPECT_EQ(stats.inbound_bound_drops, 0U);
    EXPECT_LE(stats.inbound_bytes_peak, kBound);
    EXPECT_GT(stats.inbound_bytes_peak, kBound / 2 - kPadding) << "the bound was reached, not avoided";
    RecordProperty("inbound_bytes_peak", static_cast<int>(stats.inbound_bytes_peak));
    RecordProperty("inbound_held_back", static_cast<int>(stats.inbound_held_back));
    EXPECT_TRUE(recorder.faults().empty());
    node.stop();
    EXPECT_EQ(node.stats().inbound_bytes, 0U);
}

TEST(InboundMemory, AtQos0WhatExceedsTheBoundIsDroppedCountedAndReportedTogether) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    auto options = bounded_options(broker);
    options.presence = false;
    options.qos = 0;  // the broker delivers at QoS 0: it keeps nothing for us, so nothing is held
    SlowHandler slow;
    Recorder recorder;
    Messaging node([&](const Json& msg, const std::string& topic) { slow(msg, topic); }, ComponentType::node,
                   id, options);
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    RawClient peer(broker);
    const std::string topic = "general/" + id;
    peer.publish(topic, large_ping(0));
    ASSERT_TRUE(slow.wait_first());
    for (int i = 1; i < kFlood; ++i) {
        peer.publish(topic, large_ping(i));
    }
    ASSERT_TRUE(
        wait_until([&] { return node.stats().received == static_cast<std::uint64_t>(kFlood); }, kWait))
        << node.stats().received;
    const auto flooded = node.stats();
    EXPECT_LE(flooded.inbound_bytes, kBound);
    EXPECT_EQ(flooded.inbound_held_back, 0U);
    // 1 MiB holds 16 of them (a little less: the JSON around the padding): the rest is dropped.
    EXPECT_GE(flooded.inbound_bound_drops, static_cast<std::uint64_t>(kFlood - 16));
    EXPECT_EQ(flooded.inbound_dropped, flooded.inbound_bound_drops);
    slow.open();
    const auto kept = static_cast<std::size_t>(kFlood) - flooded.inbound_bound_drops;
    ASSERT_TRUE(slow.wait_count(kept, kWait));
    // Reported as FB100 with the count, a few reports for the whole flood (one per second at most).
    std::uint64_t reported = 0;
    ASSERT_TRUE(wait_until(
        [&] {
            reported = 0;
            for (const auto& fault : recorder.faults()) {
                const auto count = fault.message.find(" bytes) exceeded: ");
                if (count != std::string::npos) {
                    reported += std::stoull(fault.message.substr(count + 18));
                }
            }
            return reported == flooded.inbound_bound_drops;
        },
        kWait))
        << reported << " reported of " << flooded.inbound_bound_drops;
    const auto faults = recorder.faults();
    for (const auto& fault : faults) {
        EXPECT_EQ(fault.code, ErrorNumbers::FB100) << fault.message;
    }
    EXPECT_LT(faults.size(), 10U);
    RecordProperty("drop_reports", static_cast<int>(faults.size()));
    const auto stats = node.stats();
    EXPECT_LE(stats.inbound_bytes_peak, kBound);
    EXPECT_EQ(stats.handled, kept);
}

TEST(InboundMemory, StopWhileTheReceiveThreadIsHeldReturnsPromptly) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    auto options = bounded_options(broker);
    // Long enough that a stop() waiting for the held thread (its "offline" presence record, the
    // disconnection) would show; the hold's own patience is a quarter of the keepalive (15 s).
    options.stop_timeout = std::chrono::seconds(30);
    SlowHandler slow;
    Messaging node([&](const Json& msg, const std::string& topic) { slow(msg, topic); }, ComponentType::node,
                   id, options);
    node.start();
    RawClient peer(broker);
    const std::string topic = "general/" + id;
    peer.publish(topic, large_ping(0));
    ASSERT_TRUE(slow.wait_first());
    for (int i = 1; i < 40; ++i) {
        peer.publish(topic, large_ping(i));
    }
    ASSERT_TRUE(wait_until([&] { return node.stats().inbound_held_back > 0; }, kWait));
    const auto began = std::chrono::steady_clock::now();
    auto stopping = std::async(std::launch::async, [&] { node.stop(); });
    // The connection is closed while the handler still blocks: nothing in stop() waited for the hold.
    const bool closed = wait_until([&] { return !node.is_connected(); }, kWait);
    const auto closed_after =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    RecordProperty("disconnected_after_ms", static_cast<int>(closed_after.count()));
    slow.open();  // stop() then waits for the handler in progress, as always
    ASSERT_TRUE(closed) << "stop() did not close the connection while the receive thread was held";
    ASSERT_EQ(stopping.wait_for(kWait), std::future_status::ready);
    stopping.get();
    EXPECT_FALSE(node.is_connected());
}

}  // namespace
}  // namespace fbm_test

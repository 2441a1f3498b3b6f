// Inbound traffic: hostile payloads are reported (fault handler + log + counters) and the next message still
// arrives; the handler runs on the dispatcher thread, may send, block or throw; the bounded queue drops the
// oldest messages and says so; oversized payloads are rejected without decoding.
#include <cmath>
#include <set>
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
using fedbiomed::MessagingFault;

// A one-shot gate the handler can wait on; bounded so a failing test cannot hang.
class Gate {
public:
    void open() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            open_ = true;
        }
        changed_.notify_all();
    }
    bool wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, kWait, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = false;
};

std::string ping_text(int sequence, const std::string& version = "\"1\"") {
    return R"({"protocol_version": )" + version + R"(, "researcher_id": "R", "sequence": )" +
           std::to_string(sequence) + R"(, "command": "ping"})";
}

TEST(MessagingInbound, HostilePayloadsAreReportedAndTheNextMessageArrives) {
    auto& broker = test_broker();
    Recorder recorder;
    const std::string id = "node_" + unique_suffix();
    auto handler = [&](const Json& msg, const std::string& topic) {
        const auto command = msg.at("command").get<std::string>();
        if (command == "boom") {
            throw std::runtime_error("handler exploded");
        }
        if (command == "fb301") {
            throw fedbiomed::MessageError(ErrorNumbers::FB301, "handler refused it");
        }
        recorder.add_message(msg, topic);
    };
    Messaging node(handler, ComponentType::node, id, options_for(broker));
    node.set_fault_handler(recorder.fault_handler());
    node.start();

    RawClient peer(broker);
    const std::string topic = "general/" + id;
    const std::vector<std::pair<std::string, ErrorNumbers>> hostile = {
        {"this is not json {", ErrorNumbers::FB601},
        {std::string("\xff\xfe\x00\x01", 4), ErrorNumbers::FB601},
        {"[1, 2, 3]", ErrorNumbers::FB601},
        {"\"just a string\"", ErrorNumbers::FB601},
        {"42", ErrorNumbers::FB601},
        {ping_text(1, "\"2\""), ErrorNumbers::FB104},
        {R"({"researcher_id": "R", "sequence": 1, "command": "ping"})", ErrorNumbers::FB104},  // no version
        {ping_text(1, "1"), ErrorNumbers::FB625},  // a number, not a string
        {ping_text(1, "\"1.1\""), ErrorNumbers::FB104},
        {R"({"protocol_version": "1", "command": "boom"})", ErrorNumbers::FB103},
        {R"({"protocol_version": "1", "command": "fb301"})", ErrorNumbers::FB301},
    };
    for (const auto& [payload, code] : hostile) {
        (void)code;
        peer.publish(topic, payload);
    }
    peer.publish(topic, ping_text(77, "\"1.0.post1\""));  // accepted with a version warning
    peer.publish(topic, ping_text(78));                   // a normal message after the barrage

    ASSERT_TRUE(recorder.wait_messages(2));
    ASSERT_TRUE(recorder.wait_faults(hostile.size()));
    const auto messages = recorder.messages();
    ASSERT_EQ(messages.size(), 2U);
    EXPECT_EQ(messages[0].first.at("sequence"), 77);
    EXPECT_EQ(messages[1].first.at("sequence"), 78);
    EXPECT_EQ(messages[1].second, topic);

    const auto faults = recorder.faults();
    ASSERT_EQ(faults.size(), hostile.size());
    for (std::size_t i = 0; i < faults.size(); ++i) {
        EXPECT_EQ(faults[i].code, hostile[i].second) << i << ": " << faults[i].message;
        const std::string code_text(fedbiomed::error_text(hostile[i].second));
        EXPECT_EQ(faults[i].message.rfind(code_text, 0), 0U) << faults[i].message;
        EXPECT_EQ(faults[i].topic, topic);
    }
    EXPECT_NE(faults[2].message.find("not a JSON object (it is an array)"), std::string::npos)
        << faults[2].message;
    EXPECT_NE(faults[9].message.find("handler exploded"), std::string::npos) << faults[9].message;

    const auto stats = node.stats();
    EXPECT_EQ(stats.received, hostile.size() + 2);
    EXPECT_EQ(stats.decode_errors, 5U);
    EXPECT_EQ(stats.version_errors, 4U);
    EXPECT_EQ(stats.version_warnings, 1U);
    EXPECT_EQ(stats.handler_errors, 2U);
    EXPECT_EQ(stats.handled, 4U);  // boom, fb301, and the two good ones were handed to the handler
    EXPECT_EQ(stats.inbound_dropped, 0U);
    EXPECT_TRUE(node.is_connected());
    EXPECT_FALSE(node.is_failed());
    // Still able to talk after all that.
    EXPECT_TRUE(node.send_error(ErrorNumbers::FB301, "still alive").wait_for(kWait));
}

TEST(MessagingInbound, AResearcherSurvivesHostilePayloadsToo) {
    auto& broker = test_broker();
    Recorder recorder;
    Messaging researcher(recorder.handler(), ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    researcher.start();  // no fault handler: faults go to the log and the counters only
    RawClient peer(broker);
    peer.publish("general/logger", "{not json");
    peer.publish("general/monitoring", "[]");
    peer.publish("general/researcher", R"({"command": "pong"})");
    peer.publish("general/researcher", R"({"protocol_version": "1", "command": "pong", "loss": NaN})");
    ASSERT_TRUE(recorder.wait_messages(1));
    const auto message = recorder.messages().at(0).first;
    EXPECT_TRUE(std::isnan(message.at("loss").get<double>()));
    const auto stats = researcher.stats();
    EXPECT_EQ(stats.decode_errors, 2U);
    EXPECT_EQ(stats.version_errors, 1U);
    EXPECT_EQ(stats.handled, 1U);
}

TEST(MessagingInbound, HandlerRunsOnOneDispatcherThreadAndMaySendAndWait) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    std::mutex mutex;
    std::set<std::thread::id> threads;
    std::vector<bool> delivered;
    std::unique_ptr<Messaging> node;
    node = std::make_unique<Messaging>(
        [&](const Json& msg, const std::string& /*topic*/) {
            Json reply = Json::object();
            reply["protocol_version"] = "1";
            reply["command"] = "pong";
            reply["sequence"] = msg.at("sequence");
            // Waiting for the broker's PUBACK here would deadlock on Paho's own thread.
            const bool acked = node->send_message(reply).wait_for(kWait);
            std::lock_guard<std::mutex> lock(mutex);
            threads.insert(std::this_thread::get_id());
            delivered.push_back(acked);
        },
        ComponentType::node, id, options_for(broker));
    node->start();
    RawClient peer(broker, {"general/researcher"});
    for (int i = 0; i < 5; ++i) {
        peer.publish("general/" + id, ping_text(i));
    }
    ASSERT_TRUE(peer.wait_for_count(5));
    ASSERT_TRUE(wait_until(
        [&] {
            std::lock_guard<std::mutex> lock(mutex);
            return delivered.size() == 5;
        },
        kWait));
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(delivered, std::vector<bool>(5, true));
    ASSERT_EQ(threads.size(), 1U);
    EXPECT_NE(*threads.begin(), std::this_thread::get_id());
    const auto messages = peer.messages();
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(Json::parse(messages[static_cast<std::size_t>(i)].payload).at("sequence"), i);
    }
}

TEST(MessagingInbound, ABlockedHandlerDoesNotStallTheConnection) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    Gate gate;
    Recorder recorder;
    std::atomic<bool> blocked{false};
    Messaging node(
        [&](const Json& msg, const std::string& topic) {
            if (msg.at("sequence") == 0) {
                blocked.store(true);
                gate.wait();
            }
            recorder.add_message(msg, topic);
        },
        ComponentType::node, id, options_for(broker));
    node.start();
    RawClient peer(broker, {"general/researcher"});
    peer.publish("general/" + id, ping_text(0));
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }, kWait));
    // While the handler is blocked, Paho's thread keeps working: publications are acknowledged, and
    // inbound messages are received and queued.
    for (int i = 1; i <= 3; ++i) {
        peer.publish("general/" + id, ping_text(i));
    }
    Delivery delivery = node.send_error(ErrorNumbers::FB300, "while blocked");
    ASSERT_TRUE(delivery.wait_for(kWait));
    EXPECT_TRUE(delivery.delivered());
    ASSERT_TRUE(wait_until([&] { return node.stats().received == 4; }, kWait));
    EXPECT_TRUE(recorder.messages().empty());
    gate.open();
    ASSERT_TRUE(recorder.wait_messages(4));
    const auto messages = recorder.messages();
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(messages[static_cast<std::size_t>(i)].first.at("sequence"), i);
    }
}

TEST(MessagingInbound, AFullQueueDropsTheOldestAndSaysSo) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    auto options = options_for(broker);
    options.inbound_queue_capacity = 2;
    // Only the test's payloads in the queue: the node's own retained presence record, coming back late on
    // a loaded machine, would take a slot and change the count of drops.
    options.presence = false;
    Gate gate;
    Recorder recorder;
    std::atomic<bool> blocked{false};
    Messaging node(
        [&](const Json& msg, const std::string& topic) {
            if (msg.at("sequence") == 0) {
                blocked.store(true);
                gate.wait();
            }
            recorder.add_message(msg, topic);
        },
        ComponentType::node, id, options);
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    RawClient peer(broker);
    peer.publish("general/" + id, ping_text(0));
    ASSERT_TRUE(wait_until([&] { return blocked.load(); }, kWait));
    for (int i = 1; i <= 6; ++i) {
        peer.publish("general/" + id, ping_text(i));
    }
    ASSERT_TRUE(wait_until([&] { return node.stats().inbound_dropped == 4; }, kWait));
    gate.open();
    ASSERT_TRUE(recorder.wait_messages(3));
    ASSERT_TRUE(recorder.wait_faults(1));
    const auto messages = recorder.messages();
    ASSERT_EQ(messages.size(), 3U);
    EXPECT_EQ(messages[0].first.at("sequence"), 0);
    EXPECT_EQ(messages[1].first.at("sequence"), 5);
    EXPECT_EQ(messages[2].first.at("sequence"), 6);
    const auto faults = recorder.faults();
    std::uint64_t reported = 0;
    for (const auto& fault : faults) {
        EXPECT_EQ(fault.code, ErrorNumbers::FB100);
        EXPECT_NE(fault.message.find("inbound queue full (capacity 2)"), std::string::npos) << fault.message;
        reported += std::stoull(fault.message.substr(fault.message.find("): ") + 3));
    }
    EXPECT_EQ(reported, 4U);
    const auto stats = node.stats();
    EXPECT_EQ(stats.received, 7U);
    EXPECT_EQ(stats.inbound_dropped, 4U);
    EXPECT_EQ(stats.handled, 3U);
}

TEST(MessagingInbound, OversizedPayloadsAreRejectedWithoutDecoding) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    auto options = options_for(broker);
    options.max_payload_bytes = 100;
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, id, options);
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    RawClient peer(broker);
    peer.publish("general/" + id, R"({"protocol_version": "1", "command": "ping", "padding": ")" +
                                      std::string(200, 'x') + "\"}");
    peer.publish("general/" + id, ping_text(5));
    ASSERT_TRUE(recorder.wait_messages(1));
    ASSERT_TRUE(recorder.wait_faults(1));
    EXPECT_EQ(recorder.messages()[0].first.at("sequence"), 5);
    const auto fault = recorder.faults()[0];
    EXPECT_EQ(fault.code, ErrorNumbers::FB601);
    EXPECT_NE(fault.message.find("exceeds max_payload_bytes (100): rejected without decoding"),
              std::string::npos)
        << fault.message;
    EXPECT_EQ(fault.topic, "general/" + id);
    EXPECT_EQ(node.stats().decode_errors, 1U);
}

TEST(MessagingInbound, NestingDeeperThanTheLimitIsAFault) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    auto options = options_for(broker);
    options.max_json_depth = 8;
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, id, options);
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    RawClient peer(broker);
    peer.publish("general/" + id,
                 R"({"protocol_version": "1", "deep": )" + std::string(20, '[') + std::string(20, ']') + "}");
    peer.publish("general/" + id, ping_text(6));
    ASSERT_TRUE(recorder.wait_messages(1));
    ASSERT_TRUE(recorder.wait_faults(1));
    EXPECT_EQ(recorder.faults()[0].code, ErrorNumbers::FB601);
    EXPECT_EQ(node.stats().decode_errors, 1U);
}

TEST(MessagingInbound, WithoutAHandlerMessagesAreIgnored) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, id, options_for(broker));
    node.start();
    RawClient peer(broker);
    peer.publish("general/" + id, ping_text(1));
    peer.publish("general/" + id, "garbage");
    ASSERT_TRUE(wait_until([&] { return node.stats().received == 2; }, kWait));
    EXPECT_EQ(node.stats().handled, 0U);
    EXPECT_TRUE(node.is_connected());
}

TEST(MessagingInbound, AThrowingFaultHandlerIsContained) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    Recorder recorder;
    std::atomic<int> fault_calls{0};
    Messaging node(recorder.handler(), ComponentType::node, id, options_for(broker));
    node.set_fault_handler([&](const MessagingFault&) {
        fault_calls.fetch_add(1);
        throw std::runtime_error("fault handler exploded");
    });
    node.start();
    RawClient peer(broker);
    peer.publish("general/" + id, "garbage");
    peer.publish("general/" + id, ping_text(2));
    ASSERT_TRUE(recorder.wait_messages(1));
    EXPECT_EQ(fault_calls.load(), 1);
}

TEST(MessagingInbound, LifecycleCallsFromCallbacksAreRefusedOrSafe) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    Recorder recorder;
    std::unique_ptr<Messaging> node;
    std::atomic<int> start_refused{0};
    node = std::make_unique<Messaging>(
        [&](const Json& msg, const std::string& topic) {
            try {
                node->start();
            } catch (const fedbiomed::MessagingError& error) {
                if (error.code() == ErrorNumbers::FB103) {
                    start_refused.fetch_add(1);
                }
            }
            recorder.add_message(msg, topic);
        },
        ComponentType::node, id, options_for(broker));
    node->start();
    EXPECT_THROW(node->set_fault_handler(nullptr), fedbiomed::MessagingError);
    RawClient peer(broker);
    peer.publish("general/" + id, ping_text(1));
    ASSERT_TRUE(recorder.wait_messages(1));
    EXPECT_EQ(start_refused.load(), 1);
}

TEST(MessagingInbound, StopFromTheHandlerDoesNotDeadlock) {
    auto& broker = test_broker();
    const std::string id = "node_" + unique_suffix();
    std::unique_ptr<Messaging> node;
    std::atomic<bool> stopped{false};
    node = std::make_unique<Messaging>(
        [&](const Json&, const std::string&) {
            node->stop();
            stopped.store(true);
        },
        ComponentType::node, id, options_for(broker));
    node->start();
    RawClient peer(broker);
    peer.publish("general/" + id, ping_text(1));
    ASSERT_TRUE(wait_until([&] { return stopped.load(); }, kWait));
    EXPECT_FALSE(node->is_connected());
    node->start();  // joins the old dispatcher thread and starts over
    EXPECT_TRUE(node->is_connected());
    node.reset();
}

}  // namespace
}  // namespace fbm_test

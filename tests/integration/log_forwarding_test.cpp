// Log forwarding (spec section 9): a started node publishes the library logger's INFO-and-above records on
// general/logger in the reference's `log` format; DEBUG, records from before start() or after stop(), and
// researchers are never forwarded; re-entrant records are not forwarded again; nothing blocks; what cannot
// be sent is counted.
#include <regex>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <fedbiomed/logger.hpp>
#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::Json;
using fedbiomed::library_logger;
using fedbiomed::Messaging;

std::vector<std::string> keys_of(const Json& object) {
    std::vector<std::string> keys;
    for (const auto& item : object.items()) {
        keys.push_back(item.key());
    }
    return keys;
}

// Checks one forwarded record against the reference format.
void expect_log_message(const std::string& payload, const std::string& node_id, const std::string& level,
                        const std::string& text) {
    const Json outer = Json::parse(payload);
    EXPECT_EQ(keys_of(outer), (std::vector<std::string>{"command", "level", "msg", "node_id", "researcher_id",
                                                        "protocol_version"}))
        << payload;
    EXPECT_EQ(outer.at("command"), "log");
    EXPECT_EQ(outer.at("level"), level);
    EXPECT_EQ(outer.at("node_id"), node_id);
    EXPECT_EQ(outer.at("researcher_id"), "<unknown>");
    EXPECT_EQ(outer.at("protocol_version"), "1");
    ASSERT_TRUE(outer.at("msg").is_string()) << payload;  // a JSON *string*, not a nested object
    const Json inner = Json::parse(outer.at("msg").get<std::string>());
    EXPECT_EQ(keys_of(inner), (std::vector<std::string>{"asctime", "node_id", "name", "level", "message"}));
    EXPECT_TRUE(std::regex_match(inner.at("asctime").get<std::string>(),
                                 std::regex(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3})")))
        << inner.at("asctime");
    EXPECT_EQ(inner.at("node_id"), node_id);
    EXPECT_EQ(inner.at("name"), "fedbiomed");
    EXPECT_EQ(inner.at("level"), level);
    EXPECT_EQ(inner.at("message"), text);
    // Python's json.dumps separators, in both layers.
    EXPECT_EQ(payload.rfind(R"({"command": "log", "level": ")" + level + R"(", "msg": "{\"asctime\": \")", 0),
              0U)
        << payload;
    const std::string tail = R"(\", \"name\": \"fedbiomed\", \"level\": \")" + level +
                             R"(\", \"message\": \")" + text + R"(\"}", "node_id": ")" + node_id +
                             R"(", "researcher_id": "<unknown>", "protocol_version": "1"})";
    EXPECT_NE(payload.find(tail), std::string::npos) << payload;
}

TEST(LogForwarding, ANodeForwardsInfoAndAboveInTheReferenceFormat) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/logger"});
    const std::string id = "NODE_" + unique_suffix();
    library_logger()->info("before start: not forwarded");
    Messaging node(nullptr, ComponentType::node, id, options_for(broker));
    node.start();
    // The library logger lets INFO through to the forwarder, whatever the console's level.
    EXPECT_LE(library_logger()->level(), spdlog::level::info);
    library_logger()->debug("debug is not forwarded");
    library_logger()->info("hello from node at INFO");
    library_logger()->warn("careful");
    library_logger()->error("it broke");
    library_logger()->critical("it burnt");
    ASSERT_TRUE(observer.wait_for_count(4));
    ASSERT_TRUE(wait_until([&] { return node.stats().logs_forwarded == 4; }, kWait));
    const auto messages = observer.messages();
    ASSERT_EQ(messages.size(), 4U);
    expect_log_message(messages[0].payload, id, "INFO", "hello from node at INFO");
    expect_log_message(messages[1].payload, id, "WARNING", "careful");
    expect_log_message(messages[2].payload, id, "ERROR", "it broke");
    expect_log_message(messages[3].payload, id, "CRITICAL", "it burnt");
    EXPECT_EQ(node.stats().logs_dropped, 0U);
    EXPECT_EQ(node.stats().published, 0U);  // log records are counted apart from messages
}

TEST(LogForwarding, NonAsciiAndQuotesSurviveBothJsonLayers) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/logger"});
    const std::string id = "NODE_" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, id, options_for(broker));
    node.start();
    library_logger()->info("caf\xc3\xa9 \"quoted\" \\ tab\t");
    ASSERT_TRUE(observer.wait_for_count(1));
    const std::string payload = observer.messages()[0].payload;
    // ensure_ascii, as Python: é -> \u00e9 inside the inner text, whose backslash is escaped again outside.
    EXPECT_NE(payload.find(R"(caf\\u00e9 \\\"quoted\\\" \\\\ tab\\t)"), std::string::npos) << payload;
    const Json inner = Json::parse(Json::parse(payload).at("msg").get<std::string>());
    EXPECT_EQ(inner.at("message"), "caf\xc3\xa9 \"quoted\" \\ tab\t");
}

TEST(LogForwarding, OurResearcherReceivesForwardedLogs) {
    auto& broker = test_broker();
    Recorder recorder;
    const std::string id = "NODE_" + unique_suffix();
    Messaging researcher(recorder.handler(), ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    researcher.start();
    Messaging node(nullptr, ComponentType::node, id, options_for(broker));
    node.start();
    library_logger()->warn("node warning for the researcher");
    ASSERT_TRUE(recorder.wait_messages(1));
    const auto [msg, topic] = recorder.messages()[0];
    EXPECT_EQ(topic, "general/logger");
    EXPECT_EQ(msg.at("command"), "log");
    EXPECT_EQ(Json::parse(msg.at("msg").get<std::string>()).at("message"), "node warning for the researcher");
}

TEST(LogForwarding, OnlyStartedNodesForward) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/logger"});
    // A researcher never forwards.
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    researcher.start();
    library_logger()->info("from a researcher process");
    // A node with forwarding disabled does not either.
    Messaging quiet(nullptr, ComponentType::node, "NODE_quiet_" + unique_suffix(), quiet_options(broker));
    quiet.start();
    library_logger()->info("with forwarding disabled");
    // A stopped node no longer forwards.
    const std::string stopped_id = "NODE_stopped_" + unique_suffix();
    Messaging stopped(nullptr, ComponentType::node, stopped_id, options_for(broker));
    stopped.start();
    library_logger()->info("first marker");
    stopped.stop();
    library_logger()->info("after stop");
    const std::string id = "NODE_" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, id, options_for(broker));
    node.start();
    library_logger()->info("second marker");
    ASSERT_TRUE(observer.wait_for_count(2));
    const auto messages = observer.messages();
    ASSERT_EQ(messages.size(), 2U);
    expect_log_message(messages[0].payload, stopped_id, "INFO", "first marker");
    expect_log_message(messages[1].payload, id, "INFO", "second marker");
    EXPECT_EQ(quiet.stats().logs_forwarded, 0U);
    EXPECT_EQ(researcher.stats().logs_forwarded, 0U);
}

// A user sink that logs again from inside its own sink: the hub must not hand that record to the forwarder.
class EchoingSink : public spdlog::sinks::base_sink<std::mutex> {
protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        const std::string text(msg.payload.data(), msg.payload.size());
        if (text == "outer") {
            library_logger()->info("inner, logged while the outer record is being written");
        }
    }
    void flush_() override {}
};

TEST(LogForwarding, ARecordLoggedWhileForwardingIsNotForwardedAgain) {
    auto& broker = test_broker();
    RawClient observer(broker, {"general/logger"});
    const std::string id = "NODE_" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, id, options_for(broker));
    node.start();
    auto echo = std::make_shared<EchoingSink>();
    echo->set_level(spdlog::level::info);
    fedbiomed::add_log_sink(echo);
    library_logger()->info("outer");
    fedbiomed::remove_log_sink(echo);
    library_logger()->info("marker");
    ASSERT_TRUE(observer.wait_for_count(2));
    const auto messages = observer.messages();
    ASSERT_EQ(messages.size(), 2U);
    expect_log_message(messages[0].payload, id, "INFO", "outer");
    expect_log_message(messages[1].payload, id, "INFO", "marker");
    EXPECT_EQ(node.stats().logs_dropped, 1U);
}

TEST(LogForwarding, LoggingNeverBlocksAndUnsentRecordsAreCounted) {
    MosquittoBroker broker;
    const std::string id = "NODE_" + unique_suffix();
    auto options = options_for(broker);
    options.stop_timeout = std::chrono::milliseconds(100);
    Messaging node(nullptr, ComponentType::node, id, options);
    node.start();
    broker.pause();  // nothing will be acknowledged
    constexpr int kRecords = 50;
    for (int i = 0; i < kRecords; ++i) {
        library_logger()->info("record {} while the broker is frozen", i);
    }
    EXPECT_EQ(node.stats().logs_forwarded, 0U);
    node.stop();
    broker.resume();
    EXPECT_EQ(node.stats().logs_dropped, static_cast<std::uint64_t>(kRecords));
    EXPECT_EQ(node.stats().logs_forwarded, 0U);
}

TEST(LogForwarding, RecordsLoggedWhileDisconnectedAreCountedAsDropped) {
    MosquittoBroker broker;
    Recorder recorder;
    Messaging node(nullptr, ComponentType::node, "NODE_" + unique_suffix(), options_for(broker));
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    broker.kill();
    ASSERT_TRUE(recorder.wait_faults(1));  // the loss was logged (and could not be forwarded) before this
    const auto before = node.stats().logs_dropped;
    EXPECT_GE(before, 1U);
    library_logger()->info("nobody will read this");
    EXPECT_EQ(node.stats().logs_dropped, before + 1);
}

}  // namespace
}  // namespace fbm_test

// Interoperability with a Python peer written like Fed-BioMed 4.5 (paho-mqtt 1.6.1, json.dumps/loads):
// our node answers a Python researcher; our researcher receives a Python node's add_scalar with a NaN loss.
// The Python side checks our bytes (separators, NaN/Infinity tokens, int/float, errnum text,
// protocol_version "1"); this side checks what we decoded.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"
#include <unistd.h>

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Messaging;

constexpr std::chrono::milliseconds kPythonTimeout{60000};

RunResult run_peer(TestBroker& broker, const std::string& scenario, const std::string& node_id,
                   const std::string& researcher_id) {
    if (::access(FBM_PYTHON3, X_OK) != 0) {
        ADD_FAILURE() << "python3 with paho-mqtt not found at '" << FBM_PYTHON3
                      << "' (install python3-paho-mqtt)";
        return {};
    }
    return run_program({FBM_PYTHON3, FBM_PYTHON_PEER, "--port", std::to_string(broker.port()), "--scenario",
                        scenario, "--node-id", node_id, "--researcher-id", researcher_id},
                       kPythonTimeout);
}

TEST(PythonPeer, OurNodeAnswersAPythonResearcher) {
    auto& broker = test_broker();
    const std::string node_id = "node_" + unique_suffix();
    Recorder recorder;
    std::unique_ptr<Messaging> node;
    node = std::make_unique<Messaging>(
        [&](const Json& msg, const std::string& topic) {
            recorder.add_message(msg, topic);
            if (msg.at("command") != "ping") {
                return;
            }
            Json reply = Json::object();
            reply["protocol_version"] = "1";
            reply["researcher_id"] = msg.at("researcher_id");
            reply["node_id"] = node_id;
            reply["success"] = true;
            reply["sequence"] = msg.at("sequence");
            reply["command"] = "pong";
            reply["loss"] = std::nan("");
            reply["ratio"] = 0.5;
            reply["one"] = 1.0;
            node->send_message(reply);
            node->send_error(ErrorNumbers::FB301, "bad request from python",
                             msg.at("researcher_id").get<std::string>());
        },
        ComponentType::node, node_id, options_for(broker));
    node->start();

    const auto result = run_peer(broker, "researcher", node_id, "researcher_python");
    EXPECT_EQ(result.status, 0) << "(no status: it was killed at the timeout)\n" << result.out << result.err;
    ASSERT_TRUE(recorder.wait_messages(1));
    const auto [ping, topic] = recorder.messages()[0];
    EXPECT_EQ(topic, "general/nodes");
    EXPECT_EQ(ping.at("researcher_id"), "researcher_python");
    EXPECT_TRUE(ping.at("sequence").is_number_integer());
    EXPECT_EQ(node->stats().version_errors, 0U);
}

TEST(PythonPeer, OurResearcherReceivesAPythonNodesNanScalar) {
    auto& broker = test_broker();
    const std::string researcher_id = "researcher_" + unique_suffix();
    const std::string python_node = "node_python_" + unique_suffix();
    Recorder recorder;
    std::unique_ptr<Messaging> researcher;
    researcher = std::make_unique<Messaging>(
        [&](const Json& msg, const std::string& topic) {
            recorder.add_message(msg, topic);
            if (msg.at("command") != "add_scalar") {
                return;
            }
            Json request = Json::object();
            request["protocol_version"] = "1";
            request["researcher_id"] = researcher_id;
            request["value_int"] = 2;
            request["value_float"] = 1.0;
            request["loss_echo"] = msg.at("metric").at("Loss");
            request["inf"] = std::numeric_limits<double>::infinity();
            request["ninf"] = -std::numeric_limits<double>::infinity();
            request["text"] = "caf\xc3\xa9 \xf0\x9f\x98\x80";
            request["command"] = "ping";
            researcher->send_message(request, msg.at("node_id").get<std::string>());
        },
        ComponentType::researcher, researcher_id, options_for(broker));
    researcher->start();

    const auto result = run_peer(broker, "node", python_node, researcher_id);
    EXPECT_EQ(result.status, 0) << "(no status: it was killed at the timeout)\n" << result.out << result.err;
    ASSERT_TRUE(recorder.wait_messages(2));
    const auto messages = recorder.messages();
    const Json* scalar = nullptr;
    const Json* pong = nullptr;
    for (const auto& [msg, topic] : messages) {
        if (topic == "general/monitoring") {
            scalar = &msg;
        } else if (topic == "general/researcher") {
            pong = &msg;
        }
    }
    ASSERT_NE(scalar, nullptr);
    ASSERT_NE(pong, nullptr);
    EXPECT_EQ(scalar->at("command"), "add_scalar");
    EXPECT_TRUE(std::isnan(scalar->at("metric").at("Loss").get<double>()));
    EXPECT_TRUE(scalar->at("epoch").is_number_integer());
    EXPECT_TRUE(scalar->at("train").is_boolean());
    EXPECT_TRUE(scalar->at("num_samples_trained").is_null());
    EXPECT_EQ(scalar->at("iteration"), 3);
    EXPECT_EQ(pong->at("command"), "pong");
    EXPECT_EQ(pong->at("sequence"), 1);
    EXPECT_EQ(researcher->stats().decode_errors + researcher->stats().version_errors, 0U);
}

}  // namespace
}  // namespace fbm_test

// What fbm-node answers, request by request, with the reference's exact FB301 texts (spec sections 7,
// 10 and 11 test_node.py).
#include "node_service.hpp"

#include <string>

#include <gtest/gtest.h>

#include "fedbiomed/json.hpp"

namespace {

using fbm_cli::DatasetCatalog;
using fbm_cli::NodeReply;
using fbm_cli::NodeService;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;

Json dataset(const std::string& id, Json tags) {
    return Json{{"name", "n-" + id},  {"data_type", "csv"},  {"tags", std::move(tags)},
                {"description", "d"}, {"shape", {3, 2}},     {"path", "/p/" + id},
                {"dataset_id", id},   {"dtypes", {"int64"}}, {"dataset_parameters", nullptr}};
}

NodeService node() {
    return NodeService("node_1",
                       DatasetCatalog::from_json(
                           Json::array({dataset("d1", {"heart", "csv"}), dataset("d2", {"mri"})}), "t"));
}

void expect_error(const std::optional<NodeReply>& reply, const std::string& extra_msg,
                  const std::string& researcher_id, ErrorNumbers errnum = ErrorNumbers::FB301) {
    ASSERT_TRUE(reply.has_value());
    EXPECT_TRUE(reply->is_error);
    EXPECT_EQ(reply->errnum, errnum);
    EXPECT_EQ(reply->extra_msg, extra_msg);
    EXPECT_EQ(reply->researcher_id, researcher_id);
}

TEST(NodeService, PingGetsAPongEchoingSequence) {
    const auto reply = node().handle(
        Json{{"protocol_version", "1"}, {"researcher_id", "r1"}, {"sequence", 7}, {"command", "ping"}});
    ASSERT_TRUE(reply.has_value());
    ASSERT_FALSE(reply->is_error);
    EXPECT_EQ(fedbiomed::serialize_msg(reply->message),
              R"({"protocol_version": "1", "researcher_id": "r1", "node_id": "node_1", "success": true, )"
              R"("sequence": 7, "command": "pong"})");
}

TEST(NodeService, SearchRepliesWithMatchingDatasetsWithoutPath) {
    const auto reply = node().handle(
        Json{{"protocol_version", "1"}, {"researcher_id", "r1"}, {"tags", {"heart"}}, {"command", "search"}});
    ASSERT_TRUE(reply.has_value());
    ASSERT_FALSE(reply->is_error);
    const Json& msg = reply->message;
    EXPECT_EQ(msg.at("command"), "search");
    EXPECT_EQ(msg.at("researcher_id"), "r1");
    EXPECT_EQ(msg.at("node_id"), "node_1");
    EXPECT_EQ(msg.at("success"), true);
    EXPECT_EQ(msg.at("count"), 1);
    ASSERT_EQ(msg.at("databases").size(), 1U);
    Json expected = dataset("d1", {"heart", "csv"});
    expected.erase("path");
    EXPECT_EQ(msg.at("databases")[0], expected);
}

TEST(NodeService, SearchWithoutMatchSendsNothing) {
    EXPECT_FALSE(node()
                     .handle(Json{{"protocol_version", "1"},
                                  {"researcher_id", "r1"},
                                  {"tags", {"heart", "mri"}},
                                  {"command", "search"}})
                     .has_value());
}

TEST(NodeService, ListRepliesWithEveryDatasetWithoutPathAndDtypes) {
    const auto reply =
        node().handle(Json{{"protocol_version", "1"}, {"researcher_id", "r1"}, {"command", "list"}});
    ASSERT_TRUE(reply.has_value());
    ASSERT_FALSE(reply->is_error);
    EXPECT_EQ(reply->message.at("count"), 2);
    for (const auto& entry : reply->message.at("databases")) {
        EXPECT_FALSE(entry.contains("path"));
        EXPECT_FALSE(entry.contains("dtypes"));
        EXPECT_TRUE(entry.contains("dataset_id"));
    }
}

TEST(NodeService, ListOnANodeWithoutDatasetsStillReplies) {
    const NodeService empty("node_2", DatasetCatalog());
    const auto reply =
        empty.handle(Json{{"protocol_version", "1"}, {"researcher_id", "r1"}, {"command", "list"}});
    ASSERT_TRUE(reply.has_value());
    ASSERT_FALSE(reply->is_error);
    EXPECT_EQ(reply->message.at("count"), 0);
    EXPECT_EQ(reply->message.at("databases"), Json::array());
}

TEST(NodeService, MissingCommand) {
    expect_error(node().handle(Json{{"protocol_version", "1"}, {"researcher_id", "r1"}}),
                 "'command' property was not found", "r1");
    expect_error(node().handle(Json{{"protocol_version", "1"}}), "'command' property was not found",
                 "unknown_researcher_id");
}

TEST(NodeService, MalformedRequests) {
    // A field missing, an extra field, a wrong type, an unknown command, a reply sent to a node.
    expect_error(node().handle(Json{{"protocol_version", "1"}, {"researcher_id", "r1"}, {"command", "ping"}}),
                 "Message was not properly formatted", "r1");
    expect_error(node().handle(Json{
                     {"protocol_version", "1"}, {"researcher_id", "r1"}, {"command", "list"}, {"extra", 1}}),
                 "Message was not properly formatted", "r1");
    expect_error(
        node().handle(
            Json{{"protocol_version", "1"}, {"researcher_id", "r1"}, {"sequence", "7"}, {"command", "ping"}}),
        "Message was not properly formatted", "r1");
    expect_error(node().handle(Json{{"protocol_version", "1"}, {"researcher_id", "r1"}, {"command", "nope"}}),
                 "Message was not properly formatted", "r1");
    expect_error(node().handle(Json{{"protocol_version", "1"},
                                    {"researcher_id", "r1"},
                                    {"node_id", "n"},
                                    {"success", true},
                                    {"sequence", 1},
                                    {"command", "pong"}}),
                 "Message was not properly formatted", "r1");
}

TEST(NodeService, ErrorRepliesFallBackToUnknownResearcherId) {
    expect_error(node().handle(Json{{"protocol_version", "1"}, {"command", "list"}}),
                 "Message was not properly formatted", "unknown_researcher_id");
    expect_error(
        node().handle(Json{{"protocol_version", "1"}, {"researcher_id", ""}, {"command", "list"}, {"x", 1}}),
        "Message was not properly formatted", "unknown_researcher_id");
    expect_error(node().handle(Json{{"protocol_version", "1"}, {"researcher_id", 5}, {"command", "list"}}),
                 "Message was not properly formatted", "unknown_researcher_id");
}

TEST(NodeService, ValidRequestsThisNodeDoesNotServe) {
    expect_error(node().handle(Json{{"protocol_version", "1"},
                                    {"researcher_id", "r1"},
                                    {"description", "a plan"},
                                    {"sequence", 3},
                                    {"training_plan_url", "http://repo/plan.py"},
                                    {"command", "approval"}}),
                 "Command `approval` is not implemented", "r1");
}

TEST(NodeService, UndeliverablePayloadsGetAnAnswer) {
    const NodeService service = node();
    expect_error(
        service.handle_fault({ErrorNumbers::FB601, "FB601: message error: not JSON", "general/nodes"}),
        "Not able to deserialize the message", "unknown_researcher_id");
    const std::string version_text =
        "FB104: message exchange error: Received message with protocol version 2";
    expect_error(service.handle_fault({ErrorNumbers::FB104, version_text, "general/node_1"}), version_text,
                 "unknown_researcher_id", ErrorNumbers::FB104);
    EXPECT_FALSE(service.handle_fault({ErrorNumbers::FB100, "queue full", "general/nodes"}).has_value());
    EXPECT_FALSE(service.handle_fault({ErrorNumbers::FB601, "no topic", ""}).has_value());
}

}  // namespace

// How fbm-researcher recognises the replies to its request, and prints forwarded node logs.
#include "reply_filter.hpp"

#include <gtest/gtest.h>

#include "forwarded_log.hpp"

namespace {

using fbm_cli::ReplyFilter;
using fedbiomed::Json;

Json pong(const std::string& researcher_id, Json sequence) {
    return Json{{"protocol_version", "1"}, {"researcher_id", researcher_id},  {"node_id", "n1"},
                {"success", true},         {"sequence", std::move(sequence)}, {"command", "pong"}};
}

TEST(ReplyFilter, PingMatchesOurResearcherAndSequenceOnly) {
    const ReplyFilter filter("ping", "r1", 42);
    EXPECT_EQ(filter.reply_command(), "pong");
    EXPECT_TRUE(filter.matches(pong("r1", 42)));
    EXPECT_FALSE(filter.matches(pong("r1", 41)));
    EXPECT_FALSE(filter.matches(pong("r2", 42)));
    EXPECT_FALSE(filter.matches(pong("r1", true)));
    EXPECT_FALSE(filter.matches(pong("r1", "42")));
}

TEST(ReplyFilter, ListAndSearchMatchResearcherAndCommand) {
    const ReplyFilter filter("search", "r1", 0);
    const Json reply = {{"researcher_id", "r1"}, {"node_id", "n1"}, {"command", "search"}};
    EXPECT_TRUE(filter.matches(reply));
    EXPECT_FALSE(filter.matches(Json{{"researcher_id", "r2"}, {"command", "search"}}));
    EXPECT_FALSE(filter.matches(Json{{"researcher_id", "r1"}, {"command", "list"}}));
    EXPECT_FALSE(filter.matches(Json::array()));
    EXPECT_TRUE(ReplyFilter("list", "r1", 0).matches(Json{{"researcher_id", "r1"}, {"command", "list"}}));
}

TEST(ReplyFilter, ErrorsAddressedToUs) {
    const ReplyFilter filter("list", "r1", 0);
    EXPECT_TRUE(filter.is_error_for_us(Json{{"researcher_id", "r1"}, {"command", "error"}}));
    EXPECT_FALSE(filter.is_error_for_us(Json{{"researcher_id", "<unknown>"}, {"command", "error"}}));
    EXPECT_FALSE(filter.is_error_for_us(Json{{"researcher_id", "r1"}, {"command", "list"}}));
}

TEST(ForwardedLog, PrintsNodeLevelAndMessageOfTheInnerRecord) {
    const Json record = {{"asctime", "2026-11-25 05:57:58,414"},
                         {"node_id", "NODE_A"},
                         {"name", "fedbiomed"},
                         {"level", "INFO"},
                         {"message", "hello from node at INFO"}};
    const Json log = {{"command", "log"},
                      {"level", "INFO"},
                      {"msg", record.dump()},
                      {"node_id", "NODE_A"},
                      {"researcher_id", "<unknown>"},
                      {"protocol_version", "1"}};
    EXPECT_EQ(fbm_cli::format_forwarded_log(log), "[NODE_A] INFO hello from node at INFO");
}

TEST(ForwardedLog, ARecordThatIsNotJsonIsPrintedRaw) {
    const Json log = {{"command", "log"}, {"level", "ERROR"}, {"msg", "plain {text"}, {"node_id", "NODE_B"}};
    EXPECT_EQ(fbm_cli::format_forwarded_log(log), "[NODE_B] ERROR plain {text");
}

}  // namespace

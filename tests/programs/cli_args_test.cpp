// The hand-written argument parsing of fbm-node and fbm-researcher.
#include "cli_args.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/library_version.hpp>

namespace {

using fbm_cli::ArgCursor;
using fbm_cli::UsageError;

// Keeps the strings alive for the argv pointers handed to ArgCursor.
struct Argv {
    explicit Argv(std::vector<std::string> args) : storage(std::move(args)) {
        storage.insert(storage.begin(), "program");
        for (const auto& arg : storage) {
            pointers.push_back(arg.c_str());
        }
    }
    int argc() const { return static_cast<int>(pointers.size()); }
    const char* const* argv() const { return pointers.data(); }

    std::vector<std::string> storage;
    std::vector<const char*> pointers;
};

TEST(ArgCursor, SeparateAndInlineValues) {
    const Argv args({"--port", "1883", "--id=node_1", "ping"});
    ArgCursor cursor(args.argc(), args.argv());
    ASSERT_TRUE(cursor.at_option());
    EXPECT_EQ(cursor.next(), "--port");
    EXPECT_EQ(cursor.value("--port"), "1883");
    ASSERT_TRUE(cursor.at_option());
    EXPECT_EQ(cursor.next(), "--id");
    EXPECT_EQ(cursor.value("--id"), "node_1");
    EXPECT_FALSE(cursor.at_option());
    EXPECT_EQ(cursor.next(), "ping");
    EXPECT_TRUE(cursor.done());
}

TEST(ArgCursor, MissingValueIsAUsageError) {
    const Argv args({"--port"});
    ArgCursor cursor(args.argc(), args.argv());
    EXPECT_EQ(cursor.next(), "--port");
    try {
        cursor.value("--port");
        FAIL() << "expected a UsageError";
    } catch (const UsageError& e) {
        EXPECT_EQ(std::string(e.what()), "option --port needs a value");
    }
}

TEST(ArgCursor, InlineValueOnAFlagIsAUsageError) {
    const Argv args({"--help=yes"});
    ArgCursor cursor(args.argc(), args.argv());
    EXPECT_EQ(cursor.next(), "--help");
    EXPECT_THROW(cursor.no_value("--help"), UsageError);
}

TEST(ArgCursor, DoubleDashMakesTheRestPositional) {
    const Argv args({"search", "--", "-odd-tag", "--nodes"});
    ArgCursor cursor(args.argc(), args.argv());
    EXPECT_EQ(cursor.next(), "search");
    EXPECT_FALSE(cursor.at_option());
    EXPECT_EQ(cursor.next(), "-odd-tag");
    EXPECT_FALSE(cursor.at_option());
    EXPECT_EQ(cursor.next(), "--nodes");
    EXPECT_TRUE(cursor.done());
}

TEST(ParsePort, AcceptsTheTcpRangeOnly) {
    EXPECT_EQ(fbm_cli::parse_port("--port", "1"), 1);
    EXPECT_EQ(fbm_cli::parse_port("--port", "65535"), 65535);
    EXPECT_THROW(fbm_cli::parse_port("--port", "0"), UsageError);
    EXPECT_THROW(fbm_cli::parse_port("--port", "65536"), UsageError);
    EXPECT_THROW(fbm_cli::parse_port("--port", "18x"), UsageError);
    EXPECT_THROW(fbm_cli::parse_port("--port", " 18"), UsageError);
    EXPECT_THROW(fbm_cli::parse_port("--port", ""), UsageError);
    EXPECT_THROW(fbm_cli::parse_port("--port", "99999999999999999999999"), UsageError);
}

TEST(ParseSeconds, AcceptsPositiveDecimals) {
    EXPECT_EQ(fbm_cli::parse_seconds("--timeout", "5").count(), 5000);
    EXPECT_EQ(fbm_cli::parse_seconds("--timeout", "0.25").count(), 250);
    EXPECT_EQ(fbm_cli::parse_seconds("--timeout", ".5").count(), 500);
    EXPECT_EQ(fbm_cli::parse_seconds("--timeout", "0.0001").count(), 1);  // never rounded to zero
    EXPECT_THROW(fbm_cli::parse_seconds("--timeout", "0"), UsageError);
    EXPECT_THROW(fbm_cli::parse_seconds("--timeout", "-1"), UsageError);
    EXPECT_THROW(fbm_cli::parse_seconds("--timeout", "abc"), UsageError);
    EXPECT_THROW(fbm_cli::parse_seconds("--timeout", "nan"), UsageError);
    EXPECT_THROW(fbm_cli::parse_seconds("--timeout", "1e9"), UsageError);
    EXPECT_THROW(fbm_cli::parse_seconds("--timeout", "5s"), UsageError);
}

TEST(ParseInteger, ChecksItsBounds) {
    EXPECT_EQ(fbm_cli::parse_integer("--nodes", "3", 1, 10), 3);
    EXPECT_THROW(fbm_cli::parse_integer("--nodes", "0", 1, 10), UsageError);
    EXPECT_THROW(fbm_cli::parse_integer("--nodes", "11", 1, 10), UsageError);
    EXPECT_THROW(fbm_cli::parse_integer("--nodes", "1.5", 1, 10), UsageError);
}

TEST(VersionText, NamesTheProgramTheLibraryVersionAndTheProtocol) {
    // The first line is what help2man reads as the program's name and version for the man page.
    EXPECT_EQ(fbm_cli::version_text("fbm-node"), std::string("fbm-node (fedbiomed-messaging) ") +
                                                     FEDBIOMED_MESSAGING_VERSION_STRING +
                                                     "\nFed-BioMed messaging protocol version 1\n");
}

}  // namespace

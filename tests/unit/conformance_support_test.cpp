// The runners take their case counts from the vector files; the README of the vector set is only a guard
// against a truncated file. These tests make sure that guard is really active for the set in use.
#include "conformance_support.hpp"

#include <fstream>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace {

TEST(ConformanceSupport, TheReadmeAnnouncesACountForEveryFile) {
    if (!std::ifstream(fbm_conformance::conformance_dir() + "/README.md")) {
        GTEST_SKIP() << "this vector set has no README.md: the counts are the files' own";
    }
    for (const std::string file : {"version.jsonl", "messages.jsonl", "json.jsonl", "errors.jsonl"}) {
        SCOPED_TRACE(file);
        const std::optional<std::size_t> documented = fbm_conformance::documented_case_count(file);
        ASSERT_TRUE(documented.has_value())
            << "no `cases` column found in " << fbm_conformance::conformance_dir() << "/README.md";
        EXPECT_GT(*documented, 0u);
        EXPECT_EQ(fbm_conformance::case_count_problem(file, *documented), "");
        EXPECT_NE(fbm_conformance::case_count_problem(file, *documented + 1), "");
        EXPECT_NE(fbm_conformance::case_count_problem(file, 0), "");
    }
    EXPECT_FALSE(fbm_conformance::documented_case_count("absent.jsonl").has_value());
    // A file the README does not announce is only required to hold a case.
    EXPECT_EQ(fbm_conformance::case_count_problem("absent.jsonl", 3), "");
}

// nlohmann reads an integer literal beyond 64 bits as a float; the runners must know which lines hold one.
TEST(ConformanceSupport, FindsIntegersBeyond64Bits) {
    using fbm_conformance::integer_beyond_64_bits;
    EXPECT_FALSE(integer_beyond_64_bits(R"({"a": 18446744073709551615, "b": -9223372036854775808})"));
    EXPECT_TRUE(integer_beyond_64_bits(R"({"a": 18446744073709551616})"));
    EXPECT_TRUE(integer_beyond_64_bits(R"({"a": -9223372036854775809})"));
    EXPECT_TRUE(integer_beyond_64_bits(R"([1, [99999999999999999999999]])"));
    // Not integers, or not numbers at all.
    EXPECT_FALSE(integer_beyond_64_bits(R"({"a": 99999999999999999999.0, "b": 99999999999999999999e0})"));
    EXPECT_FALSE(integer_beyond_64_bits(R"({"a": 1.5e99999999999999999999})"));
    EXPECT_FALSE(integer_beyond_64_bits(
        R"({"99999999999999999999": "99999999999999999999 \" 99999999999999999999"})"));
}

}  // namespace

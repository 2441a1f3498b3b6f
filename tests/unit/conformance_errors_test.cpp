// errors.jsonl: the ErrorNumbers table of the reference, member by member and in declaration order.
#include <cstddef>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/errors.hpp>

#include "conformance_support.hpp"

namespace {

using fedbiomed::ErrorNumbers;

TEST(ConformanceErrors, EveryMemberInOrder) {
    const std::vector<fbm_conformance::Case> cases = fbm_conformance::load_cases("errors.jsonl");
    ASSERT_EQ(fbm_conformance::case_count_problem("errors.jsonl", cases.size()), "");
    // The library has every member of the table, no more.
    const std::vector<ErrorNumbers>& all = fedbiomed::all_error_numbers();
    ASSERT_EQ(all.size(), cases.size());

    fbm_conformance::Tally tally("errors.jsonl");
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const std::string name = cases[i].json.at("name").get<std::string>();
        const std::string value = cases[i].json.at("value").get<std::string>();
        const auto by_code = fedbiomed::error_from_code(name);
        const auto by_text = fedbiomed::error_from_text(value);
        std::string why;
        if (!by_code) {
            why = "error_from_code does not know it";
        } else if (!by_text) {
            why = "error_from_text does not know the text";
        } else if (*by_code != *by_text) {
            why = "error_from_code and error_from_text disagree";
        } else if (fedbiomed::error_code(*by_code) != name) {
            why = "error_code gives '" + std::string(fedbiomed::error_code(*by_code)) + "'";
        } else if (fedbiomed::error_text(*by_code) != value) {
            why = "error_text gives '" + std::string(fedbiomed::error_text(*by_code)) + "'";
        } else if (all[i] != *by_code) {
            why = "all_error_numbers()[" + std::to_string(i) + "] is " +
                  std::string(fedbiomed::error_code(all[i]));
        }
        if (why.empty()) {
            tally.pass();
        } else {
            tally.fail(name, why);
        }
    }
    EXPECT_EQ(tally.failed(), 0);
    EXPECT_EQ(tally.passed(), static_cast<int>(cases.size()));
}

}  // namespace

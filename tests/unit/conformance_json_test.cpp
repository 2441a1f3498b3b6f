// json.jsonl: every serialize_msg / deserialize_msg case recorded from the reference, run through the
// public API only.
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>

#include "conformance_support.hpp"

namespace {

using fedbiomed::Json;

std::string group_of(const std::string& id) {
    return id.substr(0, id.rfind('.'));
}

std::string bytes_from_hex(const std::string& hex) {
    std::string bytes;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return bytes;
}

bool has_text(const Json& test_case, const char* key) {
    return test_case.contains(key) && test_case.at(key).is_string();
}

/// Runs one serialize case; returns an empty string on success, else why it failed.
std::string run_serialize(const Json& test_case) {
    const Json input = fbm_conformance::case_input(test_case);
    const bool expect_error = !test_case.at("error").is_null();
    std::string output;
    try {
        output = fedbiomed::serialize_msg(input);
    } catch (const fedbiomed::FedbiomedError& error) {
        return expect_error ? std::string() : std::string("unexpected error: ") + error.what();
    } catch (const std::exception& error) {
        return std::string("non-Fed-BioMed exception: ") + error.what();
    }
    if (expect_error) {
        return "expected an error, got " + output;
    }
    const std::string expected = test_case.at("output_text").get<std::string>();
    return output == expected ? std::string()
                              : "output\n    got:      " + output + "\n    expected: " + expected;
}

/// Runs one deserialize case; returns an empty string on success, else why it failed.
std::string run_deserialize(const Json& test_case) {
    const std::string payload = has_text(test_case, "input_hex")
                                    ? bytes_from_hex(test_case.at("input_hex").get<std::string>())
                                    : test_case.at("input_text").get<std::string>();
    const bool expect_error = !test_case.at("error").is_null();
    Json decoded;
    try {
        decoded = fedbiomed::deserialize_msg(payload);
    } catch (const fedbiomed::FedbiomedError& error) {
        return expect_error ? std::string() : std::string("unexpected error: ") + error.what();
    } catch (const std::exception& error) {
        return std::string("non-Fed-BioMed exception: ") + error.what();
    }
    if (expect_error) {
        return "expected an error, got " + fbm_conformance::without_enum_members(decoded).dump();
    }
    Json expected =
        has_text(test_case, "output_text")
            ? fbm_conformance::parse_reference_text(test_case.at("output_text").get<std::string>())
            : test_case.at("output");
    expected =
        fbm_conformance::with_enum_members(std::move(expected), test_case.value("output_enums", Json()));
    std::string why;
    if (!fbm_conformance::same_json(decoded, expected, true, &why)) {
        return "decoded value differs: " + why;
    }
    return {};
}

TEST(ConformanceJson, EveryCaseOfJsonJsonl) {
    const std::vector<Json> cases = fbm_conformance::load_cases("json.jsonl");
    ASSERT_EQ(fbm_conformance::case_count_problem("json.jsonl", cases.size()), "");
    fbm_conformance::Tally tally("json.jsonl");
    std::map<std::string, std::pair<int, int>> groups;  // group -> (passed, total)
    for (const Json& test_case : cases) {
        const std::string id = test_case.at("id").get<std::string>();
        const std::string op = test_case.at("op").get<std::string>();
        std::string why;
        if (op == "serialize") {
            why = run_serialize(test_case);
        } else if (op == "deserialize") {
            why = run_deserialize(test_case);
        } else {
            why = "unknown op " + op;
        }
        auto& group = groups[group_of(id)];
        ++group.second;
        if (why.empty()) {
            ++group.first;
            tally.pass();
        } else {
            tally.fail(id, why);
        }
    }
    for (const auto& [name, counts] : groups) {
        std::cout << "  " << name << ": " << counts.first << "/" << counts.second << "\n";
    }
    EXPECT_EQ(tally.failed(), 0);
    EXPECT_EQ(tally.passed(), static_cast<int>(cases.size()));
}

}  // namespace

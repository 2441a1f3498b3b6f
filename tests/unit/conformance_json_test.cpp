// json.jsonl: every serialize_msg / deserialize_msg case recorded from the reference, run through the
// public API only.
#include <iostream>
#include <map>
#include <string>
#include <string_view>
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

/// How one case went: `why` is empty when it agrees with the reference; otherwise `deliberate` names the
/// docs/conformance.md row that explains the difference, once checked that this library does what the
/// row says, or is empty for a real failure.
struct Verdict {
    std::string why;
    std::string deliberate;
};

Verdict failed(std::string why, std::string deliberate = "") {
    return {std::move(why), std::move(deliberate)};
}

// The enum members of a serialize input that this library writes although the reference cannot: a
// MetricTypes member anywhere but training_args.test_metric, an ErrorNumbers member anywhere but errnum.
std::string member_the_reference_cannot_encode(const Json& test_case) {
    const Json enums = test_case.value("input_enums", Json::object());
    for (auto it = enums.begin(); it != enums.end(); ++it) {
        if (it.value() == "MetricTypes" && it.key() != "training_args.test_metric") {
            return "MetricTypes member elsewhere than training_args.test_metric";
        }
        if (it.value() == "ErrorNumbers" && it.key() != "errnum") {
            return "ErrorNumbers member below the top level";
        }
    }
    return "";
}

/// Runs one serialize case.
Verdict run_serialize(const fbm_conformance::Case& one) {
    const Json& test_case = one.json;
    Json input;
    try {
        input = fbm_conformance::case_input(test_case);
    } catch (const std::exception& error) {
        return fbm_conformance::refused_as_beyond_64_bits(error)
                   ? failed("input not representable", "integers beyond 64 bits")
                   : failed(std::string("cannot read the input: ") + error.what());
    }
    const bool expect_error = !test_case.at("error").is_null();
    std::string output;
    try {
        output = fedbiomed::serialize_msg(input);
    } catch (const fedbiomed::FedbiomedError& error) {
        return expect_error ? Verdict{} : failed(std::string("unexpected error: ") + error.what());
    } catch (const std::exception& error) {
        return failed(std::string("non-Fed-BioMed exception: ") + error.what());
    }
    if (expect_error) {
        return failed("expected an error, got " + output, member_the_reference_cannot_encode(test_case));
    }
    const std::string expected = test_case.at("output_text").get<std::string>();
    if (output == expected) {
        return {};
    }
    std::string why = "output\n    got:      " + output + "\n    expected: " + expected;
    if (one.integer_beyond_64_bits) {
        // The input's Python int became a float when the vector was read; a payload carrying it is
        // refused at decoding, which is the documented behaviour.
        try {
            (void)fedbiomed::deserialize_msg(one.line);
        } catch (const std::exception& error) {
            if (fbm_conformance::refused_as_beyond_64_bits(error)) {
                return failed(why, "integers beyond 64 bits");
            }
        }
    }
    return failed(why);
}

// What Python's json.detect_encoding() takes for UTF-16 or UTF-32: a BOM of either, or a NUL among the
// first bytes.
bool python_reads_as_utf16_or_utf32(const std::string& bytes) {
    using namespace std::string_view_literals;
    for (const std::string_view bom :
         {"\x00\x00\xFE\xFF"sv, "\xFF\xFE\x00\x00"sv, "\xFE\xFF"sv, "\xFF\xFE"sv}) {
        if (std::string_view(bytes).substr(0, bom.size()) == bom) {
            return true;
        }
    }
    if (bytes.size() >= 4) {
        return bytes[0] == '\0' || bytes[1] == '\0';
    }
    return bytes.size() == 2 && (bytes[0] == '\0' || bytes[1] == '\0');
}

// A surrogate code point in (generalized) UTF-8: ED A0..BF xx, which Python decodes with surrogatepass.
bool holds_encoded_surrogate(const std::string& bytes) {
    for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
        const auto lead = static_cast<unsigned char>(bytes[i]);
        const auto next = static_cast<unsigned char>(bytes[i + 1]);
        if (lead == 0xED && next >= 0xA0 && next <= 0xBF) {
            return true;
        }
    }
    return false;
}

// Why the decoder's refusal of a payload the reference accepted is documented, if it is.
std::string documented_refusal(const std::string& payload, bool from_hex,
                               const fedbiomed::DecodeError& error) {
    if (error.code() != fedbiomed::ErrorNumbers::FB601) {
        return "";
    }
    if (fbm_conformance::refused_as_beyond_64_bits(error)) {
        return "integers beyond 64 bits";
    }
    if (error.detail().find("nesting deeper than") != std::string::npos) {
        return "nesting deeper than the decoder's limit";
    }
    if (from_hex && python_reads_as_utf16_or_utf32(payload)) {
        return "UTF-16 and UTF-32 payloads";
    }
    if (holds_encoded_surrogate(payload)) {
        return "UTF-8-encoded surrogates";
    }
    return "";
}

/// Runs one deserialize case.
Verdict run_deserialize(const fbm_conformance::Case& one) {
    const Json& test_case = one.json;
    const bool from_hex = has_text(test_case, "input_hex");
    const std::string payload = from_hex ? bytes_from_hex(test_case.at("input_hex").get<std::string>())
                                         : test_case.at("input_text").get<std::string>();
    const bool expect_error = !test_case.at("error").is_null();
    Json decoded;
    try {
        decoded = fedbiomed::deserialize_msg(payload);
    } catch (const fedbiomed::DecodeError& error) {
        return expect_error ? Verdict{}
                            : failed(std::string("unexpected error: ") + error.what(),
                                     documented_refusal(payload, from_hex, error));
    } catch (const fedbiomed::FedbiomedError& error) {
        return expect_error ? Verdict{} : failed(std::string("unexpected error: ") + error.what());
    } catch (const std::exception& error) {
        return failed(std::string("non-Fed-BioMed exception: ") + error.what());
    }
    if (expect_error) {
        return failed("expected an error, got " + fbm_conformance::without_enum_members(decoded).dump());
    }
    Json expected;
    try {
        expected = has_text(test_case, "output_text")
                       ? fbm_conformance::parse_reference_text(test_case.at("output_text").get<std::string>())
                       : test_case.at("output");
    } catch (const std::exception& error) {
        return failed(std::string("cannot read the expected output: ") + error.what());
    }
    expected =
        fbm_conformance::with_enum_members(std::move(expected), test_case.value("output_enums", Json()));
    std::string why;
    if (!fbm_conformance::same_json(decoded, expected, true, &why)) {
        return failed("decoded value differs: " + why);
    }
    return {};
}

TEST(ConformanceJson, EveryCaseOfJsonJsonl) {
    const std::vector<fbm_conformance::Case> cases = fbm_conformance::load_cases("json.jsonl");
    ASSERT_EQ(fbm_conformance::case_count_problem("json.jsonl", cases.size()), "");
    fbm_conformance::Tally tally("json.jsonl");
    std::map<std::string, std::pair<int, int>> groups;  // group -> (passed, total)
    for (const fbm_conformance::Case& one : cases) {
        const std::string id = one.json.at("id").get<std::string>();
        const std::string op = one.json.at("op").get<std::string>();
        Verdict verdict;
        if (op == "serialize") {
            verdict = run_serialize(one);
        } else if (op == "deserialize") {
            verdict = run_deserialize(one);
        } else {
            verdict = failed("unknown op " + op);
        }
        auto& group = groups[group_of(id)];
        ++group.second;
        if (verdict.why.empty()) {
            ++group.first;
            tally.pass();
        } else if (!verdict.deliberate.empty()) {
            tally.differs_deliberately(id, verdict.deliberate);
        } else {
            tally.fail(id, verdict.why);
        }
    }
    for (const auto& [name, counts] : groups) {
        std::cout << "  " << name << ": " << counts.first << "/" << counts.second << "\n";
    }
    EXPECT_EQ(tally.failed(), 0);
    EXPECT_EQ(tally.passed() + tally.deliberate(), static_cast<int>(cases.size()));
}

}  // namespace

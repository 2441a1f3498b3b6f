// version.jsonl: the reference's protocol-version rule, case by case, through the public headers only.
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/logger.hpp>
#include <fedbiomed/version.hpp>

#include "conformance_support.hpp"

namespace {

using fedbiomed::Json;

const std::string kIncorrectTypePrefix =
    "FB625: Component version error: Component version has incorrect type `their_version` type=";

// What one check concluded, in the vocabulary of the vectors.
struct Outcome {
    std::string result;  // pass, warn, fail, invalid, or "exception" for anything unexpected
    Json code;           // "FB104" / "FB625" / null
    std::string message;
};

Outcome run_case(const Json* their, const std::string& our) {
    try {
        const fedbiomed::VersionCheck check = fedbiomed::check_protocol_version(their, our);
        if (check.verdict == fedbiomed::VersionVerdict::pass) {
            return {"pass", nullptr, check.warning};
        }
        return {"warn", nullptr, check.warning};
    } catch (const fedbiomed::InvalidVersionError& error) {
        return {"invalid", std::string(fedbiomed::error_code(error.code())),
                fbm_conformance::full_text(error)};
    } catch (const fedbiomed::VersionError& error) {
        return {"fail", std::string(fedbiomed::error_code(error.code())), fbm_conformance::full_text(error)};
    } catch (const std::exception& error) {
        return {"exception", nullptr, error.what()};
    }
}

// Compares one outcome with its case; empty when they agree, else what differs.
std::string disagreement(const Json& test_case, const Outcome& got) {
    const std::string expected_result = test_case.at("result").get<std::string>();
    const Json& expected_code = test_case.at("code");
    const Json& expected_message = test_case.at("message");
    if (got.result != expected_result) {
        return "result " + got.result + " (" + got.message + "), expected " + expected_result;
    }
    if (expected_result == "invalid") {
        // The reference raises packaging's InvalidVersion, without an FB code and in Python's words; this
        // library gives it InvalidVersionError, FB625, and its own message.
        if (!expected_code.is_null()) {
            return "vector gives a code to an invalid case";
        }
        if (got.code != "FB625" || got.message.find("invalid version string '") == std::string::npos) {
            return "InvalidVersionError with " + got.code.dump() + ": " + got.message;
        }
        return "";
    }
    if (got.code != expected_code) {
        return "code " + got.code.dump() + ", expected " + expected_code.dump();
    }
    if (expected_result == "pass") {
        return got.message.empty() ? "" : "pass with a warning text: " + got.message;
    }
    if (expected_result == "warn" || expected_code == "FB104") {
        // These texts are portable: they must match byte for byte.
        return got.message == expected_message.get<std::string>()
                   ? ""
                   : "message '" + got.message + "', expected '" + expected_message.get<std::string>() + "'";
    }
    // FB625 for a non-string value: the reference's text names Python types, only the frame is portable.
    return got.message.rfind(kIncorrectTypePrefix, 0) == 0 ? "" : "FB625 message '" + got.message + "'";
}

// docs/conformance.md: the four non-ASCII letters packaging's case-insensitive regex takes for ASCII
// ones (U+0130, U+0131, U+017F, U+212A), in UTF-8. This library calls such a version invalid.
bool holds_case_folding_letter(const Json* their) {
    if (their == nullptr || !their->is_string()) {
        return false;
    }
    const std::string& text = their->get_ref<const std::string&>();
    for (const char* letter : {"\xC4\xB0", "\xC4\xB1", "\xC5\xBF", "\xE2\x84\xAA"}) {
        if (text.find(letter) != std::string::npos) {
            return true;
        }
    }
    return false;
}

// The checks log every warning and failure; one line per case would only clutter the test output.
class QuietLibraryLogger {
public:
    QuietLibraryLogger() : level_(fedbiomed::library_logger()->level()) {
        fedbiomed::library_logger()->set_level(spdlog::level::off);
    }
    ~QuietLibraryLogger() { fedbiomed::library_logger()->set_level(level_); }
    QuietLibraryLogger(const QuietLibraryLogger&) = delete;
    QuietLibraryLogger& operator=(const QuietLibraryLogger&) = delete;

private:
    spdlog::level::level_enum level_;
};

TEST(ConformanceVersion, EveryCase) {
    const std::vector<fbm_conformance::Case> cases = fbm_conformance::load_cases("version.jsonl");
    ASSERT_EQ(fbm_conformance::case_count_problem("version.jsonl", cases.size()), "");
    const QuietLibraryLogger quiet;
    fbm_conformance::Tally tally("version.jsonl");
    for (const fbm_conformance::Case& one : cases) {
        const Json& test_case = one.json;
        const std::string id = test_case.at("id").get<std::string>();
        const bool absent = test_case.value("their_absent", false);
        if (!absent && !test_case.contains("their")) {
            tally.fail(id, "case has neither their nor their_absent");
            continue;
        }
        const Json* their = absent ? nullptr : &test_case.at("their");
        const Outcome got = run_case(their, test_case.at("our").get<std::string>());
        const std::string why = disagreement(test_case, got);
        if (why.empty()) {
            tally.pass();
        } else if (got.result == "invalid" && holds_case_folding_letter(their)) {
            tally.differs_deliberately(id, "non-ASCII letters packaging folds to ASCII (" + why + ")");
        } else {
            tally.fail(id, why);
        }
    }
    EXPECT_EQ(tally.failed(), 0);
    EXPECT_EQ(tally.passed() + tally.deliberate(), static_cast<int>(cases.size()));
}

}  // namespace

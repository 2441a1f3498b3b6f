// messages.jsonl: the four message factories of the reference, case by case, through the public headers
// only: result, FB code, class, error kind, the resulting dict (types and member order strict), and the
// error texts where the vectors' texts are portable.
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>
#include <fedbiomed/message.hpp>

#include "conformance_support.hpp"

namespace {

using fedbiomed::Json;
using fedbiomed::Message;
using fedbiomed::MessageValidationError;

using Factory = std::function<Message(const Json&)>;

std::optional<Factory> factory_named(const std::string& name) {
    if (name == "NodeMessages.incoming") {
        return Factory([](const Json& msg) { return fedbiomed::NodeMessages::format_incoming_message(msg); });
    }
    if (name == "NodeMessages.outgoing") {
        return Factory([](const Json& msg) { return fedbiomed::NodeMessages::format_outgoing_message(msg); });
    }
    if (name == "ResearcherMessages.incoming") {
        return Factory(
            [](const Json& msg) { return fedbiomed::ResearcherMessages::format_incoming_message(msg); });
    }
    if (name == "ResearcherMessages.outgoing") {
        return Factory(
            [](const Json& msg) { return fedbiomed::ResearcherMessages::format_outgoing_message(msg); });
    }
    return std::nullopt;
}

// What one factory call produced, in the vocabulary of the vectors.
struct Outcome {
    std::string result;      // ok / error
    Json code;               // "FB601" or null
    Json message_class;      // class name or null
    std::string error_kind;  // kind_name() of a MessageValidationError, "exception" for anything else
    std::string message;     // the exact text: error_text() + ": " + detail() (what() ends at a NUL)
    std::string field;       // MessageValidationError::field()
    Json output;             // to_json() of the result, enum members as text
};

Outcome run_case(const Factory& factory, const Json& input) {
    Outcome got;
    try {
        const Message msg = factory(input);
        got.result = "ok";
        got.message_class = std::string(fedbiomed::message_class(msg));
        got.output = fbm_conformance::without_enum_members(fedbiomed::to_json(msg));
    } catch (const MessageValidationError& error) {
        got.result = "error";
        got.code = std::string(fedbiomed::error_code(error.code()));
        got.message_class = error.message_class().empty() ? Json(nullptr) : Json(error.message_class());
        got.error_kind = std::string(fedbiomed::kind_name(error.kind()));
        got.message = fbm_conformance::full_text(error);
        got.field = error.field();
    } catch (const std::exception& error) {
        got.result = "error";
        got.error_kind = "exception";
        got.message = error.what();
    }
    return got;
}

bool starts_with(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

std::vector<std::string> split_id(const std::string& id) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = id.find('.', start);
        parts.push_back(id.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) {
            return parts;
        }
        start = dot + 1;
    }
}

// For `<f>.<command>.missing.<field>`, `.extra.<name>` and `.type.<field>.<jtype>` ids: the key the error
// must name. Empty when the id names none.
std::string named_key(const std::string& id) {
    const std::vector<std::string> parts = split_id(id);
    if (parts.size() >= 4 && (parts[2] == "missing" || parts[2] == "extra" || parts[2] == "type")) {
        return parts[3];
    }
    return "";
}

std::string check_error_text(const Json& test_case, const Outcome& got) {
    const std::string kind = test_case.at("error_kind").get<std::string>();
    const std::string expected = test_case.at("message").get<std::string>();
    const Json& input = test_case.contains("input") ? test_case.at("input") : Json();
    if (kind == "missing_command") {
        return got.message == expected ? "" : "message '" + got.message + "', expected '" + expected + "'";
    }
    if (kind == "unknown_command") {
        // Portable for a string command; for another JSON type our text adds what was found after it.
        const bool string_command = input.is_object() && input.at("command").is_string();
        const bool same = string_command ? got.message == expected : starts_with(got.message, expected + " ");
        return same ? "" : "message '" + got.message + "', expected '" + expected + "'";
    }
    // bad_arguments / bad_type: the reference's words are Python's; ours begin the same way, then name
    // the class, the field, the expected type and what was found.
    const std::string cls = test_case.at("class").get<std::string>();
    const std::string prefix = kind == "bad_arguments"
                                   ? "FB601: message error: bad number of parameters for " + cls + ": "
                                   : "FB601: message error: bad input value for message " + cls + ": field '";
    if (!starts_with(got.message, prefix)) {
        return "message '" + got.message + "' does not start with '" + prefix + "'";
    }
    const std::string key = named_key(test_case.at("id").get<std::string>());
    if (!key.empty()) {
        if (got.field != key) {
            return "error names field '" + got.field + "', expected '" + key + "'";
        }
        if (got.message.find("'" + key + "'") == std::string::npos) {
            return "message '" + got.message + "' does not quote '" + key + "'";
        }
    }
    if (kind == "bad_type" && (got.message.find(" expects ") == std::string::npos ||
                               got.message.find(", found ") == std::string::npos)) {
        return "message '" + got.message + "' does not say what was expected and found";
    }
    return "";
}

// Compares one outcome with its case; empty when they agree, else what differs.
std::string disagreement(const Json& test_case, const Outcome& got) {
    const std::string expected_result = test_case.at("result").get<std::string>();
    if (got.result != expected_result) {
        return "result " + got.result + " (" + got.message + "), expected " + expected_result + " (" +
               test_case.at("message").dump() + ")";
    }
    if (expected_result == "ok") {
        if (got.message_class != test_case.at("class")) {
            return "class " + got.message_class.dump() + ", expected " + test_case.at("class").dump();
        }
        // output_text (reference dialect) stands in for output when the dict holds non-finite floats.
        const Json& text = test_case.contains("output_text") ? test_case.at("output_text") : Json();
        const Json expected = text.is_string()
                                  ? fbm_conformance::parse_reference_text(text.get<std::string>())
                                  : test_case.at("output");
        std::string why;
        return fbm_conformance::same_json(got.output, expected, true, &why) ? "" : "output differs: " + why;
    }
    const Json& expected_code = test_case.at("code");
    if (expected_code.is_null()) {
        // The reference failed with a raw Python exception (an unhashable command, the key `self`, ...):
        // any rejection is right (vectors' README). This library's is always an FB601
        // MessageValidationError, naming the class the reference was building, if any
        // (docs/conformance.md).
        if (got.code != "FB601" || got.error_kind == "exception") {
            return "expected an FB601 rejection, got " + got.error_kind + ": " + got.message;
        }
        return got.message_class == test_case.at("class")
                   ? ""
                   : "class " + got.message_class.dump() + ", expected " + test_case.at("class").dump();
    }
    if (got.code != expected_code) {
        return "code " + got.code.dump() + ", expected " + expected_code.dump() + " (" + got.message + ")";
    }
    if (got.error_kind != test_case.at("error_kind").get<std::string>()) {
        return "error_kind " + got.error_kind + ", expected " +
               test_case.at("error_kind").get<std::string>() + " (" + got.message + ")";
    }
    if (got.message_class != test_case.at("class")) {
        return "class " + got.message_class.dump() + ", expected " + test_case.at("class").dump();
    }
    return check_error_text(test_case, got);
}

// When a case's outcome differs because of a deliberate difference of docs/conformance.md, and this
// library does there what that page says: the row's name. Empty otherwise.
std::string deliberate_difference(const fbm_conformance::Case& one, const Outcome& got) {
    if (one.integer_beyond_64_bits) {
        // The vector holds a Python int that no Json can; a payload carrying it is refused at decoding.
        try {
            (void)fedbiomed::deserialize_msg(one.line);
        } catch (const std::exception& error) {
            return fbm_conformance::refused_as_beyond_64_bits(error) ? "integers beyond 64 bits" : "";
        }
        return "";
    }
    // An unknown command longer than 320 bytes is quoted up to there, then "...".
    const Json& test_case = one.json;
    const Json& input = test_case.contains("input") ? test_case.at("input") : Json();
    const std::string prefix = "FB601: message error: bad message type for format_incoming_message: ";
    if (test_case.at("error_kind") == "unknown_command" && got.error_kind == "unknown_command" &&
        input.is_object() && input.at("command").is_string()) {
        const std::string& command = input.at("command").get_ref<const std::string&>();
        if (command.size() > 320 && got.message == prefix + command.substr(0, 320) + "...") {
            return "long unknown command shortened in the error text";
        }
    }
    return "";
}

TEST(ConformanceMessages, EveryCase) {
    const std::vector<fbm_conformance::Case> cases = fbm_conformance::load_cases("messages.jsonl");
    ASSERT_EQ(fbm_conformance::case_count_problem("messages.jsonl", cases.size()), "");
    fbm_conformance::Tally tally("messages.jsonl");
    for (const fbm_conformance::Case& one : cases) {
        const Json& test_case = one.json;
        const std::string id = test_case.at("id").get<std::string>();
        const std::optional<Factory> factory = factory_named(test_case.at("factory").get<std::string>());
        if (!factory) {
            tally.fail(id, "unknown factory " + test_case.at("factory").dump());
            continue;
        }
        Json input;
        try {
            input = fbm_conformance::case_input(test_case);
        } catch (const std::exception& error) {
            // An input_text the decoder refuses: only a Python int beyond 64 bits is a documented reason.
            if (fbm_conformance::refused_as_beyond_64_bits(error)) {
                tally.differs_deliberately(id, "integers beyond 64 bits");
            } else {
                tally.fail(id, std::string("cannot read the input: ") + error.what());
            }
            continue;
        }
        const Outcome got = run_case(*factory, input);
        const std::string why = disagreement(test_case, got);
        if (why.empty()) {
            tally.pass();
        } else if (const std::string difference = deliberate_difference(one, got); !difference.empty()) {
            tally.differs_deliberately(id, difference);
        } else {
            tally.fail(id, why);
        }
    }
    EXPECT_EQ(tally.failed(), 0);
    EXPECT_EQ(tally.passed() + tally.deliberate(), static_cast<int>(cases.size()));
}

// The rvalue overloads move payloads instead of copying them; they must decide exactly as the const ones.
TEST(ConformanceMessages, MovingOverloadsAgree) {
    const std::vector<fbm_conformance::Case> cases = fbm_conformance::load_cases("messages.jsonl");
    std::size_t compared = 0;
    std::size_t unreadable = 0;
    for (const fbm_conformance::Case& one : cases) {
        const Json& test_case = one.json;
        const std::string factory = test_case.at("factory").get<std::string>();
        Json input;
        try {
            input = fbm_conformance::case_input(test_case);
        } catch (const std::exception&) {
            ++unreadable;  // an input this library cannot hold (EveryCase says why)
            continue;
        }
        auto run = [&](Json copy) -> std::string {
            try {
                Message msg = factory == "NodeMessages.incoming"
                                  ? fedbiomed::NodeMessages::format_incoming_message(std::move(copy))
                              : factory == "NodeMessages.outgoing"
                                  ? fedbiomed::NodeMessages::format_outgoing_message(std::move(copy))
                              : factory == "ResearcherMessages.incoming"
                                  ? fedbiomed::ResearcherMessages::format_incoming_message(std::move(copy))
                                  : fedbiomed::ResearcherMessages::format_outgoing_message(std::move(copy));
                return fbm_conformance::without_enum_members(fedbiomed::to_json(std::move(msg))).dump();
            } catch (const fedbiomed::FedbiomedError& error) {
                return fbm_conformance::full_text(error);
            } catch (const std::exception& error) {
                return error.what();
            }
        };
        const Outcome by_copy = run_case(*factory_named(factory), input);
        const std::string expected = by_copy.result == "ok" ? by_copy.output.dump() : by_copy.message;
        EXPECT_EQ(run(input), expected) << test_case.at("id").get<std::string>();
        ++compared;
    }
    EXPECT_GT(compared, 0u);
    EXPECT_EQ(compared + unreadable, cases.size());
}

}  // namespace

#include "conformance_support.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <fedbiomed/errors.hpp>

namespace fbm_conformance {
namespace {

using fedbiomed::Json;

std::string type_name(const Json& value) {
    if (fedbiomed::is_error_number(value)) {
        return "ErrorNumbers";
    }
    switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "float";
    case Json::value_t::string: return "string";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    default: return "other";
    }
}

// Applies fn to the value at a dotted path, if every step exists and is an object.
template <class Fn>
void at_path(Json& root, const std::string& path, Fn fn) {
    Json* node = &root;
    std::size_t start = 0;
    while (true) {
        if (!node->is_object()) {
            return;
        }
        const std::size_t dot = path.find('.', start);
        const std::string key =
            path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        auto found = node->find(key);
        if (found == node->end()) {
            return;
        }
        node = &found.value();
        if (dot == std::string::npos) {
            fn(*node);
            return;
        }
        start = dot + 1;
    }
}

bool same_number(double a, double b) {
    if (std::isnan(a) || std::isnan(b)) {
        return std::isnan(a) && std::isnan(b);
    }
    return a == b && std::signbit(a) == std::signbit(b);
}

bool compare(const Json& a, const Json& b, bool check_order, const std::string& where, std::string* why) {
    auto differ = [&](const std::string& what) {
        if (why != nullptr) {
            *why = (where.empty() ? std::string("<root>") : where) + ": " + what;
        }
        return false;
    };
    const std::string ta = type_name(a);
    const std::string tb = type_name(b);
    if (ta != tb) {
        return differ("type " + ta + " vs " + tb);
    }
    if (ta == "ErrorNumbers") {
        return a.get<fedbiomed::ErrorNumbers>() == b.get<fedbiomed::ErrorNumbers>() ? true : differ("errnum");
    }
    switch (a.type()) {
    case Json::value_t::number_float:
        return same_number(a.get<double>(), b.get<double>()) ? true : differ("float value");
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
        const bool neg_a = a.is_number_integer() && !a.is_number_unsigned() && a.get<std::int64_t>() < 0;
        const bool neg_b = b.is_number_integer() && !b.is_number_unsigned() && b.get<std::int64_t>() < 0;
        if (neg_a != neg_b) {
            return differ("integer sign");
        }
        const bool equal = neg_a ? a.get<std::int64_t>() == b.get<std::int64_t>()
                                 : a.get<std::uint64_t>() == b.get<std::uint64_t>();
        return equal ? true : differ("integer value " + a.dump() + " vs " + b.dump());
    }
    case Json::value_t::array: {
        if (a.size() != b.size()) {
            return differ("array size");
        }
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (!compare(a[i], b[i], check_order, where + "[" + std::to_string(i) + "]", why)) {
                return false;
            }
        }
        return true;
    }
    case Json::value_t::object: {
        if (a.size() != b.size()) {
            return differ("object size " + std::to_string(a.size()) + " vs " + std::to_string(b.size()));
        }
        auto ib = b.begin();
        for (auto ia = a.begin(); ia != a.end(); ++ia, ++ib) {
            const Json* other = nullptr;
            if (check_order) {
                if (ia.key() != ib.key()) {
                    return differ("member order: '" + ia.key() + "' vs '" + ib.key() + "'");
                }
                other = &ib.value();
            } else {
                auto found = b.find(ia.key());
                if (found == b.end()) {
                    return differ("missing member '" + ia.key() + "'");
                }
                other = &found.value();
            }
            if (!compare(ia.value(), *other, check_order, where + "." + ia.key(), why)) {
                return false;
            }
        }
        return true;
    }
    default: return a == b ? true : differ("value " + a.dump() + " vs " + b.dump());
    }
}

}  // namespace

std::string conformance_dir() {
    const char* from_environment = std::getenv("FBM_CONFORMANCE_DIR");
    if (from_environment != nullptr && *from_environment != '\0') {
        return from_environment;
    }
    return FBM_CONFORMANCE_DIR;
}

std::vector<Case> load_cases(const std::string& file_name) {
    const std::string path = conformance_dir() + "/" + file_name;
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot open conformance file " + path);
    }
    std::vector<Case> cases;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty()) {
            Case one;
            one.json = Json::parse(line);
            one.integer_beyond_64_bits = integer_beyond_64_bits(line);
            one.line = std::move(line);
            cases.push_back(std::move(one));
        }
    }
    return cases;
}

bool integer_beyond_64_bits(std::string_view json_text) {
    // Digits of INT64_MIN's magnitude and of UINT64_MAX: equal lengths compare as numbers.
    constexpr std::string_view kMinMagnitude = "9223372036854775808";
    constexpr std::string_view kMax = "18446744073709551615";
    bool in_string = false;
    for (std::size_t i = 0; i < json_text.size(); ++i) {
        const char c = json_text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;  // the escaped character, whatever it is
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
            continue;
        }
        const bool negative = c == '-';
        const std::size_t start = negative ? i + 1 : i;
        if (start >= json_text.size() || json_text[start] < '0' || json_text[start] > '9') {
            continue;
        }
        std::size_t end = start;
        while (end < json_text.size() && json_text[end] >= '0' && json_text[end] <= '9') {
            ++end;
        }
        const bool integer = end == json_text.size() ||
                             (json_text[end] != '.' && json_text[end] != 'e' && json_text[end] != 'E');
        const std::string_view digits = json_text.substr(start, end - start);
        const std::string_view bound = negative ? kMinMagnitude : kMax;
        if (integer && (digits.size() > bound.size() || (digits.size() == bound.size() && digits > bound))) {
            return true;
        }
        // Skip the rest of the number token (fraction, exponent).
        while (end < json_text.size() &&
               std::string_view("0123456789.eE+-").find(json_text[end]) != std::string_view::npos) {
            ++end;
        }
        i = end - 1;
    }
    return false;
}

std::optional<std::size_t> documented_case_count(const std::string& file_name) {
    std::ifstream in(conformance_dir() + "/README.md");
    const std::string row_start = "| `" + file_name + "` |";
    std::string line;
    while (std::getline(in, line)) {
        if (line.compare(0, row_start.size(), row_start) != 0) {
            continue;
        }
        // | `file` | content | cases | breakdown |
        std::vector<std::string> cells;
        std::size_t start = 1;
        for (std::size_t bar = line.find('|', start); bar != std::string::npos; bar = line.find('|', start)) {
            cells.push_back(line.substr(start, bar - start));
            start = bar + 1;
        }
        if (cells.size() < 3) {
            return std::nullopt;
        }
        std::string digits;
        for (const char c : cells[2]) {
            if (c >= '0' && c <= '9') {
                digits += c;
            } else if (c != ' ' && c != ',') {
                return std::nullopt;  // not a plain number
            }
        }
        if (digits.empty() || digits.size() > 9) {
            return std::nullopt;
        }
        return static_cast<std::size_t>(std::stoul(digits));
    }
    return std::nullopt;
}

std::string case_count_problem(const std::string& file_name, std::size_t loaded) {
    if (loaded == 0) {
        return file_name + " holds no case";
    }
    const std::optional<std::size_t> documented = documented_case_count(file_name);
    if (documented && *documented != loaded) {
        return file_name + " holds " + std::to_string(loaded) + " cases, its README announces " +
               std::to_string(*documented);
    }
    return "";
}

bool refused_as_beyond_64_bits(const std::exception& error) {
    const auto* decode = dynamic_cast<const fedbiomed::DecodeError*>(&error);
    return decode != nullptr && decode->code() == fedbiomed::ErrorNumbers::FB601 &&
           decode->detail().find("integer out of the 64-bit range") != std::string::npos;
}

std::string full_text(const fedbiomed::FedbiomedError& error) {
    std::string text(fedbiomed::error_text(error.code()));
    if (!error.detail().empty()) {
        text += ": " + error.detail();
    }
    return text;
}

Json parse_reference_text(const std::string& text) {
    // The codec's decoder reads the reference dialect. Its top-level rewrites (errnum, test_metric) are
    // harmless for the texts the vectors carry, whose enum members are listed separately anyway.
    return fedbiomed::deserialize_msg(text);
}

Json with_enum_members(Json value, const Json& enum_paths) {
    if (!enum_paths.is_object()) {
        return value;
    }
    for (auto it = enum_paths.begin(); it != enum_paths.end(); ++it) {
        if (it.value() != "ErrorNumbers") {
            continue;  // MetricTypes members are their names in this library
        }
        at_path(value, it.key(), [](Json& node) {
            if (node.is_string()) {
                if (auto code = fedbiomed::error_from_text(node.get<std::string>())) {
                    node = *code;
                }
            }
        });
    }
    return value;
}

Json without_enum_members(Json value) {
    if (fedbiomed::is_error_number(value)) {
        return Json(std::string(fedbiomed::error_text(value.get<fedbiomed::ErrorNumbers>())));
    }
    if (value.is_object() || value.is_array()) {
        for (auto& child : value) {
            child = without_enum_members(std::move(child));
        }
    }
    return value;
}

Json case_input(const Json& test_case) {
    Json input = test_case.contains("input")
                     ? test_case.at("input")
                     : parse_reference_text(test_case.at("input_text").get<std::string>());
    if (test_case.contains("input_enums")) {
        input = with_enum_members(std::move(input), test_case.at("input_enums"));
    }
    return input;
}

bool same_json(const Json& a, const Json& b, bool check_order, std::string* why) {
    return compare(a, b, check_order, "", why);
}

Tally::Tally(std::string file) : file_(std::move(file)) {}

Tally::~Tally() {
    const int total = passed_ + failed() + deliberate();
    std::cout << "conformance " << file_ << ": " << passed_ << "/" << total << " cases passed";
    if (!deliberate_.empty()) {
        std::cout << ", " << deliberate() << " differ deliberately (docs/conformance.md)";
    }
    std::cout << "\n";
    for (const auto& failure : failures_) {
        std::cout << "  FAILED " << failure << "\n";
    }
    for (const auto& difference : deliberate_) {
        std::cout << "  deliberate " << difference << "\n";
    }
}

void Tally::pass() {
    ++passed_;
}

void Tally::fail(const std::string& id, const std::string& why) {
    failures_.push_back(id + ": " + why);
}

void Tally::differs_deliberately(const std::string& id, const std::string& difference) {
    deliberate_.push_back(id + ": " + difference);
}

}  // namespace fbm_conformance

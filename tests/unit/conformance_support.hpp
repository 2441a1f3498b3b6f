// Helpers shared by the conformance tests. They use the library's public headers only, as an outside
// runner of the same vectors would.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>

namespace fbm_conformance {

/// The directory of the vectors: the environment variable FBM_CONFORMANCE_DIR when set and not empty
/// (to run another vector set, e.g. a larger one, without rebuilding), else the repository's
/// tests/data/conformance.
std::string conformance_dir();

/// Reads every line of <conformance dir>/<file_name> as strict JSON (member order kept).
std::vector<fedbiomed::Json> load_cases(const std::string& file_name);

/// The number of cases the vector set's README.md announces for @p file_name (the `cases` column of its
/// file table), or std::nullopt when the README, the row or a plain number is missing.
std::optional<std::size_t> documented_case_count(const std::string& file_name);

/// Empty when @p loaded cases is plausible for @p file_name: at least one, and as many as the README
/// announces when it announces a number (guards against a truncated file). Else what is wrong.
std::string case_count_problem(const std::string& file_name, std::size_t loaded);

/// The exact text of a library error: error_text(code()), then ": " and detail() when there is one. Unlike
/// what(), it keeps NUL bytes (a command "pong\0" quoted in an FB601 text).
std::string full_text(const fedbiomed::FedbiomedError& error);

/// Parses a text in the reference dialect (JSON plus NaN / Infinity / -Infinity) with the library's codec.
fedbiomed::Json parse_reference_text(const std::string& text);

/// Replaces the strings found at the listed paths ({"errnum": "ErrorNumbers", "a.b": "MetricTypes"}) by
/// the enum members they stand for. ErrorNumbers members become the library's tagged member; MetricTypes
/// members are their names in the library too, so they are left as they are.
fedbiomed::Json with_enum_members(fedbiomed::Json value, const fedbiomed::Json& enum_paths);

/// Replaces every ErrorNumbers member (anywhere) by its text, for comparisons with expected outputs.
fedbiomed::Json without_enum_members(fedbiomed::Json value);

/// The case's input: `input`, or `input_text` parsed in the reference dialect; `input_enums` applied.
fedbiomed::Json case_input(const fedbiomed::Json& test_case);

/// Strict equality: same JSON types (integer, float, boolean are all distinct), NaN equals NaN, -0.0 and
/// 0.0 differ, strings byte-equal; object member order compared when @p check_order. On a difference,
/// *why (if given) says where.
bool same_json(const fedbiomed::Json& a, const fedbiomed::Json& b, bool check_order, std::string* why);

/// Counts the cases of one file and prints "conformance <file>: <passed>/<total> cases passed" (and each
/// failure) when destroyed. Nothing here knows how many cases a file has: the runners take the count from
/// the file itself.
class Tally {
public:
    explicit Tally(std::string file);
    ~Tally();
    Tally(const Tally&) = delete;
    Tally& operator=(const Tally&) = delete;

    void pass();
    void fail(const std::string& id, const std::string& why);
    int failed() const { return static_cast<int>(failures_.size()); }
    int passed() const { return passed_; }

private:
    std::string file_;
    int passed_ = 0;
    std::vector<std::string> failures_;
};

}  // namespace fbm_conformance

// Helpers shared by the conformance tests. They use the library's public headers only, as an outside
// runner of the same vectors would.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>

namespace fbm_conformance {

/// The directory of the vectors: the environment variable FBM_CONFORMANCE_DIR when set and not empty
/// (to run another vector set, e.g. a larger one, without rebuilding), else the repository's
/// tests/data/conformance.
std::string conformance_dir();

/// One line of a vector file.
struct Case {
    fedbiomed::Json json;  ///< the line as strict JSON (member order kept)
    std::string line;      ///< the line's text
    /// The line holds an integer literal outside INT64_MIN..UINT64_MAX. nlohmann reads such a literal as
    /// a float, so `json` does not hold the reference's value there (see integer_beyond_64_bits()).
    bool integer_beyond_64_bits = false;
};

/// Reads every line of <conformance dir>/<file_name>.
std::vector<Case> load_cases(const std::string& file_name);

/// True when @p json_text (strict JSON) holds, outside its strings, an integer literal (no fraction, no
/// exponent) below INT64_MIN or above UINT64_MAX: a value Python reads as an int and this library cannot
/// hold (docs/conformance.md).
bool integer_beyond_64_bits(std::string_view json_text);

/// The number of cases the vector set's README.md announces for @p file_name (the `cases` column of its
/// file table), or std::nullopt when the README, the row or a plain number is missing.
std::optional<std::size_t> documented_case_count(const std::string& file_name);

/// Empty when @p loaded cases is plausible for @p file_name: at least one, and as many as the README
/// announces when it announces a number (guards against a truncated file). Else what is wrong.
std::string case_count_problem(const std::string& file_name, std::size_t loaded);

/// True when @p error is the decoder's refusal of an integer literal beyond 64 bits (DecodeError, FB601):
/// what docs/conformance.md says this library does with a Python int that large.
bool refused_as_beyond_64_bits(const std::exception& error);

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
/// failure) when destroyed. A case whose outcome differs from the reference's because of a deliberate
/// difference listed in docs/conformance.md is counted apart, once the runner has checked that this
/// library behaves there as documented; the line then says how many. Nothing here knows how many cases a file
/// has: the runners take the count from the file itself.
class Tally {
public:
    explicit Tally(std::string file);
    ~Tally();
    Tally(const Tally&) = delete;
    Tally& operator=(const Tally&) = delete;

    void pass();
    void fail(const std::string& id, const std::string& why);
    /// @p difference: the docs/conformance.md row that explains the case.
    void differs_deliberately(const std::string& id, const std::string& difference);
    int failed() const { return static_cast<int>(failures_.size()); }
    int passed() const { return passed_; }
    int deliberate() const { return static_cast<int>(deliberate_.size()); }

private:
    std::string file_;
    int passed_ = 0;
    std::vector<std::string> failures_;
    std::vector<std::string> deliberate_;
};

}  // namespace fbm_conformance

// PEP 440 versions parsed as Python's packaging 23 does, and the reference's protocol-version rule
// (spec section 4.3).
//
// The parser is written by hand rather than with std::regex: std::regex is slow, recurses per character
// (a long hostile string can exhaust the stack) and this code runs on every received message and under a
// fuzzer. It mirrors packaging's anchored, case-insensitive VERSION_PATTERN and explores the regex's
// alternatives in the same order as Python's backtracking engine, so every accepted string gets the same
// groups, hence the same normal form and ordering. Every choice point has at most a handful of live
// alternatives and no loop ever backtracks (see match_pre()), so the whole parse is linear in the input.
#include "fedbiomed/version.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <limits>
#include <utility>

#include <spdlog/spdlog.h>

#include "fedbiomed/errors.hpp"
#include "fedbiomed/logger.hpp"
#include "quiet_version_checks.hpp"

namespace fedbiomed {
namespace {

constexpr std::string_view kSeeVersionsPage =
    " -> See https://fedbiomed.org/latest/user-guide/deployment/versions for more information";

// How much of an unparsable string, or of a value of the wrong type, is quoted in an error message: the
// input is untrusted and may be megabytes long.
constexpr std::size_t kMaxQuoted = 64;
constexpr std::size_t kMaxDumped = 200;

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

char to_lower_ascii(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_alnum_ascii(char c) noexcept {
    const char lower = to_lower_ascii(c);
    return is_digit(c) || (lower >= 'a' && lower <= 'z');
}

bool is_separator(char c) noexcept {
    return c == '-' || c == '_' || c == '.';
}

// The ASCII part of Python's `\s` on a str: the C whitespace characters plus the four information
// separators \x1c-\x1f, which str.isspace() (and hence the regex) also counts as whitespace.
bool is_ascii_space(char c) noexcept {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

// The non-ASCII characters for which CPython 3.11's str.isspace() is true (bidirectional class WS, B or S,
// or category Zs), in UTF-8. packaging's `^\s*` and `\s*$` strip them around a version.
constexpr std::array<std::string_view, 17> kUnicodeSpaces{{
    "\xC2\x85",      // U+0085 NEXT LINE
    "\xC2\xA0",      // U+00A0 NO-BREAK SPACE
    "\xE1\x9A\x80",  // U+1680 OGHAM SPACE MARK
    "\xE2\x80\x80",  // U+2000 EN QUAD
    "\xE2\x80\x81",  // U+2001 EM QUAD
    "\xE2\x80\x82",  // U+2002 EN SPACE
    "\xE2\x80\x83",  // U+2003 EM SPACE
    "\xE2\x80\x84",  // U+2004 THREE-PER-EM SPACE
    "\xE2\x80\x85",  // U+2005 FOUR-PER-EM SPACE
    "\xE2\x80\x86",  // U+2006 SIX-PER-EM SPACE
    "\xE2\x80\x87",  // U+2007 FIGURE SPACE
    "\xE2\x80\x88",  // U+2008 PUNCTUATION SPACE
    "\xE2\x80\x89",  // U+2009 THIN SPACE
    "\xE2\x80\x8A",  // U+200A HAIR SPACE
    "\xE2\x80\xA8",  // U+2028 LINE SEPARATOR
    "\xE2\x80\xA9",  // U+2029 PARAGRAPH SEPARATOR
    "\xE2\x80\xAF",  // U+202F NARROW NO-BREAK SPACE
}};
constexpr std::string_view kMediumMathematicalSpace = "\xE2\x81\x9F";  // U+205F
constexpr std::string_view kIdeographicSpace = "\xE3\x80\x80";         // U+3000

// The length in bytes of the whitespace character (as str.isspace() sees it) that starts @p rest, or 0.
std::size_t space_length(std::string_view rest) noexcept {
    if (rest.empty()) {
        return 0;
    }
    if (is_ascii_space(rest.front())) {
        return 1;
    }
    if (static_cast<unsigned char>(rest.front()) < 0x80) {
        return 0;
    }
    auto starts = [rest](std::string_view sequence) { return rest.substr(0, sequence.size()) == sequence; };
    for (const std::string_view sequence : kUnicodeSpaces) {
        if (starts(sequence)) {
            return sequence.size();
        }
    }
    if (starts(kMediumMathematicalSpace)) {
        return kMediumMathematicalSpace.size();
    }
    return starts(kIdeographicSpace) ? kIdeographicSpace.size() : 0;
}

// A half-open byte range [begin, end) of the input; `present` tells an empty capture from an absent one.
struct Span {
    std::size_t begin = 0;
    std::size_t end = 0;
    bool present = false;
};

Span span(std::size_t begin, std::size_t end) noexcept {
    return Span{begin, end, true};
}

// The groups of VERSION_PATTERN that the conversion needs, for one complete match.
struct Captures {
    Span epoch;
    Span release;
    Span pre_letter;
    Span pre_number;
    Span post_number_dash;  // post_n1: the implicit "-N" form
    Span post_letter;
    Span post_number;  // post_n2
    Span dev_letter;
    Span dev_number;
    Span local;
};

constexpr std::array<std::string_view, 8> kPreLetters{"a", "b", "c", "rc", "alpha", "beta", "pre", "preview"};
constexpr std::array<std::string_view, 3> kPostLetters{"post", "rev", "r"};
constexpr std::array<std::string_view, 1> kDevLetters{"dev"};

// Matches the whole of `^\s*VERSION_PATTERN\s*$` (case-insensitively) against one string.
//
// Each stage tries its regex alternatives in the order Python's engine does (an optional group or
// separator first *with* the text, alternations left to right) and hands the rest of the input to the next
// stage; the first complete match wins, exactly as in Python. Digit runs, the release's ".N" repetitions
// and the local segment are always taken whole: no later part of the pattern can start with a digit or
// with ".<digit>", nor continue a local segment, so giving characters back could never produce a match.
class Matcher {
public:
    explicit Matcher(std::string_view text) noexcept : text_(text) {}

    bool match() noexcept {
        std::size_t pos = skip_spaces(0);
        if (char_at(pos) == 'v') {
            ++pos;
        }
        std::size_t digits = count_digits(pos);
        if (digits == 0) {
            return false;
        }
        if (char_at(pos + digits) == '!') {
            captures_.epoch = span(pos, pos + digits);
            pos += digits + 1;
            digits = count_digits(pos);
            if (digits == 0) {
                return false;
            }
        }
        const std::size_t release_begin = pos;
        pos += digits;
        while (char_at(pos) == '.' && count_digits(pos + 1) > 0) {
            pos += 1 + count_digits(pos + 1);
        }
        captures_.release = span(release_begin, pos);
        return match_pre(pos);
    }

    const Captures& captures() const noexcept { return captures_; }

private:
    // The character at @p pos, lowercased; '\0' past the end (an embedded NUL matches nothing either).
    char char_at(std::size_t pos) const noexcept {
        return pos < text_.size() ? to_lower_ascii(text_[pos]) : '\0';
    }

    std::size_t count_digits(std::size_t pos) const noexcept {
        std::size_t end = pos;
        while (end < text_.size() && is_digit(text_[end])) {
            ++end;
        }
        return end - pos;
    }

    std::size_t skip_spaces(std::size_t pos) const noexcept {
        while (pos < text_.size()) {
            const std::size_t length = space_length(text_.substr(pos));
            if (length == 0) {
                break;
            }
            pos += length;
        }
        return pos;
    }

    bool word_at(std::size_t pos, std::string_view word) const noexcept {
        if (text_.size() - std::min(pos, text_.size()) < word.size()) {
            return false;
        }
        for (std::size_t i = 0; i < word.size(); ++i) {
            if (to_lower_ascii(text_[pos + i]) != word[i]) {
                return false;
            }
        }
        return true;
    }

    // `[-_.]?` is greedy: first with the separator (when there is one), then without.
    std::array<std::size_t, 2> separator_choices(std::size_t pos, std::size_t& count) const noexcept {
        if (is_separator(char_at(pos))) {
            count = 2;
            return {pos + 1, pos};
        }
        count = 1;
        return {pos, pos};
    }

    // Tries `[-_.]? (letters) [-_.]? ([0-9]+)?` at @p pos, then `next` on the rest; false if no combination
    // leads to a complete match. Sets @p letter / @p number for the combination being tried.
    template <std::size_t N, class Next>
    bool match_lettered(std::size_t pos, const std::array<std::string_view, N>& letters, Span& letter,
                        Span& number, Next next) noexcept {
        std::size_t first_count = 0;
        const auto firsts = separator_choices(pos, first_count);
        for (std::size_t f = 0; f < first_count; ++f) {
            for (const std::string_view word : letters) {
                if (!word_at(firsts[f], word)) {
                    continue;
                }
                const std::size_t after_word = firsts[f] + word.size();
                std::size_t second_count = 0;
                const auto seconds = separator_choices(after_word, second_count);
                for (std::size_t s = 0; s < second_count; ++s) {
                    const std::size_t digits = count_digits(seconds[s]);
                    letter = span(firsts[f], after_word);
                    number = digits > 0 ? span(seconds[s], seconds[s] + digits) : Span{};
                    if ((this->*next)(seconds[s] + digits)) {
                        return true;
                    }
                }
            }
        }
        letter = Span{};
        number = Span{};
        return false;
    }

    bool match_pre(std::size_t pos) noexcept {
        if (match_lettered(pos, kPreLetters, captures_.pre_letter, captures_.pre_number,
                           &Matcher::match_post)) {
            return true;
        }
        return match_post(pos);
    }

    bool match_post(std::size_t pos) noexcept {
        const std::size_t digits = char_at(pos) == '-' ? count_digits(pos + 1) : 0;
        if (digits > 0) {
            captures_.post_number_dash = span(pos + 1, pos + 1 + digits);
            if (match_dev(pos + 1 + digits)) {
                return true;
            }
            captures_.post_number_dash = Span{};
        }
        if (match_lettered(pos, kPostLetters, captures_.post_letter, captures_.post_number,
                           &Matcher::match_dev)) {
            return true;
        }
        return match_dev(pos);
    }

    bool match_dev(std::size_t pos) noexcept {
        if (match_lettered(pos, kDevLetters, captures_.dev_letter, captures_.dev_number,
                           &Matcher::match_local)) {
            return true;
        }
        return match_local(pos);
    }

    // `(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?` then `\s*$`.
    bool match_local(std::size_t pos) noexcept {
        if (char_at(pos) == '+') {
            const std::size_t begin = pos + 1;
            std::size_t end = begin;
            while (end < text_.size() && is_alnum_ascii(text_[end])) {
                ++end;
            }
            if (end > begin) {
                while (end + 1 < text_.size() && is_separator(text_[end]) && is_alnum_ascii(text_[end + 1])) {
                    end += 2;
                    while (end < text_.size() && is_alnum_ascii(text_[end])) {
                        ++end;
                    }
                }
                captures_.local = span(begin, end);
                if (match_end(end)) {
                    return true;
                }
                captures_.local = Span{};
            }
        }
        return match_end(pos);
    }

    bool match_end(std::size_t pos) const noexcept { return skip_spaces(pos) == text_.size(); }

    std::string_view text_;
    Captures captures_;
};

// CPython 3.11's default limit on the digits int() converts (sys.get_int_max_str_digits()). packaging
// calls int() on every number of a version, so a longer digit run makes the reference raise ValueError.
constexpr std::size_t kMaxDigits = 4300;

// A decimal number of a capture, normalised as Python's int() then str() would print it: leading zeros
// dropped ("000" -> "0"). std::nullopt beyond kMaxDigits digits (leading zeros count, as in CPython).
std::optional<std::string> to_number(std::string_view digits) {
    if (digits.size() > kMaxDigits) {
        return std::nullopt;
    }
    while (digits.size() > 1 && digits.front() == '0') {
        digits.remove_prefix(1);
    }
    return std::string(digits);
}

// Orders two normalised numbers (no leading zeros) by value: a longer one is larger, else digit by digit.
int compare_numbers(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) {
        return a.size() < b.size() ? -1 : 1;
    }
    const int order = a.compare(b);
    return order < 0 ? -1 : (order > 0 ? 1 : 0);
}

// A normalised number as 64 bits, UINT64_MAX when it does not fit.
std::uint64_t saturated(std::string_view digits) noexcept {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t value = 0;
    for (const char c : digits) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (kMax - digit) / 10) {
            return kMax;
        }
        value = value * 10 + digit;
    }
    return value;
}

bool all_digits(std::string_view text) noexcept {
    return std::all_of(text.begin(), text.end(), is_digit);
}

// Normalises a local label as packaging does: segments split at - _ . , letters lowercased, all-digit
// segments printed as integers (leading zeros dropped, "000" -> "0"), joined by '.'. Digit segments are
// kept as text, so they may be of any length up to kMaxDigits (int() is called on them too).
std::optional<std::string> normalise_local(std::string_view local) {
    std::string out;
    out.reserve(local.size());
    std::size_t start = 0;
    while (start <= local.size()) {
        std::size_t end = start;
        while (end < local.size() && !is_separator(local[end])) {
            ++end;
        }
        std::string_view segment = local.substr(start, end - start);
        if (!out.empty()) {
            out += '.';
        }
        if (all_digits(segment)) {
            const auto number = to_number(segment);
            if (!number) {
                return std::nullopt;
            }
            out += *number;
        } else {
            for (const char c : segment) {
                out += to_lower_ascii(c);
            }
        }
        start = end + 1;
    }
    return out;
}

template <class T>
int three_way(const T& a, const T& b) noexcept {
    return a < b ? -1 : (b < a ? 1 : 0);
}

// Takes the next '.'-separated segment of a normalised local label off the front of @p rest.
std::string_view next_segment(std::string_view& rest) noexcept {
    const std::size_t dot = rest.find('.');
    const std::string_view segment = rest.substr(0, dot);
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
    return segment;
}

// Compares two normalised, non-empty local labels as packaging's _cmpkey does: segment by segment, an
// integer segment sorts after any alphanumeric one, integers by value, others as strings; a label that is
// a prefix of the other sorts first. Allocates nothing, so Version::compare() can be noexcept.
int compare_local(std::string_view a, std::string_view b) noexcept {
    while (!a.empty() && !b.empty()) {
        const std::string_view left = next_segment(a);
        const std::string_view right = next_segment(b);
        const bool left_number = all_digits(left);
        const bool right_number = all_digits(right);
        int order = 0;
        if (left_number != right_number) {
            order = left_number ? 1 : -1;
        } else if (left_number) {
            order = compare_numbers(left, right);
        } else {
            order = three_way(left, right);
        }
        if (order != 0) {
            return order;
        }
    }
    return three_way(!a.empty(), !b.empty());
}

// Quotes an untrusted string for an error message: printable ASCII as is, everything else escaped, at
// most kMaxQuoted bytes shown, so the message stays one short line whatever the input.
std::string quote(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "'";
    const std::size_t shown = std::min(text.size(), kMaxQuoted);
    for (std::size_t i = 0; i < shown; ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if (byte == '\\' || byte == '\'') {
            out += '\\';
            out += static_cast<char>(byte);
        } else if (byte == '\t') {
            out += "\\t";
        } else if (byte == '\n') {
            out += "\\n";
        } else if (byte == '\r') {
            out += "\\r";
        } else if (byte >= 0x20 && byte < 0x7f) {
            out += static_cast<char>(byte);
        } else {
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0x0f];
        }
    }
    if (shown < text.size()) {
        out += "...' (" + std::to_string(text.size()) + " bytes)";
    } else {
        out += '\'';
    }
    return out;
}

// The JSON text of a value of the wrong type, ASCII only and cut to kMaxDumped bytes; invalid UTF-8 is
// replaced rather than thrown about, since this runs while reporting another error.
std::string dump_for_message(const Json& value) {
    std::string text = value.dump(-1, ' ', true, Json::error_handler_t::replace);
    if (text.size() > kMaxDumped) {
        text.resize(kMaxDumped);
        text += "... (truncated)";
    }
    return text;
}

// Set by detail::QuietVersionChecks: the caller reports the verdict itself.
thread_local bool quiet_checks = false;

[[noreturn]] void fail(ErrorNumbers code, const std::string& detail) {
    VersionError error(code, detail);
    if (!quiet_checks) {
        library_logger()->error("{}", error.what());
    }
    throw error;
}

}  // namespace

std::optional<Version> Version::try_parse(std::string_view text) {
    Matcher matcher(text);
    if (!matcher.match()) {
        return std::nullopt;
    }
    const Captures& caps = matcher.captures();
    auto slice = [text](const Span& s) { return text.substr(s.begin, s.end - s.begin); };
    // A number that is optional in the pattern ("1.0rc" is rc0): 0 when absent.
    auto number_or_zero = [&](const Span& s) -> std::optional<std::string> {
        return s.present ? to_number(slice(s)) : std::optional<std::string>("0");
    };

    Version version;
    if (caps.epoch.present) {
        auto epoch = to_number(slice(caps.epoch));
        if (!epoch) {
            return std::nullopt;
        }
        version.epoch_ = std::move(*epoch);
    }
    const std::string_view release = slice(caps.release);
    std::size_t start = 0;
    while (start < release.size()) {
        std::size_t end = release.find('.', start);
        if (end == std::string_view::npos) {
            end = release.size();
        }
        auto component = to_number(release.substr(start, end - start));
        if (!component) {
            return std::nullopt;
        }
        version.release_.push_back(std::move(*component));
        start = end + 1;
    }
    if (caps.pre_letter.present) {
        const std::string_view letter = slice(caps.pre_letter);
        const char first = to_lower_ascii(letter.front());
        // alpha -> a, beta -> b, c / rc / pre / preview -> rc (stored as 'c', which sorts after 'b' as
        // "rc" does in packaging).
        version.pre_kind_ = (first == 'a' || first == 'b') ? first : 'c';
        auto number = number_or_zero(caps.pre_number);
        if (!number) {
            return std::nullopt;
        }
        version.pre_number_ = std::move(*number);
    }
    if (caps.post_number_dash.present || caps.post_letter.present) {
        auto number =
            number_or_zero(caps.post_number_dash.present ? caps.post_number_dash : caps.post_number);
        if (!number) {
            return std::nullopt;
        }
        version.post_ = std::move(number);
    }
    if (caps.dev_letter.present) {
        auto number = number_or_zero(caps.dev_number);
        if (!number) {
            return std::nullopt;
        }
        version.dev_ = std::move(number);
    }
    if (caps.local.present) {
        auto local = normalise_local(slice(caps.local));
        if (!local) {
            return std::nullopt;
        }
        version.local_ = std::move(*local);
    }
    return version;
}

Version Version::parse(std::string_view text) {
    auto version = try_parse(text);
    if (!version) {
        throw InvalidVersionError(ErrorNumbers::FB625,
                                  "invalid version string " + quote(text) + " (not a PEP 440 version)");
    }
    return std::move(*version);
}

std::string_view Version::release_component(std::size_t index) const noexcept {
    return index < release_.size() ? std::string_view(release_[index]) : std::string_view("0");
}

std::uint64_t Version::major() const noexcept {
    return saturated(release_component(0));
}

std::uint64_t Version::minor() const noexcept {
    return saturated(release_component(1));
}

std::uint64_t Version::micro() const noexcept {
    return saturated(release_component(2));
}

std::string Version::str() const {
    std::string out;
    if (epoch_ != "0") {
        out += epoch_;
        out += '!';
    }
    for (std::size_t i = 0; i < release_.size(); ++i) {
        if (i > 0) {
            out += '.';
        }
        out += release_[i];
    }
    if (pre_kind_ != 0) {
        out += pre_kind_ == 'c' ? "rc" : std::string(1, pre_kind_);
        out += pre_number_;
    }
    if (post_) {
        out += ".post" + *post_;
    }
    if (dev_) {
        out += ".dev" + *dev_;
    }
    if (!local_.empty()) {
        out += '+';
        out += local_;
    }
    return out;
}

int Version::compare(const Version& other) const noexcept {
    // packaging's _cmpkey, field by field: (epoch, release without trailing zeros, pre, post, dev, local).
    if (const int order = compare_numbers(epoch_, other.epoch_); order != 0) {
        return order;
    }
    // Comparing the releases padded with zeros is the same as comparing them with trailing zeros cut.
    const std::size_t length = std::max(release_.size(), other.release_.size());
    for (std::size_t i = 0; i < length; ++i) {
        if (const int order = compare_numbers(release_component(i), other.release_component(i)); order != 0) {
            return order;
        }
    }
    // Pre: a dev release of a final version ("1.0.dev0") sorts before every pre-release (-infinity); a
    // version without pre-release sorts after all of its pre-releases (+infinity).
    auto pre_rank = [](const Version& v) {
        if (v.pre_kind_ == 0) {
            return (!v.post_ && v.dev_) ? 0 : 2;
        }
        return 1;
    };
    if (const int order = three_way(pre_rank(*this), pre_rank(other)); order != 0) {
        return order;
    }
    if (pre_kind_ != 0) {
        if (const int order = three_way(pre_kind_, other.pre_kind_); order != 0) {
            return order;
        }
        if (const int order = compare_numbers(pre_number_, other.pre_number_); order != 0) {
            return order;
        }
    }
    // Post: absent is -infinity.
    if (post_.has_value() != other.post_.has_value()) {
        return post_ ? 1 : -1;
    }
    if (post_) {
        if (const int order = compare_numbers(*post_, *other.post_); order != 0) {
            return order;
        }
    }
    // Dev: absent is +infinity.
    if (dev_.has_value() != other.dev_.has_value()) {
        return dev_ ? -1 : 1;
    }
    if (dev_) {
        if (const int order = compare_numbers(*dev_, *other.dev_); order != 0) {
            return order;
        }
    }
    // Local: absent is -infinity.
    if (local_.empty() != other.local_.empty()) {
        return local_.empty() ? -1 : 1;
    }
    return compare_local(local_, other.local_);
}

VersionCheck check_protocol_version(const Json* their, std::string_view our) {
    // Same order as the reference: parse a string "their", then "our", then reject a wrong type.
    std::optional<Version> their_version;
    if (their == nullptr) {
        their_version = Version::parse("0");
    } else if (their->is_string()) {
        their_version = Version::parse(their->get_ref<const std::string&>());
    }
    const Version our_version = Version::parse(our);
    if (!their_version) {
        fail(ErrorNumbers::FB625, std::string("Component version has incorrect type `their_version` type=") +
                                      their->type_name() + " value=" + dump_for_message(*their));
    }
    if (*their_version == our_version) {
        return VersionCheck{};
    }
    // Exact comparisons of the components, whatever their size (Python compares unbounded integers).
    auto component = [&](std::size_t index) {
        return compare_numbers(our_version.release_component(index), their_version->release_component(index));
    };
    const int major = component(0);
    const int minor = component(1);
    const bool incompatible = major != 0 || minor < 0 || (minor == 0 && component(2) < 0);
    if (incompatible) {
        fail(ErrorNumbers::FB104, "Received message with protocol version " + their_version->str() +
                                      " which is incompatible with the current protocol version " +
                                      our_version.str() + std::string(kSeeVersionsPage));
    }
    VersionCheck check;
    check.verdict = VersionVerdict::warn;
    check.warning = "Found version " + their_version->str() + ", expected version " + our_version.str() +
                    std::string(kSeeVersionsPage);
    if (!quiet_checks) {
        library_logger()->warn("{}", check.warning);
    }
    return check;
}

VersionCheck check_message_version(const Json& msg, std::string_view our) {
    if (!msg.is_object()) {
        fail(ErrorNumbers::FB625,
             std::string("cannot read `protocol_version`: the message is not a JSON object "
                         "(type=") +
                 msg.type_name() + ")");
    }
    const auto found = msg.find("protocol_version");
    return check_protocol_version(found == msg.end() ? nullptr : &found.value(), our);
}

namespace detail {

QuietVersionChecks::QuietVersionChecks() noexcept : previous_(quiet_checks) {
    quiet_checks = true;
}

QuietVersionChecks::~QuietVersionChecks() {
    quiet_checks = previous_;
}

}  // namespace detail

}  // namespace fedbiomed

// The wire codec. A hand-written decoder and encoder rather than nlohmann's parse()/dump(): the reference
// dialect has bare NaN / Infinity tokens that nlohmann cannot read, and Python's json.dumps output (", "
// separators, repr() floats, ASCII escapes) is not what dump() writes. Both directions are iterative, with
// an explicit stack, so a hostile payload cannot overflow the call stack whatever the depth limit, and
// both are linear in the size of their input.
#include "fedbiomed/json.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "json_type.hpp"

namespace fedbiomed {
namespace {

/// Subtype of the nlohmann binary value that stands for an ErrorNumbers member ("FB").
constexpr std::uint64_t kErrorNumberSubtype = 0xFB;

constexpr std::array<std::string_view, 7> kMetricNames{{
    "ACCURACY",
    "F1_SCORE",
    "PRECISION",
    "RECALL",
    "MEAN_SQUARE_ERROR",
    "MEAN_ABSOLUTE_ERROR",
    "EXPLAINED_VARIANCE",
}};

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

/// Objects with at least this many members get a hash index for duplicate-key detection; smaller ones are
/// scanned linearly (cheaper for the typical message of a dozen members, and never quadratic because the
/// scan is bounded).
constexpr std::size_t kIndexThreshold = 16;

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

unsigned char byte_at(const char* p) noexcept {
    return static_cast<unsigned char>(*p);
}

/// Appends a code point as UTF-8. Surrogate code points (only ever unpaired ones, from \udXXX escapes the
/// reference keeps) get the generalized 3-byte form (WTF-8), which the encoder turns back into the escape.
void append_code_point(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        const char bytes[2] = {static_cast<char>(0xC0U | (cp >> 6)), static_cast<char>(0x80U | (cp & 0x3FU))};
        out.append(bytes, 2);
    } else if (cp < 0x10000) {
        const char bytes[3] = {static_cast<char>(0xE0U | (cp >> 12)),
                               static_cast<char>(0x80U | ((cp >> 6) & 0x3FU)),
                               static_cast<char>(0x80U | (cp & 0x3FU))};
        out.append(bytes, 3);
    } else {
        const char bytes[4] = {
            static_cast<char>(0xF0U | (cp >> 18)), static_cast<char>(0x80U | ((cp >> 12) & 0x3FU)),
            static_cast<char>(0x80U | ((cp >> 6) & 0x3FU)), static_cast<char>(0x80U | (cp & 0x3FU))};
        out.append(bytes, 4);
    }
}

/// Decodes one multi-byte UTF-8 sequence starting at @p p (whose first byte is >= 0x80).
/// @return its length (2..4) and stores the code point, or 0 when the sequence is invalid: a bad lead byte,
///         a truncated or bad continuation, an overlong form, a code point above U+10FFFF, or (unless
///         @p allow_surrogates) a UTF-16 surrogate.
std::size_t decode_utf8(const char* p, const char* end, bool allow_surrogates, std::uint32_t& cp) noexcept {
    const unsigned char lead = byte_at(p);
    const auto avail = static_cast<std::size_t>(end - p);
    auto cont = [&](std::size_t i) -> bool { return i < avail && (byte_at(p + i) & 0xC0U) == 0x80U; };
    if (lead >= 0xC2 && lead <= 0xDF) {
        if (!cont(1)) {
            return 0;
        }
        cp = ((lead & 0x1FU) << 6) | (byte_at(p + 1) & 0x3FU);
        return 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF) {
        if (!cont(1) || !cont(2)) {
            return 0;
        }
        const unsigned char second = byte_at(p + 1);
        if (lead == 0xE0 && second < 0xA0) {
            return 0;  // overlong
        }
        if (lead == 0xED && second >= 0xA0 && !allow_surrogates) {
            return 0;  // U+D800..U+DFFF
        }
        cp = ((lead & 0x0FU) << 12) | ((second & 0x3FU) << 6) | (byte_at(p + 2) & 0x3FU);
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        if (!cont(1) || !cont(2) || !cont(3)) {
            return 0;
        }
        const unsigned char second = byte_at(p + 1);
        if ((lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second >= 0x90)) {
            return 0;  // overlong, or above U+10FFFF
        }
        cp = ((lead & 0x07U) << 18) | ((second & 0x3FU) << 12) | ((byte_at(p + 2) & 0x3FU) << 6) |
             (byte_at(p + 3) & 0x3FU);
        return 4;
    }
    return 0;  // continuation byte as lead, C0/C1 overlong leads, F5..FF
}

/// True for bytes a string can hold verbatim in the decoder's fast path: printable ASCII and DEL, minus
/// the quote and the backslash.
constexpr std::array<bool, 256> make_plain_table() {
    std::array<bool, 256> table{};
    for (std::size_t c = 0x20; c < 0x80; ++c) {
        table[c] = c != '"' && c != '\\';
    }
    return table;
}
constexpr std::array<bool, 256> kPlainByte = make_plain_table();

// Eight bytes at a time for the long plain runs of strings (a forwarded log record, a description): a
// word-wide test says whether any of eight bytes needs attention, and only such words are looked at byte
// by byte. The tests never miss a byte that needs attention (they may flag a byte after a flagged one,
// which only sends that word to the byte loop).
constexpr std::uint64_t kLowBits = 0x0101010101010101ULL;
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

std::uint64_t load_word(const char* p) noexcept {
    std::uint64_t word = 0;
    std::memcpy(&word, p, sizeof word);
    return word;
}

// High bit set in bytes that are zero (and possibly in bytes after one).
constexpr std::uint64_t zero_bytes(std::uint64_t word) noexcept {
    return (word - kLowBits) & ~word & kHighBits;
}

// High bit set in bytes below 0x20 (a control character), or at or above 0x80 (the high bit itself).
constexpr std::uint64_t control_or_high_bytes(std::uint64_t word) noexcept {
    return ((word - kLowBits * 0x20U) & ~word & kHighBits) | (word & kHighBits);
}

// True when one of the eight bytes is not plain for the decoder: '"', '\\', a control byte or >= 0x80.
constexpr bool decoder_stops(std::uint64_t word) noexcept {
    return (control_or_high_bytes(word) | zero_bytes(word ^ (kLowBits * '"')) |
            zero_bytes(word ^ (kLowBits * '\\'))) != 0;
}

// True when one of the eight bytes is not copied verbatim by the encoder: the decoder's stops, and DEL.
constexpr bool encoder_stops(std::uint64_t word) noexcept {
    return decoder_stops(word) || zero_bytes(word ^ (kLowBits * 0x7FU)) != 0;
}

// Each byte value alone in a word of 'a's: the word tests agree with the byte tables.
constexpr bool word_tests_agree() {
    for (std::uint64_t value = 0; value < 256; ++value) {
        for (unsigned position = 0; position < 8; ++position) {
            const std::uint64_t word =
                (kLowBits * 'a' & ~(std::uint64_t{0xFF} << (8 * position))) | (value << (8 * position));
            const bool plain_for_decoder = value >= 0x20 && value < 0x80 && value != '"' && value != '\\';
            const bool plain_for_encoder = plain_for_decoder && value != 0x7F;
            if (decoder_stops(word) == plain_for_decoder || encoder_stops(word) == plain_for_encoder) {
                return false;
            }
        }
    }
    return !decoder_stops(kLowBits * 'a') && !encoder_stops(kLowBits * ' ');
}
static_assert(word_tests_agree(), "the eight-byte tests must flag exactly the bytes the byte tables stop at");

// ---------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------

[[noreturn]] void throw_decode(const std::string& detail) {
    throw DecodeError(ErrorNumbers::FB601, detail);
}

class Parser {
public:
    /// @p payload is the whole payload, so error offsets count from its first byte (a skipped BOM too);
    /// parsing starts at @p start.
    Parser(std::string_view payload, std::size_t start, std::size_t max_depth)
        : begin_(payload.data()),
          p_(payload.data() + start),
          end_(payload.data() + payload.size()),
          max_depth_(max_depth) {}

    Json parse_document();

private:
    struct Frame {
        Json value;       // the array or object being built
        std::string key;  // the member name waiting for its value (objects)
        // key -> position in value, built once an object is large (see kIndexThreshold)
        std::unique_ptr<std::unordered_map<std::string, std::size_t>> index;
        bool is_object = false;
    };

    [[noreturn]] void fail_at(const char* where, const char* what) const {
        throw_decode(std::string("invalid JSON payload: ") + what + " at byte " +
                     std::to_string(static_cast<std::size_t>(where - begin_)));
    }
    [[noreturn]] void fail(const char* what) const { fail_at(p_, what); }

    void skip_ws() noexcept {
        while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
            ++p_;
        }
    }

    void open_container(bool is_object);
    void read_key(Frame& frame);
    void add_member(Frame& frame, Json&& value);
    Json parse_scalar();
    Json parse_number();
    void expect_literal(std::string_view literal);
    void parse_string(std::string& out);
    void parse_escape(std::string& out, const char* string_start);
    std::uint32_t read_hex4(const char* at) const;

    const char* const begin_;
    const char* p_;
    const char* const end_;
    const std::size_t max_depth_;
    std::vector<Frame> stack_;
};

Json Parser::parse_document() {
    Json value;
    for (;;) {
        // Read one value; an opened container instead continues the loop with its first element.
        skip_ws();
        if (p_ == end_) {
            fail("expecting value");
        }
        const char c = *p_;
        if (c == '{' || c == '[') {
            const bool is_object = c == '{';
            open_container(is_object);
            skip_ws();
            if (p_ == end_ || *p_ != (is_object ? '}' : ']')) {
                if (is_object) {
                    read_key(stack_.back());
                }
                continue;
            }
            ++p_;
            value = std::move(stack_.back().value);
            stack_.pop_back();
        } else {
            value = parse_scalar();
        }
        // Hand the finished value to its parent, closing every container that ends right after it.
        for (;;) {
            if (stack_.empty()) {
                skip_ws();
                if (p_ != end_) {
                    fail("extra data");
                }
                return value;
            }
            Frame& top = stack_.back();
            if (top.is_object) {
                add_member(top, std::move(value));
            } else {
                top.value.get_ref<Json::array_t&>().push_back(std::move(value));
            }
            skip_ws();
            const char close = top.is_object ? '}' : ']';
            if (p_ != end_ && *p_ == ',') {
                ++p_;
                if (top.is_object) {
                    read_key(top);
                }
                break;
            }
            if (p_ != end_ && *p_ == close) {
                ++p_;
                value = std::move(top.value);
                stack_.pop_back();
                continue;
            }
            fail(top.is_object ? "expecting ',' or '}'" : "expecting ',' or ']'");
        }
    }
}

void Parser::open_container(bool is_object) {
    if (stack_.size() >= max_depth_) {
        throw_decode("invalid JSON payload: nesting deeper than " + std::to_string(max_depth_) +
                     " levels at byte " + std::to_string(static_cast<std::size_t>(p_ - begin_)));
    }
    ++p_;
    Frame frame;
    frame.value = is_object ? Json::object() : Json::array();
    frame.is_object = is_object;
    stack_.push_back(std::move(frame));
}

void Parser::read_key(Frame& frame) {
    skip_ws();
    if (p_ == end_ || *p_ != '"') {
        fail("expecting property name enclosed in double quotes");
    }
    frame.key.clear();
    parse_string(frame.key);
    skip_ws();
    if (p_ == end_ || *p_ != ':') {
        fail("expecting ':'");
    }
    ++p_;
}

void Parser::add_member(Frame& frame, Json&& value) {
    // Python's dict: a repeated key keeps its first position and takes the last value.
    auto& members = static_cast<Json::object_t::Container&>(frame.value.get_ref<Json::object_t&>());
    if (frame.index) {
        const auto found = frame.index->find(frame.key);
        if (found != frame.index->end()) {
            members[found->second].second = std::move(value);
            return;
        }
        frame.index->emplace(frame.key, members.size());
    } else {
        for (auto& member : members) {
            if (member.first == frame.key) {
                member.second = std::move(value);
                return;
            }
        }
        if (members.size() + 1 >= kIndexThreshold) {
            frame.index = std::make_unique<std::unordered_map<std::string, std::size_t>>();
            frame.index->reserve(2 * kIndexThreshold);
            for (std::size_t i = 0; i < members.size(); ++i) {
                frame.index->emplace(members[i].first, i);
            }
            frame.index->emplace(frame.key, members.size());
        }
    }
    members.emplace_back(std::move(frame.key), std::move(value));
    frame.key.clear();
}

Json Parser::parse_scalar() {
    switch (*p_) {
    case '"': {
        std::string text;
        parse_string(text);
        return Json(std::move(text));
    }
    case 'n': expect_literal("null"); return Json(nullptr);
    case 't': expect_literal("true"); return Json(true);
    case 'f': expect_literal("false"); return Json(false);
    case 'N': expect_literal("NaN"); return Json(std::numeric_limits<double>::quiet_NaN());
    case 'I': expect_literal("Infinity"); return Json(std::numeric_limits<double>::infinity());
    case '-':
        if (static_cast<std::size_t>(end_ - p_) > 1 && p_[1] == 'I') {
            expect_literal("-Infinity");
            return Json(-std::numeric_limits<double>::infinity());
        }
        return parse_number();
    default:
        if (is_digit(*p_)) {
            return parse_number();
        }
        fail("expecting value");
    }
}

void Parser::expect_literal(std::string_view literal) {
    if (static_cast<std::size_t>(end_ - p_) < literal.size() ||
        std::memcmp(p_, literal.data(), literal.size()) != 0) {
        fail("expecting value");
    }
    p_ += literal.size();
}

Json Parser::parse_number() {
    // Grammar of Python's NUMBER_RE: -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)? ; what does not fit ends the
    // token and is left for the caller to reject ("1." -> expecting ',').
    const char* const start = p_;
    const bool negative = *p_ == '-';
    if (negative) {
        ++p_;
    }
    if (p_ == end_ || !is_digit(*p_)) {
        fail_at(start, "expecting value");
    }
    const char* const int_start = p_;
    if (*p_ == '0') {
        ++p_;
    } else {
        while (p_ != end_ && is_digit(*p_)) {
            ++p_;
        }
    }
    const char* const int_end = p_;
    bool is_float = false;
    if (end_ - p_ >= 2 && *p_ == '.' && is_digit(p_[1])) {
        p_ += 2;
        while (p_ != end_ && is_digit(*p_)) {
            ++p_;
        }
        is_float = true;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
        const char* q = p_ + 1;
        if (q != end_ && (*q == '+' || *q == '-')) {
            ++q;
        }
        if (q != end_ && is_digit(*q)) {
            p_ = q;
            while (p_ != end_ && is_digit(*p_)) {
                ++p_;
            }
            is_float = true;
        }
    }

    if (!is_float) {
        constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
        std::uint64_t magnitude = 0;
        for (const char* d = int_start; d != int_end; ++d) {
            const auto digit = static_cast<std::uint64_t>(*d - '0');
            if (magnitude > (kMax - digit) / 10) {
                fail_at(start, "integer out of the 64-bit range");
            }
            magnitude = magnitude * 10 + digit;
        }
        if (!negative) {
            return Json(magnitude);
        }
        constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;  // |INT64_MIN|
        if (magnitude > kMinMagnitude) {
            fail_at(start, "integer out of the 64-bit range");
        }
        if (magnitude == kMinMagnitude) {
            return Json(std::numeric_limits<std::int64_t>::min());
        }
        return Json(-static_cast<std::int64_t>(magnitude));
    }

    double number = 0.0;
    const auto result = std::from_chars(start, p_, number, std::chars_format::general);
    if (result.ec == std::errc::result_out_of_range) {
        // Python rounds like strtod: too large -> infinity, too small -> zero. The decimal exponent of the
        // leading significant digit tells which side of the range the literal fell off.
        long long exponent = 0;
        const char* e = int_end;
        while (e != p_ && *e != 'e' && *e != 'E') {
            ++e;
        }
        if (e != p_) {
            const char* d = e + 1;
            const bool negative_exponent = *d == '-';
            if (*d == '+' || *d == '-') {
                ++d;
            }
            for (; d != p_; ++d) {
                exponent = std::min(exponent * 10 + (*d - '0'), 1000000000LL);  // saturate, sign is all
            }
            if (negative_exponent) {
                exponent = -exponent;
            }
        }
        long long lead = 0;
        const char* first_nonzero = int_start;
        while (first_nonzero != int_end && *first_nonzero == '0') {
            ++first_nonzero;
        }
        if (first_nonzero != int_end) {
            lead = static_cast<long long>(int_end - first_nonzero) - 1;
        } else {
            const char* f = int_end + 1;  // the fraction (from_chars only fails on a non-zero value)
            while (f < e && *f == '0') {
                ++f;
            }
            lead = -static_cast<long long>(f - int_end);
        }
        const double magnitude = exponent + lead > 0 ? std::numeric_limits<double>::infinity() : 0.0;
        number = negative ? -magnitude : magnitude;
    } else if (result.ec != std::errc() || result.ptr != p_) {
        fail_at(start, "invalid number");  // unreachable for a token matching the grammar above
    }
    return Json(number);
}

std::uint32_t Parser::read_hex4(const char* at) const {
    // @p at points at the 'u' of an escape.
    if (end_ - at < 5) {
        fail_at(at - 1, "invalid \\uXXXX escape");
    }
    std::uint32_t value = 0;
    for (int i = 1; i <= 4; ++i) {
        const int digit = hex_value(at[i]);
        if (digit < 0) {
            fail_at(at - 1, "invalid \\uXXXX escape");
        }
        value = (value << 4) | static_cast<std::uint32_t>(digit);
    }
    return value;
}

void Parser::parse_escape(std::string& out, const char* string_start) {
    // p_ is at the backslash.
    if (end_ - p_ < 2) {
        fail_at(string_start, "unterminated string");
    }
    const char kind = p_[1];
    char plain = 0;
    switch (kind) {
    case '"': plain = '"'; break;
    case '\\': plain = '\\'; break;
    case '/': plain = '/'; break;
    case 'b': plain = '\b'; break;
    case 'f': plain = '\f'; break;
    case 'n': plain = '\n'; break;
    case 'r': plain = '\r'; break;
    case 't': plain = '\t'; break;
    case 'u': {
        std::uint32_t cp = read_hex4(p_ + 1);
        p_ += 6;
        // A high surrogate directly followed by an escaped low surrogate is one character; any other
        // surrogate stays alone, as Python keeps it.
        if (cp >= 0xD800 && cp <= 0xDBFF && end_ - p_ >= 2 && p_[0] == '\\' && p_[1] == 'u') {
            const std::uint32_t low = read_hex4(p_ + 1);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p_ += 6;
            }
        }
        append_code_point(out, cp);
        return;
    }
    default: fail("invalid \\escape");
    }
    out.push_back(plain);
    p_ += 2;
}

void Parser::parse_string(std::string& out) {
    // p_ is at the opening quote.
    const char* const string_start = p_;
    ++p_;
    for (;;) {
        const char* run = p_;
        while (end_ - p_ >= 8 && !decoder_stops(load_word(p_))) {
            p_ += 8;
        }
        while (p_ != end_ && kPlainByte[byte_at(p_)]) {
            ++p_;
        }
        out.append(run, static_cast<std::size_t>(p_ - run));
        if (p_ == end_) {
            fail_at(string_start, "unterminated string starting");
        }
        const unsigned char c = byte_at(p_);
        if (c == '"') {
            ++p_;
            return;
        }
        if (c == '\\') {
            parse_escape(out, string_start);
        } else if (c < 0x20) {
            fail("invalid control character in string");
        } else {
            std::uint32_t cp = 0;
            const std::size_t length = decode_utf8(p_, end_, false, cp);
            if (length == 0) {
                fail("invalid UTF-8");
            }
            out.append(p_, length);
            p_ += length;
        }
    }
}

/// Python truthiness of a decoded value (an enum member is truthy).
bool is_truthy(const Json& value) noexcept {
    switch (value.type()) {
    case Json::value_t::null:
    case Json::value_t::discarded: return false;
    case Json::value_t::boolean: return value.get_ref<const Json::boolean_t&>();
    case Json::value_t::number_integer: return value.get_ref<const Json::number_integer_t&>() != 0;
    case Json::value_t::number_unsigned: return value.get_ref<const Json::number_unsigned_t&>() != 0;
    case Json::value_t::number_float:
        return value.get_ref<const Json::number_float_t&>() != 0.0;  // NaN is truthy, as in Python
    case Json::value_t::string: return !value.get_ref<const Json::string_t&>().empty();
    case Json::value_t::array:
    case Json::value_t::object: return !value.empty();
    case Json::value_t::binary: return true;
    }
    return true;
}

}  // namespace

namespace {

struct JsonTypeNames {
    const char* name;
    const char* word;
};

JsonTypeNames json_type_names(const Json& value) noexcept {
    switch (value.type()) {
    case Json::value_t::null: return {"null", "null"};
    case Json::value_t::boolean: return {"boolean", "a boolean"};
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return {"integer", "an integer"};
    case Json::value_t::number_float: return {"float", "a float"};
    case Json::value_t::string: return {"string", "a string"};
    case Json::value_t::array: return {"array", "an array"};
    case Json::value_t::object: return {"object", "an object"};
    case Json::value_t::binary: return {"binary", "a binary value"};
    case Json::value_t::discarded: break;
    }
    return {"discarded", "a discarded value"};
}

}  // namespace

const char* detail::json_type_name(const Json& value) noexcept {
    return json_type_names(value).name;
}

const char* detail::json_type_word(const Json& value) noexcept {
    return json_type_names(value).word;
}

namespace {

/// The reference's deserialize_msg rewrites, including the ways they fail on a non-object top level.
void apply_decode_rewrites(Json& msg) {
    if (msg.is_string()) {
        // `"errnum" in text` is a substring test in Python, and `text["errnum"]` then raises.
        const auto& text = msg.get_ref<const std::string&>();
        if (text.find("errnum") != std::string::npos || text.find("training_args") != std::string::npos) {
            throw_decode("a top-level string mentioning errnum or training_args (the reference fails on it)");
        }
        return;
    }
    if (msg.is_array()) {
        // `"errnum" in list` compares elements, and `list["errnum"]` then raises.
        for (const auto& element : msg) {
            if (element.is_string() && (element.get_ref<const std::string&>() == "errnum" ||
                                        element.get_ref<const std::string&>() == "training_args")) {
                throw_decode(
                    "a top-level array holding the string errnum or training_args (the reference "
                    "fails on it)");
            }
        }
        return;
    }
    if (!msg.is_object()) {
        throw_decode(std::string("the payload is ") + detail::json_type_word(msg) +
                     ", not an object (the reference fails on it)");
    }
    auto& members = msg.get_ref<Json::object_t&>();
    const auto errnum = members.find("errnum");
    if (errnum != members.end()) {
        std::optional<ErrorNumbers> code;
        if (errnum->second.is_string()) {
            code = error_from_text(errnum->second.get_ref<const std::string&>());
        }
        to_json(errnum->second, code.value_or(ErrorNumbers::FB999));
    }
    const auto training_args = members.find("training_args");
    if (training_args != members.end()) {
        if (!training_args->second.is_object()) {
            throw_decode(std::string("training_args is ") + detail::json_type_word(training_args->second) +
                         ", not an object");
        }
        auto& args = training_args->second.get_ref<Json::object_t&>();
        const auto metric = args.find("test_metric");
        if (metric != args.end() && is_truthy(metric->second)) {
            const bool known =
                metric->second.is_string() && metric_from_name(metric->second.get_ref<const std::string&>());
            if (!known) {
                metric->second = nullptr;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------

[[noreturn]] void throw_encode(const std::string& detail) {
    throw MessageError(ErrorNumbers::FB601, detail);
}

constexpr char kHexDigits[] = "0123456789abcdef";

/// For each ASCII byte: 0 when json.dumps(ensure_ascii=True) copies it, the letter of its short escape,
/// or 'u' for a \u00XX escape. Bytes >= 0x80 are handled as UTF-8 sequences.
constexpr std::array<char, 128> make_escape_table() {
    std::array<char, 128> table{};
    for (std::size_t c = 0; c < 0x20; ++c) {
        table[c] = 'u';
    }
    table[0x7F] = 'u';
    table['"'] = '"';
    table['\\'] = '\\';
    table['\n'] = 'n';
    table['\r'] = 'r';
    table['\t'] = 't';
    table['\b'] = 'b';
    table['\f'] = 'f';
    return table;
}
constexpr std::array<char, 128> kEscape = make_escape_table();

class Writer {
public:
    Writer() { out_.reserve(512); }

    std::string take() { return std::move(out_); }

    void write_document(const Json& root);

private:
    struct Frame {
        const Json* node;
        std::size_t next;  // index of the child being written
    };

    void write_u_escape(std::uint32_t unit) {
        const char bytes[6] = {'\\',
                               'u',
                               kHexDigits[(unit >> 12) & 0xF],
                               kHexDigits[(unit >> 8) & 0xF],
                               kHexDigits[(unit >> 4) & 0xF],
                               kHexDigits[unit & 0xF]};
        out_.append(bytes, 6);
    }

    void write_string(std::string_view text);
    void write_float(double value);
    /// Writes a scalar, or opens a non-empty container (pushes it and returns true).
    bool write_or_open(const Json& value, std::vector<Frame>& stack);
    void write_key(const Json::object_t& members, std::size_t index) {
        write_string(static_cast<const Json::object_t::Container&>(members)[index].first);
        out_.append(": ", 2);
    }

    std::string out_;
};

void Writer::write_document(const Json& root) {
    std::vector<Frame> stack;
    if (!write_or_open(root, stack)) {
        return;
    }
    while (!stack.empty()) {
        Frame& frame = stack.back();
        const Json* child = nullptr;
        if (frame.node->is_object()) {
            const auto& members = frame.node->get_ref<const Json::object_t&>();
            if (frame.next < members.size()) {
                if (frame.next != 0) {
                    out_.append(", ", 2);
                }
                write_key(members, frame.next);
                child = &static_cast<const Json::object_t::Container&>(members)[frame.next].second;
            } else {
                out_.push_back('}');
            }
        } else {
            const auto& elements = frame.node->get_ref<const Json::array_t&>();
            if (frame.next < elements.size()) {
                if (frame.next != 0) {
                    out_.append(", ", 2);
                }
                child = &elements[frame.next];
            } else {
                out_.push_back(']');
            }
        }
        if (child == nullptr) {
            stack.pop_back();
            continue;
        }
        ++frame.next;
        write_or_open(*child, stack);  // may invalidate `frame`
    }
}

bool Writer::write_or_open(const Json& value, std::vector<Frame>& stack) {
    switch (value.type()) {
    case Json::value_t::null: out_.append("null", 4); return false;
    case Json::value_t::boolean:
        if (value.get_ref<const Json::boolean_t&>()) {
            out_.append("true", 4);
        } else {
            out_.append("false", 5);
        }
        return false;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: {
        char buffer[24];
        const auto result = value.is_number_unsigned()
                                ? std::to_chars(buffer, buffer + sizeof buffer,
                                                value.get_ref<const Json::number_unsigned_t&>())
                                : std::to_chars(buffer, buffer + sizeof buffer,
                                                value.get_ref<const Json::number_integer_t&>());
        out_.append(buffer, static_cast<std::size_t>(result.ptr - buffer));
        return false;
    }
    case Json::value_t::number_float: write_float(value.get_ref<const Json::number_float_t&>()); return false;
    case Json::value_t::string: write_string(value.get_ref<const Json::string_t&>()); return false;
    case Json::value_t::binary:
        if (!is_error_number(value)) {
            throw_encode("cannot encode a binary value that is not an ErrorNumbers member");
        }
        write_string(error_text(value.get<ErrorNumbers>()));
        return false;
    case Json::value_t::array:
    case Json::value_t::object:
        if (value.empty()) {
            out_.append(value.is_object() ? "{}" : "[]", 2);
            return false;
        }
        out_.push_back(value.is_object() ? '{' : '[');
        stack.push_back(Frame{&value, 0});
        return true;
    case Json::value_t::discarded: break;
    }
    throw_encode("cannot encode a discarded JSON value");
}

void Writer::write_string(std::string_view text) {
    // A long string (a log record) is mostly copied as is: make room for it at once rather than growing
    // the output several times while it is appended.
    const std::size_t needed = out_.size() + text.size() + 2;
    if (needed > out_.capacity()) {
        out_.reserve(std::max(needed, 2 * out_.capacity()));
    }
    out_.push_back('"');
    const char* p = text.data();
    const char* const end = p + text.size();
    while (p != end) {
        const char* run = p;
        while (end - p >= 8 && !encoder_stops(load_word(p))) {
            p += 8;
        }
        while (p != end && byte_at(p) < 0x80 && kEscape[byte_at(p)] == 0) {
            ++p;
        }
        out_.append(run, static_cast<std::size_t>(p - run));
        if (p == end) {
            break;
        }
        const unsigned char c = byte_at(p);
        if (c < 0x80) {
            const char escape = kEscape[c];
            if (escape == 'u') {
                write_u_escape(c);
            } else {
                const char bytes[2] = {'\\', escape};
                out_.append(bytes, 2);
            }
            ++p;
            continue;
        }
        std::uint32_t cp = 0;
        // Surrogates are accepted here: they are how a decoded \udXXX escape is held (WTF-8).
        const std::size_t length = decode_utf8(p, end, true, cp);
        if (length == 0) {
            throw_encode("cannot encode a string that is not valid UTF-8 (byte " +
                         std::to_string(static_cast<std::size_t>(p - text.data())) + " of the string)");
        }
        if (cp >= 0x10000) {
            const std::uint32_t v = cp - 0x10000;
            write_u_escape(0xD800 + (v >> 10));
            write_u_escape(0xDC00 + (v & 0x3FF));
        } else {
            write_u_escape(cp);
        }
        p += length;
    }
    out_.push_back('"');
}

void Writer::write_float(double value) {
    if (std::isnan(value)) {
        out_.append("NaN", 3);
        return;
    }
    if (std::isinf(value)) {
        if (value > 0) {
            out_.append("Infinity", 8);
        } else {
            out_.append("-Infinity", 9);
        }
        return;
    }
    // Shortest round-trip digits in scientific form: "[-]d[.ddd]e(+|-)XX[X]". This is already Python's
    // repr() when repr() chooses scientific notation (decimal exponent < -4 or >= 16).
    char buffer[40];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
    const char* const end = result.ptr;
    const char* e = buffer;
    while (*e != 'e') {
        ++e;
    }
    int exponent = 0;
    std::from_chars(e + (e[1] == '+' ? 2 : 1), end, exponent);
    if (exponent < -4 || exponent >= 16) {
        out_.append(buffer, static_cast<std::size_t>(end - buffer));
        return;
    }
    const char* d = buffer;
    if (*d == '-') {
        out_.push_back('-');
        ++d;
    }
    char digits[24];
    std::size_t count = 0;
    for (; d != e; ++d) {
        if (*d != '.') {
            digits[count++] = *d;
        }
    }
    if (exponent >= 0) {
        const auto integer_digits = static_cast<std::size_t>(exponent) + 1;
        if (count <= integer_digits) {
            out_.append(digits, count);
            out_.append(integer_digits - count, '0');
            out_.append(".0", 2);
        } else {
            out_.append(digits, integer_digits);
            out_.push_back('.');
            out_.append(digits + integer_digits, count - integer_digits);
        }
    } else {
        out_.append("0.", 2);
        out_.append(static_cast<std::size_t>(-exponent - 1), '0');
        out_.append(digits, count);
    }
}

}  // namespace

std::string_view metric_name(MetricTypes metric) noexcept {
    const auto index = static_cast<std::size_t>(metric);
    return index < kMetricNames.size() ? kMetricNames[index] : std::string_view();
}

std::optional<MetricTypes> metric_from_name(std::string_view name) noexcept {
    for (std::size_t i = 0; i < kMetricNames.size(); ++i) {
        if (kMetricNames[i] == name) {
            return static_cast<MetricTypes>(i);
        }
    }
    return std::nullopt;
}

std::string serialize_msg(const Json& msg) {
    if (msg.is_object()) {
        const auto& members = msg.get_ref<const Json::object_t&>();
        const auto errnum = members.find("errnum");
        if (errnum != members.end() && !is_error_number(errnum->second)) {
            throw_encode(std::string("errnum must hold an ErrorNumbers member, not ") +
                         detail::json_type_word(errnum->second) +
                         " (use msg[\"errnum\"] = ErrorNumbers::FBxxx)");
        }
        const auto training_args = members.find("training_args");
        if (training_args != members.end() && !training_args->second.is_object()) {
            throw_encode(std::string("training_args is ") + detail::json_type_word(training_args->second) +
                         ", not an object");
        }
    }
    Writer writer;
    writer.write_document(msg);
    return writer.take();
}

Json deserialize_msg(std::string_view payload, const DecodeLimits& limits) {
    if (limits.max_bytes != 0 && payload.size() > limits.max_bytes) {
        throw_decode("payload of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                     std::to_string(limits.max_bytes) + " bytes");
    }
    // Python's json.loads(bytes) decodes with utf-8-sig when the payload starts with a UTF-8 BOM.
    const std::size_t start = payload.substr(0, kUtf8Bom.size()) == kUtf8Bom ? kUtf8Bom.size() : 0;
    Parser parser(payload, start, limits.max_depth);
    Json msg = parser.parse_document();
    apply_decode_rewrites(msg);
    return msg;
}

void to_json(Json& value, ErrorNumbers code) {
    const auto number = static_cast<std::uint16_t>(code);
    Json::binary_t::container_type bytes{static_cast<std::uint8_t>(number >> 8),
                                         static_cast<std::uint8_t>(number & 0xFFU)};
    value = Json::binary(std::move(bytes), kErrorNumberSubtype);
}

void from_json(const Json& value, ErrorNumbers& code) {
    if (is_error_number(value)) {
        const auto& bytes = value.get_binary();
        code = static_cast<ErrorNumbers>(static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]));
        return;
    }
    if (value.is_string()) {
        if (const auto found = error_from_text(value.get_ref<const std::string&>())) {
            code = *found;
            return;
        }
    }
    throw MessageError(ErrorNumbers::FB601,
                       std::string("not an ErrorNumbers member: ") + detail::json_type_word(value));
}

bool is_error_number(const Json& value) noexcept {
    if (!value.is_binary()) {
        return false;
    }
    const auto& bytes = value.get_binary();
    if (!bytes.has_subtype() || bytes.subtype() != kErrorNumberSubtype || bytes.size() != 2) {
        return false;
    }
    const auto number = static_cast<std::uint16_t>((bytes[0] << 8) | bytes[1]);
    const auto& all = all_error_numbers();
    return std::find(all.begin(), all.end(), static_cast<ErrorNumbers>(number)) != all.end();
}

}  // namespace fedbiomed

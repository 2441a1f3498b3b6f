// Unit tests of the wire codec (serialize_msg / deserialize_msg and the ErrorNumbers member). Expected
// texts come from Python 3.11's json.dumps / json.loads where the reference behaviour is meant.
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/json.hpp>

namespace {

using fedbiomed::DecodeError;
using fedbiomed::DecodeLimits;
using fedbiomed::deserialize_msg;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::MessageError;
using fedbiomed::MetricTypes;
using fedbiomed::serialize_msg;

/// The what() of the DecodeError thrown by deserialize_msg, or a failure when it does not throw one.
std::string decode_error(std::string_view payload, const DecodeLimits& limits = {}) {
    try {
        static_cast<void>(deserialize_msg(payload, limits));
        ADD_FAILURE() << "no error for payload of " << payload.size() << " bytes";
    } catch (const DecodeError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB601);
        return error.what();
    }
    return {};
}

/// The what() of the MessageError thrown by serialize_msg, or a failure when it does not throw one.
std::string encode_error(const Json& msg) {
    try {
        const std::string text = serialize_msg(msg);
        ADD_FAILURE() << "no error, produced " << text;
    } catch (const DecodeError& error) {
        ADD_FAILURE() << "encoding threw a DecodeError: " << error.what();
    } catch (const MessageError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB601);
        return error.what();
    }
    return {};
}

/// Decodes {"v": <literal>} and returns the value of v.
Json decode_value(const std::string& literal) {
    return deserialize_msg("{\"v\": " + literal + "}").at("v");
}

std::string encode_value(const Json& value) {
    Json msg = Json::object();
    msg["v"] = value;
    const std::string text = serialize_msg(msg);
    return text.substr(6, text.size() - 7);  // strip {"v":  and }
}

// ----- plain structure ---------------------------------------------------------------------------------

TEST(JsonCodec, SerializesWithPythonSeparatorsAndKeepsMemberOrder) {
    Json msg = Json::object();
    msg["protocol_version"] = "1";
    msg["researcher_id"] = "RES_1";
    msg["sequence"] = 7;
    msg["command"] = "ping";
    msg["z"] = Json::array({1, Json::object(), Json::array(), nullptr, true, false});
    EXPECT_EQ(
        serialize_msg(msg),
        "{\"protocol_version\": \"1\", \"researcher_id\": \"RES_1\", \"sequence\": 7, \"command\": \"ping\", "
        "\"z\": [1, {}, [], null, true, false]}");
}

TEST(JsonCodec, DecodesAndReencodesByteExact) {
    const std::string text =
        "{\"protocol_version\": \"1\", \"researcher_id\": \"RES_1\", \"node_id\": \"NODE_A\", \"success\": "
        "true, "
        "\"sequence\": 7, \"command\": \"pong\", \"nested\": {\"list\": [1, [2.5, [-3, {\"k\": null}]]]}}";
    const Json msg = deserialize_msg(text);
    ASSERT_TRUE(msg.is_object());
    EXPECT_EQ(msg.begin().key(), "protocol_version");
    EXPECT_EQ(serialize_msg(msg), text);
}

TEST(JsonCodec, RoundTripsAnInMemoryMessage) {
    Json msg = Json::object();
    msg["b"] = Json::array({1, -2, 3.25, "t\u00e9xt", Json::object({{"x", nullptr}})});
    msg["a"] = std::numeric_limits<std::uint64_t>::max();
    const Json back = deserialize_msg(serialize_msg(msg));
    EXPECT_EQ(back, msg);
    EXPECT_EQ(back.begin().key(), "b");
}

TEST(JsonCodec, AcceptsJsonWhitespaceOnly) {
    EXPECT_EQ(deserialize_msg(" \n\r\t{ \"a\" :\t1 , \"b\"\n:[ ] }\r\n "),
              Json({{"a", 1}, {"b", Json::array()}}));
    EXPECT_NE(decode_error("\f{}"), "");
    EXPECT_NE(decode_error("{}\v"), "");
    EXPECT_NE(decode_error("{\"a\":\xC2\xA0"
                           "1}"),
              "");  // no-break space is not whitespace
}

TEST(JsonCodec, DuplicateKeysKeepFirstPositionAndLastValue) {
    const Json msg = deserialize_msg("{\"a\": 1, \"b\": 2, \"a\": 3}");
    EXPECT_EQ(serialize_msg(msg), "{\"a\": 3, \"b\": 2}");

    // Past the size where the decoder switches to a hash index.
    std::string text = "{";
    for (int i = 0; i < 40; ++i) {
        text += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
    }
    text += "\"k3\": \"late\", \"k39\": \"last\", \"new\": 0}";
    const Json big = deserialize_msg(text);
    ASSERT_EQ(big.size(), 41U);
    EXPECT_EQ(big.at("k3"), "late");
    EXPECT_EQ(big.at("k39"), "last");
    auto it = big.begin();
    std::advance(it, 3);
    EXPECT_EQ(it.key(), "k3");
    EXPECT_EQ((--big.end()).key(), "new");
}

TEST(JsonCodec, ManyMembersDecodeCompletely) {
    std::string text = "{";
    for (int i = 0; i < 50000; ++i) {
        text += "\"member" + std::to_string(i) + "\": " + std::to_string(i) + ",";
    }
    text += "\"member0\": -1}";
    const Json msg = deserialize_msg(text);
    EXPECT_EQ(msg.size(), 50000U);
    EXPECT_EQ(msg.at("member0"), -1);
    EXPECT_EQ(msg.at("member49999"), 49999);
}

// ----- strings -------------------------------------------------------------------------------------------

TEST(JsonCodec, EncodesEveryEscapeLikePython) {
    std::string all_controls;
    for (int c = 0; c < 0x20; ++c) {
        all_controls.push_back(static_cast<char>(c));
    }
    EXPECT_EQ(encode_value(all_controls),
              "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
              "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c"
              "\\u001d\\u001e\\u001f\"");
    EXPECT_EQ(encode_value("\"\\/ ~\x7f"), "\"\\\"\\\\/ ~\\u007f\"");
    EXPECT_EQ(encode_value("\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF"), "\"\\u00e9\\u20ac\\uffff\"");
    EXPECT_EQ(encode_value("\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"), "\"\\ud83d\\ude00\\udbff\\udfff\"");
    EXPECT_EQ(encode_value(std::string("a\0b", 3)), "\"a\\u0000b\"");
    // Keys are escaped the same way.
    Json msg = Json::object();
    msg["caf\xC3\xA9\n"] = 1;
    EXPECT_EQ(serialize_msg(msg), "{\"caf\\u00e9\\n\": 1}");
}

TEST(JsonCodec, DecodesEveryEscape) {
    EXPECT_EQ(decode_value("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00E9\\u00e9\\u20AC\""),
              "\"\\/\b\f\n\r\t\x41\xC3\xA9\xC3\xA9\xE2\x82\xAC");
    EXPECT_EQ(decode_value("\"\\u0000\""), std::string("\0", 1));
    EXPECT_EQ(decode_value("\"\\ud83d\\ude00\""), "\xF0\x9F\x98\x80");
    EXPECT_EQ(decode_value("\"\\uDBFF\\uDFFF\""), "\xF4\x8F\xBF\xBF");
    EXPECT_EQ(decode_value("\"\xF0\x9F\x98\x80 \x7f\""), "\xF0\x9F\x98\x80 \x7f");
}

TEST(JsonCodec, RejectsBadEscapesAndRawControls) {
    EXPECT_NE(decode_error("{\"a\": \"\\x\"}").find("invalid \\escape at byte 7"), std::string::npos);
    EXPECT_NE(decode_error("{\"a\": \"\\u00\"}").find("invalid \\uXXXX escape at byte 7"), std::string::npos);
    EXPECT_NE(decode_error("{\"a\": \"\\u00g0\"}"), "");
    EXPECT_NE(decode_error("{\"a\": \"\\ud83d\\u12\"}"), "");
    EXPECT_NE(decode_error("{\"a\": \"\\U0041\"}"), "");
    EXPECT_NE(decode_error("{\"a\": \"\\"), "");
    EXPECT_NE(decode_error("{\"a\": \"raw\ttab\"}").find("invalid control character in string at byte 10"),
              std::string::npos);
    EXPECT_NE(decode_error(std::string("{\"a\": \"\0\"}", 10)), "");
    EXPECT_NE(decode_error("{\"a\": \"\n\"}"), "");
    EXPECT_NE(decode_error("{\"a\": \"open").find("unterminated string starting at byte 6"),
              std::string::npos);
    EXPECT_NE(decode_error("{\"a\": 'x'}"), "");
}

TEST(JsonCodec, UnpairedSurrogateEscapesSurviveARoundTrip) {
    // Python keeps a lone surrogate; it is held as its generalized 3-byte UTF-8 form (WTF-8) and written back
    // as the same escape.
    const Json lone_high = decode_value("\"\\ud800\"");
    EXPECT_EQ(lone_high, "\xED\xA0\x80");
    EXPECT_EQ(encode_value(lone_high), "\"\\ud800\"");

    const Json reversed = decode_value("\"\\udc00\\ud800x\"");
    EXPECT_EQ(reversed, "\xED\xB0\x80\xED\xA0\x80x");
    EXPECT_EQ(encode_value(reversed), "\"\\udc00\\ud800x\"");

    const Json high_then_other = decode_value("\"\\udbff\\u0041\\udfff\"");
    EXPECT_EQ(high_then_other,
              "\xED\xAF\xBF"
              "A"
              "\xED\xBF\xBF");
    EXPECT_EQ(encode_value(high_then_other), "\"\\udbffA\\udfff\"");

    const Json key = deserialize_msg("{\"\\udfff\": 1}");
    EXPECT_EQ(serialize_msg(key), "{\"\\udfff\": 1}");
}

TEST(JsonCodec, RejectsEveryKindOfInvalidUtf8WhenDecoding) {
    const std::vector<std::string> bad = {
        "\x80",              // continuation byte without a lead
        "\xBF",              // idem
        "\xC0\xAF",          // overlong '/'
        "\xC1\xBF",          // overlong
        "\xE0\x80\xAF",      // overlong 3-byte
        "\xE0\x9F\xBF",      // overlong 3-byte (U+07FF)
        "\xF0\x80\x80\xAF",  // overlong 4-byte
        "\xF0\x8F\xBF\xBF",  // overlong 4-byte (U+FFFF)
        "\xED\xA0\x80",      // encoded surrogate U+D800
        "\xED\xBF\xBF",      // encoded surrogate U+DFFF
        "\xF4\x90\x80\x80",  // U+110000
        "\xF5\x80\x80\x80",  // lead byte out of range
        "\xFF",              // never valid
        "\xC3",              // truncated before the closing quote
        "\xE2\x82",          // truncated
        "\xF0\x9F\x98",      // truncated
        "\xC3\x28",          // bad continuation
        "\xE2\x28\xA1",      // bad continuation
    };
    for (const std::string& sequence : bad) {
        const std::string payload = "{\"a\": \"x" + sequence + "\"}";
        const std::string what = decode_error(payload);
        EXPECT_NE(what.find("invalid UTF-8 at byte 8"), std::string::npos) << what;
    }
    // Outside a string any non-ASCII byte is a syntax error.
    EXPECT_NE(decode_error("{\"a\": \xC3\xA9}"), "");
    // The largest and smallest valid sequences of each length pass.
    EXPECT_EQ(decode_value(
                  "\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\""),
              "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF");
}

TEST(JsonCodec, RejectsInvalidUtf8WhenEncoding) {
    for (const std::string bad : {"\x80", "\xC0\xAF", "\xE0\x80\xAF", "\xF4\x90\x80\x80", "\xC3", "\xFF"}) {
        const std::string what = encode_error(Json::object({{"a", "ok" + bad}}));
        EXPECT_NE(what.find("UTF-8"), std::string::npos) << what;
        EXPECT_NE(encode_error(Json::object({{"k" + bad, 1}})), "");
    }
}

TEST(JsonCodec, SkipsOneUtf8BomAtTheStart) {
    EXPECT_EQ(deserialize_msg("\xEF\xBB\xBF{\"a\": 1}"), Json({{"a", 1}}));
    EXPECT_EQ(deserialize_msg("\xEF\xBB\xBF  [1]"), Json::array({1}));
    EXPECT_NE(decode_error("\xEF\xBB\xBF\xEF\xBB\xBF{}"), "");
    EXPECT_NE(decode_error(" \xEF\xBB\xBF{}"), "");
    EXPECT_NE(decode_error("\xEF\xBB\xBF"), "");
    // Offsets count the BOM's bytes.
    EXPECT_NE(decode_error("\xEF\xBB\xBF{} x").find("extra data at byte 6"), std::string::npos);
    // A BOM inside a string is just a character.
    EXPECT_EQ(encode_value(decode_value("\"\xEF\xBB\xBF"
                                        "bom\"")),
              "\"\\ufeffbom\"");
}

// ----- numbers -------------------------------------------------------------------------------------------

TEST(JsonCodec, KeepsIntegersAndFloatsApart) {
    EXPECT_TRUE(decode_value("1").is_number_integer());
    EXPECT_FALSE(decode_value("1").is_number_float());
    EXPECT_TRUE(decode_value("1.0").is_number_float());
    EXPECT_TRUE(decode_value("1e2").is_number_float());
    EXPECT_TRUE(decode_value("1E+2").is_number_float());
    EXPECT_EQ(decode_value("1e2").get<double>(), 100.0);
    EXPECT_EQ(encode_value(decode_value("1e2")), "100.0");
    EXPECT_EQ(encode_value(decode_value("100")), "100");
    EXPECT_EQ(encode_value(decode_value("2.50")), "2.5");
    const Json minus_zero_int = decode_value("-0");
    EXPECT_TRUE(minus_zero_int.is_number_integer());
    EXPECT_EQ(encode_value(minus_zero_int), "0");
    const Json minus_zero = decode_value("-0.0");
    EXPECT_TRUE(minus_zero.is_number_float());
    EXPECT_TRUE(std::signbit(minus_zero.get<double>()));
    EXPECT_EQ(encode_value(minus_zero), "-0.0");
}

TEST(JsonCodec, Handles64BitIntegerLimits) {
    const Json max_unsigned = decode_value("18446744073709551615");
    EXPECT_TRUE(max_unsigned.is_number_unsigned());
    EXPECT_EQ(max_unsigned.get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
    const Json min_signed = decode_value("-9223372036854775808");
    EXPECT_TRUE(min_signed.is_number_integer());
    EXPECT_EQ(min_signed.get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(decode_value("9223372036854775807").get<std::int64_t>(),
              std::numeric_limits<std::int64_t>::max());

    EXPECT_EQ(encode_value(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
    EXPECT_EQ(encode_value(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
    EXPECT_EQ(encode_value(std::numeric_limits<std::int64_t>::max()), "9223372036854775807");

    EXPECT_NE(decode_error("{\"v\": 18446744073709551616}").find("integer out of the 64-bit range at byte 6"),
              std::string::npos);
    EXPECT_NE(decode_error("{\"v\": -9223372036854775809}").find("64-bit range"), std::string::npos);
    EXPECT_NE(decode_error("[" + std::string(5000, '9') + "]").find("64-bit range"), std::string::npos);
}

TEST(JsonCodec, WritesFloatsLikePythonRepr) {
    const std::vector<std::pair<double, std::string>> table = {
        {1.0, "1.0"},
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {100.0, "100.0"},
        {0.1, "0.1"},
        {2.5, "2.5"},
        {-7.25, "-7.25"},
        {3.141592653589793, "3.141592653589793"},
        {123456789.0, "123456789.0"},
        {1e15, "1000000000000000.0"},
        {9999999999999998.0, "9999999999999998.0"},
        {1e16, "1e+16"},
        {1.5e16, "1.5e+16"},
        {1e22, "1e+22"},
        {1e300, "1e+300"},
        {-1e300, "-1e+300"},
        {0.0001, "0.0001"},
        {0.00012345, "0.00012345"},
        {1e-05, "1e-05"},
        {1.5e-07, "1.5e-07"},
        {5e-324, "5e-324"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {0.30000000000000004, "0.30000000000000004"},
        {9007199254740993.0, "9007199254740992.0"},
    };
    for (const auto& [value, text] : table) {
        EXPECT_EQ(encode_value(value), text);
        const Json back = decode_value(text);
        EXPECT_TRUE(back.is_number_float()) << text;
        EXPECT_EQ(back.get<double>(), value) << text;
        EXPECT_EQ(std::signbit(back.get<double>()), std::signbit(value)) << text;
    }
}

TEST(JsonCodec, OutOfRangeFloatsRoundLikePython) {
    EXPECT_EQ(decode_value("1e400").get<double>(), std::numeric_limits<double>::infinity());
    EXPECT_EQ(decode_value("-1e400").get<double>(), -std::numeric_limits<double>::infinity());
    EXPECT_EQ(decode_value("1" + std::string(400, '0') + ".5").get<double>(),
              std::numeric_limits<double>::infinity());
    EXPECT_EQ(decode_value("0.0000001e-400").get<double>(), 0.0);
    const Json tiny_negative = decode_value("-1e-400");
    EXPECT_EQ(tiny_negative.get<double>(), 0.0);
    EXPECT_TRUE(std::signbit(tiny_negative.get<double>()));
    EXPECT_EQ(decode_value("1e99999999999999999999999").get<double>(),
              std::numeric_limits<double>::infinity());
    EXPECT_EQ(decode_value("1e-99999999999999999999999").get<double>(), 0.0);
    EXPECT_EQ(decode_value("0." + std::string(500, '0') + "1e600").get<double>(), 1e99);
    EXPECT_EQ(decode_value("4.9e-324").get<double>(), 5e-324);
}

TEST(JsonCodec, RejectsMalformedNumbers) {
    for (const char* bad : {"01", "+1", ".5", "1.", "1e", "1e+", "0x10", "- 1", "--1", "1.e5", "-", "00"}) {
        EXPECT_NE(decode_error(std::string("{\"v\": ") + bad + "}"), "") << bad;
    }
}

TEST(JsonCodec, ReadsAndWritesNonFiniteTokens) {
    const Json msg = deserialize_msg("{\"loss\": NaN, \"a\": Infinity, \"b\": -Infinity}");
    EXPECT_TRUE(std::isnan(msg.at("loss").get<double>()));
    EXPECT_EQ(msg.at("a").get<double>(), std::numeric_limits<double>::infinity());
    EXPECT_EQ(msg.at("b").get<double>(), -std::numeric_limits<double>::infinity());
    EXPECT_EQ(serialize_msg(msg), "{\"loss\": NaN, \"a\": Infinity, \"b\": -Infinity}");
    EXPECT_EQ(encode_value(-std::numeric_limits<double>::quiet_NaN()), "NaN");
    for (const char* bad : {"nan", "inf", "-NaN", "+Infinity", "infinity", "Infinit", "NAN", "-Inf", "-"}) {
        EXPECT_NE(decode_error(std::string("{\"v\": ") + bad + "}").find("expecting value at byte 6"),
                  std::string::npos)
            << bad;
    }
}

// ----- limits and errors -------------------------------------------------------------------------------

TEST(JsonCodec, DeepNestingIsAnErrorNotACrash) {
    const std::string deep_arrays(100000, '[');
    EXPECT_NE(decode_error(deep_arrays).find("nesting deeper than 512 levels at byte 512"),
              std::string::npos);
    std::string deep_objects;
    for (int i = 0; i < 100000; ++i) {
        deep_objects += "{\"a\": ";
    }
    EXPECT_NE(decode_error(deep_objects).find("nesting deeper than 512"), std::string::npos);
}

TEST(JsonCodec, DepthLimitIsExact) {
    const DecodeLimits limits{8, 0};
    EXPECT_NO_THROW(deserialize_msg(std::string(8, '[') + std::string(8, ']'), limits));
    EXPECT_NE(decode_error(std::string(9, '[') + std::string(9, ']'), limits).find("nesting deeper than 8"),
              std::string::npos);
    EXPECT_NO_THROW(deserialize_msg(std::string(512, '[') + std::string(512, ']')));
    EXPECT_NE(decode_error(std::string(513, '[') + std::string(513, ']')), "");
}

TEST(JsonCodec, VeryDeepValuesWorkWhenAllowedWithoutRecursion) {
    // The decoder and the encoder keep their own stacks, so a raised limit cannot overflow the call stack.
    constexpr std::size_t kDepth = 100000;
    const std::string text = std::string(kDepth, '[') + "1" + std::string(kDepth, ']');
    const Json deep = deserialize_msg(text, DecodeLimits{kDepth, 0});
    EXPECT_EQ(serialize_msg(deep), text);
}

TEST(JsonCodec, PayloadSizeLimit) {
    const std::string payload = "{\"a\": \"0123456789\"}";  // 19 bytes
    EXPECT_NO_THROW(deserialize_msg(payload, DecodeLimits{512, 19}));
    EXPECT_NE(
        decode_error(payload, DecodeLimits{512, 18}).find("payload of 19 bytes exceeds the limit of 18"),
        std::string::npos);
    EXPECT_NO_THROW(deserialize_msg(payload, DecodeLimits{512, 0}));
}

TEST(JsonCodec, ErrorMessagesCarryFb601AndTheByteOffset) {
    EXPECT_EQ(decode_error("{\"a\": 1 \"b\": 2}"),
              "FB601: message error: invalid JSON payload: expecting ',' or '}' at byte 8");
    EXPECT_EQ(decode_error("[1 2]"),
              "FB601: message error: invalid JSON payload: expecting ',' or ']' at byte 3");
    EXPECT_EQ(decode_error("{\"a\" 1}"),
              "FB601: message error: invalid JSON payload: expecting ':' at byte 5");
    EXPECT_EQ(
        decode_error("{\"a\": 1,}"),
        "FB601: message error: invalid JSON payload: expecting property name enclosed in double quotes at "
        "byte 8");
    EXPECT_EQ(decode_error(""), "FB601: message error: invalid JSON payload: expecting value at byte 0");
    EXPECT_EQ(decode_error("   "), "FB601: message error: invalid JSON payload: expecting value at byte 3");
    EXPECT_EQ(decode_error("{} x"), "FB601: message error: invalid JSON payload: extra data at byte 3");
    EXPECT_EQ(decode_error("{\"v\": 01}"),
              "FB601: message error: invalid JSON payload: expecting ',' or '}' at "
              "byte 7");
    EXPECT_EQ(decode_error("{"),
              "FB601: message error: invalid JSON payload: expecting property name enclosed "
              "in double quotes at byte 1");
    EXPECT_EQ(decode_error("[1,"), "FB601: message error: invalid JSON payload: expecting value at byte 3");
}

// ----- top level -----------------------------------------------------------------------------------------

TEST(JsonCodec, TopLevelValuesFollowTheReference) {
    EXPECT_EQ(deserialize_msg("[1, 2]"), Json::array({1, 2}));
    EXPECT_EQ(deserialize_msg("\"x\""), "x");
    EXPECT_NE(decode_error("42").find("an integer"), std::string::npos);
    EXPECT_NE(decode_error("1.5"), "");
    EXPECT_NE(decode_error("NaN"), "");
    EXPECT_NE(decode_error("true"), "");
    EXPECT_NE(decode_error("null").find("null"), std::string::npos);
    // Python's `"errnum" in value` is a substring / element test there, and indexing then fails.
    EXPECT_NE(decode_error("\"an errnum here\""), "");
    EXPECT_NE(decode_error("\"training_args\""), "");
    EXPECT_NE(decode_error("[1, \"errnum\"]"), "");
    EXPECT_NE(decode_error("[\"training_args\"]"), "");
    EXPECT_EQ(deserialize_msg("[\"errnum:\", [\"errnum\"]]"),
              Json::array({"errnum:", Json::array({"errnum"})}));
}

TEST(JsonCodec, SerializesNonObjectValuesPlainly) {
    EXPECT_EQ(serialize_msg(Json::array({1, "errnum"})), "[1, \"errnum\"]");
    EXPECT_EQ(serialize_msg(Json("x")), "\"x\"");
    EXPECT_EQ(serialize_msg(Json(2.0)), "2.0");
    EXPECT_EQ(serialize_msg(Json(nullptr)), "null");
}

// ----- errnum and the ErrorNumbers member ----------------------------------------------------------------

TEST(JsonErrorNumber, MemberIsATaggedValueDistinctFromItsText) {
    Json value;
    fedbiomed::to_json(value, ErrorNumbers::FB301);
    EXPECT_TRUE(value.is_binary());
    EXPECT_TRUE(fedbiomed::is_error_number(value));
    EXPECT_EQ(value.get_binary().subtype(), 0xFBU);
    EXPECT_EQ(static_cast<const std::vector<std::uint8_t>&>(value.get_binary()),
              (std::vector<std::uint8_t>{0x01, 0x2D}));  // 301
    EXPECT_EQ(value.get<ErrorNumbers>(), ErrorNumbers::FB301);
    EXPECT_NE(value, Json("FB301: Protocol error"));

    EXPECT_FALSE(fedbiomed::is_error_number(Json("FB301: Protocol error")));
    EXPECT_FALSE(fedbiomed::is_error_number(Json(301)));
    EXPECT_FALSE(fedbiomed::is_error_number(Json::binary({0x01, 0x2D})));
    EXPECT_FALSE(fedbiomed::is_error_number(Json::binary({0x01, 0x2D}, 0x01)));
    EXPECT_FALSE(fedbiomed::is_error_number(Json::binary({0x00, 0x05}, 0xFB)));  // no FB005
    EXPECT_FALSE(fedbiomed::is_error_number(Json::binary({0x01, 0x2D, 0x00}, 0xFB)));
}

TEST(JsonErrorNumber, EveryMemberRoundTrips) {
    for (const ErrorNumbers code : fedbiomed::all_error_numbers()) {
        Json msg = Json::object();
        msg["errnum"] = code;
        ASSERT_TRUE(fedbiomed::is_error_number(msg["errnum"]));
        EXPECT_EQ(msg["errnum"].get<ErrorNumbers>(), code);
        const std::string text = serialize_msg(msg);
        EXPECT_EQ(text, "{\"errnum\": " + Json(std::string(fedbiomed::error_text(code))).dump() + "}");
        const Json back = deserialize_msg(text);
        EXPECT_EQ(back.at("errnum").get<ErrorNumbers>(), code);
        EXPECT_TRUE(fedbiomed::is_error_number(back.at("errnum")));
    }
}

TEST(JsonErrorNumber, FromJsonAcceptsTheMemberOrItsExactText) {
    EXPECT_EQ(Json("FB315: Error while loading the data ").get<ErrorNumbers>(), ErrorNumbers::FB315);
    EXPECT_THROW(Json("FB315: Error while loading the data").get<ErrorNumbers>(), MessageError);
    EXPECT_THROW(Json("FB301").get<ErrorNumbers>(), MessageError);
    EXPECT_THROW(Json(301).get<ErrorNumbers>(), MessageError);
    EXPECT_THROW(Json(nullptr).get<ErrorNumbers>(), MessageError);
    EXPECT_THROW(Json::binary({0x01, 0x2D}, 0x07).get<ErrorNumbers>(), MessageError);
}

TEST(JsonErrorNumber, SendErrorPayloadIsByteExact) {
    Json msg = Json::object();
    msg["command"] = "error";
    msg["errnum"] = ErrorNumbers::FB301;
    msg["node_id"] = "NODE_A";
    msg["extra_msg"] = "bad thing";
    msg["researcher_id"] = "RES_1";
    msg["protocol_version"] = "1";
    const std::string text = serialize_msg(msg);
    EXPECT_EQ(text,
              "{\"command\": \"error\", \"errnum\": \"FB301: Protocol error\", \"node_id\": \"NODE_A\", "
              "\"extra_msg\": \"bad thing\", \"researcher_id\": \"RES_1\", \"protocol_version\": \"1\"}");
    // serialize_msg leaves its argument alone (the reference rewrote the caller's dict).
    EXPECT_TRUE(fedbiomed::is_error_number(msg.at("errnum")));
}

TEST(JsonErrorNumber, TopLevelErrnumMustBeAMember) {
    EXPECT_NE(encode_error(Json({{"errnum", "FB301: Protocol error"}})).find("errnum"), std::string::npos);
    EXPECT_NE(encode_error(Json({{"errnum", 301}})), "");
    EXPECT_NE(encode_error(Json({{"errnum", nullptr}})), "");
    EXPECT_NE(encode_error(Json({{"errnum", Json::binary({0x01, 0x2D}, 0x01)}})), "");
    // Nested, a plain string is just a string and a member is written as its text.
    Json nested = Json::object();
    nested["inner"] = Json::object({{"errnum", "FB301: Protocol error"}});
    nested["list"] = Json::array({ErrorNumbers::FB999});
    EXPECT_EQ(
        serialize_msg(nested),
        "{\"inner\": {\"errnum\": \"FB301: Protocol error\"}, \"list\": [\"FB999: unknown error code sent "
        "by the node\"]}");
    // Any other binary value cannot be encoded.
    EXPECT_NE(encode_error(Json::object({{"data", Json::binary({1, 2, 3})}})).find("binary"),
              std::string::npos);
}

TEST(JsonErrorNumber, DecodingMapsErrnumToAMemberOrFb999) {
    EXPECT_EQ(
        deserialize_msg("{\"errnum\": \"FB104: message exchange error\"}").at("errnum").get<ErrorNumbers>(),
        ErrorNumbers::FB104);
    for (const char* other : {"\"FB104\"", "\"fb104: message exchange error\"", "\"\"", "104", "null", "true",
                              "[]", "{}", "1.5", "\"FB104: message exchange error \""}) {
        const Json msg = deserialize_msg(std::string("{\"a\": 0, \"errnum\": ") + other + ", \"z\": 1}");
        EXPECT_TRUE(fedbiomed::is_error_number(msg.at("errnum"))) << other;
        EXPECT_EQ(msg.at("errnum").get<ErrorNumbers>(), ErrorNumbers::FB999) << other;
        EXPECT_EQ(std::next(msg.begin()).key(), "errnum");  // position kept
    }
    // Only the top-level key is rewritten.
    const Json nested = deserialize_msg("{\"x\": {\"errnum\": \"FB301: Protocol error\"}}");
    EXPECT_TRUE(nested.at("x").at("errnum").is_string());
}

// ----- training_args and test_metric ---------------------------------------------------------------------

TEST(JsonMetric, NamesRoundTrip) {
    const std::vector<std::pair<MetricTypes, const char*>> all = {
        {MetricTypes::ACCURACY, "ACCURACY"},
        {MetricTypes::F1_SCORE, "F1_SCORE"},
        {MetricTypes::PRECISION, "PRECISION"},
        {MetricTypes::RECALL, "RECALL"},
        {MetricTypes::MEAN_SQUARE_ERROR, "MEAN_SQUARE_ERROR"},
        {MetricTypes::MEAN_ABSOLUTE_ERROR, "MEAN_ABSOLUTE_ERROR"},
        {MetricTypes::EXPLAINED_VARIANCE, "EXPLAINED_VARIANCE"},
    };
    for (const auto& [metric, name] : all) {
        EXPECT_EQ(fedbiomed::metric_name(metric), name);
        EXPECT_EQ(fedbiomed::metric_from_name(name), metric);
    }
    EXPECT_FALSE(fedbiomed::metric_from_name("accuracy").has_value());
    EXPECT_FALSE(fedbiomed::metric_from_name("ACCURACY ").has_value());
    EXPECT_FALSE(fedbiomed::metric_from_name("").has_value());
}

TEST(JsonMetric, DecodingKeepsNamesNullsUnknownTruthyValuesAndKeepsFalsyOnes) {
    auto metric_after_decode = [](const std::string& literal) {
        return deserialize_msg("{\"training_args\": {\"epochs\": 1, \"test_metric\": " + literal + "}}")
            .at("training_args")
            .at("test_metric");
    };
    EXPECT_EQ(metric_after_decode("\"ACCURACY\""), "ACCURACY");
    EXPECT_EQ(metric_after_decode("\"EXPLAINED_VARIANCE\""), "EXPLAINED_VARIANCE");
    for (const char* truthy :
         {"\"accuracy\"", "\"UNKNOWN\"", "5", "-1", "0.5", "NaN", "true", "[\"ACCURACY\"]", "{\"a\": 1}"}) {
        EXPECT_TRUE(metric_after_decode(truthy).is_null()) << truthy;
    }
    EXPECT_EQ(metric_after_decode("\"\""), "");
    EXPECT_EQ(metric_after_decode("0"), 0);
    EXPECT_TRUE(metric_after_decode("0.0").is_number_float());
    EXPECT_TRUE(metric_after_decode("-0.0").is_number_float());
    EXPECT_EQ(metric_after_decode("false"), false);
    EXPECT_EQ(metric_after_decode("[]"), Json::array());
    EXPECT_EQ(metric_after_decode("{}"), Json::object());
    EXPECT_TRUE(metric_after_decode("null").is_null());
    // Only top-level training_args is looked at.
    EXPECT_EQ(deserialize_msg("{\"x\": {\"training_args\": {\"test_metric\": \"bad\"}}}")
                  .at("x")
                  .at("training_args")
                  .at("test_metric"),
              "bad");
}

TEST(JsonMetric, TrainingArgsMustBeAnObject) {
    for (const char* bad : {"[]", "\"ACCURACY\"", "null", "1", "true"}) {
        const std::string literal = bad;
        EXPECT_NE(decode_error("{\"command\": \"train\", \"training_args\": " + literal + "}")
                      .find("training_args"),
                  std::string::npos)
            << bad;
        EXPECT_NE(encode_error(Json({{"command", "train"}, {"training_args", Json::parse(literal)}})), "")
            << bad;
    }
    EXPECT_EQ(
        serialize_msg(Json({{"training_args",
                             {{"test_metric", std::string(fedbiomed::metric_name(MetricTypes::RECALL))}}}})),
        "{\"training_args\": {\"test_metric\": \"RECALL\"}}");
    EXPECT_EQ(serialize_msg(Json({{"x", {{"training_args", 1}}}})), "{\"x\": {\"training_args\": 1}}");
}

}  // namespace

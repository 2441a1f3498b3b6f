// PEP 440 parsing, normal forms and ordering (expected values checked against Python's packaging), and the
// protocol-version rule with its four outcomes and the unparsable case.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/logger.hpp>
#include <fedbiomed/version.hpp>

namespace {

using fedbiomed::ErrorNumbers;
using fedbiomed::InvalidVersionError;
using fedbiomed::Json;
using fedbiomed::Version;
using fedbiomed::VersionError;
using fedbiomed::VersionVerdict;

const std::string kSee =
    " -> See https://fedbiomed.org/latest/user-guide/deployment/versions for more information";

// ---------------------------------------------------------------------------------------------------------
// Parsing and normal form

struct Spelling {
    std::string text;
    std::string normal;
};

// Every expected normal form below is what str(packaging.version.Version(text)) prints.
const std::vector<Spelling> kSpellings = {
    {"1", "1"},
    {"1.0", "1.0"},
    {"v1.0", "1.0"},
    {"V1", "1"},
    {" 1.0 ", "1.0"},
    {"\t1\n", "1"},
    {"\x0b"
     "1\x0c\r",
     "1"},
    {"1\x1c", "1"},  // Python's \s also covers the information separators \x1c-\x1f
    {"01", "1"},
    {"1.00", "1.0"},
    {"2021.03.01", "2021.3.1"},
    {"1.0.0.0.0.0.0.0.0.0.0.0", "1.0.0.0.0.0.0.0.0.0.0.0"},
    {"1!2.0", "1!2.0"},
    {"0!1", "1"},
    {"1.0a1", "1.0a1"},
    {"1.0alpha1", "1.0a1"},
    {"1.0ALPHA", "1.0a0"},
    {"1.0-beta.2", "1.0b2"},
    {"1.0c3", "1.0rc3"},
    {"1.0pre", "1.0rc0"},
    {"1.0preview4", "1.0rc4"},
    {"1.0_RC_5", "1.0rc5"},
    {"1.0rc.1", "1.0rc1"},
    {"1.a1", "1a1"},
    {"1.0.post1", "1.0.post1"},
    {"1.0-1", "1.0.post1"},
    {"1-0", "1.post0"},
    {"1.0post", "1.0.post0"},
    {"1.0rev2", "1.0.post2"},
    {"1.0-r3", "1.0.post3"},
    {"1.0.r", "1.0.post0"},
    {"1.0-post-1", "1.0.post1"},
    {"1.0.dev", "1.0.dev0"},
    {"1.0-dev-7", "1.0.dev7"},
    {"1.0_dev_2", "1.0.dev2"},
    {"1.0-dev-", "1.0.dev0"},
    {"1.0.post.dev", "1.0.post0.dev0"},
    {"1.0rc1.post2.dev3", "1.0rc1.post2.dev3"},
    {"1.0+ABC.005", "1.0+abc.5"},
    {"1.0+a-b_c", "1.0+a.b.c"},
    {"1.0+000", "1.0+0"},
    {"1.2.3a4.post5.dev6+ubuntu-7", "1.2.3a4.post5.dev6+ubuntu.7"},
    {"1!1.0a.post-dev+x", "1!1.0a0.post0.dev0+x"},
    // Ambiguous separators resolved as Python's backtracking regex resolves them.
    {"1a-1", "1a1"},
    {"1a1-1", "1a1.post1"},
    {"1a.-dev", "1a0.dev0"},
    // Numbers of any size, printed as Python prints its integers.
    {"18446744073709551615", "18446744073709551615"},
    {"18446744073709551616", "18446744073709551616"},
    {"0018446744073709551616.000099999999999999999999", "18446744073709551616.99999999999999999999"},
    {"99999999999999999999!1a99999999999999999999.post099999999999999999999.dev99999999999999999999",
     "99999999999999999999!1a99999999999999999999.post99999999999999999999.dev99999999999999999999"},
    {"1-99999999999999999999", "1.post99999999999999999999"},
    {"1+99999999999999999999999", "1+99999999999999999999999"},
};

TEST(VersionParse, SpellingsGiveThePackagingNormalForm) {
    for (const auto& spelling : kSpellings) {
        SCOPED_TRACE(spelling.text);
        const auto parsed = Version::try_parse(spelling.text);
        ASSERT_TRUE(parsed.has_value());
        EXPECT_EQ(parsed->str(), spelling.normal);
        EXPECT_EQ(Version::parse(spelling.text).str(), spelling.normal);
        // The normal form is itself a version with the same normal form and equal to the original.
        const Version again = Version::parse(spelling.normal);
        EXPECT_EQ(again.str(), spelling.normal);
        EXPECT_EQ(again.compare(*parsed), 0);
    }
}

const std::vector<std::string> kRejected = {
    "",
    " ",
    "abc",
    "1.",
    ".1",
    "1..0",
    "1 .0",
    "v",
    "vv1",
    "1,0",
    "1.x",
    "1.0.0-",
    "0x1",
    "1!",
    "!1",
    "1+",
    "1+a..b",
    "1+a.",
    "1.0-",
    "1.0+-a",
    "1.0a1a2",
    "-1",
    "+1",
    "a1",
    "1 1",
    "1_0",
    "1.0_1",
    "1!2!3",
    "1.0+a+b",
    "1.0--1",
    "latest",
    "*",
    "1.0.post1.post2",
    "1.0.dev1.post1",
    "1.0.dev1a1",
    "1.0.post1-1",
};

TEST(VersionParse, RejectsWhatPackagingRejects) {
    for (const auto& text : kRejected) {
        SCOPED_TRACE(text);
        EXPECT_FALSE(Version::try_parse(text).has_value());
        EXPECT_THROW(Version::parse(text), InvalidVersionError);
    }
}

TEST(VersionParse, RejectsEmbeddedNulAndControlCharacters) {
    EXPECT_FALSE(Version::try_parse(std::string("1\0", 2)).has_value());
    EXPECT_FALSE(Version::try_parse(std::string("1\0"
                                                "2",
                                                3))
                     .has_value());
    EXPECT_FALSE(Version::try_parse(std::string("\0"
                                                "1",
                                                2))
                     .has_value());
    EXPECT_FALSE(Version::try_parse("1\x7f").has_value());
    EXPECT_FALSE(Version::try_parse("1\x1b").has_value());
}

TEST(VersionParse, RejectsNonAsciiInsideTheVersion) {
    EXPECT_FALSE(Version::try_parse("\xd9\xa1").has_value());        // ARABIC-INDIC DIGIT ONE
    EXPECT_FALSE(Version::try_parse("1\xc2\xa0.0").has_value());     // NO-BREAK SPACE inside
    EXPECT_FALSE(Version::try_parse("1.0po\xc5\xbft").has_value());  // LATIN SMALL LETTER LONG S (documented)
    EXPECT_FALSE(Version::try_parse("1\xff").has_value());           // not UTF-8 at all
}

// Every character for which Python's str.isspace() is true, in UTF-8; packaging's `^\s*...\s*$` strips
// each of them around a version (checked with CPython 3.11: [c for c in map(chr, range(0x110000)) if
// c.isspace()]).
const std::vector<std::pair<const char*, std::string>> kPythonWhitespace = {
    {"U+0009", "\t"},           {"U+000A", "\n"},
    {"U+000B", "\x0b"},         {"U+000C", "\x0c"},
    {"U+000D", "\r"},           {"U+001C", "\x1c"},
    {"U+001D", "\x1d"},         {"U+001E", "\x1e"},
    {"U+001F", "\x1f"},         {"U+0020", " "},
    {"U+0085", "\xc2\x85"},     {"U+00A0", "\xc2\xa0"},
    {"U+1680", "\xe1\x9a\x80"}, {"U+2000", "\xe2\x80\x80"},
    {"U+2001", "\xe2\x80\x81"}, {"U+2002", "\xe2\x80\x82"},
    {"U+2003", "\xe2\x80\x83"}, {"U+2004", "\xe2\x80\x84"},
    {"U+2005", "\xe2\x80\x85"}, {"U+2006", "\xe2\x80\x86"},
    {"U+2007", "\xe2\x80\x87"}, {"U+2008", "\xe2\x80\x88"},
    {"U+2009", "\xe2\x80\x89"}, {"U+200A", "\xe2\x80\x8a"},
    {"U+2028", "\xe2\x80\xa8"}, {"U+2029", "\xe2\x80\xa9"},
    {"U+202F", "\xe2\x80\xaf"}, {"U+205F", "\xe2\x81\x9f"},
    {"U+3000", "\xe3\x80\x80"},
};

TEST(VersionParse, PythonWhitespaceAroundTheVersionIsStripped) {
    for (const auto& [name, space] : kPythonWhitespace) {
        SCOPED_TRACE(name);
        for (const std::string& text :
             {space + "1", "1" + space, space + space + "v1.0rc1" + space + space}) {
            const auto parsed = Version::try_parse(text);
            ASSERT_TRUE(parsed.has_value());
            EXPECT_EQ(parsed->str(), text.find("rc") == std::string::npos ? "1" : "1.0rc1");
        }
        // Whitespace separates nothing inside a version.
        EXPECT_FALSE(Version::try_parse("1" + space + ".0").has_value());
        EXPECT_FALSE(Version::try_parse(space).has_value());
    }
    // Characters that look blank but are not whitespace to Python, and broken sequences.
    for (const std::string& text : {
             std::string("\xe2\x80\x8b"
                         "1"),  // U+200B ZERO WIDTH SPACE
             std::string("\xef\xbb\xbf"
                         "1"),  // U+FEFF ZERO WIDTH NO-BREAK SPACE (BOM)
             std::string("\xe1\xa0\x8e"
                         "1"),  // U+180E MONGOLIAN VOWEL SEPARATOR (no longer a space)
             std::string("\xe2\x81\xa0"
                         "1"),  // U+2060 WORD JOINER
             std::string("\xe2\x80\x8c"
                         "1"),          // U+200C ZERO WIDTH NON-JOINER
             std::string("1\xc2"),      // U+00A0 cut after its first byte
             std::string("1\xe2\x80"),  // U+2000 cut after two bytes
             std::string("\xa0"
                         "1"),  // a continuation byte alone
         }) {
        SCOPED_TRACE(text);
        EXPECT_FALSE(Version::try_parse(text).has_value());
    }
}

TEST(VersionParse, NumbersOfAnySizeAreKeptExactly) {
    const Version big = Version::parse("1.18446744073709551616.00099999999999999999999");
    EXPECT_EQ(big.release_component(0), "1");
    EXPECT_EQ(big.release_component(1), "18446744073709551616");
    EXPECT_EQ(big.release_component(2), "99999999999999999999");
    EXPECT_EQ(big.release_component(3), "0");
    EXPECT_EQ(big.release_component(1000), "0");
    // The 64-bit accessors saturate rather than wrap.
    EXPECT_EQ(big.major(), 1u);
    EXPECT_EQ(big.minor(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(big.micro(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(Version::parse("18446744073709551615").major(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(Version::parse("007").release_component(0), "7");
    EXPECT_EQ(Version::parse("000").release_component(0), "0");
}

TEST(VersionParse, DigitRunsBeyondPythonsIntLimitAreInvalid) {
    // CPython 3.11 refuses int() of more than 4300 digits, leading zeros included; packaging calls int()
    // on every number, local digit segments too.
    const std::string at_limit(4300, '9');
    const std::string beyond = "1" + at_limit;
    const std::string zeros_beyond = "0" + at_limit;
    for (const std::string& ok :
         {at_limit, "1." + at_limit, at_limit + "!1", "1a" + at_limit, "1.post" + at_limit, "1-" + at_limit,
          "1.dev" + at_limit, "1+" + at_limit, "1+a." + at_limit}) {
        EXPECT_TRUE(Version::try_parse(ok).has_value()) << ok.substr(0, 8);
    }
    EXPECT_EQ(Version::parse("1." + at_limit).release_component(1), at_limit);
    for (const std::string& text :
         {beyond, zeros_beyond, "1." + beyond, beyond + "!1", "1a" + beyond, "1.post" + beyond, "1-" + beyond,
          "1.dev" + beyond, "1+" + beyond, "1+a." + zeros_beyond}) {
        EXPECT_FALSE(Version::try_parse(text).has_value()) << text.substr(0, 8);
        EXPECT_THROW(Version::parse(text), InvalidVersionError);
    }
    // A letter segment of the local label is not a number: any length.
    EXPECT_TRUE(Version::try_parse("1+a" + beyond).has_value());
}

TEST(VersionParse, HostileLongInputsAreHandled) {
    // A valid version with 200000 release components: parsed, and equal to "1" (trailing zeros).
    std::string long_valid = "1";
    for (int i = 0; i < 200000; ++i) {
        long_valid += ".0";
    }
    const auto parsed = Version::try_parse(long_valid);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->compare(Version::parse("1")), 0);
    EXPECT_EQ(parsed->str(), long_valid);

    // Long invalid inputs of the shapes that make backtracking regex engines struggle (a million digits is
    // beyond Python's int() limit, so invalid too).
    const std::size_t n = 1000000;
    for (const std::string& text :
         {std::string(n, 'a'), std::string(n, '1') + "x", std::string(n, '.'), "1" + std::string(n, '-'),
          "1a" + std::string(n, '.'), "1+" + std::string(n, 'a') + "..", std::string(n, ' ') + "x",
          "1" + std::string(n, '9'), long_valid + "."}) {
        EXPECT_FALSE(Version::try_parse(text).has_value());
    }
}

TEST(VersionParse, InvalidVersionErrorQuotesTheString) {
    try {
        Version::parse("abc");
        FAIL() << "no exception";
    } catch (const InvalidVersionError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB625);
        EXPECT_STREQ(error.what(),
                     "FB625: Component version error: invalid version string 'abc' (not a PEP 440 version)");
    }
    // Control bytes are escaped and a long string is cut, so the message stays one short line.
    try {
        Version::parse(std::string("1\0\n'", 4) + std::string(100000, 'x'));
        FAIL() << "no exception";
    } catch (const InvalidVersionError& error) {
        const std::string what = error.what();
        EXPECT_NE(what.find("'1\\x00\\n\\'xxx"), std::string::npos) << what;
        EXPECT_NE(what.find("(100004 bytes)"), std::string::npos) << what;
        EXPECT_LT(what.size(), 200u);
        EXPECT_EQ(what.find('\n'), std::string::npos);
    }
}

TEST(VersionParse, MajorMinorMicro) {
    const Version full = Version::parse("1!2.3.4.5rc1");
    EXPECT_EQ(full.major(), 2u);
    EXPECT_EQ(full.minor(), 3u);
    EXPECT_EQ(full.micro(), 4u);
    const Version short_version = Version::parse("7");
    EXPECT_EQ(short_version.major(), 7u);
    EXPECT_EQ(short_version.minor(), 0u);
    EXPECT_EQ(short_version.micro(), 0u);
    EXPECT_EQ(Version::parse("1.2").micro(), 0u);
}

// ---------------------------------------------------------------------------------------------------------
// Ordering

TEST(VersionOrder, Pep440ExampleOrder) {
    // Strictly increasing, as packaging sorts them.
    const std::vector<std::string> ordered = {
        "1.0.dev456",    "1.0a1",         "1.0a2.dev456", "1.0a12.dev456",
        "1.0a12",        "1.0b1.dev456",  "1.0b2",        "1.0b2.post345.dev456",
        "1.0b2.post345", "1.0rc1.dev456", "1.0rc1",       "1.0",
        "1.0+abc.5",     "1.0+abc.7",     "1.0+5",        "1.0.post456.dev34",
        "1.0.post456",   "1.0.15",        "1.1.dev1",     "1!0.1",
    };
    for (std::size_t i = 0; i < ordered.size(); ++i) {
        for (std::size_t j = 0; j < ordered.size(); ++j) {
            SCOPED_TRACE(ordered[i] + " vs " + ordered[j]);
            const Version a = Version::parse(ordered[i]);
            const Version b = Version::parse(ordered[j]);
            const int expected = i < j ? -1 : (i > j ? 1 : 0);
            EXPECT_EQ(a.compare(b), expected);
            EXPECT_EQ(a < b, i < j);
            EXPECT_EQ(a == b, i == j);
            EXPECT_EQ(a != b, i != j);
        }
    }
}

TEST(VersionOrder, EqualUnderPep440) {
    for (const std::string text : {"1", "1.0", "1.0.0", "v1", " 1 ", "0!1", "01.00"}) {
        SCOPED_TRACE(text);
        EXPECT_EQ(Version::parse(text), Version::parse("1"));
    }
    EXPECT_EQ(Version::parse("1.0+ABC"), Version::parse("1+abc"));
    EXPECT_EQ(Version::parse("1a"), Version::parse("1a0"));
    EXPECT_EQ(Version::parse("1.0alpha"), Version::parse("1a0"));
    EXPECT_EQ(Version::parse("1c1"), Version::parse("1rc1"));
    EXPECT_EQ(Version::parse("1.0-1"), Version::parse("1.0.post1"));
    EXPECT_EQ(Version::parse("1+009"), Version::parse("1+9"));
    EXPECT_EQ(Version::parse("0"), Version::parse("0.0.0"));
}

TEST(VersionOrder, DecorationsAreNotEqual) {
    const Version one = Version::parse("1");
    for (const std::string text : {"1+0", "1.0.post0", "1.0.dev0", "1a0", "1!1", "1.0.0.1"}) {
        SCOPED_TRACE(text);
        EXPECT_NE(Version::parse(text), one);
    }
    EXPECT_LT(Version::parse("1.0.dev0"), one);
    EXPECT_LT(Version::parse("1a0"), one);
    EXPECT_LT(one, Version::parse("1+0"));
    EXPECT_LT(one, Version::parse("1.post0"));
    EXPECT_LT(one, Version::parse("1!0"));
}

TEST(VersionOrder, LocalLabels) {
    EXPECT_LT(Version::parse("1+a"), Version::parse("1+1"));     // integers sort after strings
    EXPECT_LT(Version::parse("1+a"), Version::parse("1+a.0"));   // a prefix sorts first
    EXPECT_LT(Version::parse("1+9"), Version::parse("1+10"));    // integers by value
    EXPECT_LT(Version::parse("1+a10"), Version::parse("1+a9"));  // strings as strings
    EXPECT_LT(Version::parse("1+a"), Version::parse("1+b"));
    EXPECT_LT(Version::parse("1+99999999999999999999998"), Version::parse("1+99999999999999999999999"));
    EXPECT_LT(Version::parse("1.0.dev0"), Version::parse("1.0a0.dev0"));  // dev of a final before pre
}

TEST(VersionOrder, LargeNumbers) {
    EXPECT_LT(Version::parse("18446744073709551614"), Version::parse("18446744073709551615"));
    EXPECT_LT(Version::parse("1.post18446744073709551614"), Version::parse("1.post18446744073709551615"));
    // Beyond 64 bits, by value: a longer number is larger, leading zeros do not count.
    EXPECT_LT(Version::parse("18446744073709551615"), Version::parse("18446744073709551616"));
    EXPECT_LT(Version::parse("99999999999999999999"), Version::parse("100000000000000000000"));
    EXPECT_LT(Version::parse("1.99999999999999999999"), Version::parse("2"));
    EXPECT_EQ(Version::parse("0099999999999999999999"), Version::parse("99999999999999999999.0"));
    EXPECT_LT(Version::parse("99999999999999999999!1"), Version::parse("100000000000000000000!0"));
    EXPECT_LT(Version::parse("1a99999999999999999998"), Version::parse("1a99999999999999999999"));
    EXPECT_LT(Version::parse("1.post99999999999999999999"), Version::parse("1.post100000000000000000000"));
    EXPECT_LT(Version::parse("1.dev100000000000000000000"), Version::parse("1.dev100000000000000000001"));
    EXPECT_LT(Version::parse("1+18446744073709551616"), Version::parse("1+018446744073709551617"));
    EXPECT_EQ(Version::parse("1.0.0.99999999999999999999").compare(Version::parse("1")), 1);
}

// ---------------------------------------------------------------------------------------------------------
// The protocol-version rule

// Records what reaches the library logger.
class CaptureSink : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::vector<std::pair<spdlog::level::level_enum, std::string>> records;

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        records.emplace_back(msg.level, std::string(msg.payload.data(), msg.payload.size()));
    }
    void flush_() override {}
};

template <class Error>
const Error* as(const VersionError& error) {
    if constexpr (std::is_same_v<Error, VersionError>) {
        return &error;
    } else {
        return dynamic_cast<const Error*>(&error);
    }
}

class VersionCheckTest : public ::testing::Test {
protected:
    // The library logger writes to the capture sink only, at its default level, while a test runs.
    void SetUp() override {
        const auto logger = fedbiomed::library_logger();
        saved_sinks_ = logger->sinks();
        saved_level_ = logger->level();
        sink_ = std::make_shared<CaptureSink>();
        logger->sinks() = {sink_};
        logger->set_level(spdlog::level::warn);
    }
    void TearDown() override {
        const auto logger = fedbiomed::library_logger();
        logger->sinks() = saved_sinks_;
        logger->set_level(saved_level_);
    }
    const std::vector<std::pair<spdlog::level::level_enum, std::string>>& records() const {
        return sink_->records;
    }

    // Runs the check on a value that must be rejected with a VersionError, returning it.
    template <class Error = VersionError>
    Error expect_rejected(const Json* their, std::string_view our = fedbiomed::kProtocolVersion) {
        last_was_invalid_ = false;
        try {
            fedbiomed::check_protocol_version(their, our);
        } catch (const VersionError& error) {
            last_was_invalid_ = typeid(error) == typeid(InvalidVersionError);
            if (const Error* wanted = as<Error>(error); wanted != nullptr) {
                return *wanted;
            }
            ADD_FAILURE() << "unexpected exception type: " << error.what();
        }
        ADD_FAILURE() << "no exception";
        return Error(ErrorNumbers::FB999, "");
    }

    std::shared_ptr<CaptureSink> sink_;
    std::vector<spdlog::sink_ptr> saved_sinks_;
    spdlog::level::level_enum saved_level_ = spdlog::level::warn;
    bool last_was_invalid_ = false;  // whether expect_rejected() caught an InvalidVersionError
};

TEST_F(VersionCheckTest, ProtocolVersionIsOne) {
    EXPECT_EQ(fedbiomed::kProtocolVersion, "1");
}

TEST_F(VersionCheckTest, EqualVersionsPassSilently) {
    for (const std::string text : {"1", "1.0", "1.0.0", "v1", " 1 ", "0!1"}) {
        SCOPED_TRACE(text);
        const Json their = text;
        const auto check = fedbiomed::check_protocol_version(&their);
        EXPECT_EQ(check.verdict, VersionVerdict::pass);
        EXPECT_TRUE(check.warning.empty());
    }
    EXPECT_TRUE(records().empty());
}

TEST_F(VersionCheckTest, SameMajorOlderOrDecoratedWarns) {
    const Json their = "1.0rc1";
    const auto check = fedbiomed::check_protocol_version(&their);
    EXPECT_EQ(check.verdict, VersionVerdict::warn);
    EXPECT_EQ(check.warning, "Found version 1.0rc1, expected version 1" + kSee);
    ASSERT_EQ(records().size(), 1u);
    EXPECT_EQ(records()[0].first, spdlog::level::warn);
    EXPECT_EQ(records()[0].second, check.warning);

    const Json older = "v1.1.9";
    const auto check_older = fedbiomed::check_protocol_version(&older, "1.2.0");
    EXPECT_EQ(check_older.verdict, VersionVerdict::warn);
    EXPECT_EQ(check_older.warning, "Found version 1.1.9, expected version 1.2.0" + kSee);
}

TEST_F(VersionCheckTest, IncompatibleVersionFailsWithFB104) {
    const Json their = "2.0";
    const VersionError error = expect_rejected(&their);
    EXPECT_EQ(error.code(), ErrorNumbers::FB104);
    const std::string expected =
        "FB104: message exchange error: Received message with protocol version 2.0 which "
        "is incompatible with the current protocol version 1" +
        kSee;
    EXPECT_EQ(error.what(), expected);
    ASSERT_EQ(records().size(), 1u);
    EXPECT_EQ(records()[0].first, spdlog::level::err);
    EXPECT_EQ(records()[0].second, expected);
}

TEST_F(VersionCheckTest, NewerMinorOrMicroFails) {
    for (const auto& [their_text, our] : std::vector<std::pair<std::string, std::string>>{{"1.1", "1"},
                                                                                          {"1.0.1", "1"},
                                                                                          {"1.2.4", "1.2.3"},
                                                                                          {"1.3", "1.2"},
                                                                                          {"0.9", "1"},
                                                                                          {"1.2", "2.0"}}) {
        SCOPED_TRACE(their_text + " vs " + our);
        const Json their = their_text;
        EXPECT_EQ(expect_rejected(&their, our).code(), ErrorNumbers::FB104);
    }
}

TEST_F(VersionCheckTest, NumbersBeyond64BitsAreComparedExactly) {
    // Same major, minor and micro as "1": only a later component differs, so a warning.
    const Json fourth = "1.0.0.99999999999999999999";
    const auto check = fedbiomed::check_protocol_version(&fourth);
    EXPECT_EQ(check.verdict, VersionVerdict::warn);
    EXPECT_EQ(check.warning, "Found version 1.0.0.99999999999999999999, expected version 1" + kSee);

    // A minor of 2^64 is newer than ours (0): incompatible. A saturating or wrapping comparison would
    // get one of these wrong.
    const Json minor = "1.18446744073709551616";
    VersionError error = expect_rejected(&minor);
    EXPECT_EQ(error.code(), ErrorNumbers::FB104);
    EXPECT_EQ(std::string(error.what()),
              "FB104: message exchange error: Received message with protocol version 1.18446744073709551616 "
              "which is incompatible with the current protocol version 1" +
                  kSee);

    const Json major = "99999999999999999999";
    error = expect_rejected(&major);
    EXPECT_EQ(error.code(), ErrorNumbers::FB104);
    EXPECT_NE(std::string(error.what()).find("protocol version 99999999999999999999 which"),
              std::string::npos);

    // Against an "our" beyond 64 bits as well: equal spellings pass, an older micro warns, a newer fails.
    const Json same = "v18446744073709551616.0";
    EXPECT_EQ(fedbiomed::check_protocol_version(&same, "18446744073709551616").verdict, VersionVerdict::pass);
    const Json older = "1.2.18446744073709551616";
    EXPECT_EQ(fedbiomed::check_protocol_version(&older, "1.2.18446744073709551617").verdict,
              VersionVerdict::warn);
    const Json newer = "1.2.18446744073709551618";
    EXPECT_EQ(expect_rejected(&newer, "1.2.18446744073709551617").code(), ErrorNumbers::FB104);
    const Json newer_than_max = "1.18446744073709551616";
    EXPECT_EQ(expect_rejected(&newer_than_max, "1.18446744073709551615").code(), ErrorNumbers::FB104);
}

TEST_F(VersionCheckTest, UnicodeWhitespaceAroundTheVersionIsAccepted) {
    const Json nbsp =
        "\xc2\xa0"
        "1";
    const auto check = fedbiomed::check_protocol_version(&nbsp);
    EXPECT_EQ(check.verdict, VersionVerdict::pass);
    const Json ideographic =
        "\xe3\x80\x80"
        "1.0\xe2\x80\xa8";
    EXPECT_EQ(fedbiomed::check_protocol_version(&ideographic).verdict, VersionVerdict::pass);
    const Json decorated =
        "\xe2\x80\x89"
        "1.0rc1\xc2\x85";
    const auto warned = fedbiomed::check_protocol_version(&decorated);
    EXPECT_EQ(warned.verdict, VersionVerdict::warn);
    EXPECT_EQ(warned.warning, "Found version 1.0rc1, expected version 1" + kSee);
    EXPECT_EQ(fedbiomed::check_protocol_version(&nbsp,
                                                "\xe2\x80\x80"
                                                "1\xe2\x80\x80")
                  .verdict,
              VersionVerdict::pass);
    // Zero-width characters are not whitespace to Python: not a version.
    const Json zero_width =
        "\xe2\x80\x8b"
        "1";
    EXPECT_THROW(fedbiomed::check_protocol_version(&zero_width), InvalidVersionError);
}

TEST_F(VersionCheckTest, AbsentKeyCountsAsZero) {
    const VersionError error = expect_rejected(nullptr);
    EXPECT_EQ(error.code(), ErrorNumbers::FB104);
    EXPECT_NE(std::string(error.what()).find("protocol version 0 which"), std::string::npos);
    EXPECT_EQ(fedbiomed::check_protocol_version(nullptr, "0.0").verdict, VersionVerdict::pass);
}

TEST_F(VersionCheckTest, NonStringValueFailsWithFB625) {
    const Json number = 1;
    const VersionError error = expect_rejected(&number);
    EXPECT_EQ(error.code(), ErrorNumbers::FB625);
    EXPECT_FALSE(last_was_invalid_);
    EXPECT_STREQ(error.what(),
                 "FB625: Component version error: Component version has incorrect type `their_version` "
                 "type=number value=1");
    ASSERT_EQ(records().size(), 1u);
    EXPECT_EQ(records()[0].first, spdlog::level::err);

    for (const Json& value : {Json(nullptr), Json(true), Json(1.0), Json::array({"1"}), Json::object()}) {
        SCOPED_TRACE(value.dump());
        const VersionError other = expect_rejected(&value);
        EXPECT_EQ(other.code(), ErrorNumbers::FB625);
        EXPECT_FALSE(last_was_invalid_);
        EXPECT_NE(std::string(other.what()).find(std::string("type=") + value.type_name()),
                  std::string::npos);
    }
}

TEST_F(VersionCheckTest, HugeOrBrokenNonStringValueGivesAShortMessage) {
    Json big = Json::array();
    for (int i = 0; i < 10000; ++i) {
        big.push_back("1.0");
    }
    big.push_back(std::string("\xff\xfe"));  // not UTF-8: must not make the error report itself throw
    const VersionError error = expect_rejected(&big);
    EXPECT_EQ(error.code(), ErrorNumbers::FB625);
    EXPECT_LT(std::string(error.what()).size(), 400u);

    const Json bad_utf8 = Json::array({std::string("\xff")});
    const VersionError replaced = expect_rejected(&bad_utf8);
    EXPECT_EQ(replaced.code(), ErrorNumbers::FB625);
    EXPECT_NE(std::string(replaced.what()).find("value=[\"\\ufffd\"]"), std::string::npos) << replaced.what();
}

TEST_F(VersionCheckTest, UnparsableStringIsInvalid) {
    const Json their = "abc";
    const InvalidVersionError error = expect_rejected<InvalidVersionError>(&their);
    EXPECT_EQ(error.code(), ErrorNumbers::FB625);
    EXPECT_STREQ(error.what(),
                 "FB625: Component version error: invalid version string 'abc' (not a PEP 440 version)");

    const Json empty = "";
    EXPECT_THROW(fedbiomed::check_protocol_version(&empty), InvalidVersionError);
    // Our own version is checked too, even when theirs is of the wrong type (the reference parses both
    // strings before it checks types).
    const Json one = "1";
    EXPECT_THROW(fedbiomed::check_protocol_version(&one, "latest"), InvalidVersionError);
    const Json number = 1;
    EXPECT_THROW(fedbiomed::check_protocol_version(&number, "latest"), InvalidVersionError);
}

TEST_F(VersionCheckTest, CaughtAsFedbiomedError) {
    const Json their = "x";
    try {
        fedbiomed::check_protocol_version(&their);
        FAIL() << "no exception";
    } catch (const fedbiomed::FedbiomedError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB625);
    }
}

TEST_F(VersionCheckTest, MessageVersion) {
    EXPECT_EQ(fedbiomed::check_message_version(Json{{"command", "ping"}, {"protocol_version", "1"}}).verdict,
              VersionVerdict::pass);
    EXPECT_EQ(fedbiomed::check_message_version(Json{{"protocol_version", "1.0.post1"}}).verdict,
              VersionVerdict::warn);
    try {
        fedbiomed::check_message_version(Json{{"command", "ping"}});
        FAIL() << "no exception";
    } catch (const VersionError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB104);
        EXPECT_NE(std::string(error.what()).find("protocol version 0 which"), std::string::npos);
    }
    EXPECT_EQ(fedbiomed::check_message_version(Json{{"command", "ping"}}, "0").verdict, VersionVerdict::pass);
    for (const Json& not_object : {Json::array({"1"}), Json("1"), Json(nullptr), Json(1)}) {
        SCOPED_TRACE(not_object.dump());
        try {
            fedbiomed::check_message_version(not_object);
            FAIL() << "no exception";
        } catch (const VersionError& error) {
            EXPECT_EQ(error.code(), ErrorNumbers::FB625);
            EXPECT_EQ(dynamic_cast<const InvalidVersionError*>(&error), nullptr);
        }
    }
    EXPECT_THROW(fedbiomed::check_message_version(Json{{"protocol_version", Json::object()}}), VersionError);
    EXPECT_THROW(fedbiomed::check_message_version(Json{{"protocol_version", "one"}}), InvalidVersionError);
}

}  // namespace

// Error numbers and the exception hierarchy that carries them.
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>

#include <gtest/gtest.h>

#include <fedbiomed/errors.hpp>

namespace {

using fedbiomed::ErrorNumbers;
using fedbiomed::FedbiomedError;

static_assert(std::is_base_of_v<std::runtime_error, FedbiomedError>);
static_assert(std::is_base_of_v<FedbiomedError, fedbiomed::MessagingError>);
static_assert(std::is_base_of_v<FedbiomedError, fedbiomed::MessageError>);
static_assert(std::is_base_of_v<fedbiomed::MessageError, fedbiomed::DecodeError>);
static_assert(std::is_base_of_v<FedbiomedError, fedbiomed::VersionError>);
static_assert(std::is_base_of_v<fedbiomed::VersionError, fedbiomed::InvalidVersionError>);
static_assert(std::is_base_of_v<FedbiomedError, fedbiomed::LoggerError>);

TEST(ErrorNumbersTest, TableHasTheReferenceShape) {
    const auto& all = fedbiomed::all_error_numbers();
    ASSERT_EQ(all.size(), 82u);
    EXPECT_EQ(all.front(), ErrorNumbers::FB100);
    EXPECT_EQ(all.back(), ErrorNumbers::FB999);
    std::set<ErrorNumbers> unique(all.begin(), all.end());
    EXPECT_EQ(unique.size(), all.size());
    // Declaration order is numeric order in the reference.
    for (std::size_t i = 1; i < all.size(); ++i) {
        EXPECT_LT(static_cast<int>(all[i - 1]), static_cast<int>(all[i]));
    }
}

TEST(ErrorNumbersTest, CodeTextAndLookupsAgree) {
    for (const ErrorNumbers code : fedbiomed::all_error_numbers()) {
        const std::string short_code = "FB" + std::to_string(static_cast<int>(code));
        SCOPED_TRACE(short_code);
        EXPECT_EQ(fedbiomed::error_code(code), short_code);
        const std::string text(fedbiomed::error_text(code));
        EXPECT_EQ(text.rfind(short_code + ": ", 0), 0u);
        EXPECT_GT(text.size(), short_code.size() + 2);
        EXPECT_EQ(fedbiomed::error_from_text(text), code);
        EXPECT_EQ(fedbiomed::error_from_code(short_code), code);
    }
}

TEST(ErrorNumbersTest, ExactTexts) {
    EXPECT_EQ(fedbiomed::error_text(ErrorNumbers::FB101), "FB101: cannot connect to the messaging server");
    EXPECT_EQ(fedbiomed::error_text(ErrorNumbers::FB104), "FB104: message exchange error");
    EXPECT_EQ(fedbiomed::error_text(ErrorNumbers::FB301), "FB301: Protocol error");
    EXPECT_EQ(fedbiomed::error_text(ErrorNumbers::FB315), "FB315: Error while loading the data ");
    EXPECT_EQ(fedbiomed::error_text(ErrorNumbers::FB601), "FB601: message error");
    EXPECT_EQ(fedbiomed::error_text(ErrorNumbers::FB625), "FB625: Component version error");
    EXPECT_EQ(fedbiomed::error_text(ErrorNumbers::FB999), "FB999: unknown error code sent by the node");
}

TEST(ErrorNumbersTest, LookupsAreExact) {
    EXPECT_EQ(fedbiomed::error_from_text("FB315: Error while loading the data"), std::nullopt);  // no blank
    EXPECT_EQ(fedbiomed::error_from_text("fb301: protocol error"), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_text(" FB301: Protocol error"), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_text("FB301"), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_text(""), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_code("FB301: Protocol error"), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_code("fb301"), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_code("FB998"), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_code("FB"), std::nullopt);
    EXPECT_EQ(fedbiomed::error_from_code(""), std::nullopt);
}

template <class Error>
void expect_carries(ErrorNumbers code) {
    try {
        throw Error(code, "some detail");
    } catch (const FedbiomedError& error) {
        EXPECT_NE(dynamic_cast<const Error*>(&error), nullptr);
        EXPECT_EQ(error.code(), code);
        EXPECT_EQ(error.detail(), "some detail");
        EXPECT_EQ(std::string(error.what()), std::string(fedbiomed::error_text(code)) + ": some detail");
    }
}

TEST(FedbiomedErrorTest, EverySubclassIsCaughtAsFedbiomedError) {
    expect_carries<FedbiomedError>(ErrorNumbers::FB300);
    expect_carries<fedbiomed::MessagingError>(ErrorNumbers::FB101);
    expect_carries<fedbiomed::MessageError>(ErrorNumbers::FB601);
    expect_carries<fedbiomed::DecodeError>(ErrorNumbers::FB601);
    expect_carries<fedbiomed::VersionError>(ErrorNumbers::FB104);
    expect_carries<fedbiomed::InvalidVersionError>(ErrorNumbers::FB625);
    expect_carries<fedbiomed::LoggerError>(ErrorNumbers::FB602);
}

TEST(FedbiomedErrorTest, WhatStartsWithTheCodeText) {
    const fedbiomed::MessageError error(ErrorNumbers::FB601,
                                        "bad message type for format_incoming_message: x");
    EXPECT_STREQ(error.what(), "FB601: message error: bad message type for format_incoming_message: x");
    EXPECT_EQ(std::string(error.what()).rfind(std::string(fedbiomed::error_text(error.code())), 0), 0u);
}

TEST(FedbiomedErrorTest, EmptyDetailGivesTheBareText) {
    const fedbiomed::MessagingError error(ErrorNumbers::FB101, "");
    EXPECT_STREQ(error.what(), "FB101: cannot connect to the messaging server");
    EXPECT_TRUE(error.detail().empty());
}

TEST(FedbiomedErrorTest, DerivedErrorsAreCaughtByTheirBases) {
    EXPECT_THROW(throw fedbiomed::DecodeError(ErrorNumbers::FB601, "x"), fedbiomed::MessageError);
    EXPECT_THROW(throw fedbiomed::InvalidVersionError(ErrorNumbers::FB625, "x"), fedbiomed::VersionError);
    EXPECT_THROW(throw fedbiomed::LoggerError(ErrorNumbers::FB602, "x"), std::runtime_error);
    // Siblings do not catch each other.
    bool caught_as_message_error = false;
    try {
        throw fedbiomed::VersionError(ErrorNumbers::FB104, "x");
    } catch (const fedbiomed::MessageError&) {
        caught_as_message_error = true;
    } catch (const fedbiomed::VersionError&) {
    }
    EXPECT_FALSE(caught_as_message_error);
}

}  // namespace

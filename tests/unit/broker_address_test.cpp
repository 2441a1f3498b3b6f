// MessagingOptions::brokers: every spelling a user may write is read as meant, and every mistake is
// refused when the Messaging object is built (FB103 naming the entry), not at a failover hours later.
#include "broker_address.hpp"

#include <string>

#include <gtest/gtest.h>

#include "fedbiomed/errors.hpp"
#include "messaging_options_check.hpp"

namespace {

using fedbiomed::ErrorNumbers;
using fedbiomed::MessagingError;
using fedbiomed::MessagingOptions;
using fedbiomed::detail::broker_addresses;
using fedbiomed::detail::BrokerAddress;
using fedbiomed::detail::parse_broker_address;

struct Case {
    const char* text;
    const char* host;
    int port;
    bool tls;
};

TEST(BrokerAddress, EverySpellingIsReadAsMeant) {
    const Case cases[] = {
        {"broker.example", "broker.example", 1883, false},
        {"broker.example:8883", "broker.example", 8883, false},
        {"127.0.0.1:1884", "127.0.0.1", 1884, false},
        {"[::1]", "::1", 1883, false},
        {"[::1]:1999", "::1", 1999, false},
        {"::1", "::1", 1883, false},
        {"tcp://h:1", "h", 1, false},
        {"mqtt://h", "h", 1883, false},
        {"ssl://h:8883", "h", 8883, true},
        {"mqtts://[::1]:8883", "::1", 8883, true},
        {"tcp://h:65535/", "h", 65535, false},
    };
    for (const Case& c : cases) {
        const BrokerAddress address = parse_broker_address(c.text, 1883, false);
        EXPECT_EQ(address.host, c.host) << c.text;
        EXPECT_EQ(address.port, c.port) << c.text;
        EXPECT_EQ(address.tls, c.tls) << c.text;
    }
}

TEST(BrokerAddress, WithoutASchemeTlsAndPortFollowTheDefaults) {
    const BrokerAddress address = parse_broker_address("h", 8883, true);
    EXPECT_EQ(address.port, 8883);
    EXPECT_TRUE(address.tls);
    EXPECT_FALSE(parse_broker_address("tcp://h", 8883, true).tls);
}

TEST(BrokerAddress, DisplayBracketsIpv6AndNamesTls) {
    EXPECT_EQ(parse_broker_address("h:1", 1883, false).display(), "h:1");
    EXPECT_EQ(parse_broker_address("[::1]:2", 1883, false).display(), "[::1]:2");
    EXPECT_EQ(parse_broker_address("ssl://h:3", 1883, false).display(), "ssl://h:3");
}

TEST(BrokerAddress, MistakesAreRefusedNamingTheEntry) {
    const char* bad[] = {"",     "h:",     "h:0",  "h:65536", "h:12ab",  "h:123456",  "ws://h:1", "tcp://",
                         "[::1", "[::1]x", "[]:1", "h h",     "a:1,b:2", "h:1/topic", "user@h:1", ":1883"};
    for (const char* text : bad) {
        try {
            (void)parse_broker_address(text, 1883, false);
            ADD_FAILURE() << "accepted: '" << text << "'";
        } catch (const MessagingError& error) {
            EXPECT_EQ(error.code(), ErrorNumbers::FB103) << text;
            EXPECT_NE(error.detail().find(std::string("broker address '") + text + "'"), std::string::npos)
                << error.detail();
        }
    }
}

TEST(BrokerAddress, WithoutAListTheSingleBrokerAndPortAreUsed) {
    MessagingOptions options;
    options.broker = "[::1]";
    options.port = 1999;
    options.tls.enabled = true;
    const auto addresses = broker_addresses(options);
    ASSERT_EQ(addresses.size(), 1U);
    EXPECT_EQ(addresses[0].host, "::1");
    EXPECT_EQ(addresses[0].port, 1999);
    EXPECT_TRUE(addresses[0].tls);
}

TEST(BrokerAddress, AListReplacesTheSingleBrokerInItsOrder) {
    MessagingOptions options;
    options.broker = "ignored";
    options.port = 1884;
    options.brokers = {"a", "b:2", "ssl://c:3"};
    const auto addresses = broker_addresses(options);
    ASSERT_EQ(addresses.size(), 3U);
    EXPECT_EQ(addresses[0].display(), "a:1884");
    EXPECT_EQ(addresses[1].display(), "b:2");
    EXPECT_EQ(addresses[2].display(), "ssl://c:3");
}

TEST(BrokerAddress, TheOptionsCheckRefusesABadEntryAndTooLongAList) {
    MessagingOptions options;
    options.brokers = {"a:1", "b:x"};
    try {
        fedbiomed::detail::validate_options(options);
        ADD_FAILURE() << "accepted";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB103);
        EXPECT_NE(error.detail().find("invalid messaging options: broker address 'b:x'"), std::string::npos)
            << error.detail();
    }
    options.brokers.assign(65, "a:1");
    EXPECT_THROW(fedbiomed::detail::validate_options(options), MessagingError);
    options.brokers.assign(64, "a:1");
    options.broker.clear();  // unused with a list
    EXPECT_NO_THROW(fedbiomed::detail::validate_options(options));
}

}  // namespace

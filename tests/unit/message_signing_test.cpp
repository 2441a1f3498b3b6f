// Signed messages (MessagingOptions::signing), the pure logic: signing and checking through
// src/message_signing.hpp with keys made by openssl, the replay cache's bound (src/replay_guard.hpp), and the
// refusals of unusable keys and options. No broker: tests/integration/signed_messages_test.cpp has those.
#include "message_signing.hpp"

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/messaging.hpp>

#include "replay_guard.hpp"
#include "test_signing_keys.hpp"

namespace fbm_test {
namespace {

using fedbiomed::MessagingError;
using fedbiomed::SigningOptions;
using fedbiomed::detail::EndToEndTag;
using fedbiomed::detail::MessageSigning;
using fedbiomed::detail::ReplayGuard;
using fedbiomed::detail::SignatureProblem;
using fedbiomed::detail::SignatureTag;
using Freshness = MessageSigning::Freshness;

constexpr std::int64_t kNow = 1'800'000'000'000;  // ms since the epoch, fixed: no clock in these tests
const std::string kTopic = "general/researcher";
const std::string kPayload = R"({"researcher_id":"researcher_1","node_id":"node_a","command":"pong"})";

SigningOptions options_of(const TestSigningKeys& keys, const std::string& id, bool require_signed = false) {
    SigningOptions options;
    options.key_file = keys.key(id);
    options.trusted_keys = keys.trusted_dir();
    options.require_signed = require_signed;
    return options;
}

// What MessagingError says, or "" when @p make does not throw one.
template <class F>
std::string refusal_of(F&& make) {
    try {
        make();
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), fedbiomed::ErrorNumbers::FB103) << error.what();
        return error.what();
    }
    return {};
}

class MessageSigningTest : public ::testing::Test {
protected:
    void SetUp() override {
        keys.make("node_a");
        keys.make("researcher_1");
        keys.make("node_stranger", false);  // its public key is in nobody's directory
    }
    TestSigningKeys keys;
};

TEST_F(MessageSigningTest, AGenuineSignatureIsAcceptedAndNamesItsSigner) {
    const MessageSigning node(options_of(keys, "node_a"), "node_a");
    const MessageSigning researcher(options_of(keys, "researcher_1", true), "researcher_1");
    const SignatureTag signature = node.sign_at(kTopic, kPayload, std::nullopt, kNow);
    EXPECT_EQ(signature.algorithm, "fbm-ed25519-v1");
    EXPECT_EQ(signature.signer, "node_a");
    EXPECT_EQ(signature.nonce.size(), 32U);
    EXPECT_EQ(signature.signature.size(), 128U);
    const auto verdict =
        researcher.verify(kTopic, kPayload, std::nullopt, signature, {}, Freshness::fresh, kNow);
    EXPECT_EQ(verdict.problem, SignatureProblem::none) << verdict.detail;
    EXPECT_EQ(verdict.signer, "node_a");
    // With the end-to-end tag it was signed with, too.
    const EndToEndTag tag{"0123456789abcdef:4", "fedbiomed-messaging/ack/node/node_a"};
    const auto tagged = node.sign_at(kTopic, kPayload, tag, kNow);
    EXPECT_EQ(researcher.verify(kTopic, kPayload, tag, tagged, "node_a", Freshness::fresh, kNow).problem,
              SignatureProblem::none);
}

TEST_F(MessageSigningTest, EverySignedFieldIsCovered) {
    const MessageSigning node(options_of(keys, "node_a"), "node_a");
    const MessageSigning researcher(options_of(keys, "researcher_1"), "researcher_1");
    const EndToEndTag tag{"0123456789abcdef:4", "fedbiomed-messaging/ack/node/node_a"};
    const SignatureTag genuine = node.sign_at(kTopic, kPayload, tag, kNow);
    auto problem = [&](const std::string& topic, const std::string& payload, const EndToEndTag& t,
                       const SignatureTag& s) {
        return researcher.verify(topic, payload, t, s, {}, Freshness::fresh, kNow).problem;
    };
    std::string tampered_payload = kPayload;
    tampered_payload[tampered_payload.size() - 3] = 'X';
    EXPECT_EQ(problem(kTopic, tampered_payload, tag, genuine), SignatureProblem::invalid);
    EXPECT_EQ(problem("general/monitoring", kPayload, tag, genuine), SignatureProblem::invalid);
    EXPECT_EQ(problem(kTopic, kPayload, EndToEndTag{"0123456789abcdef:5", tag.ack_topic}, genuine),
              SignatureProblem::invalid);
    EXPECT_EQ(problem(kTopic, kPayload, EndToEndTag{tag.id, "fedbiomed-messaging/ack/node/node_b"}, genuine),
              SignatureProblem::invalid);
    SignatureTag later = genuine;
    later.timestamp = std::to_string(kNow + 1);
    EXPECT_EQ(problem(kTopic, kPayload, tag, later), SignatureProblem::invalid);
    SignatureTag other_nonce = genuine;
    other_nonce.nonce[0] = other_nonce.nonce[0] == '0' ? '1' : '0';
    EXPECT_EQ(problem(kTopic, kPayload, tag, other_nonce), SignatureProblem::invalid);
    SignatureTag other_signer = genuine;  // a trusted id, another key
    other_signer.signer = "researcher_1";
    EXPECT_EQ(problem(kTopic, kPayload, tag, other_signer), SignatureProblem::invalid);
    SignatureTag other_scheme = genuine;
    other_scheme.algorithm = "fbm-ed25519-v2";
    EXPECT_EQ(problem(kTopic, kPayload, tag, other_scheme), SignatureProblem::invalid);
    SignatureTag malformed = genuine;
    malformed.signature = malformed.signature.substr(2);
    EXPECT_EQ(problem(kTopic, kPayload, tag, malformed), SignatureProblem::invalid);
    malformed = genuine;
    malformed.timestamp = "12x";
    EXPECT_EQ(problem(kTopic, kPayload, tag, malformed), SignatureProblem::invalid);
    // None of the refusals above took the genuine signature's place in the replay cache.
    EXPECT_EQ(problem(kTopic, kPayload, tag, genuine), SignatureProblem::none);
}

TEST_F(MessageSigningTest, AnotherKeyCannotSignInATrustedComponentsName) {
    // node_stranger's own key, claiming to be node_a: the signature does not match node_a's key.
    auto forger_options = options_of(keys, "node_stranger");
    const MessageSigning forger(forger_options, "node_a");
    const MessageSigning researcher(options_of(keys, "researcher_1"), "researcher_1");
    const SignatureTag forged = forger.sign_at(kTopic, kPayload, std::nullopt, kNow);
    EXPECT_EQ(forged.signer, "node_a");
    EXPECT_EQ(researcher.verify(kTopic, kPayload, std::nullopt, forged, {}, Freshness::fresh, kNow).problem,
              SignatureProblem::invalid);
}

TEST_F(MessageSigningTest, ReplaysAndStaleSignaturesAreRefusedWhereFreshnessCounts) {
    const MessageSigning node(options_of(keys, "node_a"), "node_a");
    const MessageSigning researcher(options_of(keys, "researcher_1"), "researcher_1");
    const SignatureTag signature = node.sign_at(kTopic, kPayload, std::nullopt, kNow);
    auto check = [&](Freshness freshness, std::int64_t now) {
        return researcher.verify(kTopic, kPayload, std::nullopt, signature, {}, freshness, now).problem;
    };
    EXPECT_EQ(check(Freshness::fresh, kNow + 1000), SignatureProblem::none);
    EXPECT_EQ(check(Freshness::fresh, kNow + 2000), SignatureProblem::replayed);
    // Ten minutes (the default max_age) later: stale, whether replayed or not.
    EXPECT_EQ(check(Freshness::fresh, kNow + 600001), SignatureProblem::stale);
    // Signed more than a minute (max_clock_skew) ahead of our clock.
    EXPECT_EQ(check(Freshness::fresh, kNow - 60001), SignatureProblem::stale);
    // Presence records: authenticity only (retained state, delivered again at each subscription).
    EXPECT_EQ(check(Freshness::authentic_only, kNow + 86400000), SignatureProblem::none);
    EXPECT_EQ(check(Freshness::authentic_only, kNow + 86400000), SignatureProblem::none);
}

TEST_F(MessageSigningTest, UnsignedAndUnknownSignersAreRefusedOnlyWhenSignaturesAreRequired) {
    const MessageSigning stranger(options_of(keys, "node_stranger"), "node_stranger");
    const SignatureTag unknown = stranger.sign_at(kTopic, kPayload, std::nullopt, kNow);
    const MessageSigning lenient(options_of(keys, "researcher_1", false), "researcher_1");
    const MessageSigning strict(options_of(keys, "researcher_1", true), "researcher_1");
    auto lenient_verdict =
        lenient.verify(kTopic, kPayload, std::nullopt, std::nullopt, {}, Freshness::fresh, kNow);
    EXPECT_EQ(lenient_verdict.problem, SignatureProblem::none);
    EXPECT_TRUE(lenient_verdict.signer.empty());  // accepted as unsigned: no sender check to make
    lenient_verdict = lenient.verify(kTopic, kPayload, std::nullopt, unknown, {}, Freshness::fresh, kNow);
    EXPECT_EQ(lenient_verdict.problem, SignatureProblem::none);
    EXPECT_TRUE(lenient_verdict.signer.empty());
    EXPECT_EQ(strict.verify(kTopic, kPayload, std::nullopt, std::nullopt, {}, Freshness::fresh, kNow).problem,
              SignatureProblem::unsigned_message);
    EXPECT_EQ(strict.verify(kTopic, kPayload, std::nullopt, unknown, {}, Freshness::fresh, kNow).problem,
              SignatureProblem::unknown_signer);
}

TEST_F(MessageSigningTest, TheSignerMustBeTheExpectedSender) {
    const MessageSigning node(options_of(keys, "node_a"), "node_a");
    const MessageSigning researcher(options_of(keys, "researcher_1"), "researcher_1");
    const SignatureTag signature =
        node.sign_at("fedbiomed-messaging/ack/researcher/researcher_1/node_b", "x:1", std::nullopt, kNow);
    const auto verdict = researcher.verify("fedbiomed-messaging/ack/researcher/researcher_1/node_b", "x:1",
                                           std::nullopt, signature, "node_b", Freshness::fresh, kNow);
    EXPECT_EQ(verdict.problem, SignatureProblem::wrong_signer);
    EXPECT_NE(verdict.detail.find("node_a"), std::string::npos) << verdict.detail;
}

TEST_F(MessageSigningTest, OurOwnKeyIsAlwaysTrusted) {
    keys.make("node_untrusted", false);
    const MessageSigning own(options_of(keys, "node_untrusted", true), "node_untrusted");
    const SignatureTag signature = own.sign_at(kTopic, kPayload, std::nullopt, kNow);
    EXPECT_EQ(own.verify(kTopic, kPayload, std::nullopt, signature, "node_untrusted",
                         Freshness::authentic_only, kNow)
                  .problem,
              SignatureProblem::none);
}

TEST_F(MessageSigningTest, UnusableKeysAreRefusedNamingTheFile) {
    SigningOptions options = options_of(keys, "node_a");
    options.key_file = keys.directory() + "/missing.key";
    std::string what = refusal_of([&] { MessageSigning signing(options, "node_a"); });
    EXPECT_NE(what.find("missing.key"), std::string::npos) << what;

    const std::string not_a_key = keys.directory() + "/not_a_key.pem";
    std::ofstream(not_a_key) << "hello\n";
    options.key_file = not_a_key;
    what = refusal_of([&] { MessageSigning signing(options, "node_a"); });
    EXPECT_NE(what.find("not_a_key.pem"), std::string::npos) << what;

    // A public key where the private one is expected.
    options.key_file = keys.trusted_dir() + "/node_a.pem";
    what = refusal_of([&] { MessageSigning signing(options, "node_a"); });
    EXPECT_NE(what.find("node_a.pem"), std::string::npos) << what;

    options = options_of(keys, "node_a");
    options.trusted_keys = keys.directory() + "/no_such_dir";
    what = refusal_of([&] { MessageSigning signing(options, "node_a"); });
    EXPECT_NE(what.find("no_such_dir"), std::string::npos) << what;

    // A file of the trusted directory that is not a public key; then one not named by a component id.
    std::ofstream(keys.trusted_dir() + "/node_broken.pem") << "-----BEGIN PUBLIC KEY-----\nAAAA\n";
    what = refusal_of([&] { MessageSigning signing(options_of(keys, "node_a"), "node_a"); });
    EXPECT_NE(what.find("node_broken.pem"), std::string::npos) << what;
    std::remove((keys.trusted_dir() + "/node_broken.pem").c_str());
    std::ofstream(keys.trusted_dir() + "/README.txt") << "ignored: not a .pem file\n";
    EXPECT_EQ(refusal_of([&] { MessageSigning signing(options_of(keys, "node_a"), "node_a"); }), "");
}

TEST_F(MessageSigningTest, TheOptionsThatCannotWorkAreRefusedAtConstruction) {
    fedbiomed::MessagingOptions options;
    options.signing.require_signed = true;  // without a key of our own
    std::string what = refusal_of(
        [&] { fedbiomed::Messaging m(nullptr, fedbiomed::ComponentType::node, "node_a", options); });
    EXPECT_NE(what.find("signing.key_file"), std::string::npos) << what;
    options = fedbiomed::MessagingOptions{};
    options.signing.key_file = keys.key("node_a");
    options.mqtt_version = fedbiomed::MqttVersion::v3_1_1;
    what = refusal_of(
        [&] { fedbiomed::Messaging m(nullptr, fedbiomed::ComponentType::node, "node_a", options); });
    EXPECT_NE(what.find("MQTT 5"), std::string::npos) << what;
    options.mqtt_version = fedbiomed::MqttVersion::automatic;
    options.signing.key_file = keys.directory() + "/absent.key";
    what = refusal_of(
        [&] { fedbiomed::Messaging m(nullptr, fedbiomed::ComponentType::node, "node_a", options); });
    EXPECT_NE(what.find("absent.key"), std::string::npos) << what;
}

// What signing costs per publication, recorded (not asserted): the CPU time of sign() and of verify() with
// the replay check, for a ping-sized payload and a 64 KiB one. docs/security.md quotes the ci preset's.
TEST_F(MessageSigningTest, RecordsTheCostPerPublication) {
    const MessageSigning node(options_of(keys, "node_a"), "node_a");
    SigningOptions researcher_options = options_of(keys, "researcher_1");
    researcher_options.replay_cache_capacity = 1000000;
    const MessageSigning researcher(researcher_options, "researcher_1");
    for (const std::size_t size : {kPayload.size(), std::size_t{65536}}) {
        const std::string payload = size == kPayload.size() ? kPayload : std::string(size, 'x');
        constexpr int kRounds = 2000;
        std::vector<SignatureTag> signatures;
        signatures.reserve(kRounds);
        const auto cpu = [] { return std::clock(); };
        const auto signing_began = cpu();
        for (int i = 0; i < kRounds; ++i) {
            signatures.push_back(node.sign_at(kTopic, payload, std::nullopt, kNow + i));
        }
        const auto verifying_began = cpu();
        for (int i = 0; i < kRounds; ++i) {
            ASSERT_EQ(researcher
                          .verify(kTopic, payload, std::nullopt, signatures[static_cast<std::size_t>(i)], {},
                                  Freshness::fresh, kNow + i)
                          .problem,
                      SignatureProblem::none);
        }
        const auto ended = cpu();
        const double sign_us =
            1e6 * static_cast<double>(verifying_began - signing_began) / CLOCKS_PER_SEC / kRounds;
        const double verify_us =
            1e6 * static_cast<double>(ended - verifying_began) / CLOCKS_PER_SEC / kRounds;
        const std::string name = "payload_" + std::to_string(size);
        RecordProperty(name + "_sign_us", std::to_string(sign_us));
        RecordProperty(name + "_verify_us", std::to_string(verify_us));
        std::printf("signing cost, %zu-byte payload: sign %.1f us, verify %.1f us (CPU per publication)\n",
                    size, sign_us, verify_us);
    }
}

// The replay cache never holds more than its capacity, and never lets a replay through for it: what it
// forgot for room is refused as stale.
TEST(ReplayGuard, StaysWithinItsCapacityWithoutAcceptingAReplay) {
    ReplayGuard guard(
        ReplayGuard::Window{std::chrono::milliseconds(600000), std::chrono::milliseconds(60000), 100});
    auto nonce_of = [](std::uint32_t i) {
        ReplayGuard::Nonce nonce{};
        for (std::size_t b = 0; b < 4; ++b) {
            nonce[b] = static_cast<std::uint8_t>(i >> (8U * b));
        }
        return nonce;
    };
    for (std::uint32_t i = 0; i < 1000; ++i) {
        EXPECT_EQ(guard.check(kNow + i, nonce_of(i), kNow + 1000), ReplayGuard::Verdict::fresh) << i;
        EXPECT_LE(guard.size(), 100U);
    }
    EXPECT_EQ(guard.size(), 100U);
    // Every one of them again: the 100 remembered are replays, the 900 forgotten are stale; none is fresh.
    for (std::uint32_t i = 0; i < 1000; ++i) {
        const auto verdict = guard.check(kNow + i, nonce_of(i), kNow + 1000);
        EXPECT_EQ(verdict, i < 900 ? ReplayGuard::Verdict::stale : ReplayGuard::Verdict::replayed) << i;
    }
    // A new signature after the oldest remembered is still accepted.
    EXPECT_EQ(guard.check(kNow + 1000, nonce_of(5000), kNow + 1000), ReplayGuard::Verdict::fresh);
}

TEST(ReplayGuard, ForgetsWhatLeftTheWindow) {
    ReplayGuard guard(
        ReplayGuard::Window{std::chrono::milliseconds(1000), std::chrono::milliseconds(0), 1000});
    ReplayGuard::Nonce nonce{};
    for (std::uint8_t i = 0; i < 10; ++i) {
        nonce[0] = i;
        EXPECT_EQ(guard.check(kNow, nonce, kNow), ReplayGuard::Verdict::fresh);
    }
    EXPECT_EQ(guard.size(), 10U);
    nonce[0] = 200;
    EXPECT_EQ(guard.check(kNow + 1500, nonce, kNow + 1500), ReplayGuard::Verdict::fresh);
    EXPECT_EQ(guard.size(), 1U);  // the ten older ones are out of the window: refused as stale, not kept
    nonce[0] = 3;
    EXPECT_EQ(guard.check(kNow, nonce, kNow + 1500), ReplayGuard::Verdict::stale);
    EXPECT_EQ(guard.check(kNow + 1501, nonce, kNow + 1500), ReplayGuard::Verdict::stale);  // ahead, no skew
}

}  // namespace
}  // namespace fbm_test

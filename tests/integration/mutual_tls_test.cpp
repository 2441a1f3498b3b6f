// Mutual TLS against a real Mosquitto whose TLS listener requires a client certificate and takes its
// Common Name as the user name, with certificates made by the test (openssl): a valid certificate
// connects; no certificate, an expired one, one of another CA, a broker certificate for another host name
// and a component id that is not the certificate's identity are each refused at once with an FB101 that
// names the cause; verify_server = false is the only way past the host check, and warns at each connection.
#include <chrono>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include <fedbiomed/logger.hpp>
#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"
#include "test_pki.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ErrorNumbers;
using fedbiomed::Messaging;
using fedbiomed::MessagingError;
using fedbiomed::MessagingOptions;
using Clock = std::chrono::steady_clock;

// A Mosquitto whose second listener is mutual TLS (its first, plain one lets the test observe traffic).
std::unique_ptr<MosquittoBroker> mutual_tls_broker(const TestPki& pki, const CertificateFiles& broker_cert) {
    MosquittoBroker::Options options;
    options.tls_listener = true;
    options.tls_listener_config = {"cafile " + pki.ca(), "certfile " + broker_cert.cert,
                                   "keyfile " + broker_cert.key, "require_certificate true",
                                   "use_identity_as_username true"};
    return std::make_unique<MosquittoBroker>(options);
}

MessagingOptions tls_options(const MosquittoBroker& broker, const TestPki& pki,
                             const CertificateFiles* client) {
    MessagingOptions options = quiet_options(broker);
    options.port = broker.tls_port();
    options.tls.enabled = true;
    options.tls.ca_file = pki.ca();
    if (client != nullptr) {
        options.tls.cert_file = client->cert;
        options.tls.key_file = client->key;
    }
    return options;
}

// start()'s FB101 text; the time it took is recorded as a property (no timing assertion).
std::string refusal(Messaging& messaging, const char* property) {
    const auto begin = Clock::now();
    try {
        messaging.start();
    } catch (const MessagingError& error) {
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
        ::testing::Test::RecordProperty(property, static_cast<int>(took.count()));
        EXPECT_EQ(error.code(), ErrorNumbers::FB101) << error.what();
        EXPECT_TRUE(messaging.is_failed());
        return error.what();
    }
    ADD_FAILURE() << "start() succeeded";
    return {};
}

// Keeps the library's log lines of WARNING and above.
class WarningSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    std::vector<std::string> lines() {
        std::lock_guard<std::mutex> lock(mutex_);
        return lines_;
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (msg.level >= spdlog::level::warn) {
            lines_.emplace_back(msg.payload.data(), msg.payload.size());
        }
    }
    void flush_() override {}

private:
    std::vector<std::string> lines_;
};

TEST(MutualTls, AClientCertificateOfTheFederationConnectsAndExchangesMessages) {
    TestPki pki;
    const auto broker = mutual_tls_broker(pki, pki.broker());
    const std::string id = "node_mtls_" + unique_suffix();
    const auto cert = pki.client(id);
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, id, tls_options(*broker, pki, &cert));
    node.start();
    ASSERT_TRUE(node.is_connected());
    RawClient peer(*broker, {"general/researcher"});
    peer.publish("general/" + id, R"({"protocol_version": "1", "command": "ping"})");
    ASSERT_TRUE(recorder.wait_messages(1));
    ASSERT_TRUE(node.send_error(ErrorNumbers::FB301, "over mutual tls").wait_for(kWait));
    ASSERT_TRUE(peer.wait_for_count(1));
    EXPECT_NE(peer.messages()[0].payload.find("over mutual tls"), std::string::npos);
    // The broker knows the component by its certificate's identity.
    EXPECT_NE(broker->log().find("u'" + id + "'"), std::string::npos) << broker->log();
}

TEST(MutualTls, AnEncryptedKeyWorksWithItsPassword) {
    TestPki pki;
    const auto broker = mutual_tls_broker(pki, pki.broker());
    const std::string id = "node_key_" + unique_suffix();
    auto cert = pki.client(id);
    cert.key = pki.encrypted_key(cert, "s3cret pass");
    auto options = tls_options(*broker, pki, &cert);
    options.tls.key_password = "s3cret pass";
    Messaging node(nullptr, ComponentType::node, id, options);
    node.start();
    EXPECT_TRUE(node.is_connected());
}

TEST(MutualTls, NoClientCertificateIsRefusedNamingTheCause) {
    TestPki pki;
    const auto broker = mutual_tls_broker(pki, pki.broker());
    Messaging node(nullptr, ComponentType::node, "node_nocert", tls_options(*broker, pki, nullptr));
    const std::string what = refusal(node, "refused_after_ms");
    EXPECT_NE(what.find("the broker requires a client certificate"), std::string::npos) << what;
}

TEST(MutualTls, AClientCertificateOfAnotherCaIsRefusedNamingTheCause) {
    TestPki pki;
    const auto broker = mutual_tls_broker(pki, pki.broker());
    const auto cert = pki.client_of_other_ca("node_rogue");
    Messaging node(nullptr, ComponentType::node, "node_rogue", tls_options(*broker, pki, &cert));
    const std::string what = refusal(node, "refused_after_ms");
    EXPECT_NE(
        what.find("the broker refused our client certificate: it is not issued by a CA the broker trusts"),
        std::string::npos)
        << what;
}

TEST(MutualTls, AnExpiredClientCertificateIsRefusedNamingItsDate) {
    TestPki pki;
    const auto broker = mutual_tls_broker(pki, pki.broker());
    const auto cert = pki.expired_client("node_old");
    Messaging node(nullptr, ComponentType::node, "node_old", tls_options(*broker, pki, &cert));
    const std::string what = refusal(node, "refused_after_ms");
    EXPECT_NE(what.find("the client certificate " + cert.cert + " expired on Jan  2 00:00:00 2020 GMT"),
              std::string::npos)
        << what;
    // Refused before any connection: the broker never saw it.
    EXPECT_EQ(broker->log().find("u'node_old'"), std::string::npos);
}

TEST(MutualTls, AComponentIdThatIsNotTheCertificateIdentityFailsStartNamingBoth) {
    TestPki pki;
    const auto broker = mutual_tls_broker(pki, pki.broker());
    const auto cert = pki.client("node_A");
    Messaging node(nullptr, ComponentType::node, "node_B", tls_options(*broker, pki, &cert));
    const std::string what = refusal(node, "refused_after_ms");
    EXPECT_NE(what.find("has CN 'node_A' but the component id is 'node_B'"), std::string::npos) << what;

    // Another attribute can be named, or the check turned off (a broker mapping identities otherwise).
    auto options = tls_options(*broker, pki, &cert);
    options.tls.identity_attribute = "";
    Messaging unchecked(nullptr, ComponentType::node, "node_B", options);
    unchecked.start();
    EXPECT_TRUE(unchecked.is_connected());
    options.tls.identity_attribute = "nonsense attribute";
    Messaging misconfigured(nullptr, ComponentType::node, "node_A", options);
    EXPECT_NE(refusal(misconfigured, "refused_after_ms").find("is not a certificate subject attribute"),
              std::string::npos);
}

TEST(MutualTls, ABrokerCertificateForAnotherHostIsRefusedUnlessVerificationIsOffWhichWarns) {
    TestPki pki;
    const auto broker = mutual_tls_broker(pki, pki.broker_for_another_host());
    const std::string id = "node_host_" + unique_suffix();
    const auto cert = pki.client(id);
    auto options = tls_options(*broker, pki, &cert);
    options.reconnect.min_delay = std::chrono::milliseconds(20);
    options.reconnect.max_delay = std::chrono::milliseconds(100);
    Messaging verifying(nullptr, ComponentType::node, id, options);
    const std::string what = refusal(verifying, "refused_after_ms");
    EXPECT_NE(what.find("the broker's certificate is not issued for 127.0.0.1 (host name mismatch"),
              std::string::npos)
        << what;

    auto sink = std::make_shared<WarningSink>();
    fedbiomed::add_log_sink(sink);
    options.tls.verify_server = false;
    {
        Messaging trusting(nullptr, ComponentType::node, id, options);
        trusting.start();
        ASSERT_TRUE(trusting.is_connected());
        // Every connection warns, reconnections included.
        broker->restart();
        EXPECT_TRUE(wait_until(
            [&] {
                std::size_t count = 0;
                for (const auto& line : sink->lines()) {
                    count += line.find("WITHOUT verifying the broker's certificate") != std::string::npos
                                 ? 1U
                                 : 0U;
                }
                return count >= 2;
            },
            kWait));
    }
    fedbiomed::remove_log_sink(sink);
}

}  // namespace
}  // namespace fbm_test

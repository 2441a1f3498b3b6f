// start() against brokers that refuse, are down, unknown, silent, slow, or speak TLS: each failure is an
// FB101 MessagingError that says which, within the deadline, without a busy loop.
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"
#include <sys/stat.h>
#include <unistd.h>

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Messaging;
using fedbiomed::MessagingError;
using fedbiomed::MessagingOptions;

constexpr const char* kFb101 = "FB101: cannot connect to the messaging server: ";

// Runs start() and returns the FB101 text; records a failure if start() succeeds or throws anything else.
std::string start_failure(Messaging& messaging) {
    try {
        messaging.start();
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB101) << error.what();
        const std::string what = error.what();
        EXPECT_EQ(what.rfind(kFb101, 0), 0U) << what;
        EXPECT_FALSE(messaging.is_connected());
        EXPECT_TRUE(messaging.is_failed());
        return what;
    } catch (const std::exception& error) {
        ADD_FAILURE() << "unexpected exception: " << error.what();
        return {};
    }
    ADD_FAILURE() << "start() succeeded";
    return {};
}

// A broker that only accepts user "alice" with password "secret".
MosquittoBroker::Options password_broker_options(const std::string& dir) {
    write_password_file(dir + "/passwords", "alice", "secret");
    MosquittoBroker::Options options;
    options.extra_config = {"allow_anonymous false", "password_file " + dir + "/passwords"};
    return options;
}

std::string make_temp_dir() {
    char pattern[] = "/tmp/fbm-test-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    return pattern;
}

struct TempDir {
    std::string path = make_temp_dir();
    ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
};

TEST(MessagingConnect, BrokerDownIsAnFb101SayingConnectionRefused) {
    Messaging node(nullptr, ComponentType::node, "node_down", options_for(free_loopback_port()));
    const std::string what = start_failure(node);
    EXPECT_NE(what.find("refused the TCP connection"), std::string::npos) << what;
    EXPECT_NE(what.find("connection refused"), std::string::npos) << what;
    // A send after the failure fails clearly instead of being dropped silently.
    EXPECT_EQ(node.send_error(ErrorNumbers::FB300).state(), fedbiomed::Delivery::State::failed);
}

TEST(MessagingConnect, UnknownHostIsAnFb101SayingUnknownHost) {
    auto options = options_for(1883);
    // The empty label makes the resolver fail locally: no DNS query leaves the machine.
    options.broker = "fbm-unknown-host..invalid";
    Messaging node(nullptr, ComponentType::node, "node_nohost", options);
    const std::string what = start_failure(node);
    EXPECT_NE(what.find("unknown host fbm-unknown-host..invalid"), std::string::npos) << what;
}

TEST(MessagingConnect, AnonymousClientOnAPasswordBrokerIsNotAuthorised) {
    TempDir dir;
    MosquittoBroker broker(password_broker_options(dir.path));
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_anon", options_for(broker));
    const std::string what = start_failure(researcher);
    EXPECT_NE(what.find("broker 127.0.0.1:" + std::to_string(broker.port()) +
                        " refused the connection: not authorised (CONNACK reason code 135)"),
              std::string::npos)
        << what;
}

TEST(MessagingConnect, WrongPasswordIsRefusedAndTheRightOneConnects) {
    TempDir dir;
    MosquittoBroker broker(password_broker_options(dir.path));
    auto options = options_for(broker);
    options.username = "alice";
    options.password = "wrong";
    Messaging wrong(nullptr, ComponentType::node, "node_wrong", options);
    const std::string what = start_failure(wrong);
    // Mosquitto 2.0 answers a bad password with "not authorised" (MQTT 5: 135) rather than "bad user name
    // or password"; a refusal in MQTT 5 terms is final, not a reason to try MQTT 3.1.1.
    EXPECT_NE(what.find("refused the connection"), std::string::npos) << what;
    EXPECT_NE(what.find("(CONNACK reason code 135)"), std::string::npos) << what;
    EXPECT_EQ(what.find("MQTT 3.1.1"), std::string::npos) << what;

    options.password = "secret";
    Messaging right(nullptr, ComponentType::node, "node_right", options);
    right.start();
    EXPECT_TRUE(right.is_connected());
}

TEST(MessagingConnect, Mqtt5RefusalNamesTheReasonCode) {
    TempDir dir;
    MosquittoBroker broker(password_broker_options(dir.path));
    auto options = options_for(broker);
    options.mqtt_version = fedbiomed::MqttVersion::v5;
    Messaging node(nullptr, ComponentType::node, "node_v5_anon", options);
    const std::string what = start_failure(node);
    EXPECT_NE(what.find("not authorised (CONNACK reason code 135)"), std::string::npos) << what;
}

TEST(MessagingConnect, ABrokerThatClosesAnMqtt5ConnectionIsSpokenToInMqtt311) {
    // RabbitMQ 3.10 closes a connection whose CONNECT asks for MQTT 5; the default version
    // (MqttVersion::automatic) then tries MQTT 3.1.1 at once, on the same attempt.
    FakeBroker broker(FakeBroker::Mode::mqtt311_only, 1);
    auto options = options_for(broker.port());
    options.presence = false;
    Messaging node(nullptr, ComponentType::node, "node_fallback", options);
    node.start();
    EXPECT_TRUE(node.is_connected());
    EXPECT_EQ(broker.refused_mqtt5(), 1);
    EXPECT_EQ(node.stats().connection_attempts, 1U);
    // No end-to-end acknowledgement without MQTT 5: nobody to wait for.
    EXPECT_TRUE(node.end_to_end_peers().empty());
    node.stop();
}

TEST(MessagingConnect, EveryConnackRefusalCodeIsNamed) {
    const std::vector<std::pair<std::uint8_t, std::string>> codes = {
        {1, "unacceptable protocol version (CONNACK 1)"},
        {2, "client identifier rejected (CONNACK 2)"},
        {3, "server unavailable (CONNACK 3)"},
        {4, "bad user name or password (CONNACK 4)"},
        {5, "not authorised (CONNACK 5)"},
    };
    for (const auto& [code, text] : codes) {
        FakeBroker fake(FakeBroker::Mode::connack, code);
        Messaging node(nullptr, ComponentType::node, "node_connack", options_for(fake.port()));
        const std::string what = start_failure(node);
        EXPECT_NE(what.find("refused the connection: " + text), std::string::npos) << what;
    }
}

TEST(MessagingConnect, SilentBrokerIsATimeout) {
    FakeBroker fake(FakeBroker::Mode::silent);
    auto options = options_for(fake.port());
    options.connect_timeout = std::chrono::milliseconds(300);
    Messaging node(nullptr, ComponentType::node, "node_silent", options);
    const std::string what = start_failure(node);
    EXPECT_NE(what.find("did not answer within 300 ms (timeout)"), std::string::npos) << what;
    EXPECT_EQ(fake.accepted(), 1);
}

TEST(MessagingConnect, ALateConnackAfterTheDeadlineConnectsNothing) {
    FakeBroker fake(FakeBroker::Mode::delayed_connack, 0, std::chrono::milliseconds(800));
    auto options = options_for(fake.port());
    options.connect_timeout = std::chrono::milliseconds(200);
    Messaging node(nullptr, ComponentType::node, "node_late", options);
    const std::string what = start_failure(node);
    EXPECT_NE(what.find("(timeout)"), std::string::npos) << what;
    // When the broker finally answers, the attempt was already abandoned: the socket is closed.
    ASSERT_TRUE(wait_until([&] { return fake.answered() == 1; }, kWait));
    EXPECT_EQ(fake.gone_before_answer(), 1);
    EXPECT_FALSE(node.is_connected());
    EXPECT_TRUE(node.is_failed());
}

TEST(MessagingConnect, StartSucceedsOnceTheBrokerIsBack) {
    MosquittoBroker broker;
    broker.stop();
    Recorder recorder;
    const std::string id = "node_back";
    Messaging node(recorder.handler(), ComponentType::node, id, options_for(broker));
    const std::string what = start_failure(node);
    EXPECT_NE(what.find("connection refused"), std::string::npos) << what;
    broker.start();
    node.start();
    EXPECT_TRUE(node.is_connected());
    EXPECT_FALSE(node.is_failed());
    RawClient peer(broker);
    peer.publish("general/" + id, R"({"protocol_version": "1", "command": "ping"})");
    EXPECT_TRUE(recorder.wait_messages(1));
}

TEST(MessagingConnect, TlsToAPlainListenerIsAnFb101AboutTls) {
    const int port = test_broker().port();
    auto options = options_for(port);
    options.tls.enabled = true;
    options.connect_timeout = std::chrono::milliseconds(3000);
    Messaging node(nullptr, ComponentType::node, "node_tls_plain", options);
    const std::string what = start_failure(node);
    EXPECT_NE(what.find("TLS connection to 127.0.0.1:" + std::to_string(port) + " failed"), std::string::npos)
        << what;
}

// A self-signed certificate for 127.0.0.1 (its own CA), made with the openssl command.
void make_certificate(const std::string& dir, const std::string& name) {
    const auto result =
        run_program({FBM_OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem",
                     "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                    kWait);
    ASSERT_EQ(result.status, 0) << result.out << result.err;
}

TEST(MessagingConnect, TlsListenerWithTheRightCaWorksAndAWrongCaIsRefused) {
    TempDir dir;
    make_certificate(dir.path, "server");
    make_certificate(dir.path, "other");
    const int tls_port = free_loopback_port();
    MosquittoBroker::Options broker_options;
    broker_options.extra_config = {"listener " + std::to_string(tls_port) + " 127.0.0.1",
                                   "certfile " + dir.path + "/server.pem",
                                   "keyfile " + dir.path + "/server.key"};
    MosquittoBroker broker(broker_options);

    auto options = options_for(broker);
    options.port = tls_port;
    options.tls.enabled = true;
    options.tls.ca_file = dir.path + "/server.pem";
    Recorder recorder;
    const std::string id = "node_tls";
    Messaging node(recorder.handler(), ComponentType::node, id, options);
    node.start();
    ASSERT_TRUE(node.is_connected());
    // Traffic crosses listeners: a plain client sees what the TLS client sends, and the reverse.
    RawClient peer(broker, {"general/researcher"});
    peer.publish("general/" + id, R"({"protocol_version": "1", "command": "ping"})");
    ASSERT_TRUE(recorder.wait_messages(1));
    ASSERT_TRUE(node.send_error(ErrorNumbers::FB301, "over tls").wait_for(kWait));
    ASSERT_TRUE(peer.wait_for_count(1));
    EXPECT_NE(peer.messages()[0].payload.find("over tls"), std::string::npos);

    options.tls.ca_file = dir.path + "/other.pem";
    Messaging untrusting(nullptr, ComponentType::node, "node_tls_wrong_ca", options);
    const std::string what = start_failure(untrusting);
    EXPECT_NE(what.find("TLS connection to 127.0.0.1:" + std::to_string(tls_port) + " failed"),
              std::string::npos)
        << what;
}

}  // namespace
}  // namespace fbm_test

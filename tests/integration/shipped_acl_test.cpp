// The Mosquitto configuration and ACL shipped in docs/deploy/, loaded as they are (only the certificate
// paths and the port are the test's): each node is confined to its own topics by its certificate's
// identity. Node A receives nothing sent to general/node_B, cannot publish a request on general/nodes,
// and cannot overwrite node B's presence record; the researcher and the nodes still do their work.
#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "shipped_config.hpp"
#include "test_helpers.hpp"
#include "test_pki.hpp"

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::Delivery;
using fedbiomed::Json;
using fedbiomed::Messaging;
using fedbiomed::MessagingOptions;

const std::string kDeployDir = FBM_DEPLOY_DIR;

class ShippedAcl : public ::testing::Test {
protected:
    ShippedAcl() : broker_(shipped_broker_options(kDeployDir, pki_, pki_.broker())) {}

    MessagingOptions options_for_identity(const std::string& identity, fedbiomed::MqttVersion version) {
        certificates_.push_back(pki_.client(identity));
        MessagingOptions options = quiet_options(broker_);
        options.port = broker_.tls_port();
        options.mqtt_version = version;
        options.tls.enabled = true;
        options.tls.ca_file = pki_.ca();
        options.tls.cert_file = certificates_.back().cert;
        options.tls.key_file = certificates_.back().key;
        return options;
    }

    // mosquitto_pub or mosquitto_sub as @p identity (its certificate), MQTT 5, with @p args.
    RunResult mosquitto_client(const char* binary, const std::string& identity,
                               std::vector<std::string> args) {
        const CertificateFiles cert = pki_.client(identity);
        std::vector<std::string> argv = {
            binary,     "-h",      "127.0.0.1", "-p",      std::to_string(broker_.tls_port()),
            "--cafile", pki_.ca(), "--cert",    cert.cert, "--key",
            cert.key,   "-V",      "5",         "-d"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_program(argv, kWait);
    }

    TestPki pki_;
    MosquittoBroker broker_;
    std::vector<CertificateFiles> certificates_;
};

Json request(int sequence) {
    return ping("researcher_1", sequence);
}

TEST_F(ShippedAcl, ANodeReceivesNothingSentToAnotherNodeAndCannotBroadcastRequests) {
    Recorder researcher_inbox;
    Recorder inbox_a;
    Recorder inbox_b;
    Messaging researcher(researcher_inbox.handler(), ComponentType::researcher, "researcher_1",
                         options_for_identity("researcher_1", fedbiomed::MqttVersion::v5));
    // Node A speaks MQTT 5, so that the broker says "not authorised" instead of dropping silently.
    Messaging node_a(inbox_a.handler(), ComponentType::node, "node_A",
                     options_for_identity("node_A", fedbiomed::MqttVersion::v5));
    node_a.set_fault_handler(inbox_a.fault_handler());
    Messaging node_b(inbox_b.handler(), ComponentType::node, "node_B",
                     options_for_identity("node_B", fedbiomed::MqttVersion::v3_1_1));
    researcher.start();
    node_a.start();
    node_b.start();

    // A request for node B reaches B and not A; the next one, for A, shows that A's inbox is up to date.
    ASSERT_TRUE(researcher.send_message(request(1), "node_B").wait_for(kWait));
    ASSERT_TRUE(inbox_b.wait_messages(1));
    ASSERT_TRUE(researcher.send_message(request(2), "node_A").wait_for(kWait));
    ASSERT_TRUE(inbox_a.wait_messages(1));
    for (const auto& message : inbox_a.messages()) {
        EXPECT_EQ(message.second, "general/node_A");
        EXPECT_EQ(message.first.at("sequence"), 2);
    }

    // Node A publishing a request on general/nodes: refused by the broker, reported naming the topic.
    const Delivery forged = node_a.send_message(request(3), "nodes");
    ASSERT_TRUE(forged.wait_for(kWait));
    EXPECT_EQ(forged.state(), Delivery::State::failed);
    EXPECT_NE(forged.error().find("general/nodes"), std::string::npos) << forged.error();
    EXPECT_TRUE(inbox_a.wait_faults(1));
    bool reported = false;
    for (const auto& fault : inbox_a.faults()) {
        reported = reported ||
                   (fault.topic == "general/nodes" && fault.message.find("not authori") != std::string::npos);
    }
    EXPECT_TRUE(reported);
    // The researcher's broadcast after it is the first thing B gets on general/nodes.
    ASSERT_TRUE(researcher.send_message(request(4)).wait_for(kWait));
    ASSERT_TRUE(inbox_b.wait_messages(2));
    EXPECT_EQ(inbox_b.messages()[1].first.at("sequence"), 4);
    EXPECT_EQ(inbox_b.messages().size(), 2U);

    // Replies still flow: node B's reply reaches the researcher.
    ASSERT_TRUE(
        node_b.send_error(fedbiomed::ErrorNumbers::FB301, "still heard", "researcher_1").wait_for(kWait));
    EXPECT_TRUE(researcher_inbox.wait_messages(1));
}

TEST_F(ShippedAcl, ANodeCannotOverwriteAnotherNodesPresence) {
    Messaging researcher(nullptr, ComponentType::researcher, "researcher_1",
                         options_for_identity("researcher_1", fedbiomed::MqttVersion::v3_1_1));
    Messaging node_b(nullptr, ComponentType::node, "node_B",
                     options_for_identity("node_B", fedbiomed::MqttVersion::v3_1_1));
    researcher.start();
    node_b.start();
    ASSERT_TRUE(
        wait_until([&] { return researcher.online_nodes() == std::vector<std::string>{"node_B"}; }, kWait));

    const std::string topic = "fedbiomed-messaging/presence/node/node_B";
    const RunResult forged = mosquitto_client(
        FBM_MOSQUITTO_PUB_BINARY, "node_A", {"-q", "1", "-r", "-t", topic, "-m", "{\"state\": \"offline\"}"});
    // MQTT 5 PUBACK reason code 135: not authorized.
    EXPECT_NE(forged.out.find("RC:135"), std::string::npos) << forged.out << forged.err;
    EXPECT_NE(broker_.log().find("Denied PUBLISH"), std::string::npos);

    // What a researcher subscribing now gets is still node B's own record.
    const RunResult read =
        mosquitto_client(FBM_MOSQUITTO_SUB_BINARY, "researcher_1", {"-C", "1", "-W", "5", "-t", topic});
    EXPECT_NE(read.out.find("\"online\""), std::string::npos) << read.out << read.err;
    EXPECT_EQ(read.out.find("{\"state\": \"offline\"}"), std::string::npos) << read.out;
    EXPECT_EQ(researcher.online_nodes(), std::vector<std::string>{"node_B"});
}

}  // namespace
}  // namespace fbm_test

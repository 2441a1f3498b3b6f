// fbm-node and fbm-researcher over mutual TLS, on a Mosquitto configured with the files shipped in
// docs/deploy/ (mosquitto-mtls.conf and fedbiomed.acl): the federation works, with every component
// confined to its own topics; passwords come from files, never from the command line or the output.
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "fedbiomed/json.hpp"
#include "mosquitto_broker.hpp"
#include "shipped_config.hpp"
#include "test_pki.hpp"

namespace {

using fbm_test::ChildProcess;
using fbm_test::RunResult;
using std::chrono::milliseconds;

constexpr milliseconds kReady{20000};
constexpr milliseconds kProgramRun{60000};

std::string describe(const RunResult& result) {
    return "exit " + (result.status ? std::to_string(*result.status) : std::string("none (killed)")) +
           "\n--- stdout ---\n" + result.out + "--- stderr ---\n" + result.err;
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    ASSERT_TRUE(static_cast<bool>(out)) << path;
}

std::set<std::string> replying_nodes(const std::string& out) {
    std::set<std::string> ids;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        ids.insert(fedbiomed::deserialize_msg(line).at("node_id").get<std::string>());
    }
    return ids;
}

class SecureFederation : public ::testing::Test {
protected:
    SecureFederation() : broker_(fbm_test::shipped_broker_options(FBM_DEPLOY_DIR, pki_, pki_.broker())) {}

    // --broker/--port of the TLS listener and the --tls-* options of @p identity's certificate.
    std::vector<std::string> secure_args(const std::string& identity,
                                         const fbm_test::CertificateFiles& cert) {
        return {"--broker",   "127.0.0.1", "--port",    std::to_string(broker_.tls_port()),
                "--id",       identity,    "--tls-ca",  pki_.ca(),
                "--tls-cert", cert.cert,   "--tls-key", cert.key};
    }

    std::unique_ptr<ChildProcess> start_node(std::vector<std::string> args, const std::string& datasets) {
        args.insert(args.begin(), FBM_NODE_BINARY);
        args.insert(args.end(), {"--datasets", std::string(FBM_EXAMPLES_DATA_DIR) + "/" + datasets});
        auto node = std::make_unique<ChildProcess>(args);
        EXPECT_TRUE(node->wait_for_stdout("waiting for requests", kReady))
            << node->command_line() << "\n--- stdout ---\n"
            << node->out() << "--- stderr ---\n"
            << node->err();
        return node;
    }

    fbm_test::TestPki pki_;
    fbm_test::MosquittoBroker broker_;
};

TEST_F(SecureFederation, NodesAndResearcherRunOverMutualTlsWithTheShippedAcl) {
    const auto cert_a = pki_.client("node_A");
    auto cert_b = pki_.client("node_B");
    // Node B's key is encrypted; its password comes from a file.
    const std::string key_password = "node B key pass";
    cert_b.key = pki_.encrypted_key(cert_b, key_password);
    const std::string password_file = pki_.directory() + "/node_B.keypass";
    write_file(password_file, key_password + "\n");
    auto node_a = start_node(secure_args("node_A", cert_a), "hospital_a.json");
    auto args_b = secure_args("node_B", cert_b);
    args_b.insert(args_b.end(), {"--tls-key-password-file", password_file});
    auto node_b = start_node(args_b, "hospital_b.json");

    const auto cert_r = pki_.client("researcher_1");
    std::vector<std::string> ping = secure_args("researcher_1", cert_r);
    ping.insert(ping.begin(), FBM_RESEARCHER_BINARY);
    ping.insert(ping.end(), {"ping", "--nodes", "2", "--timeout", "30"});
    const RunResult pinged = fbm_test::run_program(ping, kProgramRun);
    ASSERT_EQ(pinged.status, 0) << describe(pinged);
    EXPECT_EQ(replying_nodes(pinged.out), (std::set<std::string>{"node_A", "node_B"})) << describe(pinged);

    std::vector<std::string> list = secure_args("researcher_1", cert_r);
    list.insert(list.begin(), FBM_RESEARCHER_BINARY);
    list.insert(list.end(), {"list", "--nodes", "2", "--timeout", "30"});
    const RunResult listed = fbm_test::run_program(list, kProgramRun);
    ASSERT_EQ(listed.status, 0) << describe(listed);
    // The nodes' forwarded logs reach the researcher too (general/logger is allowed).
    EXPECT_NE(listed.err.find("[node_A]"), std::string::npos) << describe(listed);

    // The password is in no output, and the broker knew each component by its certificate.
    EXPECT_EQ(node_b->out().find(key_password), std::string::npos);
    EXPECT_EQ(node_b->err().find(key_password), std::string::npos);
    const std::string log = broker_.log();
    for (const char* identity : {"u'node_A'", "u'node_B'", "u'researcher_1'"}) {
        EXPECT_NE(log.find(identity), std::string::npos) << identity;
    }
}

TEST_F(SecureFederation, ANodeStartedWithAnotherNodesCertificateExitsOneNamingBoth) {
    const auto cert_a = pki_.client("node_A");
    std::vector<std::string> argv = secure_args("node_B", cert_a);
    argv.insert(argv.begin(), FBM_NODE_BINARY);
    const RunResult result = fbm_test::run_program(argv, kProgramRun);
    EXPECT_EQ(result.status, 1) << describe(result);
    EXPECT_NE(result.err.find("has CN 'node_A' but the component id is 'node_B'"), std::string::npos)
        << describe(result);
}

TEST(ProgramsSecurityUsage, APasswordOnTheCommandLineIsRefusedAndHelpDocumentsTheFiles) {
    for (const char* program : {FBM_NODE_BINARY, FBM_RESEARCHER_BINARY}) {
        const RunResult refused = fbm_test::run_program(
            {program, "--id", "x_1", "--username", "u", "--password", "secret", "ping"}, kProgramRun);
        EXPECT_EQ(refused.status, 2) << describe(refused);
        EXPECT_NE(refused.err.find("use --password-file FILE or the environment variable FBM_PASSWORD"),
                  std::string::npos)
            << describe(refused);
        const RunResult help = fbm_test::run_program({program, "--help"}, kProgramRun);
        for (const char* option :
             {"--tls-ca FILE", "--tls-cert FILE", "--tls-key FILE", "--tls-key-password-file FILE",
              "--username USER", "--password-file", "FBM_PASSWORD"}) {
            EXPECT_NE(help.out.find(option), std::string::npos) << program << " --help lacks " << option;
        }
    }
}

TEST(ProgramsSecurityUsage, APasswordFileLogsInAndItsContentIsNeverPrinted) {
    fbm_test::TestPki scratch;  // a temporary directory for the password files
    const std::string dir = scratch.directory();
    fbm_test::write_password_file(dir + "/passwords", "alice", "pw-from-file");
    fbm_test::MosquittoBrokerOptions options;
    options.extra_config = {"allow_anonymous false", "password_file " + dir + "/passwords"};
    fbm_test::MosquittoBroker broker(options);
    write_file(dir + "/good", "pw-from-file\n");
    write_file(dir + "/bad", "wrong-password\n");
    const std::vector<std::string> base = {FBM_RESEARCHER_BINARY,
                                           "--broker",
                                           "127.0.0.1",
                                           "--port",
                                           std::to_string(broker.port()),
                                           "--id",
                                           "researcher_pw",
                                           "--username",
                                           "alice",
                                           "--password-file"};
    auto good = base;
    good.insert(good.end(), {dir + "/good", "ping", "--timeout", "1"});
    const RunResult accepted = fbm_test::run_program(good, kProgramRun);
    EXPECT_EQ(accepted.status, 0) << describe(accepted);
    auto bad = base;
    bad.insert(bad.end(), {dir + "/bad", "ping", "--timeout", "1"});
    const RunResult refused = fbm_test::run_program(bad, kProgramRun);
    EXPECT_EQ(refused.status, 1) << describe(refused);
    EXPECT_NE(refused.err.find("FB101"), std::string::npos) << describe(refused);
    EXPECT_EQ(refused.err.find("wrong-password"), std::string::npos) << describe(refused);
    auto missing = base;
    missing.insert(missing.end(), {dir + "/none", "ping"});
    const RunResult unreadable = fbm_test::run_program(missing, kProgramRun);
    EXPECT_EQ(unreadable.status, 1) << describe(unreadable);
    EXPECT_NE(unreadable.err.find("cannot read the password file " + dir + "/none"), std::string::npos)
        << describe(unreadable);
}

}  // namespace

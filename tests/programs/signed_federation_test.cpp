// fbm-node and fbm-researcher with signed messages (--signing-key, --trusted-keys, --require-signed), keys
// made by openssl: a ping answered by signed nodes, a node whose key the researcher does not trust left
// unheard, and the usage and key-file errors.
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "fedbiomed/json.hpp"
#include "mosquitto_broker.hpp"
#include "test_signing_keys.hpp"

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

std::set<std::string> replying_nodes(const std::string& out) {
    std::set<std::string> ids;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        ids.insert(fedbiomed::deserialize_msg(line).at("node_id").get<std::string>());
    }
    return ids;
}

class SignedFederation : public ::testing::Test {
protected:
    std::vector<std::string> signed_args(const std::string& program, const std::string& id) {
        return {program,
                "--broker",
                "127.0.0.1",
                "--port",
                std::to_string(broker_.port()),
                "--id",
                id,
                "--signing-key",
                keys_.key(id),
                "--trusted-keys",
                keys_.trusted_dir(),
                "--require-signed"};
    }

    std::unique_ptr<ChildProcess> start_node(const std::string& id) {
        auto args = signed_args(FBM_NODE_BINARY, id);
        args.insert(args.end(), {"--datasets", std::string(FBM_EXAMPLES_DATA_DIR) + "/hospital_a.json"});
        auto node = std::make_unique<ChildProcess>(args);
        EXPECT_TRUE(node->wait_for_stdout("waiting for requests", kReady))
            << node->command_line() << "\n--- stdout ---\n"
            << node->out() << "--- stderr ---\n"
            << node->err();
        return node;
    }

    fbm_test::TestSigningKeys keys_;
    fbm_test::MosquittoBroker broker_;
};

TEST_F(SignedFederation, SignedNodesAnswerAPingAndAnUntrustedOneIsNotHeard) {
    keys_.make("node_A");
    keys_.make("node_B");
    keys_.make("node_X", false);  // signs with a key nobody trusts
    keys_.make("researcher_1");
    auto node_a = start_node("node_A");
    auto node_b = start_node("node_B");
    auto node_x = start_node("node_X");  // requires signatures too, and trusts the researcher: it answers

    // Three nodes asked for, two can be heard: the ping waits out its timeout and says so.
    auto ping = signed_args(FBM_RESEARCHER_BINARY, "researcher_1");
    ping.insert(ping.end(), {"ping", "--nodes", "3", "--timeout", "5"});
    const RunResult pinged = fbm_test::run_program(ping, kProgramRun);
    EXPECT_EQ(replying_nodes(pinged.out), (std::set<std::string>{"node_A", "node_B"})) << describe(pinged);
    // Node X's pong (and its presence record) were refused as signed by an unknown signer.
    EXPECT_NE(pinged.err.find("FB104"), std::string::npos) << describe(pinged);
    EXPECT_NE(pinged.err.find("unknown signer"), std::string::npos) << describe(pinged);

    // Exit 3: fewer nodes than asked for answered in time (node X did answer, and was not heard).
    EXPECT_EQ(pinged.status, 3) << describe(pinged);
}

TEST(ProgramsSigningUsage, HelpDocumentsTheOptionsAndBadCombinationsOrKeysAreRefused) {
    fbm_test::TestSigningKeys keys;
    for (const char* program : {FBM_NODE_BINARY, FBM_RESEARCHER_BINARY}) {
        const RunResult help = fbm_test::run_program({program, "--help"}, kProgramRun);
        for (const char* option : {"--signing-key FILE", "--trusted-keys DIR", "--require-signed"}) {
            EXPECT_NE(help.out.find(option), std::string::npos) << program << " --help lacks " << option;
        }
        const bool researcher = std::string(program) == FBM_RESEARCHER_BINARY;
        auto with_request = [&](std::vector<std::string> args) {
            if (researcher) {
                args.insert(args.end(), {"ping", "--timeout", "1"});
            }
            return args;
        };
        const RunResult usage =
            fbm_test::run_program(with_request({program, "--id", "x_1", "--require-signed"}), kProgramRun);
        EXPECT_EQ(usage.status, 2) << describe(usage);
        EXPECT_NE(usage.err.find("--require-signed needs --signing-key"), std::string::npos)
            << describe(usage);
        const std::string missing = keys.directory() + "/absent.key";
        const RunResult bad_key = fbm_test::run_program(
            with_request({program, "--id", "x_1", "--signing-key", missing}), kProgramRun);
        EXPECT_EQ(bad_key.status, 1) << describe(bad_key);
        EXPECT_NE(bad_key.err.find("FB103"), std::string::npos) << describe(bad_key);
        EXPECT_NE(bad_key.err.find(missing), std::string::npos) << describe(bad_key);
    }
}

}  // namespace

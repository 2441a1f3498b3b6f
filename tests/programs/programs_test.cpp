// fbm-node and fbm-researcher end to end, as separate processes, against a real Mosquitto.
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "fedbiomed/errors.hpp"
#include "fedbiomed/json.hpp"
#include "fedbiomed/library_version.hpp"
#include "fedbiomed/messaging.hpp"
#include "mosquitto_broker.hpp"
#include "test_broker.hpp"
#include <signal.h>

namespace {

using fbm_test::ChildProcess;
using fbm_test::RunResult;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using std::chrono::milliseconds;

constexpr milliseconds kReady{20000};       // a node connects and subscribes
constexpr milliseconds kProgramRun{60000};  // a researcher that should return early
const std::string data_dir = FBM_EXAMPLES_DATA_DIR;

std::string test_name() {
    return ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

// Ids unique to the test, so that nothing from another test of the process can match.
std::string id(const std::string& prefix) {
    return prefix + "_" + test_name();
}

std::vector<Json> json_lines(const std::string& text) {
    std::vector<Json> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        Json parsed = fedbiomed::deserialize_msg(line);
        // Each line is exactly the reference's encoding of the message it holds.
        EXPECT_EQ(fedbiomed::serialize_msg(parsed), line);
        lines.push_back(std::move(parsed));
    }
    return lines;
}

std::set<std::string> node_ids(const std::vector<Json>& replies) {
    std::set<std::string> ids;
    for (const auto& reply : replies) {
        ids.insert(reply.at("node_id").get<std::string>());
    }
    return ids;
}

std::string describe(const RunResult& result) {
    return "exit " + (result.status ? std::to_string(*result.status) : std::string("none (killed)")) +
           "\n--- stdout ---\n" + result.out + "--- stderr ---\n" + result.err;
}

/// A researcher made with the library itself: publishes raw requests and records what arrives.
class TestResearcher {
public:
    TestResearcher(const std::string& researcher_id, const fbm_test::MosquittoBroker& broker)
        : TestResearcher(researcher_id, broker.port()) {}

    /// On the test broker: on the next node of a cluster.
    TestResearcher(const std::string& researcher_id, fbm_test::TestBroker& broker)
        : TestResearcher(researcher_id, broker.port()) {}

    TestResearcher(const std::string& researcher_id, int port)
        : bus_([this](const Json& msg, const std::string& topic) { record(msg, topic); },
               fedbiomed::ComponentType::researcher, researcher_id, "127.0.0.1", port) {
        bus_.start();
    }

    ~TestResearcher() { bus_.stop(); }

    void publish(const Json& msg) {
        const fedbiomed::Delivery delivery = bus_.send_message(msg);
        ASSERT_TRUE(delivery.wait_for(milliseconds(10000)));
        ASSERT_TRUE(delivery.delivered()) << delivery.error();
    }

    /// Waits for an `error` message satisfying @p pred and returns it (null on timeout); it is consumed.
    template <class Pred>
    Json wait_error_where(Pred pred, milliseconds timeout = milliseconds(20000)) {
        std::unique_lock<std::mutex> lock(mutex_);
        Json found;
        // A returned message is consumed, so that a later wait needs a later message.
        changed_.wait_for(lock, timeout, [&] {
            for (auto it = errors_.begin(); it != errors_.end(); ++it) {
                if (pred(*it)) {
                    found = std::move(*it);
                    errors_.erase(it);
                    return true;
                }
            }
            return false;
        });
        return found;
    }

    /// Waits for an `error` message whose extra_msg is @p extra_msg and returns it (null on timeout).
    Json wait_error(const std::string& extra_msg) {
        return wait_error_where([&](const Json& msg) { return msg.value("extra_msg", "") == extra_msg; });
    }

private:
    void record(const Json& msg, const std::string& topic) {
        if (topic != "general/researcher" || msg.value("command", "") != "error") {
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            errors_.push_back(msg);
        }
        changed_.notify_all();
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<Json> errors_;
    fedbiomed::Messaging bus_;
};

class ProgramsTest : public ::testing::Test {
protected:
    /// The test broker (Mosquitto, or the RabbitMQ cluster in the cluster run, where each program of a
    /// test gets the next node).
    fbm_test::TestBroker& broker() { return fbm_test::test_broker(); }

    /// The port a program connects to: @p on's, or the test broker's next node.
    std::string port_for(fbm_test::MosquittoBroker* on) {
        return std::to_string(on != nullptr ? on->port() : broker().port());
    }

    /// Starts fbm-node and waits until it says it is connected and subscribed.
    std::unique_ptr<ChildProcess> start_node(const std::string& node_id, const std::string& datasets = "",
                                             fbm_test::MosquittoBroker* on = nullptr) {
        std::vector<std::string> argv = {FBM_NODE_BINARY, "--broker", "127.0.0.1", "--port",
                                         port_for(on),    "--id",     node_id};
        if (!datasets.empty()) {
            argv.insert(argv.end(), {"--datasets", data_dir + "/" + datasets});
        }
        auto node = std::make_unique<ChildProcess>(argv);
        const bool ready = node->wait_for_stdout("waiting for requests", kReady);
        EXPECT_TRUE(ready) << node->command_line() << "\n--- stdout ---\n"
                           << node->out() << "--- stderr ---\n"
                           << node->err();
        return node;
    }

    std::vector<std::string> researcher_argv(const std::string& researcher_id, std::vector<std::string> args,
                                             fbm_test::MosquittoBroker* on = nullptr) {
        std::vector<std::string> argv = {FBM_RESEARCHER_BINARY, "--broker", "127.0.0.1",  "--port",
                                         port_for(on),          "--id",     researcher_id};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }

    RunResult researcher(const std::string& researcher_id, std::vector<std::string> args) {
        return fbm_test::run_program(researcher_argv(researcher_id, std::move(args)), kProgramRun);
    }
};

// ----------------------------------------------------------------------------------------------------
// Command lines
// ----------------------------------------------------------------------------------------------------

TEST(ProgramsUsage, HelpExitsZeroAndPrintsUsage) {
    for (const char* program : {FBM_NODE_BINARY, FBM_RESEARCHER_BINARY}) {
        for (const char* flag : {"--help", "-h"}) {
            const RunResult result = fbm_test::run_program({program, flag}, kProgramRun);
            EXPECT_EQ(result.status, 0) << program << ' ' << flag << '\n' << describe(result);
            EXPECT_NE(result.out.find("Usage: "), std::string::npos) << describe(result);
            EXPECT_NE(result.out.find("--broker HOST"), std::string::npos) << describe(result);
            EXPECT_TRUE(result.err.empty()) << describe(result);
        }
    }
}

TEST(ProgramsUsage, VersionExitsZeroAndPrintsTheLibraryAndProtocolVersions) {
    const struct {
        const char* binary;
        std::string name;
    } programs[] = {{FBM_NODE_BINARY, "fbm-node"}, {FBM_RESEARCHER_BINARY, "fbm-researcher"}};
    for (const auto& program : programs) {
        // As with --help, what follows --version on the command line is not parsed.
        for (const std::vector<std::string>& argv :
             {std::vector<std::string>{program.binary, "--version"},
              std::vector<std::string>{program.binary, "--id", "x1", "--version", "--port", "0"}}) {
            const RunResult result = fbm_test::run_program(argv, kProgramRun);
            EXPECT_EQ(result.status, 0) << describe(result);
            EXPECT_EQ(result.out, program.name + " (fedbiomed-messaging) " FEDBIOMED_MESSAGING_VERSION_STRING
                                                 "\nFed-BioMed messaging protocol version 1\n")
                << describe(result);
            EXPECT_TRUE(result.err.empty()) << describe(result);
        }
    }
    const RunResult with_value = fbm_test::run_program({FBM_NODE_BINARY, "--version=2"}, kProgramRun);
    EXPECT_EQ(with_value.status, 2) << describe(with_value);
    EXPECT_NE(with_value.err.find("option --version takes no value"), std::string::npos)
        << describe(with_value);
}

TEST(ProgramsUsage, BadUsageExitsTwoWithAClearMessage) {
    const std::string node = FBM_NODE_BINARY;
    const std::string researcher = FBM_RESEARCHER_BINARY;
    const struct {
        std::vector<std::string> argv;
        std::string message;
    } cases[] = {
        {{node}, "missing --id NODE_ID"},
        {{node, "--id", "n1", "--port", "0"}, "option --port: '0' is out of range [1, 65535]"},
        {{node, "--id", "n1", "--port"}, "option --port needs a value"},
        {{node, "--id", "n1", "--frobnicate"}, "unknown option '--frobnicate'"},
        {{node, "--id", "general/x"}, "option --id: FB103"},
        {{node, "--id", "n1", "extra"}, "unexpected argument 'extra'"},
        {{node, "--id", "n1", "--broker", "a:1,,b:2"}, "option --broker: empty broker in 'a:1,,b:2'"},
        {{node, "--id", "n1", "--broker", "a:1,b:99999"},
         "option --broker: FB103: messaging call error: broker address 'b:99999'"},
        {{researcher, "--id", "r1", "--broker", "ws://a:1", "ping"}, "option --broker: FB103"},
        {{researcher, "ping"}, "missing --id RESEARCHER_ID"},
        {{researcher, "--id", "r1"}, "missing request: ping, list or search TAG..."},
        {{researcher, "--id", "r1", "train"}, "unknown request 'train'"},
        {{researcher, "--id", "r1", "search"}, "search needs at least one TAG"},
        {{researcher, "--id", "r1", "ping", "extra"}, "unexpected argument 'extra' after ping"},
        {{researcher, "--id", "r1", "ping", "--timeout", "soon"},
         "option --timeout: expected a number of seconds"},
        {{researcher, "--id", "r1", "ping", "--nodes", "0"}, "option --nodes: '0' is out of range"},
        {{researcher, "--id", "r1", "list", "--sequence", "3"}, "--sequence only applies to ping"},
    };
    for (const auto& c : cases) {
        const RunResult result = fbm_test::run_program(c.argv, kProgramRun);
        std::string line;
        for (const auto& arg : c.argv) {
            line += arg + ' ';
        }
        EXPECT_EQ(result.status, 2) << line << '\n' << describe(result);
        EXPECT_NE(result.err.find(c.message), std::string::npos) << line << '\n' << describe(result);
        EXPECT_NE(result.err.find("--help"), std::string::npos) << line << '\n' << describe(result);
        EXPECT_TRUE(result.out.empty()) << line << '\n' << describe(result);
    }
}

TEST(ProgramsUsage, NodeRefusesAnUnusableDatasetsFile) {
    const RunResult result = fbm_test::run_program(
        {FBM_NODE_BINARY, "--id", "n1", "--datasets", "/nonexistent/datasets.json"}, kProgramRun);
    EXPECT_EQ(result.status, 1) << describe(result);
    EXPECT_NE(result.err.find("/nonexistent/datasets.json: cannot open the datasets file"), std::string::npos)
        << describe(result);
}

TEST(ProgramsUsage, UnreachableBrokerExitsOneWithFb101) {
    const std::string port = std::to_string(fbm_test::free_loopback_port());
    for (const std::vector<std::string>& argv :
         {std::vector<std::string>{FBM_NODE_BINARY, "--broker", "127.0.0.1", "--port", port, "--id", "n1"},
          std::vector<std::string>{FBM_RESEARCHER_BINARY, "--broker", "127.0.0.1", "--port", port, "--id",
                                   "r1", "ping"}}) {
        const RunResult result = fbm_test::run_program(argv, kProgramRun);
        EXPECT_EQ(result.status, 1) << argv[0] << '\n' << describe(result);
        EXPECT_NE(result.err.find("FB101"), std::string::npos) << describe(result);
    }
}

// ----------------------------------------------------------------------------------------------------
// Request / reply rounds
// ----------------------------------------------------------------------------------------------------

TEST_F(ProgramsTest, PingReturnsOnePongPerNodeWithOurSequence) {
    const std::string a = id("node_a");
    const std::string b = id("node_b");
    const std::string c = id("node_c");
    auto node_a = start_node(a, "hospital_a.json");
    auto node_b = start_node(b, "hospital_b.json");
    auto node_c = start_node(c);
    const std::string rid = id("researcher");

    const RunResult result =
        researcher(rid, {"ping", "--nodes", "3", "--timeout", "30", "--sequence", "4242"});
    ASSERT_EQ(result.status, 0) << describe(result);
    const std::vector<Json> replies = json_lines(result.out);
    ASSERT_EQ(replies.size(), 3U) << describe(result);
    for (const auto& reply : replies) {
        EXPECT_EQ(reply.at("protocol_version"), "1");
        EXPECT_EQ(reply.at("command"), "pong");
        EXPECT_EQ(reply.at("researcher_id"), rid);
        EXPECT_EQ(reply.at("sequence"), 4242);
        EXPECT_EQ(reply.at("success"), true);
    }
    EXPECT_EQ(node_ids(replies), (std::set<std::string>{a, b, c}));
    EXPECT_NE(result.err.find("ping: 3 of 3 node(s) answered"), std::string::npos) << describe(result);
}

TEST_F(ProgramsTest, WithoutNodesTheResearcherWaitsTheTimeoutAndExitsZero) {
    auto node = start_node(id("node_a"));
    const RunResult result = researcher(id("researcher"), {"ping", "--timeout", "2"});
    EXPECT_EQ(result.status, 0) << describe(result);
    EXPECT_EQ(json_lines(result.out).size(), 1U) << describe(result);
}

TEST_F(ProgramsTest, FewerNodesThanExpectedExitsThree) {
    auto node = start_node(id("node_a"));
    const RunResult result = researcher(id("researcher"), {"ping", "--nodes", "2", "--timeout", "2"});
    EXPECT_EQ(result.status, 3) << describe(result);
    const std::vector<Json> replies = json_lines(result.out);
    ASSERT_EQ(replies.size(), 1U) << describe(result);
    EXPECT_EQ(replies[0].at("node_id"), id("node_a"));
    EXPECT_NE(result.err.find("ping: 1 of 2 node(s) answered"), std::string::npos) << describe(result);
}

TEST_F(ProgramsTest, ListReturnsEveryDatasetWithoutPathAndDtypes) {
    const std::string a = id("node_a");
    const std::string c = id("node_c");
    auto node_a = start_node(a, "hospital_a.json");
    auto node_c = start_node(c);
    const std::string rid = id("researcher");

    const RunResult result = researcher(rid, {"list", "--nodes", "2", "--timeout", "30"});
    ASSERT_EQ(result.status, 0) << describe(result);
    const std::vector<Json> replies = json_lines(result.out);
    ASSERT_EQ(replies.size(), 2U) << describe(result);
    for (const auto& reply : replies) {
        EXPECT_EQ(reply.at("command"), "list");
        EXPECT_EQ(reply.at("researcher_id"), rid);
        EXPECT_EQ(reply.at("success"), true);
        EXPECT_EQ(reply.at("count"), reply.at("databases").size());
        if (reply.at("node_id") == a) {
            ASSERT_EQ(reply.at("databases").size(), 2U);
            EXPECT_EQ(reply.at("databases")[0].at("name"), "Heart disease (Cleveland)");
            EXPECT_EQ(reply.at("databases")[1].at("dataset_id"),
                      "dataset_8df99e94-71ec-4905-94d5-079f7473aeb5");
            for (const auto& database : reply.at("databases")) {
                EXPECT_FALSE(database.contains("path"));
                EXPECT_FALSE(database.contains("dtypes"));
                EXPECT_TRUE(database.contains("shape"));
            }
        } else {
            EXPECT_EQ(reply.at("node_id"), c);
            EXPECT_EQ(reply.at("databases"), Json::array());
        }
    }
}

TEST_F(ProgramsTest, SearchIsAnsweredOnlyByNodesHoldingEveryTag) {
    const std::string a = id("node_a");
    const std::string b = id("node_b");
    auto node_a = start_node(a, "hospital_a.json");
    auto node_b = start_node(b, "hospital_b.json");
    auto node_c = start_node(id("node_c"), "hospital_c.json");
    const std::string rid = id("researcher");

    RunResult result = researcher(rid, {"search", "heart-disease", "--nodes", "2", "--timeout", "30"});
    ASSERT_EQ(result.status, 0) << describe(result);
    std::vector<Json> replies = json_lines(result.out);
    ASSERT_EQ(replies.size(), 2U) << describe(result);
    EXPECT_EQ(node_ids(replies), (std::set<std::string>{a, b}));
    for (const auto& reply : replies) {
        EXPECT_EQ(reply.at("command"), "search");
        EXPECT_EQ(reply.at("count"), 1);
        const Json& database = reply.at("databases")[0];
        EXPECT_FALSE(database.contains("path"));
        EXPECT_TRUE(database.contains("dtypes"));  // search keeps dtypes, list drops them
        EXPECT_NE(database.at("tags").dump().find("heart-disease"), std::string::npos);
    }

    // Every tag must be present: only node A has "heart-disease" with "cleveland".
    result = researcher(rid, {"search", "heart-disease", "cleveland", "--nodes", "1", "--timeout", "30"});
    ASSERT_EQ(result.status, 0) << describe(result);
    replies = json_lines(result.out);
    ASSERT_EQ(replies.size(), 1U) << describe(result);
    EXPECT_EQ(replies[0].at("node_id"), a);
}

TEST_F(ProgramsTest, SearchForATagNobodyHasGetsNoReply) {
    auto node_a = start_node(id("node_a"), "hospital_a.json");
    auto node_c = start_node(id("node_c"), "hospital_c.json");
    const RunResult result =
        researcher(id("researcher"), {"search", "covid-19", "--nodes", "1", "--timeout", "1"});
    EXPECT_EQ(result.status, 3) << describe(result);
    EXPECT_TRUE(result.out.empty()) << describe(result);
}

TEST_F(ProgramsTest, RepliesToAnotherResearcherAreNotPrinted) {
    auto node = start_node(id("node_a"), "hospital_a.json");
    // A second researcher's replies land on the same topic; ours only counts its own.
    ChildProcess other(researcher_argv(id("other"), {"list", "--timeout", "30"}));
    ASSERT_TRUE(other.wait_for_stdout("\"command\": \"list\"", kReady)) << other.err();
    const RunResult result = researcher(id("researcher"), {"ping", "--nodes", "1", "--timeout", "30"});
    ASSERT_EQ(result.status, 0) << describe(result);
    const std::vector<Json> replies = json_lines(result.out);
    ASSERT_EQ(replies.size(), 1U) << describe(result);
    EXPECT_EQ(replies[0].at("command"), "pong");
    other.send_signal(SIGINT);
    EXPECT_EQ(other.wait_exit(kProgramRun), 128 + SIGINT);
    EXPECT_EQ(json_lines(other.out()).size(), 1U) << other.out();  // its list reply, not our pong
}

// ----------------------------------------------------------------------------------------------------
// Errors, logs, signals
// ----------------------------------------------------------------------------------------------------

TEST_F(ProgramsTest, MalformedRequestsGetFb301Errors) {
    const std::string node_id = id("node_a");
    auto node = start_node(node_id, "hospital_a.json");
    const std::string rid = id("tester");
    TestResearcher tester(rid, broker());

    const struct {
        Json request;
        std::string extra_msg;
        std::string researcher_id;
    } cases[] = {
        {Json{{"protocol_version", "1"}, {"researcher_id", rid}, {"command", "ping"}},
         "Message was not properly formatted", rid},
        {Json{{"protocol_version", "1"}, {"researcher_id", rid}, {"sequence", 1}},
         "'command' property was not found", rid},
        {Json{{"protocol_version", "1"}, {"command", "list"}, {"tags", Json::array()}},
         "Message was not properly formatted", "unknown_researcher_id"},
        {Json{{"protocol_version", "1"},
              {"researcher_id", rid},
              {"description", "my plan"},
              {"sequence", 2},
              {"training_plan_url", "http://localhost:8844/plan.py"},
              {"command", "approval"}},
         "Command `approval` is not implemented", rid},
    };
    for (const auto& c : cases) {
        tester.publish(c.request);
        const Json error = tester.wait_error(c.extra_msg);
        ASSERT_FALSE(error.is_null()) << "no error reply to " << c.request.dump();
        EXPECT_EQ(error.at("errnum").get<ErrorNumbers>(), ErrorNumbers::FB301);
        EXPECT_EQ(error.at("node_id"), node_id);
        EXPECT_EQ(error.at("researcher_id"), c.researcher_id);
        EXPECT_EQ(error.at("protocol_version"), "1");
    }
}

TEST_F(ProgramsTest, UndecodableAndIncompatiblePayloadsAreAnswered) {
    const std::string node_id = id("node_a");
    auto node = start_node(node_id);
    TestResearcher tester(id("tester"), broker());
    const std::string port = std::to_string(broker().port());

    RunResult pub = fbm_test::run_program({FBM_MOSQUITTO_PUB_BINARY, "-h", "127.0.0.1", "-p", port, "-q", "1",
                                           "-t", "general/nodes", "-m", "this is not JSON"},
                                          kProgramRun);
    ASSERT_EQ(pub.status, 0) << describe(pub);
    Json error = tester.wait_error("Not able to deserialize the message");
    ASSERT_FALSE(error.is_null());
    EXPECT_EQ(error.at("errnum").get<ErrorNumbers>(), ErrorNumbers::FB301);
    EXPECT_EQ(error.at("researcher_id"), "unknown_researcher_id");
    EXPECT_EQ(error.at("node_id"), node_id);

    // A request of protocol 2, sent to this node only: the node says why it will not serve it.
    pub = fbm_test::run_program(
        {FBM_MOSQUITTO_PUB_BINARY, "-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "general/" + node_id, "-m",
         R"({"protocol_version": "2", "researcher_id": "r", "command": "list"})"},
        kProgramRun);
    ASSERT_EQ(pub.status, 0) << describe(pub);
    error = tester.wait_error_where([&](const Json& msg) {
        return msg.value("node_id", "") == node_id &&
               msg.at("errnum").get<ErrorNumbers>() == ErrorNumbers::FB104;
    });
    ASSERT_FALSE(error.is_null()) << "no FB104 error reply";
    EXPECT_NE(error.at("extra_msg").get<std::string>().find("protocol version 2"), std::string::npos)
        << error.dump();

    // The node survived both: it still answers.
    const RunResult result = researcher(id("researcher"), {"ping", "--nodes", "1", "--timeout", "30"});
    EXPECT_EQ(result.status, 0) << describe(result);
}

TEST_F(ProgramsTest, ResearcherPrintsForwardedLogsAndItsErrorsOnStderr) {
    const std::string node_id = id("node_a");
    auto node = start_node(node_id, "hospital_a.json");
    const std::string rid = id("researcher");
    ChildProcess researcher_process(researcher_argv(rid, {"ping", "--timeout", "60"}));
    ASSERT_TRUE(researcher_process.wait_for_stdout("\"command\": \"pong\"", kReady))
        << researcher_process.err();

    // The node logs each request at INFO; the library forwards it on general/logger.
    EXPECT_TRUE(researcher_process.wait_for_stderr("[" + node_id + "] INFO ping from " + rid, kReady))
        << researcher_process.err();

    // An error reply addressed to this researcher is shown too.
    TestResearcher tester(id("tester"), broker());
    tester.publish(Json{{"protocol_version", "1"}, {"researcher_id", rid}, {"command", "ping"}});
    EXPECT_TRUE(researcher_process.wait_for_stderr(
        "[" + node_id + "] error FB301: Protocol error: Message was not properly formatted", kReady))
        << researcher_process.err();

    researcher_process.send_signal(SIGTERM);
    EXPECT_EQ(researcher_process.wait_exit(kProgramRun), 128 + SIGTERM) << researcher_process.err();
    EXPECT_NE(researcher_process.err().find("interrupted by SIGTERM"), std::string::npos)
        << researcher_process.err();
}

TEST_F(ProgramsTest, NodeAnswersAgainAfterTheBrokerRestarts) {
    fbm_test::MosquittoBroker own_broker;
    auto node = start_node(id("node_a"), "hospital_a.json", &own_broker);
    const std::string rid = id("researcher");
    RunResult result = fbm_test::run_program(
        researcher_argv(rid, {"ping", "--nodes", "1", "--timeout", "30"}, &own_broker), kProgramRun);
    ASSERT_EQ(result.status, 0) << describe(result);

    own_broker.kill();
    own_broker.start();
    // The node reconnects on its own; a ping sent before it has resubscribed is lost (this broker has no
    // persistence: the restarted one knows nothing of the node's session), so ask again until it answers,
    // within a bound.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
        result = fbm_test::run_program(
            researcher_argv(rid, {"ping", "--nodes", "1", "--timeout", "2"}, &own_broker), kProgramRun);
    } while (result.status != 0 && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(result.status, 0) << describe(result) << "\n--- node stderr ---\n" << node->err();
    EXPECT_EQ(json_lines(result.out).size(), 1U) << describe(result);
}

TEST_F(ProgramsTest, NodeWithABrokerListAnswersBeforeAndAfterItsBrokerIsKilled) {
    fbm_test::MosquittoBroker first;
    fbm_test::MosquittoBroker second;
    const std::string list = first.host() + ":" + std::to_string(first.port()) + "," + second.host() + ":" +
                             std::to_string(second.port());
    const std::string node_id = id("node_a");
    ChildProcess node(
        {FBM_NODE_BINARY, "--broker", list, "--id", node_id, "--datasets", data_dir + "/hospital_a.json"});
    ASSERT_TRUE(node.wait_for_stdout("waiting for requests", kReady)) << node.out() << node.err();
    EXPECT_NE(node.out().find("connected to " + first.host() + ":" + std::to_string(first.port())),
              std::string::npos)
        << node.out();
    const std::string rid = id("researcher");
    RunResult result = fbm_test::run_program(
        researcher_argv(rid, {"ping", "--nodes", "1", "--timeout", "30"}, &first), kProgramRun);
    ASSERT_EQ(result.status, 0) << describe(result);

    first.kill();
    // The researcher is given the same list: it skips the dead broker. The node fails over by itself; a
    // ping sent before it has subscribed on the second broker is lost there, so ask again, within a bound.
    std::vector<std::string> argv = {
        FBM_RESEARCHER_BINARY, "--broker", list, "--id", rid, "ping", "--nodes", "1", "--timeout", "2"};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    do {
        result = fbm_test::run_program(argv, kProgramRun);
    } while (result.status != 0 && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(result.status, 0) << describe(result) << "\n--- node stderr ---\n" << node.err();
    EXPECT_EQ(json_lines(result.out).size(), 1U) << describe(result);
}

TEST_F(ProgramsTest, NodeStopsCleanlyOnSigtermAndSigint) {
    // A broker of its own, so that its log only shows this test's clients.
    fbm_test::MosquittoBroker own_broker;
    TestResearcher tester(id("tester"), own_broker);
    int expected_disconnects = 0;
    for (const int signal_number : {SIGTERM, SIGINT}) {
        const std::string node_id = id(signal_number == SIGTERM ? "node_term" : "node_int");
        auto node = start_node(node_id, "hospital_b.json", &own_broker);
        node->send_signal(signal_number);
        EXPECT_EQ(node->wait_exit(kProgramRun), 0) << node->err();
        EXPECT_NE(node->out().find("disconnected"), std::string::npos) << node->out();
        ++expected_disconnects;

        // As the reference, the node announces its stop (FB312) before leaving.
        const std::string name = signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
        const Json error = tester.wait_error("node stopped by " + name);
        ASSERT_FALSE(error.is_null());
        EXPECT_EQ(error.at("errnum").get<ErrorNumbers>(), ErrorNumbers::FB312);
        EXPECT_EQ(error.at("node_id"), node_id);

        // A clean MQTT DISCONNECT, not a dropped socket. ("Client <unknown> closed its connection" lines
        // are the broker support's TCP probes, before any MQTT session.)
        std::istringstream log(own_broker.log());
        int disconnects = 0;
        for (std::string line; std::getline(log, line);) {
            disconnects += line.find("Received DISCONNECT from") != std::string::npos ? 1 : 0;
            const bool dropped = line.find("Socket error") != std::string::npos ||
                                 (line.find("closed its connection") != std::string::npos &&
                                  line.find("Client <unknown>") == std::string::npos);
            EXPECT_FALSE(dropped) << line;
        }
        EXPECT_EQ(disconnects, expected_disconnects) << own_broker.log();
    }
}

}  // namespace

// ----------------------------------------------------------------------------------------------------
// On the RabbitMQ cluster only (the cluster run; skipped on Mosquitto, which has one node)
// ----------------------------------------------------------------------------------------------------

class ProgramsOnCluster : public ProgramsTest {};

// fbm-node given the three RabbitMQ nodes answers a ping before and after the node it uses is killed.
TEST_F(ProgramsOnCluster, NodeWithTheThreeRabbitMqNodesAnswersBeforeAndAfterItsNodeIsKilled) {
    if (broker().kind() != fbm_test::BrokerKind::rabbitmq_cluster) {
        GTEST_SKIP() << "needs the RabbitMQ cluster (the cluster run)";
    }
    auto joined = [](const std::vector<std::string>& list) {
        std::string text;
        for (const auto& address : list) {
            text += (text.empty() ? "" : ",") + address;
        }
        return text;
    };
    // The node uses RabbitMQ node 2 first, the researcher node 1.
    const std::string node_id = id("node_a");
    ChildProcess node({FBM_NODE_BINARY, "--broker", joined(broker().brokers_from(2)), "--id", node_id,
                       "--datasets", data_dir + "/hospital_a.json"});
    ASSERT_TRUE(node.wait_for_stdout("waiting for requests", kReady)) << node.out() << node.err();
    EXPECT_NE(node.out().find("connected to " + broker().address(2)), std::string::npos) << node.out();
    const std::string rid = id("researcher");
    const std::vector<std::string> argv = {FBM_RESEARCHER_BINARY,
                                           "--broker",
                                           joined(broker().brokers_from(1)),
                                           "--id",
                                           rid,
                                           "ping",
                                           "--nodes",
                                           "1",
                                           "--timeout",
                                           "5"};
    RunResult result = fbm_test::run_program(argv, kProgramRun);
    ASSERT_EQ(result.status, 0) << describe(result);
    EXPECT_EQ(json_lines(result.out).size(), 1U) << describe(result);

    const auto killed_at = std::chrono::steady_clock::now();
    broker().kill(2);
    // The node fails over by itself (to node 3, the next of its list); a ping sent before it has
    // subscribed there is lost, so ask again, within a bound.
    const auto deadline = killed_at + std::chrono::seconds(60);
    int attempts = 0;
    do {
        ++attempts;
        result = fbm_test::run_program(argv, kProgramRun);
    } while (result.status != 0 && std::chrono::steady_clock::now() < deadline);
    const auto answered_after =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed_at).count();
    EXPECT_EQ(result.status, 0) << describe(result) << "\n--- node stdout ---\n"
                                << node.out() << "\n--- node stderr ---\n"
                                << node.err();
    EXPECT_EQ(json_lines(result.out).size(), 1U) << describe(result);
    ::testing::Test::RecordProperty("answered_after_kill_ms", std::to_string(answered_after));
    std::cout << "[ measure  ] fbm-node answered again " << answered_after << " ms after the kill of its "
              << "RabbitMQ node (" << attempts << " researcher runs)" << std::endl;
    broker().restart(2);
}

#include "test_broker.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "child_process.hpp"
#include "mosquitto_broker.hpp"

#if FBM_TEST_SUPPORT_WITH_GTEST
#include <gtest/gtest.h>
#endif

#ifndef FBM_RMQ_SCRIPT
#define FBM_RMQ_SCRIPT "rabbitmq_cluster.sh"
#endif

namespace fbm_test {
namespace {

// Restarting a killed RabbitMQ node takes 5 to 12 s on an idle machine, more under load. The script's
// check and restart give up at their own 240 s deadline (a probe under way may add up to 8 s), so that
// its explanation, not this bound, ends a command that cannot succeed.
constexpr std::chrono::milliseconds kClusterCommandTimeout{300000};

std::string cluster_base() {
    const char* value = std::getenv("FBM_RMQ_BASE");
    return value == nullptr ? std::string() : std::string(value);
}

/// Runs the cluster script on @p base: command args[0], with the rest of @p args; throws with its output
/// if it fails. Its stderr (a late or restarted node) goes to the test's output.
std::string run_cluster_script(const std::string& base, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/bin/bash", FBM_RMQ_SCRIPT, args.at(0), base};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    const RunResult result = run_program(argv, kClusterCommandTimeout);
    if (result.status != 0) {
        throw std::runtime_error("rabbitmq_cluster.sh " + args.at(0) + " failed:\n" + result.out +
                                 result.err);
    }
    std::cerr << result.err;
    return result.out;
}

#if FBM_TEST_SUPPORT_WITH_GTEST
/// After a failed test of the cluster run: the state of each RabbitMQ node and its latest errors, so that a
/// failure the broker caused says so (CI keeps no broker logs, and a node that closes CONNECTs unanswered
/// looks the same from the client whatever the cause).
class ClusterStateOnFailure final : public ::testing::EmptyTestEventListener {
public:
    explicit ClusterStateOnFailure(std::string base) : base_(std::move(base)) {}

    void OnTestEnd(const ::testing::TestInfo& info) override {
        if (!info.result()->Failed()) {
            return;
        }
        try {
            std::cout << "---- the RabbitMQ nodes after this failure (rabbitmq_cluster.sh logs) ----\n"
                      << run_cluster_script(base_, {"logs"}) << std::flush;
        } catch (const std::exception& error) {
            std::cout << "(the RabbitMQ nodes' state could not be read: " << error.what() << ")" << std::endl;
        }
    }

private:
    std::string base_;
};
#endif

class MosquittoTestBroker final : public TestBroker {
public:
    BrokerKind kind() const override { return BrokerKind::mosquitto; }
    int nodes() const override { return 1; }
    int port_of(int node) const override {
        check(node);
        return shared_broker().port();
    }
    void kill(int node) override {
        check(node);
        shared_broker().kill();
    }
    void restart(int node) override {
        check(node);
        shared_broker().start();
    }

private:
    static void check(int node) {
        if (node != 1) {
            throw std::out_of_range("Mosquitto has one node, not node " + std::to_string(node));
        }
    }
};

/// The cluster the `cluster.start` fixture runs (tests/support/rabbitmq_cluster.sh): its ports are in
/// BASE/cluster.env, the script kills and restarts its nodes.
class RabbitMqClusterBroker final : public TestBroker {
public:
    explicit RabbitMqClusterBroker(std::string base) : base_(std::move(base)) {
        std::ifstream file(base_ + "/cluster.env");
        std::string line;
        std::getline(file, line);  // RMQ_MQTT_PORTS="p1 p2 p3"
        const auto open = line.find('"');
        if (open != std::string::npos) {
            std::istringstream ports(line.substr(open + 1, line.rfind('"') - open - 1));
            for (int port = 0; ports >> port;) {
                ports_.push_back(port);
            }
        }
        if (ports_.size() != 3) {
            throw std::runtime_error("FBM_RMQ_BASE=" + base_ +
                                     ": no 3-node cluster there (run the tests labelled cluster through "
                                     "ctest: its cluster.start fixture starts one)");
        }
        // Every test starts on a cluster whose nodes all answer MQTT, whatever the tests before it left:
        // a test that met a node closing every CONNECT unanswered would fail for the broker, not for
        // what it tests. A late node is said in the test's output (the script's stderr).
        run({"check"});
#if FBM_TEST_SUPPORT_WITH_GTEST
        // GoogleTest owns the listener. Appended from within a test, between two of its events.
        ::testing::UnitTest::GetInstance()->listeners().Append(new ClusterStateOnFailure(base_));
#endif
    }
    BrokerKind kind() const override {
        return BrokerKind::rabbitmq_cluster;
    }
    int nodes() const override {
        return static_cast<int>(ports_.size());
    }
    int port_of(int node) const override {
        if (node < 1 || node > nodes()) {
            throw std::out_of_range("the cluster has no node " + std::to_string(node));
        }
        return ports_[static_cast<std::size_t>(node - 1)];
    }
    void kill(int node) override {
        run({"kill", std::to_string(node)});
    }
    void restart(int node) override {
        run({"restart", std::to_string(node)});
    }

private:
    void run(const std::vector<std::string>& args) const {
        run_cluster_script(base_, args);
    }

    std::string base_;
    std::vector<int> ports_;
};

}  // namespace

int TestBroker::next_node() {
    return turn_++ % nodes() + 1;
}

std::string TestBroker::address(int node) const {
    return host() + ":" + std::to_string(port_of(node));
}

std::vector<std::string> TestBroker::brokers_from(int first) const {
    std::vector<std::string> list;
    for (int i = 0; i < nodes(); ++i) {
        list.push_back(address((first - 1 + i) % nodes() + 1));
    }
    return list;
}

bool on_cluster() {
    return !cluster_base().empty();
}

TestBroker& test_broker() {
    static const std::unique_ptr<TestBroker> broker =
        on_cluster() ? std::unique_ptr<TestBroker>(std::make_unique<RabbitMqClusterBroker>(cluster_base()))
                     : std::unique_ptr<TestBroker>(std::make_unique<MosquittoTestBroker>());
    return *broker;
}

}  // namespace fbm_test

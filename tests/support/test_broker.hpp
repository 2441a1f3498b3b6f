/// @file test_broker.hpp
/// @brief Test support: the broker a messaging test runs against, whichever it is: the process's shared
/// Mosquitto (the default) or the 3-node RabbitMQ cluster started by the `cluster.start` ctest fixture
/// (when FBM_RMQ_BASE names it). The same test binary runs against either; ctest registers the suites
/// that are about messaging in general twice (tests/cluster/CMakeLists.txt).
///
/// On the cluster the components of one test are spread over the RabbitMQ nodes: each call of
/// TestBroker::port() (or of an option builder taking a TestBroker) names the next node, round robin from
/// node 1, so the first component of a test lands on node 1, the second on node 2, the third on node 3.
/// Before the first test_broker() call of a process returns, every node of the cluster answers MQTT (a
/// node that does not is restarted once; the call throws if it still does not). A test of the cluster
/// run that fails then prints each node's state and latest errors after its failure messages.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace fbm_test {

/// @brief Which broker a TestBroker is.
enum class BrokerKind {
    mosquitto,        ///< one Mosquitto (shared_broker())
    rabbitmq_cluster  ///< the RabbitMQ 3.10 cluster of the `cluster.start` fixture (MQTT 3.1.1 only)
};

/// @brief A broker made of one or more nodes, each listening on 127.0.0.1.
///
/// Not thread-safe: drive it from the test's main thread.
class TestBroker {
public:
    virtual ~TestBroker() = default;

    /// @brief Which broker this is (tests that assert broker-specific behaviour branch on it).
    virtual BrokerKind kind() const = 0;

    /// @brief How many nodes: 1 for Mosquitto, 3 for the cluster.
    virtual int nodes() const = 0;

    /// @brief The MQTT port of node @p node (1 to nodes()). @throws std::out_of_range otherwise.
    virtual int port_of(int node) const = 0;

    /// @brief kill -9 of node @p node; returns once it is gone.
    /// @throws std::runtime_error when it cannot be killed.
    virtual void kill(int node) = 0;

    /// @brief Starts node @p node again after kill(); returns once its MQTT port accepts connections (on
    /// the cluster: once every node answers MQTT, a CONNACK and a SUBACK).
    /// @throws std::runtime_error when it does not come back.
    virtual void restart(int node) = 0;

    /// @brief "127.0.0.1": every node listens on loopback.
    std::string host() const { return "127.0.0.1"; }

    /// @brief The node the next component should use: 1, 2, 3, 1... on the cluster, always 1 on Mosquitto.
    int next_node();

    /// @brief The MQTT port of next_node(): the way a test spreads its components over the nodes.
    int port() { return port_of(next_node()); }

    /// @brief "127.0.0.1:<port of node @p node>".
    std::string address(int node) const;

    /// @brief Every node's address, node @p first first, then the following ones wrapping around: the
    /// broker list of a component that should use node @p first and fail over to the others.
    std::vector<std::string> brokers_from(int first) const;

private:
    int turn_ = 0;
};

/// @brief The broker of this test process: the cluster named by the FBM_RMQ_BASE environment variable
/// (set by ctest for the tests labelled `cluster`), otherwise shared_broker() (started on first use).
/// @throws std::runtime_error when FBM_RMQ_BASE names no running 3-node cluster, or one with a node that
/// does not answer MQTT even after a restart.
TestBroker& test_broker();

/// @brief True when the tests of this process run against the RabbitMQ cluster (FBM_RMQ_BASE is set).
bool on_cluster();

}  // namespace fbm_test

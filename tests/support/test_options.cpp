#include "test_options.hpp"

#include <chrono>

namespace fbm_test {

fedbiomed::MessagingOptions options_for(int port) {
    fedbiomed::MessagingOptions options;
    options.broker = "127.0.0.1";
    options.port = port;
    options.connect_timeout = std::chrono::milliseconds(5000);
    options.stop_timeout = std::chrono::milliseconds(2000);
    return options;
}

fedbiomed::MessagingOptions options_for(const MosquittoBroker& broker) {
    return options_for(broker.port());
}

fedbiomed::MessagingOptions quiet_options(int port) {
    auto options = options_for(port);
    options.forward_logs = false;
    return options;
}

fedbiomed::MessagingOptions quiet_options(const MosquittoBroker& broker) {
    return quiet_options(broker.port());
}

fedbiomed::MessagingOptions fast_reconnect(const MosquittoBroker& broker) {
    auto options = options_for(broker);
    options.reconnect.min_delay = std::chrono::milliseconds(20);
    options.reconnect.max_delay = std::chrono::milliseconds(200);
    return options;
}

fedbiomed::MessagingOptions stream_options(int port) {
    auto options = quiet_options(port);
    options.reconnect.min_delay = std::chrono::milliseconds(50);
    options.reconnect.max_delay = std::chrono::milliseconds(500);
    options.stop_timeout = std::chrono::milliseconds(5000);
    return options;
}

fedbiomed::MessagingOptions stream_options(const MosquittoBroker& broker) {
    return stream_options(broker.port());
}

namespace {

// On the cluster a component keeps trying for a while, as docs/deploy.md advises an operator of a cluster,
// instead of failing start() at once. What was once taken for a node hanging up on first connections was
// Paho's socket mix-up (transport/session.hpp), which the library now rides out itself; the programs tests
// and the ACL test, which do not keep trying, would fail on it.
fedbiomed::MessagingOptions for_broker(fedbiomed::MessagingOptions options, const TestBroker& broker) {
    if (broker.kind() == BrokerKind::rabbitmq_cluster) {
        options.first_connect = fedbiomed::FirstConnect::keep_trying;
        options.first_connect_deadline = std::chrono::milliseconds(20000);
    }
    return options;
}

}  // namespace

fedbiomed::MessagingOptions options_for(TestBroker& broker) {
    return for_broker(options_for(broker.port()), broker);
}

fedbiomed::MessagingOptions quiet_options(TestBroker& broker) {
    return for_broker(quiet_options(broker.port()), broker);
}

fedbiomed::MessagingOptions fast_reconnect(TestBroker& broker) {
    auto options = options_for(broker);
    options.reconnect.min_delay = std::chrono::milliseconds(20);
    options.reconnect.max_delay = std::chrono::milliseconds(200);
    return options;
}

fedbiomed::MessagingOptions stream_options(TestBroker& broker) {
    return for_broker(stream_options(broker.port()), broker);
}

}  // namespace fbm_test

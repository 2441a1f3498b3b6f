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

// On the cluster a RabbitMQ node now and then hangs up on a first connection (measured once in a whole CI
// run: the MQTT 5 CONNECT and then the 3.1.1 one), as the library reports; a component there keeps trying
// for a while, as an operator of a cluster would configure it, instead of failing start() at once.
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

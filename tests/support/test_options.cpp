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

fedbiomed::MessagingOptions options_for(TestBroker& broker) {
    return options_for(broker.port());
}

fedbiomed::MessagingOptions quiet_options(TestBroker& broker) {
    return quiet_options(broker.port());
}

fedbiomed::MessagingOptions fast_reconnect(TestBroker& broker) {
    auto options = options_for(broker);
    options.reconnect.min_delay = std::chrono::milliseconds(20);
    options.reconnect.max_delay = std::chrono::milliseconds(200);
    return options;
}

fedbiomed::MessagingOptions stream_options(TestBroker& broker) {
    return stream_options(broker.port());
}

}  // namespace fbm_test

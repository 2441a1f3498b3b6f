/// @file test_options.hpp
/// @brief Test support: the MessagingOptions the tests and the fault-test peer start from, one builder
/// per purpose, each built on the one before.
#pragma once

#include <fedbiomed/messaging.hpp>

#include "mosquitto_broker.hpp"
#include "test_broker.hpp"

namespace fbm_test {

/// @brief A client of 127.0.0.1:@p port with bounds suited to tests: connect_timeout 5 s (a sanitizer
/// build connects slowly), stop_timeout 2 s.
fedbiomed::MessagingOptions options_for(int port);

/// @brief options_for() the port of @p broker.
fedbiomed::MessagingOptions options_for(const MosquittoBroker& broker);

/// @brief options_for() with forward_logs off: a researcher's inbox then holds no log messages.
fedbiomed::MessagingOptions quiet_options(int port);
fedbiomed::MessagingOptions quiet_options(const MosquittoBroker& broker);

/// @brief options_for() with reconnection delays of 20 to 200 ms: a restarted broker is found again at
/// once.
fedbiomed::MessagingOptions fast_reconnect(const MosquittoBroker& broker);

/// @brief quiet_options() for streams through broker restarts and for the fault-test peer: reconnection
/// delays of 50 to 500 ms and a stop_timeout of 5 s (a long outbox to finish).
fedbiomed::MessagingOptions stream_options(int port);
fedbiomed::MessagingOptions stream_options(const MosquittoBroker& broker);

/// @name The same builders for the test broker (test_broker.hpp): each call connects to
/// TestBroker::port(), the next node of a cluster, so that the components of one test are spread over
/// its nodes.
/// @{
fedbiomed::MessagingOptions options_for(TestBroker& broker);
fedbiomed::MessagingOptions quiet_options(TestBroker& broker);
fedbiomed::MessagingOptions fast_reconnect(TestBroker& broker);
fedbiomed::MessagingOptions stream_options(TestBroker& broker);
/// @}

}  // namespace fbm_test

// Automatic reconnection: subscriptions restored, publications made while disconnected buffered and sent
// after the reconnection, a refused reconnection is a sticky failure (no loop), the first connection in
// fail-fast and keep-trying modes, the outbox bound and its overflow policies, the persistent session and
// the reference-compatible settings.
#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "test_helpers.hpp"
#include <unistd.h>

namespace fbm_test {
namespace {

using fedbiomed::ComponentType;
using fedbiomed::ConnectionEvent;
using fedbiomed::ConnectionState;
using fedbiomed::Delivery;
using fedbiomed::ErrorNumbers;
using fedbiomed::Json;
using fedbiomed::Messaging;
using fedbiomed::MessagingError;
using fedbiomed::MessagingOptions;

std::string ping_text(int sequence) {
    return ping("R", sequence).dump();
}

TEST(Reconnect, ReconnectsAfterABrokerRestartAndResubscribes) {
    MosquittoBroker broker;  // no persistence: the restarted broker knows nothing of the session
    Recorder recorder;
    StateRecorder states;
    const std::string id = "node_" + unique_suffix();
    Messaging node(recorder.handler(), ComponentType::node, id, fast_reconnect(broker));
    node.set_fault_handler(recorder.fault_handler());
    node.set_connection_state_handler(states.handler());
    node.start();
    ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::connected), 1));

    broker.restart();
    ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::connected), 2));
    EXPECT_TRUE(node.is_connected());
    EXPECT_FALSE(node.is_failed());
    // The subscriptions were made again on the new broker: a message to the node arrives.
    RawClient peer(broker);
    peer.publish("general/" + id, ping_text(1));
    peer.publish("general/nodes", ping_text(2));
    ASSERT_TRUE(recorder.wait_messages(2));
    EXPECT_EQ(recorder.messages()[0].first.at("sequence"), 1);
    EXPECT_EQ(recorder.messages()[1].first.at("sequence"), 2);

    const auto events = states.events();
    ASSERT_EQ(events.size(), 3U);
    EXPECT_EQ(events[0].state, ConnectionState::connected);
    EXPECT_EQ(events[0].attempts, 1U);
    EXPECT_EQ(events[1].state, ConnectionState::disconnected);
    EXPECT_NE(events[1].reason.find("FB100"), std::string::npos) << events[1].reason;
    EXPECT_NE(events[1].reason.find("reconnecting"), std::string::npos) << events[1].reason;
    EXPECT_EQ(events[2].state, ConnectionState::connected);
    EXPECT_GE(events[2].attempts, 1U);
    // The loss was reported once, as a fault, and counted.
    const auto faults = recorder.faults();
    ASSERT_EQ(faults.size(), 1U);
    EXPECT_EQ(faults[0].code, ErrorNumbers::FB100);
    const auto stats = node.stats();
    EXPECT_EQ(stats.connection_losses, 1U);
    EXPECT_EQ(stats.reconnections, 1U);
    EXPECT_GE(stats.connection_attempts, 2U);
}

TEST(Reconnect, TheDisconnectedEventComesAfterTheMessagesThatArrivedBeforeTheLoss) {
    MosquittoBroker broker;
    const std::string id = "node_" + unique_suffix();
    // One timeline written by both handlers (both run on the dispatcher thread). The first message holds
    // the dispatcher until the loss has been handled, so the next messages wait in its queue meanwhile.
    std::mutex mutex;
    std::condition_variable opened;
    bool gate_open = false;
    std::vector<std::string> timeline;
    auto handler = [&](const Json& msg, const std::string&) {
        std::unique_lock<std::mutex> lock(mutex);
        timeline.push_back("message " + std::to_string(msg.at("sequence").get<int>()));
        opened.wait(lock, [&] { return gate_open; });
    };
    Messaging node(handler, ComponentType::node, id, fast_reconnect(broker));
    node.set_connection_state_handler([&](const ConnectionEvent& event) {
        std::lock_guard<std::mutex> lock(mutex);
        if (event.state == ConnectionState::disconnected) {
            timeline.push_back("disconnected");
        }
    });
    node.start();
    {
        RawClient peer(broker);
        for (int sequence = 1; sequence <= 5; ++sequence) {
            peer.publish("general/" + id, ping_text(sequence));
        }
    }
    ASSERT_TRUE(wait_until([&] { return node.stats().received == 5; }, kWait));
    broker.stop();
    // A reconnection attempt is made only after the loss was handled (its event queued).
    ASSERT_TRUE(wait_until([&] { return node.stats().connection_attempts >= 2; }, kWait));
    {
        std::lock_guard<std::mutex> lock(mutex);
        gate_open = true;
    }
    opened.notify_all();
    ASSERT_TRUE(wait_until(
        [&] {
            std::lock_guard<std::mutex> lock(mutex);
            return timeline.size() == 6;
        },
        kWait));
    node.stop();
    std::lock_guard<std::mutex> lock(mutex);
    EXPECT_EQ(timeline, (std::vector<std::string>{"message 1", "message 2", "message 3", "message 4",
                                                  "message 5", "disconnected"}));
}

TEST(Reconnect, PublicationsMadeWhileDisconnectedAreDeliveredAfterTheReconnection) {
    MosquittoBroker::Options broker_options;
    broker_options.persistence = true;
    MosquittoBroker broker(broker_options);
    const std::string observer_id = "observer-" + unique_suffix();
    // A persistent observer session: the broker keeps its subscription and queues for it.
    { RawClient observer(broker, {"general/researcher"}, observer_id, true); }

    StateRecorder states;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), fast_reconnect(broker));
    node.set_connection_state_handler(states.handler());
    node.start();
    broker.stop();
    ASSERT_TRUE(wait_until([&] { return !node.is_connected(); }, kWait));
    EXPECT_FALSE(node.is_failed());
    std::vector<Delivery> deliveries;
    for (int i = 0; i < 5; ++i) {
        deliveries.push_back(node.send_message(ping("R", i)));
    }
    for (const auto& delivery : deliveries) {
        EXPECT_EQ(delivery.state(), Delivery::State::pending) << delivery.error();
    }
    EXPECT_EQ(node.stats().published, 0U);

    broker.start();
    for (const auto& delivery : deliveries) {
        ASSERT_TRUE(delivery.wait_for(kWait));
        EXPECT_TRUE(delivery.delivered()) << delivery.error();
    }
    EXPECT_EQ(node.stats().published, 5U);
    EXPECT_EQ(node.stats().publish_failures, 0U);
    RawClient observer(broker, {}, observer_id, true);
    ASSERT_TRUE(observer.wait_for_count(5));
    const auto messages = observer.messages();
    ASSERT_EQ(messages.size(), 5U);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(Json::parse(messages[static_cast<std::size_t>(i)].payload).at("sequence"), i);
    }
}

TEST(Reconnect, ARefusedReconnectionIsAStickyFailureNotALoop) {
    char pattern[] = "/tmp/fbm-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    const std::string dir = pattern;
    write_password_file(dir + "/passwords", "alice", "secret");
    MosquittoBroker::Options broker_options;
    broker_options.extra_config = {"allow_anonymous false", "password_file " + dir + "/passwords"};
    MosquittoBroker broker(broker_options);
    auto options = fast_reconnect(broker);
    options.username = "alice";
    options.password = "secret";
    Recorder recorder;
    StateRecorder states;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.set_fault_handler(recorder.fault_handler());
    node.set_connection_state_handler(states.handler());
    node.start();

    // The broker comes back with alice's password changed: every reconnection would be refused.
    broker.stop();
    write_password_file(dir + "/passwords", "alice", "changed");
    broker.start();
    ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::failed), 1));
    EXPECT_TRUE(node.is_failed());
    EXPECT_FALSE(node.is_connected());
    const auto events = states.events();
    EXPECT_NE(events.back().reason.find("FB101"), std::string::npos) << events.back().reason;
    EXPECT_NE(events.back().reason.find("not authorised (CONNACK reason code 135)"), std::string::npos)
        << events.back().reason;
    ASSERT_TRUE(recorder.wait_faults(2));
    EXPECT_EQ(recorder.faults()[1].code, ErrorNumbers::FB101);

    // Sticky: publications fail at once with the reason, and no further attempt is made. (A loop would
    // have made about ten attempts in this time with these delays.)
    const Delivery refused = node.send_message(ping("R", 1));
    EXPECT_EQ(refused.state(), Delivery::State::failed);
    EXPECT_NE(refused.error().find("not authorised"), std::string::npos) << refused.error();
    const auto attempts = node.stats().connection_attempts;
    EXPECT_FALSE(wait_until([&] { return node.stats().connection_attempts > attempts; },
                            std::chrono::milliseconds(1500)));
    EXPECT_EQ(count_occurrences(broker.log(), "not authorised"), 1U) << broker.log();
    (void)std::system(("rm -rf '" + dir + "'").c_str());

    // stop() then start() tries again (and fails the same way, at once).
    node.stop();
    try {
        node.start();
        ADD_FAILURE() << "start() succeeded";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB101);
    }
}

TEST(Reconnect, WithReconnectionDisabledALostConnectionIsFinal) {
    MosquittoBroker broker;
    Recorder recorder;
    auto options = options_for(broker);
    options.reconnect.enabled = false;
    Messaging node(recorder.handler(), ComponentType::node, "node_" + unique_suffix(), options);
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    broker.kill();
    ASSERT_TRUE(wait_until([&] { return node.is_failed(); }, kWait));
    EXPECT_FALSE(node.is_connected());
    ASSERT_TRUE(recorder.wait_faults(2));
    EXPECT_EQ(recorder.faults()[0].code, ErrorNumbers::FB100);
    EXPECT_NE(recorder.faults()[0].message.find("lost its connection to the broker"), std::string::npos);
    EXPECT_NE(recorder.faults()[1].message.find("reconnection is disabled"), std::string::npos);
    const Delivery after = node.send_message(ping("R", 1));
    EXPECT_EQ(after.state(), Delivery::State::failed);
    EXPECT_NE(after.error().find("reconnection is disabled"), std::string::npos) << after.error();
    node.stop();
    // A new start() once the broker is back works and clears the failure.
    broker.start();
    node.start();
    EXPECT_TRUE(node.is_connected());
    EXPECT_FALSE(node.is_failed());
}

TEST(Reconnect, KeepTryingStartGivesUpAtItsDeadlineWithFb101) {
    auto options = options_for(test_broker());
    options.port = free_loopback_port();  // nothing listens there
    options.first_connect = fedbiomed::FirstConnect::keep_trying;
    options.first_connect_deadline = std::chrono::milliseconds(600);
    options.reconnect.min_delay = std::chrono::milliseconds(50);
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    try {
        node.start();
        ADD_FAILURE() << "start() succeeded";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB101);
        const std::string what = error.what();
        EXPECT_NE(what.find("connection refused"), std::string::npos) << what;
        EXPECT_NE(what.find("gave up after"), std::string::npos) << what;
    }
    EXPECT_GE(node.stats().connection_attempts, 2U);
    EXPECT_TRUE(node.is_failed());
}

TEST(Reconnect, AClientIdTheMqttClientRefusesIsNotRetriedUntilTheDeadline) {
    auto options = options_for(test_broker());
    options.client_id = std::string("fbm-\xff\xfe-not-utf8");  // MQTT client ids are UTF-8
    options.first_connect = fedbiomed::FirstConnect::keep_trying;
    options.first_connect_deadline = std::chrono::minutes(5);
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    try {
        node.start();
        ADD_FAILURE() << "start() succeeded";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB101);
        EXPECT_NE(std::string(error.what()).find("client id"), std::string::npos) << error.what();
    }
    // The same options would fail the same way: one attempt, not five minutes of them.
    EXPECT_EQ(node.stats().connection_attempts, 1U);
    EXPECT_TRUE(node.is_failed());
}

TEST(Reconnect, StopInterruptsAKeepTryingStart) {
    auto options = options_for(test_broker());
    options.port = free_loopback_port();
    options.first_connect = fedbiomed::FirstConnect::keep_trying;
    options.first_connect_deadline = std::chrono::milliseconds::max();
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    std::atomic<bool> threw{false};
    std::string what;
    std::thread starter([&] {
        try {
            node.start();
        } catch (const MessagingError& error) {
            what = error.what();
            threw.store(true);
        }
    });
    ASSERT_TRUE(wait_until([&] { return node.stats().connection_attempts >= 2; }, kWait));
    node.stop();
    starter.join();
    EXPECT_TRUE(threw.load());
    EXPECT_NE(what.find("interrupted by stop()"), std::string::npos) << what;
}

TEST(Reconnect, OverflowDropNewestFailsTheNewMessageAndReportsIt) {
    MosquittoBroker broker;
    Recorder recorder;
    auto options = fast_reconnect(broker);
    options.outbox_capacity = 3;
    options.outbox_overflow = fedbiomed::OutboxOverflow::drop_newest;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.set_fault_handler(recorder.fault_handler());
    node.start();
    broker.stop();
    ASSERT_TRUE(wait_until([&] { return !node.is_connected(); }, kWait));
    std::vector<Delivery> kept;
    for (int i = 0; i < 3; ++i) {
        kept.push_back(node.send_message(ping("R", i)));
    }
    const Delivery overflow = node.send_message(ping("R", 3));
    EXPECT_EQ(overflow.state(), Delivery::State::failed);
    EXPECT_NE(overflow.error().find("FB103"), std::string::npos) << overflow.error();
    EXPECT_NE(overflow.error().find("outbox full (capacity 3"), std::string::npos) << overflow.error();
    EXPECT_EQ(node.stats().outbox_overflows, 1U);
    ASSERT_TRUE(recorder.wait_faults(2));  // the loss and the overflow
    const auto faults = recorder.faults();
    const auto overflow_fault =
        std::find_if(faults.begin(), faults.end(),
                     [](const fedbiomed::MessagingFault& f) { return f.code == ErrorNumbers::FB103; });
    ASSERT_NE(overflow_fault, faults.end());
    EXPECT_NE(overflow_fault->message.find("outbox full"), std::string::npos) << overflow_fault->message;
    broker.start();
    for (const auto& delivery : kept) {
        ASSERT_TRUE(delivery.wait_for(kWait));
        EXPECT_TRUE(delivery.delivered()) << delivery.error();
    }
}

TEST(Reconnect, OverflowDropOldestFailsTheOldestBufferedMessage) {
    MosquittoBroker broker;
    auto options = fast_reconnect(broker);
    options.outbox_capacity = 2;
    options.outbox_overflow = fedbiomed::OutboxOverflow::drop_oldest;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.start();
    broker.stop();
    ASSERT_TRUE(wait_until([&] { return !node.is_connected(); }, kWait));
    const Delivery first = node.send_message(ping("R", 0));
    const Delivery second = node.send_message(ping("R", 1));
    const Delivery third = node.send_message(ping("R", 2));
    EXPECT_EQ(first.state(), Delivery::State::failed);
    EXPECT_NE(first.error().find("dropped to make room"), std::string::npos) << first.error();
    EXPECT_EQ(node.stats().outbox_overflows, 1U);
    broker.start();
    ASSERT_TRUE(second.wait_for(kWait));
    ASSERT_TRUE(third.wait_for(kWait));
    EXPECT_TRUE(second.delivered());
    EXPECT_TRUE(third.delivered());
}

TEST(Reconnect, OverflowThrowErrorThrowsFromSendMessage) {
    MosquittoBroker broker;
    auto options = fast_reconnect(broker);
    options.outbox_capacity = 1;
    options.outbox_overflow = fedbiomed::OutboxOverflow::throw_error;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.start();
    broker.stop();
    ASSERT_TRUE(wait_until([&] { return !node.is_connected(); }, kWait));
    const Delivery kept = node.send_message(ping("R", 0));
    try {
        node.send_message(ping("R", 1));
        ADD_FAILURE() << "no exception";
    } catch (const MessagingError& error) {
        EXPECT_EQ(error.code(), ErrorNumbers::FB103);
        EXPECT_NE(std::string(error.what()).find("outbox full (capacity 1"), std::string::npos);
    }
    EXPECT_EQ(kept.state(), Delivery::State::pending);
    EXPECT_EQ(node.stats().outbox_overflows, 1U);
}

TEST(Reconnect, TheDefaultSessionIsPersistentWithAStableClientId) {
    auto& broker = shared_broker();
    const std::string node_id = "node_" + unique_suffix();
    Messaging node(nullptr, ComponentType::node, node_id, options_for(broker));
    EXPECT_EQ(node.client_id(), "fbm-node-" + node_id);
    node.start();
    // c0: clean session off, so the broker keeps the subscriptions and queues QoS 1 messages meanwhile
    // (p5: MQTT 5 by default).
    EXPECT_NE(broker.log().find(" as fbm-node-" + node_id + " (p5, c0, k60)"), std::string::npos)
        << broker.log();
    node.stop();

    RawClient peer(broker);
    peer.publish("general/" + node_id, ping_text(41));  // sent while the node is away
    Recorder recorder;
    Messaging again(recorder.handler(), ComponentType::node, node_id, options_for(broker));
    again.start();
    ASSERT_TRUE(recorder.wait_messages(1));
    EXPECT_EQ(recorder.messages()[0].first.at("sequence"), 41);

    Messaging researcher(nullptr, ComponentType::researcher, "researcher_" + unique_suffix(),
                         options_for(broker));
    EXPECT_EQ(researcher.client_id(), "fbm-researcher-" + researcher.id());
}

TEST(Reconnect, AnMqtt5PersistentSessionKeepsMessagesForAnAbsentComponent) {
    auto& broker = shared_broker();
    const std::string node_id = "node_" + unique_suffix();
    auto options = options_for(broker);
    options.mqtt_version = fedbiomed::MqttVersion::v5;
    {
        Messaging node(nullptr, ComponentType::node, node_id, options);
        node.start();
    }
    EXPECT_NE(broker.log().find(" as fbm-node-" + node_id + " (p5, c0, k60)"), std::string::npos)
        << broker.log();
    RawClient peer(broker);
    peer.publish("general/" + node_id, ping_text(42));
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, node_id, options);
    node.start();
    ASSERT_TRUE(recorder.wait_messages(1));
    EXPECT_EQ(recorder.messages()[0].first.at("sequence"), 42);
}

TEST(Reconnect, EachConnectionSaysWhatBecameOfTheSessionAndALostOneIsReported) {
    // Persistence on: a broker restart keeps the session, which is resumed.
    MosquittoBroker::Options keeping;
    keeping.persistence = true;
    MosquittoBroker persistent_broker(keeping);
    // Persistence off: the restarted broker has forgotten the session the component asks to resume.
    MosquittoBroker forgetful_broker;
    for (MosquittoBroker* broker : {&persistent_broker, &forgetful_broker}) {
        const bool keeps = broker == &persistent_broker;
        SCOPED_TRACE(keeps ? "broker with persistence" : "broker without persistence");
        StateRecorder states;
        const std::string id = "node_" + unique_suffix();
        Messaging node(nullptr, ComponentType::node, id, fast_reconnect(*broker));
        node.set_connection_state_handler(states.handler());
        node.start();
        ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::connected), 1));
        broker->restart();
        ASSERT_TRUE(states.wait_count_if(in_state(ConnectionState::connected), 2));
        const auto events = states.events();
        ASSERT_EQ(events.size(), 3U);
        EXPECT_EQ(events[0].session, fedbiomed::SessionOutcome::created);
        EXPECT_EQ(events[0].reason, "");
        EXPECT_EQ(events[1].session, fedbiomed::SessionOutcome::none);
        if (keeps) {
            EXPECT_EQ(events[2].session, fedbiomed::SessionOutcome::resumed);
            EXPECT_EQ(events[2].reason, "");
        } else {
            EXPECT_EQ(events[2].session, fedbiomed::SessionOutcome::lost);
            EXPECT_NE(events[2].reason.find("had no session for " + id + " (CONNACK session present 0"),
                      std::string::npos)
                << events[2].reason;
            EXPECT_NE(events[2].reason.find("may have been lost"), std::string::npos) << events[2].reason;
        }
        node.stop();
    }
    // A clean session is said to be one.
    StateRecorder states;
    auto options = fast_reconnect(forgetful_broker);
    options.persistent_session = false;
    Messaging node(nullptr, ComponentType::node, "node_" + unique_suffix(), options);
    node.set_connection_state_handler(states.handler());
    node.start();
    const auto connected = states.wait_first(in_state(ConnectionState::connected));
    ASSERT_TRUE(connected.has_value());
    EXPECT_EQ(connected->session, fedbiomed::SessionOutcome::clean);
}

TEST(Reconnect, ReferenceCompatibleOptionsUseQos0ACleanSessionAndABrokerAssignedId) {
    // A broker of its own: the observer counts everything, and a shared broker keeps the retained
    // presence records of earlier tests run in the same process.
    MosquittoBroker broker;
    auto options = MessagingOptions::reference_compatible();
    options.broker = broker.host();
    options.port = broker.port();
    EXPECT_EQ(options.qos, 0);
    EXPECT_FALSE(options.persistent_session);
    EXPECT_FALSE(options.presence);
    EXPECT_EQ(options.end_to_end_ack, fedbiomed::EndToEndAck::off);
    EXPECT_EQ(options.mqtt_version, fedbiomed::MqttVersion::v3_1_1);
    RawClient observer(broker, {"#"});
    const std::string node_id = "node_" + unique_suffix();
    Recorder recorder;
    Messaging node(recorder.handler(), ComponentType::node, node_id, options);
    EXPECT_EQ(node.client_id(), "");
    node.start();
    ASSERT_TRUE(node.send_error(ErrorNumbers::FB301, "reference").wait_for(kWait));
    ASSERT_TRUE(observer.wait_for_count(1));
    node.stop();
    // Nothing but the reference's own traffic went through the broker.
    const auto messages = observer.messages();
    ASSERT_EQ(messages.size(), 1U);
    EXPECT_EQ(messages[0].topic, "general/researcher");
    const std::string log = broker.log();
    // Two broker-assigned ids: the observer's and the node's (the reference sends an empty client id).
    EXPECT_EQ(count_occurrences(log, " as auto-"), 2U) << log;
    EXPECT_EQ(log.find(node_id + " (p2, c0"), std::string::npos);
    EXPECT_NE(log.find("general/" + node_id + " (QoS 0)"), std::string::npos) << log;
}

}  // namespace
}  // namespace fbm_test

// How the connection supervisor answers Paho's socket mix-up (transport/session.hpp, SocketNumberMixUp),
// without a broker: sessions whose connect() follows a script stand in for Paho's clients. The mix-up itself
// is a race inside Paho C (its receive thread fails whichever client holds a socket number it has just
// closed) that no test can bring about on demand; what the library does when Paho reports it can be tested.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "connection_supervisor.hpp"
#include "counters.hpp"
#include "takeover_detector.hpp"
#include "transport/session.hpp"

namespace {

using fedbiomed::MqttVersion;
using fedbiomed::detail::ClosedBeforeConnack;
using fedbiomed::detail::ConnectionSupervisor;
using fedbiomed::detail::Counters;
using fedbiomed::detail::Phase;
using fedbiomed::detail::Session;
using fedbiomed::detail::SocketNumberMixUp;
using fedbiomed::detail::TakeoverDetector;

// What one session's connect() does.
enum class Outcome { connects, mix_up, closed_before_connack };

class ScriptedSession : public Session {
public:
    explicit ScriptedSession(Outcome outcome) : outcome_(outcome) {}

    void connect(Clock::time_point /*deadline*/) override {
        switch (outcome_) {
        case Outcome::connects: connected_ = true; return;
        case Outcome::mix_up:
            throw SocketNumberMixUp(
                "broker 127.0.0.1:1: Paho failed the attempt before any answer "
                "(MQTT error [-1]: socket error)");
        case Outcome::closed_before_connack:
            throw ClosedBeforeConnack("broker 127.0.0.1:1 closed the connection after the CONNECT");
        }
    }
    void subscribe(const std::vector<std::string>& /*topics*/, int /*qos*/,
                   Clock::time_point /*deadline*/) override {}
    void interrupt() noexcept override {}
    fedbiomed::detail::SendResult publish(const fedbiomed::detail::Publication& /*publication*/) override {
        return {};
    }
    bool disconnect(std::chrono::milliseconds /*timeout*/) noexcept override {
        connected_ = false;
        return true;
    }
    bool connected() const noexcept override { return connected_; }
    std::vector<std::string> unacknowledged_topics(std::size_t /*limit*/) const noexcept override {
        return {};
    }
    bool session_present() const noexcept override { return false; }
    std::size_t receive_maximum() const noexcept override { return 65535; }
    bool mqtt5() const noexcept override { return false; }
    const std::string& endpoint() const noexcept override { return endpoint_; }

private:
    Outcome outcome_;
    bool connected_ = false;
    std::string endpoint_ = "127.0.0.1:1";
};

// A supervisor whose sessions follow @p script, one outcome per session made, in order.
class ConnectionAttempt : public ::testing::Test {
protected:
    // The protocol version of each session made, in order.
    std::vector<MqttVersion> made() {
        std::lock_guard<std::mutex> lock(mutex_);
        return made_;
    }

    std::optional<std::string> start(std::deque<Outcome> script, MqttVersion version) {
        script_ = std::move(script);
        ConnectionSupervisor::Config config;
        config.id = "node_scripted";
        config.client_id = "fbm-node-node_scripted";
        config.brokers = {fedbiomed::detail::BrokerAddress{"127.0.0.1", 1, false}};
        config.subscriptions = {"general/nodes"};
        config.mqtt_version = version;
        config.persistent_session = false;
        config.presence = false;
        ConnectionSupervisor::Hooks hooks;
        hooks.make_session = [this](std::uint64_t, std::uint64_t, const fedbiomed::detail::BrokerAddress&,
                                    MqttVersion session_version, bool) -> std::unique_ptr<Session> {
            std::lock_guard<std::mutex> lock(mutex_);
            made_.push_back(session_version);
            const Outcome outcome = script_.empty() ? Outcome::mix_up : script_.front();
            if (!script_.empty()) {
                script_.pop_front();
            }
            return std::make_unique<ScriptedSession>(outcome);
        };
        hooks.attach = [this](std::unique_ptr<Session> session) { attached_ = std::move(session); };
        hooks.detach = [this] { return std::move(attached_); };
        hooks.connection_lost = [] {};
        hooks.pump = [] {};
        hooks.fault = [](const fedbiomed::detail::Fault&) {};
        hooks.state = [](const fedbiomed::ConnectionEvent&) {};
        hooks.close_outbox = [](const std::string&) {};
        hooks.farewell = [](const std::string&, const std::string&) {};
        supervisor_ = std::make_unique<ConnectionSupervisor>(config, counters_, takeover_, hooks);
        return supervisor_->start();
    }

    void TearDown() override {
        if (supervisor_) {
            const Phase before = supervisor_->begin_leaving();
            supervisor_->stop_and_join();
            supervisor_->finish_stop(before);
            supervisor_.reset();  // before the members its hooks use
        }
    }

    Counters counters_;
    TakeoverDetector takeover_{3, std::chrono::milliseconds(60000)};
    std::unique_ptr<ConnectionSupervisor> supervisor_;

private:
    std::mutex mutex_;
    std::deque<Outcome> script_;  // guarded by mutex_
    std::vector<MqttVersion> made_;
    std::unique_ptr<Session> attached_;  // supervisor thread only
};

TEST_F(ConnectionAttempt, AMixUpIsTriedAgainAtOnceWithinTheSameAttempt) {
    const auto error = start({Outcome::mix_up, Outcome::connects}, MqttVersion::v3_1_1);
    EXPECT_FALSE(error.has_value()) << *error;
    EXPECT_EQ(made(), (std::vector<MqttVersion>{MqttVersion::v3_1_1, MqttVersion::v3_1_1}));
    // Not a second attempt in the statistics: the first one told nothing about the broker.
    EXPECT_EQ(counters_.connection_attempts.load(), 1U);
}

TEST_F(ConnectionAttempt, TheMqtt311FallbackAfterAnMqtt5HangUpSurvivesAMixUp) {
    // What failed in CI: RabbitMQ 3.10 hangs up on the MQTT 5 CONNECT, and Paho fails the 3.1.1 attempt
    // made at once for the MQTT 5 connection's socket.
    const auto error =
        start({Outcome::closed_before_connack, Outcome::mix_up, Outcome::connects}, MqttVersion::automatic);
    EXPECT_FALSE(error.has_value()) << *error;
    EXPECT_EQ(made(), (std::vector<MqttVersion>{MqttVersion::v5, MqttVersion::v3_1_1, MqttVersion::v3_1_1}));
}

TEST_F(ConnectionAttempt, AMixUpTwiceInARowFailsTheAttemptWithoutALoop) {
    const auto error = start({Outcome::mix_up, Outcome::mix_up, Outcome::connects}, MqttVersion::v3_1_1);
    ASSERT_TRUE(error.has_value());
    EXPECT_NE(error->find("socket error"), std::string::npos) << *error;
    EXPECT_NE(error->find("twice in a row"), std::string::npos) << *error;
    EXPECT_EQ(made().size(), 2U);
}

TEST_F(ConnectionAttempt, AnMqtt5MixUpDoesNotMakeTheBrokerAnMqtt311One) {
    // The mix-up says nothing about the protocol versions the broker speaks: tried again in MQTT 5.
    const auto error = start({Outcome::mix_up, Outcome::connects}, MqttVersion::automatic);
    EXPECT_FALSE(error.has_value()) << *error;
    EXPECT_EQ(made(), (std::vector<MqttVersion>{MqttVersion::v5, MqttVersion::v5}));
}

}  // namespace

// A component of the library in a process of its own, for the fault tests: they kill it, restart it, or run
// two of them with the same id. It prints one line per event (flushed at once) so the test can follow it:
//   ready <client id>          start() returned
//   start-failed <what>        start() threw (exit status 1)
//   msg <topic> <payload>      a message reached the handler
//   fault <FBnnn> <text>       a fault was reported
//   state <connected|disconnected|failed> <reason>
//   stopped                    after SIGTERM / SIGINT, once stop() returned (exit status 0)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>

#include <fedbiomed/errors.hpp>
#include <fedbiomed/messaging.hpp>

#include "test_options.hpp"
#include <pthread.h>
#include <signal.h>

namespace {

std::mutex output_mutex;

void say(const std::string& line) {
    std::lock_guard<std::mutex> lock(output_mutex);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

const char* state_name(fedbiomed::ConnectionState state) {
    switch (state) {
    case fedbiomed::ConnectionState::connected: return "connected";
    case fedbiomed::ConnectionState::disconnected: return "disconnected";
    case fedbiomed::ConnectionState::failed: return "failed";
    }
    return "?";
}

}  // namespace

int main(int argc, char** argv) {
    // Before any thread exists: only sigwait() below takes these.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    // The options of the fault tests' streams; --port is required.
    fedbiomed::MessagingOptions options = fbm_test::stream_options(0);
    std::string id;
    auto type = fedbiomed::ComponentType::node;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::string value = argv[i + 1];
        if (flag == "--port") {
            options.port = std::atoi(value.c_str());
        } else if (flag == "--id") {
            id = value;
        } else if (flag == "--type") {
            type =
                value == "researcher" ? fedbiomed::ComponentType::researcher : fedbiomed::ComponentType::node;
        } else if (flag == "--mqtt") {
            options.mqtt_version = value == "5" ? fedbiomed::MqttVersion::v5 : fedbiomed::MqttVersion::v3_1_1;
        } else if (flag == "--keep-trying") {
            options.first_connect =
                value == "1" ? fedbiomed::FirstConnect::keep_trying : fedbiomed::FirstConnect::fail_fast;
        } else if (flag == "--keepalive") {
            options.keepalive = std::chrono::seconds(std::atoi(value.c_str()));
        } else if (flag == "--heartbeat") {
            options.presence_heartbeat = std::chrono::milliseconds(std::atoi(value.c_str()));
        } else {
            std::cerr << "fault_peer: unknown option " << flag << "\n";
            return 2;
        }
    }

    fedbiomed::Messaging bus(
        [](const fedbiomed::Json& msg, const std::string& topic) { say("msg " + topic + " " + msg.dump()); },
        type, id, options);
    bus.set_fault_handler([](const fedbiomed::MessagingFault& fault) {
        say("fault " + std::string(fedbiomed::error_code(fault.code)) + " " + fault.message);
    });
    bus.set_connection_state_handler([](const fedbiomed::ConnectionEvent& event) {
        say(std::string("state ") + state_name(event.state) + " " + event.reason);
    });
    try {
        bus.start();
    } catch (const std::exception& error) {
        say(std::string("start-failed ") + error.what());
        return 1;
    }
    say("ready " + bus.client_id());
    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    bus.stop();
    say("stopped");
    return 0;
}

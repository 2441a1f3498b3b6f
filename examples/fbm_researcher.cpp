// fbm-researcher: sends one ping, list or search request to the nodes and prints their replies.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cli_args.hpp"
#include "connection_args.hpp"
#include "fedbiomed/errors.hpp"
#include "fedbiomed/json.hpp"
#include "fedbiomed/message.hpp"
#include "fedbiomed/messaging.hpp"
#include "forwarded_log.hpp"
#include "reply_filter.hpp"
#include "signal_watcher.hpp"

namespace {

using fedbiomed::Json;
using Clock = std::chrono::steady_clock;

constexpr const char* kProgram = "fbm-researcher";
constexpr int kExitFewerNodes = 3;

constexpr const char* kUsage = R"(Usage: fbm-researcher [OPTION]... --id RESEARCHER_ID ping
  or:  fbm-researcher [OPTION]... --id RESEARCHER_ID list
  or:  fbm-researcher [OPTION]... --id RESEARCHER_ID search TAG...

A Fed-BioMed researcher on the MQTT message bus (messaging protocol version 1). It sends one
request to every node and prints each reply that answers it as one JSON line on stdout.

Requests:
  ping               every node answers with a pong echoing our sequence number
  list               every node answers with all its datasets (without path and dtypes)
  search TAG...      nodes holding a dataset with every TAG answer with those datasets
                     (without path); the others stay silent

Options:
)";

// After fbm_cli::kBrokerHelp.
constexpr const char* kOptions =
    R"(  --id ID            this researcher's id, e.g. researcher_1 (required; no '/', '+' or '#')
  --nodes N          return as soon as N distinct nodes answered (default: wait the whole
                     timeout)
  --timeout SECONDS  how long to wait for replies, decimals allowed (default: 5)
  --sequence N       sequence number of the ping (default: a random positive number)
  -h, --help         print this help and exit
  --version          print the program's and the protocol's versions and exit
)";

constexpr const char* kUsageTail = R"(
Only replies carrying our researcher_id (and, for ping, our sequence) are printed. Node log records
(general/logger) are printed on stderr as "[node_id] LEVEL message", and so are error messages
addressed to us, followed by a summary line (nodes answered, time from request to last reply).

Exit status: 0 done (N nodes answered, or the timeout passed without --nodes), 1 runtime error
(broker unreachable, request not delivered), 2 bad usage, 3 fewer than N nodes answered in time,
4 messaging failed for good while waiting (another process uses the same researcher id, the broker
refused a reconnection), 128+signal when interrupted by SIGINT or SIGTERM.
)";

struct ResearcherOptions {
    bool help = false;
    bool version = false;
    fbm_cli::ConnectionArgs security;
    std::vector<std::string> brokers{"localhost"};
    int port = 1883;
    std::string id;
    std::string command;
    std::vector<std::string> tags;
    std::optional<std::int64_t> nodes;
    std::chrono::milliseconds timeout{5000};
    std::optional<std::int64_t> sequence;
};

ResearcherOptions parse_arguments(int argc, const char* const* argv) {
    using fbm_cli::UsageError;
    ResearcherOptions options;
    fbm_cli::ArgCursor args(argc, argv);
    while (!args.done()) {
        if (!args.at_option()) {
            const std::string word = args.next();
            if (options.command.empty()) {
                if (word != "ping" && word != "list" && word != "search") {
                    throw UsageError("unknown request '" + word + "' (expected ping, list or search)");
                }
                options.command = word;
            } else if (options.command == "search") {
                options.tags.push_back(word);
            } else {
                throw UsageError("unexpected argument '" + word + "' after " + options.command);
            }
            continue;
        }
        const std::string option = args.next();
        if (option == "-h" || option == "--help") {
            args.no_value(option);
            options.help = true;
            return options;
        } else if (option == "--version") {
            args.no_value(option);
            options.version = true;
            return options;
        } else if (option == "--broker") {
            options.brokers = fbm_cli::split_broker_list(option, args.value(option));
        } else if (option == "--port") {
            options.port = fbm_cli::parse_port(option, args.value(option));
        } else if (option == "--id") {
            options.id = fbm_cli::require_non_empty(option, args.value(option));
        } else if (option == "--nodes") {
            options.nodes = fbm_cli::parse_integer(option, args.value(option), 1, 1000000);
        } else if (option == "--timeout") {
            options.timeout = fbm_cli::parse_seconds(option, args.value(option));
        } else if (option == "--sequence") {
            options.sequence = fbm_cli::parse_integer(option, args.value(option), 0, INT64_MAX);
        } else if (!options.security.parse(args, option)) {
            throw UsageError("unknown option '" + option + "'");
        }
    }
    options.security.check();
    if (options.id.empty()) {
        throw UsageError("missing --id RESEARCHER_ID");
    }
    try {
        fedbiomed::validate_component_id(options.id);
    } catch (const fedbiomed::FedbiomedError& e) {
        throw UsageError("option --id: " + std::string(e.what()));
    }
    for (const std::string& entry : options.brokers) {
        try {
            fedbiomed::validate_broker_address(entry);
        } catch (const fedbiomed::FedbiomedError& e) {
            throw UsageError("option --broker: " + std::string(e.what()));
        }
    }
    if (options.command.empty()) {
        throw UsageError("missing request: ping, list or search TAG...");
    }
    if (options.command == "search" && options.tags.empty()) {
        throw UsageError("search needs at least one TAG");
    }
    if (options.sequence && options.command != "ping") {
        throw UsageError("--sequence only applies to ping");
    }
    return options;
}

/// Collects the replies of one round: prints the matching ones and counts the nodes that answered.
/// Fed from the dispatcher thread, waited on by main(), cancelled by the signal watcher.
class Round {
public:
    /// Prints @p line for @p node_id unless the round is over; returns false when it was over.
    bool accept(const std::string& node_id, const std::string& line) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (closed_) {
                return false;
            }
            std::cout << line << '\n' << std::flush;
            nodes_.insert(node_id);
        }
        changed_.notify_all();
        return true;
    }

    void cancel(int signal_number) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            signal_ = signal_number;
        }
        changed_.notify_all();
    }

    /// Messaging failed for good (connection-state handler, dispatcher thread): the round ends now.
    void fail(const std::string& reason) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (failure_.empty()) {
                failure_ = reason.empty() ? std::string("messaging failed") : reason;
            }
        }
        changed_.notify_all();
    }

    std::string failure() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return failure_;
    }

    /// Waits until @p wanted nodes answered (never when not given), a signal came, or @p deadline; then
    /// closes the round. Returns the number of nodes that answered.
    std::size_t wait(std::optional<std::int64_t> wanted, Clock::time_point deadline) {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait_until(lock, deadline, [&] {
            return signal_ != 0 || !failure_.empty() ||
                   (wanted && static_cast<std::int64_t>(nodes_.size()) >= *wanted);
        });
        closed_ = true;
        return nodes_.size();
    }

    int signal() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return signal_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::set<std::string> nodes_;
    bool closed_ = false;
    int signal_ = 0;
    std::string failure_;
};

void print_stderr(const std::string& line) {
    // One write per line, so lines of the dispatcher and of main() never interleave.
    const std::string text = line + '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

std::string string_or(const Json& message, const char* key, const char* fallback) {
    const auto found = message.find(key);
    return found != message.end() && found->is_string() ? found->get<std::string>() : fallback;
}

// Runs on the dispatcher thread for every message the library delivered.
void on_message(const Json& msg, const std::string& topic, const fbm_cli::ReplyFilter& filter, Round& round) {
    Json valid;
    try {
        valid = fedbiomed::to_json(fedbiomed::ResearcherMessages::format_incoming_message(msg));
    } catch (const fedbiomed::FedbiomedError& e) {
        print_stderr(std::string(kProgram) + ": ignoring an invalid message on " + topic + ": " + e.what());
        return;
    }
    const std::string command = string_or(valid, "command", "");
    if (topic == "general/logger") {
        if (command == "log") {
            print_stderr(fbm_cli::format_forwarded_log(valid));
        }
        return;
    }
    if (topic != "general/researcher") {
        return;  // general/monitoring: training feedback, not part of these requests
    }
    if (filter.is_error_for_us(valid)) {
        const auto errnum = valid.at("errnum").get<fedbiomed::ErrorNumbers>();
        print_stderr("[" + string_or(valid, "node_id", "?") + "] error " +
                     std::string(fedbiomed::error_text(errnum)) + ": " + string_or(valid, "extra_msg", ""));
        return;
    }
    if (filter.matches(valid)) {
        round.accept(string_or(valid, "node_id", ""), fedbiomed::serialize_msg(valid));
    }
}

std::int64_t random_sequence() {
    std::random_device device;
    std::uniform_int_distribution<std::int64_t> distribution(1, INT32_MAX);
    return distribution(device);
}

double milliseconds_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int run(const ResearcherOptions& options) {
    // Before any other thread exists, so that only the watcher thread ever takes SIGINT/SIGTERM.
    Round round;
    fbm_cli::SignalWatcher signals([&round](int signal_number) { round.cancel(signal_number); });

    Json request = {{"researcher_id", options.id}};
    std::int64_t sequence = 0;
    if (options.command == "ping") {
        sequence = options.sequence ? *options.sequence : random_sequence();
        request["sequence"] = sequence;
    } else if (options.command == "search") {
        request["tags"] = options.tags;
    }
    request["command"] = options.command;
    // Built through the researcher's outgoing factory, so what leaves is a valid reference message.
    request = fedbiomed::to_json(fedbiomed::ResearcherMessages::format_outgoing_message(std::move(request)));

    const fbm_cli::ReplyFilter filter(options.command, options.id, sequence);
    fedbiomed::MessagingOptions messaging_options;
    messaging_options.brokers = options.brokers;
    messaging_options.port = options.port;
    options.security.apply(messaging_options);  // throws naming a password file it cannot read
    // One round per run: a persistent session would make the broker keep, for days, a session that
    // queues the late replies of this round for a next run that only discards them.
    messaging_options.persistent_session = false;
    fedbiomed::Messaging bus(
        [&filter, &round](const Json& msg, const std::string& topic) {
            on_message(msg, topic, filter, round);
        },
        fedbiomed::ComponentType::researcher, options.id, messaging_options);
    bus.set_fault_handler([](const fedbiomed::MessagingFault& fault) {
        print_stderr(std::string(kProgram) + ": " + fault.message);
    });
    bus.set_connection_state_handler([&round](const fedbiomed::ConnectionEvent& event) {
        if (event.state == fedbiomed::ConnectionState::failed) {
            round.fail(event.reason);
        }
    });

    const auto connect_start = Clock::now();
    try {
        bus.start();
    } catch (const fedbiomed::FedbiomedError& e) {
        print_stderr(std::string(kProgram) + ": error: " + e.what());
        return 1;
    }
    const double connect_ms = milliseconds_since(connect_start);

    const auto sent_at = Clock::now();
    const auto deadline = sent_at + options.timeout;
    const fedbiomed::Delivery delivery = bus.send_message(request);
    delivery.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout));
    if (!delivery.delivered()) {
        const std::string why = delivery.state() == fedbiomed::Delivery::State::failed
                                    ? delivery.error()
                                    : "not acknowledged by the broker in time";
        print_stderr(std::string(kProgram) + ": error: the request was not delivered: " + why);
        bus.stop();
        return 1;
    }

    const std::size_t answered = round.wait(options.nodes, deadline);
    const double round_ms = milliseconds_since(sent_at);
    bus.stop();

    const std::string failure = round.failure();
    if (!failure.empty()) {
        print_stderr(std::string(kProgram) + ": error: messaging failed for good: " + failure);
        return fbm_cli::kExitMessagingFailed;
    }
    const int signal_number = round.signal();
    std::string summary = std::string(kProgram) + ": " + options.command + ": " + std::to_string(answered);
    if (options.nodes) {
        summary += " of " + std::to_string(*options.nodes);
    }
    char timing[96];
    std::snprintf(timing, sizeof timing, " node(s) answered in %.1f ms (connect %.1f ms)", round_ms,
                  connect_ms);
    summary += timing;
    if (signal_number != 0) {
        print_stderr(summary + ", interrupted by " + fbm_cli::SignalWatcher::name(signal_number));
        return 128 + signal_number;
    }
    print_stderr(summary);
    if (options.nodes && static_cast<std::int64_t>(answered) < *options.nodes) {
        return kExitFewerNodes;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    ResearcherOptions options;
    try {
        options = parse_arguments(argc, argv);
    } catch (const fbm_cli::UsageError& e) {
        std::cerr << kProgram << ": " << e.what() << "\nTry '" << kProgram
                  << " --help' for more information.\n";
        return fbm_cli::kExitUsage;
    }
    if (options.help) {
        std::cout << kUsage << fbm_cli::kBrokerHelp << kOptions << '\n'
                  << fbm_cli::kSecurityHelp << kUsageTail;
        return 0;
    }
    if (options.version) {
        std::cout << fbm_cli::version_text(kProgram);
        return 0;
    }
    try {
        return run(options);
    } catch (const std::exception& e) {
        print_stderr(std::string(kProgram) + ": error: " + e.what());
        return 1;
    }
}

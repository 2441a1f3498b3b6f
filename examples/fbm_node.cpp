// fbm-node: a Fed-BioMed node on the MQTT message bus that answers ping, search and list requests.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "cli_args.hpp"
#include "connection_args.hpp"
#include "dataset_catalog.hpp"
#include "fedbiomed/errors.hpp"
#include "fedbiomed/logger.hpp"
#include "fedbiomed/messaging.hpp"
#include "node_service.hpp"
#include "signal_watcher.hpp"

namespace {

constexpr const char* kProgram = "fbm-node";

constexpr const char* kUsage =
    R"(Usage: fbm-node [OPTION]... --id NODE_ID

A Fed-BioMed node on the MQTT message bus (messaging protocol version 1). It answers the
researchers' ping (pong), search (the datasets holding every requested tag; no reply when none
does) and list (every dataset) requests, answers a malformed or unsupported request with an FB301
error message, and forwards its log records (INFO and above) on general/logger.

Options:
)";

// After fbm_cli::kBrokerHelp.
constexpr const char* kOptions =
    R"(  --id NODE_ID       this node's id, e.g. node_1 (required; no '/', '+' or '#')
  --datasets FILE    a JSON array of dataset entries with the fields name, data_type, tags,
                     description, shape, path, dataset_id, dtypes and dataset_parameters
                     (default: the node holds no dataset)
  --log-level LEVEL  DEBUG, INFO, WARNING, ERROR or CRITICAL (default: INFO)
  -h, --help         print this help and exit
  --version          print the program's and the protocol's versions and exit
)";

constexpr const char* kUsageTail = R"(
Prints one line on stdout once it is connected and subscribed. SIGINT or SIGTERM makes it
disconnect cleanly (MQTT DISCONNECT) and exit 0. A lost connection is re-established by itself;
when messaging fails for good (another process uses the same node id, the broker refuses a
reconnection) the node exits with status 4, so that a supervisor restarts it.

Exit status: 0 stopped by a signal, 1 runtime error (broker unreachable, bad datasets file),
2 bad usage, 4 messaging failed for good while running.
)";

struct NodeOptions {
    bool help = false;
    bool version = false;
    fbm_cli::ConnectionArgs security;
    std::vector<std::string> brokers{"localhost"};
    int port = 1883;
    std::string id;
    std::string datasets_file;
    std::string log_level = "INFO";
};

NodeOptions parse_arguments(int argc, const char* const* argv) {
    using fbm_cli::UsageError;
    NodeOptions options;
    fbm_cli::ArgCursor args(argc, argv);
    while (!args.done()) {
        if (!args.at_option()) {
            throw UsageError("unexpected argument '" + args.next() + "'");
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
        } else if (option == "--datasets") {
            options.datasets_file = fbm_cli::require_non_empty(option, args.value(option));
        } else if (option == "--log-level") {
            options.log_level = args.value(option);
            const std::string& level = options.log_level;
            if (level != "DEBUG" && level != "INFO" && level != "WARNING" && level != "ERROR" &&
                level != "CRITICAL") {
                throw UsageError("option --log-level: unknown level '" + level + "'");
            }
        } else if (!options.security.parse(args, option)) {
            throw UsageError("unknown option '" + option + "'");
        }
    }
    options.security.check();
    if (options.id.empty()) {
        throw UsageError("missing --id NODE_ID");
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
    return options;
}

/// What ends the node: the first SIGINT/SIGTERM (a second one while stopping exits at once), or a sticky
/// messaging failure.
class StopRequest {
public:
    void signal(int signal_number) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (signal_number_ != 0) {
                std::fprintf(stderr, "%s: second signal, exiting without waiting\n", kProgram);
                std::_Exit(1);
            }
            signal_number_ = signal_number;
        }
        changed_.notify_all();
    }

    /// Messaging failed for good (called from the connection-state handler, on the dispatcher thread).
    void fail(std::string reason) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (failure_.empty()) {
                failure_ = reason.empty() ? std::string("messaging failed") : std::move(reason);
            }
        }
        changed_.notify_all();
    }

    /// Waits for a signal (returns its number) or a failure (returns 0; see failure()).
    int wait() {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [this] { return signal_number_ != 0 || !failure_.empty(); });
        return failure_.empty() ? signal_number_ : 0;
    }

    std::string failure() {
        std::lock_guard<std::mutex> lock(mutex_);
        return failure_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int signal_number_ = 0;
    std::string failure_;
};

// Sends one answer of the node service; a reply that cannot be serialised becomes the reference's
// "Message was not serializable" error. Runs on the dispatcher thread; never throws.
void send_reply(fedbiomed::Messaging& bus, const fbm_cli::NodeReply& reply) noexcept {
    try {
        if (reply.is_error) {
            bus.send_error(reply.errnum, reply.extra_msg, reply.researcher_id);
            return;
        }
        try {
            bus.send_message(reply.message);
        } catch (const fedbiomed::MessageError& e) {
            fedbiomed::library_logger()->error("reply not serialisable: {}", e.what());
            bus.send_error(fedbiomed::ErrorNumbers::FB301, "Message was not serializable",
                           reply.researcher_id);
        }
    } catch (const std::exception& e) {
        fedbiomed::library_logger()->error("cannot send the reply: {}", e.what());
    } catch (...) {
        fedbiomed::library_logger()->error("cannot send the reply");
    }
}

int run(const NodeOptions& options) {
    fbm_cli::DatasetCatalog catalog;
    if (!options.datasets_file.empty()) {
        try {
            catalog = fbm_cli::DatasetCatalog::load_file(options.datasets_file);
        } catch (const fbm_cli::CatalogError& e) {
            std::cerr << kProgram << ": error: " << e.what() << '\n';
            return 1;
        }
    }

    // Before any other thread exists, so that only the watcher thread ever takes SIGINT/SIGTERM.
    StopRequest stop_request;
    fbm_cli::SignalWatcher signals(
        [&stop_request](int signal_number) { stop_request.signal(signal_number); });

    fedbiomed::set_log_level(options.log_level);
    const auto logger = fedbiomed::library_logger();

    const fbm_cli::NodeService service(options.id, std::move(catalog));
    fedbiomed::MessagingOptions messaging_options;
    messaging_options.brokers = options.brokers;
    messaging_options.port = options.port;
    options.security.apply(messaging_options);  // throws naming a password file it cannot read
    messaging_options.forward_logs = true;

    // The handlers run on the dispatcher thread, which starts in start(), after `bus` is set.
    std::unique_ptr<fedbiomed::Messaging> bus;
    bus = std::make_unique<fedbiomed::Messaging>(
        [&service, &bus](const fedbiomed::Json& msg, const std::string& /*topic*/) {
            if (auto reply = service.handle(msg)) {
                send_reply(*bus, *reply);
            }
        },
        fedbiomed::ComponentType::node, options.id, messaging_options);
    bus->set_fault_handler([&service, &bus](const fedbiomed::MessagingFault& fault) {
        // The library has logged the fault already (a bounded number of lines per second under a flood);
        // the reply is bounded too (MessagingOptions::error_rate).
        if (auto reply = service.handle_fault(fault)) {
            send_reply(*bus, *reply);
        }
    });
    bus->set_connection_state_handler([&stop_request](const fedbiomed::ConnectionEvent& event) {
        if (event.state == fedbiomed::ConnectionState::failed) {
            stop_request.fail(event.reason);
        }
    });

    try {
        bus->start();
    } catch (const fedbiomed::FedbiomedError& e) {
        std::cerr << kProgram << ": error: " << e.what() << '\n';
        return 1;
    }
    std::cout << kProgram << ": node " << options.id << " connected to " << bus->broker() << " with "
              << service.catalog().size() << " dataset(s), waiting for requests (SIGINT/SIGTERM to stop)"
              << std::endl;
    logger->info("node {} ready with {} dataset(s)", options.id, service.catalog().size());

    const int signal_number = stop_request.wait();
    if (signal_number == 0) {
        // Sticky: the library will not reconnect. Exit non-zero so that a supervisor restarts the node.
        const std::string failure = stop_request.failure();
        logger->critical("node {} stops: {}", options.id, failure);
        bus->stop();
        std::cerr << kProgram << ": error: messaging failed for good: " << failure << '\n';
        return fbm_cli::kExitMessagingFailed;
    }
    const char* signal_name = fbm_cli::SignalWatcher::name(signal_number);
    logger->info("node {} stopping on {}", options.id, signal_name);
    // As the reference's signal handler: tell the researchers this node is going away.
    try {
        if (bus->is_connected()) {
            bus->send_error(fedbiomed::ErrorNumbers::FB312, std::string("node stopped by ") + signal_name);
        }
    } catch (const std::exception& e) {
        logger->warn("cannot announce the stop: {}", e.what());
    }
    bus->stop();
    std::cout << kProgram << ": node " << options.id << " disconnected (" << signal_name << ')' << std::endl;
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    NodeOptions options;
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
        std::cerr << kProgram << ": error: " << e.what() << '\n';
        return 1;
    }
}

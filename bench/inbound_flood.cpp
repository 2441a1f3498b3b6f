// fbm-inbound-flood: the peak memory of a node whose handler is slower than what arrives (issue 11, item 5).
// A separate program from fbm-bench, small enough to be built against an older version of the library too
// (the before/after of docs/reliability.md); scripts/inbound_flood.sh runs it.
//
//   fbm-inbound-flood receive --port P --id NODE --count N [--handler-ms 10] [--max-bytes B]
//       a node with the library's default options (plus --max-bytes as inbound_max_bytes, when given) whose
//       handler takes --handler-ms per message (simulated work); prints "ready", then once N messages were
//       handled or dropped (or nothing happened for 60 s) one line of figures, its peak RSS (VmHWM) included
//   fbm-inbound-flood send --port P --to NODE --count N --size BYTES
//       a researcher (default options) sending N messages of about BYTES to NODE as fast as the broker
//       acknowledges them (at most 64 MiB and 256 messages unacknowledged, well within its outbox)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <fedbiomed/messaging.hpp>

namespace {

using Clock = std::chrono::steady_clock;

std::map<std::string, std::string> parse(int argc, char** argv) {
    std::map<std::string, std::string> args;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (std::strncmp(argv[i], "--", 2) != 0) {
            throw std::runtime_error(std::string("unexpected argument ") + argv[i]);
        }
        args[argv[i] + 2] = argv[i + 1];
    }
    return args;
}

std::string required(const std::map<std::string, std::string>& args, const std::string& name) {
    const auto found = args.find(name);
    if (found == args.end()) {
        throw std::runtime_error("--" + name + " is required");
    }
    return found->second;
}

long peak_rss_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            return std::atol(line.c_str() + 6);
        }
    }
    return -1;
}

fedbiomed::MessagingOptions options_for(int port) {
    fedbiomed::MessagingOptions options;
    options.broker = "127.0.0.1";
    options.port = port;
    return options;
}

int receive(const std::map<std::string, std::string>& args) {
    const int port = std::stoi(required(args, "port"));
    const std::string id = required(args, "id");
    const std::uint64_t count = std::stoull(required(args, "count"));
    const auto handler_time =
        std::chrono::milliseconds(args.count("handler-ms") ? std::stol(args.at("handler-ms")) : 10);
    auto options = options_for(port);
#ifndef FBM_FLOOD_BEFORE
    if (args.count("max-bytes") != 0) {
        options.inbound_max_bytes = std::stoull(args.at("max-bytes"));
    }
#endif
    std::atomic<std::uint64_t> handled{0};
    fedbiomed::Messaging node(
        [&](const fedbiomed::Json&, const std::string&) {
            std::this_thread::sleep_for(handler_time);  // the simulated work of a slow handler (training)
            handled.fetch_add(1);
        },
        fedbiomed::ComponentType::node, id, options);
    node.start();
    std::printf("ready\n");
    std::fflush(stdout);
    const auto began = Clock::now();
    auto last_change = began;
    std::uint64_t last_seen = 0;
    for (;;) {
        const auto stats = node.stats();
        const std::uint64_t seen = handled.load() + stats.inbound_dropped;
        if (seen >= count) {
            break;
        }
        if (seen != last_seen) {
            last_seen = seen;
            last_change = Clock::now();
        } else if (Clock::now() - last_change > std::chrono::seconds(60)) {
            std::fprintf(stderr, "no progress for 60 s: %llu of %llu\n",
                         static_cast<unsigned long long>(seen), static_cast<unsigned long long>(count));
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling a figure, not synchronising
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - began).count();
    const auto stats = node.stats();
    node.stop();
    std::printf("handled %llu dropped %llu", static_cast<unsigned long long>(handled.load()),
                static_cast<unsigned long long>(stats.inbound_dropped));
#ifndef FBM_FLOOD_BEFORE
    std::printf(" bound_drops %llu held_back %llu inbound_bytes_peak %llu",
                static_cast<unsigned long long>(stats.inbound_bound_drops),
                static_cast<unsigned long long>(stats.inbound_held_back),
                static_cast<unsigned long long>(stats.inbound_bytes_peak));
#endif
    std::printf(" seconds %.1f vm_hwm_kb %ld\n", seconds, peak_rss_kb());
    return 0;
}

int send(const std::map<std::string, std::string>& args) {
    const int port = std::stoi(required(args, "port"));
    const std::string to = required(args, "to");
    const long count = std::stol(required(args, "count"));
    const std::size_t size = std::stoull(required(args, "size"));
    fedbiomed::Messaging researcher([](const fedbiomed::Json&, const std::string&) {},
                                    fedbiomed::ComponentType::researcher, "flood_researcher",
                                    options_for(port));
    researcher.start();
    const std::string padding(size, 'x');
    // Within the outbox's default bounds (256 MiB): what overflows it would fail instead of being sent.
    const std::size_t window = std::clamp<std::size_t>(std::size_t{64} * 1024U * 1024U / (size + 1), 1, 256);
    std::deque<fedbiomed::Delivery> pending;
    long failed = 0;
    auto settle = [&] {
        if (!pending.front().wait_for(std::chrono::minutes(5)) || !pending.front().delivered()) {
            ++failed;
        }
        pending.pop_front();
    };
    for (long i = 0; i < count; ++i) {
        fedbiomed::Json msg = {{"protocol_version", "1"},
                               {"researcher_id", "flood_researcher"},
                               {"command", "ping"},
                               {"sequence", i},
                               {"padding", padding}};
        pending.push_back(researcher.send_message(msg, to));
        if (pending.size() >= window) {
            settle();
        }
    }
    while (!pending.empty()) {
        settle();
    }
    researcher.stop();
    std::printf("sent %ld failed %ld\n", count, failed);
    return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs("usage: fbm-inbound-flood receive|send --option value ... (see inbound_flood.cpp)\n",
                   stderr);
        return 2;
    }
    try {
        const auto args = parse(argc, argv);
        if (std::strcmp(argv[1], "receive") == 0) {
            return receive(args);
        }
        if (std::strcmp(argv[1], "send") == 0) {
            return send(args);
        }
        std::fprintf(stderr, "unknown command %s\n", argv[1]);
        return 2;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "fbm-inbound-flood: %s\n", error.what());
        return 1;
    }
}

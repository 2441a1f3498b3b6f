#include "roles.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "endpoint.hpp"
#include "fedbiomed/version.hpp"
#include "line_reader.hpp"
#include "messages.hpp"
#include "resources.hpp"
#include <unistd.h>

namespace fbm_bench {
namespace {

using fedbiomed::Json;
using Clock = std::chrono::steady_clock;

void say(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void print_result(nlohmann::json result, const Usage& usage) {
    result["cpu_s"] = usage.cpu_seconds;
    result["max_rss_kb"] = usage.max_rss_kb;
    say("RESULT " + result.dump());
}

// Blocks until the orchestrator writes "GO" (true) or closes stdin / writes "QUIT" (false).
bool wait_for_go() {
    LineReader in(STDIN_FILENO);
    for (;;) {
        const auto line = in.next();
        if (!line || *line == "QUIT") {
            return false;
        }
        if (*line == "GO") {
            return true;
        }
    }
}

EndpointConfig config_from(const Args& args, Side side, const std::string& default_id) {
    EndpointConfig config;
    config.impl = parse_impl(args.get("impl", "lib"));
    config.side = side;
    config.id = args.get("id", default_id + "_" + std::to_string(::getpid()));
    config.port = static_cast<int>(args.get_int("port", 1883));
    config.qos = static_cast<int>(args.get_int("qos", -1));
    config.stderr_path = args.get("tools-log");
    config.clean_session = args.has("clean-session");
    return config;
}

// ---- pub: one node streams messages as fast as its client takes them ----
int run_pub(const Args& args) {
    EndpointConfig config = config_from(args, Side::node, "bench_pub");
    config.batch_writes = true;
    config.max_outstanding = static_cast<std::size_t>(args.get_int("max-outstanding", 0));
    const Kind kind = parse_kind(args.get("kind", "small"));
    const long long count = args.get_int("count", 10000);
    const long long sample_every = args.get_int("rss-every", 0);
    // --burst N: wait for the completion of every N-th publication before going on (paced sending, so
    // that no client ever refuses a publication; used for the instruction counts).
    const long long burst = args.get_int("burst", 0);
    auto endpoint = make_endpoint(config);
    endpoint->start([](const Json&) {});
    say("READY");
    if (!wait_for_go()) {
        endpoint->stop();
        return 1;
    }
    nlohmann::json rss = nlohmann::json::array();
    const std::int64_t first = now_ns();
    for (long long i = 0; i < count; ++i) {
        endpoint->send(stream_message(kind, i, config.id));
        if (burst > 0 && (i + 1) % burst == 0) {
            endpoint->flush();
        }
        if (sample_every > 0 && (i + 1) % sample_every == 0) {
            rss.push_back(current_rss_kb());
        }
    }
    const std::int64_t sent = now_ns();
    endpoint->flush();
    const std::int64_t done = now_ns();
    endpoint->stop();
    nlohmann::json result{{"t_first_ns", first},         {"t_sent_ns", sent},
                          {"t_done_ns", done},           {"retries", endpoint->retries()},
                          {"drops", endpoint->drops()},  {"rss_kb", rss},
                          {"qos", effective_qos(config)}};
    print_result(std::move(result), self_usage(true));
    return 0;
}

// ---- sub: one researcher counts the stream, every message decoded and version-checked ----
int run_sub(const Args& args) {
    EndpointConfig config = config_from(args, Side::researcher, "bench_sub");
    config.publish = false;
    const Kind kind = parse_kind(args.get("kind", "small"));
    const long long count = args.get_int("count", 10000);
    const long long sample_every = args.get_int("rss-every", 0);
    const auto idle_limit = std::chrono::seconds(args.get_int("idle-timeout", 30));

    std::mutex mutex;
    std::condition_variable done_cv;
    long long received = 0;
    std::int64_t first_ns = 0;
    std::int64_t last_ns = 0;
    nlohmann::json rss = nlohmann::json::array();
    auto endpoint = make_endpoint(config);
    endpoint->start([&](const Json& msg) {
        if (!is_stream_message(msg, kind)) {
            return;
        }
        const std::int64_t now = now_ns();
        bool finished = false;
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (++received == 1) {
                first_ns = now;
            }
            last_ns = now;
            if (sample_every > 0 && received % sample_every == 0) {
                rss.push_back(current_rss_kb());
            }
            finished = received == count;
        }
        if (finished) {
            done_cv.notify_all();
        }
    });
    say("READY");
    {
        std::unique_lock<std::mutex> lock(mutex);
        long long seen = -1;
        auto last_progress = Clock::now();
        while (received < count) {
            done_cv.wait_for(lock, std::chrono::milliseconds(500));
            if (received != seen) {
                seen = received;
                last_progress = Clock::now();
            } else if (Clock::now() - last_progress > idle_limit) {
                break;  // messages lost: report what arrived
            }
        }
    }
    endpoint->stop();
    std::lock_guard<std::mutex> lock(mutex);
    nlohmann::json result{
        {"t_first_recv_ns", first_ns},     {"t_last_ns", last_ns}, {"received", received},
        {"bad", endpoint->bad_messages()}, {"rss_kb", rss},        {"qos", effective_qos(config)}};
    print_result(std::move(result), self_usage(true));
    return 0;
}

// ---- node: answers every ping with a pong ----
int run_node(const Args& args) {
    EndpointConfig config = config_from(args, Side::node, "bench_node");
    std::atomic<long long> replies{0};
    auto endpoint = make_endpoint(config);
    Endpoint* raw = endpoint.get();
    const std::string id = config.id;
    endpoint->start([raw, &replies, &id](const Json& msg) {
        const auto command = msg.find("command");
        if (command != msg.end() && command->is_string() &&
            command->get_ref<const std::string&>() == "ping") {
            raw->send(pong_message(msg, id));
            replies.fetch_add(1, std::memory_order_relaxed);
        }
    });
    say("READY");
    wait_for_go();  // runs until the orchestrator closes stdin
    endpoint->stop();
    nlohmann::json result{{"replies", replies.load()}, {"bad", endpoint->bad_messages()}};
    print_result(std::move(result), self_usage(true));
    return 0;
}

// ---- researcher: pings every node and waits for all the pongs, round after round ----
int run_researcher(const Args& args) {
    EndpointConfig config = config_from(args, Side::researcher, "bench_researcher");
    const long long nodes = args.get_int("nodes", 1);
    const long long rounds = args.get_int("rounds", 1000);
    const long long warmup = args.get_int("warmup", 20);
    const double max_seconds = args.get_double("max-seconds", 60.0);
    const auto round_timeout = std::chrono::milliseconds(args.get_int("round-timeout-ms", 10000));
    // A pause before each round, drawn uniformly from [pause-min-ms, pause-max-ms] (0: rounds back to back):
    // how a federation's requests come, after seconds or minutes of training.
    const long long pause_min_ms = args.get_int("pause-min-ms", 0);
    const long long pause_max_ms = std::max(pause_min_ms, args.get_int("pause-max-ms", pause_min_ms));
    std::mt19937_64 pause_random(static_cast<std::uint64_t>(::getpid()));
    std::uniform_int_distribution<long long> pause_ms(pause_min_ms, pause_max_ms);

    std::mutex mutex;
    std::condition_variable done_cv;
    std::int64_t current = -1;
    long long got = 0;
    std::int64_t last_pong_ns = 0;
    auto endpoint = make_endpoint(config);
    endpoint->start([&](const Json& msg) {
        const auto command = msg.find("command");
        const auto sequence = msg.find("sequence");
        if (command == msg.end() || sequence == msg.end() || !command->is_string() ||
            command->get_ref<const std::string&>() != "pong" || !sequence->is_number_integer()) {
            return;
        }
        const std::int64_t now = now_ns();
        bool complete = false;
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (sequence->get<std::int64_t>() != current) {
                return;  // a late pong of a round that timed out
            }
            last_pong_ns = now;
            complete = ++got == nodes;
        }
        if (complete) {
            done_cv.notify_all();
        }
    });
    say("READY");
    if (!wait_for_go()) {
        endpoint->stop();
        return 1;
    }
    nlohmann::json samples = nlohmann::json::array();
    long long timeouts = 0;
    const auto started = Clock::now();
    for (long long round = 0; round < warmup + rounds; ++round) {
        if (pause_max_ms > 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(pause_random)));
        }
        {
            std::lock_guard<std::mutex> lock(mutex);
            current = round;
            got = 0;
        }
        const std::int64_t sent = now_ns();
        endpoint->send(ping_message(config.id, round));
        std::unique_lock<std::mutex> lock(mutex);
        if (!done_cv.wait_for(lock, round_timeout, [&] { return got == nodes; })) {
            ++timeouts;
            continue;
        }
        if (round >= warmup) {
            samples.push_back(static_cast<double>(last_pong_ns - sent) / 1000.0);
        }
        lock.unlock();
        if (round >= warmup && std::chrono::duration<double>(Clock::now() - started).count() > max_seconds) {
            break;
        }
    }
    endpoint->stop();
    nlohmann::json result{{"samples_us", samples},
                          {"timeouts", timeouts},
                          {"bad", endpoint->bad_messages()},
                          {"qos", effective_qos(config)}};
    print_result(std::move(result), self_usage(true));
    return 0;
}

// ---- connect: how long a client takes from nothing to connected and subscribed (start() returns), alone
// in its process and then as the second client of the process while the first stays connected ----
int run_connect(const Args& args) {
    const long long rounds = args.get_int("rounds", 10);
    nlohmann::json first = nlohmann::json::array();
    nlohmann::json second = nlohmann::json::array();
    for (long long round = 0; round < rounds; ++round) {
        EndpointConfig config = config_from(args, Side::researcher, "bench_connect");
        config.id = "connect_a_" + std::to_string(round) + "_" + std::to_string(::getpid());
        auto a = make_endpoint(config);
        std::int64_t start = now_ns();
        a->start([](const Json&) {});
        first.push_back(static_cast<double>(now_ns() - start) / 1e6);
        config.id = "connect_b_" + std::to_string(round) + "_" + std::to_string(::getpid());
        auto b = make_endpoint(config);
        start = now_ns();
        b->start([](const Json&) {});
        second.push_back(static_cast<double>(now_ns() - start) / 1e6);
        b->stop();
        a->stop();
    }
    nlohmann::json result{{"first_ms", first}, {"second_ms", second}};
    print_result(std::move(result), self_usage(true));
    return 0;
}

}  // namespace

Args::Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
        std::string key = argv[i];
        if (key.rfind("--", 0) != 0) {
            throw std::invalid_argument("unexpected argument '" + key + "'");
        }
        key.erase(0, 2);
        if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
            values_[key] = argv[++i];
        } else {
            values_[key] = "1";
        }
    }
}

std::string Args::get(const std::string& key, const std::string& fallback) const {
    const auto found = values_.find(key);
    return found == values_.end() ? fallback : found->second;
}

long long Args::get_int(const std::string& key, long long fallback) const {
    const auto found = values_.find(key);
    return found == values_.end() ? fallback : std::stoll(found->second);
}

double Args::get_double(const std::string& key, double fallback) const {
    const auto found = values_.find(key);
    return found == values_.end() ? fallback : std::stod(found->second);
}

int run_role(const std::string& role, const Args& args) {
    if (role == "pub") {
        return run_pub(args);
    }
    if (role == "sub") {
        return run_sub(args);
    }
    if (role == "node") {
        return run_node(args);
    }
    if (role == "researcher") {
        return run_researcher(args);
    }
    if (role == "connect") {
        return run_connect(args);
    }
    throw std::invalid_argument("unknown role '" + role + "'");
}

}  // namespace fbm_bench

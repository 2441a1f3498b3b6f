#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <optional>

#include <sys/wait.h>

namespace fbm_bench {
namespace {

using nlohmann::json;

const char* const kImpls[] = {"lib", "paho", "tools"};

const char* impl_title(const std::string& impl) {
    if (impl == "lib") {
        return "this library";
    }
    if (impl == "paho") {
        return "raw Paho C++";
    }
    if (impl == "paho-wait") {
        return "raw Paho, waits";
    }
    return "mosquitto tools";
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) {
        return 0.0;
    }
    // Nearest rank.
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// An empty @p broker matches any.
const json* find_row(const json& rows, const std::string& workload, const std::string& impl, int qos,
                     long long nodes = -1, const std::string& broker = "tuned") {
    for (const auto& row : rows) {
        if (row.value("workload", "") == workload && row.value("impl", "") == impl &&
            (qos < 0 || row.value("qos", -1) == qos) && (nodes < 0 || row.value("nodes", -1LL) == nodes) &&
            (broker.empty() || row.value("broker", std::string("tuned")) == broker)) {
            return &row;
        }
    }
    return nullptr;
}

std::optional<double> rate(const json& results, const std::string& workload, const std::string& impl,
                           int qos) {
    // Throughput runs have one broker per run (the tuned Mosquitto, or the RabbitMQ cluster): any.
    const json* row = find_row(results.at("throughput"), workload, impl, qos, -1, "");
    if (row == nullptr) {
        return std::nullopt;
    }
    return row->at("msgs_per_s").get<double>();
}

std::optional<double> percentile_of(const json& results, const char* section, const std::string& impl,
                                    int qos, long long nodes, const std::string& broker, const char* which) {
    const json* row = find_row(results.at(section), section, impl, qos, nodes, broker);
    if (row == nullptr || row->at("rounds").get<long long>() == 0) {
        return std::nullopt;
    }
    return row->at("summary_us").at(which).get<double>();
}

std::optional<double> p50(const json& results, const std::string& impl, int qos,
                          const std::string& broker = "tuned") {
    return percentile_of(results, "latency", impl, qos, -1, broker, "p50");
}

std::optional<double> connect_p50(const json& results, const std::string& impl, const std::string& broker,
                                  const char* which) {
    if (!results.contains("connect")) {
        return std::nullopt;
    }
    const json* row = find_row(results.at("connect"), "connect", impl, -1, -1, broker);
    if (row == nullptr || row->at(which).at("n").get<long long>() == 0) {
        return std::nullopt;
    }
    return row->at(which).at("p50").get<double>();
}

void add_target(json& targets, const std::string& name, std::optional<double> value, double threshold,
                bool at_least, const std::string& unit = "x") {
    if (!value) {
        return;
    }
    const bool met = at_least ? *value >= threshold : *value <= threshold;
    targets.push_back(json{{"target", name},
                           {"value", *value},
                           {"threshold", threshold},
                           {"comparison", at_least ? ">=" : "<="},
                           {"unit", unit},
                           {"met", met}});
}

std::optional<double> ratio(std::optional<double> a, std::optional<double> b) {
    if (!a || !b || *b == 0.0) {
        return std::nullopt;
    }
    return *a / *b;
}

std::string fmt(const char* format, double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, value);
    return buffer;
}

std::string rate_text(const json& rows, const std::string& workload, const std::string& impl, int qos) {
    const json* row = find_row(rows, workload, impl, qos, -1, "");
    if (row == nullptr) {
        return "-";
    }
    std::string text = fmt("%.0f", row->at("msgs_per_s").get<double>());
    if (row->at("lost").get<long long>() != 0) {
        text += " (lost " + std::to_string(row->at("lost").get<long long>()) + ")";
    }
    return text;
}

int run_command(const std::string& command) {
    const int status = std::system(command.c_str());
    return status == -1 ? -1 : WEXITSTATUS(status);
}

}  // namespace

json summarize(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    const double sum = std::accumulate(samples.begin(), samples.end(), 0.0);
    return json{{"n", samples.size()},
                {"min", samples.empty() ? 0.0 : samples.front()},
                {"p50", percentile(samples, 50)},
                {"p90", percentile(samples, 90)},
                {"p99", percentile(samples, 99)},
                {"max", samples.empty() ? 0.0 : samples.back()},
                {"mean", samples.empty() ? 0.0 : sum / static_cast<double>(samples.size())}};
}

json evaluate_targets(const json& results) {
    json targets = json::array();
    for (const int qos : {0, 1}) {
        const std::string q = " QoS " + std::to_string(qos);
        add_target(targets, "280 B throughput" + q + ": lib / raw Paho",
                   ratio(rate(results, "throughput-280B", "lib", qos),
                         rate(results, "throughput-280B", "paho", qos)),
                   1.5, true);
        add_target(targets, "280 B throughput" + q + ": lib / mosquitto tools",
                   ratio(rate(results, "throughput-280B", "lib", qos),
                         rate(results, "throughput-280B", "tools", qos)),
                   0.9, true);
    }
    for (const int qos : {0, 1}) {
        add_target(targets, "64 KiB throughput QoS " + std::to_string(qos) + ": lib / raw Paho",
                   ratio(rate(results, "throughput-64KiB", "lib", qos),
                         rate(results, "throughput-64KiB", "paho", qos)),
                   3.0, true);
    }
    // Stock Mosquitto (Nagle on) against the tuned one, same run: the library must not care which it gets.
    for (const int qos : {0, 1}) {
        for (const char* which : {"p50", "p99"}) {
            add_target(targets,
                       std::string("round trip ") + which + " QoS " + std::to_string(qos) +
                           ": lib, stock / tuned broker",
                       ratio(percentile_of(results, "latency", "lib", qos, -1, "stock", which),
                             percentile_of(results, "latency", "lib", qos, -1, "tuned", which)),
                       1.2, false);
        }
    }
    for (const long long nodes : {10LL, 50LL}) {
        add_target(targets,
                   "federation round p50, " + std::to_string(nodes) + " nodes: lib, stock / tuned broker",
                   ratio(percentile_of(results, "federation", "lib", -1, nodes, "stock", "p50"),
                         percentile_of(results, "federation", "lib", -1, nodes, "tuned", "p50")),
                   1.2, false);
    }
    add_target(targets, "connect p50, stock broker: lib / whole mosquitto_pub run",
               ratio(connect_p50(results, "lib", "stock", "first_ms"),
                     connect_p50(results, "tools", "stock", "first_ms")),
               2.0, false);
    add_target(targets, "connect p50, stock broker: second client of a process / first (lib)",
               ratio(connect_p50(results, "lib", "stock", "second_ms"),
                     connect_p50(results, "lib", "stock", "first_ms")),
               2.0, false);
    add_target(targets, "round trip p50 QoS 1: lib / mosquitto tools",
               ratio(p50(results, "lib", 1), p50(results, "tools", 1)), 1.2, false);
    add_target(targets, "round trip p50 QoS 0: lib / mosquitto tools",
               ratio(p50(results, "lib", 0), p50(results, "tools", 0)), 1.1, false);
    for (const std::string path : {"send", "receive"}) {
        std::optional<double> lib;
        std::optional<double> paho;
        for (const auto& row : results.at("callgrind")) {
            if (row.at("path") == path) {
                (row.at("impl") == "lib" ? lib : paho) = row.at("per_message").get<double>();
            }
        }
        add_target(targets, "instructions per message, " + path + " path: lib / raw Paho", ratio(lib, paho),
                   1.2, false);
    }
    for (const auto& row : results.at("federation")) {
        if (row.at("impl") == "lib" && row.at("rounds").get<long long>() > 0) {
            add_target(
                targets,
                "federation round, " + std::to_string(row.at("nodes").get<long long>()) + " nodes, p50 (lib)",
                row.at("summary_us").at("p50").get<double>() / 1000.0, 100.0, false, "ms");
        }
    }
    if (results.contains("stream")) {
        const json& stream = results.at("stream");
        for (const char* side : {"pub", "sub"}) {
            const auto series =
                stream.at(std::string("rss_series_") + side + "_kb").get<std::vector<double>>();
            if (series.size() >= 3) {
                // From the second sample (allocators and queues warmed up) to the last.
                add_target(targets,
                           std::string("long stream, ") + side + " memory growth (2nd sample to last)",
                           (series.back() - series[1]) / series[1] * 100.0, 10.0, false, "%");
            }
        }
    }
    return targets;
}

void print_report(const json& results, std::FILE* out) {
    const json& machine = results.at("machine");
    std::fprintf(out, "\nfbm-bench on %s, %d CPU(s), %s; %s; Paho C %s, Paho C++ %s; %s build\n",
                 machine.value("cpu_model", "?").c_str(), machine.value("cpus", 0),
                 machine.value("kernel", "?").c_str(), machine.value("mosquitto", "?").c_str(),
                 machine.value("paho_c", "?").c_str(), machine.value("paho_cpp", "?").c_str(),
                 machine.value("build", "?").c_str());

    const json& rows = results.at("throughput");
    if (!rows.empty()) {
        std::fprintf(out,
                     "\nThroughput, messages/s (first send to last receive, each message decoded and "
                     "version-checked)\n");
        std::fprintf(out, "%-18s %16s %16s %16s %10s %10s\n", "workload", "this library", "raw Paho",
                     "mosquitto tools", "lib/Paho", "lib/tools");
        for (const std::string workload : {"throughput-280B", "throughput-64KiB"}) {
            for (const int qos : {0, 1}) {
                const auto lib = rate(results, workload, "lib", qos);
                const std::string label = (workload == "throughput-280B" ? "~280 B" : "64 KiB") +
                                          std::string(" QoS ") + std::to_string(qos);
                const auto vs_paho = ratio(lib, rate(results, workload, "paho", qos));
                const auto vs_tools = ratio(lib, rate(results, workload, "tools", qos));
                std::fprintf(out, "%-18s %16s %16s %16s %10s %10s\n", label.c_str(),
                             rate_text(rows, workload, "lib", qos).c_str(),
                             rate_text(rows, workload, "paho", qos).c_str(),
                             rate_text(rows, workload, "tools", qos).c_str(),
                             vs_paho ? fmt("%.2fx", *vs_paho).c_str() : "-",
                             vs_tools ? fmt("%.2fx", *vs_tools).c_str() : "-");
            }
        }
        std::fprintf(out, "(median of %lld run(s) each; every run's rate is in the JSON file)\n",
                     results.at("settings").value("repeat", 1LL));
        std::fprintf(out,
                     "\nCPU seconds per 100 000 messages (publisher / subscriber / broker) and peak RSS in "
                     "MiB (pub / sub / broker)\n");
        for (const auto& row : rows) {
            std::fprintf(
                out,
                "%-18s %-6s QoS %d   cpu %6.2f / %6.2f / %6.2f   rss %6.1f / %6.1f / %6.1f   retries %llu   "
                "drops %llu\n",
                row.at("workload").get<std::string>().c_str(), row.at("impl").get<std::string>().c_str(),
                row.at("qos").get<int>(), row.at("cpu_pub_per_100k").get<double>(),
                row.at("cpu_sub_per_100k").get<double>(), row.at("cpu_broker_per_100k").get<double>(),
                row.at("rss_pub_kb").get<double>() / 1024.0, row.at("rss_sub_kb").get<double>() / 1024.0,
                row.at("rss_broker_kb").get<double>() / 1024.0,
                // Results written before the two were told apart have "refusals" (raw Paho's retries).
                row.value("retries", row.value("refusals", 0ULL)), row.value("drops", 0ULL));
        }
    }

    const json& latency = results.at("latency");
    if (!latency.empty()) {
        std::fprintf(out,
                     "\nRound trip ping -> pong, microseconds (researcher and node in separate processes)\n");
        std::fprintf(out, "%-7s %-5s %-16s %7s %10s %10s %10s %10s %9s\n", "broker", "QoS", "client", "n",
                     "p50", "p90", "p99", "max", "timeouts");
        for (const auto& row : latency) {
            const json& summary = row.at("summary_us");
            std::fprintf(out, "%-7s %-5d %-16s %7lld %10.0f %10.0f %10.0f %10.0f %9lld\n",
                         row.value("broker", std::string("tuned")).c_str(), row.at("qos").get<int>(),
                         impl_title(row.at("impl").get<std::string>()), summary.at("n").get<long long>(),
                         summary.at("p50").get<double>(), summary.at("p90").get<double>(),
                         summary.at("p99").get<double>(), summary.at("max").get<double>(),
                         row.at("timeouts").get<long long>());
        }
    }

    const json& federation = results.at("federation");
    if (!federation.empty()) {
        std::fprintf(
            out,
            "\nFederation round: the researcher pings every node and waits for every pong, milliseconds\n");
        std::fprintf(out, "%-7s %-6s %-16s %4s %7s %9s %9s %9s %9s %14s\n", "broker", "nodes", "client",
                     "QoS", "rounds", "p50", "p90", "max", "timeouts", "node CPU/round");
        for (const auto& row : federation) {
            const json& summary = row.at("summary_us");
            const auto rounds = row.at("rounds").get<long long>();
            std::fprintf(out, "%-7s %-6lld %-16s %4d %7lld %9.2f %9.2f %9.2f %9lld %11.2f ms\n",
                         row.value("broker", std::string("tuned")).c_str(), row.at("nodes").get<long long>(),
                         impl_title(row.at("impl").get<std::string>()), row.at("qos").get<int>(), rounds,
                         summary.at("p50").get<double>() / 1000.0, summary.at("p90").get<double>() / 1000.0,
                         summary.at("max").get<double>() / 1000.0, row.at("timeouts").get<long long>(),
                         rounds > 0
                             ? row.at("cpu_nodes_s").get<double>() * 1000.0 / static_cast<double>(rounds)
                             : 0.0);
        }
    }

    if (results.contains("idle") && !results.at("idle").empty()) {
        std::fprintf(
            out,
            "\nRound after a pause of 1.0-2.1 s (how a federation's requests come): the researcher pings "
            "every node and waits for every pong, milliseconds; slow: rounds over 20 ms\n");
        std::fprintf(out, "%-7s %-6s %-16s %4s %7s %9s %9s %9s %6s %9s\n", "broker", "nodes", "client", "QoS",
                     "rounds", "p50", "p90", "max", "slow", "timeouts");
        for (const auto& row : results.at("idle")) {
            const json& summary = row.at("summary_us");
            long long slow = 0;
            for (const auto& sample : row.at("samples_us")) {
                slow += sample.get<double>() > 20000.0 ? 1 : 0;
            }
            std::fprintf(out, "%-7s %-6lld %-16s %4d %7lld %9.2f %9.2f %9.2f %6lld %9lld\n",
                         row.value("broker", std::string("tuned")).c_str(), row.at("nodes").get<long long>(),
                         impl_title(row.at("impl").get<std::string>()), row.at("qos").get<int>(),
                         row.at("rounds").get<long long>(), summary.at("p50").get<double>() / 1000.0,
                         summary.at("p90").get<double>() / 1000.0, summary.at("max").get<double>() / 1000.0,
                         slow, row.at("timeouts").get<long long>());
        }
    }

    if (results.contains("connect") && !results.at("connect").empty()) {
        std::fprintf(out,
                     "\nConnect: a researcher from nothing to connected and subscribed, milliseconds (first: "
                     "alone in its process; second: while a first client of the process is connected; "
                     "mosquitto tools: a whole mosquitto_pub -q 1 run)\n");
        std::fprintf(out, "%-7s %-16s %7s %9s %9s %9s %10s %10s\n", "broker", "client", "rounds", "p50",
                     "p90", "max", "2nd p50", "2nd max");
        for (const auto& row : results.at("connect")) {
            const json& first = row.at("first_ms");
            const json& second = row.at("second_ms");
            const bool has_second = second.at("n").get<long long>() > 0;
            std::fprintf(out, "%-7s %-16s %7lld %9.1f %9.1f %9.1f %10s %10s\n",
                         row.at("broker").get<std::string>().c_str(),
                         impl_title(row.at("impl").get<std::string>()), row.at("rounds").get<long long>(),
                         first.at("p50").get<double>(), first.at("p90").get<double>(),
                         first.at("max").get<double>(),
                         has_second ? fmt("%.1f", second.at("p50").get<double>()).c_str() : "-",
                         has_second ? fmt("%.1f", second.at("max").get<double>()).c_str() : "-");
        }
    }

    if (results.contains("stream")) {
        const json& stream = results.at("stream");
        std::fprintf(out, "\nLong stream (this library, QoS %d): %lld messages at %.0f msg/s, lost %lld\n",
                     stream.at("qos").get<int>(), stream.at("count").get<long long>(),
                     stream.at("msgs_per_s").get<double>(), stream.at("lost").get<long long>());
        for (const char* side : {"pub", "sub"}) {
            std::fprintf(out, "  %s RSS (MiB) every %lld messages:", side,
                         stream.at("rss_every").get<long long>());
            for (const auto& kb : stream.at(std::string("rss_series_") + side + "_kb")) {
                std::fprintf(out, " %.1f", kb.get<double>() / 1024.0);
            }
            std::fprintf(out, "\n");
        }
        std::fprintf(out, "  broker peak RSS %.1f MiB\n", stream.at("rss_broker_kb").get<double>() / 1024.0);
    }

    const json& callgrind = results.at("callgrind");
    if (!callgrind.empty()) {
        std::fprintf(
            out,
            "\nInstructions per ~280 B message (callgrind, all threads of the process, marginal cost)\n");
        for (const auto& row : callgrind) {
            std::fprintf(out, "  %-8s %-16s QoS %d  %10.0f\n", row.at("path").get<std::string>().c_str(),
                         impl_title(row.at("impl").get<std::string>()), row.at("qos").get<int>(),
                         row.at("per_message").get<double>());
        }
    }

    if (results.contains("limits")) {
        const json& limits = results.at("limits");
        std::fprintf(
            out,
            "\nLimits: one publisher alone, no JSON, no subscriber (the cost floor of each MQTT client)\n");
        std::fprintf(out, "%-36s %4s %12s %14s\n", "client", "QoS", "msg/s", "CPU us/msg");
        for (const auto& row : limits.at("floors")) {
            const std::string client = row.at("client");
            const char* title = client == "paho-c-async"  ? "Paho C MQTTAsync (under Paho C++)"
                                : client == "paho-c-sync" ? "Paho C MQTTClient (synchronous)"
                                                          : "mosquitto_pub -l";
            const std::string rate =
                row.at("msgs_per_s").is_number() ? fmt("%.0f", row.at("msgs_per_s").get<double>()) : "-";
            std::fprintf(out, "%-36s %4d %12s %14.2f\n", title, row.at("qos").get<int>(), rate.c_str(),
                         row.at("cpu_us_per_msg").get<double>());
        }
        for (const auto& row : limits.at("stalls")) {
            std::fprintf(
                out, "Paho C MQTTAsync, 64 KiB QoS 1, %lld messages, %s:", row.at("count").get<long long>(),
                row.at("window").get<long long>() == 0 ? "no window" : "at most 16 unacknowledged");
            for (const auto& rate : row.at("msgs_per_s")) {
                std::fprintf(out, " %.0f", rate.get<double>());
            }
            std::fprintf(out, " msg/s\n");
        }
    }

    const json& targets = results.at("targets");
    if (!targets.empty()) {
        std::fprintf(out, "\nTargets\n");
        for (const auto& target : targets) {
            const std::string unit = target.at("unit");
            std::fprintf(out, "  [%s] %-62s %9.2f%s (%s %.2f%s)\n",
                         target.at("met").get<bool>() ? "met " : "MISS",
                         target.at("target").get<std::string>().c_str(), target.at("value").get<double>(),
                         unit.c_str(), target.at("comparison").get<std::string>().c_str(),
                         target.at("threshold").get<double>(), unit.c_str());
        }
    }
    if (results.contains("errors") && !results.at("errors").empty()) {
        std::fprintf(out, "\nFailed workloads (not in the tables above)\n");
        for (const auto& error : results.at("errors")) {
            std::fprintf(out, "  %s\n", error.get<std::string>().c_str());
        }
    }
    std::fprintf(out, "\nelapsed: %.0f s\n", results.value("elapsed_s", 0.0));
}

std::vector<std::string> write_charts(const json& results, const std::string& out_dir) {
    std::vector<std::string> written;
    if (run_command("command -v gnuplot >/dev/null 2>&1") != 0) {
        std::fprintf(stderr, "fbm-bench: gnuplot not found, no chart (install gnuplot-nox)\n");
        return written;
    }
    const std::string script_path = out_dir + "/charts.gp";
    std::ofstream script(script_path);
    script << "set terminal pngcairo size 1100,520 font 'sans,10' noenhanced\n";

    if (!results.at("throughput").empty()) {
        const std::string data = out_dir + "/throughput.dat";
        std::ofstream dat(data);
        for (const std::string workload : {"throughput-280B", "throughput-64KiB"}) {
            for (const int qos : {0, 1}) {
                dat << '"' << (workload == "throughput-280B" ? "~280 B" : "64 KiB") << " QoS " << qos << '"';
                for (const char* impl : kImpls) {
                    const auto value = rate(results, workload, impl, qos);
                    dat << ' ' << (value ? *value : 0.0);
                }
                dat << '\n';
            }
        }
        const std::string png = out_dir + "/performance-throughput.png";
        script
            << "set output '" << png << "'\n"
            << "set title 'Throughput, one publisher process to one subscriber process (messages/s, log "
               "scale)'\n"
            << "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.85 "
               "border -1\n"
            << "set boxwidth 0.9\nset logscale y\nset yrange [100:*]\nset xrange [-0.6:3.6]\nset grid ytics\n"
            << "set key top right\n"
            << "set ylabel 'messages/s'\n"
            << "plot '" << data << "' using 2:xtic(1) title 'this library' lc rgb '#1b7837', "
            << "'' using 3 title 'raw Paho C++ 1.2.0' lc rgb '#b2182b', "
            << "'' using 4 title 'mosquitto_pub/sub' lc rgb '#2166ac'\n"
            << "unset logscale y\nunset yrange\nunset xrange\nunset style\n";
        written.push_back(png);
    }

    if (!results.at("latency").empty()) {
        const std::string png = out_dir + "/performance-latency.png";
        std::string plot;
        for (const auto& row : results.at("latency")) {
            const auto& samples = row.at("samples_us");
            if (samples.empty()) {
                continue;
            }
            const std::string broker = row.value("broker", std::string("tuned"));
            const std::string name = row.at("impl").get<std::string>() + "-q" +
                                     std::to_string(row.at("qos").get<int>()) + "-" + broker;
            const std::string data = out_dir + "/latency-" + name + ".dat";
            std::ofstream dat(data);
            const double n = static_cast<double>(samples.size());
            for (std::size_t i = 0; i < samples.size(); ++i) {
                dat << samples[i].get<double>() << ' ' << static_cast<double>(i + 1) / n << '\n';
            }
            const std::string impl = row.at("impl");
            const char* color = impl == "lib"         ? "#1b7837"
                                : impl == "paho"      ? "#b2182b"
                                : impl == "paho-wait" ? "#e08214"
                                                      : "#2166ac";
            plot += std::string(plot.empty() ? "plot " : ", ") + "'" + data + "' using 1:2 with lines lw " +
                    (broker == "stock" ? "3" : "1") + " lc rgb '" + color + "' dt " +
                    (row.at("qos").get<int>() == 0 ? "2" : "1") + " title '" + impl_title(impl) + ", QoS " +
                    std::to_string(row.at("qos").get<int>()) + ", " + broker + " broker'";
        }
        script << "set output '" << png << "'\n"
               << "set title 'Round trip ping -> pong: cumulative distribution (microseconds, log scale)'\n"
               << "set logscale x\nset xlabel 'round trip (us)'\nset ylabel 'fraction of round trips'\n"
               << "set yrange [0:1]\nset grid\nset key bottom right\n"
               << plot << "\n";
        written.push_back(png);
    }
    script.close();
    if (run_command("gnuplot '" + script_path + "'") != 0) {
        std::fprintf(stderr, "fbm-bench: gnuplot failed on %s\n", script_path.c_str());
        written.clear();
    }
    return written;
}

}  // namespace fbm_bench

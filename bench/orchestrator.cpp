#include "orchestrator.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "child.hpp"
#include "endpoint.hpp"
#include "messages.hpp"
#include "mosquitto_broker.hpp"
#include "report.hpp"
#include "resources.hpp"
#include <MQTTAsync.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace fbm_bench {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr const char* kRunUsage = R"(Usage: fbm-bench run [options]

Starts a private Mosquitto (a fresh one per workload, on a free loopback port) and runs every workload
through this library's Messaging (default options), a raw Paho C++ client (Paho's defaults) and
mosquitto_pub/mosquitto_sub, each client in its own process. Prints a table, writes results.json and
the charts performance-throughput.png and performance-latency.png (gnuplot) into --out.

Options:
  --quick                 small counts (a smoke run of a minute or so)
  --out DIR               where results, charts and logs go (default: ./bench-results)
  --impls LIST            clients to run, comma-separated (default: lib,paho,paho-wait,tools; paho-wait is
                          raw Paho waiting on its tokens instead of retrying refusals)
  --only LIST             workloads: throughput,latency,federation,idle,connect,stream,callgrind,limits
                          (default: all)
  --brokers LIST          brokers of the latency, federation and connect workloads: stock (Mosquitto's
                          own configuration: Nagle on), tuned (set_tcp_nodelay true); default stock,tuned.
                          The other workloads use the tuned one when it is listed
  --connect-rounds N      connections per connect run (default 10; quick 5)
  --repeat N              runs of each throughput configuration; the median is reported (default 3;
                          quick 1)
  --small-count N         ~280 B messages per throughput run (default 60000; quick 20000; at most 65535
                          for the mosquitto tools at QoS 1)
  --large-count N         64 KiB messages per throughput run (default 2000; quick 1000)
  --rtt-rounds N          ping/pong round trips per latency run (default 2000; quick 300)
  --rtt-seconds S         stop a latency run after S seconds (default 8; quick 3)
  --fed-nodes LIST        federation sizes (default 10,50; quick 10)
  --fed-rounds N          federation rounds (default 50; quick 10)
  --idle-nodes LIST       federation sizes of the idle workload: rounds after a pause of 1.0-2.1 s, on the
                          first broker of --brokers (default 1,20; quick 1,10)
  --idle-rounds N         rounds of each idle run (default 20; quick 8)
  --stream-count N        messages of the long stream (default 1000000; quick 100000)
  --callgrind-counts A,B  the two message counts whose difference gives instructions per message
                          (default 1000,6000; quick 200,1200)
  --mosquitto PATH        broker binary (default: mosquitto from /usr/sbin or PATH)
  --valgrind PATH         valgrind binary (default: valgrind)
  --no-chart              do not run gnuplot
  --from FILE             only print the tables and draw the charts of an earlier results.json
  --no-broker-nodelay     same as --brokers stock
  --rabbitmq BASE         run the throughput, latency and federation workloads on the RabbitMQ cluster
                          that tests/support/rabbitmq_cluster.sh started in BASE instead of Mosquitto:
                          the clients spread over its nodes (publisher on node 1, subscriber on node 2;
                          researcher on node 1, nodes round-robin from node 2), with clean sessions
  --strict                exit with status 1 when a message was lost or a round timed out
  --smoke                 a run of a few seconds (lib and raw Paho, tiny counts, strict; used by ctest)
)";

struct Settings {
    bool quick = false;
    std::string self;
    std::string out_dir;
    std::string log_dir;
    std::string mosquitto;
    std::string valgrind = "valgrind";
    std::vector<Impl> impls{Impl::lib, Impl::paho, Impl::paho_wait, Impl::tools};
    std::set<std::string> workloads{"throughput", "latency", "federation", "idle",
                                    "connect",    "stream",  "callgrind",  "limits"};
    // The brokers of the latency, federation and connect workloads: false = stock Mosquitto (Nagle on,
    // what most deployments run), true = set_tcp_nodelay true. Stock first: that is what users have.
    std::vector<bool> brokers{false, true};
    long long connect_rounds = 10;
    // At most 65535: mosquitto_pub -l at QoS 1 stops early when a count wraps its 16-bit message ids (it
    // disconnects when the acknowledgement of an earlier message with the last message's id arrives).
    long long small_count = 60000;
    long long large_count = 2000;
    long long rtt_rounds = 2000;
    long long rtt_warmup = 50;
    double rtt_seconds = 8.0;
    std::vector<long long> fed_nodes{10, 50};
    long long fed_rounds = 50;
    // Rounds after a pause: one node and a federation, on the first broker of `brokers`. The pauses cover
    // one whole cycle of Paho's receive thread (a 1 s poll, then a 100 ms sleep), so a round meets each
    // node where a round after any longer pause would, at a random point of that cycle.
    std::vector<long long> idle_nodes{1, 20};
    long long idle_rounds = 20;
    long long idle_pause_min_ms = 1000;
    long long idle_pause_max_ms = 2100;
    long long stream_count = 1000000;
    long long cg_small = 1000;
    long long cg_big = 6000;
    long long repeat = 3;
    long long floor_count = 60000;
    long long stall_runs = 4;
    bool chart = true;
    bool strict = false;  // exit 1 when a message was lost or a round timed out
    bool broker_nodelay = true;
    std::string rabbitmq_base;  // a running RabbitMQ cluster (rabbitmq_cluster.sh) instead of Mosquitto
};

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> parts;
    std::stringstream stream(text);
    std::string part;
    while (std::getline(stream, part, ',')) {
        if (!part.empty()) {
            parts.push_back(part);
        }
    }
    return parts;
}

std::string find_mosquitto() {
    for (const char* candidate : {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/usr/bin/mosquitto"}) {
        if (::access(candidate, X_OK) == 0) {
            return candidate;
        }
    }
    return "mosquitto";
}

Settings parse_settings(const Args& args) {
    Settings s;
    s.quick = args.has("quick");
    if (s.quick) {
        s.small_count = 20000;
        s.large_count = 1000;
        s.rtt_rounds = 300;
        s.rtt_warmup = 20;
        s.rtt_seconds = 3.0;
        s.fed_nodes = {10};
        s.fed_rounds = 10;
        s.idle_nodes = {1, 10};
        s.idle_rounds = 8;
        s.stream_count = 100000;
        s.cg_small = 200;
        s.cg_big = 1200;
        s.repeat = 1;
        s.floor_count = 20000;
        s.stall_runs = 2;
        s.connect_rounds = 5;
    }
    if (args.has("smoke")) {
        // A few seconds: every code path of the throughput, latency, federation, idle and connect
        // workloads, lib and raw Paho only (the ctest "bench" label).
        s.quick = true;
        s.impls = {Impl::lib, Impl::paho};
        s.workloads = {"throughput", "latency", "federation", "idle", "connect"};
        s.connect_rounds = 2;
        s.small_count = 1000;
        s.large_count = 0;  // no 64 KiB runs
        s.repeat = 1;
        s.rtt_rounds = 30;
        s.rtt_warmup = 3;
        s.rtt_seconds = 1.0;
        s.fed_nodes = {2};
        s.fed_rounds = 3;
        s.idle_nodes = {2};
        s.idle_rounds = 2;
        s.chart = false;
        s.strict = true;
    }
    s.self = self_executable();
    s.out_dir = args.get("out", "bench-results");
    s.mosquitto = args.get("mosquitto", find_mosquitto());
    s.valgrind = args.get("valgrind", s.valgrind);
    if (args.has("impls")) {
        s.impls.clear();
        for (const auto& name : split(args.get("impls"))) {
            s.impls.push_back(parse_impl(name));
        }
    }
    if (args.has("only")) {
        s.workloads.clear();
        for (const auto& name : split(args.get("only"))) {
            s.workloads.insert(name);
        }
    }
    s.small_count = args.get_int("small-count", s.small_count);
    s.large_count = args.get_int("large-count", s.large_count);
    s.rtt_rounds = args.get_int("rtt-rounds", s.rtt_rounds);
    s.rtt_seconds = args.get_double("rtt-seconds", s.rtt_seconds);
    if (args.has("fed-nodes")) {
        s.fed_nodes.clear();
        for (const auto& n : split(args.get("fed-nodes"))) {
            s.fed_nodes.push_back(std::stoll(n));
        }
    }
    s.fed_rounds = args.get_int("fed-rounds", s.fed_rounds);
    if (args.has("idle-nodes")) {
        s.idle_nodes.clear();
        for (const auto& n : split(args.get("idle-nodes"))) {
            s.idle_nodes.push_back(std::stoll(n));
        }
    }
    s.idle_rounds = args.get_int("idle-rounds", s.idle_rounds);
    s.stream_count = args.get_int("stream-count", s.stream_count);
    if (args.has("callgrind-counts")) {
        const auto counts = split(args.get("callgrind-counts"));
        if (counts.size() != 2) {
            throw std::invalid_argument("--callgrind-counts takes two counts, e.g. 1000,6000");
        }
        s.cg_small = std::stoll(counts[0]);
        s.cg_big = std::stoll(counts[1]);
    }
    s.repeat = std::max<long long>(1, args.get_int("repeat", s.repeat));
    s.chart = s.chart && !args.has("no-chart");
    s.strict = s.strict || args.has("strict");
    if (args.has("brokers")) {
        s.brokers.clear();
        for (const auto& name : split(args.get("brokers"))) {
            if (name != "stock" && name != "tuned") {
                throw std::invalid_argument("unknown broker '" + name + "' (stock or tuned)");
            }
            s.brokers.push_back(name == "tuned");
        }
    }
    if (args.has("no-broker-nodelay")) {
        s.brokers = {false};
    }
    s.connect_rounds = std::max<long long>(1, args.get_int("connect-rounds", s.connect_rounds));
    s.rabbitmq_base = args.get("rabbitmq");
    if (!s.rabbitmq_base.empty()) {
        // One broker set-up (the cluster), and the workloads whose clients can spread over its nodes.
        s.brokers = {true};
        for (const char* name : {"connect", "stream", "callgrind", "limits"}) {
            s.workloads.erase(name);
        }
    }
    // The workloads without a broker dimension run on the tuned broker when it is listed.
    s.broker_nodelay = std::find(s.brokers.begin(), s.brokers.end(), true) != s.brokers.end();
    ::mkdir(s.out_dir.c_str(), 0755);
    s.log_dir = s.out_dir + "/logs";
    ::mkdir(s.log_dir.c_str(), 0755);
    return s;
}

bool has(const Settings& s, Impl impl) {
    return std::find(s.impls.begin(), s.impls.end(), impl) != s.impls.end();
}

// ------------------------------------------------------------------------------------------------
// The private broker: one per workload, so no session, queue or retained message of one workload
// can cost anything in the next, and its CPU and peak memory belong to that workload alone.
// ------------------------------------------------------------------------------------------------

// The launcher shared with the tests (tests/support), with the bench's configuration: logs of errors and
// warnings only, kept in the log directory, and an unlimited queue for a subscriber that is behind (the
// throughput runs measure delivery of every message; the default of 1000 would drop QoS 1 messages).
// Without set_tcp_nodelay the broker's writes wait for Nagle: small replies stall for the peer's delayed
// ACK (about 40 ms) whenever two writes follow each other.
fbm_test::MosquittoBroker start_broker(const Settings& s, const std::string& name, bool nodelay) {
    fbm_test::MosquittoBroker::Options options;
    options.binary = s.mosquitto;
    options.directory = s.log_dir + "/mosquitto-" + name;
    options.log_types = {"error", "warning"};
    options.tcp_nodelay = nodelay;
    options.extra_config = {"max_queued_messages 0"};
    return fbm_test::MosquittoBroker(options);
}

fbm_test::MosquittoBroker start_broker(const Settings& s, const std::string& name) {
    return start_broker(s, name, s.broker_nodelay);
}

const char* broker_name(bool nodelay) {
    return nodelay ? "tuned" : "stock";
}

const char* broker_name(const Settings& s, bool nodelay) {
    return s.rabbitmq_base.empty() ? broker_name(nodelay) : "rabbitmq";
}

// Where a workload's clients connect: a fresh Mosquitto of its own, or the nodes of the RabbitMQ cluster
// given with --rabbitmq (already running, shared by the workloads; its Erlang VMs are the "broker" whose
// CPU time and memory are reported, summed over the nodes).
class Target {
public:
    Target(const Settings& s, const std::string& name, bool nodelay) {
        if (s.rabbitmq_base.empty()) {
            mosquitto_.emplace(mosquitto_options(s, name, nodelay));
            return;
        }
        std::ifstream env(s.rabbitmq_base + "/cluster.env");
        std::string line;
        std::getline(env, line);  // RMQ_MQTT_PORTS="p1 p2 p3"
        const auto open = line.find('"');
        std::istringstream ports(
            open == std::string::npos ? std::string() : line.substr(open + 1, line.rfind('"') - open - 1));
        for (int port = 0; ports >> port;) {
            ports_.push_back(port);
            std::ifstream pid_file(s.rabbitmq_base + "/node" + std::to_string(ports_.size()) + "/beam.pid");
            pid_t pid = -1;
            pid_file >> pid;
            pids_.push_back(pid);
        }
        if (ports_.empty()) {
            throw std::runtime_error("no RabbitMQ cluster in " + s.rabbitmq_base +
                                     " (start one with tests/support/rabbitmq_cluster.sh start)");
        }
    }

    /// The port of client number @p client: Mosquitto's, or node (client mod N) + 1 of the cluster.
    int port(std::size_t client) const {
        return mosquitto_ ? mosquitto_->port() : ports_[client % ports_.size()];
    }

    double cpu_seconds() const {
        if (mosquitto_) {
            return process_cpu_seconds(mosquitto_->pid());
        }
        double total = 0.0;
        for (const pid_t pid : pids_) {
            total += process_cpu_seconds(pid);
        }
        return total;
    }

    long peak_rss_kb() const {
        if (mosquitto_) {
            return process_peak_rss_kb(mosquitto_->pid());
        }
        long total = 0;
        for (const pid_t pid : pids_) {
            total += process_peak_rss_kb(pid);
        }
        return total;
    }

private:
    static fbm_test::MosquittoBroker::Options mosquitto_options(const Settings& s, const std::string& name,
                                                                bool nodelay) {
        fbm_test::MosquittoBroker::Options options;
        options.binary = s.mosquitto;
        options.directory = s.log_dir + "/mosquitto-" + name;
        options.log_types = {"error", "warning"};
        options.tcp_nodelay = nodelay;
        options.extra_config = {"max_queued_messages 0"};
        return options;
    }

    std::optional<fbm_test::MosquittoBroker> mosquitto_;
    std::vector<int> ports_;
    std::vector<pid_t> pids_;
};

// ------------------------------------------------------------------------------------------------
// Role processes
// ------------------------------------------------------------------------------------------------

struct RoleSpec {
    std::string role;
    Impl impl = Impl::lib;
    int port = 0;
    int qos = -1;
    std::string id;
    std::vector<std::string> extra;
    std::string callgrind_out;  // non-empty: run under valgrind --tool=callgrind
};

Child spawn_role(const Settings& s, const RoleSpec& spec, const std::string& log_name) {
    std::vector<std::string> argv;
    if (!spec.callgrind_out.empty()) {
        argv = {s.valgrind, "--tool=callgrind", "--callgrind-out-file=" + spec.callgrind_out};
    }
    const std::string log = s.log_dir + "/" + log_name + ".log";
    argv.insert(argv.end(),
                {s.self, spec.role, "--impl", impl_name(spec.impl), "--port", std::to_string(spec.port),
                 "--qos", std::to_string(spec.qos), "--id", spec.id, "--tools-log", log});
    argv.insert(argv.end(), spec.extra.begin(), spec.extra.end());
    if (!s.rabbitmq_base.empty()) {
        // The cluster outlives the runs: a persistent session would keep a queue there that collects the
        // next runs' messages (and hands them to the next subscriber with this id).
        argv.emplace_back("--clean-session");
    }
    return launch(argv, true, true, log);
}

// The first line of @p child's output that starts with @p prefix (the rest of that line), or an error
// naming @p what when the output ends or @p timeout passes first.
std::string wait_for_line(Child& child, const std::string& prefix, const std::string& what, seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        const auto line = child.out.next(std::max(left, std::chrono::milliseconds(0)));
        if (!line) {
            throw std::runtime_error(what + " (see the logs)");
        }
        if (line->rfind(prefix, 0) == 0) {
            return line->substr(prefix.size());
        }
    }
}

void expect_ready(Child& child, const std::string& what, seconds timeout = seconds(60)) {
    (void)wait_for_line(child, "READY", what + " did not become ready", timeout);
}

json read_result(Child& child, const std::string& what, seconds timeout = seconds(900)) {
    return json::parse(wait_for_line(child, "RESULT ", what + " ended without a result", timeout));
}

void progress(const std::string& text) {
    std::fprintf(stderr, "fbm-bench: %s\n", text.c_str());
}

std::string qos_label(int qos) {
    return "QoS " + std::to_string(qos);
}

// ------------------------------------------------------------------------------------------------
// Workloads
// ------------------------------------------------------------------------------------------------

json run_throughput(const Settings& s, Impl impl, Kind kind, int qos, long long count, long long rss_every,
                    const std::string& name) {
    progress(name + " " + impl_name(impl) + " " + qos_label(qos) + " (" + std::to_string(count) +
             " messages)");
    const Target broker(s, name + "-" + impl_name(impl) + "-q" + std::to_string(qos), s.broker_nodelay);
    std::vector<std::string> extra{"--kind",      kind_name(kind),          "--count", std::to_string(count),
                                   "--rss-every", std::to_string(rss_every)};
    if (name == "stream") {
        // A producer of a million messages respects its client's buffer: at most half of the library's
        // default outbox (100 000) unacknowledged, instead of having the excess refused.
        extra.insert(extra.end(), {"--max-outstanding", "50000"});
    }
    const std::string tag = name + "-" + impl_name(impl) + "-q" + std::to_string(qos);
    Child sub = spawn_role(s, {"sub", impl, broker.port(1), qos, "bench_sub", extra, {}}, tag + "-sub");
    expect_ready(sub, "subscriber");
    Child pub = spawn_role(s, {"pub", impl, broker.port(0), qos, "node_1", extra, {}}, tag + "-pub");
    expect_ready(pub, "publisher");
    const double broker_before = broker.cpu_seconds();
    pub.process.write_stdin("GO\n");
    const json pub_result = read_result(pub, "publisher");
    const json sub_result = read_result(sub, "subscriber");
    const double broker_cpu = broker.cpu_seconds() - broker_before;
    const long broker_peak = broker.peak_rss_kb();
    pub.process.close_stdin();
    pub.process.wait();
    sub.process.wait();

    const auto received = sub_result.at("received").get<long long>();
    const double elapsed = static_cast<double>(sub_result.at("t_last_ns").get<std::int64_t>() -
                                               pub_result.at("t_first_ns").get<std::int64_t>()) /
                           1e9;
    const double per_100k = 100000.0 / static_cast<double>(count);
    json row{{"workload", name},
             {"impl", impl_name(impl)},
             {"broker", broker_name(s, s.broker_nodelay)},
             {"kind", kind_name(kind)},
             {"qos", qos},
             {"count", count},
             {"received", received},
             {"lost", count - received},
             {"bad", sub_result.value("bad", 0)},
             {"seconds", elapsed},
             {"msgs_per_s", elapsed > 0 ? static_cast<double>(received) / elapsed : 0.0},
             {"retries", pub_result.value("retries", 0)},
             {"drops", pub_result.value("drops", 0)},
             {"cpu_pub_s", pub_result.at("cpu_s")},
             {"cpu_sub_s", sub_result.at("cpu_s")},
             {"cpu_broker_s", broker_cpu},
             {"cpu_pub_per_100k", pub_result.at("cpu_s").get<double>() * per_100k},
             {"cpu_sub_per_100k", sub_result.at("cpu_s").get<double>() * per_100k},
             {"cpu_broker_per_100k", broker_cpu * per_100k},
             {"rss_pub_kb", pub_result.at("max_rss_kb")},
             {"rss_sub_kb", sub_result.at("max_rss_kb")},
             {"rss_broker_kb", broker_peak}};
    if (rss_every > 0) {
        row["rss_series_pub_kb"] = pub_result.at("rss_kb");
        row["rss_series_sub_kb"] = sub_result.at("rss_kb");
        row["rss_every"] = rss_every;
    }
    return row;
}

// One researcher and @p nodes node processes; each round the researcher pings (broadcast on
// general/nodes) and waits for every pong. One node is the latency workload.
// The median run (by rate) of s.repeat runs, with every run's rate kept.
json run_throughput_repeated(const Settings& s, Impl impl, Kind kind, int qos, long long count,
                             const std::string& name) {
    std::vector<json> runs;
    for (long long i = 0; i < s.repeat; ++i) {
        runs.push_back(run_throughput(s, impl, kind, qos, count, 0, name));
    }
    std::sort(runs.begin(), runs.end(), [](const json& a, const json& b) {
        return a.at("msgs_per_s").get<double>() < b.at("msgs_per_s").get<double>();
    });
    json median = runs[runs.size() / 2];
    json rates = json::array();
    for (const auto& run : runs) {
        rates.push_back(run.at("msgs_per_s"));
    }
    median["runs_msgs_per_s"] = rates;
    return median;
}

json run_rounds(const Settings& s, Impl impl, int qos, long long nodes, long long rounds, long long warmup,
                double max_seconds, const std::string& name, bool nodelay,
                const std::vector<std::string>& researcher_extra = {}) {
    progress(name + " " + impl_name(impl) + " " + (qos < 0 ? std::string("default QoS") : qos_label(qos)) +
             " (" + std::to_string(nodes) + " node(s), up to " + std::to_string(rounds) + " rounds, " +
             broker_name(s, nodelay) + " broker)");
    const std::string tag = name + "-" + impl_name(impl) + "-q" + std::to_string(qos) + "-n" +
                            std::to_string(nodes) + "-" + broker_name(s, nodelay);
    const Target broker(s, tag, nodelay);
    std::vector<Child> node_children;
    node_children.reserve(static_cast<std::size_t>(nodes));
    for (long long i = 0; i < nodes; ++i) {
        char id[32];
        std::snprintf(id, sizeof id, "node_%03lld", i + 1);
        node_children.push_back(
            spawn_role(s, {"node", impl, broker.port(static_cast<std::size_t>(i) + 1), qos, id, {}, {}},
                       tag + "-" + id));
    }
    for (auto& child : node_children) {
        expect_ready(child, "node", seconds(120));
    }
    std::vector<std::string> researcher_args{
        "--nodes",  std::to_string(nodes),  "--rounds",      std::to_string(rounds),
        "--warmup", std::to_string(warmup), "--max-seconds", std::to_string(max_seconds)};
    researcher_args.insert(researcher_args.end(), researcher_extra.begin(), researcher_extra.end());
    Child researcher =
        spawn_role(s, {"researcher", impl, broker.port(0), qos, "researcher_1", researcher_args, {}},
                   tag + "-researcher");
    expect_ready(researcher, "researcher");
    const double broker_before = broker.cpu_seconds();
    researcher.process.write_stdin("GO\n");
    const json result = read_result(researcher, "researcher");
    const double broker_cpu = broker.cpu_seconds() - broker_before;
    double node_cpu = 0.0;
    long node_rss = 0;
    for (auto& child : node_children) {
        child.process.close_stdin();
    }
    for (auto& child : node_children) {
        const json node_result = read_result(child, "node", seconds(60));
        node_cpu += node_result.at("cpu_s").get<double>();
        node_rss = std::max(node_rss, node_result.at("max_rss_kb").get<long>());
        child.process.wait();
    }
    researcher.process.close_stdin();
    researcher.process.wait();

    std::vector<double> samples = result.at("samples_us").get<std::vector<double>>();
    json row{{"workload", name},
             {"impl", impl_name(impl)},
             {"broker", broker_name(s, nodelay)},
             {"qos", result.at("qos")},
             {"nodes", nodes},
             {"rounds", samples.size()},
             {"timeouts", result.at("timeouts")},
             {"cpu_researcher_s", result.at("cpu_s")},
             {"cpu_nodes_s", node_cpu},
             {"cpu_broker_s", broker_cpu},
             {"rss_researcher_kb", result.at("max_rss_kb")},
             {"rss_node_max_kb", node_rss},
             {"rss_broker_kb", broker.peak_rss_kb()}};
    row["summary_us"] = summarize(samples);
    std::sort(samples.begin(), samples.end());
    row["samples_us"] = samples;
    return row;
}

// Connect: a researcher from nothing to connected and subscribed, s.connect_rounds times, alone in its
// process ("first") and as a second client of the same process while the first stays connected
// ("second"). The mosquitto tools' reference is a whole `mosquitto_pub -q 1` run (process start, connect,
// one publication, its PUBACK, disconnect): what a shell user waits for.
json run_connect(const Settings& s, Impl impl, bool nodelay) {
    progress(std::string("connect ") + impl_name(impl) + " (" + std::to_string(s.connect_rounds) +
             " rounds, " + broker_name(nodelay) + " broker)");
    const std::string tag = std::string("connect-") + impl_name(impl) + "-" + broker_name(nodelay);
    fbm_test::MosquittoBroker broker = start_broker(s, tag, nodelay);
    std::vector<double> first;
    std::vector<double> second;
    if (impl == Impl::tools) {
        const std::string log = s.log_dir + "/" + tag + ".log";
        for (long long round = 0; round < s.connect_rounds; ++round) {
            const std::int64_t start = now_ns();
            Child child = launch({"mosquitto_pub", "-h", "127.0.0.1", "-p", std::to_string(broker.port()),
                                  "-q", "1", "-t", "bench/connect", "-m", "x"},
                                 false, false, log);
            if (child.process.wait() != 0) {
                throw std::runtime_error("mosquitto_pub failed (see " + log + ")");
            }
            first.push_back(static_cast<double>(now_ns() - start) / 1e6);
        }
    } else {
        Child child = spawn_role(s,
                                 {"connect",
                                  impl,
                                  broker.port(),
                                  -1,
                                  "bench_connect",
                                  {"--rounds", std::to_string(s.connect_rounds)},
                                  {}},
                                 tag);
        const json result = read_result(child, "connect", seconds(300));
        child.process.wait();
        first = result.at("first_ms").get<std::vector<double>>();
        second = result.at("second_ms").get<std::vector<double>>();
    }
    json row{{"workload", "connect"},
             {"impl", impl_name(impl)},
             {"broker", broker_name(nodelay)},
             {"rounds", first.size()}};
    row["first_ms"] = summarize(first);
    row["second_ms"] = summarize(second);
    row["first_samples_ms"] = first;
    row["second_samples_ms"] = second;
    return row;
}

// Instructions (callgrind "Ir", all threads) of one role process, @p count messages.
long long callgrind_instructions(const Settings& s, Impl impl, bool send_path, int qos, long long count) {
    const std::string tag = std::string("callgrind-") + impl_name(impl) + (send_path ? "-send-" : "-recv-") +
                            std::to_string(count);
    fbm_test::MosquittoBroker broker = start_broker(s, tag);
    const std::string out_file = s.log_dir + "/" + tag + ".out";
    std::remove(out_file.c_str());
    const std::vector<std::string> extra{"--kind", "small", "--count", std::to_string(count)};
    std::vector<std::string> pub_extra = extra;
    // Paced: the publisher waits for every 50th publication, so raw Paho never hits its 100-command limit
    // (its refusal-and-retry loop would dominate, and vary with valgrind's thread scheduling).
    pub_extra.insert(pub_extra.end(), {"--burst", "50"});
    // The receive path is measured on the same stream for both clients: this library's paced publisher.
    RoleSpec sub_spec{"sub", impl, broker.port(), qos, "bench_sub", extra, send_path ? "" : out_file};
    RoleSpec pub_spec{"pub",     send_path ? impl : Impl::lib, broker.port(), qos, "node_1",
                      pub_extra, send_path ? out_file : ""};
    Child sub = spawn_role(s, sub_spec, tag + "-sub");
    expect_ready(sub, "subscriber", seconds(120));
    Child pub = spawn_role(s, pub_spec, tag + "-pub");
    expect_ready(pub, "publisher", seconds(120));
    pub.process.write_stdin("GO\n");
    const json pub_result = read_result(pub, "publisher");
    const json sub_result = read_result(sub, "subscriber");
    pub.process.close_stdin();
    pub.process.wait();
    sub.process.wait();
    if (sub_result.at("received").get<long long>() != count) {
        throw std::runtime_error(tag + ": messages were lost, instruction counts would not compare");
    }
    std::ifstream in(out_file);
    std::string line;
    long long total = -1;
    while (std::getline(in, line)) {
        if (line.rfind("summary:", 0) == 0 || line.rfind("totals:", 0) == 0) {
            total = std::stoll(line.substr(line.find(':') + 1));
        }
    }
    if (total < 0) {
        throw std::runtime_error("no instruction total in " + out_file);
    }
    return total;
}

json run_callgrind(const Settings& s, Impl impl, bool send_path, int qos) {
    progress(std::string("callgrind ") + impl_name(impl) + (send_path ? " send" : " receive") + " path, " +
             qos_label(qos) + " (" + std::to_string(s.cg_small) + " and " + std::to_string(s.cg_big) +
             " messages)");
    const long long small = callgrind_instructions(s, impl, send_path, qos, s.cg_small);
    const long long big = callgrind_instructions(s, impl, send_path, qos, s.cg_big);
    return json{
        {"impl", impl_name(impl)},
        {"path", send_path ? "send" : "receive"},
        {"qos", qos},
        {"counts", {s.cg_small, s.cg_big}},
        {"instructions", {small, big}},
        {"per_message", static_cast<double>(big - small) / static_cast<double>(s.cg_big - s.cg_small)}};
}

// ---- limits: what the MQTT clients themselves cost, without this library, JSON or a subscriber ----

std::string sibling(const Settings& s, const std::string& program) {
    return s.self.substr(0, s.self.rfind('/') + 1) + program;
}

// One publisher alone against a fresh broker: Paho C's asynchronous client (what Paho C++ and this
// library use), Paho C's synchronous client, or mosquitto_pub -l.
json run_floor(const Settings& s, const std::string& client, int qos, long long count, long long size,
               long long window) {
    const std::string tag = "limits-" + client + "-q" + std::to_string(qos) + "-s" + std::to_string(size) +
                            "-w" + std::to_string(window);
    fbm_test::MosquittoBroker broker = start_broker(s, tag);
    const std::string log = s.log_dir + "/" + tag + ".log";
    json row{{"client", client}, {"qos", qos}, {"count", count}, {"size", size}, {"window", window}};
    if (client == "mosquitto_pub") {
        // Lines of `size` bytes; the fixed cost (start, connect: mosquitto_pub -l polls for its CONNACK every
        // 100 ms) is measured with one line and subtracted.
        const std::string file = s.log_dir + "/" + tag + ".lines";
        {
            std::ofstream out(file, std::ios::trunc);
            const std::string line(static_cast<std::size_t>(size), 'x');
            for (long long i = 0; i < count; ++i) {
                out << line << '\n';
            }
        }
        const std::string one = file + ".one";
        {
            std::ofstream out(one, std::ios::trunc);
            out << std::string(static_cast<std::size_t>(size), 'x') << '\n';
        }
        auto timed = [&](const std::string& input, Usage& usage) {
            const std::string command = "exec mosquitto_pub -h 127.0.0.1 -p " +
                                        std::to_string(broker.port()) + " -q " + std::to_string(qos) +
                                        " -l -t general/researcher < '" + input + "'";
            const std::int64_t start = now_ns();
            Child child = launch({"/bin/sh", "-c", command}, false, false, log);
            child.process.wait();
            usage = child.process.usage();
            return static_cast<double>(now_ns() - start) / 1e9;
        };
        Usage fixed_usage;
        Usage usage;
        const double fixed = timed(one, fixed_usage);
        const double total = timed(file, usage);
        // The rate is only meaningful when the run is much longer than the jitter of the fixed cost (the
        // 100 ms CONNACK polling of mosquitto_pub -l): otherwise it is left out (null).
        const double elapsed = total - fixed;
        row["msgs_per_s"] =
            elapsed > 0.5 * total ? json(static_cast<double>(count - 1) / elapsed) : json(nullptr);
        row["cpu_us_per_msg"] =
            std::max(usage.cpu_seconds - fixed_usage.cpu_seconds, 0.0) * 1e6 / static_cast<double>(count - 1);
        row["max_rss_kb"] = usage.max_rss_kb;
        std::remove(file.c_str());
        std::remove(one.c_str());
        return row;
    }
    const std::string program = sibling(s, client == "paho-c-async" ? "fbm-floor-async" : "fbm-floor-sync");
    std::vector<std::string> argv{program, std::to_string(broker.port()), std::to_string(count),
                                  std::to_string(qos), std::to_string(size)};
    if (client == "paho-c-async") {
        argv.push_back(std::to_string(window));
    }
    Child child = launch(argv, false, true, log);
    const json result = read_result(child, client, seconds(300));
    child.process.wait();
    row["msgs_per_s"] = result.at("msgs_per_s");
    row["cpu_us_per_msg"] = result.at("cpu_s").get<double>() * 1e6 / static_cast<double>(count);
    row["max_rss_kb"] = result.at("max_rss_kb");
    return row;
}

json run_limits(const Settings& s) {
    json limits;
    limits["floors"] = json::array();
    for (const int qos : {0, 1}) {
        for (const char* client : {"paho-c-async", "paho-c-sync", "mosquitto_pub"}) {
            progress(std::string("limits: ") + client + " alone, " + qos_label(qos) + ", " +
                     std::to_string(s.floor_count) + " x 286 B");
            limits["floors"].push_back(run_floor(s, client, qos, s.floor_count, 286, 0));
        }
    }
    // Paho C 1.3 waits for incoming data (or its 1 s poll timeout) before finishing a partial socket write:
    // large publications stall unless the unacknowledged data stays below the socket buffer.
    limits["stalls"] = json::array();
    for (const long long window : {0LL, 16LL}) {
        json rates = json::array();
        for (long long run = 0; run < s.stall_runs; ++run) {
            progress("limits: paho-c-async 64 KiB QoS 1, window " + std::to_string(window) + ", run " +
                     std::to_string(run + 1));
            rates.push_back(run_floor(s, "paho-c-async", 1, 1000, 66000, window).at("msgs_per_s"));
        }
        limits["stalls"].push_back(
            json{{"window", window}, {"count", 1000}, {"size", 66000}, {"msgs_per_s", rates}});
    }
    return limits;
}

json machine_info(const Settings& s) {
    json machine;
    machine["cpus"] = std::thread::hardware_concurrency();
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0) {
            machine["cpu_model"] = line.substr(line.find(':') + 2);
            break;
        }
    }
    utsname names{};
    if (::uname(&names) == 0) {
        machine["kernel"] = std::string(names.sysname) + " " + names.release;
    }
    Child version = launch({s.mosquitto, "-h"}, false, true, "/dev/null");
    if (auto first = version.out.next(std::chrono::milliseconds(5000))) {
        machine["mosquitto"] = *first;
    }
    version.process.wait();
    MQTTAsync_nameValue* info = MQTTAsync_getVersionInfo();
    for (; info != nullptr && info->name != nullptr; ++info) {
        if (std::string(info->name) == "Version") {
            machine["paho_c"] = info->value;
        }
    }
    machine["paho_cpp"] = mqtt::VERSION_STR;
    machine["build"] =
#ifdef NDEBUG
        "optimised (NDEBUG)";
#else
        "debug (numbers are not representative)";
#endif
    return machine;
}

}  // namespace

int run_benchmark(const Args& args) {
    if (args.has("help")) {
        std::fputs(kRunUsage, stdout);
        return 0;
    }
    if (args.has("from")) {
        // Tables and charts again from an earlier run's results.json, without running anything.
        std::ifstream in(args.get("from"));
        if (!in) {
            throw std::runtime_error("cannot read " + args.get("from"));
        }
        const json results = json::parse(in);
        print_report(results, stdout);
        const std::string out_dir = args.get("out", "bench-results");
        ::mkdir(out_dir.c_str(), 0755);
        if (!args.has("no-chart")) {
            for (const auto& png : write_charts(results, out_dir)) {
                std::printf("chart:   %s\n", png.c_str());
            }
        }
        return 0;
    }
    const Settings s = parse_settings(args);
    const auto started = std::chrono::steady_clock::now();
    json results;
    results["machine"] = machine_info(s);
    results["settings"] = {{"quick", s.quick},
                           {"small_count", s.small_count},
                           {"large_count", s.large_count},
                           {"rtt_rounds", s.rtt_rounds},
                           {"rtt_seconds", s.rtt_seconds},
                           {"fed_nodes", s.fed_nodes},
                           {"fed_rounds", s.fed_rounds},
                           {"idle_rounds", s.idle_rounds},
                           {"idle_pause_ms", {s.idle_pause_min_ms, s.idle_pause_max_ms}},
                           {"stream_count", s.stream_count},
                           {"callgrind_counts", {s.cg_small, s.cg_big}},
                           {"repeat", s.repeat},
                           {"broker_tcp_nodelay", s.broker_nodelay},
                           {"connect_rounds", s.connect_rounds},
                           {"library_default_qos", effective_qos(EndpointConfig{})}};
    results["throughput"] = json::array();
    results["latency"] = json::array();
    results["federation"] = json::array();
    results["callgrind"] = json::array();

    results["errors"] = json::array();
    // A workload that fails (a client missing, a process that never became ready) is reported and the
    // run goes on with the next one; the exit status says something failed.
    auto attempt = [&](const std::string& what, const std::function<void()>& run) {
        try {
            run();
        } catch (const std::exception& error) {
            std::fprintf(stderr, "fbm-bench: %s failed: %s\n", what.c_str(), error.what());
            results["errors"].push_back(what + ": " + error.what());
        }
    };

    if (s.workloads.count("throughput") != 0) {
        for (const Kind kind : {Kind::small, Kind::large}) {
            const long long count = kind == Kind::small ? s.small_count : s.large_count;
            if (count <= 0) {
                continue;
            }
            const std::string name = kind == Kind::small ? "throughput-280B" : "throughput-64KiB";
            for (const int qos : {0, 1}) {
                for (const Impl impl : s.impls) {
                    attempt(name + " " + impl_name(impl) + " " + qos_label(qos), [&] {
                        results["throughput"].push_back(
                            run_throughput_repeated(s, impl, kind, qos, count, name));
                    });
                }
            }
        }
    }
    if (s.workloads.count("latency") != 0) {
        for (const bool nodelay : s.brokers) {
            for (const int qos : {0, 1}) {
                for (const Impl impl : s.impls) {
                    attempt(std::string("latency ") + impl_name(impl) + " " + qos_label(qos) + " " +
                                broker_name(s, nodelay),
                            [&] {
                                results["latency"].push_back(run_rounds(s, impl, qos, 1, s.rtt_rounds,
                                                                        s.rtt_warmup, s.rtt_seconds,
                                                                        "latency", nodelay));
                            });
                }
            }
        }
    }
    if (s.workloads.count("federation") != 0) {
        for (const bool nodelay : s.brokers) {
            for (const long long nodes : s.fed_nodes) {
                for (const Impl impl : s.impls) {
                    attempt("federation " + std::to_string(nodes) + " nodes " + impl_name(impl) + " " +
                                broker_name(s, nodelay),
                            [&] {
                                // The library on its defaults; the others at QoS 1, the library's default.
                                results["federation"].push_back(
                                    run_rounds(s, impl, impl == Impl::lib ? -1 : 1, nodes, s.fed_rounds, 5,
                                               30.0, "federation", nodelay));
                            });
                }
            }
        }
    }
    results["idle"] = json::array();
    if (s.workloads.count("idle") != 0) {
        const bool nodelay = s.brokers.front();
        for (const long long nodes : s.idle_nodes) {
            for (const Impl impl : s.impls) {
                attempt("idle " + std::to_string(nodes) + " nodes " + impl_name(impl) + " " +
                            broker_name(s, nodelay),
                        [&] {
                            results["idle"].push_back(
                                run_rounds(s, impl, impl == Impl::lib ? -1 : 1, nodes, s.idle_rounds, 1, 1e6,
                                           "idle", nodelay,
                                           {"--pause-min-ms", std::to_string(s.idle_pause_min_ms),
                                            "--pause-max-ms", std::to_string(s.idle_pause_max_ms)}));
                        });
            }
        }
    }
    results["connect"] = json::array();
    if (s.workloads.count("connect") != 0) {
        for (const bool nodelay : s.brokers) {
            for (const Impl impl : s.impls) {
                attempt(std::string("connect ") + impl_name(impl) + " " + broker_name(nodelay),
                        [&] { results["connect"].push_back(run_connect(s, impl, nodelay)); });
            }
        }
    }
    if (s.workloads.count("stream") != 0 && has(s, Impl::lib)) {
        attempt("stream", [&] {
            const long long every = std::max<long long>(1, s.stream_count / 10);
            results["stream"] = run_throughput(s, Impl::lib, Kind::small, effective_qos(EndpointConfig{}),
                                               s.stream_count, every, "stream");
        });
    }
    if (s.workloads.count("callgrind") != 0 && has(s, Impl::lib) && has(s, Impl::paho)) {
        const int qos = effective_qos(EndpointConfig{});
        for (const bool send_path : {true, false}) {
            for (const Impl impl : {Impl::lib, Impl::paho}) {
                attempt(std::string("callgrind ") + impl_name(impl) + (send_path ? " send" : " receive"),
                        [&] { results["callgrind"].push_back(run_callgrind(s, impl, send_path, qos)); });
            }
        }
    }
    if (s.workloads.count("limits") != 0) {
        attempt("limits", [&] { results["limits"] = run_limits(s); });
    }
    results["elapsed_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    results["targets"] = evaluate_targets(results);

    const std::string json_path = s.out_dir + "/results.json";
    std::ofstream(json_path) << results.dump(2) << "\n";
    print_report(results, stdout);
    std::printf("\nresults: %s\n", json_path.c_str());
    if (s.chart) {
        for (const auto& png : write_charts(results, s.out_dir)) {
            std::printf("chart:   %s\n", png.c_str());
        }
    }
    if (!results["errors"].empty()) {
        std::fprintf(stderr, "fbm-bench: %zu workload(s) failed (see above)\n", results["errors"].size());
        return 1;
    }
    if (s.strict) {
        long long problems = 0;
        for (const auto& row : results.at("throughput")) {
            problems += row.at("lost").get<long long>() + row.at("bad").get<long long>();
        }
        for (const char* section : {"latency", "federation", "idle"}) {
            for (const auto& row : results.at(section)) {
                problems += row.at("timeouts").get<long long>();
            }
        }
        if (problems != 0) {
            std::fprintf(stderr, "fbm-bench: %lld message(s) lost, bad or timed out\n", problems);
            return 1;
        }
    }
    return 0;
}

}  // namespace fbm_bench

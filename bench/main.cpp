// fbm-bench: throughput, latency, CPU and memory of this library against raw Paho C++ and the mosquitto
// command-line tools, over a private Mosquitto on loopback. See docs/performance.md.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "orchestrator.hpp"
#include "roles.hpp"

namespace {

constexpr const char* kUsage = R"(Usage: fbm-bench run [options]      run every workload (see --help-run)
       fbm-bench ROLE [options]     one process of a workload (started by `run`):
           pub | sub | node | researcher   --impl lib|paho|tools --port P [--qos Q] ...
)";

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const std::string command = argv[1];
    try {
        const fbm_bench::Args args(argc, argv, 2);
        if (command == "run") {
            return fbm_bench::run_benchmark(args);
        }
        return fbm_bench::run_role(command, args);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "fbm-bench %s: %s\n", command.c_str(), error.what());
        return 1;
    }
}

// `fbm-bench run`: starts a private Mosquitto per workload, runs the workloads over every client in
// separate processes, and reports (table on stdout, JSON file, PNG charts).
#pragma once

#include "roles.hpp"

namespace fbm_bench {

/// Runs the benchmark; see the usage text printed by `fbm-bench run --help`.
int run_benchmark(const Args& args);

}  // namespace fbm_bench

// Presentation of the benchmark results: percentiles, the targets, the table, the charts.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fbm_bench {

/// n, min, p50, p90, p99, max and mean of @p samples (any order).
nlohmann::json summarize(std::vector<double> samples);

/// The targets of the issue (ratios against raw Paho and the mosquitto tools), each with its measured
/// value, its threshold and whether it is met; only those whose workloads ran.
nlohmann::json evaluate_targets(const nlohmann::json& results);

/// The human-readable tables.
void print_report(const nlohmann::json& results, std::FILE* out);

/// Writes the gnuplot data and script into @p out_dir and runs gnuplot; returns the PNGs written.
std::vector<std::string> write_charts(const nlohmann::json& results, const std::string& out_dir);

}  // namespace fbm_bench

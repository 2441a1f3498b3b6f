// What the benchmark measures of its processes: a clock shared by all of them, CPU time and memory of this
// process and of others (from /proc), and where this executable is.
#pragma once

#include <cstdint>
#include <string>

#include "process.hpp"
#include <sys/types.h>

namespace fbm_bench {

using fbm_test::Usage;

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process of the machine, so a publisher's first send
/// and a subscriber's last receive can be compared.
std::int64_t now_ns() noexcept;

/// CPU seconds and peak RSS of this process (RUSAGE_SELF), plus its reaped children when asked.
Usage self_usage(bool with_children = false);

/// Current resident set of this process, in KiB (from /proc/self/statm).
long current_rss_kb();

/// CPU seconds (utime + stime) of any process of this user, from /proc/<pid>/stat; -1 when unreadable.
double process_cpu_seconds(pid_t pid);

/// Peak resident set (VmHWM) of a process, in KiB; -1 when unreadable.
long process_peak_rss_kb(pid_t pid);

/// Path of this executable (/proc/self/exe resolved).
std::string self_executable();

}  // namespace fbm_bench

#include "resources.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace fbm_bench {
namespace {

double seconds_of(const timeval& value) {
    return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6;
}

Usage usage_of(const rusage& used) {
    Usage usage;
    usage.cpu_seconds = seconds_of(used.ru_utime) + seconds_of(used.ru_stime);
    usage.max_rss_kb = used.ru_maxrss;
    return usage;
}

}  // namespace

std::int64_t now_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

Usage self_usage(bool with_children) {
    rusage used{};
    ::getrusage(RUSAGE_SELF, &used);
    Usage usage = usage_of(used);
    if (with_children) {
        rusage children{};
        ::getrusage(RUSAGE_CHILDREN, &children);
        const Usage child = usage_of(children);
        usage.cpu_seconds += child.cpu_seconds;
        usage.max_rss_kb = std::max(usage.max_rss_kb, child.max_rss_kb);
    }
    return usage;
}

long current_rss_kb() {
    std::ifstream statm("/proc/self/statm");
    long size = 0;
    long resident = 0;
    statm >> size >> resident;
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

double process_cpu_seconds(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    if (!std::getline(stat, text)) {
        return -1.0;
    }
    // Fields after the command name (which is in parentheses and may contain spaces).
    const std::size_t close = text.rfind(')');
    if (close == std::string::npos) {
        return -1.0;
    }
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    // state(3) ... utime is field 14, stime 15 (1-based, counting pid and comm).
    for (int index = 3; index <= 15 && fields >> field; ++index) {
        if (index == 14) {
            utime = std::stoull(field);
        } else if (index == 15) {
            stime = std::stoull(field);
        }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

long process_peak_rss_kb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            return std::strtol(line.c_str() + 6, nullptr, 10);
        }
    }
    return -1;
}

std::string self_executable() {
    char path[4096];
    const ssize_t length = ::readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0) {
        throw std::runtime_error("cannot resolve /proc/self/exe");
    }
    return std::string(path, static_cast<std::size_t>(length));
}

}  // namespace fbm_bench

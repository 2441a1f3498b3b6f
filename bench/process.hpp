// Child processes for the benchmark: fork/exec with pipes, line-oriented reading with a deadline, and the
// resource usage of a child once it is reaped (wait4), so CPU seconds and peak memory of every client and
// of the broker can be reported.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace fbm_bench {

/// CPU and memory a process used (from struct rusage).
struct Usage {
    double cpu_seconds = 0.0;  ///< user + system
    long max_rss_kb = 0;       ///< peak resident set
};

/// Reads a file descriptor line by line with its own buffer (no stdio), with an optional deadline.
class LineReader {
public:
    explicit LineReader(int fd = -1) : fd_(fd) {}

    void reset(int fd) {
        fd_ = fd;
        begin_ = 0;
        end_ = 0;
    }

    /// Next line without its '\n'. std::nullopt on end of file, or when @p timeout passed first.
    /// A negative timeout waits forever.
    std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));

    /// Like next() but returns a view into the internal buffer, valid until the next call. For the hot
    /// path of the mosquitto_sub readers (no copy of a 64 KiB line).
    bool next_view(std::string_view& line);

    int fd() const noexcept { return fd_; }

private:
    bool fill(int timeout_ms);

    int fd_;
    std::vector<char> buffer_;  // bytes [begin_, end_) are read and not consumed yet
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

/// A child process with optional pipes to its stdin and from its stdout; stderr goes to @p stderr_path
/// (appended) when given, else is inherited.
class Child {
public:
    Child() = default;
    Child(const std::vector<std::string>& argv, bool pipe_stdin, bool pipe_stdout,
          const std::string& stderr_path = {});
    ~Child();

    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const noexcept { return pid_; }
    bool running() const noexcept { return pid_ > 0 && !reaped_; }

    /// Writes @p text to the child's stdin (all of it). @return false when the pipe is closed.
    bool write(std::string_view text);
    /// Closes the child's stdin (end of file for it).
    void close_stdin();

    LineReader& out() { return out_; }

    /// Waits for the child to exit; returns its exit status (or 128 + signal) and fills usage.
    int wait(Usage* usage = nullptr);
    /// Waits at most @p timeout; std::nullopt if still running.
    std::optional<int> wait_for(std::chrono::milliseconds timeout, Usage* usage = nullptr);
    /// Sends @p signal (if still running).
    void kill(int signal);
    /// SIGTERM, wait up to @p grace, then SIGKILL; returns the usage.
    Usage terminate(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

private:
    void release() noexcept;

    pid_t pid_ = -1;
    bool reaped_ = false;
    int exit_status_ = 0;
    Usage usage_;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    LineReader out_;
};

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

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int free_loopback_port();

/// True once something accepts TCP connections on 127.0.0.1:@p port.
bool port_accepts(int port);

/// Path of this executable (/proc/self/exe resolved).
std::string self_executable();

}  // namespace fbm_bench

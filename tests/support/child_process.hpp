/// @file child_process.hpp
/// @brief Test support: a program under test in a process of its own (a Process, see process.hpp), with
/// its stdout and stderr captured as they come, so that a test can wait for a line.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "process.hpp"

namespace fbm_test {

/// @brief How a ChildProcess captures its output.
struct CaptureOptions {
    /// stderr goes into the same captured text as stdout (interleaved as the program wrote it); err()
    /// stays empty.
    bool merge_stderr = false;
    /// When the test has failed by the time the ChildProcess is destroyed, its output goes to stderr.
    bool dump_on_failure = true;
};

/// @brief One child process whose output is read by two internal threads and whose exit is awaited by a
/// third. Driven from the test's main thread (the parent-death signal is tied to the thread that starts
/// it); every method is thread-safe.
class ChildProcess {
public:
    /// @brief Starts @p argv (argv[0] is the program's path) with stdin from /dev/null.
    /// @throws std::runtime_error when it cannot be started.
    explicit ChildProcess(std::vector<std::string> argv, CaptureOptions options = {});

    /// @brief SIGKILLs the child if it still runs, reaps it and joins the internal threads.
    ~ChildProcess();

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// @brief The child's pid.
    pid_t pid() const { return pid_; }

    /// @brief Sends @p signal_number to the child (no-op once it was reaped).
    void send_signal(int signal_number);

    /// @brief Waits until stdout contains @p needle; false on timeout or when the child closed stdout
    /// without printing it.
    bool wait_for_stdout(const std::string& needle, std::chrono::milliseconds timeout);

    /// @brief As wait_for_stdout() for stderr.
    bool wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout);

    /// @brief Waits for the child to exit and for its output to be read entirely.
    /// @return its exit status (128 + signal when killed by a signal), or nullopt on timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    /// @brief Everything read from stdout so far.
    std::string out() const;

    /// @brief Everything read from stderr so far.
    std::string err() const;

    /// @brief The complete lines of stdout so far that begin with @p prefix, without it.
    std::vector<std::string> lines(const std::string& prefix) const;

    /// @brief How many complete lines of stdout begin with @p prefix.
    std::size_t count_lines(const std::string& prefix) const;

    /// @brief The command line, for failure messages.
    std::string command_line() const { return command_line_; }

private:
    struct Stream {
        std::string text;
        bool closed = false;
    };

    void read_loop(int fd, Stream& stream);
    void reap_loop();
    bool wait_for(const Stream& stream, const std::string& needle, std::chrono::milliseconds timeout);

    CaptureOptions options_;
    Process process_;
    pid_t pid_ = -1;
    std::string command_line_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    Stream out_;
    Stream err_;
    std::optional<int> status_;
    std::thread out_reader_;
    std::thread err_reader_;
    std::thread reaper_;
};

/// @brief What a finished run_program() produced.
struct RunResult {
    std::optional<int> status;  ///< exit status (128 + signal), nullopt if it had to be killed
    std::string out;            ///< its stdout
    std::string err;            ///< its stderr
};

/// @brief Runs @p argv to completion (at most @p timeout, then it is killed) and returns its exit status
/// and output. @throws std::runtime_error when it cannot be started.
RunResult run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout);

}  // namespace fbm_test

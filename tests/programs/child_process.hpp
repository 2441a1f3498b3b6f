/// @file child_process.hpp
/// @brief Test support: runs a program with its stdout and stderr captured, and kills it if the test
/// ends first (also when the test process dies: the child gets SIGKILL from the kernel).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace fbm_test {

/// @brief One child process. Driven from the test's main thread; its readers and its reaper are
/// internal threads.
class ChildProcess {
public:
    /// @brief Starts @p argv (argv[0] is the program's path) with stdin from /dev/null.
    /// @throws std::runtime_error when it cannot be started.
    explicit ChildProcess(std::vector<std::string> argv);

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

    /// @brief The command line, for failure messages.
    std::string command_line() const;

private:
    struct Stream {
        std::string text;
        bool closed = false;
    };

    void read_loop(int fd, Stream& stream);
    void reap_loop();
    bool wait_for(const Stream& stream, const std::string& needle, std::chrono::milliseconds timeout);

    std::vector<std::string> argv_;
    pid_t pid_ = -1;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    Stream out_;
    Stream err_;
    std::optional<int> status_;
    std::thread out_reader_;
    std::thread err_reader_;
    std::thread reaper_;
};

/// @brief Runs @p argv to completion (at most @p timeout, then it is killed) and returns the finished
/// process, for checking its exit status and output.
struct RunResult {
    std::optional<int> status;  ///< exit status, nullopt if it had to be killed
    std::string out;            ///< its stdout
    std::string err;            ///< its stderr
};

/// @brief Runs @p argv and waits for it (see RunResult).
RunResult run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout);

}  // namespace fbm_test

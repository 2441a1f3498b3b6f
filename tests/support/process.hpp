/// @file process.hpp
/// @brief Test and bench support: the one way this project's tests and benchmark start a child process.
///
/// Every child gets a parent-death signal (PR_SET_PDEATHSIG = SIGKILL): when the process that started it
/// dies for any reason (Ctrl-C on ctest or scripts/bench.sh, a ctest timeout, a crash), the kernel kills
/// the child too, so no broker, node or tool is ever left behind. The signal is tied to the *thread* that
/// forked: start children from a thread that lives as long as they should (the main thread).
#pragma once

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace fbm_test {

/// @brief CPU time and peak memory of a reaped child (from wait4's struct rusage).
struct Usage {
    double cpu_seconds = 0.0;  ///< user + system
    long max_rss_kb = 0;       ///< peak resident set, KiB
};

/// @brief Where one standard stream of a child goes.
struct Redirect {
    enum class Kind {
        inherit,    ///< the parent's own stream
        null,       ///< /dev/null
        pipe,       ///< a pipe whose other end the Process holds
        file,       ///< appended to the file at `path` (created if missing)
        to_stdout,  ///< stderr only: wherever stdout goes (one interleaved stream)
    };
    Kind kind = Kind::inherit;
    std::string path;

    static Redirect inherit() { return {Kind::inherit, {}}; }
    static Redirect null() { return {Kind::null, {}}; }
    static Redirect pipe() { return {Kind::pipe, {}}; }
    static Redirect file(std::string path) { return {Kind::file, std::move(path)}; }
    static Redirect to_stdout() { return {Kind::to_stdout, {}}; }
};

/// @brief How a Process is started.
struct LaunchOptions {
    Redirect stdin_from = Redirect::null();
    Redirect stdout_to = Redirect::inherit();
    Redirect stderr_to = Redirect::inherit();
    /// Look argv[0] up in PATH when it holds no '/' (done before fork, in the parent).
    bool search_path = false;
};

/// @brief One child process: started with fork/exec and a parent-death signal, killed (SIGKILL) and
/// reaped by the destructor if it still runs.
///
/// Not thread-safe: one thread drives it (a pipe end taken with take_stdout() may be read elsewhere).
/// Exit statuses are the exit code, or 128 + the signal number when a signal ended the child.
class Process {
public:
    /// @brief No process.
    Process() = default;

    /// @brief Starts @p argv (argv[0] is the program). Signals the parent blocks or ignores are restored
    /// to their defaults in the child. @throws std::runtime_error when it cannot be started (the program
    /// is missing or not executable, a redirect cannot be opened).
    explicit Process(std::vector<std::string> argv, LaunchOptions options = {});

    /// @brief SIGKILLs the child if it still runs, reaps it, closes the pipes.
    ~Process();

    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    /// @brief The child's pid (-1 for no process).
    pid_t pid() const noexcept { return pid_; }

    /// @brief True from the start until the child was reaped.
    bool running() const noexcept { return pid_ > 0 && !reaped_; }

    /// @brief The command line, for messages.
    std::string command_line() const;

    /// @brief Sends @p signal_number (no-op once reaped, so a recycled pid is never hit).
    void signal(int signal_number);

    /// @brief Writes all of @p text to the child's stdin pipe. @return false when the pipe is closed.
    bool write_stdin(std::string_view text);

    /// @brief Closes the child's stdin pipe (end of file for the child).
    void close_stdin();

    /// @brief The read end of the stdout pipe (-1 without one); still owned by this Process.
    int stdout_fd() const noexcept { return stdout_fd_; }

    /// @brief Gives up ownership of the stdout (or stderr) pipe's read end: the caller closes it.
    int take_stdout() noexcept;
    int take_stderr() noexcept;

    /// @brief Blocks until the child exits and reaps it. @return its exit status (-1 when it was not
    /// this process's to reap).
    int wait();

    /// @brief Waits at most @p timeout for the child to exit. @return its exit status, or nullopt when it
    /// still runs.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);

    /// @brief Sends @p signal_number (and SIGCONT, so that a stopped child handles it), waits up to
    /// @p grace, then SIGKILLs. @return the exit status.
    int terminate(int signal_number = SIGTERM,
                  std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

    /// @brief What the child used; meaningful once it was reaped.
    const Usage& usage() const noexcept { return usage_; }

private:
    bool reap(bool block);
    void release() noexcept;

    std::vector<std::string> argv_;
    pid_t pid_ = -1;
    bool reaped_ = false;
    int status_ = -1;
    Usage usage_;
    int stdin_fd_ = -1;
    int stdout_fd_ = -1;
    int stderr_fd_ = -1;
};

}  // namespace fbm_test

#include "child_process.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fbm_test {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

}  // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv) : argv_(std::move(argv)) {
    if (argv_.empty()) {
        throw std::runtime_error("ChildProcess: empty command line");
    }
    int out_pipe[2] = {-1, -1};
    int err_pipe[2] = {-1, -1};
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error("ChildProcess: pipe2 failed: " + std::string(std::strerror(errno)));
    }
    // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
    std::vector<char*> args;
    for (auto& arg : argv_) {
        args.push_back(arg.data());
    }
    args.push_back(nullptr);
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) {
        throw std::runtime_error("ChildProcess: fork failed: " + std::string(std::strerror(errno)));
    }
    if (pid_ == 0) {
        // The child dies with the test process (the forking thread is the test's main thread).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd < 0 || ::dup2(null_fd, 0) < 0 || ::dup2(out_pipe[1], 1) < 0 ||
            ::dup2(err_pipe[1], 2) < 0) {
            ::_exit(127);
        }
        // Signals blocked or ignored in the test process must not leak into the program under test.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        ::execv(args[0], args.data());
        const char message[] = "ChildProcess: execv failed\n";
        [[maybe_unused]] const auto written = ::write(2, message, sizeof message - 1);
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    const int out_fd = out_pipe[0];
    const int err_fd = err_pipe[0];
    out_reader_ = std::thread([this, out_fd] { read_loop(out_fd, out_); });
    err_reader_ = std::thread([this, err_fd] { read_loop(err_fd, err_); });
    reaper_ = std::thread([this] { reap_loop(); });
}

ChildProcess::~ChildProcess() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!status_) {
            ::kill(pid_, SIGKILL);
        }
    }
    reaper_.join();
    out_reader_.join();
    err_reader_.join();
}

void ChildProcess::read_loop(int fd, Stream& stream) {
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        if (n <= 0) {
            stream.closed = true;
            changed_.notify_all();
            break;
        }
        stream.text.append(buffer, static_cast<std::size_t>(n));
        changed_.notify_all();
    }
    close_fd(fd);
}

void ChildProcess::reap_loop() {
    int status = 0;
    pid_t rc = 0;
    do {
        rc = ::waitpid(pid_, &status, 0);
    } while (rc < 0 && errno == EINTR);
    std::lock_guard<std::mutex> lock(mutex_);
    if (rc == pid_ && WIFEXITED(status)) {
        status_ = WEXITSTATUS(status);
    } else if (rc == pid_ && WIFSIGNALED(status)) {
        status_ = 128 + WTERMSIG(status);
    } else {
        status_ = -1;  // not ours to reap, or stopped: report a status no program returns
    }
    changed_.notify_all();
}

void ChildProcess::send_signal(int signal_number) {
    std::lock_guard<std::mutex> lock(mutex_);
    // Under the lock the pid cannot have been reaped (and reused) yet.
    if (!status_) {
        ::kill(pid_, signal_number);
    }
}

bool ChildProcess::wait_for(const Stream& stream, const std::string& needle,
                            std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout,
                      [&] { return stream.text.find(needle) != std::string::npos || stream.closed; });
    return stream.text.find(needle) != std::string::npos;
}

bool ChildProcess::wait_for_stdout(const std::string& needle, std::chrono::milliseconds timeout) {
    return wait_for(out_, needle, timeout);
}

bool ChildProcess::wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout) {
    return wait_for(err_, needle, timeout);
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    const bool done =
        changed_.wait_for(lock, timeout, [&] { return status_.has_value() && out_.closed && err_.closed; });
    if (!done) {
        return std::nullopt;
    }
    return status_;
}

std::string ChildProcess::out() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return out_.text;
}

std::string ChildProcess::err() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return err_.text;
}

std::string ChildProcess::command_line() const {
    std::string line;
    for (const auto& arg : argv_) {
        line += (line.empty() ? "" : " ") + arg;
    }
    return line;
}

RunResult run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    ChildProcess child(std::move(argv));
    RunResult result;
    result.status = child.wait_exit(timeout);
    if (!result.status) {
        child.send_signal(SIGKILL);
        child.wait_exit(std::chrono::milliseconds(10000));
    }
    result.out = child.out();
    result.err = child.err();
    return result;
}

}  // namespace fbm_test

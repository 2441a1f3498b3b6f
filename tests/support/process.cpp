#include "process.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fbm_test {
namespace {

void close_fd(int& fd) noexcept {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("Process: " + what);
}

std::string find_in_path(const std::string& program) {
    if (program.find('/') != std::string::npos) {
        return program;
    }
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t begin = 0;
    while (begin <= dirs.size()) {
        const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
        const std::string dir = dirs.substr(begin, end - begin);
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
        begin = end + 1;
    }
    return program;  // execv fails, the child reports it and exits 127
}

// The child's end of one stream, opened in the parent (nothing but async-signal-safe calls after fork).
// parent_end is the pipe end the Process keeps.
struct StreamSetup {
    int child_end = -1;   // dup2'ed onto the stream; -1: inherit
    int parent_end = -1;  // for pipes
};

StreamSetup open_stream(const Redirect& redirect, bool input) {
    StreamSetup setup;
    switch (redirect.kind) {
    case Redirect::Kind::inherit:
    case Redirect::Kind::to_stdout: break;
    case Redirect::Kind::null:
        setup.child_end = ::open("/dev/null", (input ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
        if (setup.child_end < 0) {
            fail("cannot open /dev/null: " + std::string(std::strerror(errno)));
        }
        break;
    case Redirect::Kind::file:
        setup.child_end = ::open(redirect.path.c_str(),
                                 (input ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND) | O_CLOEXEC, 0644);
        if (setup.child_end < 0) {
            fail("cannot open " + redirect.path + ": " + std::strerror(errno));
        }
        break;
    case Redirect::Kind::pipe: {
        int ends[2] = {-1, -1};
        if (::pipe2(ends, O_CLOEXEC) != 0) {
            fail("pipe2 failed: " + std::string(std::strerror(errno)));
        }
        setup.child_end = input ? ends[0] : ends[1];
        setup.parent_end = input ? ends[1] : ends[0];
        break;
    }
    }
    return setup;
}

int status_code(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

double seconds_of(const timeval& value) {
    return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6;
}

}  // namespace

Process::Process(std::vector<std::string> argv, LaunchOptions options) : argv_(std::move(argv)) {
    if (argv_.empty()) {
        fail("empty command line");
    }
    const std::string program = options.search_path ? find_in_path(argv_[0]) : argv_[0];
    StreamSetup streams[3];
    try {
        streams[0] = open_stream(options.stdin_from, true);
        streams[1] = open_stream(options.stdout_to, false);
        streams[2] = open_stream(options.stderr_to, false);
    } catch (...) {
        for (auto& stream : streams) {
            close_fd(stream.child_end);
            close_fd(stream.parent_end);
        }
        throw;
    }
    const bool merge_stderr = options.stderr_to.kind == Redirect::Kind::to_stdout;
    // Everything the child needs is prepared before fork(): after it, only async-signal-safe calls.
    std::vector<char*> args;
    args.reserve(argv_.size() + 1);
    args.push_back(const_cast<char*>(program.c_str()));
    for (std::size_t i = 1; i < argv_.size(); ++i) {
        args.push_back(argv_[i].data());
    }
    args.push_back(nullptr);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) {
        const int error = errno;
        for (auto& stream : streams) {
            close_fd(stream.child_end);
            close_fd(stream.parent_end);
        }
        fail("fork failed: " + std::string(std::strerror(error)));
    }
    if (pid == 0) {
        // Killed by the kernel when the forking thread ends; if the parent is already gone, give up.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        for (int fd = 0; fd < 3; ++fd) {
            if (streams[fd].child_end >= 0 && ::dup2(streams[fd].child_end, fd) < 0) {
                ::_exit(127);
            }
        }
        if (merge_stderr && ::dup2(1, 2) < 0) {
            ::_exit(127);
        }
        // Signals blocked or ignored in the parent (a test harness, a sigwait loop) must not leak into
        // the program started.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        ::execve(args[0], args.data(), environ);
        const char message[] = "fbm_test::Process: cannot execute the program\n";
        [[maybe_unused]] const auto written = ::write(2, message, sizeof message - 1);
        ::_exit(127);
    }
    pid_ = pid;
    for (auto& stream : streams) {
        close_fd(stream.child_end);
    }
    stdin_fd_ = streams[0].parent_end;
    stdout_fd_ = streams[1].parent_end;
    stderr_fd_ = streams[2].parent_end;
}

Process::~Process() {
    release();
}

Process::Process(Process&& other) noexcept {
    *this = std::move(other);
}

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        release();
        argv_ = std::move(other.argv_);
        pid_ = other.pid_;
        reaped_ = other.reaped_;
        status_ = other.status_;
        usage_ = other.usage_;
        stdin_fd_ = other.stdin_fd_;
        stdout_fd_ = other.stdout_fd_;
        stderr_fd_ = other.stderr_fd_;
        other.pid_ = -1;
        other.reaped_ = false;
        other.stdin_fd_ = other.stdout_fd_ = other.stderr_fd_ = -1;
    }
    return *this;
}

void Process::release() noexcept {
    if (running()) {
        ::kill(pid_, SIGKILL);
        reap(true);
    }
    close_fd(stdin_fd_);
    close_fd(stdout_fd_);
    close_fd(stderr_fd_);
}

std::string Process::command_line() const {
    std::string line;
    for (const auto& arg : argv_) {
        line += (line.empty() ? "" : " ") + arg;
    }
    return line;
}

void Process::signal(int signal_number) {
    if (running()) {
        ::kill(pid_, signal_number);
    }
}

bool Process::write_stdin(std::string_view text) {
    while (!text.empty()) {
        const ssize_t written = ::write(stdin_fd_, text.data(), text.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

void Process::close_stdin() {
    close_fd(stdin_fd_);
}

int Process::take_stdout() noexcept {
    const int fd = stdout_fd_;
    stdout_fd_ = -1;
    return fd;
}

int Process::take_stderr() noexcept {
    const int fd = stderr_fd_;
    stderr_fd_ = -1;
    return fd;
}

bool Process::reap(bool block) {
    if (!running()) {
        return true;
    }
    int status = 0;
    rusage used{};
    pid_t got = 0;
    do {
        got = ::wait4(pid_, &status, block ? 0 : WNOHANG, &used);
    } while (got < 0 && errno == EINTR);
    if (got == 0) {
        return false;  // still running
    }
    reaped_ = true;
    status_ = got == pid_ ? status_code(status) : -1;
    usage_.cpu_seconds = seconds_of(used.ru_utime) + seconds_of(used.ru_stime);
    usage_.max_rss_kb = used.ru_maxrss;
    return true;
}

int Process::wait() {
    reap(true);
    return status_;
}

std::optional<int> Process::wait_for(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reap(false)) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        // No waitable handle for "this pid exited" short of pidfd; a child's exit is polled every ms.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return status_;
}

int Process::terminate(int signal_number, std::chrono::milliseconds grace) {
    if (running()) {
        ::kill(pid_, signal_number);
        ::kill(pid_, SIGCONT);
        if (!wait_for(grace)) {
            ::kill(pid_, SIGKILL);
            reap(true);
        }
    }
    return status_;
}

}  // namespace fbm_test

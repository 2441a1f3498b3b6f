#include "process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

int status_code(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

}  // namespace

// ---- LineReader ----

bool LineReader::fill(int timeout_ms) {
    if (fd_ < 0) {
        return false;
    }
    if (timeout_ms >= 0) {
        pollfd waiter{fd_, POLLIN, 0};
        int ready = 0;
        do {
            ready = ::poll(&waiter, 1, timeout_ms);
        } while (ready < 0 && errno == EINTR);
        if (ready <= 0) {
            return false;
        }
    }
    constexpr std::size_t kChunk = 128 * 1024;
    if (begin_ == end_) {
        begin_ = 0;
        end_ = 0;
    }
    if (buffer_.size() - end_ < kChunk) {
        // Move the unconsumed part to the front, and grow only when that is not enough.
        if (begin_ != 0) {
            std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (buffer_.size() - end_ < kChunk) {
            buffer_.resize(std::max(buffer_.size() * 2, end_ + kChunk));
        }
    }
    ssize_t got = 0;
    do {
        got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
        return false;
    }
    end_ += static_cast<std::size_t>(got);
    return true;
}

std::optional<std::string> LineReader::next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const char* const first = buffer_.data() + begin_;
        const void* newline = end_ > begin_ ? std::memchr(first, '\n', end_ - begin_) : nullptr;
        if (newline != nullptr) {
            const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - first);
            std::string line(first, length);
            begin_ += length + 1;
            return line;
        }
        int wait_ms = -1;
        if (timeout.count() >= 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return std::nullopt;
            }
            wait_ms = static_cast<int>(left.count());
        }
        if (!fill(wait_ms)) {
            return std::nullopt;
        }
    }
}

bool LineReader::next_view(std::string_view& line) {
    std::size_t searched = 0;  // bytes after begin_ known to hold no newline
    for (;;) {
        const char* const first = buffer_.data() + begin_;
        const std::size_t unsearched = end_ - begin_ - searched;
        const void* newline = unsearched != 0 ? std::memchr(first + searched, '\n', unsearched) : nullptr;
        if (newline != nullptr) {
            const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - first);
            line = std::string_view(first, length);
            begin_ += length + 1;
            return true;
        }
        searched = end_ - begin_;
        if (!fill(-1)) {
            return false;
        }
    }
}

// ---- Child ----

Child::Child(const std::vector<std::string>& argv, bool pipe_stdin, bool pipe_stdout,
             const std::string& stderr_path) {
    int in_pipe[2] = {-1, -1};
    int out_pipe[2] = {-1, -1};
    if ((pipe_stdin && ::pipe2(in_pipe, O_CLOEXEC) != 0) ||
        (pipe_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0)) {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        if (pipe_stdin) {
            ::dup2(in_pipe[0], STDIN_FILENO);
        }
        if (pipe_stdout) {
            ::dup2(out_pipe[1], STDOUT_FILENO);
        }
        if (!stderr_path.empty()) {
            const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (err >= 0) {
                ::dup2(err, STDERR_FILENO);
            }
        }
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "fbm-bench: cannot run %s: %s\n", args[0], std::strerror(errno));
        std::_Exit(127);
    }
    pid_ = pid;
    if (pipe_stdin) {
        ::close(in_pipe[0]);
        stdin_fd_ = in_pipe[1];
    }
    if (pipe_stdout) {
        ::close(out_pipe[1]);
        stdout_fd_ = out_pipe[0];
        out_.reset(stdout_fd_);
    }
}

Child::~Child() {
    release();
}

Child::Child(Child&& other) noexcept {
    *this = std::move(other);
}

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        release();
        pid_ = other.pid_;
        reaped_ = other.reaped_;
        exit_status_ = other.exit_status_;
        usage_ = other.usage_;
        stdin_fd_ = other.stdin_fd_;
        stdout_fd_ = other.stdout_fd_;
        out_ = std::move(other.out_);
        other.pid_ = -1;
        other.stdin_fd_ = -1;
        other.stdout_fd_ = -1;
        other.out_.reset(-1);
    }
    return *this;
}

void Child::release() noexcept {
    if (running()) {
        terminate(std::chrono::milliseconds(1000));
    }
    if (stdin_fd_ >= 0) {
        ::close(stdin_fd_);
        stdin_fd_ = -1;
    }
    if (stdout_fd_ >= 0) {
        ::close(stdout_fd_);
        stdout_fd_ = -1;
    }
}

bool Child::write(std::string_view text) {
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

void Child::close_stdin() {
    if (stdin_fd_ >= 0) {
        ::close(stdin_fd_);
        stdin_fd_ = -1;
    }
}

int Child::wait(Usage* usage) {
    if (!reaped_ && pid_ > 0) {
        int status = 0;
        rusage used{};
        pid_t got = 0;
        do {
            got = ::wait4(pid_, &status, 0, &used);
        } while (got < 0 && errno == EINTR);
        reaped_ = true;
        exit_status_ = got == pid_ ? status_code(status) : -1;
        usage_ = usage_of(used);
    }
    if (usage != nullptr) {
        *usage = usage_;
    }
    return exit_status_;
}

std::optional<int> Child::wait_for(std::chrono::milliseconds timeout, Usage* usage) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!reaped_ && pid_ > 0) {
        int status = 0;
        rusage used{};
        const pid_t got = ::wait4(pid_, &status, WNOHANG, &used);
        if (got == pid_) {
            reaped_ = true;
            exit_status_ = status_code(status);
            usage_ = usage_of(used);
            break;
        }
        if (got < 0 && errno != EINTR) {
            reaped_ = true;
            exit_status_ = -1;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        // Polling a child's exit: there is no waitable handle for "pid exited" with a timeout short of
        // pidfd (not worth it for a benchmark harness); 2 ms granularity is plenty here.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (usage != nullptr) {
        *usage = usage_;
    }
    return exit_status_;
}

void Child::kill(int signal) {
    if (running()) {
        ::kill(pid_, signal);
    }
}

Usage Child::terminate(std::chrono::milliseconds grace) {
    Usage usage;
    if (running()) {
        ::kill(pid_, SIGTERM);
        if (!wait_for(grace, &usage)) {
            ::kill(pid_, SIGKILL);
            wait(&usage);
        }
    } else {
        usage = usage_;
    }
    return usage;
}

// ---- free functions ----

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

int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error("socket() failed");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd);
        throw std::runtime_error("cannot find a free loopback port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

bool port_accepts(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
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

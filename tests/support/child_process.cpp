#include "child_process.hpp"

#include <cerrno>
#include <iostream>
#include <sstream>

#include "test_failure.hpp"
#include <signal.h>
#include <unistd.h>

namespace fbm_test {

ChildProcess::ChildProcess(std::vector<std::string> argv, CaptureOptions options) : options_(options) {
    LaunchOptions launch;
    launch.stdout_to = Redirect::pipe();
    launch.stderr_to = options_.merge_stderr ? Redirect::to_stdout() : Redirect::pipe();
    process_ = Process(std::move(argv), launch);
    pid_ = process_.pid();
    command_line_ = process_.command_line();
    const int out_fd = process_.take_stdout();
    const int err_fd = process_.take_stderr();
    out_reader_ = std::thread([this, out_fd] { read_loop(out_fd, out_); });
    err_reader_ = std::thread([this, err_fd] { read_loop(err_fd, err_); });
    // The reaper owns process_ from here on; the other threads only signal the pid, under mutex_ and
    // only before status_ is set, so a recycled pid is never hit.
    reaper_ = std::thread([this] { reap_loop(); });
}

ChildProcess::~ChildProcess() {
    send_signal(SIGKILL);
    reaper_.join();
    out_reader_.join();
    err_reader_.join();
    if (options_.dump_on_failure && current_test_failed()) {
        std::cerr << "---- output of " << command_line_ << " ----\n"
                  << out() << (options_.merge_stderr ? "" : "---- its stderr ----\n" + err())
                  << "---- end of output ----\n";
    }
}

void ChildProcess::read_loop(int fd, Stream& stream) {
    char buffer[4096];
    for (;;) {
        const ssize_t n = fd < 0 ? 0 : ::read(fd, buffer, sizeof buffer);
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
    if (fd >= 0) {
        ::close(fd);
    }
}

void ChildProcess::reap_loop() {
    const int status = process_.wait();
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = status;
    changed_.notify_all();
}

void ChildProcess::send_signal(int signal_number) {
    std::lock_guard<std::mutex> lock(mutex_);
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
    if (!changed_.wait_for(lock, timeout,
                           [&] { return status_.has_value() && out_.closed && err_.closed; })) {
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

std::vector<std::string> ChildProcess::lines(const std::string& prefix) const {
    const std::string text = out();
    // Complete lines only: the program may be in the middle of writing the last one.
    std::istringstream in(text.substr(0, text.rfind('\n') + 1));
    std::vector<std::string> found;
    for (std::string line; std::getline(in, line);) {
        if (line.compare(0, prefix.size(), prefix) == 0) {
            found.push_back(line.substr(prefix.size()));
        }
    }
    return found;
}

std::size_t ChildProcess::count_lines(const std::string& prefix) const {
    return lines(prefix).size();
}

RunResult run_program(std::vector<std::string> argv, std::chrono::milliseconds timeout) {
    CaptureOptions options;
    options.dump_on_failure = false;  // the caller has the output in the result
    ChildProcess child(std::move(argv), options);
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

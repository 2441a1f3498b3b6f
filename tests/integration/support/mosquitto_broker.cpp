#include "mosquitto_broker.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef FBM_MOSQUITTO_BINARY
#define FBM_MOSQUITTO_BINARY ""
#endif
#ifndef FBM_MOSQUITTO_PASSWD_BINARY
#define FBM_MOSQUITTO_PASSWD_BINARY "/usr/bin/mosquitto_passwd"
#endif

extern char** environ;

namespace fbm_test {
namespace {

constexpr std::chrono::milliseconds kStartTimeout{10000};
constexpr std::chrono::milliseconds kStopTimeout{5000};
constexpr int kLaunchAttempts = 8;

sockaddr_in loopback_address(int port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

bool accepts_connections(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    const sockaddr_in address = loopback_address(port);
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string make_temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern =
        std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/fbm-mosquitto-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
        throw std::runtime_error("MosquittoBroker: mkdtemp failed: " + std::string(std::strerror(errno)));
    }
    return std::string(buffer.data());
}

void remove_tree(const std::string& dir) {
    // The directory only holds flat files written by us or by mosquitto.
    const std::string command = "rm -rf '" + dir + "'";
    if (std::system(command.c_str()) != 0) {
        std::cerr << "MosquittoBroker: could not remove " << dir << "\n";
    }
}

// Spawns argv with stdout and stderr appended to output_path (empty: inherited). Returns the pid.
int spawn(const std::vector<std::string>& args, const std::string& output_path) {
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (const auto& arg : args) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (!output_path.empty()) {
        posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0600);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
    }
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        throw std::runtime_error("cannot run " + args[0] + ": " + std::strerror(rc));
    }
    return pid;
}

// Waits for pid to exit for at most timeout; true when it did (and was reaped).
bool wait_exit(int pid, std::chrono::milliseconds timeout, int* status = nullptr) {
    int local_status = 0;
    const bool exited = wait_until(
        [&] {
            const pid_t rc = ::waitpid(pid, &local_status, WNOHANG);
            return rc == pid || (rc < 0 && errno == ECHILD);
        },
        timeout);
    if (status != nullptr) {
        *status = local_status;
    }
    return exited;
}

}  // namespace

int free_loopback_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error("free_loopback_port: socket failed");
    }
    sockaddr_in address = loopback_address(0);
    socklen_t length = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd);
        throw std::runtime_error("free_loopback_port: bind failed");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

MosquittoBroker::MosquittoBroker(Options options) : options_(std::move(options)) {
    if (std::string(FBM_MOSQUITTO_BINARY).empty() || ::access(FBM_MOSQUITTO_BINARY, X_OK) != 0) {
        throw std::runtime_error(
            "MosquittoBroker: the mosquitto binary was not found (FBM_MOSQUITTO_BINARY='" +
            std::string(FBM_MOSQUITTO_BINARY) + "'); install the mosquitto package and re-run cmake");
    }
    dir_ = make_temp_dir();
    config_path_ = dir_ + "/mosquitto.conf";
    log_path_ = dir_ + "/mosquitto.log";
    for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
        port_ = free_loopback_port();
        if (launch_once()) {
            return;
        }
    }
    const std::string text = log();
    remove_tree(dir_);
    throw std::runtime_error("MosquittoBroker: could not start mosquitto after several ports; log:\n" + text);
}

MosquittoBroker::~MosquittoBroker() {
    if (::testing::Test::HasFailure()) {
        std::cerr << "---- mosquitto log (port " << port_ << ") ----\n" << log() << "---- end of log ----\n";
    }
    terminate(SIGKILL);
    remove_tree(dir_);
}

int MosquittoBroker::port() const {
    return port_;
}

std::string MosquittoBroker::host() const {
    return "127.0.0.1";
}

const std::string& MosquittoBroker::directory() const {
    return dir_;
}

bool MosquittoBroker::running() const {
    return pid_ > 0;
}

void MosquittoBroker::write_config() const {
    std::ofstream out(config_path_, std::ios::trunc);
    out << "listener " << port_ << " 127.0.0.1\n";
    out << "set_tcp_nodelay true\n";  // no Nagle on the broker's side either (docs/performance.md)
    out << "log_dest file " << log_path_ << "\n";
    out << "log_type all\n";
    out << "connection_messages true\n";
    out << "log_timestamp_format %H:%M:%S\n";
    if (::geteuid() == 0) {
        // Run as root: without this mosquitto switches to the "mosquitto" user and cannot write here.
        out << "user root\n";
    }
    bool has_anonymous = false;
    for (const auto& line : options_.extra_config) {
        has_anonymous = has_anonymous || line.rfind("allow_anonymous", 0) == 0;
    }
    if (!has_anonymous) {
        out << "allow_anonymous true\n";
    }
    if (options_.persistence) {
        out << "persistence true\n";
        out << "persistence_location " << dir_ << "/\n";
        out << "autosave_interval 1\n";
    } else {
        out << "persistence false\n";
    }
    for (const auto& line : options_.extra_config) {
        out << line << "\n";
    }
    if (!out) {
        throw std::runtime_error("MosquittoBroker: cannot write " + config_path_);
    }
}

int MosquittoBroker::spawn_broker() const {
    // fork + exec rather than posix_spawn, for PR_SET_PDEATHSIG: the broker dies with the test process
    // even when that process is killed (ctest timeout, crash) and cannot run its destructors.
    const std::string output = dir_ + "/stderr.log";
    const int out_fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (out_fd < 0) {
        throw std::runtime_error("MosquittoBroker: cannot open " + output);
    }
    std::string binary = FBM_MOSQUITTO_BINARY;
    std::string flag = "-c";
    std::string config = config_path_;
    char* argv[] = {binary.data(), flag.data(), config.data(), nullptr};
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(out_fd);
        throw std::runtime_error("MosquittoBroker: fork failed: " + std::string(std::strerror(errno)));
    }
    if (pid == 0) {
        // Child: async-signal-safe calls only until exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) {
            ::_exit(127);
        }
        ::dup2(out_fd, 1);
        ::dup2(out_fd, 2);
        ::execve(argv[0], argv, environ);
        ::_exit(127);
    }
    ::close(out_fd);
    return pid;
}

bool MosquittoBroker::launch_once() {
    write_config();
    pid_ = spawn_broker();
    bool exited = false;
    const bool up = wait_until(
        [&] {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                exited = true;
                return true;
            }
            return accepts_connections(port_);
        },
        kStartTimeout);
    if (up && !exited) {
        return true;
    }
    if (exited) {
        pid_ = -1;  // typically "Address already in use": the caller retries with another port
        return false;
    }
    terminate(SIGKILL);
    throw std::runtime_error("MosquittoBroker: mosquitto did not accept connections in time; log:\n" + log());
}

void MosquittoBroker::terminate(int signal_number) {
    if (pid_ <= 0) {
        return;
    }
    ::kill(pid_, signal_number);
    ::kill(pid_, SIGCONT);  // a paused broker handles SIGTERM only once resumed
    if (!wait_exit(pid_, kStopTimeout)) {
        ::kill(pid_, SIGKILL);
        wait_exit(pid_, kStopTimeout);
    }
    pid_ = -1;
}

void MosquittoBroker::stop() {
    terminate(SIGTERM);
}

void MosquittoBroker::kill() {
    terminate(SIGKILL);
}

void MosquittoBroker::start() {
    if (running()) {
        return;
    }
    // Same port: clients configured with it must find the broker again. The port may be briefly busy
    // (another process grabbed it is unlikely on loopback); retry a few times before giving up.
    for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
        if (launch_once()) {
            return;
        }
    }
    throw std::runtime_error("MosquittoBroker: could not restart mosquitto on port " + std::to_string(port_) +
                             "; log:\n" + log());
}

void MosquittoBroker::pause() {
    if (pid_ > 0) {
        ::kill(pid_, SIGSTOP);
    }
}

void MosquittoBroker::resume() {
    if (pid_ > 0) {
        ::kill(pid_, SIGCONT);
    }
}

void MosquittoBroker::restart() {
    stop();
    start();
}

std::string MosquittoBroker::log() const {
    return read_file(log_path_) + read_file(dir_ + "/stderr.log");
}

MosquittoBroker& shared_broker() {
    // Destroyed at exit (after main returns), which kills the process; the log is dumped then if any test
    // of the process failed.
    struct Holder {
        MosquittoBroker broker;
        ~Holder() {
            const auto* unit = ::testing::UnitTest::GetInstance();
            if (unit != nullptr && unit->failed_test_count() > 0) {
                std::cerr << "---- shared mosquitto log (port " << broker.port() << ") ----\n"
                          << broker.log() << "---- end of log ----\n";
            }
        }
    };
    static Holder holder;
    return holder.broker;
}

void write_password_file(const std::string& path, const std::string& user, const std::string& password) {
    const int pid = spawn({FBM_MOSQUITTO_PASSWD_BINARY, "-b", "-c", path, user, password}, path + ".out");
    int status = 0;
    if (!wait_exit(pid, std::chrono::milliseconds(10000), &status) || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        throw std::runtime_error("mosquitto_passwd failed for " + path + ": " + read_file(path + ".out"));
    }
}

}  // namespace fbm_test

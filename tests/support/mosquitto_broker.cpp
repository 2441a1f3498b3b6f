#include "mosquitto_broker.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "child_process.hpp"
#include "test_broker.hpp"
#include "test_failure.hpp"
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FBM_MOSQUITTO_BINARY
#define FBM_MOSQUITTO_BINARY ""
#endif
#ifndef FBM_MOSQUITTO_PASSWD_BINARY
#define FBM_MOSQUITTO_PASSWD_BINARY "/usr/bin/mosquitto_passwd"
#endif

namespace fbm_test {
namespace {

constexpr std::chrono::milliseconds kStartTimeout{10000};
constexpr std::chrono::milliseconds kStopTimeout{5000};
constexpr int kLaunchAttempts = 8;

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

}  // namespace

MosquittoBroker::MosquittoBroker(Options options)
    : options_(std::move(options)),
      binary_(options_.binary.empty() ? std::string(FBM_MOSQUITTO_BINARY) : options_.binary) {
    if (on_cluster()) {
        // A test that starts a Mosquitto of its own does not test the cluster: it must either take its
        // broker from test_broker() or be in the cluster run's exclusion list, with its reason.
        throw std::runtime_error(
            "MosquittoBroker started in the cluster run (FBM_RMQ_BASE is set): this test must take its "
            "broker "
            "from test_broker() or be excluded in tests/cluster/cluster_run.cmake");
    }
    if (binary_.empty() || ::access(binary_.c_str(), X_OK) != 0) {
        throw std::runtime_error("MosquittoBroker: the mosquitto binary was not found ('" + binary_ +
                                 "'); install the mosquitto package and re-run cmake");
    }
    if (options_.directory.empty()) {
        dir_ = make_temp_dir();
        temporary_dir_ = true;
    } else {
        dir_ = options_.directory;
        ::mkdir(dir_.c_str(), 0755);
    }
    config_path_ = dir_ + "/mosquitto.conf";
    log_path_ = dir_ + "/mosquitto.log";
    for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
        port_ = free_loopback_port();
        if (options_.tls_listener) {
            do {
                tls_port_ = free_loopback_port();
            } while (tls_port_ == port_);
        }
        if (launch_once()) {
            return;
        }
    }
    const std::string text = log();
    if (temporary_dir_) {
        remove_tree(dir_);
    }
    throw std::runtime_error("MosquittoBroker: could not start mosquitto after several ports; log:\n" + text);
}

MosquittoBroker::~MosquittoBroker() {
    if (current_test_failed()) {
        std::cerr << "---- mosquitto log (port " << port_ << ") ----\n" << log() << "---- end of log ----\n";
    }
    terminate(SIGKILL);
    if (temporary_dir_) {
        remove_tree(dir_);
    }
}

int MosquittoBroker::port() const {
    return port_;
}

int MosquittoBroker::tls_port() const {
    return tls_port_;
}

std::string MosquittoBroker::host() const {
    return "127.0.0.1";
}

const std::string& MosquittoBroker::directory() const {
    return dir_;
}

bool MosquittoBroker::running() const {
    return process_.running();
}

pid_t MosquittoBroker::pid() const {
    return process_.running() ? process_.pid() : -1;
}

void MosquittoBroker::write_config() const {
    std::ofstream out(config_path_, std::ios::trunc);
    out << "listener " << port_ << " 127.0.0.1\n";
    if (options_.tcp_nodelay) {
        out << "set_tcp_nodelay true\n";
    }
    out << "log_dest file " << log_path_ << "\n";
    for (const auto& type : options_.log_types) {
        out << "log_type " << type << "\n";
    }
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
    if (options_.tls_listener) {
        out << "listener " << tls_port_ << " 127.0.0.1\n";
        for (const auto& line : options_.tls_listener_config) {
            out << line << "\n";
        }
    }
    if (!out) {
        throw std::runtime_error("MosquittoBroker: cannot write " + config_path_);
    }
}

bool MosquittoBroker::launch_once() {
    write_config();
    LaunchOptions launch;
    launch.stdout_to = Redirect::file(dir_ + "/stderr.log");
    launch.stderr_to = Redirect::to_stdout();
    process_ = Process({binary_, "-c", config_path_}, launch);
    bool exited = false;
    const bool up = wait_until(
        [&] {
            exited = process_.wait_for(std::chrono::milliseconds(0)).has_value();
            return exited ||
                   (accepts_connections(port_) && (tls_port_ == 0 || accepts_connections(tls_port_)));
        },
        kStartTimeout);
    if (up && !exited) {
        return true;
    }
    if (exited) {
        return false;  // typically "Address already in use": the caller retries with another port
    }
    terminate(SIGKILL);
    throw std::runtime_error("MosquittoBroker: mosquitto did not accept connections in time; log:\n" + log());
}

void MosquittoBroker::terminate(int signal_number) {
    process_.terminate(signal_number, kStopTimeout);  // with SIGCONT: a paused broker handles it too
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
    // Same port: clients configured with it must find the broker again. The port may be briefly busy;
    // retry a few times before giving up.
    for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
        if (launch_once()) {
            return;
        }
    }
    throw std::runtime_error("MosquittoBroker: could not restart mosquitto on port " + std::to_string(port_) +
                             "; log:\n" + log());
}

void MosquittoBroker::pause() {
    process_.signal(SIGSTOP);
}

void MosquittoBroker::resume() {
    process_.signal(SIGCONT);
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
            if (any_test_failed()) {
                std::cerr << "---- shared mosquitto log (port " << broker.port() << ") ----\n"
                          << broker.log() << "---- end of log ----\n";
            }
        }
    };
    static Holder holder;
    return holder.broker;
}

void write_password_file(const std::string& path, const std::string& user, const std::string& password) {
    const RunResult result =
        run_program({FBM_MOSQUITTO_PASSWD_BINARY, "-b", "-c", path, user, password}, kStartTimeout);
    if (result.status != 0) {
        throw std::runtime_error("mosquitto_passwd failed for " + path + ": " + result.out + result.err);
    }
}

}  // namespace fbm_test

/// @file mosquitto_broker.hpp
/// @brief Test support: a real Mosquitto broker per test process, on a free loopback port.
///
/// The broker binary is the one CMake found (FBM_MOSQUITTO_BINARY); when it is missing, constructing a
/// MosquittoBroker fails the test loudly (it throws), it never skips.
#pragma once

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace fbm_test {

/// @brief Options of a MosquittoBroker (declared outside the class so it can be a default argument).
struct MosquittoBrokerOptions {
    /// Lines appended to the generated mosquitto.conf (e.g. "password_file /x", "acl_file /y",
    /// "allow_anonymous false"). By default the listener allows anonymous clients.
    std::vector<std::string> extra_config;
    /// Enables mosquitto persistence (its database lives in the broker's temporary directory, so it
    /// survives stop()/start() of the same object).
    bool persistence = false;
};

/// @brief One mosquitto process listening on 127.0.0.1 on a port chosen free at first start.
///
/// Not thread-safe: drive it from the test's main thread. The broker process is killed when the thread
/// that started it exits (PR_SET_PDEATHSIG), so a crashed or killed test never leaves a broker behind:
/// create it on a thread that outlives it (the test's main thread).
class MosquittoBroker {
public:
    using Options = MosquittoBrokerOptions;

    /// @brief Writes the configuration into a fresh temporary directory and starts the broker; returns
    /// once it accepts TCP connections. @throws std::runtime_error when it cannot be started (binary
    /// missing, no free port after several tries, not accepting connections in time); the text includes
    /// the broker's log.
    explicit MosquittoBroker(Options options = {});

    /// @brief Kills the broker (SIGKILL if SIGTERM is not enough) and removes its temporary directory.
    ~MosquittoBroker();

    MosquittoBroker(const MosquittoBroker&) = delete;
    MosquittoBroker& operator=(const MosquittoBroker&) = delete;

    /// @brief The TCP port of the listener (kept across stop()/start()).
    int port() const;

    /// @brief "127.0.0.1".
    std::string host() const;

    /// @brief Stops the broker gracefully (SIGTERM) and waits for the process to exit. No-op if stopped.
    void stop();

    /// @brief Kills the broker abruptly (SIGKILL), as a crash would. No-op if stopped.
    void kill();

    /// @brief Starts the broker again on the same port (no-op if it is running); returns once it accepts
    /// TCP connections. @throws std::runtime_error on failure.
    void start();

    /// @brief stop() then start() on the same port.
    void restart();

    /// @brief Freezes the broker (SIGSTOP): connections stay open but nothing is answered.
    void pause();

    /// @brief Resumes a paused broker (SIGCONT).
    void resume();

    /// @brief True while the process runs.
    bool running() const;

    /// @brief Everything the broker logged so far (all log types, to a file in its directory).
    std::string log() const;

    /// @brief The broker's temporary directory (config, log, persistence, and a place for test files
    /// such as password or ACL files).
    const std::string& directory() const;

private:
    void write_config() const;
    bool launch_once();
    int spawn_broker() const;
    void terminate(int signal_number);

    Options options_;
    std::string dir_;
    std::string config_path_;
    std::string log_path_;
    int port_ = 0;
    int pid_ = -1;
};

/// @brief One broker shared by every test of the process, started on first use and stopped at exit.
/// Dumps its log to stderr at exit when a test of the process failed.
MosquittoBroker& shared_broker();

/// @brief Writes a mosquitto password file at @p path holding one user (runs `mosquitto_passwd -b -c`).
/// @throws std::runtime_error on failure.
void write_password_file(const std::string& path, const std::string& user, const std::string& password);

/// @brief A free TCP port on 127.0.0.1 (bound to port 0, then released). Nothing listens on it.
int free_loopback_port();

/// @brief Polls @p pred (every millisecond or so) until it returns true or @p timeout passes.
/// @return the last value of @p pred: true when the condition was met in time.
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return pred();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

}  // namespace fbm_test

/// @file mosquitto_broker.hpp
/// @brief Test and bench support: a real Mosquitto broker, private to the process, on a free loopback port.
///
/// The broker binary is the one CMake found (FBM_MOSQUITTO_BINARY) unless the options name another; when
/// it is missing, constructing a MosquittoBroker fails loudly (it throws), it never skips.
#pragma once

#include <string>
#include <vector>

#include "loopback.hpp"
#include "process.hpp"
#include "wait.hpp"
#include <sys/types.h>

namespace fbm_test {

/// @brief Options of a MosquittoBroker (declared outside the class so it can be a default argument).
struct MosquittoBrokerOptions {
    /// Lines appended to the generated mosquitto.conf (e.g. "password_file /x", "acl_file /y",
    /// "allow_anonymous false"). By default the listener allows anonymous clients.
    std::vector<std::string> extra_config;
    /// Enables mosquitto persistence (its database lives in the broker's directory, so it survives
    /// stop()/start() of the same object).
    bool persistence = false;
    /// The broker's `log_type` lines. "all" logs every packet: right for a test's failure dump, far too
    /// much for a benchmark (which uses {"error", "warning"}).
    std::vector<std::string> log_types = {"all"};
    /// `set_tcp_nodelay true`: no Nagle delay on the broker's writes (docs/performance.md).
    bool tcp_nodelay = true;
    /// Opens a second listener on 127.0.0.1, on a port also chosen free (tls_port()), and writes
    /// @ref tls_listener_config right after its `listener` line: its certificate files and TLS settings
    /// ("cafile /x", "certfile /y", "keyfile /z", "require_certificate true"...). The first listener stays
    /// plain. Global lines (acl_file, allow_anonymous) belong in @ref extra_config.
    bool tls_listener = false;
    std::vector<std::string> tls_listener_config;  ///< see tls_listener
    /// The mosquitto binary; empty: the one CMake found.
    std::string binary;
    /// Where the configuration, the log and the database go. Empty: a fresh temporary directory, removed
    /// by the destructor. Otherwise the directory is created if needed and kept (the bench's logs).
    std::string directory;
};

/// @brief One mosquitto process listening on 127.0.0.1 on a port chosen free at first start.
///
/// Not thread-safe: drive it from the test's main thread. The broker is a Process (process.hpp), killed
/// when the thread that started it exits, so a crashed, killed or interrupted test never leaves a broker
/// behind: create it on a thread that outlives it (the main thread). When the running test has failed,
/// the destructor writes the broker's log to stderr.
class MosquittoBroker {
public:
    using Options = MosquittoBrokerOptions;

    /// @brief Writes the configuration into its directory and starts the broker; returns once it accepts
    /// TCP connections (polled: Mosquitto gives no readiness signal). @throws std::runtime_error when it
    /// cannot be started (binary missing, no free port after several tries, not accepting connections in
    /// time); the text includes the broker's log.
    explicit MosquittoBroker(Options options = {});

    /// @brief Kills the broker (SIGKILL) and removes its directory if it is a temporary one.
    ~MosquittoBroker();

    MosquittoBroker(const MosquittoBroker&) = delete;
    MosquittoBroker& operator=(const MosquittoBroker&) = delete;

    /// @brief The TCP port of the listener (kept across stop()/start()).
    int port() const;

    /// @brief The TCP port of the TLS listener (Options::tls_listener), 0 without one.
    int tls_port() const;

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

    /// @brief The broker's pid while it runs (-1 otherwise), e.g. to read its CPU time in /proc.
    pid_t pid() const;

    /// @brief Everything the broker logged so far (all log types, to a file in its directory).
    std::string log() const;

    /// @brief The broker's temporary directory (config, log, persistence, and a place for test files
    /// such as password or ACL files).
    const std::string& directory() const;

private:
    void write_config() const;
    bool launch_once();
    void terminate(int signal_number);

    Options options_;
    std::string binary_;
    std::string dir_;
    bool temporary_dir_ = false;
    std::string config_path_;
    std::string log_path_;
    int port_ = 0;
    int tls_port_ = 0;
    Process process_;
};

/// @brief One broker shared by every test of the process, started on first use and stopped at exit.
/// Dumps its log to stderr at exit when a test of the process failed.
MosquittoBroker& shared_broker();

/// @brief Writes a mosquitto password file at @p path holding one user (runs `mosquitto_passwd -b -c`).
/// @throws std::runtime_error on failure.
void write_password_file(const std::string& path, const std::string& user, const std::string& password);

}  // namespace fbm_test

/// @file signal_watcher.hpp
/// @brief SIGINT / SIGTERM delivered to an ordinary thread (sigwait), so no work runs in a signal handler.
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace fbm_cli {

/// @brief Blocks SIGINT and SIGTERM and receives them on its own thread with sigwait().
///
/// Construct it in main() before any other thread exists: threads inherit the signal mask, so the
/// library's threads (Paho, dispatcher) never take these signals and the watcher thread gets them all.
/// Non-copyable.
class SignalWatcher {
public:
    /// @brief Called on the watcher thread (not in a signal handler) with the signal number, once per
    /// signal received. It may block and may do anything except destroy the watcher.
    using Callback = std::function<void(int signal_number)>;

    /// @brief Blocks SIGINT and SIGTERM in the calling thread and starts the watcher thread.
    /// @throws std::system_error when the mask cannot be set or the thread cannot start.
    explicit SignalWatcher(Callback on_signal);

    /// @brief Stops and joins the watcher thread; the signals stay blocked. @throws nothing.
    ~SignalWatcher();

    SignalWatcher(const SignalWatcher&) = delete;
    SignalWatcher& operator=(const SignalWatcher&) = delete;

    /// @brief The conventional name of a signal handled here ("SIGINT", "SIGTERM"). @throws nothing.
    static const char* name(int signal_number) noexcept;

private:
    void run();

    Callback on_signal_;
    // Set by the destructor before it wakes the thread with a signal of its own.
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace fbm_cli

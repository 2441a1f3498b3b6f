#include "signal_watcher.hpp"

#include <cerrno>
#include <cstdio>
#include <system_error>

#include <pthread.h>
#include <signal.h>

namespace fbm_cli {

namespace {

sigset_t watched_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

}  // namespace

SignalWatcher::SignalWatcher(Callback on_signal) : on_signal_(std::move(on_signal)) {
    const sigset_t set = watched_signals();
    const int rc = pthread_sigmask(SIG_BLOCK, &set, nullptr);
    if (rc != 0) {
        throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
    }
    thread_ = std::thread([this] { run(); });
}

SignalWatcher::~SignalWatcher() {
    if (!thread_.joinable()) {
        return;
    }
    stopping_ = true;
    // SIGTERM is blocked in every thread, so a signal aimed at the watcher stays pending for it and
    // wakes its sigwait(); no handler ever runs.
    // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread): blocked, so it only wakes sigwait()
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
}

const char* SignalWatcher::name(int signal_number) noexcept {
    switch (signal_number) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "signal";
    }
}

void SignalWatcher::run() {
    const sigset_t set = watched_signals();
    for (;;) {
        int signal_number = 0;
        if (sigwait(&set, &signal_number) != 0) {
            continue;
        }
        if (stopping_) {
            return;
        }
        try {
            if (on_signal_) {
                on_signal_(signal_number);
            }
        } catch (const std::exception& e) {
            std::fprintf(stderr, "signal callback failed: %s\n", e.what());
        } catch (...) {
            std::fprintf(stderr, "signal callback failed\n");
        }
    }
}

}  // namespace fbm_cli

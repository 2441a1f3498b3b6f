/// @file wait.hpp
/// @brief Test support: a bounded wait on a condition that has nothing to block on.
#pragma once

#include <chrono>
#include <thread>

namespace fbm_test {

/// @brief Generous bound for "this should happen now" waits: only reached when the test fails.
inline constexpr std::chrono::milliseconds kWait{10000};

/// @brief Polls @p pred (every millisecond or so) until it returns true or @p timeout passes. For
/// conditions with no condition variable or descriptor to wait on (another process's state, a counter
/// of the library); where one exists, wait on it instead.
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

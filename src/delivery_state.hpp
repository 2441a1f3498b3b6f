// The shared state behind a Delivery handle (completed by the outbox, see outbox.hpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "fedbiomed/delivery.hpp"

namespace fedbiomed {

/// One publication's outcome. Completed once (the first completion wins), by a Paho thread or by stop().
struct Delivery::Shared {
    mutable std::mutex mutex;
    mutable std::condition_variable done;
    State state = State::pending;
    std::string error;

    /// Records the outcome and wakes the waiters; later calls are ignored. Never blocks for long.
    void complete(State outcome, std::string why = {}) noexcept;
};

namespace detail {

/// A failed Delivery with @p error as its reason.
Delivery failed_delivery(std::string error);

}  // namespace detail
}  // namespace fedbiomed

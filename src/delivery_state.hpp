// The shared state behind a Delivery handle (completed by the outbox, see outbox.hpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fedbiomed/delivery.hpp"

namespace fedbiomed {

/// One publication's outcome. Completed once (the first completion wins), by a Paho thread or by stop().
struct Delivery::Shared {
    mutable std::mutex mutex;
    mutable std::condition_variable done;
    State state = State::pending;
    std::string error;
    // End-to-end acknowledgement (written by the outbox under this mutex).
    std::vector<std::string> acknowledged_by;
    std::vector<std::string> expected;  // the receivers the message was meant for

    /// Records the outcome and wakes the waiters; later calls are ignored. Never blocks for long.
    void complete(State outcome, std::string why = {}) noexcept;

    /// Sets the receivers the message is meant for (before it is sent).
    void expect(std::vector<std::string> receivers);

    /// Records that @p receiver acknowledged. @return true when it was expected (or none was) and had not
    /// acknowledged yet; the caller completes the Delivery once all_acknowledged().
    bool acknowledge(const std::string& receiver);

    /// True when particular receivers are expected.
    bool expects_receivers() const;

    /// True when every expected receiver acknowledged (or, none expected, any did).
    bool all_acknowledged() const;

    /// The expected receivers that have not acknowledged, comma-separated, at most @p max named.
    std::string missing_text(std::size_t max) const;

    /// The expected receivers that have not acknowledged (empty when none was expected).
    std::vector<std::string> missing() const;
};

namespace detail {

/// A failed Delivery with @p error as its reason.
Delivery failed_delivery(std::string error);

}  // namespace detail
}  // namespace fedbiomed

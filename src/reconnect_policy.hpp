// The delays between connection attempts: exponential backoff (factor 2) between a minimum and a maximum,
// spread by jitter so that components restarted together do not hammer the broker in lockstep.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "fedbiomed/messaging_options.hpp"

namespace fedbiomed::detail {

class ReconnectPolicy {
public:
    using Delay = std::chrono::milliseconds;

    /// @p seed makes the jitter reproducible in tests; the library seeds from std::random_device.
    ReconnectPolicy(const ReconnectOptions& options, std::uint64_t seed);

    /// The delay before the next attempt; each call doubles the underlying exponential delay (up to
    /// max_delay). Never returns less than 1 ms nor more than max_delay.
    Delay next();

    /// Back to the first delay (after a connection that lasted: a flapping one keeps growing delays).
    void reset() noexcept;

    /// Attempts counted since the last reset() (calls of next()).
    std::uint64_t attempts() const noexcept { return attempts_; }

private:
    Delay uniform(Delay low, Delay high);

    Delay min_;
    Delay max_;
    BackoffJitter jitter_;
    Delay exponential_;  // the un-jittered delay of the next attempt
    Delay previous_;     // the last delay returned (decorrelated jitter grows from it)
    std::uint64_t attempts_ = 0;
    std::mt19937_64 random_;
};

}  // namespace fedbiomed::detail

// A token bucket that also counts what it refused, so that a caller can say "N more were not sent" with
// the next one it lets through. Why it exists: whatever a component sends *because of* what arrived (error
// replies to bad requests, log records about bad payloads) must stay bounded per second, or one hostile
// client makes it flood the broker and starve the replies that matter (docs/reliability.md, "Under
// attack").
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace fedbiomed::detail {

class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;

    /// @p per_second tokens are added each second, up to @p burst; a @p per_second of 0 (or less) means no
    /// limit. The bucket starts full.
    RateLimiter(double per_second, double burst) noexcept;

    /// What take() decided.
    struct Outcome {
        bool allowed = false;
        /// allowed: how many take() calls were refused since the previous allowed one (to report them
        /// together, once); refused: 0.
        std::uint64_t refused_before = 0;
        /// refused: true for the first refusal after an allowed take() (the start of an episode).
        bool first_refusal = false;
    };

    /// Takes one token at @p now. Thread-safe, never blocks for long.
    Outcome take(Clock::time_point now) noexcept;

    /// Refusals not reported yet (reported and forgotten by the next allowed take()).
    std::uint64_t pending_refusals() const noexcept;

    bool unlimited() const noexcept { return per_second_ <= 0.0; }

private:
    const double per_second_;
    const double burst_;
    mutable std::mutex mutex_;
    double tokens_;
    Clock::time_point last_{};
    bool started_ = false;
    std::uint64_t refused_ = 0;
};

}  // namespace fedbiomed::detail

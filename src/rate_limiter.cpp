#include "rate_limiter.hpp"

#include <algorithm>

namespace fedbiomed::detail {

RateLimiter::RateLimiter(double per_second, double burst) noexcept
    : per_second_(per_second), burst_(std::max(burst, 1.0)), tokens_(std::max(burst, 1.0)) {}

RateLimiter::Outcome RateLimiter::take(Clock::time_point now) noexcept {
    Outcome outcome;
    if (unlimited()) {
        outcome.allowed = true;
        return outcome;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_ && now > last_) {
        const double elapsed = std::chrono::duration<double>(now - last_).count();
        tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
    }
    if (!started_ || now > last_) {
        last_ = now;
        started_ = true;
    }
    if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        outcome.allowed = true;
        outcome.refused_before = refused_;
        refused_ = 0;
        return outcome;
    }
    outcome.first_refusal = refused_ == 0;
    ++refused_;
    return outcome;
}

std::uint64_t RateLimiter::pending_refusals() const noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    return refused_;
}

}  // namespace fedbiomed::detail

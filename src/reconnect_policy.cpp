#include "reconnect_policy.hpp"

#include <algorithm>

namespace fedbiomed::detail {

ReconnectPolicy::ReconnectPolicy(const ReconnectOptions& options, std::uint64_t seed)
    : min_(std::max(options.min_delay, Delay(1))),
      max_(std::max(options.max_delay, std::max(options.min_delay, Delay(1)))),
      jitter_(options.jitter),
      exponential_(min_),
      previous_(min_),
      random_(seed) {}

ReconnectPolicy::Delay ReconnectPolicy::uniform(Delay low, Delay high) {
    if (high <= low) {
        return low;
    }
    std::uniform_int_distribution<Delay::rep> pick(low.count(), high.count());
    return Delay(pick(random_));
}

ReconnectPolicy::Delay ReconnectPolicy::next() {
    ++attempts_;
    Delay delay = exponential_;
    switch (jitter_) {
    case BackoffJitter::none: break;
    case BackoffJitter::full: delay = uniform(Delay(1), exponential_); break;
    case BackoffJitter::decorrelated: {
        // "Decorrelated jitter": each delay is drawn from [min, 3 x previous], so it keeps growing on
        // average but two components that failed together drift apart.
        const Delay upper = previous_ > max_ / 3 ? max_ : previous_ * 3;
        delay = uniform(min_, upper);
        break;
    }
    }
    delay = std::clamp(delay, Delay(1), max_);
    previous_ = delay;
    exponential_ = exponential_ > max_ / 2 ? max_ : exponential_ * 2;
    return delay;
}

void ReconnectPolicy::reset() noexcept {
    exponential_ = min_;
    previous_ = min_;
    attempts_ = 0;
}

}  // namespace fedbiomed::detail

#include "replay_guard.hpp"

namespace fedbiomed::detail {

ReplayGuard::Verdict ReplayGuard::check(std::int64_t signed_ms, const Nonce& nonce, std::int64_t now_ms) {
    const std::int64_t oldest = now_ms - window_.max_age.count();
    if (signed_ms < oldest || signed_ms > now_ms + window_.max_clock_skew.count()) {
        return Verdict::stale;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    // Out of the window now: a replay of these is refused as stale, they need not be remembered.
    while (!entries_.empty() && entries_.begin()->signed_ms < oldest) {
        entries_.erase(entries_.begin());
    }
    if (signed_ms <= floor_ms_) {
        return Verdict::stale;
    }
    if (!entries_.insert(Entry{signed_ms, nonce}).second) {
        return Verdict::replayed;
    }
    if (entries_.size() > window_.capacity) {
        floor_ms_ = entries_.begin()->signed_ms;
        entries_.erase(entries_.begin());
    }
    return Verdict::fresh;
}

std::size_t ReplayGuard::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

}  // namespace fedbiomed::detail

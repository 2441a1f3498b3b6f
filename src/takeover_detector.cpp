#include "takeover_detector.hpp"

namespace fedbiomed::detail {

TakeoverDetector::TakeoverDetector(int threshold, std::chrono::milliseconds window)
    : threshold_(threshold), window_(window) {}

bool TakeoverDetector::add_sign_locked(Clock::time_point now, const std::string& what) {
    if (threshold_ <= 0 || decided_) {
        return false;
    }
    signs_.emplace_back(now, what);
    while (!signs_.empty() && now - signs_.front().first > window_) {
        signs_.pop_front();
    }
    if (signs_.size() >= static_cast<std::size_t>(threshold_)) {
        decided_ = true;
        return true;
    }
    return false;
}

bool TakeoverDetector::sign(Clock::time_point now, const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    return add_sign_locked(now, what);
}

namespace {

constexpr std::size_t kRemembered = 4;

void remember(std::deque<std::uint64_t>& list, std::uint64_t connection) {
    if (list.empty() || list.back() != connection) {
        list.push_back(connection);
    }
    while (list.size() > kRemembered) {
        list.pop_front();
    }
}

bool contains(const std::deque<std::uint64_t>& list, std::uint64_t connection) {
    for (const std::uint64_t entry : list) {
        if (entry == connection) {
            return true;
        }
    }
    return false;
}

}  // namespace

// A loss and a record pair up when the record was seen during the lost connection or the next one: the
// other process takes the session over, then announces itself, and we find its record (retained) when we
// subscribe again. Which connection a record is attributed to races with the reconnection by a few
// milliseconds, hence both. Each loss counts once.
bool TakeoverDetector::connection_lost(std::uint64_t connection, Clock::time_point now,
                                       bool while_subscribing) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (while_subscribing) {
        if (contains(subscribing_losses_, connection)) {
            return false;
        }
        remember(subscribing_losses_, connection);
    }
    if (contains(foreign_connections_, connection) || contains(foreign_connections_, connection + 1)) {
        return add_sign_locked(now, "connection " + std::to_string(connection) +
                                        " closed by the broker while " + foreign_what_ + " was announced");
    }
    remember(pending_losses_, connection);
    return false;
}

bool TakeoverDetector::foreign_record(std::uint64_t connection, Clock::time_point now,
                                      const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    remember(foreign_connections_, connection);
    foreign_what_ = what;
    for (auto loss = pending_losses_.begin(); loss != pending_losses_.end(); ++loss) {
        if (*loss == connection || *loss + 1 == connection) {
            const std::uint64_t lost = *loss;
            pending_losses_.erase(loss);
            return add_sign_locked(
                now, "connection " + std::to_string(lost) + " closed by the broker, then " + what + " found");
        }
    }
    return false;
}

bool TakeoverDetector::decided() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return decided_;
}

std::size_t TakeoverDetector::signs() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return signs_.size();
}

std::string TakeoverDetector::describe() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string text =
        std::to_string(signs_.size()) + " signs within " + std::to_string(window_.count()) + " ms";
    const char* separator = ": ";
    for (const auto& entry : signs_) {
        text += separator;
        text += entry.second;
        separator = "; ";
    }
    return text;
}

void TakeoverDetector::reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    signs_.clear();
    decided_ = false;
    foreign_connections_.clear();
    foreign_what_.clear();
    pending_losses_.clear();
    subscribing_losses_.clear();
}

}  // namespace fedbiomed::detail

#include "takeover_detector.hpp"

namespace fedbiomed::detail {

TakeoverDetector::TakeoverDetector(int threshold, std::chrono::milliseconds window)
    : threshold_(threshold), window_(window) {}

bool TakeoverDetector::sign(Clock::time_point now, const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
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

bool TakeoverDetector::explicit_verdict(const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (threshold_ <= 0 || decided_) {
        return false;
    }
    explicit_ = what;
    decided_ = true;
    return true;
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
    if (!explicit_.empty()) {
        return explicit_;
    }
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
    explicit_.clear();
}

}  // namespace fedbiomed::detail

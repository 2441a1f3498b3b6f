#include "transport/receive_thread_waker.hpp"

#include <utility>

namespace fedbiomed::detail {

ReceiveThreadWaker::ReceiveThreadWaker(std::function<void()> wake, std::chrono::milliseconds period)
    : wake_(std::move(wake)), period_(period), thread_([this] { run(); }) {}

ReceiveThreadWaker::~ReceiveThreadWaker() {
    try {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_ = true;
        }
        stop_cv_.notify_all();
        thread_.join();
    } catch (...) {
        // join() fails only for a thread that is not joinable: there is nothing left to stop.
    }
}

void ReceiveThreadWaker::run() {
    // A fixed rate, not a pause after each wake: the answers then keep coming every period whatever the
    // round trip to the broker.
    auto next = std::chrono::steady_clock::now() + period_;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        if (stop_cv_.wait_until(lock, next, [this] { return stopping_; })) {
            return;
        }
        lock.unlock();
        wake_();
        lock.lock();
        next += period_;
        const auto now = std::chrono::steady_clock::now();
        if (next < now) {
            next = now + period_;  // the machine was suspended or starved: no burst of catch-up wakes
        }
    }
}

}  // namespace fedbiomed::detail

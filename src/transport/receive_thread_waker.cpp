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
        if (thread_.get_id() == std::this_thread::get_id()) {
            thread_.detach();  // destroyed from wake(), which the header forbids: at least no std::terminate
        } else {
            thread_.join();
        }
    } catch (...) {
        // A lock or a join that failed: nothing else can be done in a destructor.
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

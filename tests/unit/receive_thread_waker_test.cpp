// The waker of Paho's receive thread (src/transport/receive_thread_waker.hpp), on its own: it calls its
// function again and again while it lives, and never once it is destroyed.
#include "transport/receive_thread_waker.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include <gtest/gtest.h>

namespace {

using fedbiomed::detail::ReceiveThreadWaker;

TEST(ReceiveThreadWaker, WakesAgainAndAgainWhileItLivesAndNeverAfter) {
    std::mutex mutex;
    std::condition_variable woken;
    int wakes = 0;
    auto waker = std::make_unique<ReceiveThreadWaker>(
        [&]() noexcept {
            {
                std::lock_guard<std::mutex> lock(mutex);
                ++wakes;
            }
            woken.notify_all();
        },
        std::chrono::milliseconds(5));
    {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(woken.wait_for(lock, std::chrono::seconds(10), [&] { return wakes >= 5; }));
    }
    waker.reset();  // joins its thread: a wake under way has finished
    int after_destruction = 0;
    {
        std::lock_guard<std::mutex> lock(mutex);
        after_destruction = wakes;
    }
    // Another waker running to 5 wakes gives the first one ample time to misbehave.
    std::atomic<int> other_wakes{0};
    std::condition_variable other_woken;
    ReceiveThreadWaker other(
        [&]() noexcept {
            other_wakes.fetch_add(1);
            { std::lock_guard<std::mutex> lock(mutex); }
            other_woken.notify_all();
        },
        std::chrono::milliseconds(5));
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(
        other_woken.wait_for(lock, std::chrono::seconds(10), [&] { return other_wakes.load() >= 5; }));
    EXPECT_EQ(wakes, after_destruction);
}

TEST(ReceiveThreadWaker, DestroyedBeforeItsFirstPeriodItNeverWakes) {
    std::atomic<int> wakes{0};
    {
        ReceiveThreadWaker waker([&]() noexcept { wakes.fetch_add(1); }, std::chrono::hours(1));
    }
    EXPECT_EQ(wakes.load(), 0);
}

}  // namespace

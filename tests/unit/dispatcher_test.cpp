// The dispatcher's bounded queue, without a broker: when it is full, inbound messages are dropped (oldest
// first, counted and reported) but faults and connection events are kept, because under a flood they are
// what tells the user what happened.
#include "dispatcher.hpp"

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "client_thread_hold.hpp"

namespace {

using fedbiomed::detail::Dispatcher;
using fedbiomed::detail::InboundItem;

using fedbiomed::detail::Fault;
using fedbiomed::detail::InboundMessage;
using fedbiomed::detail::StateChange;

InboundItem message(const std::string& payload) {
    return InboundMessage{"general/nodes", payload, std::nullopt, {}};
}

InboundItem fault(const std::string& text) {
    return Fault{fedbiomed::ErrorNumbers::FB100, text, {}};
}

// What a processed item was, for the assertions.
std::string describe(const InboundItem& item) {
    if (const auto* received = std::get_if<InboundMessage>(&item)) {
        return received->payload;
    }
    if (const auto* reported = std::get_if<Fault>(&item)) {
        return "fault:" + reported->text;
    }
    return "event";
}

TEST(Dispatcher, AFullQueueDropsTheOldestMessagesAndKeepsFaults) {
    std::mutex mutex;
    std::condition_variable changed;
    bool release = false;
    bool first_taken = false;
    std::vector<std::string> seen;
    std::uint64_t reported = 0;
    Dispatcher dispatcher(
        3,
        [&](InboundItem& item) {
            std::unique_lock<std::mutex> lock(mutex);
            if (!first_taken) {
                // Hold the dispatcher on the first item while the queue fills up.
                first_taken = true;
                changed.notify_all();
                changed.wait(lock, [&] { return release; });
            }
            seen.push_back(describe(item));
            changed.notify_all();
        },
        [&](std::uint64_t dropped) {
            std::lock_guard<std::mutex> lock(mutex);
            reported += dropped;
        });
    dispatcher.start();
    ASSERT_FALSE(dispatcher.push(message("m0")));
    {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return first_taken; }));
    }
    // Queue (capacity 3): the fault first, then messages; each push beyond 3 drops the oldest message.
    EXPECT_FALSE(dispatcher.push(fault("F")));
    EXPECT_FALSE(dispatcher.push(message("m1")));
    EXPECT_FALSE(dispatcher.push(message("m2")));
    EXPECT_TRUE(dispatcher.push(message("m3")));  // drops m1, not the older fault
    EXPECT_TRUE(dispatcher.push(message("m4")));  // drops m2
    {
        std::unique_lock<std::mutex> lock(mutex);
        release = true;
        changed.notify_all();
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return seen.size() == 4; }));
        EXPECT_EQ(seen, (std::vector<std::string>{"m0", "fault:F", "m3", "m4"}));
        EXPECT_EQ(reported, 2U);
    }
    dispatcher.stop();
}

TEST(Dispatcher, WhenOnlyFaultsWaitTheOldestFaultMakesRoom) {
    std::mutex mutex;
    std::condition_variable changed;
    bool release = false;
    bool first_taken = false;
    std::vector<std::string> seen;
    Dispatcher dispatcher(
        2,
        [&](InboundItem& item) {
            std::unique_lock<std::mutex> lock(mutex);
            if (!first_taken) {
                first_taken = true;
                changed.notify_all();
                changed.wait(lock, [&] { return release; });
            }
            seen.push_back(describe(item));
            changed.notify_all();
        },
        [](std::uint64_t) {});
    dispatcher.start();
    dispatcher.push(fault("F0"));
    {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return first_taken; }));
    }
    dispatcher.push(fault("F1"));
    dispatcher.push(fault("F2"));
    EXPECT_TRUE(dispatcher.push(fault("F3")));  // bounded all the same
    {
        std::unique_lock<std::mutex> lock(mutex);
        release = true;
        changed.notify_all();
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return seen.size() == 3; }));
        EXPECT_EQ(seen, (std::vector<std::string>{"fault:F0", "fault:F2", "fault:F3"}));
    }
    dispatcher.stop();
}

TEST(Dispatcher, ConnectionEventsAreNeverDropped) {
    std::mutex mutex;
    std::condition_variable changed;
    bool release = false;
    bool first_taken = false;
    std::vector<std::string> seen;
    Dispatcher dispatcher(
        1,
        [&](InboundItem& item) {
            std::unique_lock<std::mutex> lock(mutex);
            if (!first_taken) {
                first_taken = true;
                changed.notify_all();
                changed.wait(lock, [&] { return release; });
            }
            seen.push_back(describe(item));
            changed.notify_all();
        },
        [](std::uint64_t) {});
    dispatcher.start();
    dispatcher.push(message("m0"));
    {
        std::unique_lock<std::mutex> lock(mutex);
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return first_taken; }));
    }
    EXPECT_FALSE(dispatcher.push(StateChange{}));
    EXPECT_FALSE(dispatcher.push(StateChange{})) << "past the capacity, but an event is not dropped";
    EXPECT_TRUE(dispatcher.push(message("m1"))) << "a message makes room... for nothing: it is dropped";
    {
        std::unique_lock<std::mutex> lock(mutex);
        release = true;
        changed.notify_all();
        ASSERT_TRUE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return seen.size() == 3; }));
        EXPECT_EQ(seen, (std::vector<std::string>{"m0", "event", "event"}));
    }
    dispatcher.stop();
}

// A dispatcher whose processing can be held on its first item, with a byte bound (the inbound memory).
class BoundedDispatcher {
public:
    explicit BoundedDispatcher(std::size_t max_bytes, std::chrono::milliseconds patience)
        : dispatcher_(
              100,
              [this](InboundItem& item) {
                  std::unique_lock<std::mutex> lock(mutex_);
                  if (!first_taken_) {
                      first_taken_ = true;
                      changed_.notify_all();
                      changed_.wait(lock, [&] { return release_; });
                  }
                  seen_.push_back(describe(item));
                  changed_.notify_all();
              },
              [](std::uint64_t) {}) {
        dispatcher_.set_byte_bound(Dispatcher::ByteBound{max_bytes, patience,
                                                         [this](std::uint64_t dropped) {
                                                             std::lock_guard<std::mutex> lock(mutex_);
                                                             reported_ += dropped;
                                                             ++reports_;
                                                             changed_.notify_all();
                                                         },
                                                         &counters_});
        dispatcher_.start();
    }
    ~BoundedDispatcher() {
        release();
        dispatcher_.stop();
    }

    // Queues a message of @p bytes through admit(), as the client thread does. @return admitted.
    bool receive(std::size_t bytes, bool may_hold) {
        if (!dispatcher_.admit(bytes, may_hold)) {
            return false;
        }
        dispatcher_.push(message(std::string(bytes, 'x')));
        return true;
    }
    bool wait_first_taken() {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return first_taken_; });
    }
    void release() {
        std::lock_guard<std::mutex> lock(mutex_);
        release_ = true;
        changed_.notify_all();
    }
    bool wait_seen(std::size_t count) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.size() >= count; });
    }
    bool wait_reported(std::uint64_t count) {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return reported_ >= count; });
    }
    std::uint64_t reports() {
        std::lock_guard<std::mutex> lock(mutex_);
        return reports_;
    }

    Dispatcher& dispatcher() { return dispatcher_; }
    fedbiomed::detail::Counters& counters() { return counters_; }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool release_ = false;
    bool first_taken_ = false;
    std::vector<std::string> seen_;
    std::uint64_t reported_ = 0;
    std::uint64_t reports_ = 0;
    fedbiomed::detail::Counters counters_;
    Dispatcher dispatcher_;  // last: its thread uses the members above
};

// True once @p count holds began (the counter is bumped just before the thread is held).
bool fbm_wait_held(BoundedDispatcher& bounded, std::uint64_t count = 1) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (bounded.counters().inbound_held_back.load() < count) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::yield();
    }
    return true;
}

TEST(DispatcherBytes, HeldBytesCountQueuedAndInProgressPayloadsUntilProcessed) {
    BoundedDispatcher bounded(1000, std::chrono::milliseconds(100));
    ASSERT_TRUE(bounded.receive(300, false));
    ASSERT_TRUE(bounded.wait_first_taken());
    EXPECT_EQ(bounded.dispatcher().held_bytes(), 300U) << "the payload being processed is still held";
    ASSERT_TRUE(bounded.receive(200, false));
    EXPECT_FALSE(bounded.dispatcher().push(fault("F"))) << "faults are not counted in bytes";
    EXPECT_EQ(bounded.dispatcher().held_bytes(), 500U);
    EXPECT_EQ(bounded.counters().inbound_bytes.load(), 500U);
    bounded.release();
    ASSERT_TRUE(bounded.wait_seen(3));
    // The last decrement follows the processing of the last item: wait for it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (bounded.dispatcher().held_bytes() != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    EXPECT_EQ(bounded.dispatcher().held_bytes(), 0U);
    EXPECT_EQ(bounded.counters().inbound_bytes_peak.load(), 500U);
    EXPECT_EQ(bounded.counters().inbound_bound_drops.load(), 0U);
}

TEST(DispatcherBytes, WithoutHoldingWhatExceedsTheBoundIsDroppedCountedAndReportedTogether) {
    BoundedDispatcher bounded(1000, std::chrono::milliseconds(100));
    ASSERT_TRUE(bounded.receive(400, false));
    ASSERT_TRUE(bounded.wait_first_taken());
    EXPECT_TRUE(bounded.receive(400, false)) << "above half the bound, but within it (QoS 0)";
    int dropped = 0;
    for (int i = 0; i < 50; ++i) {
        if (!bounded.receive(300, false)) {
            ++dropped;
        }
    }
    EXPECT_EQ(dropped, 50) << "800 + 300 bytes would exceed the bound of 1000";
    EXPECT_EQ(bounded.dispatcher().held_bytes(), 800U);
    EXPECT_EQ(bounded.counters().inbound_bound_drops.load(), 50U);
    EXPECT_EQ(bounded.counters().inbound_dropped.load(), 50U);
    EXPECT_TRUE(bounded.receive(200, false)) << "exactly up to the bound";
    bounded.release();
    ASSERT_TRUE(bounded.wait_reported(50));
    EXPECT_LT(bounded.reports(), 50U) << "aggregated, not one report per drop";
    EXPECT_LE(bounded.counters().inbound_bytes_peak.load(), 1000U);
}

TEST(DispatcherBytes, ALargePayloadPassesAloneWhenNothingIsHeld) {
    BoundedDispatcher bounded(1000, std::chrono::milliseconds(100));
    EXPECT_TRUE(bounded.receive(5000, true));
    ASSERT_TRUE(bounded.wait_first_taken());
    EXPECT_FALSE(bounded.receive(5000, false));
}

TEST(DispatcherBytes, AHoldEndsWhenTheDispatcherFreesRoom) {
    BoundedDispatcher bounded(1000, std::chrono::seconds(30));
    ASSERT_TRUE(bounded.receive(600, true));
    ASSERT_TRUE(bounded.wait_first_taken());
    // 600 held, above half the bound: the next QoS 1 message holds its thread until room is freed.
    auto held = std::async(std::launch::async, [&] { return bounded.receive(300, true); });
    EXPECT_EQ(held.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
    bounded.release();
    ASSERT_EQ(held.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(held.get());
    EXPECT_EQ(bounded.counters().inbound_held_back.load(), 1U);
    EXPECT_EQ(bounded.counters().inbound_bound_drops.load(), 0U);
}

TEST(DispatcherBytes, AHoldYieldsToAThreadThatNeedsTheClientLibrary) {
    BoundedDispatcher bounded(1000, std::chrono::seconds(30));
    ASSERT_TRUE(bounded.receive(600, true));
    ASSERT_TRUE(bounded.wait_first_taken());
    auto fits = std::async(std::launch::async, [&] { return bounded.receive(300, true); });
    ASSERT_TRUE(fbm_wait_held(bounded));
    {
        // A publication from another thread: the hold ends at once and 600 + 300 fits within the bound.
        const fedbiomed::detail::ClientThreadHold::Use use(fedbiomed::detail::ClientThreadHold::Kind::brief);
        ASSERT_EQ(fits.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    }
    EXPECT_TRUE(fits.get());
    auto too_much = std::async(std::launch::async, [&] { return bounded.receive(300, true); });
    ASSERT_TRUE(fbm_wait_held(bounded, 2));
    bounded.dispatcher().end_holds();  // as stop() does: 900 + 300 exceeds the bound, so it is dropped
    ASSERT_EQ(too_much.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_FALSE(too_much.get());
    EXPECT_EQ(bounded.counters().inbound_bound_drops.load(), 1U);
}

TEST(DispatcherBytes, AHoldGivesUpAfterItsPatience) {
    BoundedDispatcher bounded(1000, std::chrono::milliseconds(200));
    ASSERT_TRUE(bounded.receive(900, true));
    ASSERT_TRUE(bounded.wait_first_taken());
    const auto began = std::chrono::steady_clock::now();
    EXPECT_FALSE(bounded.receive(300, true));
    const auto held_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began);
    ::testing::Test::RecordProperty("held_ms", static_cast<int>(held_ms.count()));
    EXPECT_EQ(bounded.counters().inbound_bound_drops.load(), 1U);
    EXPECT_EQ(bounded.counters().inbound_held_back.load(), 1U);
}

}  // namespace

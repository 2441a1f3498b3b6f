// The dispatcher's bounded queue, without a broker: when it is full, inbound messages are dropped (oldest
// first, counted and reported) but faults and connection events are kept, because under a flood they are
// what tells the user what happened.
#include "dispatcher.hpp"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace {

using fedbiomed::detail::Dispatcher;
using fedbiomed::detail::InboundItem;

using fedbiomed::detail::Fault;
using fedbiomed::detail::InboundMessage;
using fedbiomed::detail::StateChange;

InboundItem message(const std::string& payload) {
    return InboundMessage{"general/nodes", payload, std::nullopt};
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

}  // namespace

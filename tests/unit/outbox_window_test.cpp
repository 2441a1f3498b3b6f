// The outbox's flow window, without a broker: what take() hands to the client is bounded by count (QoS 1/2
// and QoS 0 separately) and by bytes, order is kept, and a completion wakes the taker only when there is
// room again. Completions are delivered as the transport reports them: by publication id.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "counters.hpp"
#include "outbox.hpp"

namespace {

using fedbiomed::detail::Counters;
using fedbiomed::detail::Outbox;

fedbiomed::detail::SharedText topic(const char* text) {
    return std::make_shared<const std::string>(text);
}

Outbox::Added add_message(Outbox& outbox, std::size_t bytes, int qos = 1) {
    return outbox.add(Outbox::Kind::message, topic("general/nodes"), std::string(bytes, 'x'), qos,
                      Outbox::Retain::no, Outbox::EndToEnd::off, Outbox::Link::up);
}

class OutboxWindow : public ::testing::Test {
protected:
    Counters counters_;
    int wakes_ = 0;
    Outbox outbox_{Outbox::Limits{}, counters_, [this] { ++wakes_; }};

    void add(int qos, std::size_t bytes, int count = 1) {
        for (int i = 0; i < count; ++i) {
            const Outbox::Added added = add_message(outbox_, bytes, qos);
            ASSERT_TRUE(added.accepted);
        }
    }

    // The client reports publication @p id complete (written for QoS 0, acknowledged for QoS 1).
    void complete(std::uint64_t id) { outbox_.published(id); }

    static std::vector<std::uint64_t> ids(const std::vector<Outbox::Ready>& ready) {
        std::vector<std::uint64_t> out;
        for (const auto& one : ready) {
            out.push_back(one.id);
        }
        return out;
    }
};

TEST_F(OutboxWindow, QoS1PublicationsStopAtTheWindowAndWakeTheTakerAtHalfTheWindow) {
    outbox_.set_window(Outbox::Window{4, 64, 1U << 20U});
    add(1, 100, 10);
    const auto first = outbox_.take(512);
    ASSERT_EQ(first.size(), 4U);
    EXPECT_EQ(outbox_.take(512).size(), 0U);
    complete(first[0].id);
    EXPECT_EQ(wakes_, 0) << "3 of 4 still unacknowledged";
    complete(first[1].id);
    EXPECT_EQ(wakes_, 1) << "half the window free";
    const auto next = outbox_.take(512);
    ASSERT_EQ(next.size(), 2U);
    EXPECT_EQ(next[0].id, first[3].id + 1);  // in order
    EXPECT_EQ(counters_.published.load(), 2U);
}

TEST_F(OutboxWindow, QoS0PublicationsAreBoundedAndWakeTheTakerOnlyAtHalfTheWindow) {
    outbox_.set_window(Outbox::Window{16, 8, 1U << 20U});
    add(0, 100, 20);
    const auto first = ids(outbox_.take(512));
    ASSERT_EQ(first.size(), 8U);
    EXPECT_EQ(outbox_.take(512).size(), 0U);
    for (std::size_t i = 0; i < 3; ++i) {
        complete(first[i]);
    }
    EXPECT_EQ(wakes_, 0) << "5 of 8 still in flight: no wake-up per written message";
    complete(first[3]);
    EXPECT_EQ(wakes_, 1) << "half the window free";
    EXPECT_EQ(outbox_.take(512).size(), 4U);
    complete(first[4]);
    EXPECT_EQ(wakes_, 1) << "take() was not blocked since the wake-up";
}

TEST_F(OutboxWindow, BytesBoundLargePublicationsButOneAlwaysGoes) {
    outbox_.set_window(Outbox::Window{16, 64, 1000});
    add(1, 2000, 1);  // larger than the whole window: goes alone
    add(1, 400, 3);
    auto first = outbox_.take(512);
    ASSERT_EQ(first.size(), 1U);
    EXPECT_EQ(first[0].payload->size(), 2000U);
    complete(first[0].id);
    EXPECT_EQ(wakes_, 1);
    EXPECT_EQ(outbox_.take(512).size(), 2U) << "800 bytes fit in 1000, 1200 do not";
}

TEST_F(OutboxWindow, ALostConnectionEmptiesTheWindowAndPublicationsGoAgainInOrder) {
    outbox_.set_window(Outbox::Window{2, 2, 1U << 20U});
    add(1, 10, 3);
    const auto first = ids(outbox_.take(512));
    ASSERT_EQ(first.size(), 2U);
    outbox_.connection_lost();
    const auto again = ids(outbox_.take(512));
    EXPECT_EQ(again, first) << "what was in flight goes first on the next connection";
    EXPECT_EQ(counters_.resent.load(), 2U);
}

TEST(OutboxOverflowPolicy, DropOldestEvictsNothingWhenEvictingCannotMakeRoom) {
    Counters counters;
    Outbox outbox(Outbox::Limits{2, 1000, fedbiomed::OutboxOverflow::drop_oldest}, counters, [] {});
    auto add = [&](std::size_t bytes) { return add_message(outbox, bytes); };
    ASSERT_TRUE(add(100).accepted);
    ASSERT_EQ(outbox.take(512).size(), 1U);  // in flight: the client owns it
    const Outbox::Added waiting = add(100);
    ASSERT_TRUE(waiting.accepted);
    // 950 bytes would need the in-flight message's room too: nothing is evicted, the new one fails.
    const Outbox::Added big = add(950);
    EXPECT_FALSE(big.accepted);
    EXPECT_TRUE(big.rejected);
    EXPECT_EQ(big.evicted, 0U);
    EXPECT_EQ(waiting.delivery.state(), fedbiomed::Delivery::State::pending);
    // A message that fits once the waiting one goes: the waiting one is evicted (FB103), the new one kept.
    const Outbox::Added fits = add(500);
    EXPECT_TRUE(fits.accepted);
    EXPECT_EQ(fits.evicted, 1U);
    EXPECT_EQ(waiting.delivery.state(), fedbiomed::Delivery::State::failed);
    EXPECT_NE(waiting.delivery.error().find("FB103"), std::string::npos) << waiting.delivery.error();
}

TEST_F(OutboxWindow, AClosedOutboxFailsWhatItHeldAndRefusesNewPublicationsUntilOpened) {
    add(1, 10, 2);
    ASSERT_EQ(outbox_.take(512).size(), 2U);
    add(1, 10, 1);  // waiting
    EXPECT_EQ(outbox_.close("FB103: messaging stopped"), 3U);
    EXPECT_EQ(outbox_.size(), 0U);
    // A send racing with stop(): refused at once with the reason, never left pending for a next start().
    const Outbox::Added late = add_message(outbox_, 10);
    EXPECT_FALSE(late.accepted);
    EXPECT_TRUE(late.closed);
    EXPECT_EQ(late.delivery.state(), fedbiomed::Delivery::State::failed);
    EXPECT_EQ(late.delivery.error(), "FB103: messaging stopped");
    EXPECT_EQ(outbox_.add_control_waited(topic("x"), "y", 1, Outbox::Retain::no).state(),
              fedbiomed::Delivery::State::failed);
    EXPECT_EQ(counters_.publish_failures.load(), 4U);
    outbox_.open();
    add(1, 10, 1);
    EXPECT_EQ(outbox_.take(512).size(), 1U);
}

TEST_F(OutboxWindow, AFailureWithoutReasonIsResentOnlyWhenTheConnectionWent) {
    add(1, 10, 2);
    const auto first = ids(outbox_.take(512));
    ASSERT_EQ(first.size(), 2U);
    fedbiomed::detail::PublishFailure gone;
    gone.connection_gone = true;
    outbox_.publish_failed(first[0], gone);
    fedbiomed::detail::PublishFailure error;
    error.client_error = "MQTT client error -1: failure";
    outbox_.publish_failed(first[1], error);
    EXPECT_EQ(ids(outbox_.take(512)), (std::vector<std::uint64_t>{first[0]})) << "only the interrupted one";
    EXPECT_EQ(counters_.publish_failures.load(), 1U) << "the other failed with the client's error";
}

TEST_F(OutboxWindow, ABrokerRefusalFailsTheMessage) {
    const Outbox::Added added = add_message(outbox_, 10);
    const auto first = ids(outbox_.take(512));
    ASSERT_EQ(first.size(), 1U);
    fedbiomed::detail::PublishFailure refused;
    refused.refusal_reason = 0x87;
    outbox_.publish_failed(first[0], refused);
    EXPECT_EQ(added.delivery.state(), fedbiomed::Delivery::State::failed);
    EXPECT_NE(added.delivery.error().find("reason code 135"), std::string::npos) << added.delivery.error();
}

}  // namespace

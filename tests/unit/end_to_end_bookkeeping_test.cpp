// The outbox's end-to-end bookkeeping, without a broker: a message waits for each receiver it was meant
// for, the gap and stall rules are per receiver (a fast receiver never makes a message still queued at a
// slow one look lost), copies back off, and an acknowledgement in the name of a receiver the message was
// not meant for changes nothing. The clock is the sweep's argument: no sleeping.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "counters.hpp"
#include "delivery_state.hpp"
#include "outbox.hpp"

namespace {

using fedbiomed::Delivery;
using fedbiomed::detail::Counters;
using fedbiomed::detail::Outbox;
using std::chrono::milliseconds;

constexpr milliseconds kResendAfter{1000};
constexpr milliseconds kTimeout{60000};

class EndToEndBookkeeping : public ::testing::Test {
protected:
    Counters counters_;
    Outbox outbox_{Outbox::Limits{}, counters_, [] {}};
    Outbox::Clock::time_point start_ = Outbox::Clock::now();

    void SetUp() override {
        outbox_.set_window(Outbox::Window{1000, 1000, std::size_t(-1)});
        outbox_.connected();
    }

    // A message meant for @p receivers, handed to the client at @p at and acknowledged by the broker.
    std::pair<std::uint64_t, Delivery> sent(std::vector<std::string> receivers,
                                            Outbox::Clock::time_point at = Outbox::Clock::now()) {
        Outbox::Added added =
            outbox_.add(Outbox::Kind::message, std::make_shared<const std::string>("general/nodes"), "{}", 1,
                        Outbox::Retain::no, Outbox::EndToEnd::on, Outbox::Link::up, std::move(receivers));
        EXPECT_TRUE(added.accepted);
        const auto ready = outbox_.take(1, Outbox::Tags::possible, at);
        EXPECT_EQ(ready.size(), 1U);
        outbox_.published(ready.at(0).id);
        return {ready.at(0).id, added.delivery};
    }

    // Takes what a sweep queued again (the copies), as the pump would, and has the broker acknowledge them.
    std::vector<std::uint64_t> resend() {
        std::vector<std::uint64_t> ids;
        for (const auto& ready : outbox_.take(100)) {
            ids.push_back(ready.id);
            outbox_.published(ready.id);
        }
        return ids;
    }
};

TEST_F(EndToEndBookkeeping, ABroadcastCompletesOnceEveryReceiverAcknowledgedAndSaysWho) {
    auto [id, delivery] = sent({"node_a", "node_b"});
    outbox_.end_to_end_acknowledged(id, "node_b");
    EXPECT_EQ(delivery.state(), Delivery::State::pending);
    EXPECT_EQ(delivery.acknowledged_by(), std::vector<std::string>{"node_b"});
    EXPECT_EQ(delivery.not_acknowledged_by(), std::vector<std::string>{"node_a"});
    outbox_.end_to_end_acknowledged(id, "node_a");
    EXPECT_TRUE(delivery.delivered());
    EXPECT_EQ(delivery.acknowledged_by(), (std::vector<std::string>{"node_b", "node_a"}));
    EXPECT_TRUE(delivery.not_acknowledged_by().empty());
}

TEST_F(EndToEndBookkeeping, AnAcknowledgementInTheNameOfAnotherReceiverChangesNothing) {
    auto [id, delivery] = sent({"node_a"});
    outbox_.end_to_end_acknowledged(id, "node_forged");
    outbox_.end_to_end_acknowledged(id + 1000, "node_a");  // not a message of ours
    EXPECT_EQ(delivery.state(), Delivery::State::pending);
    EXPECT_TRUE(delivery.acknowledged_by().empty());
    EXPECT_EQ(outbox_.size(), 1U);
}

TEST_F(EndToEndBookkeeping, WithoutNamedReceiversTheFirstAcknowledgementCompletes) {
    auto [id, delivery] = sent({});
    outbox_.end_to_end_acknowledged(id, "anyone");
    EXPECT_TRUE(delivery.delivered());
    EXPECT_EQ(delivery.acknowledged_by(), std::vector<std::string>{"anyone"});
}

TEST_F(EndToEndBookkeeping, AFastReceiverNeverMakesAMessageQueuedAtASlowOneLookLost) {
    // Three broadcasts, sent 2 s ago (due for a copy if anything says so); the fast node acknowledges all
    // of them, the slow one only the first so far, just now (its queue is long, nothing is lost).
    const auto two_seconds_ago = Outbox::Clock::now() - milliseconds(2000);
    auto first = sent({"fast", "slow"}, two_seconds_ago);
    auto second = sent({"fast", "slow"}, two_seconds_ago);
    auto third = sent({"fast", "slow"}, two_seconds_ago);
    for (const auto id : {first.first, second.first, third.first}) {
        outbox_.end_to_end_acknowledged(id, "fast");
    }
    outbox_.end_to_end_acknowledged(first.first, "slow");
    EXPECT_TRUE(first.second.delivered());
    // Under a global rule the fast node's acknowledgement of the third made the second look lost. The
    // slow node acknowledged recently and nothing after the second: no gap of its own, no stall.
    const auto sweep =
        outbox_.sweep_end_to_end(Outbox::Clock::now() + kResendAfter / 2, kResendAfter, kTimeout);
    EXPECT_EQ(sweep.resend, 0U);
    // The fast node acknowledging the slow one's next message does not change that either.
    outbox_.end_to_end_acknowledged(third.first, "slow");
    EXPECT_EQ(outbox_.sweep_end_to_end(Outbox::Clock::now(), kResendAfter, kTimeout).resend, 1U)
        << "now the slow node has a gap of its own: the second was lost on its way";
    EXPECT_EQ(second.second.not_acknowledged_by(), std::vector<std::string>{"slow"});
}

TEST_F(EndToEndBookkeeping, AGapInOneReceiversAcknowledgementsIsSentAgain) {
    auto lost = sent({"node_a"});
    auto later = sent({"node_a"});
    outbox_.end_to_end_acknowledged(later.first, "node_a");
    // Too early: a copy goes only resend_after after the last one.
    EXPECT_EQ(outbox_.sweep_end_to_end(Outbox::Clock::now(), kResendAfter, kTimeout).resend, 0U);
    const auto sweep = outbox_.sweep_end_to_end(Outbox::Clock::now() + kResendAfter + milliseconds(1),
                                                kResendAfter, kTimeout);
    EXPECT_EQ(sweep.resend, 1U);
    EXPECT_EQ(resend(), std::vector<std::uint64_t>{lost.first});
    outbox_.end_to_end_acknowledged(lost.first, "node_a");
    EXPECT_TRUE(lost.second.delivered());
    EXPECT_EQ(counters_.snapshot().resent, 1U);
}

TEST_F(EndToEndBookkeeping, ASilentReceiverGetsCopiesThatBackOffThenTheDeliveryFailsNamingIt) {
    auto [id, delivery] = sent({"node_a", "node_gone"}, start_);
    outbox_.end_to_end_acknowledged(id, "node_a");
    // node_gone never answers: copies at about 1, 2, 4, 8, 8... x resend_after after the previous one.
    std::vector<milliseconds> copies;
    const auto sent_at = start_;
    auto now = sent_at;
    for (int step = 0; step < 200 && now < sent_at + milliseconds(30000); ++step) {
        now += milliseconds(250);
        if (outbox_.sweep_end_to_end(now, kResendAfter, kTimeout).resend != 0) {
            copies.push_back(std::chrono::duration_cast<milliseconds>(now - sent_at));
            for (const auto& ready : outbox_.take(100, Outbox::Tags::possible, now)) {
                outbox_.published(ready.id);
            }
        }
    }
    // Backing off: far fewer copies than one per resend_after in 30 s.
    EXPECT_GE(copies.size(), 2U);
    EXPECT_LE(copies.size(), 8U);
    // The entry's age counts from when add() stamped it (the real clock, a little after start_): a
    // second's margin, so that a slow run (sanitizers) cannot place the sweep before its deadline.
    const auto sweep =
        outbox_.sweep_end_to_end(sent_at + kTimeout + milliseconds(1000), kResendAfter, kTimeout);
    EXPECT_EQ(sweep.timed_out, 1U);
    EXPECT_EQ(delivery.state(), Delivery::State::failed);
    EXPECT_NE(delivery.error().find("FB102"), std::string::npos) << delivery.error();
    EXPECT_NE(delivery.error().find("node_gone"), std::string::npos) << delivery.error();
    EXPECT_EQ(delivery.not_acknowledged_by(), std::vector<std::string>{"node_gone"});
    EXPECT_EQ(delivery.acknowledged_by(), std::vector<std::string>{"node_a"});
}

TEST_F(EndToEndBookkeeping, OnAConnectionWithoutUserPropertiesTheBrokersAcknowledgementCompletes) {
    Outbox::Added added =
        outbox_.add(Outbox::Kind::message, std::make_shared<const std::string>("general/nodes"), "{}", 1,
                    Outbox::Retain::no, Outbox::EndToEnd::on, Outbox::Link::up, {"node_a"});
    const auto ready = outbox_.take(1, Outbox::Tags::impossible);
    ASSERT_EQ(ready.size(), 1U);
    EXPECT_FALSE(ready[0].end_to_end);
    outbox_.published(ready[0].id);
    EXPECT_TRUE(added.delivery.delivered());
    EXPECT_TRUE(added.delivery.not_acknowledged_by().empty());
}

}  // namespace

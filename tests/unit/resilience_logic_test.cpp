// The pure logic behind the resilience features, without a broker: the backoff delays, the duplicate-id
// verdict, the end-to-end ids and duplicate memory, the presence records and the node tracker.
#include <set>

#include <gtest/gtest.h>

#include <fedbiomed/messaging.hpp>

#include "end_to_end.hpp"
#include "presence.hpp"
#include "rate_limiter.hpp"
#include "reconnect_policy.hpp"
#include "takeover_detector.hpp"
#include "topics.hpp"

namespace {

using fedbiomed::BackoffJitter;
using fedbiomed::ReconnectOptions;
using fedbiomed::detail::ReconnectPolicy;
using std::chrono::milliseconds;

ReconnectOptions backoff(BackoffJitter jitter, int min_ms, int max_ms) {
    ReconnectOptions options;
    options.jitter = jitter;
    options.min_delay = milliseconds(min_ms);
    options.max_delay = milliseconds(max_ms);
    return options;
}

TEST(ReconnectPolicy, WithoutJitterTheDelaysDoubleUpToTheMaximum) {
    ReconnectPolicy policy(backoff(BackoffJitter::none, 100, 1000), 1);
    const std::vector<long> expected = {100, 200, 400, 800, 1000, 1000};
    for (const long delay : expected) {
        EXPECT_EQ(policy.next().count(), delay);
    }
    EXPECT_EQ(policy.attempts(), expected.size());
    policy.reset();
    EXPECT_EQ(policy.next().count(), 100);
    EXPECT_EQ(policy.attempts(), 1U);
}

TEST(ReconnectPolicy, FullJitterStaysUnderTheExponentialDelayAndSpreads) {
    ReconnectPolicy policy(backoff(BackoffJitter::full, 100, 800), 42);
    std::set<long> seen;
    for (int attempt = 0; attempt < 200; ++attempt) {
        const long bound = std::min(100L << std::min(attempt, 10), 800L);
        const long delay = policy.next().count();
        EXPECT_GE(delay, 1);
        EXPECT_LE(delay, bound) << attempt;
        seen.insert(delay);
    }
    EXPECT_GT(seen.size(), 50U);  // spread, not lockstep
}

TEST(ReconnectPolicy, DecorrelatedJitterStaysBetweenTheBounds) {
    ReconnectPolicy policy(backoff(BackoffJitter::decorrelated, 50, 2000), 7);
    for (int attempt = 0; attempt < 500; ++attempt) {
        const long delay = policy.next().count();
        EXPECT_GE(delay, 50);
        EXPECT_LE(delay, 2000);
    }
}

TEST(ReconnectPolicy, TheSameSeedGivesTheSameDelays) {
    ReconnectPolicy a(backoff(BackoffJitter::full, 10, 10000), 99);
    ReconnectPolicy b(backoff(BackoffJitter::full, 10, 10000), 99);
    for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(a.next(), b.next());
    }
}

using fedbiomed::detail::TakeoverDetector;
using Clock = TakeoverDetector::Clock;

TEST(TakeoverDetector, AVerdictNeedsTheThresholdWithinTheWindow) {
    TakeoverDetector detector(3, milliseconds(1000));
    const auto start = Clock::now();
    EXPECT_FALSE(detector.sign(start, "a"));
    EXPECT_FALSE(detector.sign(start + milliseconds(600), "b"));
    // The first sign left the window: still two.
    EXPECT_FALSE(detector.sign(start + milliseconds(1500), "c"));
    EXPECT_EQ(detector.signs(), 2U);
    EXPECT_FALSE(detector.decided());
    EXPECT_TRUE(detector.sign(start + milliseconds(1550), "d"));  // b (950 ms old), c and d
    EXPECT_TRUE(detector.decided());
    EXPECT_FALSE(detector.sign(start + milliseconds(1800), "e"));  // only the first verdict is news
    EXPECT_NE(detector.describe().find("3 signs within 1000 ms: b; c; d"), std::string::npos)
        << detector.describe();
    detector.reset();
    EXPECT_FALSE(detector.decided());
    EXPECT_EQ(detector.signs(), 0U);
}

TEST(TakeoverDetector, RecordsOfAnotherInstanceAloneAreNeverASign) {
    // A forger can publish as many records as it likes: without a connection the broker closed, nothing.
    TakeoverDetector detector(3, milliseconds(60000));
    const auto start = Clock::now();
    for (int i = 0; i < 100; ++i) {
        EXPECT_FALSE(detector.foreign_record(1, start + milliseconds(i), "instance x (online)"));
    }
    EXPECT_EQ(detector.signs(), 0U);
    EXPECT_FALSE(detector.decided());
}

TEST(TakeoverDetector, ALostConnectionIsNoSignWithoutAnotherInstancesRecord) {
    // A network that fails again and again is not a duplicate id.
    TakeoverDetector detector(3, milliseconds(60000));
    const auto start = Clock::now();
    for (std::uint64_t connection = 1; connection <= 10; ++connection) {
        EXPECT_FALSE(detector.connection_lost(connection, start + milliseconds(connection)));
    }
    EXPECT_EQ(detector.signs(), 0U);
}

TEST(TakeoverDetector, ALossExplainedByARecordDuringItOrTheNextConnectionIsOneSign) {
    TakeoverDetector detector(3, milliseconds(60000));
    const auto start = Clock::now();
    // Connection 1 lost; the other instance's record found when connection 2 subscribed: a sign.
    EXPECT_FALSE(detector.connection_lost(1, start));
    EXPECT_FALSE(detector.foreign_record(2, start + milliseconds(10), "instance b (online)"));
    EXPECT_EQ(detector.signs(), 1U);
    // More records during connection 2 do not count that loss again.
    EXPECT_FALSE(detector.foreign_record(2, start + milliseconds(20), "instance b (online)"));
    EXPECT_EQ(detector.signs(), 1U);
    // Connection 2 lost after a record was seen during it: a sign at once.
    EXPECT_FALSE(detector.connection_lost(2, start + milliseconds(30)));
    EXPECT_EQ(detector.signs(), 2U);
    // A record two connections after a loss explains nothing.
    EXPECT_FALSE(detector.connection_lost(4, start + milliseconds(40)));
    EXPECT_FALSE(detector.foreign_record(6, start + milliseconds(50), "instance b (online)"));
    EXPECT_EQ(detector.signs(), 2U);
    // ...but it was seen during connection 6, so losing connection 6 is the third sign: the verdict.
    EXPECT_TRUE(detector.connection_lost(6, start + milliseconds(60)));
    EXPECT_TRUE(detector.decided());
    EXPECT_NE(detector.describe().find("3 signs within 60000 ms"), std::string::npos) << detector.describe();
}

TEST(TakeoverDetector, LossesWhileSubscribingCountOncePerConnectionNumber) {
    // A connection lost after its CONNACK and before its subscriptions were done is retried under the same
    // number: one record of another instance must not pair with every retry (a false verdict).
    TakeoverDetector detector(3, milliseconds(60000));
    const auto start = Clock::now();
    EXPECT_FALSE(detector.foreign_record(7, start, "instance x (online)"));
    EXPECT_FALSE(detector.connection_lost(7, start + milliseconds(1), true));  // one sign
    EXPECT_FALSE(detector.connection_lost(7, start + milliseconds(2), true));  // the same number again
    EXPECT_FALSE(detector.connection_lost(7, start + milliseconds(3), true));
    EXPECT_EQ(detector.signs(), 1U);
    EXPECT_FALSE(detector.decided());
    // The connection that finally got through under that number, lost in turn, is a loss of its own.
    EXPECT_FALSE(detector.connection_lost(7, start + milliseconds(4)));
    EXPECT_EQ(detector.signs(), 2U);
    // And the next number's loss while subscribing counts again (the other process announced itself
    // during it).
    EXPECT_FALSE(detector.foreign_record(8, start + milliseconds(5), "instance x (online)"));
    EXPECT_TRUE(detector.connection_lost(8, start + milliseconds(6), true));
    EXPECT_TRUE(detector.decided());
}

TEST(TakeoverDetector, DisabledItNeverDecides) {
    TakeoverDetector disabled(0, milliseconds(1000));
    EXPECT_FALSE(disabled.sign(Clock::now(), "a"));
    EXPECT_FALSE(disabled.connection_lost(1, Clock::now()));
    EXPECT_FALSE(disabled.foreign_record(1, Clock::now(), "b"));
    EXPECT_FALSE(disabled.decided());
}

using fedbiomed::detail::RateLimiter;

TEST(RateLimiter, AllowsTheBurstThenTheRateAndCountsTheRest) {
    RateLimiter limiter(10.0, 5.0);
    const auto start = RateLimiter::Clock::now();
    for (int i = 0; i < 5; ++i) {
        EXPECT_TRUE(limiter.take(start).allowed) << i;
    }
    const auto refused = limiter.take(start);
    EXPECT_FALSE(refused.allowed);
    EXPECT_TRUE(refused.first_refusal);
    for (int i = 0; i < 9; ++i) {
        const auto again = limiter.take(start);
        EXPECT_FALSE(again.allowed);
        EXPECT_FALSE(again.first_refusal);
    }
    EXPECT_EQ(limiter.pending_refusals(), 10U);
    // 100 ms later one token is back: allowed, and it carries the ten refusals to report.
    const auto later = limiter.take(start + milliseconds(100));
    EXPECT_TRUE(later.allowed);
    EXPECT_EQ(later.refused_before, 10U);
    EXPECT_EQ(limiter.pending_refusals(), 0U);
    // Over one simulated minute of a flood at 10 000 per second, the rate holds: 600 (+ the burst).
    std::size_t allowed = 0;
    for (int ms = 0; ms < 60000; ++ms) {
        for (int k = 0; k < 10; ++k) {
            allowed += limiter.take(start + milliseconds(200 + ms)).allowed ? 1U : 0U;
        }
    }
    EXPECT_GE(allowed, 595U);
    EXPECT_LE(allowed, 606U);
}

TEST(RateLimiter, ARateOfZeroIsNoLimit) {
    RateLimiter limiter(0.0, 1.0);
    const auto now = RateLimiter::Clock::now();
    for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(limiter.take(now).allowed);
    }
}

TEST(EndToEnd, IdsCarryTheInstanceAndTheSequence) {
    const std::string id = fedbiomed::detail::end_to_end_id("00ff00ff00ff00ff", 42);
    EXPECT_EQ(id, "00ff00ff00ff00ff:42");
    EXPECT_EQ(fedbiomed::detail::sequence_of(id, "00ff00ff00ff00ff"), 42U);
    EXPECT_FALSE(fedbiomed::detail::sequence_of(id, "00ff00ff00ff00fe"));
    EXPECT_FALSE(fedbiomed::detail::sequence_of("00ff00ff00ff00ff:", "00ff00ff00ff00ff"));
    EXPECT_FALSE(fedbiomed::detail::sequence_of("00ff00ff00ff00ff:4x", "00ff00ff00ff00ff"));
    EXPECT_FALSE(fedbiomed::detail::sequence_of("garbage", "00ff00ff00ff00ff"));
}

TEST(EndToEnd, RecentIdsDropDuplicatesWithBoundedMemory) {
    fedbiomed::detail::RecentIds ids(3);
    EXPECT_TRUE(ids.insert("a"));
    EXPECT_FALSE(ids.insert("a"));
    EXPECT_TRUE(ids.insert("b"));
    EXPECT_TRUE(ids.insert("c"));
    EXPECT_TRUE(ids.insert("d"));  // "a" is forgotten
    EXPECT_EQ(ids.size(), 3U);
    EXPECT_TRUE(ids.insert("a"));
    EXPECT_FALSE(ids.insert("d"));
}

TEST(EndToEnd, OnlyAcknowledgementTopicsAreAcceptedFromAMessage) {
    using fedbiomed::detail::is_ack_topic;
    EXPECT_TRUE(is_ack_topic("fedbiomed-messaging/ack/node/n1"));
    EXPECT_FALSE(is_ack_topic("general/researcher"));
    EXPECT_FALSE(is_ack_topic("fedbiomed-messaging/ack/"));
    EXPECT_FALSE(is_ack_topic("fedbiomed-messaging/ack/#"));
    EXPECT_FALSE(is_ack_topic("fedbiomed-messaging/ack/+/x"));
    EXPECT_FALSE(is_ack_topic(std::string("fedbiomed-messaging/ack/a\0b", 27)));
}

using fedbiomed::detail::PresenceRecord;

PresenceRecord record(const std::string& state, const std::string& instance, std::uint64_t seq,
                      const std::string& id = "n1") {
    PresenceRecord r;
    r.state = state;
    r.type = "node";
    r.id = id;
    r.instance = instance;
    r.seq = seq;
    return r;
}

TEST(Presence, RecordsRoundTripAndMalformedOnesAreFb601) {
    PresenceRecord original = record("duplicate", "i1", 7);
    original.reason = "why";
    original.other = "i2";
    const auto decoded = fedbiomed::detail::decode_presence(fedbiomed::detail::encode_presence(original),
                                                            fedbiomed::DecodeLimits{});
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->state, "duplicate");
    EXPECT_EQ(decoded->instance, "i1");
    EXPECT_EQ(decoded->seq, 7U);
    EXPECT_EQ(decoded->reason, "why");
    EXPECT_EQ(decoded->other, "i2");
    EXPECT_FALSE(fedbiomed::detail::decode_presence("", fedbiomed::DecodeLimits{}));  // a cleared record
    for (const std::string bad :
         {"nope", "[]", R"({"state": "online"})",
          R"({"state": 1, "type": "node", "id": "x", "instance": "y"})",
          R"({"state": "gone", "type": "node", "id": "x", "instance": "y"})",
          R"({"state": "online", "type": "node", "id": "x", "instance": "y", "seq": -1})"}) {
        try {
            fedbiomed::detail::decode_presence(bad, fedbiomed::DecodeLimits{});
            ADD_FAILURE() << "accepted: " << bad;
        } catch (const fedbiomed::FedbiomedError& error) {
            EXPECT_EQ(error.code(), fedbiomed::ErrorNumbers::FB601) << bad;
        }
    }
    EXPECT_EQ(fedbiomed::detail::make_instance_id().size(), 16U);
    EXPECT_NE(fedbiomed::detail::make_instance_id(), fedbiomed::detail::make_instance_id());
}

TEST(Presence, TheTrackerIgnoresStaleRecordsOfAnInstanceAndWillsOfOlderInstances) {
    fedbiomed::detail::PresenceTracker tracker;
    auto event = tracker.apply(record("online", "i1", 1));
    ASSERT_TRUE(event);
    EXPECT_TRUE(event->online);
    EXPECT_FALSE(tracker.apply(record("online", "i1", 1)));  // the same announcement again
    EXPECT_FALSE(tracker.apply(record("online", "i1", 2)));  // still online, after a reconnection
    // The will of connection 1, published late (after connection 2 announced itself): ignored.
    EXPECT_FALSE(tracker.apply(record("offline", "i1", 1)));
    EXPECT_EQ(tracker.online(), std::vector<std::string>{"n1"});
    // A restarted process (new instance) comes online; the old instance's will must not take it down.
    EXPECT_TRUE(tracker.apply(record("online", "i2", 1)));
    EXPECT_FALSE(tracker.apply(record("offline", "i1", 2)));
    EXPECT_EQ(tracker.online(), std::vector<std::string>{"n1"});
    PresenceRecord stop = record("offline", "i2", 1);
    stop.reason = "stopped";
    event = tracker.apply(stop);
    ASSERT_TRUE(event);
    EXPECT_FALSE(event->online);
    EXPECT_EQ(event->reason, "stopped");
    EXPECT_TRUE(tracker.online().empty());
    EXPECT_FALSE(tracker.apply(record("offline", "i3", 1, "n2")));  // offline, never seen: nothing to say
    tracker.apply(record("online", "i4", 1, "n3"));
    event = tracker.apply(record("duplicate", "i4", 1, "n3"));
    ASSERT_TRUE(event);
    EXPECT_EQ(event->reason, "duplicate id");
}

TEST(Presence, AHeartbeatIsMarkedLiveAndOnlyAWellFormedLiveRecordCountsAsOne) {
    const fedbiomed::DecodeLimits limits{};
    PresenceRecord heartbeat = record("online", "i1", 1);
    heartbeat.live = true;
    const std::string text = fedbiomed::detail::encode_presence(heartbeat);
    EXPECT_NE(text.find(R"("live":true)"), std::string::npos) << text;
    EXPECT_TRUE(fedbiomed::detail::decode_presence(text, limits)->live);
    EXPECT_TRUE(fedbiomed::detail::is_live_presence(text, limits));
    // The retained record and the will carry no such key, as in earlier versions.
    const std::string retained = fedbiomed::detail::encode_presence(record("online", "i1", 1));
    EXPECT_EQ(retained.find("live"), std::string::npos) << retained;
    EXPECT_FALSE(fedbiomed::detail::is_live_presence(retained, limits));
    EXPECT_FALSE(fedbiomed::detail::is_live_presence("", limits));
    EXPECT_FALSE(fedbiomed::detail::is_live_presence("not json", limits));
    const std::string mistyped =
        R"({"state": "online", "type": "node", "id": "x", "instance": "y", "live": 1})";
    EXPECT_FALSE(fedbiomed::detail::is_live_presence(mistyped, limits));
    try {
        fedbiomed::detail::decode_presence(mistyped, limits);
        ADD_FAILURE() << "accepted: " << mistyped;
    } catch (const fedbiomed::FedbiomedError& error) {
        EXPECT_EQ(error.code(), fedbiomed::ErrorNumbers::FB601);
    }
}

TEST(Presence, WithSignedHeartbeatsOnlyAHeartbeatKeepsAComponentOnlineOrBringsItBack) {
    using fedbiomed::detail::PresenceTracker;
    const auto t0 = PresenceTracker::Clock::time_point{} + std::chrono::hours(1);
    const auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };
    PresenceRecord announced = record("online", "i1", 1);  // the retained record of connection 1
    announced.heartbeat_ms = 1000;
    PresenceRecord heartbeat = announced;
    heartbeat.live = true;
    PresenceTracker tracker(fedbiomed::detail::kMaxTrackedComponents, true);
    ASSERT_TRUE(tracker.apply(announced, at(0)));
    // The retained record published again (anyone can) is no news: the node is still silent since 0.
    EXPECT_FALSE(tracker.apply(announced, at(2500)));
    EXPECT_EQ(tracker.expire(at(3100), at(0)).offline.size(), 1U);
    EXPECT_FALSE(tracker.apply(announced, at(3200)));  // nor does it bring it back
    EXPECT_TRUE(tracker.online().empty());
    const auto back = tracker.apply(heartbeat, at(3300));  // a heartbeat does
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->online);
    EXPECT_TRUE(tracker.expire(at(5000), at(0)).offline.empty());  // and counts as hearing from it
    // A later connection's record is news, marked or not.
    PresenceRecord next = announced;
    next.seq = 2;
    tracker.apply(record("offline", "i1", 1), at(5100));
    EXPECT_TRUE(tracker.apply(next, at(5200)));

    // Without signatures a heartbeat is no better proof than the record: both count, as before.
    PresenceTracker unsigned_tracker;
    ASSERT_TRUE(unsigned_tracker.apply(announced, at(0)));
    EXPECT_FALSE(unsigned_tracker.apply(announced, at(2500)));
    EXPECT_TRUE(unsigned_tracker.expire(at(3100), at(0)).offline.empty());
}

TEST(Presence, TheTrackerFollowsABoundedNumberOfComponentsAndForgetsTheOfflineOnesFirst) {
    using fedbiomed::detail::PresenceTracker;
    const auto t0 = PresenceTracker::Clock::time_point{} + std::chrono::hours(1);
    const auto at = [&](int seconds) { return t0 + std::chrono::seconds(seconds); };
    EXPECT_EQ(PresenceTracker().capacity(), fedbiomed::detail::kMaxTrackedComponents);
    PresenceTracker tracker(3);
    for (const char* id : {"n1", "n2", "n3"}) {
        EXPECT_TRUE(tracker.apply(record("online", "i", 1, id), at(0))) << id;
    }
    // Full, everyone online: a new component is refused and counted; the ones followed are untouched.
    EXPECT_FALSE(tracker.apply(record("online", "i", 1, "n4"), at(1)));
    EXPECT_EQ(tracker.refused(), 1U);
    EXPECT_EQ(tracker.size(), 3U);
    // Offline records of unknown components are not kept, whatever their number.
    for (int i = 0; i < 100; ++i) {
        EXPECT_FALSE(tracker.apply(record("offline", "i", 1, "ghost" + std::to_string(i)), at(1)));
    }
    EXPECT_EQ(tracker.size(), 3U);
    EXPECT_EQ(tracker.refused(), 1U);
    // Two go offline, n3 first: the next newcomers take the place of the one offline for longest first.
    ASSERT_TRUE(tracker.apply(record("offline", "i", 1, "n3"), at(2)));
    ASSERT_TRUE(tracker.apply(record("offline", "i", 1, "n1"), at(3)));
    EXPECT_TRUE(tracker.apply(record("online", "i", 1, "n4"), at(4)));
    EXPECT_EQ(tracker.online(), (std::vector<std::string>{"n2", "n4"}));
    EXPECT_EQ(tracker.size(), 3U);
    // n1, still followed, comes back without taking anyone's place.
    EXPECT_TRUE(tracker.apply(record("online", "i", 2, "n1"), at(5)));
    EXPECT_EQ(tracker.size(), 3U);
    EXPECT_FALSE(tracker.apply(record("online", "i", 1, "n5"), at(6)));
    EXPECT_EQ(tracker.refused(), 2U);
    // A node taken offline by its silence makes room too.
    PresenceTracker beating(1);
    PresenceRecord with_heartbeat = record("online", "i", 1, "b1");
    with_heartbeat.heartbeat_ms = 1000;
    ASSERT_TRUE(beating.apply(with_heartbeat, at(0)));
    EXPECT_FALSE(beating.apply(record("online", "i", 1, "b2"), at(1)));
    EXPECT_EQ(beating.expire(at(10), at(0)).offline.size(), 1U);
    EXPECT_TRUE(beating.apply(record("online", "i", 1, "b2"), at(11)));
    EXPECT_EQ(beating.online(), std::vector<std::string>{"b2"});
    tracker.clear();
    EXPECT_EQ(tracker.size(), 0U);
}

TEST(Presence, AHeartbeatPeriodRoundTripsAndAnAbsurdOneIsFb601) {
    PresenceRecord original = record("online", "i1", 1);
    original.heartbeat_ms = 250;
    const std::string text = fedbiomed::detail::encode_presence(original);
    EXPECT_NE(text.find(R"("heartbeat":250)"), std::string::npos) << text;
    EXPECT_EQ(fedbiomed::detail::decode_presence(text, fedbiomed::DecodeLimits{})->heartbeat_ms, 250U);
    // None announced: no key at all (the record stays what earlier versions wrote).
    EXPECT_EQ(fedbiomed::detail::encode_presence(record("online", "i1", 1)).find("heartbeat"),
              std::string::npos);
    for (const std::string bad :
         {R"({"state": "online", "type": "node", "id": "x", "instance": "y", "heartbeat": -5})",
          R"({"state": "online", "type": "node", "id": "x", "instance": "y", "heartbeat": "10"})",
          R"({"state": "online", "type": "node", "id": "x", "instance": "y", "heartbeat": 1e30})",
          R"({"state": "online", "type": "node", "id": "x", "instance": "y", "heartbeat": 86400001})",
          R"({"state": "online", "type": "node", "id": "x", "instance": "y", "heartbeat": 9})"}) {
        try {
            fedbiomed::detail::decode_presence(bad, fedbiomed::DecodeLimits{});
            ADD_FAILURE() << "accepted: " << bad;
        } catch (const fedbiomed::FedbiomedError& error) {
            EXPECT_EQ(error.code(), fedbiomed::ErrorNumbers::FB601) << bad;
        }
    }
}

TEST(Presence, ANodeSilentForThreeHeartbeatPeriodsGoesOfflineAndComesBackWithItsNextRecord) {
    using fedbiomed::detail::PresenceTracker;
    const auto start = PresenceTracker::Clock::time_point{} + std::chrono::hours(1);
    PresenceTracker tracker;
    PresenceRecord beating = record("online", "i1", 1);
    beating.heartbeat_ms = 1000;
    ASSERT_TRUE(tracker.apply(beating, start));
    tracker.apply(record("online", "i9", 1, "quiet"), start);  // announces no heartbeat: its will counts
    EXPECT_EQ(tracker.deadline(start), start + milliseconds(3000));

    // A heartbeat moves the deadline.
    EXPECT_FALSE(tracker.apply(beating, start + milliseconds(2000)));
    auto expiry = tracker.expire(start + milliseconds(4000), start);
    EXPECT_TRUE(expiry.offline.empty());
    EXPECT_EQ(expiry.next, start + milliseconds(5000));

    expiry = tracker.expire(start + milliseconds(5000), start);
    ASSERT_EQ(expiry.offline.size(), 1U);
    EXPECT_EQ(expiry.offline[0].id, "n1");
    EXPECT_FALSE(expiry.offline[0].online);
    EXPECT_EQ(expiry.offline[0].reason.rfind("no heartbeat for 3000 ms", 0), 0U) << expiry.offline[0].reason;
    EXPECT_EQ(expiry.next, PresenceTracker::Clock::time_point::max());
    EXPECT_EQ(tracker.online(), std::vector<std::string>{"quiet"});  // never expires
    // Its will, late: nothing more to say. Its next heartbeat: online again.
    EXPECT_FALSE(tracker.apply(record("offline", "i1", 1), start + milliseconds(5100)));
    const auto back = tracker.apply(beating, start + milliseconds(6000));
    ASSERT_TRUE(back);
    EXPECT_TRUE(back->online);
    EXPECT_EQ(tracker.online(), (std::vector<std::string>{"n1", "quiet"}));
}

TEST(Presence, HeartbeatsCountFromOurOwnConnectionAtTheEarliest) {
    using fedbiomed::detail::PresenceTracker;
    const auto start = PresenceTracker::Clock::time_point{} + std::chrono::hours(1);
    PresenceTracker tracker;
    PresenceRecord beating = record("online", "i1", 1);
    beating.heartbeat_ms = 1000;
    tracker.apply(beating, start);
    // We were disconnected from start+1 s to start+10 s: nothing could be heard meanwhile.
    const auto reconnected = start + milliseconds(10000);
    EXPECT_TRUE(tracker.expire(reconnected + milliseconds(2999), reconnected).offline.empty());
    EXPECT_EQ(tracker.expire(reconnected + milliseconds(3000), reconnected).offline.size(), 1U);
}

TEST(Topics, PrivateTopicsAndClientIds) {
    using fedbiomed::ComponentType;
    EXPECT_EQ(fedbiomed::detail::presence_topic(ComponentType::node, "n1"),
              "fedbiomed-messaging/presence/node/n1");
    EXPECT_EQ(fedbiomed::detail::presence_topic(ComponentType::researcher, "r1"),
              "fedbiomed-messaging/presence/researcher/r1");
    EXPECT_EQ(fedbiomed::detail::node_presence_filter(), "fedbiomed-messaging/presence/node/+");
    EXPECT_EQ(fedbiomed::detail::node_of_presence_topic("fedbiomed-messaging/presence/node/n1"), "n1");
    EXPECT_EQ(fedbiomed::detail::node_of_presence_topic("fedbiomed-messaging/presence/researcher/r1"), "");
    EXPECT_EQ(fedbiomed::detail::ack_topic(ComponentType::researcher, "r1"),
              "fedbiomed-messaging/ack/researcher/r1");
    EXPECT_EQ(fedbiomed::detail::default_client_id(ComponentType::node, "n1"), "fbm-node-n1");
    EXPECT_EQ(fedbiomed::detail::default_client_id(ComponentType::researcher, "r1"), "fbm-researcher-r1");
}

}  // namespace

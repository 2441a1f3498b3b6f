// Presence announcements on fedbiomed-messaging/presence/<node|researcher>/<id> (topics the reference never
// subscribes to): a retained "online" record published at every connection, a retained "offline" will the
// broker publishes when the component dies, an "offline" record published by a clean stop(), and a
// "duplicate" record published by a component that found another process using its id. Researchers follow
// the nodes' records; every component watches its own topic, where another instance's record is a sign of
// a duplicate id (see TakeoverDetector).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fedbiomed/json.hpp"
#include "fedbiomed/messaging_events.hpp"

namespace fedbiomed::detail {

/// One announcement, as published (a small JSON object).
struct PresenceRecord {
    std::string state;      ///< "online", "offline" or "duplicate"
    std::string type;       ///< "node" or "researcher"
    std::string id;         ///< component id
    std::string instance;   ///< random per Messaging object: tells two processes with one id apart
    std::uint64_t seq = 0;  ///< connection number within the instance: orders its records (a will is late)
    std::string reason;     ///< why (offline: "stopped", "connection lost"; duplicate: the verdict)
    std::string other;      ///< duplicate: the other instance
    /// online: the end-to-end acknowledgement this component gives (0: none; 1: it acknowledges each
    /// message carrying an id as it queues it for its handler, on the sender's ack topic + "/<its id>").
    /// Written as "ack" only when not 0.
    std::uint32_t ack = 0;
    /// online: the period of this component's heartbeats (live copies of its "online" record), in
    /// milliseconds; 0: it sends none. Written as "heartbeat" only when not 0. Followers take the component
    /// offline when they hear nothing from it for kHeartbeatsMissed periods: its will alone is not enough
    /// where the broker can lose it (a RabbitMQ node that dies loses the wills and retained records of the
    /// clients connected to it).
    std::uint64_t heartbeat_ms = 0;
    /// online: this is a heartbeat, a live copy the broker never stores, signed as it is sent. Written as
    /// "live": true only when set. With signed messages a live record must be fresh (within signing.max_age,
    /// not a replay); the retained records and the will, signed long before they are delivered, are
    /// checked for authenticity only. Signed, so a replayed heartbeat cannot shed it.
    bool live = false;
};

/// Whether @p payload is a well-formed record marked "live" (a heartbeat); false for anything else,
/// malformed included (the dispatcher reports those). Never throws.
bool is_live_presence(const std::string& payload, const DecodeLimits& limits) noexcept;

/// A record is about 150 bytes. Larger payloads on a presence topic are rejected before decoding, whatever
/// MessagingOptions::max_payload_bytes says (a component with a tiny max_payload_bytes must still read its
/// own records, and one with a huge one must not decode megabytes sent as a record).
inline constexpr std::size_t kMaxPresenceRecordBytes = 4096;

/// A component that announced heartbeats is offline after this many periods without a record from it.
inline constexpr int kHeartbeatsMissed = 3;

/// How many components a PresenceTracker follows at most. Anyone allowed to publish on the presence topics
/// can announce any number of made-up ids: without a bound, each would cost memory for good. A federation
/// has tens to hundreds of nodes; past the bound, offline components make room and new ones are refused.
inline constexpr std::size_t kMaxTrackedComponents = 10000;

/// A fresh random instance id (16 hex digits).
std::string make_instance_id();

/// "node" or "researcher".
const char* type_name(ComponentType type) noexcept;

/// The JSON text of @p record.
std::string encode_presence(const PresenceRecord& record);

/// Parses an announcement. @return nullopt for an empty payload (a cleared retained message).
/// @throws DecodeError / MessageError (FB601) for anything that is not a well-formed record.
std::optional<PresenceRecord> decode_presence(const std::string& payload, const DecodeLimits& limits);

/// The presence of the components of one type (the nodes, as a researcher sees them; the peers whose
/// end-to-end capability a sender follows). Thread-safe.
class PresenceTracker {
public:
    using Clock = std::chrono::steady_clock;

    /// Follows at most @p capacity components (kMaxTrackedComponents; tests use less). With
    /// @p signed_heartbeats (signed messages: a "live" record was checked fresh), only a heartbeat proves a
    /// component still there: a copy of the "online" record of a connection already known (its retained
    /// record, which anyone may read and publish again) neither counts as hearing from it nor brings it
    /// back after it went offline.
    explicit PresenceTracker(std::size_t capacity = kMaxTrackedComponents, bool signed_heartbeats = false)
        : capacity_(capacity), signed_heartbeats_(signed_heartbeats) {}

    /// Applies a node's record received on its topic at @p now. @return the event to report when the
    /// node's state changed (a record of an older instance never takes a newer one offline). A record of a
    /// component not followed yet is kept only if it says "online" (an offline one changes nothing) and
    /// there is room: when capacity() components are followed, the one offline for the longest is
    /// forgotten, and with none offline the record is refused (counted by refused()).
    std::optional<PresenceEvent> apply(const PresenceRecord& record, Clock::time_point now = Clock::now());

    /// What expire() found.
    struct Expiry {
        std::vector<PresenceEvent> offline;  ///< the nodes it took offline (reason: the heartbeats missed)
        Clock::time_point next = Clock::time_point::max();  ///< the next deadline of a node still online
    };

    /// Takes offline every node that announced heartbeats and has not been heard from for
    /// kHeartbeatsMissed periods, counted from its last record or from @p heard_since, whichever is later
    /// (the start of our current connection: nothing could be heard while we were disconnected).
    Expiry expire(Clock::time_point now, Clock::time_point heard_since);

    /// The earliest deadline expire() would act on (max(): none), without changing anything.
    Clock::time_point deadline(Clock::time_point heard_since) const;

    /// Nodes whose latest state is online, sorted.
    std::vector<std::string> online() const;

    /// Among online(), those whose record announced end-to-end acknowledgement, sorted.
    std::vector<std::string> acknowledging() const;

    /// Whether @p id is online and announced end-to-end acknowledgement.
    bool acknowledges(const std::string& id) const;

    /// How many components are followed (online or offline).
    std::size_t size() const;

    /// The most components followed at once.
    std::size_t capacity() const noexcept { return capacity_; }

    /// "online" records of new components refused because capacity() components, all online, were
    /// followed.
    std::uint64_t refused() const;

    void clear();

private:
    struct Node {
        std::string instance;
        std::uint64_t seq = 0;
        bool online = false;
        std::uint32_t ack = 0;
        std::chrono::milliseconds heartbeat{0};
        Clock::time_point heard;  // its last record
        Clock::time_point left;   // when it went offline
    };
    // Forgets the component offline for the longest. @return false when none is offline.
    bool evict_offline_locked();

    const std::size_t capacity_;
    const bool signed_heartbeats_;
    mutable std::mutex mutex_;
    std::map<std::string, Node> nodes_;
    std::size_t offline_ = 0;  // entries of nodes_ that are offline (eviction candidates)
    std::uint64_t refused_ = 0;
};

}  // namespace fedbiomed::detail

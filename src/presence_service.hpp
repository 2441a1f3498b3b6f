// Presence, the part: this component's own announcements (the records it publishes and its will), what
// arrives on its own presence topic (a will published late, or another process using the same id), and
// the nodes' announcements a researcher follows. Runs on the dispatcher thread, except the record builders
// (any thread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "counters.hpp"
#include "fedbiomed/json.hpp"
#include "fedbiomed/messaging_options.hpp"
#include "inbound_item.hpp"
#include "presence.hpp"
#include "takeover_detector.hpp"
#include "user_callbacks.hpp"

namespace fedbiomed::detail {

class PresenceService {
public:
    struct Config {
        ComponentType type = ComponentType::node;
        std::string id;
        std::string instance;   ///< this Messaging object's random instance id
        std::string own_topic;  ///< fedbiomed-messaging/presence/<type>/<id>
        DecodeLimits limits;
        std::chrono::milliseconds heartbeat{0};  ///< MessagingOptions::presence_heartbeat (0: none)
        /// Signed messages are on: heartbeats arrive checked fresh (see PresenceTracker's constructor).
        bool signed_heartbeats = false;
    };

    /// Given by the composition root; called on the dispatcher thread.
    struct Hooks {
        std::function<std::uint64_t()> connection_seq;  ///< successful connections so far
        std::function<std::uint64_t()> attempt_seq;     ///< the connection being made or in use
        std::function<bool()> may_repair;  ///< connected, and not announcing our end (stop, duplicate id)
        std::function<void(std::string&& payload)> announce;   ///< publishes a retained record of ours
        std::function<void(std::string&& payload)> heartbeat;  ///< publishes a live (not retained) one
        /// Queues a call of expire_nodes() for the dispatcher thread; false when it could not be queued.
        std::function<bool()> check_nodes;
        std::function<void(const std::string& other)> takeover;  ///< a duplicate-id verdict (other instance)
    };

    PresenceService(Config config, Counters& counters, TakeoverDetector& takeover,
                    const UserCallbacks& callbacks, Hooks hooks);

    /// Our record in @p state, for connection @p seq (0: the current one). Any thread.
    PresenceRecord record(const std::string& state, const std::string& reason, std::uint64_t seq = 0) const;

    /// The JSON text of record().
    std::string payload(const std::string& state, const std::string& reason, std::uint64_t seq = 0) const;

    /// An announcement the broker delivered (dispatcher thread).
    void received(const InboundPresence& presence);

    /// Researchers: the nodes whose latest record is "online", sorted. Thread-safe.
    std::vector<std::string> online() const { return nodes_.online(); }

    /// Whether our "online" records announce end-to-end acknowledgement: set for each connection (only an
    /// MQTT 5 connection carries the ids). Any thread.
    void set_acknowledging(bool acknowledging) noexcept { acknowledging_.store(acknowledging); }

    /// An announcement on a presence topic of the other component type (the peers we send to), on the
    /// client's thread, before the dispatcher sees it: what a peer announces must be known by the time the
    /// last SUBACK returns (the broker sends retained records right after their SUBACK), so that the
    /// first messages after start() already go end to end. Small records only (a larger one is left to
    /// the dispatcher, which reports it). Never throws.
    void peer_record(const std::string& topic, const std::string& payload) noexcept;

    /// The peers (nodes for a researcher, researchers for a node) online that announced end-to-end
    /// acknowledgement, sorted. Thread-safe.
    std::vector<std::string> acknowledging_peers() const { return peers_.acknowledging(); }

    /// Whether peer @p id is online and announced end-to-end acknowledgement. Thread-safe.
    bool peer_acknowledges(const std::string& id) const { return peers_.acknowledges(id); }

    using Clock = PresenceTracker::Clock;

    /// A connection was made at @p now (supervisor thread): the heartbeats of the peers count from here, and
    /// ours go out one period from now (the "online" record goes out with the connection).
    void connected(Clock::time_point now);

    /// The connection was lost (supervisor thread): no heartbeat goes out and nobody is taken offline until
    /// the next connection (nothing can be heard meanwhile; the heartbeats count again from there).
    void disconnected() noexcept;

    /// While connected, on the supervisor's periodic pass: sends our heartbeat when it is due, takes the
    /// silent peers off the end-to-end list, and has the dispatcher check the nodes when one of them is due.
    /// @return when it needs to run again. Never throws.
    Clock::time_point tick(Clock::time_point now) noexcept;

    /// Takes offline the nodes that announced heartbeats and went silent, with a presence event each
    /// (dispatcher thread, in order with the records received).
    void expire_nodes();

    /// Forgets the nodes and the peers (stop()).
    void clear();

    const std::string& own_topic() const noexcept { return config_.own_topic; }

private:
    void own_record(const PresenceRecord& record, bool retained);
    void note_refused(const PresenceTracker& tracker, const std::string& id);

    const Config config_;
    Counters& counters_;
    TakeoverDetector& takeover_;
    const UserCallbacks& callbacks_;
    const Hooks hooks_;
    PresenceTracker nodes_;  // dispatcher thread: the presence events
    PresenceTracker peers_;  // client thread: their end-to-end capability (peer_record())
    std::atomic<bool> acknowledging_{false};
    std::atomic<std::uint64_t> reannounced_connection_{0};  // connection that already repaired its record
    std::uint64_t warned_foreign_connection_ = 0;           // dispatcher thread only
    std::atomic<std::uint64_t> warned_full_connection_{0};  // connection that reported a full tracker
    // Heartbeat timing: written by the supervisor thread, read by the dispatcher's expire_nodes().
    mutable std::mutex timing_mutex_;
    Clock::time_point connected_at_;
    Clock::time_point next_heartbeat_ = Clock::time_point::max();
    bool connected_ = false;  // guarded by timing_mutex_
    std::atomic<bool> check_queued_{false};
};

}  // namespace fedbiomed::detail

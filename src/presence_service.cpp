#include "presence_service.hpp"

#include <spdlog/spdlog.h>

#include "fedbiomed/logger.hpp"
#include "topics.hpp"

namespace fedbiomed::detail {

PresenceService::PresenceService(Config config, Counters& counters, TakeoverDetector& takeover,
                                 const UserCallbacks& callbacks, Hooks hooks)
    : config_(std::move(config)),
      counters_(counters),
      takeover_(takeover),
      callbacks_(callbacks),
      hooks_(std::move(hooks)),
      nodes_(kMaxTrackedComponents, config_.signed_heartbeats),
      peers_(kMaxTrackedComponents, config_.signed_heartbeats) {}

PresenceRecord PresenceService::record(const std::string& state, const std::string& reason,
                                       std::uint64_t seq) const {
    PresenceRecord record;
    record.state = state;
    record.type = type_name(config_.type);
    record.id = config_.id;
    record.instance = config_.instance;
    record.reason = reason;
    record.seq = seq == 0 ? hooks_.connection_seq() : seq;
    if (state == "online" && acknowledging_.load()) {
        record.ack = 1;
    }
    if (state == "online") {
        record.heartbeat_ms = static_cast<std::uint64_t>(config_.heartbeat.count());
    }
    return record;
}

void PresenceService::connected(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(timing_mutex_);
    connected_ = true;
    connected_at_ = now;
    next_heartbeat_ = config_.heartbeat.count() > 0 ? now + config_.heartbeat : Clock::time_point::max();
}

void PresenceService::disconnected() noexcept {
    std::lock_guard<std::mutex> lock(timing_mutex_);
    connected_ = false;
}

void PresenceService::clear() {
    nodes_.clear();
    peers_.clear();
    {
        std::lock_guard<std::mutex> lock(timing_mutex_);
        connected_ = false;
        next_heartbeat_ = Clock::time_point::max();
    }
    // A check queued for the dispatcher is discarded with its queue by stop(): the next start() must be able
    // to queue one again.
    check_queued_.store(false);
}

PresenceService::Clock::time_point PresenceService::tick(Clock::time_point now) noexcept {
    try {
        Clock::time_point heard_since;
        bool beat = false;
        auto next = Clock::time_point::max();
        {
            std::lock_guard<std::mutex> lock(timing_mutex_);
            if (!connected_) {
                return Clock::time_point::max();  // the supervisor's backoff passes call this too
            }
            heard_since = connected_at_;
            if (now >= next_heartbeat_) {
                beat = true;
                // From the planned time, not from now: a late pass does not stretch the period, and one
                // missed by far is not caught up with a burst.
                next_heartbeat_ = std::max(next_heartbeat_ + config_.heartbeat, now + config_.heartbeat / 2);
            }
            next = next_heartbeat_;
        }
        // Not once stop() or a duplicate-id verdict announced our end: a heartbeat after our "offline" or
        // "duplicate" record would make us online again to everyone (the same instance and seq).
        if (beat && hooks_.may_repair()) {
            PresenceRecord heartbeat = record("online", {});
            heartbeat.live = true;
            hooks_.heartbeat(encode_presence(heartbeat));
        }
        // The peers we send to: a silent one no longer holds our messages back waiting for its
        // acknowledgement (no event: the dispatcher's presence events are about nodes).
        const auto peers = peers_.expire(now, heard_since);
        for (const auto& event : peers.offline) {
            library_logger()->debug(
                "Messaging {}: peer {} no longer counted for end-to-end acknowledgement: {}", config_.id,
                event.id, event.reason);
        }
        next = std::min(next, peers.next);
        // The nodes' events belong to the dispatcher thread, after the records already queued for it.
        const auto nodes_due = nodes_.deadline(heard_since);
        if (now >= nodes_due) {
            if (!check_queued_.exchange(true) && !hooks_.check_nodes()) {
                check_queued_.store(false);  // not queued (memory exhausted): the next pass tries again
            }
        } else {
            next = std::min(next, nodes_due);
        }
        return next;
    } catch (...) {
        // Memory exhausted while building a record: try again on the next pass.
        return now + std::chrono::seconds(1);
    }
}

void PresenceService::expire_nodes() {
    check_queued_.store(false);
    Clock::time_point heard_since;
    {
        std::lock_guard<std::mutex> lock(timing_mutex_);
        if (!connected_) {
            return;  // queued before the connection was lost: nothing could be heard since
        }
        heard_since = connected_at_;
    }
    for (const auto& event : nodes_.expire(Clock::now(), heard_since).offline) {
        library_logger()->info("Messaging {}: node {} is offline: {}", config_.id, event.id, event.reason);
        callbacks_.presence(event);
    }
}

void PresenceService::peer_record(const std::string& topic, const std::string& payload) noexcept {
    const ComponentType peer_type =
        config_.type == ComponentType::node ? ComponentType::researcher : ComponentType::node;
    if (payload.size() > kMaxPresenceRecordBytes) {  // not a record: the pipeline reports it
        return;
    }
    try {
        const std::string id = id_of_presence_topic(topic, peer_type);
        if (id.empty()) {
            return;
        }
        const auto record = decode_presence(payload, config_.limits);
        if (record && record->id == id && record->type == type_name(peer_type)) {
            const std::uint64_t refused = peers_.refused();
            if (!peers_.apply(*record) && peers_.refused() != refused &&
                config_.type == ComponentType::node) {
                // A researcher counts the refusals of its node list instead (received()): the same records.
                note_refused(peers_, id);
            }
        }
    } catch (...) {
        // Malformed: the dispatcher decodes it again and reports it.
    }
}

std::string PresenceService::payload(const std::string& state, const std::string& reason,
                                     std::uint64_t seq) const {
    return encode_presence(record(state, reason, seq));
}

void PresenceService::received(const InboundPresence& presence) {
    const std::string& topic = presence.topic;
    std::optional<PresenceRecord> decoded;
    auto fault = capture_fault([&] { decoded = decode_presence(presence.payload, config_.limits); },
                               ErrorNumbers::FB601, " (presence announcement on " + topic + " ignored)",
                               [&](const char* what) {
                                   return std::string(what_of(what)) + " (presence announcement on " + topic +
                                          " ignored)";
                               },
                               topic);
    if (fault) {
        Counters::bump(counters_.decode_errors);
        callbacks_.fault(std::move(*fault));
        return;
    }
    if (!decoded) {
        return;
    }
    if (topic == config_.own_topic) {
        own_record(*decoded, presence.retained);
        return;
    }
    if (config_.type != ComponentType::researcher || node_of_presence_topic(topic) != decoded->id) {
        return;
    }
    const std::uint64_t refused = nodes_.refused();
    const auto event = nodes_.apply(*decoded);
    if (nodes_.refused() != refused) {
        note_refused(nodes_, decoded->id);
    }
    if (event) {
        library_logger()->debug("Messaging {}: node {} is {} ({})", config_.id, event->id,
                                event->online ? "online" : "offline", event->reason);
        callbacks_.presence(*event);
    }
}

// A record the tracker had no room for (client thread for a node's peers, dispatcher thread for a
// researcher's nodes: one of them per component).
void PresenceService::note_refused(const PresenceTracker& tracker, const std::string& id) {
    Counters::bump(counters_.presence_records_refused);
    // Once per connection (or attempt: retained records arrive while we subscribe): a flood of records must
    // not become a flood of log lines.
    const std::uint64_t connection = hooks_.attempt_seq();
    if (warned_full_connection_.exchange(connection) != connection) {
        library_logger()->warn(
            "Messaging {}: already follows the presence of {} components, all online: the record of {} is "
            "ignored (a flood of made-up ids? see stats().presence_records_refused)",
            config_.id, tracker.capacity(), id);
    }
}

// A record on our own presence topic. Anyone the broker's ACL lets publish there can write one, so a
// record changes nothing by itself (takeover_detector.hpp): it is counted, and under MQTT 3.1.1 it explains
// a connection the broker closed.
void PresenceService::own_record(const PresenceRecord& record, bool retained) {
    const std::uint64_t connection = hooks_.connection_seq();
    if (record.instance == config_.instance) {
        // Our own record. A retained one is replaced by the "online" we publish at each connection; a
        // live "offline" of an earlier connection is its will, published by a broker that noticed it
        // dead only after we had reconnected (a stalled network): announce again, so that the retained
        // record is right. Once per connection: a copy of our record replayed by someone else must not
        // make us publish again and again. (The will of the current connection comes from a broker
        // shutting down: the connection is closing, the next one announces itself anyway.)
        if (!retained && record.state != "online" && record.seq < connection && hooks_.may_repair() &&
            reannounced_connection_.exchange(connection) != connection) {
            hooks_.announce(payload("online", {}));
        }
        return;
    }
    Counters::bump(counters_.foreign_presence_records);
    const std::string who = "instance " + record.instance + " (" + record.state + ")";
    // Attributed to the connection being made or in use (a retained record arrives as we subscribe).
    if (takeover_.foreign_record(hooks_.attempt_seq(), TakeoverDetector::Clock::now(), who)) {
        hooks_.takeover(record.instance);
        return;
    }
    if (warned_foreign_connection_ != connection) {
        // Once per connection: a flood of records must not become a flood of log lines.
        warned_foreign_connection_ = connection;
        library_logger()->warn(
            "Messaging {}: a presence record of another {} appeared on {} ({}): ignored. If another process "
            "uses this component id the broker will keep disconnecting one for the other, which is "
            "detected; a record alone proves nothing (anyone allowed to publish there can write it)",
            config_.id, who, config_.own_topic, retained ? "retained" : "live");
    }
}

}  // namespace fedbiomed::detail

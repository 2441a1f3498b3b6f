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
      hooks_(std::move(hooks)) {}

PresenceRecord PresenceService::record(const std::string& state, const std::string& reason,
                                       std::uint64_t seq) const {
    PresenceRecord record;
    record.state = state;
    record.type = type_name(config_.type);
    record.id = config_.id;
    record.instance = config_.instance;
    record.reason = reason;
    record.seq = seq == 0 ? hooks_.connection_seq() : seq;
    return record;
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
    if (auto event = nodes_.apply(*decoded)) {
        library_logger()->debug("Messaging {}: node {} is {} ({})", config_.id, event->id,
                                event->online ? "online" : "offline", event->reason);
        callbacks_.presence(*event);
    }
}

void PresenceService::own_record(const PresenceRecord& record, bool retained) {
    if (record.instance == config_.instance) {
        // Our own record. A retained one is replaced by the "online" we publish at each connection; a
        // live "offline" of an earlier connection is its will, published by a broker that noticed it
        // dead only after we had reconnected (a stalled network): announce again, so that the retained
        // record is right. (The will of the current connection comes from a broker shutting down:
        // the connection is closing, the next one announces itself anyway.)
        if (!retained && record.state != "online" && record.seq < hooks_.connection_seq() &&
            hooks_.may_repair()) {
            hooks_.announce(payload("online", {}));
        }
        return;
    }
    bool verdict = false;
    const std::string who = "instance " + record.instance;
    if (record.state == "duplicate" && record.other == config_.instance) {
        verdict = takeover_.explicit_verdict("the other process (" + who +
                                             ") detected the duplicate id first: " + record.reason);
    } else if (!retained && record.state == "online") {
        // Announced while we are connected: another process is connected at the same time as us.
        verdict = takeover_.explicit_verdict(who + " announced itself online while this one was connected");
    } else {
        // Someone else's record was published on our topic since our last connection: count it once
        // per connection (a single one can be the record of a previous run of this component).
        const std::uint64_t seq = hooks_.connection_seq();
        if (evidence_generation_.exchange(seq) != seq) {
            verdict = takeover_.sign(TakeoverDetector::Clock::now(),
                                     who + " (" + record.state + ") found on " + config_.own_topic);
        }
    }
    if (verdict) {
        hooks_.takeover(record.instance);
    }
}

}  // namespace fedbiomed::detail

#include "presence.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include "topics.hpp"

namespace fedbiomed::detail {
namespace {

std::string field(const Json& object, const char* name, bool required) {
    const auto found = object.find(name);
    if (found == object.end()) {
        if (required) {
            throw MessageError(ErrorNumbers::FB601,
                               std::string("presence announcement without '") + name + "'");
        }
        return {};
    }
    if (!found->is_string()) {
        throw MessageError(ErrorNumbers::FB601,
                           std::string("presence announcement: '") + name + "' is not a string");
    }
    return found->get<std::string>();
}

}  // namespace

std::string make_instance_id() {
    std::random_device device;
    const auto now =
        static_cast<std::uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
    std::mt19937_64 random((static_cast<std::uint64_t>(device()) << 32U) ^ device() ^ now);
    const std::uint64_t value = random();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text(16, '0');
    for (std::size_t i = 0; i < 16; ++i) {
        text[i] = kHex[(value >> (60U - 4U * i)) & 0xFU];
    }
    return text;
}

const char* type_name(ComponentType type) noexcept {
    return type == ComponentType::node ? "node" : "researcher";
}

std::string encode_presence(const PresenceRecord& record) {
    Json object = Json::object();
    object["state"] = record.state;
    object["type"] = record.type;
    object["id"] = record.id;
    object["instance"] = record.instance;
    object["seq"] = record.seq;
    if (!record.reason.empty()) {
        object["reason"] = record.reason;
    }
    if (!record.other.empty()) {
        object["other"] = record.other;
    }
    if (record.ack != 0) {
        object["ack"] = record.ack;
    }
    if (record.heartbeat_ms != 0) {
        object["heartbeat"] = record.heartbeat_ms;
    }
    if (record.live) {
        object["live"] = true;
    }
    return object.dump();
}

bool is_live_presence(const std::string& payload, const DecodeLimits& limits) noexcept {
    try {
        const auto record = decode_presence(payload, limits);
        return record && record->live;
    } catch (...) {
        return false;
    }
}

std::optional<PresenceRecord> decode_presence(const std::string& payload, const DecodeLimits& limits) {
    if (payload.empty()) {
        return std::nullopt;
    }
    const Json object = deserialize_msg(payload, limits);
    if (!object.is_object()) {
        throw MessageError(ErrorNumbers::FB601, "presence announcement is not a JSON object");
    }
    PresenceRecord record;
    record.state = field(object, "state", true);
    record.type = field(object, "type", true);
    record.id = field(object, "id", true);
    record.instance = field(object, "instance", true);
    record.reason = field(object, "reason", false);
    record.other = field(object, "other", false);
    const auto seq = object.find("seq");
    if (seq != object.end()) {
        if (!seq->is_number_unsigned()) {
            throw MessageError(ErrorNumbers::FB601,
                               "presence announcement: 'seq' is not an unsigned integer");
        }
        record.seq = seq->get<std::uint64_t>();
    }
    const auto ack = object.find("ack");
    if (ack != object.end()) {
        if (!ack->is_number_unsigned() || ack->get<std::uint64_t>() > 0xFFFFFFFFU) {
            throw MessageError(ErrorNumbers::FB601,
                               "presence announcement: 'ack' is not an unsigned integer");
        }
        record.ack = static_cast<std::uint32_t>(ack->get<std::uint64_t>());
    }
    const auto heartbeat = object.find("heartbeat");
    if (heartbeat != object.end()) {
        // The bounds of MessagingOptions::presence_heartbeat: a day at most (the deadline is added to the
        // clock), 10 ms at least (0: none), whoever wrote the record.
        constexpr std::uint64_t kLongest = 24ULL * 3600 * 1000;
        constexpr std::uint64_t kShortest = 10;
        if (!heartbeat->is_number_unsigned() || heartbeat->get<std::uint64_t>() > kLongest ||
            (heartbeat->get<std::uint64_t>() != 0 && heartbeat->get<std::uint64_t>() < kShortest)) {
            throw MessageError(ErrorNumbers::FB601,
                               "presence announcement: 'heartbeat' is not 0 or a period in 10..86400000 ms");
        }
        record.heartbeat_ms = heartbeat->get<std::uint64_t>();
    }
    const auto live = object.find("live");
    if (live != object.end()) {
        if (!live->is_boolean()) {
            throw MessageError(ErrorNumbers::FB601, "presence announcement: 'live' is not a boolean");
        }
        record.live = live->get<bool>();
    }
    if (record.state != "online" && record.state != "offline" && record.state != "duplicate") {
        throw MessageError(ErrorNumbers::FB601, "presence announcement with unknown state '" +
                                                    printable(record.state.substr(0, 40)) + "'");
    }
    return record;
}

std::optional<PresenceEvent> PresenceTracker::apply(const PresenceRecord& record, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = nodes_.find(record.id);
    if (found == nodes_.end()) {
        if (record.state != "online") {
            return std::nullopt;  // nothing to take offline; keeping it would let anyone fill the map
        }
        if (nodes_.size() >= capacity_ && !evict_offline_locked()) {
            ++refused_;
            return std::nullopt;
        }
        found = nodes_.emplace(record.id, Node{}).first;
        ++offline_;  // until the record below takes it online
    }
    Node& node = found->second;
    PresenceEvent event;
    event.type = ComponentType::node;
    event.id = record.id;
    const bool same_instance = node.instance == record.instance;
    if (same_instance && record.seq < node.seq) {
        return std::nullopt;  // older than what we know: e.g. the will of a connection since replaced
    }
    if (record.state == "online") {
        if (signed_heartbeats_ && !record.live && same_instance && record.seq == node.seq &&
            !node.instance.empty()) {
            return std::nullopt;  // the connection's record again (retained, or replayed): no news
        }
        const bool was_online = node.online && same_instance;
        if (!node.online) {
            --offline_;
        }
        node.online = true;
        node.ack = record.ack;
        node.heartbeat = std::chrono::milliseconds(record.heartbeat_ms);
        node.heard = now;
        node.instance = record.instance;
        node.seq = record.seq;
        if (was_online) {
            return std::nullopt;  // the same announcement again (retained, after a reconnection)
        }
        event.online = true;
        event.reason = "online";
        return event;
    }
    // offline or duplicate: only the instance we believe online can take the node offline; the will of
    // an older instance, published after its successor connected, must not.
    if (!node.online || !same_instance) {
        return std::nullopt;
    }
    node.seq = record.seq;
    node.online = false;
    node.left = now;
    ++offline_;
    event.online = false;
    event.reason = record.state == "duplicate"
                       ? std::string("duplicate id")
                       : (record.reason.empty() ? std::string("offline") : record.reason);
    return event;
}

PresenceTracker::Expiry PresenceTracker::expire(Clock::time_point now, Clock::time_point heard_since) {
    std::lock_guard<std::mutex> lock(mutex_);
    Expiry expiry;
    for (auto& [id, node] : nodes_) {
        if (!node.online || node.heartbeat.count() == 0) {
            continue;  // offline, or a component that sends no heartbeat (its will says when it dies)
        }
        const auto deadline = std::max(node.heard, heard_since) + kHeartbeatsMissed * node.heartbeat;
        if (now < deadline) {
            expiry.next = std::min(expiry.next, deadline);
            continue;
        }
        node.online = false;
        node.left = now;
        ++offline_;
        PresenceEvent event;
        event.type = ComponentType::node;
        event.id = id;
        event.online = false;
        event.reason = "no heartbeat for " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          now - std::max(node.heard, heard_since))
                                          .count()) +
                       " ms (it announced one every " + std::to_string(node.heartbeat.count()) + " ms)";
        expiry.offline.push_back(std::move(event));
    }
    return expiry;
}

PresenceTracker::Clock::time_point PresenceTracker::deadline(Clock::time_point heard_since) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto earliest = Clock::time_point::max();
    for (const auto& entry : nodes_) {
        const Node& node = entry.second;
        if (node.online && node.heartbeat.count() != 0) {
            earliest =
                std::min(earliest, std::max(node.heard, heard_since) + kHeartbeatsMissed * node.heartbeat);
        }
    }
    return earliest;
}

std::vector<std::string> PresenceTracker::online() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& [id, node] : nodes_) {
        if (node.online) {
            ids.push_back(id);
        }
    }
    return ids;
}

std::vector<std::string> PresenceTracker::acknowledging() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& [id, node] : nodes_) {
        if (node.online && node.ack != 0) {
            ids.push_back(id);
        }
    }
    return ids;
}

bool PresenceTracker::acknowledges(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = nodes_.find(id);
    return found != nodes_.end() && found->second.online && found->second.ack != 0;
}

std::size_t PresenceTracker::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return nodes_.size();
}

std::uint64_t PresenceTracker::refused() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return refused_;
}

void PresenceTracker::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    nodes_.clear();
    offline_ = 0;
}

// A linear scan, but only when the map is full and something is offline: each eviction needs a component
// taken online then offline first, so a flood of records costs at most one scan per two of them.
bool PresenceTracker::evict_offline_locked() {
    if (offline_ == 0) {
        return false;
    }
    auto oldest = nodes_.end();
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
        if (!it->second.online && (oldest == nodes_.end() || it->second.left < oldest->second.left)) {
            oldest = it;
        }
    }
    if (oldest == nodes_.end()) {
        return false;
    }
    nodes_.erase(oldest);
    --offline_;
    return true;
}

}  // namespace fedbiomed::detail

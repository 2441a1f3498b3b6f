// End-to-end acknowledgement between components of this library (option end_to_end_ack, MQTT 5 only).
//
// The sender puts two MQTT 5 user properties on each message: kIdProperty = "<sender instance>:<sequence>"
// and kAckProperty = the topic where it wants the acknowledgement (fedbiomed-messaging/ack/<type>/<id>).
// The broker strips user properties for MQTT 3.1.1 subscribers, so reference (Python) peers receive the
// very same bytes as without the option. A receiver of this library, connected with MQTT 5, publishes the
// id on the acknowledgement topic once its handler has run, and drops a message whose id it has already
// handled. The sender re-sends until acknowledged or until its deadline.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace fedbiomed::detail {

/// The names of the two MQTT 5 user properties (read and written by the transport, src/transport/).
inline constexpr const char* kIdProperty = "fbm-mid";
inline constexpr const char* kAckProperty = "fbm-ack";

/// What a message carries for end-to-end acknowledgement: its id and where to acknowledge it.
struct EndToEndTag {
    std::string id;
    std::string ack_topic;
};

/// "<instance>:<sequence>".
std::string end_to_end_id(const std::string& instance, std::uint64_t sequence);

/// The sequence of @p id when it was made by @p instance; nullopt otherwise (another sender's, malformed).
std::optional<std::uint64_t> sequence_of(std::string_view id, std::string_view instance);

/// The ids handled recently, to drop duplicates: bounded memory (the oldest ids are forgotten first), so a
/// copy arriving after more than @p capacity other messages would be handled again. Not thread-safe (the
/// dispatcher thread alone uses it).
class RecentIds {
public:
    explicit RecentIds(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

    /// Records @p id; @return false when it was already there (a duplicate).
    bool insert(const std::string& id);

    std::size_t size() const noexcept { return order_.size(); }

    void clear();

private:
    std::size_t capacity_;
    std::unordered_set<std::string> ids_;
    std::deque<std::string> order_;
};

}  // namespace fedbiomed::detail

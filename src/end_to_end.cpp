#include "end_to_end.hpp"

#include <charconv>

namespace fedbiomed::detail {
namespace {

std::string c_string(const MQTTLenString& text) {
    return text.data == nullptr ? std::string() : std::string(text.data, static_cast<std::size_t>(text.len));
}

}  // namespace

std::string end_to_end_id(const std::string& instance, std::uint64_t sequence) {
    std::string id = instance;
    id += ':';
    id += std::to_string(sequence);
    return id;
}

std::optional<std::uint64_t> sequence_of(std::string_view id, std::string_view instance) {
    if (id.size() <= instance.size() + 1 || id.substr(0, instance.size()) != instance ||
        id[instance.size()] != ':') {
        return std::nullopt;
    }
    const std::string_view digits = id.substr(instance.size() + 1);
    std::uint64_t sequence = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), sequence);
    if (error != std::errc() || end != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return sequence;
}

mqtt::properties end_to_end_properties(const std::string& id, const std::string& ack_topic) {
    mqtt::properties properties;
    properties.add(mqtt::property(mqtt::property::USER_PROPERTY, kIdProperty, id));
    properties.add(mqtt::property(mqtt::property::USER_PROPERTY, kAckProperty, ack_topic));
    return properties;
}

std::optional<EndToEndTag> read_end_to_end(const mqtt::message& message) {
    const MQTTProperties& list = message.get_properties().c_struct();
    if (list.count <= 0 || list.array == nullptr) {
        return std::nullopt;
    }
    EndToEndTag tag;
    for (int i = 0; i < list.count; ++i) {
        const MQTTProperty& property = list.array[i];
        if (property.identifier != MQTTPROPERTY_CODE_USER_PROPERTY) {
            continue;
        }
        const std::string name = c_string(property.value.data);
        if (name == kIdProperty) {
            tag.id = c_string(property.value.value);
        } else if (name == kAckProperty) {
            tag.ack_topic = c_string(property.value.value);
        }
    }
    if (tag.id.empty() || tag.ack_topic.empty()) {
        return std::nullopt;
    }
    return tag;
}

std::string pack_tag(const EndToEndTag& tag) {
    // A NUL cannot appear in an MQTT UTF-8 string, so it separates the two safely.
    std::string packed = tag.id;
    packed += '\0';
    packed += tag.ack_topic;
    return packed;
}

std::optional<EndToEndTag> unpack_tag(const std::string& packed) {
    const auto separator = packed.find('\0');
    if (packed.empty() || separator == std::string::npos) {
        return std::nullopt;
    }
    return EndToEndTag{packed.substr(0, separator), packed.substr(separator + 1)};
}

bool RecentIds::insert(const std::string& id) {
    if (!ids_.insert(id).second) {
        return false;
    }
    order_.push_back(id);
    if (order_.size() > capacity_) {
        ids_.erase(order_.front());
        order_.pop_front();
    }
    return true;
}

void RecentIds::clear() {
    ids_.clear();
    order_.clear();
}

}  // namespace fedbiomed::detail

#include "end_to_end.hpp"

#include <charconv>

namespace fedbiomed::detail {
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

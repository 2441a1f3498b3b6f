#include "reply_filter.hpp"

namespace fbm_cli {

using fedbiomed::Json;

namespace {

bool has_string(const Json& message, const char* key, const std::string& expected) noexcept {
    const auto found = message.find(key);
    return found != message.end() && found->is_string() && found->get_ref<const std::string&>() == expected;
}

}  // namespace

ReplyFilter::ReplyFilter(std::string command, std::string researcher_id, std::int64_t sequence)
    : reply_command_(command == "ping" ? "pong" : std::move(command)),
      researcher_id_(std::move(researcher_id)),
      sequence_(sequence) {}

bool ReplyFilter::matches(const Json& reply) const noexcept {
    if (!reply.is_object() || !has_string(reply, "command", reply_command_) ||
        !has_string(reply, "researcher_id", researcher_id_)) {
        return false;
    }
    if (reply_command_ != "pong") {
        return true;
    }
    // Booleans are integers for the reference's validation, but a pong echoing `true` answers no
    // sequence we send, so only a JSON integer can match.
    const auto sequence = reply.find("sequence");
    return sequence != reply.end() && sequence->is_number_integer() &&
           sequence->get<std::int64_t>() == sequence_;
}

bool ReplyFilter::is_error_for_us(const Json& message) const noexcept {
    return message.is_object() && has_string(message, "command", "error") &&
           has_string(message, "researcher_id", researcher_id_);
}

}  // namespace fbm_cli

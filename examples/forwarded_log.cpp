#include "forwarded_log.hpp"

namespace fbm_cli {

using fedbiomed::Json;

namespace {

std::string string_member(const Json& object, const char* key, const std::string& fallback) {
    if (!object.is_object()) {
        return fallback;
    }
    const auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : fallback;
}

}  // namespace

std::string format_forwarded_log(const Json& log_message) {
    const std::string outer_node = string_member(log_message, "node_id", "?");
    const std::string outer_level = string_member(log_message, "level", "?");
    const std::string text = string_member(log_message, "msg", "");

    // The inner record is ordinary JSON written by the node's log handler; a record that does not parse
    // is shown raw rather than dropped.
    const Json record = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("message")) {
        return "[" + outer_node + "] " + outer_level + " " + text;
    }
    return "[" + string_member(record, "node_id", outer_node) + "] " +
           string_member(record, "level", outer_level) + " " + string_member(record, "message", "");
}

}  // namespace fbm_cli

#include "messages.hpp"

#include <stdexcept>

#include "fedbiomed/message.hpp"

namespace fbm_bench {
namespace {

using fedbiomed::Json;

// A 64 KiB log record: the lines a training loop prints, as a node would forward them.
const std::string& large_record() {
    static const std::string record = [] {
        std::string text;
        text.reserve(66000);
        int line = 0;
        while (text.size() < 65200) {
            text += "2024-03-01 10:12:";
            text += std::to_string(10 + line % 50);
            text += ",512 fedbiomed INFO - Epoch: 3 [";
            text += std::to_string(line * 64);
            text += "/60000 (";
            text += std::to_string(line % 100);
            text += "%)] Loss: 0.";
            text += std::to_string(100000 + (line * 7919) % 900000);
            text += "\n";
            ++line;
        }
        return text;
    }();
    return record;
}

}  // namespace

Kind parse_kind(std::string_view text) {
    if (text == "small") {
        return Kind::small;
    }
    if (text == "large") {
        return Kind::large;
    }
    throw std::invalid_argument("unknown message kind '" + std::string(text) + "' (small or large)");
}

const char* kind_name(Kind kind) noexcept {
    return kind == Kind::small ? "small" : "large";
}

std::string_view stream_command(Kind kind) noexcept {
    return kind == Kind::small ? fedbiomed::TrainReply::kCommand : fedbiomed::LogMessage::kCommand;
}

Json stream_message(Kind kind, std::int64_t index, const std::string& node_id) {
    if (kind == Kind::small) {
        // What a node sends at the end of a training round (spec: TrainReply).
        fedbiomed::TrainReply reply;
        reply.researcher_id = std::string(kStreamResearcher);
        reply.job_id = "job_1";
        reply.state_id = "st_" + std::to_string(index % 1000);
        reply.success = true;
        reply.node_id = node_id;
        reply.dataset_id = "ds_1";
        reply.params_url = "http://fbm/p_" + std::to_string(index) + ".mpk";
        reply.timing = Json::object({{"rtime_training", 12.5 + static_cast<double>(index % 97) / 8.0}});
        reply.sample_size = index;
        return std::move(reply).to_json();
    }
    fedbiomed::LogMessage log;
    log.researcher_id = std::string(kStreamResearcher);
    log.node_id = node_id;
    log.level = "INFO";
    log.msg = "seq " + std::to_string(index) + "\n" + large_record();
    return std::move(log).to_json();
}

bool is_stream_message(const Json& msg, Kind kind) {
    const auto command = msg.find("command");
    const auto researcher = msg.find("researcher_id");
    return command != msg.end() && researcher != msg.end() && command->is_string() &&
           researcher->is_string() && command->get_ref<const std::string&>() == stream_command(kind) &&
           researcher->get_ref<const std::string&>() == kStreamResearcher;
}

Json ping_message(const std::string& researcher_id, std::int64_t sequence) {
    fedbiomed::PingRequest ping;
    ping.researcher_id = researcher_id;
    ping.sequence = sequence;
    return std::move(ping).to_json();
}

Json pong_message(const Json& ping, const std::string& node_id) {
    fedbiomed::PingReply pong;
    pong.researcher_id = ping.value("researcher_id", std::string());
    pong.node_id = node_id;
    pong.success = true;
    pong.sequence = ping.value("sequence", std::int64_t{0});
    return std::move(pong).to_json();
}

}  // namespace fbm_bench

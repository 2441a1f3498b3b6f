#include "log_forwarder.hpp"

#include <ctime>
#include <utility>

#include "fedbiomed/json.hpp"
#include "fedbiomed/version.hpp"

namespace fedbiomed::detail {
const char* python_level_name(spdlog::level::level_enum level) noexcept {
    switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "DEBUG";
    case spdlog::level::info: return "INFO";
    case spdlog::level::warn: return "WARNING";
    case spdlog::level::err: return "ERROR";
    case spdlog::level::critical: return "CRITICAL";
    default: return "NOTSET";
    }
}

std::string python_asctime(std::chrono::system_clock::time_point time) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
    std::tm local{};
    ::localtime_r(&seconds, &local);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
    char buffer[40];
    const std::size_t length = std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &local);
    std::string text(buffer, length);
    const auto ms = static_cast<int>(millis < 0 ? millis + 1000 : millis);
    text += ',';
    text += static_cast<char>('0' + ms / 100);
    text += static_cast<char>('0' + (ms / 10) % 10);
    text += static_cast<char>('0' + ms % 10);
    return text;
}

std::string format_log_payload(const std::string& node_id, spdlog::level::level_enum level,
                               std::chrono::system_clock::time_point time, std::string_view text) {
    const char* level_name = python_level_name(level);
    Json inner = Json::object();
    inner["asctime"] = python_asctime(time);
    inner["node_id"] = node_id;
    inner["name"] = "fedbiomed";
    inner["level"] = level_name;
    inner["message"] = std::string(text);
    Json outer = Json::object();
    outer["command"] = "log";
    outer["level"] = level_name;
    outer["msg"] = serialize_msg(inner);
    outer["node_id"] = node_id;
    outer["researcher_id"] = "<unknown>";
    outer["protocol_version"] = std::string(kProtocolVersion);
    return serialize_msg(outer);
}

LogForwarder::LogForwarder(std::string node_id, Publish publish, Counters& counters, Rate rate)
    : node_id_(std::move(node_id)),
      publish_(std::move(publish)),
      counters_(counters),
      limiter_(rate.per_second, rate.burst) {}

void LogForwarder::count_reentrant_drop() noexcept {
    Counters::bump(counters_.logs_dropped);
}

void LogForwarder::sink_it_(const spdlog::details::log_msg& msg) {
    try {
        // Bounded: a node logs about every bad payload it gets, and a hostile client chooses how many.
        const auto allowance = limiter_.take(RateLimiter::Clock::now());
        if (!allowance.allowed) {
            Counters::bump(counters_.logs_rate_limited);
            Counters::bump(counters_.logs_dropped);
            return;
        }
        if (allowance.refused_before != 0) {
            publish_(format_log_payload(node_id_, spdlog::level::warn, msg.time,
                                        std::to_string(allowance.refused_before) +
                                            " log record(s) not forwarded (rate limit); the node's own log "
                                            "has them"));
        }
        std::string payload = format_log_payload(node_id_, msg.level, msg.time,
                                                 std::string_view(msg.payload.data(), msg.payload.size()));
        publish_(std::move(payload));
    } catch (...) {
        // Never throw into the logging call; the record is lost and counted.
        Counters::bump(counters_.logs_dropped);
    }
}

}  // namespace fedbiomed::detail

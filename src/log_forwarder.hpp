// Log forwarding over MQTT (spec section 9): an spdlog sink that publishes each record of INFO and above
// as a reference `log` message on general/logger.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include "counters.hpp"
#include "rate_limiter.hpp"

namespace fedbiomed::detail {

/// The payload of a `log` message for one record, byte-compatible with the reference:
/// {"command": "log", "level": L, "msg": "<JSON text: asctime, node_id, name, level, message>",
///  "node_id": N, "researcher_id": "<unknown>", "protocol_version": "1"}.
/// @throws MessageError (FB601) when @p text is not valid UTF-8.
std::string format_log_payload(const std::string& node_id, spdlog::level::level_enum level,
                               std::chrono::system_clock::time_point time, std::string_view text);

/// The reference's level name: DEBUG, INFO, WARNING, ERROR, CRITICAL.
const char* python_level_name(spdlog::level::level_enum level) noexcept;

/// "YYYY-MM-DD HH:MM:SS,mmm" in local time, as Python's logging asctime.
std::string python_asctime(std::chrono::system_clock::time_point time);

/// The sink. Runs on whatever thread logs; never blocks on the network: @ref Publish hands the payload to
/// Paho asynchronously and the outcome is counted later (logs_forwarded / logs_dropped).
class LogForwarder final : public spdlog::sinks::base_sink<std::mutex> {
public:
    /// Hands a payload to the client without waiting; false when it could not (then already counted).
    using Publish = std::function<void(std::string&& payload)>;

    /// How many records per second may leave (a token bucket; see rate_limiter.hpp). per_second 0: all.
    struct Rate {
        double per_second = 0.0;
        double burst = 1.0;
    };

    LogForwarder(std::string node_id, Publish publish, Counters& counters, Rate rate);

    /// A record the hub kept away from this forwarder because it was logged from inside the hub (while a
    /// record was being forwarded or written by another hub sink): forwarding it could recurse.
    void count_reentrant_drop() noexcept;

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override {}

private:
    std::string node_id_;
    Publish publish_;
    Counters& counters_;
    RateLimiter limiter_;
};

}  // namespace fedbiomed::detail

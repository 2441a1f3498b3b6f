// The Fed-BioMed-shaped messages the benchmark sends. Every client (this library, raw Paho, the mosquitto
// tools) builds them the same way (the message structs of message.hpp, then to_json()) and checks them the
// same way on receipt (decode, protocol-version check, command): the JSON work is identical, so the
// differences measured are the messaging layers'.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fedbiomed/json.hpp"

namespace fbm_bench {

/// Marks the benchmark's own stream messages (a node may also forward its log records on the same bus).
inline constexpr std::string_view kStreamResearcher = "res_bench";

/// Which stream message a throughput workload sends.
enum class Kind {
    small,  ///< a train reply (the end of a round on a node), about 280 bytes on the wire
    large,  ///< a log message carrying a 64 KiB record (a long training log), about 64 KiB on the wire
};

Kind parse_kind(std::string_view text);
const char* kind_name(Kind kind) noexcept;

/// Builds stream message number @p index of @p kind from node @p node_id (a fresh Json each time, as a
/// node would).
fedbiomed::Json stream_message(Kind kind, std::int64_t index, const std::string& node_id);

/// The command of @p kind's messages ("train" or "log").
std::string_view stream_command(Kind kind) noexcept;

/// True when @p msg is one of the benchmark's stream messages of @p kind.
bool is_stream_message(const fedbiomed::Json& msg, Kind kind);

/// The researcher's ping (a PingRequest) with @p sequence.
fedbiomed::Json ping_message(const std::string& researcher_id, std::int64_t sequence);

/// The node's pong (a PingReply) for @p ping.
fedbiomed::Json pong_message(const fedbiomed::Json& ping, const std::string& node_id);

}  // namespace fbm_bench

/// @file logger.hpp
/// @brief The library logger ("fedbiomed", spdlog), its levels, and where log forwarding plugs in.
///
/// Every component of this library logs through one spdlog logger named "fedbiomed". It has two sinks:
/// - a console sink (stderr) with its own level, WARNING at first, set by set_log_level();
/// - a hub through which sinks added at run time receive records (add_log_sink(), and the log forwarder
///   of a node's Messaging). spdlog's own `logger::sinks()` vector must not be changed while other threads
///   log; the hub is the thread-safe way to add and remove sinks.
/// The logger's own level is kept at the lowest level any sink wants, so a sink at INFO receives INFO
/// records while the console stays at WARNING. Prefer set_log_level() to `library_logger()->set_level()`:
/// the console sink filters by its own level.
///
/// Log forwarding over MQTT (spec section 9): a node's Messaging (MessagingOptions::forward_logs) adds,
/// on each successful start(), a sink at INFO that publishes every record as a reference `log` message on
/// general/logger, and removes it in stop(). As in the reference there is at most one such forwarder per
/// process (the first node started); records logged while a record is being forwarded are never forwarded
/// (no recursion); records that cannot be sent are counted in MessagingStats::logs_dropped. Publication is
/// asynchronous: the logging thread never waits for the network or for the broker's acknowledgement. It
/// may wait briefly on locks, though: records reach the hub's sinks (the forwarder and every add_log_sink()
/// sink) one at a time under a process-wide mutex, and the forwarder takes its node's send mutex to hand
/// the record to the MQTT client, which another thread may hold while handing over its own publications.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/fwd.h>

namespace fedbiomed {

/// @brief The process-wide library logger, created on first use with a console sink (stderr) at WARNING.
///
/// Thread-safe; never throws to its caller (spdlog's error handler reports sink failures on stderr).
/// @throws nothing after the first call; the first call may throw std::bad_alloc.
std::shared_ptr<spdlog::logger> library_logger();

/// @brief Sets the level of the console sink of the library logger from a case-insensitive name: DEBUG,
/// INFO, WARNING (or WARN), ERROR, CRITICAL. Other sinks (log forwarding, add_log_sink()) keep theirs.
/// @return false (and the level is set to WARNING, as the reference does) when @p level is unknown.
/// @throws nothing.
bool set_log_level(std::string_view level) noexcept;

/// @brief Adds @p sink to the library logger, thread-safely, even while other threads log. The sink keeps
/// its own level and formatter (records at or above its level reach it). No-op for null or a sink
/// already added. @throws std::bad_alloc only.
void add_log_sink(std::shared_ptr<spdlog::sinks::sink> sink);

/// @brief Removes a sink added with add_log_sink(); when it returns, no thread is still writing to it.
/// @throws nothing but std::bad_alloc.
void remove_log_sink(const std::shared_ptr<spdlog::sinks::sink>& sink);

}  // namespace fedbiomed

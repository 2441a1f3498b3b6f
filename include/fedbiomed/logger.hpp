/// @file logger.hpp
/// @brief The library logger ("fedbiomed", spdlog) and the levels it understands.
///
/// Every component of this library logs through one spdlog logger named "fedbiomed". Applications may add
/// sinks to it or replace its level. Log forwarding over MQTT (nodes, spec section 9) is installed by
/// Messaging; see messaging.hpp.
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

/// @brief Sets the level of the library logger from a case-insensitive name: DEBUG, INFO, WARNING
/// (or WARN), ERROR, CRITICAL.
/// @return false (and the level is set to WARNING, as the reference does) when @p level is unknown.
/// @throws nothing.
bool set_log_level(std::string_view level) noexcept;

}  // namespace fedbiomed

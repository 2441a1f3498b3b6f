// Topic names of the reference (spec section 1) and the checks that keep ids from changing the topic tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fedbiomed/messaging.hpp"

namespace fedbiomed::detail {

inline constexpr std::string_view kTopicPrefix = "general/";
inline constexpr std::string_view kNodesTopic = "general/nodes";
inline constexpr std::string_view kResearcherTopic = "general/researcher";
inline constexpr std::string_view kMonitoringTopic = "general/monitoring";
inline constexpr std::string_view kLoggerTopic = "general/logger";

/// The default send topic of a component type: general/nodes (researcher), general/researcher (node).
std::string default_topic(ComponentType type);

/// The topics a component subscribes to, in the reference's order.
std::vector<std::string> subscriptions(ComponentType type, const std::string& id);

/// "general/<client>" after checking that @p client is one topic level (non-empty, no '/', '+', '#', NUL).
/// Reserved names are allowed here: the reference sends add_scalar with client = "monitoring".
/// @throws MessagingError (FB103).
std::string client_topic(const std::string& client);

/// @p text with control characters shown as \xNN (for error messages).
std::string printable(std::string_view text);

/// Why @p level cannot be a single topic level, or an empty string when it can.
std::string topic_level_problem(std::string_view level);

}  // namespace fedbiomed::detail

// Topic names of the reference (spec section 1) and the checks that keep ids from changing the topic tree.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fedbiomed/messaging_options.hpp"

namespace fedbiomed::detail {

inline constexpr std::string_view kTopicPrefix = "general/";
inline constexpr std::string_view kNodesTopic = "general/nodes";
inline constexpr std::string_view kResearcherTopic = "general/researcher";
inline constexpr std::string_view kMonitoringTopic = "general/monitoring";
inline constexpr std::string_view kLoggerTopic = "general/logger";

/// The library's own topics, outside the reference tree: reference components never subscribe to them.
inline constexpr std::string_view kPrivatePrefix = "fedbiomed-messaging/";
inline constexpr std::string_view kPresencePrefix = "fedbiomed-messaging/presence/";
inline constexpr std::string_view kAckPrefix = "fedbiomed-messaging/ack/";

/// "fedbiomed-messaging/presence/<node|researcher>/<id>": where a component announces itself.
std::string presence_topic(ComponentType type, const std::string& id);

/// "fedbiomed-messaging/presence/<node|researcher>/+": the announcements of every component of @p type.
std::string presence_filter(ComponentType type);

/// "fedbiomed-messaging/presence/node/+": what researchers follow.
std::string node_presence_filter();

/// The component id in a presence topic of @p type ("fedbiomed-messaging/presence/<type>/<id>"), or empty.
std::string id_of_presence_topic(const std::string& topic, ComponentType type);

/// The component id in a node presence topic ("fedbiomed-messaging/presence/node/<id>"), or empty.
std::string node_of_presence_topic(const std::string& topic);

/// "fedbiomed-messaging/ack/<node|researcher>/<id>": where a sender wants end-to-end acknowledgements;
/// each receiver acknowledges on this topic followed by "/<its own id>", so that a broker ACL can confine
/// a receiver to acknowledgements in its own name (docs/deploy/fedbiomed.acl).
std::string ack_topic(ComponentType type, const std::string& id);

/// ack_topic() followed by "/+": what a sender subscribes to.
std::string ack_filter(ComponentType type, const std::string& id);

/// True when @p topic is an ack_topic() (a received message names it, and the receiver publishes under
/// it: it must not make us publish anywhere else): kAckPrefix, "node" or "researcher", one valid level.
bool is_ack_topic(const std::string& topic);

/// The stable client id of a component with a persistent session: "fbm-node-<id>", "fbm-researcher-<id>".
std::string default_client_id(ComponentType type, const std::string& id);

/// The client id of the clean session a component falls back to when the broker cannot resume its
/// persistent session (connection_supervisor.cpp): RabbitMQ refuses a clean session under the persistent
/// session's own client id too while the node holding that session is down. Derived, not random, so that
/// two processes with the same id still push each other off there.
std::string fallback_client_id(const std::string& client_id);

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

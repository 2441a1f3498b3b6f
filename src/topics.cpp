#include "topics.hpp"

#include <array>

#include "fedbiomed/errors.hpp"

namespace fedbiomed {
namespace detail {

std::string default_topic(ComponentType type) {
    return std::string(type == ComponentType::researcher ? kNodesTopic : kResearcherTopic);
}

std::vector<std::string> subscriptions(ComponentType type, const std::string& id) {
    if (type == ComponentType::researcher) {
        return {std::string(kResearcherTopic), std::string(kMonitoringTopic), std::string(kLoggerTopic)};
    }
    return {std::string(kNodesTopic), std::string(kTopicPrefix) + id};
}

std::string presence_topic(ComponentType type, const std::string& id) {
    std::string topic(kPresencePrefix);
    topic += type == ComponentType::node ? "node/" : "researcher/";
    topic += id;
    return topic;
}

std::string presence_filter(ComponentType type) {
    return std::string(kPresencePrefix) + (type == ComponentType::node ? "node/+" : "researcher/+");
}

std::string node_presence_filter() {
    return presence_filter(ComponentType::node);
}

std::string id_of_presence_topic(const std::string& topic, ComponentType type) {
    const std::string prefix =
        std::string(kPresencePrefix) + (type == ComponentType::node ? "node/" : "researcher/");
    if (topic.size() <= prefix.size() || topic.compare(0, prefix.size(), prefix) != 0) {
        return {};
    }
    std::string id = topic.substr(prefix.size());
    return topic_level_problem(id).empty() ? id : std::string();
}

std::string node_of_presence_topic(const std::string& topic) {
    return id_of_presence_topic(topic, ComponentType::node);
}

std::string ack_topic(ComponentType type, const std::string& id) {
    std::string topic(kAckPrefix);
    topic += type == ComponentType::node ? "node/" : "researcher/";
    topic += id;
    return topic;
}

std::string ack_filter(ComponentType type, const std::string& id) {
    return ack_topic(type, id) + "/+";
}

bool is_ack_topic(const std::string& topic) {
    if (topic.size() <= kAckPrefix.size() || topic.compare(0, kAckPrefix.size(), kAckPrefix) != 0) {
        return false;
    }
    const std::string_view rest = std::string_view(topic).substr(kAckPrefix.size());
    for (const std::string_view type : {std::string_view("node/"), std::string_view("researcher/")}) {
        if (rest.substr(0, type.size()) == type) {
            return topic_level_problem(rest.substr(type.size())).empty();
        }
    }
    return false;
}

std::string default_client_id(ComponentType type, const std::string& id) {
    return std::string(type == ComponentType::node ? "fbm-node-" : "fbm-researcher-") + id;
}

std::string fallback_client_id(const std::string& client_id) {
    return client_id + "-fallback";
}

std::string topic_level_problem(std::string_view level) {
    if (level.empty()) {
        return "it is empty";
    }
    for (const char c : level) {
        switch (c) {
        case '/': return "it contains '/' (a topic level separator)";
        case '+': return "it contains '+' (an MQTT wildcard)";
        case '#': return "it contains '#' (an MQTT wildcard)";
        case '\0': return "it contains a NUL character";
        default: break;
        }
    }
    return {};
}

std::string printable(std::string_view text) {
    // Error texts travel through what() (a C string) and logs: show control bytes instead of cutting there.
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            static constexpr char kHex[] = "0123456789abcdef";
            out += "\\x";
            out += kHex[byte >> 4];
            out += kHex[byte & 0x0f];
        } else {
            out += c;
        }
    }
    return out;
}

std::string client_topic(const std::string& client) {
    const std::string problem = topic_level_problem(client);
    if (!problem.empty()) {
        throw MessagingError(ErrorNumbers::FB103,
                             "invalid client '" + printable(client) + "' for send_message: " + problem);
    }
    std::string topic;
    topic.reserve(kTopicPrefix.size() + client.size());
    topic.append(kTopicPrefix).append(client);
    return topic;
}

}  // namespace detail

void validate_component_id(const std::string& id) {
    std::string problem = detail::topic_level_problem(id);
    if (problem.empty() && id.find('.') != std::string::npos) {
        // RabbitMQ's MQTT plugin maps topics to AMQP routing keys, where '.' separates words: it turns
        // "general/a.b" into "general/a/b", so such a node would never receive what is sent to it there.
        problem = "it contains '.' (RabbitMQ turns it into '/', a topic level separator)";
    }
    if (problem.empty()) {
        // A node called "nodes" would receive broadcasts twice, one called "researcher" every reply.
        static constexpr std::array<std::string_view, 4> kReserved = {"nodes", "researcher", "monitoring",
                                                                      "logger"};
        for (const auto reserved : kReserved) {
            if (id == reserved) {
                problem = "it is a reserved topic name";
            }
        }
    }
    if (!problem.empty()) {
        throw MessagingError(ErrorNumbers::FB103, "invalid component id '" + detail::printable(id) +
                                                      "': " + problem +
                                                      " (an id is one MQTT topic level: general/<id>)");
    }
}

}  // namespace fedbiomed

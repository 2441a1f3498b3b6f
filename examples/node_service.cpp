#include "node_service.hpp"

#include <cstdint>

#include <spdlog/spdlog.h>

#include "fedbiomed/logger.hpp"
#include "fedbiomed/message.hpp"

namespace fbm_cli {

using fedbiomed::ErrorNumbers;
using fedbiomed::Json;

namespace {

// The two factory calls, in one place: validation of what arrives, construction of what leaves.
Json validate_request(const Json& request) {
    return fedbiomed::to_json(fedbiomed::NodeMessages::format_incoming_message(request));
}

Json build_outgoing(Json body) {
    return fedbiomed::to_json(fedbiomed::NodeMessages::format_outgoing_message(std::move(body)));
}

NodeReply error_reply(ErrorNumbers errnum, std::string extra_msg, std::string researcher_id) {
    NodeReply reply;
    reply.is_error = true;
    reply.errnum = errnum;
    reply.extra_msg = std::move(extra_msg);
    reply.researcher_id = std::move(researcher_id);
    return reply;
}

}  // namespace

std::string error_researcher_id(const Json& request) {
    if (request.is_object()) {
        const auto found = request.find("researcher_id");
        if (found != request.end() && found->is_string() && !found->get_ref<const std::string&>().empty()) {
            return found->get<std::string>();
        }
    }
    return kUnknownResearcherId;
}

NodeService::NodeService(std::string node_id, DatasetCatalog catalog)
    : node_id_(std::move(node_id)), catalog_(std::move(catalog)) {}

NodeReply NodeService::reply(const std::string& researcher_id, Json body) const {
    try {
        NodeReply result;
        result.message = build_outgoing(std::move(body));
        result.researcher_id = researcher_id;
        return result;
    } catch (const fedbiomed::FedbiomedError& e) {
        // The reference's Node.reply turns a reply it cannot build into an FB601 error message.
        fedbiomed::library_logger()->error("cannot build the reply: {}", e.what());
        return error_reply(ErrorNumbers::FB601, e.what(), researcher_id);
    }
}

std::optional<NodeReply> NodeService::handle(const Json& request) const {
    const auto logger = fedbiomed::library_logger();
    const std::string rid = error_researcher_id(request);
    if (!request.is_object() || !request.contains("command")) {
        logger->warn("request without a command (FB301)");
        return error_reply(ErrorNumbers::FB301, "'command' property was not found", rid);
    }
    Json valid;
    try {
        valid = validate_request(request);
    } catch (const fedbiomed::FedbiomedError& e) {
        logger->warn("malformed request (FB301): {}", e.what());
        return error_reply(ErrorNumbers::FB301, "Message was not properly formatted", rid);
    }

    const std::string command = valid.at("command").get<std::string>();
    const std::string researcher_id = valid.at("researcher_id").get<std::string>();
    if (command == "ping") {
        logger->info("ping from {} (sequence {})", researcher_id, valid.at("sequence").dump());
        return reply(researcher_id, Json{{"researcher_id", researcher_id},
                                         {"node_id", node_id_},
                                         {"success", true},
                                         {"sequence", valid.at("sequence")},
                                         {"command", "pong"}});
    }
    if (command == "search") {
        const Json& tags = valid.at("tags");
        Json databases = catalog_.search(tags);
        if (databases.empty()) {
            // As the reference: a node with no matching dataset stays silent.
            logger->info("search from {} for tags {}: no matching dataset", researcher_id, tags.dump());
            return std::nullopt;
        }
        logger->info("search from {} for tags {}: {} matching dataset(s)", researcher_id, tags.dump(),
                     databases.size());
        const auto count = static_cast<std::int64_t>(databases.size());
        return reply(researcher_id, Json{{"success", true},
                                         {"command", "search"},
                                         {"node_id", node_id_},
                                         {"researcher_id", researcher_id},
                                         {"databases", std::move(databases)},
                                         {"count", count}});
    }
    if (command == "list") {
        Json databases = catalog_.list();
        logger->info("list from {}: {} dataset(s)", researcher_id, databases.size());
        const auto count = static_cast<std::int64_t>(databases.size());
        return reply(researcher_id, Json{{"success", true},
                                         {"command", "list"},
                                         {"node_id", node_id_},
                                         {"researcher_id", researcher_id},
                                         {"databases", std::move(databases)},
                                         {"count", count}});
    }
    logger->warn("{} request from {} is not served by this node (FB301)", command, researcher_id);
    return error_reply(ErrorNumbers::FB301, "Command `" + command + "` is not implemented", rid);
}

std::optional<NodeReply> NodeService::handle_fault(const fedbiomed::MessagingFault& fault) const {
    if (fault.topic.empty()) {
        return std::nullopt;
    }
    switch (fault.code) {
    case ErrorNumbers::FB601:
        return error_reply(ErrorNumbers::FB301, "Not able to deserialize the message", kUnknownResearcherId);
    case ErrorNumbers::FB104:
    case ErrorNumbers::FB625: return error_reply(fault.code, fault.message, kUnknownResearcherId);
    default: return std::nullopt;
    }
}

}  // namespace fbm_cli

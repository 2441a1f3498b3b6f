/// @file node_service.hpp
/// @brief What the demo node answers to each request: the reference node's ping / search / list handling
/// and its FB301 error replies (spec sections 7 and 10), without any transport.
#pragma once

#include <optional>
#include <string>

#include "dataset_catalog.hpp"
#include "fedbiomed/errors.hpp"
#include "fedbiomed/json.hpp"
#include "fedbiomed/messaging.hpp"

namespace fbm_cli {

/// @brief One answer of the node: a reply message, or an `error` message to send with send_error().
struct NodeReply {
    /// True: send an `error` message (errnum, extra_msg, researcher_id); false: send @ref message.
    bool is_error = false;
    /// The reply, built and validated by NodeMessages::format_outgoing_message (when !is_error).
    fedbiomed::Json message;
    fedbiomed::ErrorNumbers errnum = fedbiomed::ErrorNumbers::FB301;  ///< when is_error
    std::string extra_msg;                                            ///< when is_error
    /// The researcher the answer is for: the request's researcher_id, or "unknown_researcher_id".
    std::string researcher_id;
};

/// @brief The reference's researcher id for error replies to a request that names none.
inline constexpr const char* kUnknownResearcherId = "unknown_researcher_id";

/// @brief The node's request handling, as the reference node does it for ping, search and list.
///
/// Stateless apart from its immutable catalogue: handle() may run on any thread (the node calls it on
/// the Messaging dispatcher thread). Logs one line per request on the library logger, which a
/// connected node forwards to the researchers.
class NodeService {
public:
    /// @brief A node named @p node_id holding @p catalog. @throws std::bad_alloc only.
    NodeService(std::string node_id, DatasetCatalog catalog);

    /// @brief The answer to one inbound request, or std::nullopt when the reference sends none (a search
    /// that matches no dataset).
    ///
    /// - no `command` key: FB301 "'command' property was not found";
    /// - NodeMessages::format_incoming_message rejects it (unknown command, missing, extra or mistyped
    ///   field): FB301 "Message was not properly formatted";
    /// - a valid request this node does not serve (train, approval, ...): FB301 "Command `<c>` is not
    ///   implemented";
    /// - ping: a pong echoing researcher_id and sequence; search: the datasets holding every requested
    ///   tag, without `path` (no reply if none); list: every dataset without `path` and `dtypes`;
    /// - a reply the outgoing factory refuses: FB601 with the factory's text.
    /// The error's researcher_id is the request's when it is a non-empty string, else
    /// "unknown_researcher_id". @throws std::bad_alloc only.
    std::optional<NodeReply> handle(const fedbiomed::Json& request) const;

    /// @brief The answer to a payload the library could not deliver (MessagingFault): an undecodable
    /// payload on a request topic gets FB301 "Not able to deserialize the message"; an incompatible
    /// protocol version gets the fault's own code and text, so the researcher learns why it is not
    /// served (the reference stays silent there). Other faults get no answer. @throws std::bad_alloc only.
    std::optional<NodeReply> handle_fault(const fedbiomed::MessagingFault& fault) const;

    /// @brief This node's id. @throws nothing.
    const std::string& node_id() const noexcept { return node_id_; }

    /// @brief This node's datasets. @throws nothing.
    const DatasetCatalog& catalog() const noexcept { return catalog_; }

private:
    NodeReply reply(const std::string& researcher_id, fedbiomed::Json body) const;

    std::string node_id_;
    DatasetCatalog catalog_;
};

/// @brief The researcher id the reference puts in an error reply to @p request: its `researcher_id` when
/// that is a non-empty string, else "unknown_researcher_id". @throws std::bad_alloc only.
std::string error_researcher_id(const fedbiomed::Json& request);

}  // namespace fbm_cli

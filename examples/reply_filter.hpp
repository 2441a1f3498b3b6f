/// @file reply_filter.hpp
/// @brief Which replies answer the researcher's current request (the reference has no request id).
#pragma once

#include <cstdint>
#include <string>

#include "fedbiomed/json.hpp"

namespace fbm_cli {

/// @brief Matches replies to one request of fbm-researcher.
///
/// The protocol carries no request id, so a reply is matched on what it echoes: a pong must carry our
/// researcher_id and our sequence (the reference only checks the command, see spec section 12 item 5);
/// a search or list reply must carry our researcher_id and the request's command. Immutable: usable from
/// any thread.
class ReplyFilter {
public:
    /// @brief A filter for the request @p command ("ping", "search" or "list") sent by @p researcher_id
    /// with @p sequence (used for ping only). @throws std::bad_alloc only.
    ReplyFilter(std::string command, std::string researcher_id, std::int64_t sequence);

    /// @brief The command of the replies this request expects: "pong" for ping, else the request's.
    /// @throws nothing.
    const std::string& reply_command() const noexcept { return reply_command_; }

    /// @brief True when @p reply (a message validated by ResearcherMessages::format_incoming_message)
    /// answers this request. @throws nothing.
    bool matches(const fedbiomed::Json& reply) const noexcept;

    /// @brief True when @p message is an `error` message addressed to this researcher. @throws nothing.
    bool is_error_for_us(const fedbiomed::Json& message) const noexcept;

private:
    std::string reply_command_;
    std::string researcher_id_;
    std::int64_t sequence_;
};

}  // namespace fbm_cli

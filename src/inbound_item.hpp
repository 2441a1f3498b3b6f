// What travels through the inbound queue to the dispatcher thread: one typed item per kind of news, so that
// nothing has to be encoded in a string and no side queue is needed for connection events.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "end_to_end.hpp"
#include "fedbiomed/errors.hpp"
#include "fedbiomed/messaging_events.hpp"

namespace fedbiomed::detail {

/// A message on a reference topic (general/...), copied out of the client's structures.
struct InboundMessage {
    std::string topic;
    std::string payload;
    std::optional<EndToEndTag> tag;  ///< its end-to-end id and acknowledgement topic, when it carries one
    /// The component whose signature was verified on receipt (MessagingOptions::signing): it must be the
    /// decoded message's sender. Empty: accepted unsigned.
    std::string signer;
};

/// A presence announcement (fedbiomed-messaging/presence/...).
struct InboundPresence {
    std::string topic;
    std::string payload;
    bool retained = false;  ///< delivered by the broker from its retained store (not published just now)
};

/// A fault to report (noticed on a client thread, the supervisor, or the publication path).
struct Fault {
    ErrorNumbers code = ErrorNumbers::FB100;
    std::string text;   ///< the full text, beginning with the code's text
    std::string topic;  ///< the payload's topic, when it is about a payload
};

/// A change of the connection state, delivered at its place among the messages (the order things happened).
struct StateChange {
    ConnectionEvent event;
};

/// Outbox overflows happened since the last report: the publisher tells how many when this is processed
/// (aggregated, so that a flood of refused publications cannot crowd inbound messages out of the queue).
struct OverflowReport {};

/// Time to take offline the nodes whose heartbeats stopped: done on the dispatcher thread, after the
/// presence records already queued (one of them may be the heartbeat that keeps a node online).
struct PresenceCheck {};

using InboundItem =
    std::variant<InboundMessage, InboundPresence, Fault, StateChange, OverflowReport, PresenceCheck>;

}  // namespace fedbiomed::detail

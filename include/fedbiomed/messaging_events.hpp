/// @file messaging_events.hpp
/// @brief What a Messaging object reports besides messages: faults, connection-state changes, presence
/// announcements, its counters, and the callback types that receive them (see messaging.hpp for the
/// threads they run on).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fedbiomed/errors.hpp"
#include "fedbiomed/json.hpp"
#include "fedbiomed/messaging_options.hpp"

namespace fedbiomed {

/// @brief Something that went wrong in inbound traffic, a callback, the connection or the outbox, reported
/// instead of thrown.
struct MessagingFault {
    /// FB601 undecodable payload, not an object, or larger than max_payload_bytes (also a malformed
    /// presence announcement); FB104 / FB625 incompatible or mistyped protocol version; FB104 a publication
    /// refused by its signature (MessagingOptions::signing: forged, tampered, replayed, stale, unsigned or
    /// unknown signer with require_signed, signer not the sender; one per cause per second); FB100 inbound
    /// queue overflow (oldest messages dropped) or connection to the broker lost; FB103 an exception from the
    /// MessageHandler (or that exception's own code when it is a FedbiomedError), or publications refused
    /// or dropped because the outbox was full (one fault per burst, with the counts: "outbox full (...):
    /// N new message(s) not sent, M older message(s) dropped"); FB102 no end-to-end acknowledgement in time.
    /// Sticky failures (no reconnection until stop() then start()) keep the code of their cause: FB101 when
    /// the broker refused a reconnection (credentials, authorisation) or another process uses the same
    /// component id; FB100 when the connection was lost with reconnect.enabled false (reported after the
    /// FB100 of the loss itself) or when the connection supervisor itself failed.
    ErrorNumbers code = ErrorNumbers::FB100;
    std::string message;  ///< full text, beginning with the code's text
    std::string topic;    ///< topic the payload arrived on (empty when not about a payload)
};

/// @brief Counters since construction; they only grow.
struct MessagingStats {
    std::uint64_t received = 0;          ///< payloads that arrived on the reference topics (general/...)
    std::uint64_t handled = 0;           ///< messages handed to the MessageHandler (even if it then threw)
    std::uint64_t decode_errors = 0;     ///< payloads refused as FB601 (not JSON, not an object, too large)
    std::uint64_t version_errors = 0;    ///< messages refused for their protocol version (FB104/FB625)
    std::uint64_t version_warnings = 0;  ///< messages accepted with a version warning
    std::uint64_t handler_errors = 0;    ///< exceptions thrown by the MessageHandler
    /// Inbound messages dropped: the inbound queue was full (inbound_queue_capacity), or holding them would
    /// have exceeded inbound_max_bytes (also counted in inbound_bound_drops).
    std::uint64_t inbound_dropped = 0;
    /// Payload bytes of the inbound messages held now: queued for the dispatcher thread and being handled
    /// (MessagingOptions::inbound_max_bytes bounds it).
    std::uint64_t inbound_bytes = 0;
    std::uint64_t inbound_bytes_peak = 0;  ///< the highest inbound_bytes since the object was made
    /// Inbound messages for which the client's receive thread was held, so that the broker kept what
    /// followed (QoS 1/2 messages arriving while the held bytes were above half of inbound_max_bytes).
    std::uint64_t inbound_held_back = 0;
    /// Inbound messages dropped because holding them would have exceeded inbound_max_bytes: at QoS 0, or
    /// at QoS 1/2 when no room came within the hold's patience (see MessagingOptions::inbound_max_bytes).
    std::uint64_t inbound_bound_drops = 0;
    std::uint64_t published = 0;         ///< messages the broker acknowledged (or written, at QoS 0)
    std::uint64_t publish_failures = 0;  ///< messages that failed (not connected, refused, lost, stopped)
    std::uint64_t logs_forwarded = 0;    ///< log records published on general/logger (acknowledged)
    /// Log records that reached the forwarder but were not delivered: not connected, refused, still pending
    /// at stop() or at a lost connection, unencodable, or logged from inside the logging path (never
    /// forwarded: no recursion).
    std::uint64_t logs_dropped = 0;
    std::uint64_t connection_attempts = 0;  ///< connection attempts made (start() and reconnections)
    std::uint64_t connection_losses = 0;    ///< established connections that were lost (not by stop())
    std::uint64_t reconnections = 0;        ///< connections re-established after a loss
    /// Publications handed to the client again: after a lost connection, or (end_to_end_ack) because the
    /// receiver's acknowledgement did not come in time. Each may reach a receiver twice.
    std::uint64_t resent = 0;
    /// Times the MQTT client was woken to go on with a socket write that made no progress for 500 µs or
    /// more (large QoS 0 messages: Paho C leaves a write to a full socket unfinished until its next pass, up
    /// to a second later; docs/performance.md).
    std::uint64_t stalled_writes_woken = 0;
    std::uint64_t outbox_overflows = 0;  ///< publications refused or dropped because the outbox was full
    /// Inbound messages carrying an end-to-end id already handled, dropped before the MessageHandler.
    std::uint64_t duplicates_dropped = 0;
    std::uint64_t end_to_end_timeouts = 0;  ///< publications failed for lack of an end-to-end acknowledgement
    /// send_error() calls not sent because they exceeded MessagingOptions::error_rate (their Delivery
    /// failed with FB103).
    std::uint64_t errors_rate_limited = 0;
    /// Log records not forwarded because they exceeded MessagingOptions::forwarded_log_rate (also counted
    /// in logs_dropped).
    std::uint64_t logs_rate_limited = 0;
    /// Presence records of another instance found on this component's own presence topic: another process
    /// with the same id, or a forgery. None of them changes the component's state by itself.
    std::uint64_t foreign_presence_records = 0;
    /// "online" records of new components ignored because this component already followed the presence
    /// of 10 000 others, all online (a flood of made-up ids: the bound keeps its memory in check; an
    /// offline component is forgotten to make room first).
    std::uint64_t presence_records_refused = 0;
    // Signed messages (MessagingOptions::signing). Each refused publication is counted once, under its
    // cause, and is not delivered (nor acknowledged end to end, nor taken as presence).
    /// Publications whose signature was checked and accepted (messages, acknowledgements, presence).
    std::uint64_t signatures_verified = 0;
    std::uint64_t signature_unsigned = 0;        ///< refused: no signature (require_signed)
    std::uint64_t signature_unknown_signer = 0;  ///< refused: signer without a trusted key (require_signed)
    std::uint64_t signature_invalid = 0;   ///< refused: malformed, unknown scheme, forged or tampered with
    std::uint64_t signature_stale = 0;     ///< refused: outside signing.max_age / max_clock_skew
    std::uint64_t signature_replayed = 0;  ///< refused: a signature already accepted (a replay)
    /// Refused: validly signed, but by another component than the message's sender.
    std::uint64_t signature_wrong_signer = 0;
};

/// @brief Where the connection to the broker stands, as told to a ConnectionStateHandler.
enum class ConnectionState {
    connected,     ///< connected and subscribed (after start(), and again after every reconnection)
    disconnected,  ///< the connection was lost; the library is reconnecting (publications are buffered)
    failed,        ///< sticky: refused by the broker, duplicate id, or lost with reconnection disabled
};

/// @brief What became of the component's MQTT session at a connection (ConnectionEvent::session).
enum class SessionOutcome {
    none,     ///< not a connection (disconnected, failed)
    clean,    ///< a clean session was asked for (persistent_session false): the broker keeps nothing
    created,  ///< persistent session asked for, and the broker had none for this component: a new one
    resumed,  ///< the broker resumed the persistent session: what it queued meanwhile is delivered now
    /// The broker had no session for this component although it had one (CONNACK "session present" 0 on
    /// a reconnection that asked to resume it, e.g. a broker restarted without persistence, or another
    /// broker of the list): messages it had queued for the component may be lost. Logged as a warning.
    lost,
    /// The persistent session could not be resumed on this broker: the broker said it had none and then
    /// never acknowledged the re-subscription, or closed the connection after it (a RabbitMQ cluster whose
    /// node holding the session is down). The component connected there with a clean session instead, so
    /// that it keeps working: messages queued in the old session are delivered only if a later persistent
    /// connection resumes it, and those sent while it was unreachable may be lost. Logged as a warning.
    replaced,
};

/// @brief One change of the connection state.
struct ConnectionEvent {
    ConnectionState state = ConnectionState::disconnected;  ///< the new state
    /// Why: the cause of a loss, the refusal or duplicate-id text of a failure (with its FB code); for a
    /// connection, empty unless its session is SessionOutcome::lost or replaced (then the warning's text).
    std::string reason;
    /// connected: the attempts this connection took: for the first connection 1 with
    /// FirstConnect::fail_fast, or the attempts start() made with FirstConnect::keep_trying; after a loss,
    /// the attempts the reconnection took. disconnected and failed: 0.
    std::uint64_t attempts = 0;
    /// The broker this event is about, as "host:port" ("[ipv6]:port"; "ssl://" in front with TLS): the one
    /// connected to, the one lost, or for a failure the last one tried.
    std::string broker;
    /// connected: what became of the session (SessionOutcome); SessionOutcome::none otherwise.
    SessionOutcome session = SessionOutcome::none;
};

/// @brief A component announced online or gone offline on its presence topic.
struct PresenceEvent {
    ComponentType type = ComponentType::node;  ///< the announcing component's type (nodes, for researchers)
    std::string id;                            ///< its component id
    bool online = false;                       ///< true: announced online; false: offline
    /// "online", "stopped" (clean stop()), "connection lost" (the broker published its will: it died or
    /// its network failed), "duplicate id", "no heartbeat for N ms (it announced one every P ms)" (nothing
    /// heard from it for 3 of its heartbeat periods: MessagingOptions::presence_heartbeat), or the text of
    /// the announcement.
    std::string reason;
};

/// @brief Called on the dispatcher thread for every valid inbound message (a JSON object whose
/// protocol_version passed), with the topic it arrived on. May call send_message(), block or throw; an
/// exception becomes a fault (FB103, or the FedbiomedError's own code) and the next message is delivered.
using MessageHandler = std::function<void(const Json& msg, const std::string& topic)>;

/// @brief Called on the dispatcher thread for every fault (see MessagingFault), after it was logged on the
/// library logger. An exception thrown here is caught and logged.
using FaultHandler = std::function<void(const MessagingFault& fault)>;

/// @brief Called on the dispatcher thread for every change of the connection state, in order, interleaved
/// with the messages in the order things happened. May call send_message() (a publication made while
/// disconnected is buffered). An exception thrown here is caught and logged.
using ConnectionStateHandler = std::function<void(const ConnectionEvent& event)>;

/// @brief Researchers: called on the dispatcher thread when a node announces itself online or offline
/// (including the retained announcements received after each connection). An exception thrown here is
/// caught and logged.
using PresenceHandler = std::function<void(const PresenceEvent& event)>;

}  // namespace fedbiomed

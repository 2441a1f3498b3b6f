// The inbound path, from the client's callback to the user's handler: on the client's thread it copies,
// counts, queues and acknowledges end to end what it queued (no user code, no logging, no waiting); on the
// dispatcher thread it decodes, checks the protocol version, drops end-to-end duplicates and calls the
// handler. Presence
// announcements go to the presence part, faults and connection events to the user's callbacks, in the
// order they were queued.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "counters.hpp"
#include "dispatcher.hpp"
#include "end_to_end.hpp"
#include "fedbiomed/json.hpp"
#include "inbound_item.hpp"
#include "message_signing.hpp"
#include "rate_limiter.hpp"
#include "transport/session.hpp"
#include "user_callbacks.hpp"

namespace fedbiomed::detail {

class InboundPipeline {
public:
    struct Config {
        std::string id;  ///< the component id (log lines)
        /// Where end-to-end acknowledgements for us arrive: ack_topic() + "/" (empty: none), followed by the
        /// receiver's id.
        std::string own_ack_prefix;
        /// The presence topics of the components we send to ("fedbiomed-messaging/presence/<type>/"):
        /// their records are read on the client's thread too (PresenceService::peer_record()).
        std::string peer_presence_prefix;
        std::size_t max_payload_bytes = 0;
        std::size_t queue_capacity = 1;
        // Inbound memory (MessagingOptions::inbound_max_bytes; Dispatcher::admit()).
        std::size_t max_bytes = static_cast<std::size_t>(-1);
        std::chrono::milliseconds hold_patience{15000};  ///< the longest one hold of the client thread
        DecodeLimits limits;
        /// Signed messages (MessagingOptions::signing): null when off. Owned by the composition root.
        const MessageSigning* signing = nullptr;
        /// The kind of component our messages come from (a node's come from researchers and the reverse):
        /// the member naming their sender (`node_id` / `researcher_id`), which must be the signer, and the
        /// acknowledgement topic their end-to-end tag must name.
        ComponentType peer_type = ComponentType::node;
    };

    /// Given by the composition root.
    struct Hooks {
        /// Receiver @p receiver acknowledged one of our messages end to end (client thread; must not block).
        std::function<void(const std::string& payload, const std::string& receiver)> acknowledged;
        /// Acknowledge a message end to end: it is queued for the handler (client thread; must not block
        /// and must not call into the client).
        std::function<void(const EndToEndTag& tag)> send_ack;
        /// A message was handled (or dropped as a copy): hand the acknowledgements gathered meanwhile over
        /// (dispatcher thread).
        std::function<void()> flush_acks;
        /// A presence record of a peer (client thread; must not block).
        std::function<void(const std::string& topic, const std::string& payload)> peer_presence;
        /// A presence announcement (dispatcher thread).
        std::function<void(const InboundPresence& presence)> presence;
        /// Report the outbox overflows accumulated since the last report (dispatcher thread).
        std::function<void()> overflow;
        /// Take offline the nodes whose heartbeats stopped (dispatcher thread).
        std::function<void()> presence_check;
    };

    InboundPipeline(Config config, Counters& counters, const UserCallbacks& callbacks, Hooks hooks);

    /// A message the broker delivered (client thread). Never throws: what cannot be queued (memory
    /// exhausted) is counted as an inbound drop. Above half of Config::max_bytes a QoS 1/2 message holds the
    /// calling thread until there is room (Dispatcher::admit()).
    void received(const ReceivedMessage& message) noexcept;

    /// Queues @p item for the dispatcher thread (any thread); a drop it causes is counted. Never throws.
    /// @return false when the item itself could not be queued.
    bool push(InboundItem&& item) noexcept;

    /// The dispatcher thread (see Dispatcher).
    Dispatcher& dispatcher() noexcept { return dispatcher_; }

private:
    void process(InboundItem& item);
    void handle_message(InboundMessage& message);
    void handle_payload(const std::string& topic, const std::string& payload, const std::string& signer);
    // Signed messages: true when accepted, with the verified signer in @p signer (empty: accepted unsigned);
    // otherwise counted and reported, and the publication must be dropped. Client thread.
    bool check_signature(const ReceivedMessage& message, const std::string& expected_signer,
                         MessageSigning::Freshness freshness, std::string& signer);
    bool signer_is_sender(const Json& decoded, const std::string& topic, const std::string& signer);
    void reject_signature(SignatureProblem problem, const std::string& topic,
                          const std::string& detail) noexcept;
    void report_drops(std::uint64_t dropped);
    void report_bound_drops(std::uint64_t dropped);
    void log_version_warning(const std::string& warning, const std::string& topic);

    const Config config_;
    Counters& counters_;
    const UserCallbacks& callbacks_;
    const Hooks hooks_;
    RecentIds recent_ids_;  // dispatcher thread only
    // A peer of another protocol version: the reference logs a warning per message; 5 at once, then 1 a
    // second, the rest counted (MessagingStats::version_warnings).
    RateLimiter version_warning_limiter_{1.0, 5.0};
    // One report per cause of signature refusal per second at most (indexed by SignatureProblem).
    std::vector<std::unique_ptr<RateLimiter>> signature_reports_;

    // Last: its thread uses everything above, and it is stopped before they are destroyed.
    Dispatcher dispatcher_;
};

}  // namespace fedbiomed::detail

#include "inbound_pipeline.hpp"

#include <new>
#include <utility>
#include <variant>

#include <spdlog/spdlog.h>

#include "error_text.hpp"
#include "fedbiomed/logger.hpp"
#include "fedbiomed/version.hpp"
#include "json_type.hpp"
#include "presence.hpp"
#include "quiet_version_checks.hpp"
#include "topics.hpp"

namespace fedbiomed::detail {
namespace {

// Receivers remember this many end-to-end ids to drop duplicates.
constexpr std::size_t kRecentIds = 65536;

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

bool is_presence_topic(const std::string& topic) {
    return topic.compare(0, kPresencePrefix.size(), kPresencePrefix) == 0;
}

}  // namespace

InboundPipeline::InboundPipeline(Config config, Counters& counters, const UserCallbacks& callbacks,
                                 Hooks hooks)
    : config_(std::move(config)),
      counters_(counters),
      callbacks_(callbacks),
      hooks_(std::move(hooks)),
      recent_ids_(kRecentIds),
      signature_reports_([] {
          std::vector<std::unique_ptr<RateLimiter>> limiters;
          for (int i = 0; i <= static_cast<int>(SignatureProblem::wrong_signer); ++i) {
              limiters.push_back(std::make_unique<RateLimiter>(1.0, 1.0));
          }
          return limiters;
      }()),
      dispatcher_(
          config_.queue_capacity, [this](InboundItem& item) { process(item); },
          [this](std::uint64_t dropped) { report_drops(dropped); }) {
    // Inbound memory bound (see Dispatcher::admit()).
    dispatcher_.set_byte_bound(
        Dispatcher::ByteBound{config_.max_bytes, config_.hold_patience,
                              [this](std::uint64_t dropped) { report_bound_drops(dropped); }, &counters_});
}

void InboundPipeline::received(const ReceivedMessage& message) noexcept {
    try {
        const std::string& topic = message.topic;
        if (!config_.own_ack_prefix.empty() &&
            topic.compare(0, config_.own_ack_prefix.size(), config_.own_ack_prefix) == 0) {
            // A receiver acknowledged one of our messages: complete it here, like a PUBACK. The receiver is
            // named by the topic's last level, which a broker ACL can tie to the receiver's identity.
            const std::string receiver = topic.substr(config_.own_ack_prefix.size());
            std::string signer;
            // Signed: a forged acknowledgement would complete a Delivery the receiver never had.
            if (topic_level_problem(receiver).empty() &&
                check_signature(message, receiver, MessageSigning::Freshness::fresh, signer)) {
                hooks_.acknowledged(message.payload, receiver);
            }
            return;
        }
        const bool presence = is_presence_topic(topic);
        if (!presence) {
            Counters::bump(counters_.received);  // reference traffic only: presence is the library's own
        }
        const std::string& payload = message.payload;
        const std::size_t limit = presence ? kMaxPresenceRecordBytes : config_.max_payload_bytes;
        if (payload.size() > limit) {
            Counters::bump(counters_.decode_errors);
            push(Fault{ErrorNumbers::FB601,
                       with_code(ErrorNumbers::FB601,
                                 "payload of " + std::to_string(payload.size()) + " bytes on " + topic +
                                     (presence ? " exceeds the size of a presence record ("
                                               : " exceeds max_payload_bytes (") +
                                     std::to_string(limit) + "): rejected without decoding"),
                       topic});
            return;
        }
        // The size first: a signature is checked over the whole payload.
        std::string signer;
        // Decoded as the presence service will (whatever max_payload_bytes says).
        const DecodeLimits presence_limits{config_.limits.max_depth, kMaxPresenceRecordBytes};
        // A presence record is signed by the component it announces (the topic's last level). Retained state
        // and the will are signed long before some subscriber gets them: checked for authenticity only. A
        // heartbeat ("live", which its signature covers) is signed as it is sent: fresh, and not a replay,
        // or a replayed one would keep a dead node online (docs/security.md).
        if (presence &&
            !check_signature(message, topic.substr(topic.rfind('/') + 1),
                             config_.signing != nullptr && is_live_presence(payload, presence_limits)
                                 ? MessageSigning::Freshness::fresh
                                 : MessageSigning::Freshness::authentic_only,
                             signer)) {
            return;
        }
        if (presence && !config_.peer_presence_prefix.empty() &&
            topic.compare(0, config_.peer_presence_prefix.size(), config_.peer_presence_prefix) == 0) {
            hooks_.peer_presence(topic, message.payload);
        }
        // Checked before the end-to-end acknowledgement below: a refused message is neither handled nor
        // acknowledged. Its sender (a member of the payload) is compared with the signer once decoded.
        if (!presence) {
            if (!check_signature(message, {}, MessageSigning::Freshness::fresh, signer)) {
                return;
            }
            if (!signer.empty() && message.tag &&
                message.tag->ack_topic != ack_topic(config_.peer_type, signer)) {
                // Our acknowledgement would go, in our name, to another component than the signer.
                reject_signature(
                    SignatureProblem::wrong_signer, topic,
                    "signed by " + signer + ", acknowledgement asked on " + message.tag->ack_topic);
                return;
            }
        }
        // Inbound memory bound: may hold this thread (push-back on the broker) or drop (counted, reported).
        if (!dispatcher_.admit(payload.size(), message.qos > 0)) {
            return;
        }
        // A copy: the client's message object stays on the client's thread (its reference count changes
        // inside libpaho-mqttpp3, where ThreadSanitizer cannot follow it to our thread).
        if (presence) {
            push(InboundPresence{topic, payload, message.retained});
        } else if (push(InboundMessage{topic, payload, message.tag, std::move(signer)}) && message.tag) {
            // Acknowledged once queued for the handler, not once handled: a handler may run for an hour
            // (training) and the sender must not take that for a loss. A copy already handled is
            // acknowledged again too (the first acknowledgement may have been lost); the dispatcher drops it.
            hooks_.send_ack(*message.tag);
        }
    } catch (...) {
        // Memory exhausted while copying: the message is lost, and counted as such.
        Counters::bump(counters_.inbound_dropped);
    }
}

bool InboundPipeline::push(InboundItem&& item) noexcept {
    try {
        if (dispatcher_.push(std::move(item))) {
            Counters::bump(counters_.inbound_dropped);
        }
        return true;
    } catch (...) {
        Counters::bump(counters_.inbound_dropped);
        return false;
    }
}

void InboundPipeline::process(InboundItem& item) {
    std::visit(Overloaded{
                   [this](InboundMessage& message) { handle_message(message); },
                   [this](InboundPresence& presence) { hooks_.presence(presence); },
                   [this](Fault& fault) { callbacks_.fault(std::move(fault)); },
                   // Delivered at its place in the queue, after the messages that arrived before it.
                   [this](StateChange& change) { callbacks_.state(change.event); },
                   [this](OverflowReport&) { hooks_.overflow(); },
                   [this](PresenceCheck&) { hooks_.presence_check(); },
               },
               item);
}

void InboundPipeline::handle_message(InboundMessage& message) {
    if (message.tag && !recent_ids_.insert(message.tag->id)) {
        // Taken already (acknowledged again on receipt): not delivered twice.
        Counters::bump(counters_.duplicates_dropped);
    } else {
        handle_payload(message.topic, message.payload, message.signer);
    }
    if (message.tag && hooks_.flush_acks) {
        hooks_.flush_acks();
    }
}

void InboundPipeline::handle_payload(const std::string& topic, const std::string& payload,
                                     const std::string& signer) {
    if (!callbacks_.has_message_handler()) {
        return;  // as the reference: without a handler the payload is ignored (warned at construction)
    }
    Json decoded;
    const std::string on_topic = " (payload on " + topic + ")";
    auto fault = capture_fault(
        [&] { decoded = deserialize_msg(payload, config_.limits); }, ErrorNumbers::FB601, on_topic,
        [&](const char* what) { return std::string(what_of(what)) + on_topic; }, topic);
    if (!fault && !decoded.is_object()) {
        fault = Fault{ErrorNumbers::FB601,
                      with_code(ErrorNumbers::FB601, "payload on " + topic + " is not a JSON object (it is " +
                                                         json_type_word(decoded) + ")"),
                      topic};
    }
    if (fault) {
        Counters::bump(counters_.decode_errors);
        callbacks_.fault(std::move(*fault));
        return;
    }
    if (!signer.empty() && !signer_is_sender(decoded, topic, signer)) {
        return;
    }
    const std::string ignored = " (message on " + topic + " ignored)";
    fault = capture_fault(
        [&] {
            // Without the check's own log line per message: a rejection is logged as a fault (rate-limited
            // with the other faults about payloads), a warning here (rate-limited too).
            const QuietVersionChecks quiet;
            const VersionCheck check = check_message_version(decoded);
            if (check.verdict == VersionVerdict::warn) {
                Counters::bump(counters_.version_warnings);
                log_version_warning(check.warning, topic);
            }
        },
        ErrorNumbers::FB625, ignored, [&](const char* what) { return std::string(what_of(what)) + ignored; },
        topic);
    if (fault) {
        Counters::bump(counters_.version_errors);
        callbacks_.fault(std::move(*fault));
        return;
    }
    Counters::bump(counters_.handled);
    if (auto thrown = callbacks_.message(decoded, topic)) {
        Counters::bump(counters_.handler_errors);
        callbacks_.fault(std::move(*thrown));
    }
}

void InboundPipeline::log_version_warning(const std::string& warning, const std::string& topic) {
    const auto allowance = version_warning_limiter_.take(RateLimiter::Clock::now());
    if (!allowance.allowed) {
        return;
    }
    if (allowance.refused_before != 0) {
        library_logger()->warn(
            "Messaging {}: {} (message on {}; and {} similar warning(s) not logged before "
            "it: MessagingStats::version_warnings counts them all)",
            config_.id, warning, topic, allowance.refused_before);
    } else {
        library_logger()->warn("Messaging {}: {} (message on {})", config_.id, warning, topic);
    }
}

bool InboundPipeline::check_signature(const ReceivedMessage& message, const std::string& expected_signer,
                                      MessageSigning::Freshness freshness, std::string& signer) {
    if (config_.signing == nullptr) {
        return true;
    }
    const auto verdict =
        config_.signing->verify(message.topic, message.payload, message.tag, message.signature,
                                expected_signer, freshness, wall_clock_ms());
    if (verdict.problem != SignatureProblem::none) {
        reject_signature(verdict.problem, message.topic, verdict.detail);
        return false;
    }
    if (!verdict.signer.empty()) {
        Counters::bump(counters_.signatures_verified);
    }
    signer = verdict.signer;
    return true;
}

// Dispatcher thread: the verified signer must be the sender the message names (a node cannot sign a
// message in the researcher's name, nor in another node's).
bool InboundPipeline::signer_is_sender(const Json& decoded, const std::string& topic,
                                       const std::string& signer) {
    const char* member = config_.peer_type == ComponentType::node ? "node_id" : "researcher_id";
    const auto found = decoded.find(member);
    if (found != decoded.end() && found->is_string() && found->get<std::string>() == signer) {
        return true;
    }
    reject_signature(
        SignatureProblem::wrong_signer, topic,
        "signed by " + signer + ", but its " + member + " is " +
            (found != decoded.end() && found->is_string() ? found->get<std::string>().substr(0, 128)
                                                          : std::string("missing")));
    return false;
}

// Counted always; reported at most once per cause per second, with the count of those not reported, so that
// a flood of forgeries costs bounded work and log (docs/reliability.md, "Under attack").
void InboundPipeline::reject_signature(SignatureProblem problem, const std::string& topic,
                                       const std::string& detail) noexcept {
    switch (problem) {
    case SignatureProblem::none: return;
    case SignatureProblem::unsigned_message: Counters::bump(counters_.signature_unsigned); break;
    case SignatureProblem::unknown_signer: Counters::bump(counters_.signature_unknown_signer); break;
    case SignatureProblem::invalid: Counters::bump(counters_.signature_invalid); break;
    case SignatureProblem::stale: Counters::bump(counters_.signature_stale); break;
    case SignatureProblem::replayed: Counters::bump(counters_.signature_replayed); break;
    case SignatureProblem::wrong_signer: Counters::bump(counters_.signature_wrong_signer); break;
    }
    const auto outcome =
        signature_reports_[static_cast<std::size_t>(problem)]->take(RateLimiter::Clock::now());
    if (!outcome.allowed) {
        return;
    }
    try {
        std::string text =
            "publication on " + topic + " refused: " + signature_problem_text(problem) + " (" + detail + ")";
        if (outcome.refused_before != 0) {
            text += "; " + std::to_string(outcome.refused_before) +
                    " more refused for this cause since the last report";
        }
        push(Fault{ErrorNumbers::FB104, with_code(ErrorNumbers::FB104, text), topic});
    } catch (...) {
        // Out of memory: counted above, not reported.
    }
}

void InboundPipeline::report_drops(std::uint64_t dropped) {
    callbacks_.fault(Fault{
        ErrorNumbers::FB100,
        with_code(ErrorNumbers::FB100, "inbound queue full (capacity " +
                                           std::to_string(config_.queue_capacity) +
                                           "): " + std::to_string(dropped) + " oldest message(s) dropped"),
        {}});
}

// Inbound memory bound: one fault per second at most, with the count (Dispatcher::admit()).
void InboundPipeline::report_bound_drops(std::uint64_t dropped) {
    callbacks_.fault(Fault{
        ErrorNumbers::FB100,
        with_code(ErrorNumbers::FB100, "inbound_max_bytes (" + std::to_string(config_.max_bytes) +
                                           " bytes) exceeded: " + std::to_string(dropped) +
                                           " inbound message(s) dropped, the handler being slower than what "
                                           "arrives (counted in MessagingStats::inbound_bound_drops)"),
        {}});
}

}  // namespace fedbiomed::detail

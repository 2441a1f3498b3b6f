// The counters behind MessagingStats: plain relaxed atomics, bumped from any thread.
#pragma once

#include <atomic>
#include <cstdint>

#include "fedbiomed/messaging_events.hpp"

namespace fedbiomed::detail {

struct Counters {
    std::atomic<std::uint64_t> received{0};
    std::atomic<std::uint64_t> handled{0};
    std::atomic<std::uint64_t> decode_errors{0};
    std::atomic<std::uint64_t> version_errors{0};
    std::atomic<std::uint64_t> version_warnings{0};
    std::atomic<std::uint64_t> handler_errors{0};
    std::atomic<std::uint64_t> inbound_dropped{0};
    // The inbound byte bound (Dispatcher::admit()).
    std::atomic<std::uint64_t> inbound_bytes{0};
    std::atomic<std::uint64_t> inbound_bytes_peak{0};
    std::atomic<std::uint64_t> inbound_held_back{0};
    std::atomic<std::uint64_t> inbound_bound_drops{0};
    std::atomic<std::uint64_t> published{0};
    std::atomic<std::uint64_t> publish_failures{0};
    std::atomic<std::uint64_t> logs_forwarded{0};
    std::atomic<std::uint64_t> logs_dropped{0};
    // The resilience machinery: reconnection, outbox, end-to-end acknowledgement.
    std::atomic<std::uint64_t> connection_attempts{0};
    std::atomic<std::uint64_t> connection_losses{0};
    std::atomic<std::uint64_t> reconnections{0};
    std::atomic<std::uint64_t> resent{0};
    std::atomic<std::uint64_t> stalled_writes_woken{0};
    std::atomic<std::uint64_t> outbox_overflows{0};
    std::atomic<std::uint64_t> duplicates_dropped{0};
    std::atomic<std::uint64_t> end_to_end_timeouts{0};
    // What bad input could otherwise turn into outbound traffic or state changes (docs/reliability.md).
    std::atomic<std::uint64_t> errors_rate_limited{0};
    std::atomic<std::uint64_t> logs_rate_limited{0};
    std::atomic<std::uint64_t> foreign_presence_records{0};
    std::atomic<std::uint64_t> presence_records_refused{0};
    // Signed messages (InboundPipeline::check_signature()).
    std::atomic<std::uint64_t> signatures_verified{0};
    std::atomic<std::uint64_t> signature_unsigned{0};
    std::atomic<std::uint64_t> signature_unknown_signer{0};
    std::atomic<std::uint64_t> signature_invalid{0};
    std::atomic<std::uint64_t> signature_stale{0};
    std::atomic<std::uint64_t> signature_replayed{0};
    std::atomic<std::uint64_t> signature_wrong_signer{0};

    static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
        counter.fetch_add(by, std::memory_order_relaxed);
    }

    MessagingStats snapshot() const noexcept {
        MessagingStats stats;
        stats.received = received.load(std::memory_order_relaxed);
        stats.handled = handled.load(std::memory_order_relaxed);
        stats.decode_errors = decode_errors.load(std::memory_order_relaxed);
        stats.version_errors = version_errors.load(std::memory_order_relaxed);
        stats.version_warnings = version_warnings.load(std::memory_order_relaxed);
        stats.handler_errors = handler_errors.load(std::memory_order_relaxed);
        stats.inbound_dropped = inbound_dropped.load(std::memory_order_relaxed);
        stats.inbound_bytes = inbound_bytes.load(std::memory_order_relaxed);
        stats.inbound_bytes_peak = inbound_bytes_peak.load(std::memory_order_relaxed);
        stats.inbound_held_back = inbound_held_back.load(std::memory_order_relaxed);
        stats.inbound_bound_drops = inbound_bound_drops.load(std::memory_order_relaxed);
        stats.published = published.load(std::memory_order_relaxed);
        stats.publish_failures = publish_failures.load(std::memory_order_relaxed);
        stats.logs_forwarded = logs_forwarded.load(std::memory_order_relaxed);
        stats.logs_dropped = logs_dropped.load(std::memory_order_relaxed);
        stats.connection_attempts = connection_attempts.load(std::memory_order_relaxed);
        stats.connection_losses = connection_losses.load(std::memory_order_relaxed);
        stats.reconnections = reconnections.load(std::memory_order_relaxed);
        stats.resent = resent.load(std::memory_order_relaxed);
        stats.stalled_writes_woken = stalled_writes_woken.load(std::memory_order_relaxed);
        stats.outbox_overflows = outbox_overflows.load(std::memory_order_relaxed);
        stats.duplicates_dropped = duplicates_dropped.load(std::memory_order_relaxed);
        stats.end_to_end_timeouts = end_to_end_timeouts.load(std::memory_order_relaxed);
        stats.errors_rate_limited = errors_rate_limited.load(std::memory_order_relaxed);
        stats.logs_rate_limited = logs_rate_limited.load(std::memory_order_relaxed);
        stats.foreign_presence_records = foreign_presence_records.load(std::memory_order_relaxed);
        stats.presence_records_refused = presence_records_refused.load(std::memory_order_relaxed);
        stats.signatures_verified = signatures_verified.load(std::memory_order_relaxed);
        stats.signature_unsigned = signature_unsigned.load(std::memory_order_relaxed);
        stats.signature_unknown_signer = signature_unknown_signer.load(std::memory_order_relaxed);
        stats.signature_invalid = signature_invalid.load(std::memory_order_relaxed);
        stats.signature_stale = signature_stale.load(std::memory_order_relaxed);
        stats.signature_replayed = signature_replayed.load(std::memory_order_relaxed);
        stats.signature_wrong_signer = signature_wrong_signer.load(std::memory_order_relaxed);
        return stats;
    }
};

}  // namespace fedbiomed::detail

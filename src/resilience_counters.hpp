// The counters of the resilience machinery (reconnection, outbox, end-to-end acknowledgement), next to
// the basic ones of counters.hpp: relaxed atomics, bumped from any thread, copied into MessagingStats.
#pragma once

#include <atomic>
#include <cstdint>

#include "fedbiomed/messaging.hpp"

namespace fedbiomed::detail {

struct ResilienceCounters {
    std::atomic<std::uint64_t> connection_attempts{0};
    std::atomic<std::uint64_t> connection_losses{0};
    std::atomic<std::uint64_t> reconnections{0};
    std::atomic<std::uint64_t> resent{0};
    std::atomic<std::uint64_t> outbox_overflows{0};
    std::atomic<std::uint64_t> duplicates_dropped{0};
    std::atomic<std::uint64_t> end_to_end_timeouts{0};

    static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
        counter.fetch_add(by, std::memory_order_relaxed);
    }

    /// Copies these counters into @p stats (the other fields are left alone).
    void fill(MessagingStats& stats) const noexcept {
        stats.connection_attempts = connection_attempts.load(std::memory_order_relaxed);
        stats.connection_losses = connection_losses.load(std::memory_order_relaxed);
        stats.reconnections = reconnections.load(std::memory_order_relaxed);
        stats.resent = resent.load(std::memory_order_relaxed);
        stats.outbox_overflows = outbox_overflows.load(std::memory_order_relaxed);
        stats.duplicates_dropped = duplicates_dropped.load(std::memory_order_relaxed);
        stats.end_to_end_timeouts = end_to_end_timeouts.load(std::memory_order_relaxed);
    }
};

}  // namespace fedbiomed::detail

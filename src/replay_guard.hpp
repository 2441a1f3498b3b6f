// The replay half of signature checking (MessagingOptions::signing): a signed message is fresh when its
// time is within the window (max_age behind, max_clock_skew ahead) and its nonce was not seen within it.
// Memory is bounded by a capacity, without ever letting a replay through: when the cache is full the
// oldest entry is forgotten and everything signed at or before its time is refused as stale from then on.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <mutex>
#include <set>

namespace fedbiomed::detail {

class ReplayGuard {
public:
    using Nonce = std::array<std::uint8_t, 16>;

    struct Window {
        std::chrono::milliseconds max_age{600000};
        std::chrono::milliseconds max_clock_skew{60000};
        std::size_t capacity = 100000;
    };

    enum class Verdict : std::uint8_t {
        fresh,     ///< accepted and remembered
        stale,     ///< outside the window, or older than the oldest signature forgotten for room
        replayed,  ///< the same time and nonce were accepted before
    };

    explicit ReplayGuard(Window window) noexcept : window_(window) {}

    /// Checks a signature made at @p signed_ms (ms since the epoch) with @p nonce, at @p now_ms; remembers it
    /// when fresh. Thread-safe. Never throws but std::bad_alloc (the caller then drops the message).
    Verdict check(std::int64_t signed_ms, const Nonce& nonce, std::int64_t now_ms);

    /// Signatures remembered now (at most Window::capacity).
    std::size_t size() const;

private:
    struct Entry {
        std::int64_t signed_ms;
        Nonce nonce;
        bool operator<(const Entry& other) const noexcept {
            return signed_ms != other.signed_ms ? signed_ms < other.signed_ms : nonce < other.nonce;
        }
    };

    const Window window_;
    mutable std::mutex mutex_;
    std::set<Entry> entries_;  // ordered by time: the oldest first, to forget them cheaply
    // Signatures at or before this time can no longer be told from replays (their entry was forgotten).
    std::int64_t floor_ms_ = std::numeric_limits<std::int64_t>::min();
};

}  // namespace fedbiomed::detail

// Decides that another process uses this component id, from what only the broker can say: it disconnects
// one connection for the other again and again (a "session takeover": both use the same client id).
//
// Why only the broker: any client of the broker can publish anything on our presence topic, so a presence
// record is no proof (one forged "online" record used to stop a node for good). What counts:
//   - MQTT 5: a DISCONNECT with reason code 0x8E "session taken over": one sign each (sign()).
//   - Otherwise (MQTT 3.1.1; Mosquitto 2.0 also closes MQTT 5 connections taken over without a DISCONNECT)
//     the broker just closes the socket, which a network failure does too. A lost connection is a sign
//     only when another instance's presence record was seen on our own topic during that connection or
//     the next one (connection_lost() and foreign_record()): the other process announces itself at each
//     of its connections. A forged record without a lost connection is no sign at all.
// One sign alone can be innocent (a previous run of this component, a network blip), so a verdict needs
// `threshold` signs within `window`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

namespace fedbiomed::detail {

class TakeoverDetector {
public:
    using Clock = std::chrono::steady_clock;

    /// @p threshold signs within @p window make a verdict; a threshold of 0 disables the detector.
    TakeoverDetector(int threshold, std::chrono::milliseconds window);

    /// Records one sign the broker gave (MQTT 5 "session taken over") at @p now, with a description kept
    /// for the verdict text. Thread-safe.
    /// @return true when this sign completes a verdict (only the first verdict returns true).
    bool sign(Clock::time_point now, const std::string& what);

    /// Connection number @p connection was lost (without the broker's 0x8E) at @p now. A sign when another
    /// instance's record was seen during it; otherwise the loss waits for such a record during the next
    /// connection. With @p while_subscribing, the connection was lost after its CONNACK and before its
    /// subscriptions were done (the attempt is retried under the same number): such a loss counts at most
    /// once per number, so that one record cannot pair with every retry.
    /// @return true when this completes a verdict.
    bool connection_lost(std::uint64_t connection, Clock::time_point now, bool while_subscribing = false);

    /// Another instance's record (@p what describes it) was seen on our own presence topic
    /// while connection number @p connection was up. @return true when this completes a verdict.
    bool foreign_record(std::uint64_t connection, Clock::time_point now, const std::string& what);

    /// The signs a verdict needs (MessagingOptions::takeover_threshold; 0 or less: detection off).
    int threshold() const noexcept { return threshold_; }

    /// True once a verdict was reached. Thread-safe.
    bool decided() const;

    /// Number of signs currently inside the window. Thread-safe.
    std::size_t signs() const;

    /// The signs behind the verdict, for the error text ("3 signs within 60000 ms: ...").
    std::string describe() const;

    /// Forgets everything (a new start()).
    void reset();

private:
    bool add_sign_locked(Clock::time_point now, const std::string& what);

    const int threshold_;
    const std::chrono::milliseconds window_;
    mutable std::mutex mutex_;
    std::deque<std::pair<Clock::time_point, std::string>> signs_;
    bool decided_ = false;
    // Loss bookkeeping (the last few of each): connections during which a foreign record was seen (and
    // what the last one was), and lost connections still waiting for such a record.
    std::deque<std::uint64_t> foreign_connections_;
    std::string foreign_what_;
    std::deque<std::uint64_t> pending_losses_;
    std::deque<std::uint64_t> subscribing_losses_;  // numbers already lost once while subscribing
};

}  // namespace fedbiomed::detail

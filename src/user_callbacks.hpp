// The one place where the user's callbacks are called, and where what they throw becomes a fault or a log
// line (as spdlog's SPDLOG_LOGGER_CATCH is the one place that turns exceptions into reports). Everything
// here runs on the dispatcher thread.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "error_text.hpp"
#include "fedbiomed/errors.hpp"
#include "fedbiomed/messaging_events.hpp"
#include "inbound_item.hpp"
#include "rate_limiter.hpp"

namespace fedbiomed::detail {

/// The text of a caught exception for capture_fault()'s describers.
inline const char* what_of(const char* what) noexcept {
    return what != nullptr ? what : "a non-standard exception";
}

/// Runs @p call; what it throws becomes a Fault on @p topic. A FedbiomedError keeps its code and text,
/// followed by @p suffix; any other exception gets @p fallback and the text @p describe(what), where
/// what is nullptr for an exception not derived from std::exception. Never throws except std::bad_alloc.
template <class Call, class Describe>
std::optional<Fault> capture_fault(Call&& call, ErrorNumbers fallback, const std::string& suffix,
                                   Describe&& describe, const std::string& topic) {
    try {
        std::forward<Call>(call)();
        return std::nullopt;
    } catch (const FedbiomedError& error) {
        return Fault{error.code(), std::string(error.what()) + suffix, topic};
    } catch (const std::exception& error) {
        return Fault{fallback, with_code(fallback, describe(error.what())), topic};
    } catch (...) {
        return Fault{fallback, with_code(fallback, describe(nullptr)), topic};
    }
}

/// The user's callbacks of one Messaging object. Set before start() (under the owner's lifecycle lock),
/// read by the dispatcher thread only.
class UserCallbacks {
public:
    /// Faults about inbound payloads logged per second (bursts): the rest are counted (rate_limiter.hpp).
    static constexpr double kFaultLogRate = 10.0;
    static constexpr double kFaultLogBurst = 20.0;

    explicit UserCallbacks(std::string owner_id, MessageHandler on_message)
        : owner_id_(std::move(owner_id)),
          on_message_(std::move(on_message)),
          fault_log_limiter_(kFaultLogRate, kFaultLogBurst) {}

    FaultHandler on_fault;
    ConnectionStateHandler on_state;
    PresenceHandler on_presence;

    bool has_message_handler() const noexcept { return static_cast<bool>(on_message_); }

    /// Calls the message handler. @return the fault of what it threw: its own code for a FedbiomedError,
    /// FB103 otherwise.
    std::optional<Fault> message(const Json& msg, const std::string& topic) const;

    /// Logs @p text on the library logger and calls the fault handler. Faults about inbound payloads (with
    /// a topic) come at the rate a hostile client chooses: the log (which a node forwards on
    /// general/logger) gets a bounded number of lines and a count of the rest; the fault handler still
    /// gets every one. Never throws.
    void fault(Fault fault) const noexcept;

    /// Calls the connection-state handler, if any. Never throws.
    void state(const ConnectionEvent& event) const noexcept;

    /// Calls the presence handler, if any. Never throws.
    void presence(const PresenceEvent& event) const noexcept;

private:
    // Runs a callback whose exceptions are only logged ("the <which> threw: ...").
    template <class Call>
    void logged(const char* which, Call&& call) const noexcept;
    void log_callback_error(const char* which, const char* what) const noexcept;

    const std::string owner_id_;
    const MessageHandler on_message_;  // immutable: read from every thread without locks
    mutable RateLimiter fault_log_limiter_;
};

}  // namespace fedbiomed::detail

#include "user_callbacks.hpp"

#include <spdlog/spdlog.h>

#include "fedbiomed/logger.hpp"

namespace fedbiomed::detail {

std::optional<Fault> UserCallbacks::message(const Json& msg, const std::string& topic) const {
    return capture_fault([&] { on_message_(msg, topic); }, ErrorNumbers::FB103,
                         " (thrown by the message handler on " + topic + ")",
                         [&](const char* what) {
                             return what != nullptr
                                        ? "the message handler threw on " + topic + ": " + what
                                        : "the message handler threw a non-standard exception on " + topic;
                         },
                         topic);
}

void UserCallbacks::fault(Fault fault) const noexcept {
    try {
        const auto allowance = fault.topic.empty() ? RateLimiter::Outcome{true, 0, false}
                                                   : fault_log_limiter_.take(RateLimiter::Clock::now());
        if (allowance.allowed && allowance.refused_before != 0) {
            library_logger()->error(
                "Messaging {}: {} (and {} similar fault(s) about inbound payloads not "
                "logged before it; see stats())",
                owner_id_, fault.text, allowance.refused_before);
        } else if (allowance.allowed) {
            library_logger()->error("Messaging {}: {}", owner_id_, fault.text);
        }
    } catch (...) {
    }
    if (!on_fault) {
        return;
    }
    logged("fault handler", [&] {
        MessagingFault reported;
        reported.code = fault.code;
        reported.message = std::move(fault.text);
        reported.topic = std::move(fault.topic);
        on_fault(reported);
    });
}

void UserCallbacks::state(const ConnectionEvent& event) const noexcept {
    if (on_state) {
        logged("connection-state handler", [&] { on_state(event); });
    }
}

void UserCallbacks::presence(const PresenceEvent& event) const noexcept {
    if (on_presence) {
        logged("presence handler", [&] { on_presence(event); });
    }
}

template <class Call>
void UserCallbacks::logged(const char* which, Call&& call) const noexcept {
    try {
        std::forward<Call>(call)();
    } catch (const std::exception& error) {
        log_callback_error(which, error.what());
    } catch (...) {
        log_callback_error(which, "a non-standard exception");
    }
}

void UserCallbacks::log_callback_error(const char* which, const char* what) const noexcept {
    try {
        library_logger()->error("Messaging {}: the {} threw: {}", owner_id_, which, what);
    } catch (...) {
    }
}

}  // namespace fedbiomed::detail

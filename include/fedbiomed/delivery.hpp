/// @file delivery.hpp
/// @brief Delivery: the outcome of one publication, a handle the caller may wait on.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace fedbiomed {

/// @brief Outcome of one publication: a handle the caller may wait on.
///
/// Cheap to copy; all copies share the same state. Never blocks unless wait_for() is called. The outcome
/// is set once: by the broker's acknowledgement (on Paho's thread), by a receiver's acknowledgement with
/// end_to_end_ack, by a refusal (of the broker or of the client), by an end-to-end timeout (FB102), by
/// stop(), by an outbox overflow or by a sticky failure. A lost connection does not end it: the
/// publication is sent again after the reconnection.
class Delivery {
public:
    /// @brief Where the publication stands.
    enum class State {
        pending,    ///< handed to the client, no answer yet
        delivered,  ///< the broker acknowledged it (QoS 1/2) or it was written to the socket (QoS 0)
        failed,     ///< it will not be delivered; see error()
    };

    /// @brief An empty handle, already failed with "no publication".
    Delivery();

    /// @brief The current state. @throws nothing.
    State state() const noexcept;

    /// @brief Waits until the outcome is known or @p timeout passes.
    /// @return true when the state is no longer pending. @throws nothing.
    /// @warning Do not call from a Paho callback; calling it from a MessageHandler is fine.
    bool wait_for(std::chrono::milliseconds timeout) const noexcept;

    /// @brief True once the broker accepted the message; with end-to-end acknowledgement (see
    /// MessagingOptions::end_to_end_ack) once every receiver it was meant for acknowledged it.
    /// @throws nothing.
    bool delivered() const noexcept { return state() == State::delivered; }

    /// @brief Why it failed, with an FB code (e.g. "FB103: messaging call error: not connected"); empty
    /// otherwise. @throws std::bad_alloc only.
    std::string error() const;

    /// @brief End-to-end acknowledgement: the receivers (component ids) that acknowledged the message so
    /// far, in the order they did; empty without end-to-end acknowledgement. Filled while pending too.
    /// @throws std::bad_alloc only.
    std::vector<std::string> acknowledged_by() const;

    /// @brief End-to-end acknowledgement: the receivers the message was meant for (the node of a message
    /// to a node, the nodes online when a broadcast was sent) that have not acknowledged it (yet; once
    /// failed: ever). Empty when every one did, or without end-to-end acknowledgement.
    /// @throws std::bad_alloc only.
    std::vector<std::string> not_acknowledged_by() const;

    /// @brief Internal shared state (opaque to users).
    struct Shared;
    /// @brief Internal: wraps a shared state.
    explicit Delivery(std::shared_ptr<Shared> shared) noexcept;

private:
    std::shared_ptr<Shared> shared_;
};

}  // namespace fedbiomed

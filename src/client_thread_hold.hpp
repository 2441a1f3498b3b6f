// Holding the MQTT client's receive thread (push-back on the broker) without stalling the rest of the
// process.
//
// Paho C 1.3 reads the sockets of every client of the process on one thread, and calls the message handler
// there while it holds the library's own mutex. Blocking in the handler therefore stops Paho from reading
// any socket, which is the push-back wanted (TCP fills, the broker keeps the messages in the session), but
// also stops everything else the library does under that mutex: its send thread (PUBLISH, DISCONNECT),
// keepalive (PINGREQ is sent from the receive thread), and every API call that takes the mutex from another
// thread (a QoS 1/2 publication, is_connected, connect, disconnect, the client's destruction).
//
// So a hold is cooperative: a thread about to call into the client library declares it (Use) and a hold
// ends at once, and none begins while such a call is under way. The hold is process-wide because the
// receive thread is.
#pragma once

#include <chrono>
#include <functional>

namespace fedbiomed::detail {

class ClientThreadHold {
public:
    using Clock = std::chrono::steady_clock;

    /// What a thread about to call into the client library needs.
    enum class Kind {
        brief,      ///< one call (a publication, a query, a disconnection, the client's destruction)
        handshake,  ///< a connection being made: CONNACK and SUBACKs wait behind what the broker sends
    };

    /// Why hold() returned.
    enum class Outcome {
        ready,      ///< ready() became true
        timed_out,  ///< the deadline passed
        yielded,    ///< another thread needs the client library for one call
        handshake,  ///< a connection of the process is being made
    };

    /// Declares, for its lifetime, that the calling thread is about to call into the client library: a hold
    /// under way ends and none begins. Never throws.
    class Use {
    public:
        explicit Use(Kind kind) noexcept;
        ~Use();
        Use(const Use&) = delete;
        Use& operator=(const Use&) = delete;

    private:
        Kind kind_;
    };

    /// The client's receive thread only: waits until @p ready() is true, @p deadline, or a Use begins.
    /// @p ready is evaluated with the hold's lock held (it may take its owner's lock: never the other way
    /// round) and must not throw. Never throws.
    static Outcome hold(Clock::time_point deadline, const std::function<bool()>& ready) noexcept;

    /// What a ready() reads has changed: a hold re-evaluates it. Cheap when nothing is held. Never throws.
    static void wake() noexcept;

    /// True while the receive thread is held: it is then in a callback, not waiting for the sockets, and a
    /// Use begun only to wake it would end the hold for nothing. Never throws.
    static bool holding() noexcept;
};

}  // namespace fedbiomed::detail

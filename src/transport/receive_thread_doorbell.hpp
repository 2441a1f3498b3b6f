// A way to wake Paho's receive thread at once, whatever its clients are doing.
//
// Paho C 1.3 reads every client of the process on one thread, which waits in poll() on the sockets it knew
// when the wait began, for up to a second (10 ms the very first time). Only data arriving on one of those
// sockets ends the wait early, and Paho's interface has no call that does it. Until that thread has run
// another pass:
// - a new connection is not noticed: its socket is added to the poll, and its CONNECT sent, only on the
//   next pass. The first client of a process therefore waited out the 10 ms first poll every time, and a
//   second client up to a second (or two nudges through the broker, paho_session.cpp);
// - a partial socket write is not continued (Socket_continueWrites() runs at the start of a pass).
//
// The doorbell is a connection of Paho's own to this process: a client of Paho that connects over the
// loopback interface to a listening socket the doorbell opened, accepts and closes again at once, and
// answers with a CONNACK. From then on, writing a PINGRESP (two bytes, which Paho reads and ignores:
// MQTTProtocol_handlePingresps() only clears a flag) on the accepted end makes the receive thread's poll
// return and run one more pass, within microseconds, at the cost of one system call here and one pass
// there. Nothing goes to the broker, and the doorbell's client has no keepalive, so it never writes again.
//
// It lives while a session of the process holds it (acquire()), so that when the application has
// destroyed every session, Paho's threads stop as they would without it.
#pragma once

#include <chrono>
#include <memory>

namespace fedbiomed::detail {

/// The process's doorbell for Paho's receive thread. Thread-safe: ring() from any thread.
class ReceiveThreadDoorbell {
public:
    /// The doorbell of the process, set up first if no session holds it yet (a loopback listener, a Paho
    /// client connected to it, at most @p budget). Blocks the caller meanwhile; concurrent callers wait
    /// for the same set-up. Never throws.
    /// @return the doorbell, shared with every other holder; nullptr when it could not be set up (no
    /// loopback interface, Paho refused, the budget ran out), and then nothing is left behind.
    static std::shared_ptr<ReceiveThreadDoorbell> acquire(std::chrono::milliseconds budget) noexcept;

    /// Disconnects the doorbell's client and closes its socket. Never throws.
    ~ReceiveThreadDoorbell();

    ReceiveThreadDoorbell(const ReceiveThreadDoorbell&) = delete;
    ReceiveThreadDoorbell& operator=(const ReceiveThreadDoorbell&) = delete;

    /// Makes Paho's receive thread run one more pass of its loop soon (one per call: each ring is read as
    /// one packet). Never blocks, never throws; a ring that finds the socket full is dropped, since the
    /// thread then has rings enough to read.
    /// @return false when the doorbell's connection is gone (Paho closed it): it is then broken for good,
    /// and the next acquire() sets up a new one.
    bool ring() const noexcept;

    /// False once a ring found the connection gone.
    bool working() const noexcept;

    /// How many rings went out (for tests and the bench).
    unsigned long rings() const noexcept;

    /// Our end of the connection to Paho's client (for tests: its peer is Paho's socket).
    int descriptor() const noexcept;

    struct State;  // defined in the source: Paho's handle, the sockets, the set-up's progress

private:
    explicit ReceiveThreadDoorbell(std::unique_ptr<State> state) noexcept;

    std::unique_ptr<State> state_;
};

}  // namespace fedbiomed::detail

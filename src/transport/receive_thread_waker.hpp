// Keeps Paho's receive thread from going blind for 100 ms after every quiet second.
//
// Paho C 1.3 reads the sockets of every client of the process on one thread, which waits in poll() for up
// to 1 s (MQTTAsync_cycle() with its 1000 ms timeout). When that poll ends with nothing to read, the thread
// sleeps 100 ms (MQTTAsync_sleep(100L)) before it polls again, and whatever the broker sends meanwhile waits
// in the socket. A component that heard nothing for a second, which is how a node waits for the next
// request of a federation, is deaf for 100 ms of every 1.1 s: 9 % of requests after a pause wait up to
// 100 ms at each component they pass, and a round over 50 idle nodes almost always meets one of them
// (measured with raw Paho as with this library before the waker; docs/performance.md).
//
// Nothing in Paho's interface shortens the poll or the sleep, but traffic on any socket of the poll ends it
// before its timeout. So while a session of the process is connected, this waker asks one of them every
// kReceiveWakePeriod for an UNSUBSCRIBE of a topic nobody uses (the session's nudge(), which changes nothing
// at the broker); the broker's UNSUBACK ends the poll well before its second is up. It costs two packets of
// about 40 bytes per period per process (not per session), and the broker's handling of an UNSUBSCRIBE.
// No nudge goes out while messages arrive (paho_session.cpp, keep_receive_thread_awake()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace fedbiomed::detail {

/// How often the waker nudges: half of Paho's poll timeout, so that an answer that takes up to half a
/// second to come back still ends every poll in time.
constexpr std::chrono::milliseconds kReceiveWakePeriod{500};

/// Runs @p wake every period on a thread of its own, from one period after construction until destruction.
class ReceiveThreadWaker {
public:
    /// Starts the thread. @p wake must not throw, and must not wait for anything that waits for this
    /// waker's destruction. @throws std::system_error when no thread can be started.
    ReceiveThreadWaker(std::function<void()> wake, std::chrono::milliseconds period);
    /// Stops and joins the thread; a wake() under way finishes first. Not to be destroyed from wake(): the
    /// loop would read its members after they are gone. Never throws.
    ~ReceiveThreadWaker();

    ReceiveThreadWaker(const ReceiveThreadWaker&) = delete;
    ReceiveThreadWaker& operator=(const ReceiveThreadWaker&) = delete;

private:
    void run();

    const std::function<void()> wake_;
    const std::chrono::milliseconds period_;
    std::mutex mutex_;
    std::condition_variable stop_cv_;
    bool stopping_ = false;  // guarded by mutex_
    std::thread thread_;     // last: started once the rest is ready
};

}  // namespace fedbiomed::detail

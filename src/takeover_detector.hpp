// Decides that another process uses this component id: the broker then disconnects one connection for
// the other again and again. One sign alone can be innocent (the announcement of a previous run of this
// component, left on the broker), so a verdict needs several signs within a window, or an explicit
// statement from the other process that it detected us.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>

namespace fedbiomed::detail {

class TakeoverDetector {
public:
    using Clock = std::chrono::steady_clock;

    /// @p threshold signs within @p window make a verdict; a threshold of 0 disables the detector.
    TakeoverDetector(int threshold, std::chrono::milliseconds window);

    /// Records one sign seen at @p now with a description (kept for the verdict text). Thread-safe.
    /// @return true when this sign completes a verdict (only the first verdict returns true).
    bool sign(Clock::time_point now, const std::string& what);

    /// Records that the other process announced that it detected us: a verdict at once (unless disabled).
    /// @return true when this is the first verdict.
    bool explicit_verdict(const std::string& what);

    /// True once a verdict was reached. Thread-safe.
    bool decided() const;

    /// Number of signs currently inside the window. Thread-safe.
    std::size_t signs() const;

    /// The signs behind the verdict, for the error text ("3 signs within 60000 ms: ...").
    std::string describe() const;

    /// Forgets everything (a new start()).
    void reset();

private:
    const int threshold_;
    const std::chrono::milliseconds window_;
    mutable std::mutex mutex_;
    std::deque<std::pair<Clock::time_point, std::string>> signs_;
    bool decided_ = false;
    std::string explicit_;
};

}  // namespace fedbiomed::detail

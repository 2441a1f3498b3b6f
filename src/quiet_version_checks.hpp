// Lets the inbound pipeline check a message's protocol version without the check's own log line: the
// reference logs one per message, which any client of the broker could turn into a flood of log lines; the
// pipeline reports the verdict itself, rate-limited (its faults, and its version warnings).
#pragma once

namespace fedbiomed::detail {

/// While an object of this type lives on a thread, check_protocol_version() and check_message_version()
/// called on that thread log nothing (they still return and throw the same). Nestable.
class QuietVersionChecks {
public:
    QuietVersionChecks() noexcept;
    ~QuietVersionChecks();
    QuietVersionChecks(const QuietVersionChecks&) = delete;
    QuietVersionChecks& operator=(const QuietVersionChecks&) = delete;

private:
    bool previous_;
};

}  // namespace fedbiomed::detail

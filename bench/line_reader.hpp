// Reading a child's output line by line, with its own buffer (no stdio) and an optional deadline; the
// zero-copy variant serves the mosquitto_sub readers of 64 KiB lines.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fbm_bench {

/// Reads a file descriptor line by line with its own buffer (no stdio), with an optional deadline.
class LineReader {
public:
    explicit LineReader(int fd = -1) : fd_(fd) {}

    void reset(int fd) {
        fd_ = fd;
        begin_ = 0;
        end_ = 0;
    }

    /// Next line without its '\n'. std::nullopt on end of file, or when @p timeout passed first.
    /// A negative timeout waits forever.
    std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));

    /// Like next() but returns a view into the internal buffer, valid until the next call. For the hot
    /// path of the mosquitto_sub readers (no copy of a 64 KiB line).
    bool next_view(std::string_view& line);

    int fd() const noexcept { return fd_; }

private:
    bool fill(int timeout_ms);

    int fd_;
    std::vector<char> buffer_;  // bytes [begin_, end_) are read and not consumed yet
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

}  // namespace fbm_bench

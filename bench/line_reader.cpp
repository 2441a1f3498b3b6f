#include "line_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <poll.h>
#include <unistd.h>

namespace fbm_bench {

bool LineReader::fill(int timeout_ms) {
    if (fd_ < 0) {
        return false;
    }
    if (timeout_ms >= 0) {
        pollfd waiter{fd_, POLLIN, 0};
        int ready = 0;
        do {
            ready = ::poll(&waiter, 1, timeout_ms);
        } while (ready < 0 && errno == EINTR);
        if (ready <= 0) {
            return false;
        }
    }
    constexpr std::size_t kChunk = 128 * 1024;
    if (begin_ == end_) {
        begin_ = 0;
        end_ = 0;
    }
    if (buffer_.size() - end_ < kChunk) {
        // Move the unconsumed part to the front, and grow only when that is not enough.
        if (begin_ != 0) {
            std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (buffer_.size() - end_ < kChunk) {
            buffer_.resize(std::max(buffer_.size() * 2, end_ + kChunk));
        }
    }
    ssize_t got = 0;
    do {
        got = ::read(fd_, buffer_.data() + end_, buffer_.size() - end_);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
        return false;
    }
    end_ += static_cast<std::size_t>(got);
    return true;
}

std::optional<std::string> LineReader::next(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const char* const first = buffer_.data() + begin_;
        const void* newline = end_ > begin_ ? std::memchr(first, '\n', end_ - begin_) : nullptr;
        if (newline != nullptr) {
            const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - first);
            std::string line(first, length);
            begin_ += length + 1;
            return line;
        }
        int wait_ms = -1;
        if (timeout.count() >= 0) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return std::nullopt;
            }
            wait_ms = static_cast<int>(left.count());
        }
        if (!fill(wait_ms)) {
            return std::nullopt;
        }
    }
}

bool LineReader::next_view(std::string_view& line) {
    std::size_t searched = 0;  // bytes after begin_ known to hold no newline
    for (;;) {
        const char* const first = buffer_.data() + begin_;
        const std::size_t unsearched = end_ - begin_ - searched;
        const void* newline = unsearched != 0 ? std::memchr(first + searched, '\n', unsearched) : nullptr;
        if (newline != nullptr) {
            const auto length = static_cast<std::size_t>(static_cast<const char*>(newline) - first);
            line = std::string_view(first, length);
            begin_ += length + 1;
            return true;
        }
        searched = end_ - begin_;
        if (!fill(-1)) {
            return false;
        }
    }
}

}  // namespace fbm_bench

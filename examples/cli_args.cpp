#include "cli_args.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "fedbiomed/library_version.hpp"
#include "fedbiomed/version.hpp"

namespace fbm_cli {

ArgCursor::ArgCursor(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        std::string arg(argv[i]);
        // The first lone "--" ends the options: it is dropped and everything after it is positional.
        if (arg == "--" && options_end_ == std::numeric_limits<std::size_t>::max()) {
            options_end_ = args_.size();
            continue;
        }
        args_.push_back(std::move(arg));
    }
}

bool ArgCursor::at_option() const noexcept {
    if (done() || index_ >= options_end_) {
        return false;
    }
    const std::string& arg = args_[index_];
    return arg.size() > 1 && arg[0] == '-';
}

std::string ArgCursor::next() {
    if (done()) {
        throw UsageError("missing argument");
    }
    const bool is_option = at_option();
    std::string arg = args_[index_++];
    has_inline_value_ = false;
    inline_value_.clear();
    if (is_option && arg.compare(0, 2, "--") == 0) {
        const auto equals = arg.find('=');
        if (equals != std::string::npos) {
            has_inline_value_ = true;
            inline_value_ = arg.substr(equals + 1);
            arg.resize(equals);
        }
    }
    return arg;
}

std::string ArgCursor::value(std::string_view option) {
    if (has_inline_value_) {
        has_inline_value_ = false;
        return std::move(inline_value_);
    }
    if (done()) {
        throw UsageError("option " + std::string(option) + " needs a value");
    }
    return args_[index_++];
}

void ArgCursor::no_value(std::string_view option) const {
    if (has_inline_value_) {
        throw UsageError("option " + std::string(option) + " takes no value");
    }
}

std::int64_t parse_integer(std::string_view option, std::string_view text, std::int64_t min,
                           std::int64_t max) {
    const std::string copy(text);
    const std::string where = "option " + std::string(option) + ": ";
    if (copy.empty()) {
        throw UsageError(where + "expected an integer, got an empty value");
    }
    char* end = nullptr;
    errno = 0;
    const long long parsed = std::strtoll(copy.c_str(), &end, 10);
    // strtoll skips leading blanks; a value such as " 5" is refused like "5x".
    if (end != copy.c_str() + copy.size() || copy.front() == ' ' || copy.front() == '\t') {
        throw UsageError(where + "expected an integer, got '" + copy + "'");
    }
    if (errno == ERANGE || parsed < min || parsed > max) {
        throw UsageError(where + "'" + copy + "' is out of range [" + std::to_string(min) + ", " +
                         std::to_string(max) + "]");
    }
    return static_cast<std::int64_t>(parsed);
}

int parse_port(std::string_view option, std::string_view text) {
    return static_cast<int>(parse_integer(option, text, 1, 65535));
}

std::chrono::milliseconds parse_seconds(std::string_view option, std::string_view text) {
    const std::string copy(text);
    const std::string where = "option " + std::string(option) + ": ";
    char* end = nullptr;
    errno = 0;
    const double seconds = copy.empty() ? 0.0 : std::strtod(copy.c_str(), &end);
    const bool parsed_all = !copy.empty() && end == copy.c_str() + copy.size() &&
                            (copy.front() == '.' || (copy.front() >= '0' && copy.front() <= '9'));
    if (!parsed_all || errno == ERANGE || !std::isfinite(seconds)) {
        throw UsageError(where + "expected a number of seconds, got '" + copy + "'");
    }
    constexpr double kMaxSeconds = 86400.0;
    if (seconds <= 0.0 || seconds > kMaxSeconds) {
        throw UsageError(where + "'" + copy + "' must be more than 0 and at most 86400 seconds");
    }
    // Round up so that a tiny positive value never becomes a zero timeout.
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(seconds * 1000.0)));
}

std::string require_non_empty(std::string_view option, std::string text) {
    if (text.empty()) {
        throw UsageError("option " + std::string(option) + " needs a non-empty value");
    }
    return text;
}

std::vector<std::string> split_broker_list(std::string_view option, std::string_view text) {
    std::vector<std::string> brokers;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = text.find(',', start);
        const std::string_view entry =
            text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (entry.empty()) {
            throw UsageError("option " + std::string(option) + ": empty broker in '" + std::string(text) +
                             "'");
        }
        brokers.emplace_back(entry);
        if (comma == std::string_view::npos) {
            return brokers;
        }
        start = comma + 1;
    }
}

std::string version_text(std::string_view program) {
    std::string text(program);
    text += " (fedbiomed-messaging) ";
    text += fedbiomed::library_version();
    text += "\nFed-BioMed messaging protocol version ";
    text += fedbiomed::kProtocolVersion;
    text += '\n';
    return text;
}

}  // namespace fbm_cli

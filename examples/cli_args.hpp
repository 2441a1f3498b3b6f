/// @file cli_args.hpp
/// @brief Hand-written command-line parsing shared by fbm-node and fbm-researcher (no extra dependency).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fbm_cli {

/// @brief Exit status of a program called the wrong way (as getopt-based tools do).
inline constexpr int kExitUsage = 2;

/// @brief Exit status when messaging failed for good while running (a sticky failure: another process
/// uses the same id, the broker refused a reconnection, or the connection was lost with reconnection
/// off). Non-zero so that a supervisor (systemd's Restart=on-failure, Kubernetes) restarts the program
/// instead of leaving it running deaf.
inline constexpr int kExitMessagingFailed = 4;

/// @brief Bad usage: the text says what is wrong; the program prints it with a hint and exits 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// @brief Walks the arguments once, option by option.
///
/// Accepts `--name value` and `--name=value`; after a lone `--` every argument is positional.
class ArgCursor {
public:
    /// @brief Takes argv[1..argc-1]. @throws std::bad_alloc only.
    ArgCursor(int argc, const char* const* argv);

    /// @brief True when every argument was consumed. @throws nothing.
    bool done() const noexcept { return index_ >= args_.size(); }

    /// @brief True when the next argument is an option (starts with '-' and options are still allowed).
    /// @throws nothing.
    bool at_option() const noexcept;

    /// @brief Consumes the next argument and returns it (an option's name without its `=value`).
    /// @throws UsageError when nothing is left.
    std::string next();

    /// @brief Consumes the value of option @p option (just returned by next()): its `=value`, or the next
    /// argument. @throws UsageError when there is none.
    std::string value(std::string_view option);

    /// @brief Throws UsageError when the option just returned by next() was given a `=value` it takes not.
    void no_value(std::string_view option) const;

private:
    std::vector<std::string> args_;
    std::size_t index_ = 0;
    // Index of the first argument after a lone "--" (positional only); max() when there is none.
    std::size_t options_end_ = std::numeric_limits<std::size_t>::max();
    bool has_inline_value_ = false;
    std::string inline_value_;
};

/// @brief Parses a TCP port (1..65535). @throws UsageError naming @p option.
int parse_port(std::string_view option, std::string_view text);

/// @brief Parses a decimal integer in [@p min, @p max]. @throws UsageError naming @p option.
std::int64_t parse_integer(std::string_view option, std::string_view text, std::int64_t min,
                           std::int64_t max);

/// @brief Parses a positive duration in seconds ("5", "0.25"), at most one day.
/// @throws UsageError naming @p option.
std::chrono::milliseconds parse_seconds(std::string_view option, std::string_view text);

/// @brief Checks a value that must not be empty. @throws UsageError naming @p option.
std::string require_non_empty(std::string_view option, std::string text);

/// @brief Splits a `--broker` value: one broker or a comma-separated list ("h1:1883,h2:1883"), each
/// entry as MessagingOptions::brokers reads it (host, host:port, [ipv6]:port, scheme://host:port).
/// @throws UsageError naming @p option when the value or one of its entries is empty.
std::vector<std::string> split_broker_list(std::string_view option, std::string_view text);

/// @brief What `--version` prints for @p program: "<program> (fedbiomed-messaging) <version>" (the form
/// help2man reads for the man page), then the messaging protocol version, one per line.
/// @throws std::bad_alloc only.
std::string version_text(std::string_view program);

}  // namespace fbm_cli

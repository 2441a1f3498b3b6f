// The sink through which the library logger reaches every sink added at run time (log forwarders, user
// sinks). spdlog's logger::sinks() vector must not change while other threads log, so the library logger
// gets this one hub at creation and the hub guards its own list.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <spdlog/sinks/sink.h>

namespace fedbiomed::detail {

class LogForwarder;

class LogHub final : public spdlog::sinks::sink {
public:
    void log(const spdlog::details::log_msg& msg) override;
    void flush() override;
    // Sinks added here keep their own formatter: the library pattern is not pushed to them.
    void set_pattern(const std::string& pattern) override;
    void set_formatter(std::unique_ptr<spdlog::formatter> sink_formatter) override;

    /// Adds @p entry (no-op if present). Thread-safe.
    void add(std::shared_ptr<spdlog::sinks::sink> entry);
    /// Removes @p entry; when this returns no thread is still inside it. Thread-safe.
    void remove(const std::shared_ptr<spdlog::sinks::sink>& entry);
    /// Adds @p forwarder unless another LogForwarder is present (the reference keeps one MQTT handler).
    /// @return false when another forwarder is already installed.
    bool add_forwarder(const std::shared_ptr<LogForwarder>& forwarder);
    /// The lowest level among the sinks (spdlog::level::off when there are none).
    spdlog::level::level_enum lowest_level() const;

private:
    // Recursive: a record logged while a sink of this hub runs on the same thread must reach log() without
    // deadlocking, so that its thread_local guard can drop it.
    mutable std::recursive_mutex mutex_;
    std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks_;
};

/// The hub installed in library_logger().
LogHub& log_hub();

/// Sets the library logger's level to the lowest level any of its sinks wants, so a sink at INFO receives
/// INFO records while the console sink keeps its own (higher) level.
void refresh_logger_level();

}  // namespace fedbiomed::detail

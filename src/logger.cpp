#include "fedbiomed/logger.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "log_forwarder.hpp"
#include "log_hub.hpp"

namespace fedbiomed {
namespace detail {
namespace {

struct LibraryLogger {
    std::shared_ptr<spdlog::sinks::sink> console;
    std::shared_ptr<LogHub> hub;
    std::shared_ptr<spdlog::logger> logger;
};

LibraryLogger& library() {
    // One logger for the whole process. It is not registered in spdlog's global registry, so an
    // application that uses spdlog itself keeps full control of its own loggers.
    static LibraryLogger instance = [] {
        LibraryLogger created;
        created.console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        created.console->set_level(spdlog::level::warn);
        created.hub = std::make_shared<LogHub>();
        created.hub->set_level(spdlog::level::off);
        created.logger = std::make_shared<spdlog::logger>(
            "fedbiomed", spdlog::sinks_init_list{created.console, created.hub});
        created.logger->set_pattern("%Y-%m-%d %H:%M:%S,%e %n %l - %v");
        created.logger->set_level(spdlog::level::warn);
        return created;
    }();
    return instance;
}

}  // namespace

namespace {
// Set while this thread is inside LogHub::log(): a record logged by one of the hub's sinks (a forwarder
// whose publish path logs, a user sink that logs) must not come back into the hub, or it would recurse.
thread_local bool t_in_hub = false;
}  // namespace

void LogHub::log(const spdlog::details::log_msg& msg) {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    if (t_in_hub) {
        // Re-entered from one of our own sinks: forwarding this record would recurse. Count it as dropped by
        // the forwarders; other sinks do not receive it either (the console sink, outside the hub, does).
        for (const auto& entry : sinks_) {
            if (entry->should_log(msg.level)) {
                if (auto* forwarder = dynamic_cast<LogForwarder*>(entry.get())) {
                    forwarder->count_reentrant_drop();
                }
            }
        }
        return;
    }
    t_in_hub = true;
    struct Reset {
        ~Reset() { t_in_hub = false; }
    } reset;
    for (const auto& entry : sinks_) {
        if (entry->should_log(msg.level)) {
            entry->log(msg);
        }
    }
}

void LogHub::flush() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    for (const auto& entry : sinks_) {
        entry->flush();
    }
}

void LogHub::set_pattern(const std::string& /*pattern*/) {}

void LogHub::set_formatter(std::unique_ptr<spdlog::formatter> /*sink_formatter*/) {}

void LogHub::add(std::shared_ptr<spdlog::sinks::sink> entry) {
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        if (std::find(sinks_.begin(), sinks_.end(), entry) == sinks_.end()) {
            sinks_.push_back(std::move(entry));
        }
    }
    refresh_logger_level();
}

bool LogHub::add_forwarder(const std::shared_ptr<LogForwarder>& forwarder) {
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        for (const auto& entry : sinks_) {
            if (dynamic_cast<LogForwarder*>(entry.get()) != nullptr) {
                return entry == forwarder;
            }
        }
        sinks_.push_back(forwarder);
    }
    refresh_logger_level();
    return true;
}

void LogHub::remove(const std::shared_ptr<spdlog::sinks::sink>& entry) {
    {
        std::lock_guard<std::recursive_mutex> lock(mutex_);
        sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), entry), sinks_.end());
    }
    refresh_logger_level();
}

spdlog::level::level_enum LogHub::lowest_level() const {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    auto lowest = spdlog::level::off;
    for (const auto& entry : sinks_) {
        lowest = std::min(lowest, entry->level());
    }
    return lowest;
}

LogHub& log_hub() {
    return *library().hub;
}

void refresh_logger_level() {
    auto& lib = library();
    const auto hub_level = lib.hub->lowest_level();
    lib.hub->set_level(hub_level);
    lib.logger->set_level(std::min(lib.console->level(), hub_level));
}

}  // namespace detail

std::shared_ptr<spdlog::logger> library_logger() {
    return detail::library().logger;
}

bool set_log_level(std::string_view level) noexcept {
    try {
        std::string upper(level);
        std::transform(upper.begin(), upper.end(), upper.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        spdlog::level::level_enum parsed = spdlog::level::warn;
        bool known = true;
        if (upper == "DEBUG") {
            parsed = spdlog::level::debug;
        } else if (upper == "INFO") {
            parsed = spdlog::level::info;
        } else if (upper == "WARNING" || upper == "WARN") {
            parsed = spdlog::level::warn;
        } else if (upper == "ERROR") {
            parsed = spdlog::level::err;
        } else if (upper == "CRITICAL") {
            parsed = spdlog::level::critical;
        } else {
            known = false;
        }
        detail::library().console->set_level(parsed);
        detail::refresh_logger_level();
        return known;
    } catch (...) {
        return false;
    }
}

void add_log_sink(std::shared_ptr<spdlog::sinks::sink> sink) {
    if (sink) {
        detail::log_hub().add(std::move(sink));
    }
}

void remove_log_sink(const std::shared_ptr<spdlog::sinks::sink>& sink) {
    if (sink) {
        detail::log_hub().remove(sink);
    }
}

}  // namespace fedbiomed

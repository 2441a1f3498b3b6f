#include "fedbiomed/logger.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace fedbiomed {

std::shared_ptr<spdlog::logger> library_logger() {
    // One logger for the whole process. It is not registered in spdlog's global registry, so an
    // application that uses spdlog itself keeps full control of its own loggers.
    static const std::shared_ptr<spdlog::logger> logger = [] {
        auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
        auto created = std::make_shared<spdlog::logger>("fedbiomed", std::move(sink));
        created->set_level(spdlog::level::warn);
        created->set_pattern("%Y-%m-%d %H:%M:%S,%e %n %l - %v");
        return created;
    }();
    return logger;
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
        library_logger()->set_level(parsed);
        return known;
    } catch (...) {
        return false;
    }
}

}  // namespace fedbiomed

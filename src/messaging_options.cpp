// Checks on MessagingOptions (all done at construction, so that start() only fails for the network's
// reasons) and the reference-compatible preset.
#include <algorithm>
#include <string>
#include <utility>

#include "broker_address.hpp"
#include "fedbiomed/errors.hpp"
#include "messaging_options_check.hpp"

namespace fedbiomed {
namespace detail {
namespace {

// Durations that are added to the current time must stay far from the clock's range (about 292 years):
// anything above a year is a mistake, not a wish (first_connect_deadline alone may be "forever").
constexpr std::chrono::milliseconds kLongestDuration = std::chrono::hours(24 * 366);
// A failover list is a handful of cluster nodes; thousands would be a mistake (each is tried per round).
constexpr std::size_t kMaxBrokers = 64;

const char* too_long(const MessagingOptions& options) {
    const std::pair<const char*, std::chrono::milliseconds> durations[] = {
        {"connect_timeout", options.connect_timeout},
        {"stop_timeout", options.stop_timeout},
        {"reconnect.max_delay", options.reconnect.max_delay},
        {"takeover_window", options.takeover_window},
        {"end_to_end_timeout", options.end_to_end_timeout},
        {"end_to_end_resend_interval", options.end_to_end_resend_interval},
        {"signing.max_age", options.signing.max_age},
        {"signing.max_clock_skew", options.signing.max_clock_skew},
    };
    for (const auto& [name, value] : durations) {
        if (value > kLongestDuration) {
            return name;
        }
    }
    return nullptr;
}

}  // namespace

void validate_options(const MessagingOptions& options) {
    std::string problem;
    if (options.brokers.empty() && options.broker.empty()) {
        problem = "broker is empty";
    } else if (options.brokers.size() > kMaxBrokers) {
        problem = "brokers holds " + std::to_string(options.brokers.size()) + " entries (at most " +
                  std::to_string(kMaxBrokers) + ")";
    } else if (options.port < 1 || options.port > 65535) {
        problem = "port " + std::to_string(options.port) + " is not in 1..65535";
    } else if (options.qos < 0 || options.qos > 2) {
        problem = "qos " + std::to_string(options.qos) + " is not 0, 1 or 2";
    } else if (options.connect_timeout.count() <= 0) {
        problem = "connect_timeout must be positive";
    } else if (options.first_connect_deadline.count() <= 0) {
        problem = "first_connect_deadline must be positive";
    } else if (options.keepalive.count() < 0 || options.keepalive.count() > 65535) {
        problem = "keepalive must be in 0..65535 s";
    } else if (options.inbound_queue_capacity == 0) {
        problem = "inbound_queue_capacity must be at least 1";
    } else if (options.max_payload_bytes == 0) {
        problem = "max_payload_bytes must be positive";
    } else if (options.max_payload_bytes > MessagingOptions::kMaxPayloadBytesLimit) {
        problem =
            "max_payload_bytes must not exceed " + std::to_string(MessagingOptions::kMaxPayloadBytesLimit) +
            " (64 MiB: a RabbitMQ broker wedges the connection of a publication over 128 MiB instead of "
            "refusing it)";
    } else if (options.inbound_max_bytes < options.max_payload_bytes) {
        problem = "inbound_max_bytes (" + std::to_string(options.inbound_max_bytes) +
                  ") must be at least max_payload_bytes (" + std::to_string(options.max_payload_bytes) + ")";
    } else if (options.max_json_depth == 0) {
        problem = "max_json_depth must be positive";
    } else if (options.stop_timeout.count() < 0) {
        problem = "stop_timeout must not be negative";
    } else if (options.reconnect.min_delay.count() <= 0 ||
               options.reconnect.max_delay < options.reconnect.min_delay) {
        problem = "reconnect delays must satisfy 0 < min_delay <= max_delay";
    } else if (options.outbox_capacity == 0 || options.outbox_max_bytes == 0) {
        problem = "outbox_capacity and outbox_max_bytes must be positive";
    } else if (options.outbox_capacity > 1000000) {
        problem = "outbox_capacity must not exceed 1000000 (the MQTT client's own buffer)";
    } else if (options.takeover_threshold < 0 || options.takeover_window.count() <= 0) {
        problem = "takeover_threshold must not be negative and takeover_window must be positive";
    } else if (options.presence_heartbeat.count() != 0 &&
               (options.presence_heartbeat < std::chrono::milliseconds(10) ||
                options.presence_heartbeat > std::chrono::hours(24))) {
        problem = "presence_heartbeat must be 0 (none) or in 10 ms..24 h";
    } else if (options.session_expiry.count() < 0) {
        problem = "session_expiry must not be negative";
    } else if (options.end_to_end_ack == EndToEndAck::on && options.mqtt_version == MqttVersion::v3_1_1) {
        problem =
            "end_to_end_ack on needs mqtt_version v5 or automatic (the message id travels in MQTT 5 user "
            "properties)";
    } else if (options.signing.key_file.empty() &&
               (options.signing.require_signed || !options.signing.trusted_keys.empty())) {
        problem =
            "signing.require_signed and signing.trusted_keys need signing.key_file (this component's own "
            "key: a component that checks signatures signs what it sends)";
    } else if (!options.signing.key_file.empty() && options.mqtt_version == MqttVersion::v3_1_1) {
        problem =
            "signing needs mqtt_version v5 or automatic (the signature travels in MQTT 5 user properties)";
    } else if (options.signing.max_age.count() <= 0 || options.signing.max_clock_skew.count() < 0 ||
               options.signing.replay_cache_capacity == 0) {
        problem =
            "signing.max_age and signing.replay_cache_capacity must be positive, signing.max_clock_skew "
            "not negative";
    } else if (options.end_to_end_ack == EndToEndAck::on && options.qos == 0) {
        problem = "end_to_end_ack on needs qos 1 or 2";
    } else if (options.end_to_end_ack != EndToEndAck::off &&
               (options.end_to_end_timeout.count() <= 0 || options.end_to_end_resend_interval.count() <= 0)) {
        problem = "end_to_end_timeout and end_to_end_resend_interval must be positive";
    } else if (!(options.error_rate >= 0.0) || !(options.error_burst >= 1.0) ||
               !(options.forwarded_log_rate >= 0.0) || !(options.forwarded_log_burst >= 1.0) ||
               options.error_rate > 1e9 || options.forwarded_log_rate > 1e9 || options.error_burst > 1e9 ||
               options.forwarded_log_burst > 1e9) {
        problem = "error_rate and forwarded_log_rate must be in 0..1e9, their bursts in 1..1e9";
    } else if (const char* name = too_long(options)) {
        problem = std::string(name) + " must not exceed 366 days";
    } else if (options.session_expiry.count() > 0xFFFFFFFFLL) {
        problem = "session_expiry must not exceed 4294967295 s (MQTT 5)";
    }
    if (problem.empty()) {
        try {
            (void)broker_addresses(options);
        } catch (const MessagingError& error) {
            problem = error.detail();
        }
    }
    if (!problem.empty()) {
        throw MessagingError(ErrorNumbers::FB103, "invalid messaging options: " + problem);
    }
}

std::chrono::milliseconds hold_patience(std::chrono::seconds keepalive) noexcept {
    constexpr std::chrono::milliseconds kLongest{15000};
    constexpr std::chrono::milliseconds kShortest{100};
    if (keepalive.count() <= 0) {
        return kLongest;
    }
    const std::chrono::milliseconds quarter =
        std::chrono::duration_cast<std::chrono::milliseconds>(keepalive) / 4;
    return std::clamp(quarter, kShortest, kLongest);
}

}  // namespace detail

MessagingOptions MessagingOptions::reference_compatible() {
    MessagingOptions options;
    options.mqtt_version = MqttVersion::v3_1_1;
    options.qos = 0;
    options.persistent_session = false;
    options.client_id.clear();
    options.presence = false;
    options.end_to_end_ack = EndToEndAck::off;
    return options;
}

}  // namespace fedbiomed

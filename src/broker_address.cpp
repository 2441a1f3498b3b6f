#include "broker_address.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>

#include "fedbiomed/errors.hpp"

namespace fedbiomed::detail {
namespace {

constexpr int kMaxPort = 65535;

[[noreturn]] void bad(const std::string& text, const std::string& why) {
    throw MessagingError(ErrorNumbers::FB103, "broker address '" + text + "': " + why);
}

int parse_port(const std::string& text, const std::string& digits) {
    if (digits.empty() || digits.size() > 5) {
        bad(text, "the port must be a number in 1..65535");
    }
    int port = 0;
    for (const char c : digits) {
        if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
            bad(text, "the port must be a number in 1..65535");
        }
        port = port * 10 + (c - '0');
    }
    if (port < 1 || port > kMaxPort) {
        bad(text, "the port must be a number in 1..65535");
    }
    return port;
}

}  // namespace

std::string BrokerAddress::display() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (tls ? "ssl://" : "") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

BrokerAddress parse_broker_address(const std::string& text, int default_port, bool default_tls) {
    BrokerAddress address;
    address.port = default_port;
    address.tls = default_tls;
    std::string rest = text;
    if (const auto scheme_end = rest.find("://"); scheme_end != std::string::npos) {
        const std::string scheme = rest.substr(0, scheme_end);
        if (scheme == "tcp" || scheme == "mqtt") {
            address.tls = false;
        } else if (scheme == "ssl" || scheme == "mqtts") {
            address.tls = true;
        } else {
            bad(text, "unknown scheme '" + scheme + "' (tcp://, mqtt://, ssl:// or mqtts://)");
        }
        rest = rest.substr(scheme_end + 3);
    }
    if (!rest.empty() && rest.back() == '/') {
        rest.pop_back();  // "tcp://host:1883/" as some tools write it
    }
    if (rest.empty()) {
        bad(text, "no host");
    }
    for (const char c : rest) {
        if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == '/' || c == ',' || c == '@') {
            bad(text, std::string("unexpected '") +
                          (std::isspace(static_cast<unsigned char>(c)) != 0 ? " " : std::string(1, c)) +
                          "' (one broker per entry: host, host:port or scheme://host:port)");
        }
    }
    if (rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string::npos || close == 1) {
            bad(text, "an IPv6 address is written [address] or [address]:port");
        }
        address.host = rest.substr(1, close - 1);
        const std::string after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                bad(text, "an IPv6 address is written [address] or [address]:port");
            }
            address.port = parse_port(text, after.substr(1));
        }
    } else if (const auto colons = static_cast<std::size_t>(std::count(rest.begin(), rest.end(), ':'));
               colons == 0) {
        address.host = rest;
    } else if (colons == 1) {
        const auto colon = rest.find(':');
        address.host = rest.substr(0, colon);
        address.port = parse_port(text, rest.substr(colon + 1));
    } else {
        address.host = rest;  // a bare IPv6 address: no port can follow without brackets
    }
    if (address.host.empty()) {
        bad(text, "no host");
    }
    return address;
}

std::vector<BrokerAddress> broker_addresses(const MessagingOptions& options) {
    std::vector<BrokerAddress> addresses;
    if (options.brokers.empty()) {
        BrokerAddress single;
        single.host = options.broker;
        if (single.host.size() > 2 && single.host.front() == '[' && single.host.back() == ']') {
            single.host = single.host.substr(1, single.host.size() - 2);  // "[::1]" given as a host
        }
        single.port = options.port;
        single.tls = options.tls.enabled;
        addresses.push_back(std::move(single));
        return addresses;
    }
    addresses.reserve(options.brokers.size());
    for (const std::string& entry : options.brokers) {
        addresses.push_back(parse_broker_address(entry, options.port, options.tls.enabled));
    }
    return addresses;
}

}  // namespace fedbiomed::detail

namespace fedbiomed {

void validate_broker_address(const std::string& entry) {
    (void)detail::parse_broker_address(entry, 1883, false);
}

}  // namespace fedbiomed

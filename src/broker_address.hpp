// One broker of MessagingOptions::brokers (or of broker + port): where to connect and whether with TLS.
// Parsed once, when the Messaging object is constructed, so that a typo fails there and not at the
// first failover hours later.
#pragma once

#include <string>
#include <vector>

#include "fedbiomed/messaging_options.hpp"

namespace fedbiomed::detail {

struct BrokerAddress {
    std::string host;  ///< name or address, without brackets ("::1", not "[::1]")
    int port = 1883;
    bool tls = false;

    /// "host:port" ("[::1]:port" for an IPv6 address), with "ssl://" in front when TLS is used: how
    /// events, logs and error texts name this broker.
    std::string display() const;
};

/// Parses one entry: "host", "host:port", "[v6]", "[v6]:port", a bare IPv6 address, or any of these
/// after "tcp://", "mqtt://" (plain TCP), "ssl://" or "mqtts://" (TLS). Without a scheme TLS follows
/// @p default_tls; without a port, @p default_port.
/// @throws MessagingError (FB103) "broker address '...': <what is wrong>".
BrokerAddress parse_broker_address(const std::string& text, int default_port, bool default_tls);

/// The brokers a component tries, in order: MessagingOptions::brokers when not empty, else broker and
/// port. @throws MessagingError (FB103) naming the first bad entry.
std::vector<BrokerAddress> broker_addresses(const MessagingOptions& options);

}  // namespace fedbiomed::detail

// Why a TLS connection to the broker failed, in words an operator can act on. Paho reports every TLS
// failure as "TCP/TLS connect failure"; OpenSSL knows the cause (the broker's certificate does not match the
// host, is signed by an unknown CA, has expired; the broker refused our certificate, or wanted one). When
// Paho's connection fails, the session makes one handshake of its own with the same settings and reads the
// cause from OpenSSL. No Paho here, and no OpenSSL type in this header.
#pragma once

#include <chrono>
#include <string>

#include <sys/socket.h>

namespace fedbiomed::detail {

/// What the probe handshake uses: the TLS settings of the connection that failed.
struct TlsProbeSettings {
    std::string host;  ///< the broker's name or address, as configured (checked against its certificate)
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    std::string key_password;
    bool verify_server = true;
};

/// Makes one TLS handshake with @p address (at most @p budget in all) and, when it fails or the broker
/// closes the connection right after it, says why ("the broker requires a client certificate ...").
/// Returns an empty string when no cause was found (the handshake worked and the broker kept the
/// connection). Runs on the caller's thread; never throws except std::bad_alloc.
std::string diagnose_tls_failure(const sockaddr_storage& address, const TlsProbeSettings& settings,
                                 std::chrono::milliseconds budget);

/// A clear cause for an OpenSSL error text about a TLS alert or a handshake failure ("tlsv13 alert
/// certificate required" -> "the broker requires a client certificate ..."); @p text itself when nothing
/// better is known. Never throws except std::bad_alloc.
std::string explain_tls_error(const std::string& text);

}  // namespace fedbiomed::detail

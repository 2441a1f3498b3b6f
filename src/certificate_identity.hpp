// What a component's client certificate says about it: the identity a broker derives from it (Mosquitto's
// use_identity_as_username takes the Common Name) and its validity. Read once per start() to refuse, with a
// clear error, a component whose id is not its certificate's identity: the broker's ACL would confine it to
// the certificate's topics and it would run deaf (Mosquitto grants a denied subscription, then delivers
// nothing). OpenSSL stays in the .cpp.
#pragma once

#include <string>

namespace fedbiomed::detail {

/// What was read from a certificate file.
struct CertificateFacts {
    std::string identity;   ///< the value of the requested subject attribute; empty when absent
    bool expired = false;   ///< notAfter is in the past
    bool not_yet = false;   ///< notBefore is in the future
    std::string not_after;  ///< notAfter as OpenSSL prints it ("Jan  2 00:00:00 2020 GMT")
    std::string not_before;
};

/// Reads the first certificate of the PEM file @p cert_file and the value of its subject attribute
/// @p attribute ("CN", "UID", "emailAddress": any name OpenSSL knows).
/// @throws MessagingError (FB101) when the file cannot be read, holds no certificate, or @p attribute is
/// not an attribute name.
CertificateFacts read_certificate(const std::string& cert_file, const std::string& attribute);

/// The check start() makes with a client certificate: not expired, not yet valid, and (unless
/// @p attribute is empty) its @p attribute equal to @p id. @throws MessagingError (FB101) naming the file,
/// the certificate's identity and the id.
void check_client_certificate(const std::string& cert_file, const std::string& attribute,
                              const std::string& id);

}  // namespace fedbiomed::detail

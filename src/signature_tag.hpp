// What a signed publication carries besides its payload (MessagingOptions::signing): five MQTT 5 user
// properties, read and written by the transport (src/transport/) as plain strings, produced and checked by
// MessageSigning (message_signing.hpp). No OpenSSL here: the transport and the queues only carry it.
#pragma once

#include <string>

namespace fedbiomed::detail {

/// The names of the user properties (the broker strips them for MQTT 3.1.1 subscribers such as the
/// reference's, which receive the payload bytes alone).
inline constexpr const char* kSignatureAlgorithmProperty = "fbm-sig-alg";
inline constexpr const char* kSignerProperty = "fbm-sig-by";
inline constexpr const char* kSignatureTimeProperty = "fbm-sig-ts";
inline constexpr const char* kSignatureNonceProperty = "fbm-sig-nonce";
inline constexpr const char* kSignatureProperty = "fbm-sig";

/// The signature of one publication, as it travels: unchecked text until MessageSigning::verify().
struct SignatureTag {
    std::string algorithm;  ///< the label of the scheme and its version ("fbm-ed25519-v1")
    std::string signer;     ///< the signer's component id
    std::string timestamp;  ///< milliseconds since the Unix epoch, decimal, by the signer's clock
    std::string nonce;      ///< 16 random bytes, 32 lower-case hex digits
    std::string signature;  ///< the Ed25519 signature, 128 lower-case hex digits
};

}  // namespace fedbiomed::detail

// Signed messages between components of this library (MessagingOptions::signing): the Ed25519 keys, the
// signing of what we publish and the checking of what arrives. OpenSSL 3 here only, never in a public
// header.
//
// What is signed (scheme "fbm-ed25519-v1"): a fixed context string, then, each preceded by its length
// (4 bytes, big-endian), the scheme label, the signer id, the time (ms since the epoch, decimal), the nonce
// (32 hex digits), the topic, the end-to-end id and acknowledgement topic (empty when none), and finally the
// SHA-512 digest of the payload (one pass over a large payload, instead of Ed25519's two). The label is
// signed too, so a later scheme cannot be passed off as this one.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "end_to_end.hpp"
#include "fedbiomed/messaging_options.hpp"
#include "replay_guard.hpp"
#include "signature_tag.hpp"

namespace fedbiomed::detail {

/// The scheme label of the signatures this version makes and checks.
inline constexpr const char* kSignatureScheme = "fbm-ed25519-v1";

/// Why a signature was refused (or none: accepted). One counter and one report throttle per cause.
enum class SignatureProblem : std::uint8_t {
    none,
    unsigned_message,  ///< no signature, and require_signed
    unknown_signer,    ///< signed by a component whose key is not trusted, and require_signed
    invalid,           ///< malformed, unknown scheme, or the signature does not match (forged, tampered)
    stale,             ///< older than max_age, too far ahead, or older than the replay cache remembers
    replayed,          ///< the same signature was accepted before
    wrong_signer,      ///< valid, but the signer is not the message's sender
};

/// A short name of @p problem for texts ("forged or tampered"...).
const char* signature_problem_text(SignatureProblem problem) noexcept;

/// The milliseconds since the Unix epoch now (system clock: signatures compare the clocks of two hosts).
std::int64_t wall_clock_ms() noexcept;

class MessageSigning {
public:
    /// Loads the keys. @throws MessagingError (FB103) naming the file or directory that cannot be used.
    MessageSigning(const SigningOptions& options, const std::string& own_id);
    ~MessageSigning();
    MessageSigning(const MessageSigning&) = delete;
    MessageSigning& operator=(const MessageSigning&) = delete;

    /// nullptr when signing is off (no key file). @throws as the constructor.
    static std::unique_ptr<MessageSigning> make(const SigningOptions& options, const std::string& own_id);

    bool require_signed() const noexcept { return require_signed_; }

    /// Signs a publication now, with a fresh nonce. Any thread. @throws MessagingError (FB103) when OpenSSL
    /// fails (out of memory, no randomness).
    SignatureTag sign(const std::string& topic, const std::string& payload,
                      const std::optional<EndToEndTag>& tag) const;
    /// The same at @p now_ms (tests; the will, signed when the connection is made).
    SignatureTag sign_at(const std::string& topic, const std::string& payload,
                         const std::optional<EndToEndTag>& tag, std::int64_t now_ms) const;

    /// What verify() checks besides the signature itself.
    enum class Freshness : std::uint8_t {
        authentic_only,  ///< presence records: retained state, signed once and delivered for days
        fresh,           ///< messages and acknowledgements: within max_age, and not a replay
    };

    struct Verdict {
        SignatureProblem problem = SignatureProblem::none;
        std::string signer;  ///< the verified signer; empty when accepted unsigned (or unknown signer)
        std::string detail;  ///< refused: what was wrong, for the report
    };

    /// Checks what arrived on @p topic. @p expected_signer: the id the signer must be (empty: checked
    /// later, against the decoded message). Any thread. Never throws but std::bad_alloc.
    Verdict verify(const std::string& topic, const std::string& payload,
                   const std::optional<EndToEndTag>& tag, const std::optional<SignatureTag>& signature,
                   const std::string& expected_signer, Freshness freshness, std::int64_t now_ms) const;

    /// The replay cache's entries now (tests).
    std::size_t remembered() const { return replay_.size(); }

private:
    struct Key;
    const std::string own_id_;
    const bool require_signed_;
    std::unique_ptr<Key> private_key_;
    std::map<std::string, std::unique_ptr<Key>> trusted_;  // component id -> public key
    mutable ReplayGuard replay_;
};

}  // namespace fedbiomed::detail

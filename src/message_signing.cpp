#include "message_signing.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "fedbiomed/errors.hpp"
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

namespace fedbiomed::detail {

struct MessageSigning::Key {
    EVP_PKEY* key = nullptr;
    explicit Key(EVP_PKEY* k) noexcept : key(k) {}
    ~Key() { EVP_PKEY_free(key); }
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;
};

namespace {

constexpr std::size_t kNonceBytes = 16;
constexpr std::size_t kSignatureBytes = 64;  // Ed25519
constexpr const char* kContext = "fedbiomed-messaging signed publication";

struct BioFree {
    void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

[[noreturn]] void refuse(const std::string& text) {
    throw MessagingError(ErrorNumbers::FB103, "message signing: " + text);
}

// OpenSSL's own words for the last error, emptying its queue (a left-over error would confuse Paho's TLS).
std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) {
        return "no detail";
    }
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    return text.data();
}

// Never prompts on a terminal for the password of an encrypted key (OpenSSL's default): refuses it.
int no_password(char*, int, int, void*) {
    return 0;
}

std::unique_ptr<BIO, BioFree> open_file(const std::string& path, const char* what) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "r"));
    if (!bio) {
        const int error = errno;
        ERR_clear_error();
        refuse(std::string("cannot read ") + what + " " + path + ": " +
               (error != 0 ? std::strerror(error) : "cannot open"));
    }
    return bio;
}

EVP_PKEY* load_private(const std::string& path) {
    auto bio = open_file(path, "signing.key_file");
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr);
    if (key == nullptr) {
        refuse("signing.key_file " + path +
               " is not an unencrypted PEM private key (openssl genpkey -algorithm ed25519): " +
               openssl_error());
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        refuse("signing.key_file " + path + " is not an Ed25519 key (openssl genpkey -algorithm ed25519)");
    }
    return key;
}

EVP_PKEY* load_public(const std::string& path) {
    auto bio = open_file(path, "trusted key");
    EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, no_password, nullptr);
    if (key == nullptr) {
        refuse("trusted key " + path +
               " is not a PEM public key (openssl pkey -in key.pem -pubout): " + openssl_error());
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        refuse("trusted key " + path + " is not an Ed25519 key");
    }
    return key;
}

// The public half of our own key, so that our own id is always trusted (our presence topic).
EVP_PKEY* public_of(EVP_PKEY* private_key) {
    std::array<unsigned char, 32> raw{};
    std::size_t length = raw.size();
    if (EVP_PKEY_get_raw_public_key(private_key, raw.data(), &length) != 1) {
        refuse("cannot derive the public key of signing.key_file: " + openssl_error());
    }
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), length);
    if (key == nullptr) {
        refuse("cannot derive the public key of signing.key_file: " + openssl_error());
    }
    return key;
}

void append_field(std::string& out, const std::string& field) {
    const auto size = static_cast<std::uint32_t>(field.size());
    out += static_cast<char>((size >> 24U) & 0xFFU);
    out += static_cast<char>((size >> 16U) & 0xFFU);
    out += static_cast<char>((size >> 8U) & 0xFFU);
    out += static_cast<char>(size & 0xFFU);
    out += field;
}

// What the signature covers (see message_signing.hpp).
std::string signed_data(const SignatureTag& tag, const std::string& topic, const std::string& payload,
                        const std::optional<EndToEndTag>& end_to_end) {
    std::array<unsigned char, SHA512_DIGEST_LENGTH> digest{};
    SHA512(reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), digest.data());
    std::string data;
    data.reserve(256 + topic.size());
    data += kContext;
    data += '\0';
    append_field(data, tag.algorithm);
    append_field(data, tag.signer);
    append_field(data, tag.timestamp);
    append_field(data, tag.nonce);
    append_field(data, topic);
    append_field(data, end_to_end ? end_to_end->id : std::string());
    append_field(data, end_to_end ? end_to_end->ack_topic : std::string());
    data.append(reinterpret_cast<const char*>(digest.data()), digest.size());
    return data;
}

std::string to_hex(const unsigned char* bytes, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        text[2 * i] = kDigits[bytes[i] >> 4U];
        text[2 * i + 1] = kDigits[bytes[i] & 0x0FU];
    }
    return text;
}

int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

// Lower-case hex of exactly @p size bytes into @p out; false otherwise.
bool from_hex(const std::string& text, unsigned char* out, std::size_t size) noexcept {
    if (text.size() != size * 2) {
        return false;
    }
    for (std::size_t i = 0; i < size; ++i) {
        const int high = hex_digit(text[2 * i]);
        const int low = hex_digit(text[2 * i + 1]);
        if (high < 0 || low < 0) {
            return false;
        }
        out[i] = static_cast<unsigned char>((high << 4) | low);
    }
    return true;
}

std::optional<std::int64_t> parse_time(const std::string& text) noexcept {
    std::int64_t value = 0;
    if (text.empty() || text.size() > 19) {
        return std::nullopt;
    }
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || value < 0) {
        return std::nullopt;
    }
    return value;
}

}  // namespace

const char* signature_problem_text(SignatureProblem problem) noexcept {
    switch (problem) {
    case SignatureProblem::none: return "accepted";
    case SignatureProblem::unsigned_message: return "unsigned";
    case SignatureProblem::unknown_signer: return "unknown signer";
    case SignatureProblem::invalid: return "invalid signature (forged or tampered)";
    case SignatureProblem::stale: return "stale signature";
    case SignatureProblem::replayed: return "replayed";
    case SignatureProblem::wrong_signer: return "signer is not the sender";
    }
    return "?";
}

std::int64_t wall_clock_ms() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

MessageSigning::MessageSigning(const SigningOptions& options, const std::string& own_id)
    : own_id_(own_id),
      require_signed_(options.require_signed),
      replay_(ReplayGuard::Window{options.max_age, options.max_clock_skew, options.replay_cache_capacity}) {
    private_key_ = std::make_unique<Key>(load_private(options.key_file));
    if (!options.trusted_keys.empty()) {
        namespace fs = std::filesystem;
        std::error_code error;
        fs::directory_iterator entries(options.trusted_keys, error);
        if (error) {
            refuse("cannot read signing.trusted_keys " + options.trusted_keys + ": " + error.message());
        }
        // Advancing the iterator with an error_code: the range-for's operator++ would throw filesystem_error
        // instead of the documented FB103.
        for (auto it = fs::begin(entries); it != fs::end(entries); it.increment(error)) {
            if (error) {
                refuse("cannot read signing.trusted_keys " + options.trusted_keys + ": " + error.message());
            }
            const fs::path& path = it->path();
            if (path.extension() != ".pem") {
                continue;
            }
            const std::string id = path.stem().string();
            try {
                validate_component_id(id);
            } catch (const MessagingError& bad) {
                refuse("trusted key " + path.string() + " is not named <component id>.pem: " + bad.detail());
            }
            trusted_[id] = std::make_unique<Key>(load_public(path.string()));
        }
    }
    // Our own key, whatever the directory says for our id.
    trusted_[own_id_] = std::make_unique<Key>(public_of(private_key_->key));
}

MessageSigning::~MessageSigning() = default;

std::unique_ptr<MessageSigning> MessageSigning::make(const SigningOptions& options,
                                                     const std::string& own_id) {
    if (options.key_file.empty()) {
        return nullptr;
    }
    return std::make_unique<MessageSigning>(options, own_id);
}

SignatureTag MessageSigning::sign(const std::string& topic, const std::string& payload,
                                  const std::optional<EndToEndTag>& tag) const {
    return sign_at(topic, payload, tag, wall_clock_ms());
}

SignatureTag MessageSigning::sign_at(const std::string& topic, const std::string& payload,
                                     const std::optional<EndToEndTag>& tag, std::int64_t now_ms) const {
    SignatureTag signature;
    signature.algorithm = kSignatureScheme;
    signature.signer = own_id_;
    signature.timestamp = std::to_string(now_ms);
    std::array<unsigned char, kNonceBytes> nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
        refuse("no random nonce: " + openssl_error());
    }
    signature.nonce = to_hex(nonce.data(), nonce.size());
    const std::string data = signed_data(signature, topic, payload, tag);
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> context(EVP_MD_CTX_new());
    std::array<unsigned char, kSignatureBytes> bytes{};
    std::size_t length = bytes.size();
    if (!context || EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, private_key_->key) != 1 ||
        EVP_DigestSign(context.get(), bytes.data(), &length,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
        refuse("cannot sign: " + openssl_error());
    }
    signature.signature = to_hex(bytes.data(), length);
    return signature;
}

MessageSigning::Verdict MessageSigning::verify(const std::string& topic, const std::string& payload,
                                               const std::optional<EndToEndTag>& tag,
                                               const std::optional<SignatureTag>& signature,
                                               const std::string& expected_signer, Freshness freshness,
                                               std::int64_t now_ms) const {
    Verdict verdict;
    auto refused = [&](SignatureProblem problem, std::string detail) {
        verdict.problem = problem;
        verdict.detail = std::move(detail);
        verdict.signer.clear();
        return verdict;
    };
    if (!signature) {
        return require_signed_ ? refused(SignatureProblem::unsigned_message, "no signature") : verdict;
    }
    if (signature->algorithm != kSignatureScheme) {
        return refused(SignatureProblem::invalid,
                       "unknown signature scheme (expected " + std::string(kSignatureScheme) + ")");
    }
    const auto key = trusted_.find(signature->signer);
    if (key == trusted_.end()) {
        if (!require_signed_) {
            return verdict;  // as unsigned: nothing to check it against
        }
        return refused(SignatureProblem::unknown_signer,
                       "signer " + signature->signer.substr(0, 128) + " has no trusted key");
    }
    const auto signed_ms = parse_time(signature->timestamp);
    ReplayGuard::Nonce nonce{};
    std::array<unsigned char, kSignatureBytes> bytes{};
    if (!signed_ms || !from_hex(signature->nonce, nonce.data(), nonce.size()) ||
        !from_hex(signature->signature, bytes.data(), bytes.size())) {
        return refused(SignatureProblem::invalid, "malformed signature properties");
    }
    const std::string data = signed_data(*signature, topic, payload, tag);
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> context(EVP_MD_CTX_new());
    if (!context) {
        throw std::bad_alloc();
    }
    const bool valid =
        EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key->second->key) == 1 &&
        EVP_DigestVerify(context.get(), bytes.data(), bytes.size(),
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    ERR_clear_error();
    if (!valid) {
        return refused(SignatureProblem::invalid,
                       "the signature of " + signature->signer + " does not match the publication");
    }
    if (!expected_signer.empty() && expected_signer != signature->signer) {
        return refused(SignatureProblem::wrong_signer,
                       "signed by " + signature->signer + " on behalf of " + expected_signer.substr(0, 128));
    }
    if (freshness == Freshness::fresh) {
        switch (replay_.check(*signed_ms, nonce, now_ms)) {
        case ReplayGuard::Verdict::fresh: break;
        case ReplayGuard::Verdict::stale:
            return refused(
                SignatureProblem::stale,
                "signed by " + signature->signer + " " +
                    (now_ms >= *signed_ms ? std::to_string(now_ms - *signed_ms) + " ms ago"
                                          : std::to_string(*signed_ms - now_ms) + " ms ahead") +
                    ", outside the accepted window (signing.max_age, max_clock_skew) or older than "
                    "the replay cache remembers");
        case ReplayGuard::Verdict::replayed:
            return refused(SignatureProblem::replayed,
                           "a signature of " + signature->signer + " already accepted");
        }
    }
    verdict.signer = signature->signer;
    return verdict;
}

}  // namespace fedbiomed::detail

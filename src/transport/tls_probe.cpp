#include "transport/tls_probe.hpp"

#include <cerrno>
#include <cstring>
#include <memory>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <unistd.h>

namespace fedbiomed::detail {
namespace {

using Clock = std::chrono::steady_clock;

struct ContextFree {
    void operator()(SSL_CTX* context) const noexcept { SSL_CTX_free(context); }
};
struct SslFree {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

class Socket {
public:
    explicit Socket(int fd) : fd_(fd) {}
    ~Socket() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

// The OpenSSL errors queued on this thread, as one line ("...: tlsv13 alert certificate required"), and
// the queue emptied.
std::string take_openssl_errors() {
    std::string text;
    unsigned long code = 0;
    while ((code = ERR_get_error()) != 0) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        const char* reason = ERR_reason_error_string(code);
        if (!text.empty()) {
            text += "; ";
        }
        text += reason != nullptr ? reason : buffer;
    }
    return text;
}

int password_callback(char* buffer, int size, int /*rwflag*/, void* user_data) {
    const auto* password = static_cast<const std::string*>(user_data);
    if (password == nullptr || size <= 0) {
        return 0;
    }
    const auto length = std::min(password->size(), static_cast<std::size_t>(size));
    // OpenSSL takes the returned length, not a NUL-terminated string.
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
    std::memcpy(buffer, password->data(), length);
    return static_cast<int>(length);
}

// What the broker's certificate failed to satisfy, from OpenSSL's verification result.
std::string explain_verify_result(long result, const std::string& host) {
    const std::string what = X509_verify_cert_error_string(result);
    switch (result) {
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return "the broker's certificate is not issued for " + host +
               " (host name mismatch: connect with a name or address its subjectAltName lists; "
               "tls.verify_server = false skips the check, insecurely)";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return "the broker's certificate is not signed by a CA in tls.ca_file (" + what + ")";
    case X509_V_ERR_CERT_HAS_EXPIRED: return "the broker's certificate has expired";
    case X509_V_ERR_CERT_NOT_YET_VALID: return "the broker's certificate is not valid yet";
    default: return "the broker's certificate was not accepted (" + what + ")";
    }
}

// Waits until @p fd is ready for what @p want asks, until @p deadline. False on timeout or error.
bool wait_ready(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            return false;
        }
        pollfd waiter{fd, events, 0};
        const int ready = ::poll(&waiter, 1, static_cast<int>(left.count()));
        if (ready > 0) {
            return true;
        }
        if (ready < 0 && errno != EINTR) {
            return false;
        }
    }
}

bool is_ip_literal(const std::string& host) {
    in6_addr v6{};
    in_addr v4{};
    return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

}  // namespace

std::string explain_tls_error(const std::string& text) {
    const auto has = [&](const char* needle) { return text.find(needle) != std::string::npos; };
    if (has("certificate required")) {
        return "the broker requires a client certificate (set tls.cert_file and tls.key_file)";
    }
    if (has("alert certificate expired")) {
        return "the broker refused our client certificate: it has expired";
    }
    if (has("alert unknown ca")) {
        return "the broker refused our client certificate: it is not issued by a CA the broker trusts";
    }
    if (has("alert certificate revoked")) {
        return "the broker refused our client certificate: it is revoked";
    }
    if (has("alert bad certificate") || has("alert unsupported certificate") ||
        has("alert certificate unknown")) {
        return "the broker refused our client certificate (" + text + ")";
    }
    if (has("alert handshake failure")) {
        return "the broker refused the TLS handshake (no common protocol version or cipher, or a client "
               "certificate is required): " +
               text;
    }
    if (has("wrong version number") || has("packet length too long") || has("record layer failure")) {
        return "the listener does not speak TLS (" + text + ")";
    }
    return text;
}

std::string diagnose_tls_failure(const sockaddr_storage& address, const TlsProbeSettings& settings,
                                 std::chrono::milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    ERR_clear_error();
    std::unique_ptr<SSL_CTX, ContextFree> context(SSL_CTX_new(TLS_client_method()));
    if (!context) {
        return {};
    }
    if (!settings.ca_file.empty()) {
        if (SSL_CTX_load_verify_locations(context.get(), settings.ca_file.c_str(), nullptr) != 1) {
            return "cannot read the CA file " + settings.ca_file + " (" + take_openssl_errors() + ")";
        }
    } else {
        SSL_CTX_set_default_verify_paths(context.get());
    }
    if (!settings.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(context.get(), settings.cert_file.c_str()) != 1) {
            return "cannot read the client certificate " + settings.cert_file + " (" + take_openssl_errors() +
                   ")";
        }
        SSL_CTX_set_default_passwd_cb(context.get(), password_callback);
        SSL_CTX_set_default_passwd_cb_userdata(context.get(),
                                               const_cast<std::string*>(&settings.key_password));
        const std::string& key = settings.key_file.empty() ? settings.cert_file : settings.key_file;
        if (SSL_CTX_use_PrivateKey_file(context.get(), key.c_str(), SSL_FILETYPE_PEM) != 1) {
            return "cannot read the client key " + key + " (" + take_openssl_errors() +
                   "; is tls.key_password right?)";
        }
        if (SSL_CTX_check_private_key(context.get()) != 1) {
            return "the client key " + key + " does not belong to the certificate " + settings.cert_file;
        }
    }
    SSL_CTX_set_verify(context.get(), settings.verify_server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);

    const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return {};
    }
    const Socket socket(fd);
    const socklen_t length = address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
        if (errno != EINPROGRESS || !wait_ready(fd, POLLOUT, deadline)) {
            return {};
        }
        int error = 0;
        socklen_t size = sizeof error;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) {
            return {};
        }
    }
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
    if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
        return {};
    }
    if (settings.verify_server) {
        // As Paho checks it: the configured host against the certificate's names or addresses.
        if (is_ip_literal(settings.host)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), settings.host.c_str());
        } else {
            SSL_set1_host(ssl.get(), settings.host.c_str());
        }
    }
    if (!is_ip_literal(settings.host)) {
        // SSL_set_tlsext_host_name() is a macro with a C cast; its expansion, without the cast.
        SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(settings.host.c_str()));
    }

    // The handshake, then (TLS 1.3 sends the broker's verdict on our certificate after it) one read: an
    // alert or a closed connection is the broker's refusal; silence means it waits for our CONNECT.
    bool handshake_done = false;
    for (;;) {
        ERR_clear_error();
        char byte = 0;
        const int rc = handshake_done ? SSL_read(ssl.get(), &byte, 1) : SSL_connect(ssl.get());
        if (rc > 0) {
            if (handshake_done) {
                return {};  // the broker sent data: no refusal seen
            }
            handshake_done = true;
            continue;
        }
        const int error = SSL_get_error(ssl.get(), rc);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            if (!wait_ready(fd, error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
                return {};  // nothing more within the budget: no cause found
            }
            continue;
        }
        if (!handshake_done) {
            const long verify = SSL_get_verify_result(ssl.get());
            if (settings.verify_server && verify != X509_V_OK) {
                return explain_verify_result(verify, settings.host);
            }
        }
        const std::string text = take_openssl_errors();
        if (!text.empty()) {
            return explain_tls_error(text);
        }
        if (error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL) {
            return handshake_done ? "the broker closed the connection right after the TLS handshake"
                                  : "the broker closed the connection during the TLS handshake (does this "
                                    "listener speak "
                                    "TLS? a plain MQTT listener closes it so)";
        }
        return {};
    }
}

}  // namespace fedbiomed::detail

/// @file test_pki.hpp
/// @brief Test support: a throw-away public-key infrastructure made with the openssl command at test time
/// (no certificate is stored in the repository, so none expires under the tests).
#pragma once

#include <string>
#include <vector>

namespace fbm_test {

/// @brief A certificate and its private key, as PEM files.
struct CertificateFiles {
    std::string cert;  ///< the certificate (PEM)
    std::string key;   ///< its private key (PEM, unencrypted unless made by TestPki::encrypted_key())
};

/// @brief Two certificate authorities in a temporary directory (removed by the destructor), and the
/// certificates the TLS tests need, each made on request.
///
/// Not thread-safe; drive it from the test's main thread. Every method runs openssl and throws
/// std::runtime_error with openssl's output when it fails.
class TestPki {
public:
    /// @brief Makes the directory, the federation's CA (ca()) and another CA (other_ca()).
    TestPki();
    /// @brief Removes the directory and everything in it.
    ~TestPki();
    TestPki(const TestPki&) = delete;
    TestPki& operator=(const TestPki&) = delete;

    /// @brief The directory holding every file.
    const std::string& directory() const { return dir_; }
    /// @brief The federation's CA certificate (PEM): what brokers and clients trust.
    std::string ca() const;
    /// @brief A second CA, trusted by nobody here.
    std::string other_ca() const;

    /// @brief A broker certificate signed by ca() for 127.0.0.1 and localhost (subjectAltName).
    CertificateFiles broker();
    /// @brief A broker certificate signed by ca() for another host name only (broker.example.org).
    CertificateFiles broker_for_another_host();
    /// @brief A client certificate signed by ca() with Common Name @p common_name, valid now.
    CertificateFiles client(const std::string& common_name);
    /// @brief A client certificate signed by ca() whose validity ended in 2020.
    CertificateFiles expired_client(const std::string& common_name);
    /// @brief A client certificate valid now but signed by other_ca().
    CertificateFiles client_of_other_ca(const std::string& common_name);
    /// @brief @p files' key encrypted (AES-256) with @p password, in a new file; returns its path.
    std::string encrypted_key(const CertificateFiles& files, const std::string& password);

private:
    // A key and a certificate request for @p subject, signed by CA @p ca with the extension lines @p ext.
    CertificateFiles issue(const std::string& name, const std::string& subject, const std::string& ca,
                           const std::vector<std::string>& ext);
    void make_ca(const std::string& name, const std::string& common_name);
    std::string path(const std::string& file) const { return dir_ + "/" + file; }

    std::string dir_;
};

}  // namespace fbm_test

/// @file test_signing_keys.hpp
/// @brief Test support: Ed25519 signing keys made with the openssl command at test time, laid out as an
/// operator would (MessagingOptions::signing): one private key file per component, and a directory of
/// trusted public keys named `<component id>.pem`.
#pragma once

#include <string>

namespace fbm_test {

/// @brief A temporary directory (removed by the destructor) holding `keys/<id>.key` and `trusted/<id>.pem`.
///
/// Not thread-safe; drive it from the test's main thread. Every method that runs openssl throws
/// std::runtime_error with openssl's output when it fails.
class TestSigningKeys {
public:
    TestSigningKeys();
    ~TestSigningKeys();
    TestSigningKeys(const TestSigningKeys&) = delete;
    TestSigningKeys& operator=(const TestSigningKeys&) = delete;

    /// @brief Makes @p id's private key (`openssl genpkey -algorithm ed25519`) and, when @p trusted, puts
    /// its public key in trusted_dir(). @return the private key's path.
    std::string make(const std::string& id, bool trusted = true);
    /// @brief The private key file of @p id (made by make()).
    std::string key(const std::string& id) const;
    /// @brief The directory of trusted public keys.
    std::string trusted_dir() const;
    /// @brief The top directory (for files of the test's own).
    const std::string& directory() const { return dir_; }

private:
    std::string dir_;
};

}  // namespace fbm_test

/// @file connection_args.hpp
/// @brief The security options fbm-node and fbm-researcher share: TLS files, user name, passwords read
/// from files or the environment, and the keys of signed messages (never from the command line, where any
/// local user can read them in /proc, and never logged).
#pragma once

#include <string>

#include "cli_args.hpp"
#include "fedbiomed/messaging_options.hpp"

namespace fbm_cli {

/// @brief Environment variable holding the MQTT password when --password-file is not given.
inline constexpr const char* kPasswordEnv = "FBM_PASSWORD";
/// @brief Environment variable holding the TLS key's password when --tls-key-password-file is not given.
inline constexpr const char* kKeyPasswordEnv = "FBM_TLS_KEY_PASSWORD";

/// @brief The --help lines of --broker and --port (same text in both programs; parsed by each with
/// split_broker_list() and parse_port()).
extern const char* const kBrokerHelp;

/// @brief The --help lines that document these options (same text in both programs).
extern const char* const kSecurityHelp;

/// @brief The security options as given; apply() turns them into MessagingOptions.
struct ConnectionArgs {
    bool tls = false;                ///< --tls, or implied by any --tls-* file
    std::string ca_file;             ///< --tls-ca FILE
    std::string cert_file;           ///< --tls-cert FILE
    std::string key_file;            ///< --tls-key FILE
    std::string key_password_file;   ///< --tls-key-password-file FILE
    std::string identity_attribute;  ///< --tls-identity ATTRIBUTE ("" = the library's default, CN)
    bool identity_attribute_set = false;
    std::string username;         ///< --username USER
    std::string password_file;    ///< --password-file FILE
    std::string signing_key;      ///< --signing-key FILE (MessagingOptions::signing.key_file)
    std::string trusted_keys;     ///< --trusted-keys DIR
    bool require_signed = false;  ///< --require-signed

    /// @brief When @p option is one of these options, consumes its value from @p args and returns true;
    /// otherwise returns false and consumes nothing. @throws UsageError for a missing or empty value.
    bool parse(ArgCursor& args, const std::string& option);

    /// @brief Checks the combination (a key needs a certificate, a password file needs a user name,
    /// --trusted-keys and --require-signed need --signing-key).
    /// @throws UsageError saying what is wrong.
    void check() const;

    /// @brief Sets the TLS settings, the signing keys, the user name and the passwords of @p options, reading
    /// the password files (first line, without its line end) or the environment. @throws std::runtime_error
    /// naming the file that cannot be read (never its content).
    void apply(fedbiomed::MessagingOptions& options) const;
};

/// @brief The first line of @p path without its line end (a secret: never shown in an error).
/// @throws std::runtime_error naming @p path when it cannot be read or is empty.
std::string read_secret_file(const std::string& path, const char* what);

}  // namespace fbm_cli

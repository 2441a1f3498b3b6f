#include "connection_args.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace fbm_cli {
namespace {

// The value of the environment variable @p name, or nullptr. Read once at start-up, and nothing in these
// programs changes the environment.
const char* environment(const char* name) {
    return std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
}

}  // namespace

const char* const kBrokerHelp =
    R"(  --broker HOST[:PORT][,HOST[:PORT]...]
                     the MQTT broker, or a list of brokers to fail over between (the
                     nodes of a cluster): the first that answers is used and, when it is
                     lost, the next ones are tried; an entry may also be [IPV6]:PORT or
                     ssl://HOST:PORT (default: localhost)
  --port PORT        TCP port of the brokers given without one (default: 1883)
)";

const char* const kSecurityHelp =
    R"(Broker security (see docs/security.md):
  --tls              connect with TLS, trusting the system's CAs (implied by the options below)
  --tls-ca FILE      PEM file of the CA(s) that sign the broker's certificate; the broker's
                     certificate must also name the --broker host (always checked)
  --tls-cert FILE    this component's client certificate (PEM), for brokers that require one;
                     its Common Name must be this component's --id
  --tls-key FILE     the private key of --tls-cert (PEM; default: inside --tls-cert)
  --tls-key-password-file FILE
                     file whose first line is the password of an encrypted --tls-key
                     (default: the environment variable FBM_TLS_KEY_PASSWORD, if set)
  --tls-identity ATTRIBUTE
                     the certificate subject attribute that must equal --id (default: CN;
                     "" turns the check off, for brokers that map identities otherwise)
  --username USER    MQTT user name (ignored by brokers that take it from the certificate)
  --password-file FILE
                     file whose first line is the MQTT password (default: the environment
                     variable FBM_PASSWORD). Passwords are never accepted on the command line
                     and never logged.

Signed messages (between components of this library; see docs/security.md):
  --signing-key FILE
                     this component's Ed25519 private key (PEM, unencrypted:
                     openssl genpkey -algorithm ed25519 -out FILE): everything it
                     publishes is signed, and signed messages it receives are checked
  --trusted-keys DIR
                     directory of the trusted components' public keys, one file
                     <component id>.pem each (openssl pkey -in KEY -pubout); a message
                     signed by one of them must carry a valid, fresh, unreplayed
                     signature by its sender, or it is refused (FB104, counted)
  --require-signed   also refuse unsigned messages (reference components) and signers
                     not in --trusted-keys; needs --signing-key. Signing needs MQTT 5:
                     a broker that only speaks MQTT 3.1.1 is refused (FB101)
)";

bool ConnectionArgs::parse(ArgCursor& args, const std::string& option) {
    if (option == "--tls") {
        args.no_value(option);
        tls = true;
    } else if (option == "--tls-ca") {
        ca_file = require_non_empty(option, args.value(option));
        tls = true;
    } else if (option == "--tls-cert") {
        cert_file = require_non_empty(option, args.value(option));
        tls = true;
    } else if (option == "--tls-key") {
        key_file = require_non_empty(option, args.value(option));
        tls = true;
    } else if (option == "--tls-key-password-file") {
        key_password_file = require_non_empty(option, args.value(option));
    } else if (option == "--tls-identity") {
        identity_attribute = args.value(option);
        identity_attribute_set = true;
    } else if (option == "--username") {
        username = require_non_empty(option, args.value(option));
    } else if (option == "--password-file") {
        password_file = require_non_empty(option, args.value(option));
    } else if (option == "--signing-key") {
        signing_key = require_non_empty(option, args.value(option));
    } else if (option == "--trusted-keys") {
        trusted_keys = require_non_empty(option, args.value(option));
    } else if (option == "--require-signed") {
        args.no_value(option);
        require_signed = true;
    } else if (option == "--password" || option == "--tls-key-password") {
        throw UsageError("option " + option +
                         " does not exist: a password on the command line is visible to every local user; "
                         "use " +
                         option + "-file FILE or the environment variable " +
                         (option == "--password" ? kPasswordEnv : kKeyPasswordEnv));
    } else {
        return false;
    }
    return true;
}

void ConnectionArgs::check() const {
    if (!key_file.empty() && cert_file.empty()) {
        throw UsageError("option --tls-key needs --tls-cert");
    }
    if (!key_password_file.empty() && cert_file.empty()) {
        throw UsageError("option --tls-key-password-file needs --tls-cert");
    }
    if (!password_file.empty() && username.empty()) {
        throw UsageError("option --password-file needs --username");
    }
    if (signing_key.empty() && (require_signed || !trusted_keys.empty())) {
        throw UsageError(std::string("option ") + (require_signed ? "--require-signed" : "--trusted-keys") +
                         " needs --signing-key");
    }
}

std::string read_secret_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error(std::string("cannot read the ") + what + " file " + path);
    }
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    if (line.empty()) {
        throw std::runtime_error(std::string("the ") + what + " file " + path + " is empty");
    }
    return line;
}

void ConnectionArgs::apply(fedbiomed::MessagingOptions& options) const {
    if (tls) {
        options.tls.enabled = true;
        options.tls.ca_file = ca_file;
        options.tls.cert_file = cert_file;
        options.tls.key_file = key_file;
        if (identity_attribute_set) {
            options.tls.identity_attribute = identity_attribute;
        }
        if (!key_password_file.empty()) {
            options.tls.key_password = read_secret_file(key_password_file, "TLS key password");
        } else if (const char* env = environment(kKeyPasswordEnv); env != nullptr && !cert_file.empty()) {
            options.tls.key_password = env;
        }
    }
    options.signing.key_file = signing_key;
    options.signing.trusted_keys = trusted_keys;
    options.signing.require_signed = require_signed;
    if (!username.empty()) {
        options.username = username;
        if (!password_file.empty()) {
            options.password = read_secret_file(password_file, "password");
        } else if (const char* env = environment(kPasswordEnv); env != nullptr) {
            options.password = env;
        }
    }
}

}  // namespace fbm_cli

#include "shipped_config.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fbm_test {

MosquittoBrokerOptions shipped_broker_options(const std::string& deploy_dir, const TestPki& pki,
                                              const CertificateFiles& broker_cert) {
    const std::string path = deploy_dir + "/mosquitto-mtls.conf";
    std::ifstream in(path);
    if (!in) {
        throw std::runtime_error("cannot read " + path);
    }
    MosquittoBrokerOptions options;
    options.tls_listener = true;
    bool in_listener = false;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        if (!(words >> key) || key[0] == '#') {
            continue;
        }
        if (key == "listener") {
            in_listener = true;  // the test's TLS listener, on a free loopback port
            continue;
        }
        if (key == "cafile") {
            line = "cafile " + pki.ca();
        } else if (key == "certfile") {
            line = "certfile " + broker_cert.cert;
        } else if (key == "keyfile") {
            line = "keyfile " + broker_cert.key;
        } else if (key == "acl_file") {
            line = "acl_file " + deploy_dir + "/fedbiomed.acl";
        }
        const bool listener_setting = key == "cafile" || key == "certfile" || key == "keyfile" ||
                                      key == "require_certificate" || key == "use_identity_as_username";
        (in_listener && listener_setting ? options.tls_listener_config : options.extra_config)
            .push_back(line);
    }
    return options;
}

}  // namespace fbm_test

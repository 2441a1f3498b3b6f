/// @file shipped_config.hpp
/// @brief Test support: the broker configuration shipped in docs/deploy/ (mosquitto-mtls.conf and its ACL
/// file), loaded as it is for a MosquittoBroker; only the certificate paths and the port are the test's.
#pragma once

#include <string>

#include "mosquitto_broker.hpp"
#include "test_pki.hpp"

namespace fbm_test {

/// @brief MosquittoBroker options made from @p deploy_dir/mosquitto-mtls.conf: the lines after its
/// `listener` line become the TLS listener's (tls_port()), the others are global; cafile, certfile and
/// keyfile name @p pki's CA and @p broker_cert, acl_file names @p deploy_dir/fedbiomed.acl itself.
/// @throws std::runtime_error when the file cannot be read.
MosquittoBrokerOptions shipped_broker_options(const std::string& deploy_dir, const TestPki& pki,
                                              const CertificateFiles& broker_cert);

}  // namespace fbm_test

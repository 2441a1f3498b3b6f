#include "test_pki.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "child_process.hpp"
#include <sys/stat.h>
#include <unistd.h>

#ifndef FBM_OPENSSL_BINARY
#define FBM_OPENSSL_BINARY "/usr/bin/openssl"
#endif

namespace fbm_test {
namespace {

constexpr std::chrono::milliseconds kOpensslTimeout{30000};

void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), FBM_OPENSSL_BINARY);
    const RunResult result = run_program(args, kOpensslTimeout);
    if (result.status != 0) {
        std::string command;
        for (const auto& arg : args) {
            command += arg + " ";
        }
        throw std::runtime_error("TestPki: '" + command + "' failed:\n" + result.out + result.err);
    }
}

void write_text(const std::string& file, const std::string& text) {
    std::ofstream out(file, std::ios::trunc);
    out << text;
    if (!out) {
        throw std::runtime_error("TestPki: cannot write " + file);
    }
}

// Small elliptic-curve keys: generating them takes milliseconds, unlike RSA.
void make_key(const std::string& file) {
    openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", file});
}

}  // namespace

TestPki::TestPki() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/fbm-pki-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
        throw std::runtime_error("TestPki: mkdtemp failed: " + std::string(std::strerror(errno)));
    }
    dir_ = buffer.data();
    make_ca("ca", "fbm-test-ca");
    make_ca("other-ca", "fbm-other-ca");
}

TestPki::~TestPki() {
    const std::string command = "rm -rf '" + dir_ + "'";
    if (std::system(command.c_str()) != 0) {
        std::cerr << "TestPki: could not remove " << dir_ << "\n";
    }
}

std::string TestPki::ca() const {
    return path("ca.pem");
}

std::string TestPki::other_ca() const {
    return path("other-ca.pem");
}

void TestPki::make_ca(const std::string& name, const std::string& common_name) {
    make_key(path(name + ".key"));
    openssl({"req", "-x509", "-new", "-key", path(name + ".key"), "-out", path(name + ".pem"), "-days", "2",
             "-subj", "/CN=" + common_name});
}

CertificateFiles TestPki::issue(const std::string& name, const std::string& subject, const std::string& ca,
                                const std::vector<std::string>& ext) {
    CertificateFiles files{path(name + ".pem"), path(name + ".key")};
    make_key(files.key);
    openssl({"req", "-new", "-key", files.key, "-out", path(name + ".csr"), "-subj", subject});
    std::string extensions;
    for (const auto& line : ext) {
        extensions += line + "\n";
    }
    write_text(path(name + ".ext"), extensions);
    openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"), "-CAkey",
             path(ca + ".key"), "-CAcreateserial", "-out", files.cert, "-days", "2", "-extfile",
             path(name + ".ext")});
    return files;
}

CertificateFiles TestPki::broker() {
    return issue("broker", "/CN=127.0.0.1", "ca",
                 {"subjectAltName=IP:127.0.0.1,DNS:localhost", "extendedKeyUsage=serverAuth"});
}

CertificateFiles TestPki::broker_for_another_host() {
    return issue("broker-other-host", "/CN=broker.example.org", "ca",
                 {"subjectAltName=DNS:broker.example.org", "extendedKeyUsage=serverAuth"});
}

CertificateFiles TestPki::client(const std::string& common_name) {
    return issue("client-" + common_name, "/CN=" + common_name, "ca", {"extendedKeyUsage=clientAuth"});
}

CertificateFiles TestPki::client_of_other_ca(const std::string& common_name) {
    return issue("rogue-" + common_name, "/CN=" + common_name, "other-ca", {"extendedKeyUsage=clientAuth"});
}

CertificateFiles TestPki::expired_client(const std::string& common_name) {
    // `openssl x509` of OpenSSL 3.0 cannot back-date a certificate; `openssl ca` can (-startdate/-enddate).
    const std::string name = "expired-" + common_name;
    CertificateFiles files{path(name + ".pem"), path(name + ".key")};
    make_key(files.key);
    openssl({"req", "-new", "-key", files.key, "-out", path(name + ".csr"), "-subj", "/CN=" + common_name});
    const std::string db = path("ca-db");
    ::mkdir(db.c_str(), 0700);
    write_text(db + "/index.txt", "");
    write_text(db + "/serial", "01\n");
    write_text(path("ca.cnf"), "[ca]\ndefault_ca = fbm\n[fbm]\ndatabase = " + db +
                                   "/index.txt\nserial = " + db + "/serial\nnew_certs_dir = " + db +
                                   "\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                                   "[any]\ncommonName = supplied\n");
    openssl({"ca", "-batch", "-notext", "-config", path("ca.cnf"), "-cert", path("ca.pem"), "-keyfile",
             path("ca.key"), "-in", path(name + ".csr"), "-out", files.cert, "-startdate", "20200101000000Z",
             "-enddate", "20200102000000Z"});
    return files;
}

std::string TestPki::encrypted_key(const CertificateFiles& files, const std::string& password) {
    std::string out = files.key + ".encrypted";
    openssl({"pkey", "-in", files.key, "-aes256", "-passout", "pass:" + password, "-out", out});
    return out;
}

}  // namespace fbm_test

#include "test_signing_keys.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <vector>

#include "child_process.hpp"
#include <sys/stat.h>
#include <unistd.h>

#ifndef FBM_OPENSSL_BINARY
#define FBM_OPENSSL_BINARY "/usr/bin/openssl"
#endif

namespace fbm_test {
namespace {

void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), FBM_OPENSSL_BINARY);
    const RunResult result = run_program(args, std::chrono::milliseconds(30000));
    if (result.status != 0) {
        std::string command;
        for (const auto& arg : args) {
            command += arg + " ";
        }
        throw std::runtime_error("TestSigningKeys: '" + command + "' failed:\n" + result.out + result.err);
    }
}

void make_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0) {
        throw std::runtime_error("TestSigningKeys: mkdir " + path + ": " + std::strerror(errno));
    }
}

}  // namespace

TestSigningKeys::TestSigningKeys() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/fbm-keys-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
        throw std::runtime_error("TestSigningKeys: mkdtemp failed: " + std::string(std::strerror(errno)));
    }
    dir_ = buffer.data();
    make_dir(dir_ + "/keys");
    make_dir(trusted_dir());
}

TestSigningKeys::~TestSigningKeys() {
    const std::string command = "rm -rf '" + dir_ + "'";
    if (std::system(command.c_str()) != 0) {
        std::cerr << "TestSigningKeys: could not remove " << dir_ << "\n";
    }
}

std::string TestSigningKeys::make(const std::string& id, bool trusted) {
    openssl({"genpkey", "-algorithm", "ed25519", "-out", key(id)});
    if (trusted) {
        openssl({"pkey", "-in", key(id), "-pubout", "-out", trusted_dir() + "/" + id + ".pem"});
    }
    return key(id);
}

std::string TestSigningKeys::key(const std::string& id) const {
    return dir_ + "/keys/" + id + ".key";
}

std::string TestSigningKeys::trusted_dir() const {
    return dir_ + "/trusted";
}

}  // namespace fbm_test

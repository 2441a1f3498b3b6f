// The broker-security options of fbm-node and fbm-researcher: TLS files, user name, and passwords from a
// file or the environment, never from the command line.
#include "connection_args.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <unistd.h>

namespace {

using fbm_cli::ArgCursor;
using fbm_cli::ConnectionArgs;
using fbm_cli::UsageError;

ConnectionArgs parse(std::vector<std::string> args) {
    args.insert(args.begin(), "program");
    std::vector<const char*> argv;
    for (const auto& arg : args) {
        argv.push_back(arg.c_str());
    }
    ArgCursor cursor(static_cast<int>(argv.size()), argv.data());
    ConnectionArgs parsed;
    while (!cursor.done()) {
        const std::string option = cursor.next();
        if (!parsed.parse(cursor, option)) {
            throw UsageError("not a security option: " + option);
        }
    }
    parsed.check();
    return parsed;
}

// A file in the test's temporary directory holding @p text; removed at the end of the test.
struct TextFile {
    explicit TextFile(const std::string& text) { std::ofstream(path) << text; }
    ~TextFile() { std::remove(path.c_str()); }
    std::string path = ::testing::TempDir() + "fbm-secret-" + std::to_string(::getpid());
};

TEST(ConnectionArgs, TlsFilesEnableTlsAndKeepTheIdentityCheckByDefault) {
    const ConnectionArgs args = parse({"--tls-ca", "ca.pem", "--tls-cert=node.pem", "--tls-key", "node.key"});
    fedbiomed::MessagingOptions options;
    args.apply(options);
    EXPECT_TRUE(options.tls.enabled);
    EXPECT_EQ(options.tls.ca_file, "ca.pem");
    EXPECT_EQ(options.tls.cert_file, "node.pem");
    EXPECT_EQ(options.tls.key_file, "node.key");
    EXPECT_TRUE(options.tls.verify_server);
    EXPECT_EQ(options.tls.identity_attribute, "CN");

    fedbiomed::MessagingOptions unchecked;
    parse({"--tls-cert", "node.pem", "--tls-identity", ""}).apply(unchecked);
    EXPECT_EQ(unchecked.tls.identity_attribute, "");
    fedbiomed::MessagingOptions plain;
    parse({}).apply(plain);
    EXPECT_FALSE(plain.tls.enabled);
}

TEST(ConnectionArgs, PasswordsComeFromTheirFileFirstLineOrTheEnvironment) {
    const TextFile file("from file\r\nsecond line\n");
    fedbiomed::MessagingOptions options;
    ::setenv(fbm_cli::kPasswordEnv, "from env", 1);
    parse({"--username", "alice", "--password-file", file.path}).apply(options);
    EXPECT_EQ(options.username, "alice");
    EXPECT_EQ(options.password, "from file");
    fedbiomed::MessagingOptions from_env;
    parse({"--username", "alice"}).apply(from_env);
    EXPECT_EQ(from_env.password, "from env");
    ::unsetenv(fbm_cli::kPasswordEnv);

    fedbiomed::MessagingOptions keyed;
    parse({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-key-password-file", file.path}).apply(keyed);
    EXPECT_EQ(keyed.tls.key_password, "from file");
}

TEST(ConnectionArgs, PasswordsOnTheCommandLineAndIncompleteCombinationsAreUsageErrors) {
    EXPECT_THROW(parse({"--password", "secret"}), UsageError);
    EXPECT_THROW(parse({"--tls-key-password", "secret"}), UsageError);
    EXPECT_THROW(parse({"--tls-key", "k.pem"}), UsageError);
    EXPECT_THROW(parse({"--password-file", "f"}), UsageError);
    EXPECT_THROW(parse({"--tls-ca", ""}), UsageError);
}

TEST(ConnectionArgs, AnUnreadableOrEmptyPasswordFileIsNamedButNeverQuoted) {
    fedbiomed::MessagingOptions options;
    const std::string missing = ::testing::TempDir() + "fbm-no-such-password-file";
    try {
        parse({"--username", "alice", "--password-file", missing}).apply(options);
        ADD_FAILURE() << "no error";
    } catch (const std::runtime_error& error) {
        EXPECT_EQ(std::string(error.what()), "cannot read the password file " + missing);
    }
    const TextFile empty("");
    EXPECT_THROW(parse({"--username", "alice", "--password-file", empty.path}).apply(options),
                 std::runtime_error);
}

}  // namespace

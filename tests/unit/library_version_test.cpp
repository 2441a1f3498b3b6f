// The library's own version: the generated header's macros, the compiled library and CMake's
// project(VERSION) tell the same version.
#include <string>

#include <gtest/gtest.h>

#include <fedbiomed/library_version.hpp>

namespace {

// The macros are usable in preprocessor conditions, which is what they are for.
#if !defined(FEDBIOMED_MESSAGING_VERSION) || FEDBIOMED_MESSAGING_VERSION < 100
#error "FEDBIOMED_MESSAGING_VERSION is missing or not a number"
#endif

TEST(LibraryVersion, RuntimeVersionIsTheHeadersVersion) {
    EXPECT_EQ(fedbiomed::library_version(), FEDBIOMED_MESSAGING_VERSION_STRING);
    EXPECT_EQ(std::string(fedbiomed::library_version()),
              std::to_string(FEDBIOMED_MESSAGING_VERSION_MAJOR) + "." +
                  std::to_string(FEDBIOMED_MESSAGING_VERSION_MINOR) + "." +
                  std::to_string(FEDBIOMED_MESSAGING_VERSION_PATCH));
}

TEST(LibraryVersion, IsTheCMakeProjectVersion) {
    // FBM_PROJECT_VERSION is ${PROJECT_VERSION} of the top-level CMakeLists.txt, passed by the test's build.
    EXPECT_EQ(fedbiomed::library_version(), FBM_PROJECT_VERSION);
}

TEST(LibraryVersion, CombinedNumberOrdersVersions) {
    EXPECT_EQ(FEDBIOMED_MESSAGING_VERSION, FEDBIOMED_MESSAGING_VERSION_MAJOR * 10000 +
                                               FEDBIOMED_MESSAGING_VERSION_MINOR * 100 +
                                               FEDBIOMED_MESSAGING_VERSION_PATCH);
    // Each part is below 100, or the combined number would not order versions.
    EXPECT_LT(FEDBIOMED_MESSAGING_VERSION_MINOR, 100);
    EXPECT_LT(FEDBIOMED_MESSAGING_VERSION_PATCH, 100);
}

}  // namespace

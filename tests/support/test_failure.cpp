#include "test_failure.hpp"

#if FBM_TEST_SUPPORT_WITH_GTEST
#include <gtest/gtest.h>
#endif

namespace fbm_test {

#if FBM_TEST_SUPPORT_WITH_GTEST

bool current_test_failed() {
    // Outside a test (before main's RUN_ALL_TESTS, in a static destructor) GoogleTest answers for its
    // ad hoc result, which holds no failure.
    return ::testing::Test::HasFailure();
}

bool any_test_failed() {
    const auto* unit = ::testing::UnitTest::GetInstance();
    return unit != nullptr && unit->failed_test_count() > 0;
}

#else

bool current_test_failed() {
    return false;
}

bool any_test_failed() {
    return false;
}

#endif

}  // namespace fbm_test

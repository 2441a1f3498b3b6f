#!/usr/bin/env bash
# The test command: installs what is missing, configures, builds and runs every test with ctest.
# Fails on any failing test and on zero tests.
#
#   scripts/test.sh            # the "ci" preset: optimised, warnings as errors
#   scripts/test.sh asan       # AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh tsan       # ThreadSanitizer
#   scripts/test.sh dev        # Debug
set -euo pipefail

preset="${1:-ci}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/bootstrap.sh

cmake --preset "$preset"
cmake --build --preset "$preset"
ctest --preset "$preset"

# The conformance summary (ctest keeps every test's output in LastTest.log).
grep -h "^conformance " "build/$preset/Testing/Temporary/LastTest.log" | sort -u || true

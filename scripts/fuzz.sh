#!/usr/bin/env bash
# Builds the libFuzzer target with clang (ASan + UBSan) and runs it for a bounded time from the seed
# corpus. Usage: scripts/fuzz.sh [SECONDS]   (default 60)
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/bootstrap.sh
cmake --preset fuzz
cmake --build --preset fuzz --target fuzz_inbound

# The run corpus starts from the committed seeds; what the fuzzer learns stays out of the repository.
work="$root/build/fuzz/corpus"
mkdir -p "$work"
cp -n fuzz/corpus/* "$work/" 2>/dev/null || true

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
./build/fuzz/fuzz/fuzz_inbound -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$root/build/fuzz/" "$work"
echo "fuzz: ${seconds}s without a crash, leak or undefined behaviour"

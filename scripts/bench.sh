#!/usr/bin/env bash
# The benchmark (docs/performance.md): installs gnuplot and valgrind if missing, builds fbm-bench optimised
# in build/bench, and runs every workload back to back through this library's Messaging (its default
# options), a minimal raw Paho C++ client (Paho's defaults; once retrying Paho's refusals as a newcomer
# does, once waiting on its tokens as a careful user does) and mosquitto_pub/mosquitto_sub. fbm-bench
# starts a private Mosquitto on a free 127.0.0.1 port for each workload (no persistence, unlimited queues)
# and stops it afterwards; no system broker is used or needed. The round-trip, federation and connect
# workloads run twice: on a stock Mosquitto (its own configuration, Nagle on: what most deployments run)
# and on a tuned one (set_tcp_nodelay true); the other workloads on the tuned one.
#
#   scripts/bench.sh                 # the full run: under 10 minutes on 2 cores
#   scripts/bench.sh --quick         # small counts, a minute or two
#   scripts/bench.sh --update-docs   # also copy the charts to docs/performance-*.png
#   scripts/bench.sh --only latency --impls lib,tools    # any `fbm-bench run` option (see --help)
#   scripts/bench.sh --only latency,federation,connect --brokers stock   # the stock broker only
#
# Output: the tables on stdout, build/bench/results/results.json, and the charts
# build/bench/results/performance-throughput.png and performance-latency.png.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

update_docs=0
args=()
for arg in "$@"; do
    if [[ "$arg" == "--update-docs" ]]; then
        update_docs=1
    else
        args+=("$arg")
    fi
done

# gnuplot-nox and valgrind (callgrind) on top of the build dependencies; not the sanitizer/format tools.
FBM_BOOTSTRAP_TOOLS="${FBM_BOOTSTRAP_TOOLS:-0}" FBM_BOOTSTRAP_BENCH=1 bash scripts/bootstrap.sh

build="$root/build/bench"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFBM_BUILD_TESTS=OFF \
    -DFBM_BUILD_EXAMPLES=OFF -DFBM_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target fbm-bench -j2

out="$build/results"
"$build/bin/fbm-bench" run --out "$out" "${args[@]}"

if ((update_docs)); then
    for chart in performance-throughput.png performance-latency.png; do
        if [[ -f "$out/$chart" ]]; then
            cp "$out/$chart" "$root/docs/$chart"
            echo "bench: copied $chart to docs/"
        fi
    done
fi

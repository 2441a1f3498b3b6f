#!/usr/bin/env bash
# The demo in one command: builds the programs if needed, starts a private Mosquitto on a free loopback
# port and three nodes holding different sample datasets, then runs the researcher's ping, list and
# search rounds, printing the replies and how long each round took. Everything it started is stopped on
# exit, also on failure or Ctrl-C.
#
# Usage: bash scripts/demo.sh
# Environment: FBM_DEMO_BUILD_DIR (default build/demo), FBM_DEMO_JOBS (default: number of CPUs),
#              FBM_DEMO_KEEP_OUTPUT=1 keeps the raw replies and logs in the build dir.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FBM_DEMO_BUILD_DIR:-$root/build/demo}"
jobs="${FBM_DEMO_JOBS:-$(nproc 2>/dev/null || echo 2)}"
data="$root/examples/data"

if [[ -t 1 ]]; then
    bold=$'\e[1m' dim=$'\e[2m' green=$'\e[32m' red=$'\e[31m' reset=$'\e[0m'
else
    bold='' dim='' green='' red='' reset=''
fi
section() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$reset"; }
info() { printf '%s\n' "$*"; }
fail() { printf '%sdemo: %s%s\n' "$red" "$*" "$reset" >&2; exit 1; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------------------------------------------
section "Dependencies and build"
# Installs the Debian packages only when one is missing (idempotent; no network when all are there).
FBM_BOOTSTRAP_TOOLS=0 bash "$root/scripts/bootstrap.sh"

generator=()
if command -v ninja >/dev/null 2>&1; then
    generator=(-G Ninja)
fi
# The build dir and its logs: on a fresh clone neither build/ nor build/demo exists yet.
mkdir -p "$build"
# Configured only once (later runs just build); a configure that failed left no build.ninja/Makefile and
# is run again.
if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
    info "configuring $build (Release, no tests)"
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
        -DFBM_BUILD_TESTS=OFF -DFBM_BUILD_BENCH=OFF -DFBM_BUILD_EXAMPLES=ON >"$build/demo-configure.log" 2>&1 ||
        { cat "$build/demo-configure.log" >&2; fail "cmake configure failed (log: $build/demo-configure.log)"; }
fi
start=$(now_ms)
cmake --build "$build" --target fbm-node fbm-researcher -j "$jobs" >"$build/demo-build.log" 2>&1 ||
    { tail -n 60 "$build/demo-build.log" >&2; fail "build failed (full log: $build/demo-build.log)"; }
node_bin="$build/bin/fbm-node"
researcher_bin="$build/bin/fbm-researcher"
[[ -x "$node_bin" && -x "$researcher_bin" ]] || fail "programs not found in $build/bin"
info "fbm-node and fbm-researcher are up to date in $build/bin ($(($(now_ms) - start)) ms)"

mosquitto_bin="$(command -v mosquitto || true)"
[[ -n "$mosquitto_bin" ]] || mosquitto_bin=/usr/sbin/mosquitto
[[ -x "$mosquitto_bin" ]] || fail "mosquitto not found (install the mosquitto package)"

# ---------------------------------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/fbm-demo.XXXXXX")"
pids=()
broker_pid=""

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if ((${#pids[@]} > 0)); then
        # SIGTERM: each node sends a clean MQTT DISCONNECT and exits 0.
        kill -TERM "${pids[@]}" 2>/dev/null || true
        for pid in "${pids[@]}"; do
            for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
    fi
    if [[ -n "$broker_pid" ]]; then
        kill -TERM "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    if ((status != 0)); then
        for log in "$work"/node_*.log "$work"/mosquitto.log; do
            [[ -f "$log" ]] || continue
            printf '%s--- %s (last lines) ---%s\n' "$dim" "$(basename "$log")" "$reset" >&2
            tail -n 20 "$log" >&2
        done
    fi
    if [[ "${FBM_DEMO_KEEP_OUTPUT:-0}" == "1" ]]; then
        rm -rf "$build/demo-output" && mv "$work" "$build/demo-output"
        info "raw replies and logs kept in $build/demo-output"
    else
        rm -rf "$work"
    fi
    if ((status == 0)); then
        printf '\n%sstopped the nodes and the broker; demo finished%s\n' "$green" "$reset"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free port: bind port 0 on loopback and let the kernel choose (python3 is a bootstrap dependency).
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port
    for _ in $(seq 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    return 1
}

# Waits (at most $2 seconds) until $1 accepts TCP connections on loopback.
wait_port() {
    local deadline=$(($(now_ms) + $2 * 1000))
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        (($(now_ms) < deadline)) || return 1
        kill -0 "$broker_pid" 2>/dev/null || return 1
        sleep 0.05
    done
}

# ---------------------------------------------------------------------------------------------------
section "Broker"
port=""
for _ in 1 2 3 4 5; do
    port="$(free_port)" || fail "no free port found"
    {
        echo "listener $port 127.0.0.1"
        echo "allow_anonymous true"
        # Nagle off on the broker side too, or each QoS 1 hop waits for a delayed ACK (docs/performance.md).
        echo "set_tcp_nodelay true"
        echo "persistence false"
        echo "log_dest file $work/mosquitto.log"
        echo "connection_messages true"
        # As root, mosquitto would otherwise switch to the mosquitto user and lose access to $work.
        if (($(id -u) == 0)); then echo "user root"; fi
    } >"$work/mosquitto.conf"
    "$mosquitto_bin" -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
    broker_pid=$!
    if wait_port "$port" 10; then
        break
    fi
    # Most likely another process took the port in between: try another one.
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    broker_pid=""
done
[[ -n "$broker_pid" ]] || fail "mosquitto did not start"
info "private Mosquitto (pid $broker_pid) listening on 127.0.0.1:$port"

# ---------------------------------------------------------------------------------------------------
section "Nodes"
nodes=(node_hospital_a node_hospital_b node_hospital_c)
files=(hospital_a.json hospital_b.json hospital_c.json)
for i in 0 1 2; do
    "$node_bin" --broker 127.0.0.1 --port "$port" --id "${nodes[$i]}" --datasets "$data/${files[$i]}" \
        >"$work/${nodes[$i]}.log" 2>&1 &
    pids+=($!)
done
for i in 0 1 2; do
    deadline=$(($(now_ms) + 20000))
    until grep -q "waiting for requests" "$work/${nodes[$i]}.log"; do
        kill -0 "${pids[$i]}" 2>/dev/null || fail "${nodes[$i]} exited early"
        (($(now_ms) < deadline)) || fail "${nodes[$i]} did not connect within 20 s"
        sleep 0.05
    done
    info "${nodes[$i]} (pid ${pids[$i]}) serves $(grep -o '"name": "[^"]*"' "$data/${files[$i]}" |
        sed 's/"name": //' | paste -sd, - | sed 's/,/, /g')"
done

# ---------------------------------------------------------------------------------------------------
# Prints each reply line (one JSON message) as a short human summary.
read -r -d '' summary_py <<'PY' || true
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    node, command = msg.get("node_id", "?"), msg.get("command")
    if command == "pong":
        print("  %-17s pong      sequence %s" % (node, msg.get("sequence")))
        continue
    names = "; ".join("%s [%s]" % (d.get("name"), ", ".join(d.get("tags", [])))
                      for d in msg.get("databases", []))
    print("  %-17s %-9s %s dataset(s): %s" % (node, command, msg.get("count"), names or "-"))
PY
summarise() { python3 -c "$summary_py"; }

failures=0
round_no=0
# run_round TITLE EXPECTED_NODES ARGS...: EXPECTED_NODES 0 means "wait the whole timeout".
run_round() {
    local title="$1" expected="$2"
    shift 2
    round_no=$((round_no + 1))
    section "Round $round_no: $title"
    local out="$work/round$round_no.jsonl" err="$work/round$round_no.stderr.log"
    local args=("$@") started ended status=0
    ((expected > 0)) && args+=(--nodes "$expected")
    # Show the exact command, --nodes included, so a reader can rerun it by hand.
    info "${dim}\$ fbm-researcher --broker 127.0.0.1 --port $port --id researcher_demo ${args[*]}${reset}"
    started=$(now_ms)
    "$researcher_bin" --broker 127.0.0.1 --port "$port" --id researcher_demo "${args[@]}" >"$out" 2>"$err" ||
        status=$?
    ended=$(now_ms)

    local answered
    answered=$(grep -c . "$out" || true)
    if ((answered > 0)); then
        summarise <"$out"
    else
        info "  (no reply)"
    fi
    local logs
    logs=$(grep '^\[' "$err" || true)
    if [[ -n "$logs" ]]; then
        info "${dim}  node logs forwarded to the researcher:"
        sed 's/^/    /' <<<"$logs"
        printf '%s' "$reset"
    fi
    local timing
    timing=$(grep -o 'answered in [0-9.]* ms' "$err" | head -n 1 | sed 's/answered in //' || true)
    local verdict="${green}ok${reset}"
    if ((status != 0)); then
        verdict="${red}FAILED (exit $status)${reset}"
        failures=$((failures + 1))
        grep -v '^\[' "$err" | sed 's/^/  /' >&2 || true
    fi
    printf '%s%d node(s) answered%s · replies in %s · whole command %d ms · %s\n' \
        "$bold" "$answered" "$reset" "${timing:-?}" "$((ended - started))" "$verdict"
}

run_round "ping every node" 3 ping --timeout 10
run_round "list every dataset" 3 list --timeout 10
run_round "search datasets tagged heart-disease" 2 search heart-disease --timeout 10
run_round "search datasets tagged brain AND mri" 1 search brain mri --timeout 10
info ""
info "Nodes without a matching dataset stay silent (as in Fed-BioMed), so a search for a tag nobody"
info "holds can only end with its timeout:"
run_round "search datasets tagged covid-19 (none)" 0 search covid-19 --timeout 1

section "Summary"
if ((failures > 0)); then
    fail "$failures round(s) did not get the expected replies"
fi
info "${green}all rounds got the expected replies${reset}"

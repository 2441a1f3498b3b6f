#!/usr/bin/env bash
# A throw-away RabbitMQ cluster with the MQTT plugin, on loopback, for the `cluster` tests.
#
#   rabbitmq_cluster.sh start BASE N [WATCH_PID|parent]   N nodes (3 for kill tests: a 2-node cluster loses its
#                                                  Raft majority with one node); prints READY once every
#                                                  node answers MQTT (CONNACK and SUBACK). With WATCH_PID, a
#                                                  watchdog stops the cluster when that process ends (ctest
#                                                  interrupted by Ctrl-C never runs its cleanup fixture).
#   rabbitmq_cluster.sh stop BASE [RUN_ID]         stops every node and the private epmd, removes BASE
#                                                  (with RUN_ID: only if BASE still holds that start)
#   rabbitmq_cluster.sh kill BASE I [SIGNAL]       kill -9 (or SIGNAL) node I's Erlang VM
#   rabbitmq_cluster.sh restart BASE I             starts node I again (it rejoins by itself); returns
#                                                  once every node answers MQTT (fails if one does not,
#                                                  even after being restarted once more)
#   rabbitmq_cluster.sh check BASE                 returns once every node answers MQTT (the same way)
#   rabbitmq_cluster.sh logs BASE                  each node's state and latest errors (changes nothing)
#   rabbitmq_cluster.sh ctl BASE I ARGS...         rabbitmqctl ARGS against node I (users, permissions;
#                                                  about 2 s per call)
#
# BASE/cluster.env holds RMQ_MQTT_PORTS="p1 p2 p3" (node I listens on the I-th), for the tests.
#
# Nothing outside BASE is touched: a private epmd on a free port, a private Erlang cookie (HOME=BASE/home),
# RABBITMQ_CONF_ENV_FILE=/dev/null so that /etc/rabbitmq is ignored, the scripts of /usr/lib/rabbitmq/bin
# called directly (the /usr/sbin wrappers switch to the rabbitmq user and /var/lib/rabbitmq). Processes
# are stopped by the PIDs recorded in BASE, and only when their environment names BASE: never by name.
set -euo pipefail

readonly RMQ_BIN=/usr/lib/rabbitmq/bin
readonly MARKER=.fbm-rabbitmq-cluster
# Boot is CPU-bound (16-21 s for 3 nodes booted one after the other on 2 cores, more under load).
readonly BOOT_TIMEOUT_S=${FBM_RMQ_BOOT_TIMEOUT:-240}
# Every command that waits for nodes gives up at DEADLINE (SECONDS), whatever it is waiting for: `check` and
# `restart` within 240 s, under the test support's 300 s bound on a cluster command (test_broker.cpp), so
# that a test fails with this script's explanation rather than a kill; `start` within 540 s, under the
# fixture's 600 s.
DEADLINE=$((SECONDS + 240))

# Seconds left before DEADLINE, at most $1.
budget() {
    local left=$((DEADLINE - SECONDS))
    ((left < $1)) && echo "$left" || echo "$1"
}

die() {
    echo "rabbitmq_cluster: $*" >&2
    exit 1
}

port_in_use() {
    # Anything listening or connected on 127.0.0.1:$1 (bash's /dev/tcp: no ss/netstat needed).
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 30000))
        if ! port_in_use "$port" && ! grep -qw "$port" "$BASE/ports" 2>/dev/null; then
            echo "$port" >>"$BASE/ports"
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

# The PID in $1 is alive and its environment names BASE (a recycled PID is never touched).
ours() {
    local pid=$1
    [[ -n "$pid" && -r "/proc/$pid/environ" ]] || return 1
    grep -qzF "FBM_RMQ_BASE=$BASE" "/proc/$pid/environ" 2>/dev/null
}

alive() {
    local pid=$1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
        ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

# Waits up to BOOT_TIMEOUT_S (and not past DEADLINE) for port $1 to open; looks at least once.
wait_port() {
    local port=$1 deadline=$((SECONDS + $(budget "$BOOT_TIMEOUT_S")))
    until port_in_use "$port"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

# The node on $1 answers MQTT: a CONNECT gets its CONNACK and a SUBSCRIBE its SUBACK. An open port is not
# enough: the CONNACK needs the node's place in the cluster's client-id tracking (a Raft group), which a
# node may not have yet, or ever (see cmd_start).
answers_mqtt() {
    timeout 8 mosquitto_sub -h 127.0.0.1 -p "$1" -q 1 -t fbm-ready-probe -E -W 5 >/dev/null 2>&1
}

# Waits up to $2 seconds (and not past DEADLINE) for node $1 to answer MQTT; probes at least once.
wait_mqtt() {
    local port deadline=$((SECONDS + $(budget "$2")))
    port=$(cat "$BASE/node$1/mqtt.port")
    until answers_mqtt "$port"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

node_env() {
    local i=$1
    # shellcheck disable=SC1091
    source "$BASE/env.sh"
    # shellcheck disable=SC1090
    source "$BASE/node$i/node.env"
}

launch_node() {
    local i=$1
    (
        node_env "$i"
        cd "$BASE/node$i"
        setsid "$RMQ_BIN/rabbitmq-server" >"$BASE/node$i/stdout.log" 2>&1 </dev/null &
        echo $! >"$BASE/node$i/wrapper.pid"
    )
}

show_failure() {
    local i
    for i in $(seq 1 "$N"); do
        echo "--- node $i ---" >&2
        grep -hE "\[error\]|timed out" "$BASE/node$i/log/"*.log 2>/dev/null | tail -n 8 >&2 || true
        tail -n 4 "$BASE/node$i/stdout.log" >&2 2>/dev/null || true
    done
}

# Starts node $1's Erlang VM again (after a kill) and waits for its MQTT port to open.
relaunch() {
    local i=$1 port
    port=$(cat "$BASE/node$i/mqtt.port")
    rm -f "$BASE/node$i/beam.pid"
    launch_node "$i"
    wait_port "$port" || {
        echo "rabbitmq_cluster: node $i did not open its MQTT port within ${BOOT_TIMEOUT_S} s" >&2
        return 1
    }
}

# kill -9 of each PID given that is alive and ours; waits up to 10 s for them to be gone.
kill_and_wait() {
    local pid killed=()
    for pid in "$@"; do
        if [[ -n "$pid" ]] && alive "$pid" && ours "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            killed+=("$pid")
        fi
    done
    local deadline=$((SECONDS + 10))
    for pid in "${killed[@]}"; do
        while alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.05
        done
    done
}

# kill -9 of node $1's VM and of the script that launched it, whichever still runs.
kill_node() {
    kill_and_wait "$(cat "$BASE/node$1/beam.pid" 2>/dev/null)" "$(cat "$BASE/node$1/wrapper.pid" 2>/dev/null)"
}

# Node $1 runs or is booting: its Erlang VM, or the rabbitmq-server script that launches it (the VM writes
# its pid file a moment after its launch), or at least something on its MQTT port. A node up is never
# launched a second time.
node_up() {
    local i=$1 pid
    for pid in "$(cat "$BASE/node$i/beam.pid" 2>/dev/null)" "$(cat "$BASE/node$i/wrapper.pid" 2>/dev/null)"; do
        if [[ -n "$pid" ]] && alive "$pid" && ours "$pid"; then
            return 0
        fi
    done
    port_in_use "$(cat "$BASE/node$i/mqtt.port")"
}

# Returns 0 once node $1 answers MQTT. A node that is down (a test that killed it did not live to restart
# it) is started at once; one that runs but does not answer within 60 s is killed and started again. Either
# happens once, and sets RELAUNCHED=1. Returns 1, with every node's latest errors, if the node still does
# not answer. Says on stderr when a node was late, so that a test that met a slow node shows it.
answer_or_restart() {
    local i=$1 began=$SECONDS
    if node_up "$i"; then
        if wait_mqtt "$i" 60; then
            if ((SECONDS - began > 1)); then
                echo "rabbitmq_cluster: node $i answered MQTT after $((SECONDS - began)) s" >&2
            fi
            return 0
        fi
        if ((SECONDS >= DEADLINE)); then
            echo "rabbitmq_cluster: out of time waiting for node $i to answer MQTT" >&2
            show_failure
            return 1
        fi
        echo "rabbitmq_cluster: node $i does not answer MQTT within $((SECONDS - began)) s; restarting it" >&2
        show_failure
        kill_node "$i"
    else
        echo "rabbitmq_cluster: node $i is not running; starting it" >&2
    fi
    RELAUNCHED=1
    if relaunch "$i" && wait_mqtt "$i" 60; then
        echo "rabbitmq_cluster: node $i answers MQTT after its restart" >&2
        return 0
    fi
    show_failure
    return 1
}

# Returns 0 once every node answers MQTT (answer_or_restart on each). A node coming back makes the client-id
# Raft group hold an election, so after a restart every node is checked again, from the first.
all_answer() {
    local i pass
    for pass in 1 2 3; do
        RELAUNCHED=0
        for i in $(seq 1 "$N"); do
            answer_or_restart "$i" || return 1
        done
        if ((RELAUNCHED == 0)); then
            return 0
        fi
    done
    echo "rabbitmq_cluster: nodes still had to be restarted after $pass passes" >&2
    return 1
}

cmd_start() {
    [[ -x "$RMQ_BIN/rabbitmq-server" ]] ||
        die "$RMQ_BIN/rabbitmq-server is missing: install the rabbitmq-server package (scripts/bootstrap.sh)"
    if [[ -e "$BASE" ]]; then
        [[ -e "$BASE/$MARKER" ]] || die "$BASE exists and was not made by this script"
        cmd_stop
    fi
    mkdir -p "$BASE/home"
    # The marker names this start, so that the watchdog of an earlier cluster at the same BASE (its ctest
    # gone, the cluster already stopped by its cleanup fixture) never stops this one.
    local run_id
    run_id=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
    echo "$run_id" >"$BASE/$MARKER"
    local epmd_port cookie i ports=()
    epmd_port=$(free_port)
    cookie=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s' "$cookie" >"$BASE/home/.erlang.cookie"
    chmod 400 "$BASE/home/.erlang.cookie"
    # rabbitmqctl is an Erlang node too: a private range for its distribution port.
    local cli_low
    cli_low=$(free_port)
    cat >"$BASE/env.sh" <<EOF
export FBM_RMQ_BASE='$BASE'
export HOME='$BASE/home'
export ERL_EPMD_PORT=$epmd_port
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_CONF_ENV_FILE=/dev/null
export RABBITMQ_CTL_DIST_PORT_MIN=$cli_low
export RABBITMQ_CTL_DIST_PORT_MAX=$((cli_low + 20))
export RABBITMQ_CTL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
EOF
    (
        # shellcheck disable=SC1091
        source "$BASE/env.sh"
        setsid epmd -port "$epmd_port" -address 127.0.0.1 >/dev/null 2>&1 </dev/null &
        echo $! >"$BASE/epmd.pid"
    )
    for i in $(seq 1 "$N"); do
        local mqtt dist
        mqtt=$(free_port)
        dist=$(free_port)
        ports+=("$mqtt")
        mkdir -p "$BASE/node$i/log" "$BASE/node$i/mnesia" "$BASE/node$i/plugins-expand"
        {
            echo "listeners.tcp = none"
            echo "mqtt.listeners.tcp.default = 127.0.0.1:$mqtt"
            echo "loopback_users.guest = true"
            echo "log.file.level = info"
            echo "log.console = false"
            # A persistent session's queue outlives its test (RabbitMQ 3.10 keeps it a day by default) and
            # takes a copy of every later broadcast to general/nodes: one run ended with about 180 stale
            # queues holding about 65 000 messages. 60 s without a consumer removes them. No test leaves a
            # session it resumes unconsumed that long: a kill test resumes as soon as `restart` returns,
            # and a queue on a restarted node counts from its recovery (which a relaunch repeats), while
            # a restarted node that does not answer within 60 s is relaunched.
            echo "mqtt.subscription_ttl = 60000"
            if ((i > 1)); then
                echo "cluster_formation.peer_discovery_backend = classic_config"
                echo "cluster_formation.classic_config.nodes.1 = rabbit1@localhost"
            fi
        } >"$BASE/node$i/rabbitmq.conf"
        echo "[]." >"$BASE/node$i/advanced.config"
        echo "[rabbitmq_mqtt]." >"$BASE/node$i/enabled_plugins"
        cat >"$BASE/node$i/node.env" <<EOF
export RABBITMQ_NODENAME=rabbit$i@localhost
export RABBITMQ_DIST_PORT=$dist
export RABBITMQ_CONFIG_FILE='$BASE/node$i/rabbitmq.conf'
export RABBITMQ_ADVANCED_CONFIG_FILE='$BASE/node$i/advanced.config'
export RABBITMQ_ENABLED_PLUGINS_FILE='$BASE/node$i/enabled_plugins'
export RABBITMQ_MNESIA_BASE='$BASE/node$i/mnesia'
export RABBITMQ_LOG_BASE='$BASE/node$i/log'
export RABBITMQ_PID_FILE='$BASE/node$i/beam.pid'
export RABBITMQ_PLUGINS_EXPAND_DIR='$BASE/node$i/plugins-expand'
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
EOF
        echo "$mqtt" >"$BASE/node$i/mqtt.port"
    done
    echo "RMQ_MQTT_PORTS=\"${ports[*]}\"" >"$BASE/cluster.env"
    if [[ -n "${WATCH_PID:-}" ]]; then
        # Detached from the caller, so that it outlives the ctest fixture process that started it.
        local ours_still="grep -qx '$run_id' '$BASE/$MARKER' 2>/dev/null"
        setsid bash -c "while kill -0 $WATCH_PID 2>/dev/null && $ours_still; do sleep 1; done
                        $ours_still && '$0' stop '$BASE' '$run_id'" >/dev/null 2>&1 </dev/null &
    fi
    # One node at a time, each joining the ones before it at its first boot (classic_config peer discovery),
    # and each answering MQTT before the next starts. A CI run once started the tests on a cluster whose
    # nodes closed every CONNECT unanswered, for minutes ("client ID registration timed out" in a local
    # run): the MQTT plugin registers client ids in a Raft group of all nodes, which each first-booting node
    # joins by a membership change, and Raft takes one change at a time. Booting nodes 2 and 3 together let
    # them join at once; that state was not reproduced in 16 such starts, so the boot is serial (no slower:
    # 16-21 s for 3 nodes) and every node is also checked, and restarted once if it does not answer (a
    # restarted node checks its membership and asks the leader to add it).
    for i in $(seq 1 "$N"); do
        launch_node "$i"
        if ! wait_port "${ports[$((i - 1))]}"; then
            show_failure
            cmd_stop
            die "node $i did not open its MQTT port within ${BOOT_TIMEOUT_S} s"
        fi
        answer_or_restart "$i" || {
            cmd_stop
            die "node $i does not answer MQTT, even after a restart"
        }
    done
    # The last join made the group hold an election: every node must still answer.
    all_answer || {
        cmd_stop
        die "a node does not answer MQTT, even after a restart"
    }
    echo "RMQ_MQTT_PORTS=\"${ports[*]}\""
    echo READY
}

cmd_stop() {
    [[ -e "$BASE" ]] || return 0
    [[ -e "$BASE/$MARKER" ]] || die "$BASE was not made by this script"
    # The watchdog names the start it watched: a cluster started again at BASE since is not its own.
    if [[ -n "${RUN_ID:-}" ]] && ! grep -qx "$RUN_ID" "$BASE/$MARKER" 2>/dev/null; then
        return 0
    fi
    local f pids=()
    for f in "$BASE"/node*/beam.pid "$BASE"/node*/wrapper.pid "$BASE/epmd.pid"; do
        [[ -r "$f" ]] && pids+=("$(cat "$f")")
    done
    # The data is thrown away: no graceful stop needed, SIGKILL is immediate.
    kill_and_wait "${pids[@]}"
    rm -rf "$BASE"
}

cmd_kill() {
    local i=$1 signal=${2:-KILL} pid
    pid=$(cat "$BASE/node$i/beam.pid")
    ours "$pid" || die "node $i (pid $pid) is not running from $BASE"
    kill "-$signal" "$pid"
    while alive "$pid"; do
        sleep 0.05
    done
}

cmd_ctl() {
    local i=$1
    shift
    (
        node_env "$i"
        "$RMQ_BIN/rabbitmqctl" -n "rabbit$i@localhost" "$@"
    )
}

# Starts node $1 again (it rejoins by itself) and returns once every node answers MQTT: a restarted node
# listens a moment before it takes sessions, and its return makes the client-id Raft group hold an election.
# A CI run once met a node that closed every CONNECT unanswered for the two tests that followed a restart
# (which then waited 30 s at most): the next test must find the whole cluster answering, or this fails.
cmd_restart() {
    local i=$1
    relaunch "$i" || {
        show_failure
        die "node $i did not start again"
    }
    all_answer || die "a node does not answer MQTT after node $i was restarted"
}

# Prints each node's state (answers MQTT, runs without answering, or down) and its latest errors: what a
# failed test of the cluster run shows (test_broker.cpp). Changes nothing.
cmd_logs() {
    local i port state errors
    for i in $(seq 1 "$N"); do
        port=$(cat "$BASE/node$i/mqtt.port")
        if answers_mqtt "$port"; then
            state="answers MQTT"
        elif node_up "$i"; then
            state="runs but does not answer MQTT"
        else
            state="down"
        fi
        errors=$(grep -hE "\[error\]|timed out" "$BASE/node$i/log/"*.log 2>/dev/null | tail -n 12) || true
        echo "--- RabbitMQ node $i (127.0.0.1:$port): $state; its latest errors: ${errors:-none}"
    done
}

# Returns once every node answers MQTT (each test of the cluster run checks this before it starts).
cmd_check() {
    all_answer || die "a node does not answer MQTT, even after a restart"
}

[[ $# -ge 2 ]] ||
    die "usage: $0 start BASE N [WATCH_PID] | stop BASE [RUN_ID] | kill BASE I [SIGNAL] | restart BASE I | check BASE | logs BASE | ctl BASE I ARGS..."
command=$1
BASE=$(realpath -m "$2")
N=0
if [[ "$command" != start && -d "$BASE" ]]; then
    N=$(find "$BASE" -mindepth 1 -maxdepth 1 -name 'node[0-9]*' -type d | wc -l)
fi
if [[ "$command" =~ ^(kill|restart|check|logs|ctl)$ ]] && ((N < 1)); then
    die "no cluster at $BASE (the cluster.start ctest fixture makes one)"
fi
case "$command" in
start)
    N=${3:?number of nodes}
    DEADLINE=$((SECONDS + 540))
    WATCH_PID=${4:-}
    if [[ "$WATCH_PID" == parent ]]; then
        WATCH_PID=$PPID  # ctest, when this runs as its fixture
    fi
    cmd_start
    ;;
stop)
    RUN_ID=${3:-}
    cmd_stop
    ;;
kill) cmd_kill "${3:?node}" "${4:-KILL}" ;;
restart) cmd_restart "${3:?node}" ;;
check) cmd_check ;;
logs) cmd_logs ;;
ctl)
    node=${3:?node}
    shift 3
    cmd_ctl "$node" "$@"
    ;;
*) die "unknown command $command" ;;
esac

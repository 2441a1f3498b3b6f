#!/usr/bin/env bash
# The inbound memory figures of docs/reliability.md: a node whose handler takes HANDLER_MS per message is
# sent COUNT messages of SIZE bytes through a private Mosquitto on a free loopback port; prints the node's
# figures (peak RSS included) and the broker's peak RSS.
#
#   scripts/inbound_flood.sh RECEIVER SENDER COUNT SIZE [HANDLER_MS [receiver options...]]
#
# RECEIVER and SENDER are fbm-inbound-flood programs (bench/inbound_flood.cpp), possibly built against
# different versions of the library; SENDER may also be the word python (the same messages, published by
# Python's paho-mqtt). The broker may queue up to a million messages for the node
# (max_queued_messages): what the node pushes back stays there, nothing is dropped by the broker.
set -euo pipefail
receiver=$1
sender=$2
count=$3
size=$4
handler_ms=${5:-10}
shift $(($# < 5 ? $# : 5))

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
max_queued_messages 1000000
CONF
mosquitto -c "$dir/mosquitto.conf" >"$dir/broker.log" 2>&1 &
broker=$!
cleanup() {
    kill "$broker" 2>/dev/null || true
    grep -i "disconnect\|drop\|error" "$dir/broker.log" | tail -n 5 || true
    rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

id="flood_node_$$"
"$receiver" receive --port "$port" --id "$id" --count "$count" --handler-ms "$handler_ms" "$@" >"$dir/receiver.out" &
node=$!
for _ in $(seq 300); do
    grep -q ready "$dir/receiver.out" && break
    sleep 0.1
done
if [ "$sender" = python ]; then
    # The messages of fbm-inbound-flood send, published by Python's paho-mqtt at QoS 1 (up to 20 in
    # flight): no client of this library on the sending side.
    /usr/bin/python3 -c '
import sys, paho.mqtt.client as mqtt
port, topic, count, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = mqtt.Client(client_id="flood_sender", clean_session=True)
client.max_inflight_messages_set(20)
client.max_queued_messages_set(40)
client.connect("127.0.0.1", port)
client.loop_start()
padding = "x" * size
pending = []
for i in range(count):
    payload = "{\"protocol_version\": \"1\", \"researcher_id\": \"flood_researcher\", \"command\": \"ping\", \"sequence\": %d, \"padding\": \"%s\"}" % (i, padding)
    pending.append(client.publish(topic, payload, qos=1))
    if len(pending) >= 40:
        pending.pop(0).wait_for_publish()
for info in pending:
    info.wait_for_publish()
client.loop_stop()
client.disconnect()
print("sent %d (paho-mqtt)" % count)
' "$port" "general/$id" "$count" "$size"
else
    "$sender" send --port "$port" --to "$id" --count "$count" --size "$size"
fi
broker_hwm=$(awk '/VmHWM/ {print $2}' "/proc/$broker/status")
wait "$node"
echo "node: $(tail -n 1 "$dir/receiver.out")"
# The broker's peak so far: what it held for the node once the sender was done.
echo "broker: vm_hwm_kb $broker_hwm (when the sender finished)"

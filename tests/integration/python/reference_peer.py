#!/usr/bin/python3
"""A Fed-BioMed 4.5-style peer for the interoperability tests, written with paho-mqtt 1.6.1.

It talks the way the reference Python components do (json.dumps / json.loads with NaN, QoS 0, empty client
id, MQTT 3.1.1) and checks what the C++ library sends back, byte for byte where the reference is exact.

Scenarios:
  researcher  acts as a researcher: pings our node on general/nodes and checks its pong (with NaN in an
              extra field) and its send_error() on general/researcher.
  node        acts as a node: sends a reference add_scalar (NaN loss) on general/monitoring and a pong on
              general/researcher to our researcher, then checks the request our researcher sends back on
              general/<node id> (int/float distinction, non-finite floats, ensure_ascii escapes).

Exit status 0 when every check passed; otherwise 1 with the reasons on stdout.
"""

import argparse
import json
import math
import sys
import threading

import paho.mqtt.client as mqtt

TIMEOUT_S = 20.0


class Peer:
    def __init__(self, port, topics):
        self.failures = []
        self.received = []
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.subscribed = threading.Event()
        self.pending_subscriptions = set()
        self.topics = topics
        # As the reference: Client() with no arguments (empty id, clean session, MQTT 3.1.1).
        self.client = mqtt.Client()
        self.client.on_connect = self.on_connect
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", port, keepalive=60)
        self.client.loop_start()

    def on_connect(self, client, userdata, flags, rc):
        if rc != 0:
            self.fail("CONNACK %d" % rc)
            return
        for topic in self.topics:
            result, mid = client.subscribe(topic, qos=0)
            with self.lock:
                self.pending_subscriptions.add(mid)

    def on_subscribe(self, client, userdata, mid, granted_qos):
        with self.lock:
            self.pending_subscriptions.discard(mid)
            if not self.pending_subscriptions:
                self.subscribed.set()

    def on_message(self, client, userdata, message):
        with self.changed:
            self.received.append((message.topic, message.payload.decode("utf-8")))
            self.changed.notify_all()

    def wait_messages(self, count):
        with self.changed:
            ok = self.changed.wait_for(lambda: len(self.received) >= count, timeout=TIMEOUT_S)
            return ok, list(self.received)

    def publish(self, topic, msg):
        # The reference's Messaging.send_message: serialize_msg (json.dumps) and publish at QoS 0.
        info = self.client.publish(topic, json.dumps(msg), qos=0)
        info.wait_for_publish(timeout=TIMEOUT_S)

    def fail(self, text):
        self.failures.append(text)

    def check(self, condition, text):
        if not condition:
            self.fail(text)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def check_python_bytes(peer, raw, what):
    """Our encoder must be byte-identical to json.dumps for what it decodes to."""
    decoded = json.loads(raw)
    peer.check(json.dumps(decoded) == raw,
               "%s: not byte-identical to json.dumps:\n  ours:   %s\n  python: %s"
               % (what, raw, json.dumps(decoded)))
    return decoded


def scenario_researcher(args):
    peer = Peer(args.port, ["general/researcher"])
    if not peer.subscribed.wait(TIMEOUT_S):
        peer.fail("no SUBACK")
        return peer
    # Built like ResearcherMessages.format_outgoing_message(...).get_dict(): protocol_version first.
    peer.publish("general/nodes", {"protocol_version": "1", "researcher_id": args.researcher_id,
                                   "sequence": 7, "command": "ping"})
    ok, received = peer.wait_messages(2)
    if not ok:
        peer.fail("expected a pong and an error, got %r" % (received,))
        return peer
    by_command = {}
    for topic, raw in received:
        peer.check(topic == "general/researcher", "reply on %s" % topic)
        msg = check_python_bytes(peer, raw, "reply")
        by_command[msg.get("command")] = (raw, msg)

    raw, pong = by_command.get("pong", (None, None))
    if pong is None:
        peer.fail("no pong")
    else:
        peer.check(pong["protocol_version"] == "1", "pong protocol_version %r" % pong["protocol_version"])
        peer.check(pong["researcher_id"] == args.researcher_id, "pong researcher_id")
        peer.check(pong["node_id"] == args.node_id, "pong node_id")
        peer.check(pong["success"] is True, "pong success")
        peer.check(type(pong["sequence"]) is int and pong["sequence"] == 7,
                   "pong sequence %r" % pong["sequence"])
        peer.check(isinstance(pong["loss"], float) and math.isnan(pong["loss"]),
                   "pong loss %r" % pong["loss"])
        peer.check(type(pong["ratio"]) is float and pong["ratio"] == 0.5, "pong ratio %r" % pong["ratio"])
        peer.check(type(pong["one"]) is float and pong["one"] == 1.0, "pong one %r" % pong["one"])
        peer.check('"loss": NaN' in raw, "NaN token: %s" % raw)
        peer.check('"one": 1.0' in raw, "1.0 written as a float: %s" % raw)

    raw, error = by_command.get("error", (None, None))
    if error is None:
        peer.fail("no error message")
    else:
        expected = ('{"command": "error", "errnum": "FB301: Protocol error", "node_id": "%s", '
                    '"extra_msg": "bad request from python", "researcher_id": "%s", "protocol_version": "1"}'
                    % (args.node_id, args.researcher_id))
        peer.check(raw == expected, "error bytes:\n  got      %s\n  expected %s" % (raw, expected))
    return peer


def scenario_node(args):
    topic_own = "general/" + args.node_id
    peer = Peer(args.port, ["general/nodes", topic_own])
    if not peer.subscribed.wait(TIMEOUT_S):
        peer.fail("no SUBACK")
        return peer
    # A reference AddScalarReply, as the node's HistoryMonitor sends it (client='monitoring').
    peer.publish("general/monitoring", {
        "protocol_version": "1", "researcher_id": args.researcher_id, "node_id": args.node_id,
        "job_id": "job_1", "train": True, "test": False, "test_on_local_updates": False,
        "test_on_global_updates": False, "metric": {"Loss": float("nan")}, "epoch": 1, "total_samples": 640,
        "batch_samples": 64, "num_batches": 10, "num_samples_trained": None, "iteration": 3,
        "command": "add_scalar"})
    peer.publish("general/researcher", {"protocol_version": "1", "researcher_id": args.researcher_id,
                                        "node_id": args.node_id, "success": True, "sequence": 1,
                                        "command": "pong"})
    ok, received = peer.wait_messages(1)
    if not ok:
        peer.fail("no request from our researcher")
        return peer
    topic, raw = received[0]
    peer.check(topic == topic_own, "request on %s" % topic)
    msg = check_python_bytes(peer, raw, "request")
    peer.check(msg["protocol_version"] == "1", "protocol_version")
    peer.check(type(msg["value_int"]) is int and msg["value_int"] == 2, "value_int %r" % msg["value_int"])
    peer.check(type(msg["value_float"]) is float and msg["value_float"] == 1.0,
               "value_float %r" % msg["value_float"])
    peer.check(msg["loss_echo"] != msg["loss_echo"], "loss_echo is not NaN: %r" % msg["loss_echo"])
    peer.check(msg["inf"] == float("inf") and msg["ninf"] == float("-inf"), "infinities")
    peer.check(msg["text"] == "caf\u00e9 \U0001F600", "text %r" % msg["text"])
    peer.check('"text": "caf\\u00e9 \\ud83d\\ude00"' in raw, "ensure_ascii escapes: %s" % raw)
    peer.check('"inf": Infinity, "ninf": -Infinity' in raw, "infinity tokens: %s" % raw)
    return peer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", choices=["researcher", "node"], required=True)
    parser.add_argument("--node-id", required=True)
    parser.add_argument("--researcher-id", required=True)
    args = parser.parse_args()
    peer = scenario_researcher(args) if args.scenario == "researcher" else scenario_node(args)
    peer.close()
    if peer.failures:
        for failure in peer.failures:
            print("FAIL:", failure)
        return 1
    print("OK (paho-mqtt %s)" % mqtt.__version__ if hasattr(mqtt, "__version__") else "OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

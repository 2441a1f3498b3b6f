/// @file messaging_options.hpp
/// @brief The configuration of a Messaging object: plain values, no behaviour (see messaging.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace fedbiomed {

/// @brief Which kind of component a Messaging object serves; it selects topics and subscriptions.
enum class ComponentType {
    researcher = 1,  ///< publishes on general/nodes, subscribes general/researcher, monitoring, logger
    node = 2,        ///< publishes on general/researcher, subscribes general/nodes and `general/<id>`
};

/// @brief Checks that @p id can be a component id: non-empty, no '/', '+', '#', '.' or NUL, not a reserved
/// topic name. ('.' because RabbitMQ's MQTT plugin turns it into '/'; real ids are node_ or researcher_
/// followed by a UUID.) @throws MessagingError (FB103) naming the problem.
void validate_component_id(const std::string& id);

/// @brief Checks that @p entry can be an entry of MessagingOptions::brokers ("host", "host:port",
/// "[ipv6]:port", optionally after tcp://, mqtt://, ssl:// or mqtts://), e.g. to validate a command line
/// before building the options. @throws MessagingError (FB103) "broker address '...': <what is wrong>".
void validate_broker_address(const std::string& entry);

/// @brief MQTT protocol version spoken to the broker. Always requested explicitly: Paho's default would try
/// 3.1.1 and then fall back to MQTT 3.1, which this library never speaks.
enum class MqttVersion {
    v3_1_1,  ///< MQTT 3.1.1, as the reference
    v5,      ///< MQTT 5
    /// MQTT 5, and MQTT 3.1.1 with a broker that refuses MQTT 5: when the broker closes the connection
    /// after the MQTT 5 CONNECT without answering it (RabbitMQ 3.10) or answers "unsupported protocol
    /// version", the same broker is tried again at once in MQTT 3.1.1, within the same attempt. Every
    /// connection tries MQTT 5 first. End-to-end acknowledgement needs MQTT 5 (see EndToEndAck): what each
    /// version guarantees is in docs/reliability.md.
    automatic,
};

/// @brief End-to-end acknowledgement between components of this library (see
/// MessagingOptions::end_to_end_ack).
enum class EndToEndAck {
    /// Towards receivers that announce it in their presence record (components of this library connected
    /// in MQTT 5): a message to a node, or a broadcast while such nodes are online, is acknowledged by
    /// each of them; towards anybody else (a reference component, a component in MQTT 3.1.1 or without
    /// presence) messages go as without the option. Needs MessagingOptions::presence and QoS >= 1 (at
    /// QoS 0 it is off).
    automatic,
    /// Every message carries an end-to-end id and waits for acknowledgements, even when no receiver
    /// announced it: those that announced it must each acknowledge, and when none did the first
    /// acknowledgement completes the Delivery. Needs MQTT 5 (v5 or automatic) and QoS >= 1. A
    /// Delivery of a message no receiver acknowledges fails after end_to_end_timeout (FB102).
    on,
    /// No end-to-end ids on our messages, and no announcement (this component still acknowledges the
    /// messages of a sender that forces it on).
    off,
};

/// @brief TLS settings; TLS is used when @ref enabled is true (the broker URI becomes ssl://).
struct TlsOptions {
    bool enabled = false;      ///< connect with TLS
    std::string ca_file;       ///< PEM file of trusted CAs; empty: the system's default store
    std::string cert_file;     ///< client certificate (PEM) for mutual TLS; empty: none
    std::string key_file;      ///< client private key (PEM); empty: none
    std::string key_password;  ///< password of @ref key_file, if encrypted
    /// Verify the broker's certificate (signed by a CA of @ref ca_file) and that it is issued for
    /// MessagingOptions::broker. The only way around either check: false makes the connection open to
    /// anyone on the path who impersonates the broker, and a warning is logged at every connection.
    bool verify_server = true;
    /// With a client certificate (@ref cert_file): the subject attribute ("CN", "UID", "emailAddress"...)
    /// that must equal the component id, checked before each connection. A broker that takes the
    /// certificate's identity as the user name (Mosquitto's use_identity_as_username: the CN) confines a
    /// component to that identity's topics by ACL, so a component started under another id would receive
    /// nothing; start() refuses it instead (FB101 naming both). Empty: no identity check. The certificate
    /// must also be valid now (start() says so when it has expired).
    std::string identity_attribute = "CN";
};

/// @brief Signed messages between components of this library (MessagingOptions::signing): each component
/// signs what it publishes with its own Ed25519 key, and checks what it receives against the public keys
/// of the components it trusts. The signature travels in MQTT 5 user properties, so reference (Python)
/// components receive the very same payload bytes and never see it. Needs MQTT 5: see docs/security.md
/// ("Signed messages") for what it protects against and what remains open.
///
/// Signing is on when @ref key_file is set. What is published is then signed: messages, log records,
/// end-to-end acknowledgements, presence records and the will. What arrives is checked: a message claiming
/// a known signer must carry a valid signature by that signer's key, be fresh (@ref max_age) and not seen
/// before (a replay), and the signer must be its sender (the `node_id` of a message to a researcher, the
/// `researcher_id` of a message to a node, the id in the topic of an acknowledgement or a presence
/// record). Each rejection is counted (MessagingStats::signature_*) and reported as a fault (FB104, at most
/// one per cause per second, with the count of those not reported).
struct SigningOptions {
    /// This component's Ed25519 private key (PEM, unencrypted: `openssl genpkey -algorithm ed25519`).
    /// Empty: nothing is signed and nothing is checked (and the other members must keep their defaults).
    /// A missing, unreadable, encrypted or non-Ed25519 file is refused at construction (FB103 naming it).
    std::string key_file;
    /// Directory of the trusted public keys, one PEM file per component named `<component id>.pem`
    /// (`openssl pkey -in key.pem -pubout`). Read once, at construction: a key added or revoked takes
    /// effect at the next construction. Files not ending in `.pem` are ignored; a `.pem` file that is not
    /// an Ed25519 public key, or a name that is not a component id, is refused (FB103 naming it). This
    /// component's own public key (from @ref key_file) is always trusted. Empty: only our own key.
    std::string trusted_keys;
    /// Refuse what is not signed by a trusted key: unsigned messages (reference components), unknown
    /// signers, besides the forged, tampered, replayed and stale ones refused anyway. Off (the default):
    /// unsigned messages and messages signed by an unknown key are accepted as unsigned, so that
    /// reference components can still take part. Needs @ref key_file.
    bool require_signed = false;
    /// A signed message or acknowledgement older than this (by its signer's clock) is refused as stale:
    /// it bounds how long a captured message can be replayed, and how long the replay cache remembers it.
    /// It also bounds how long a message may wait in the broker: a message queued in a persistent session
    /// while this component was away for longer is refused when it arrives (with end-to-end
    /// acknowledgement its sender sends it again, freshly signed, until its end_to_end_timeout). Presence
    /// records are exempt (retained state, not events): see docs/security.md.
    std::chrono::milliseconds max_age{std::chrono::minutes(10)};
    /// How far in the future (clocks out of step) a signature's time may be before it is refused as stale.
    std::chrono::milliseconds max_clock_skew{std::chrono::minutes(1)};
    /// Signatures remembered to refuse replays (about 64 bytes each): those younger than @ref max_age, at
    /// most this many. When more arrive within max_age, the oldest is forgotten and anything signed at or
    /// before its time is refused as stale from then on, so that no replay gets through: a burst above
    /// this many signed messages per max_age costs the oldest of them, never the guarantee.
    std::size_t replay_cache_capacity = 100000;
};

/// @brief What start() does when the broker cannot be reached.
enum class FirstConnect {
    fail_fast,    ///< one attempt bounded by MessagingOptions::connect_timeout, then FB101
    keep_trying,  ///< retry with the reconnection backoff until MessagingOptions::first_connect_deadline
};

/// @brief Random spread of the reconnection delays, so that many components restarted together do not
/// reconnect in lockstep.
enum class BackoffJitter {
    none,          ///< exact delays: min_delay, 2 x min_delay, 4 x ... up to max_delay
    full,          ///< a delay drawn uniformly in [0, exponential delay] (never below 1 ms)
    decorrelated,  ///< a delay drawn uniformly in [min_delay, 3 x previous delay], capped at max_delay
};

/// @brief Automatic reconnection after a lost connection (and between start() attempts in
/// FirstConnect::keep_trying mode).
struct ReconnectOptions {
    /// Reconnect automatically. When false, a lost connection is final as in the reference: a sticky
    /// failure reported as FB100 (not FB101: the broker refused nothing), is_failed() becomes true, pending
    /// and buffered publications fail, and only stop() then start() reconnects.
    bool enabled = true;
    std::chrono::milliseconds min_delay{100};    ///< first delay after a loss (and base of the backoff)
    std::chrono::milliseconds max_delay{30000};  ///< the delays grow by a factor 2 up to this bound
    BackoffJitter jitter = BackoffJitter::full;  ///< how delays are spread
};

/// @brief What send_message() does when the outbox is full (see MessagingOptions::outbox_capacity).
enum class OutboxOverflow {
    /// Messages still waiting to be handed to the client (sent while disconnected, or held back by the
    /// in-flight window) fail (FB103), oldest first, until the new one fits. Messages already handed to the
    /// client (in flight, or awaiting an end-to-end acknowledgement) are never evicted: the client owns
    /// them. When evicting every waiting message would still leave no room (everything held is in flight
    /// or a log record, or the new message needs more bytes than that frees), nothing is evicted and the
    /// new message's Delivery fails (FB103), as with drop_newest.
    drop_oldest,
    drop_newest,  ///< the new message's Delivery fails at once (FB103); nothing already accepted is lost
    throw_error,  ///< send_message() throws MessagingError (FB103); nothing already accepted is lost
};

/// @brief Plain configuration values of a Messaging object. Defaults suit a local Mosquitto and lose no
/// message across broker restarts and reconnections (see docs/reliability.md for what that covers).
// Grouped by topic for readers, not packed: one object per component, its padding is irrelevant.
// NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding)
struct MessagingOptions {
    std::string broker = "localhost";  ///< host name or address of the broker
    int port = 1883;                   ///< TCP port of the broker
    /// Several brokers to fail over between (the nodes of a cluster, or brokers bridged together); when
    /// not empty it replaces @ref broker. Each entry is "host", "host:port", "[ipv6]:port", or one of
    /// these after "tcp://" / "mqtt://" (plain TCP) or "ssl://" / "mqtts://" (TLS with @ref tls's files);
    /// a missing port is @ref port, a missing scheme follows tls.enabled. The first connection tries
    /// them in order, each once per round, and start() fails (FB101, naming each broker's reason) when a
    /// whole round failed (FirstConnect::fail_fast) or at first_connect_deadline. After a loss the
    /// component tries the next broker first, then the others in turn; the reconnection backoff applies
    /// between rounds, not between the brokers of one round. Connection events name the broker
    /// (ConnectionEvent::broker). Sessions are per broker: the outbox re-sends what the lost broker had
    /// not acknowledged, and what the lost broker held for this component comes back only if it returns.
    std::vector<std::string> brokers;
    std::string username;    ///< MQTT user name; empty: anonymous
    std::string password;    ///< MQTT password (used only with a user name)
    TlsOptions tls;          ///< TLS settings
    SigningOptions signing;  ///< signed messages between components of this library (off by default)
    /// Protocol version: MQTT 5 first, 3.1.1 with a broker that refuses it (see MqttVersion::automatic).
    MqttVersion mqtt_version = MqttVersion::automatic;
    /// MQTT client id. Empty (the default): "fbm-node-<id>" or "fbm-researcher-<id>" with a persistent
    /// session, or an id assigned by the broker (as the reference) without one. Two processes must never
    /// share a client id: the broker disconnects one for the other (detected, see takeover_threshold).
    std::string client_id;
    /// Keep the MQTT session on the broker across disconnections (clean session off in MQTT 3.1.1, clean
    /// start off with a session expiry in MQTT 5): the broker keeps the subscriptions and queues the QoS 1
    /// messages that arrive while the component is away. The reference uses a clean session. Each
    /// connection says what became of it (ConnectionEvent::session): a session the broker lost is reported,
    /// and on a broker of the list that cannot resume it (a RabbitMQ node while the node holding the
    /// session is down) the component connects with a clean session as "<client id>-fallback" instead.
    bool persistent_session = true;
    /// MQTT 5 only: how long the broker keeps a persistent session after the component went away.
    /// (MQTT 3.1.1 sessions do not expire; Mosquitto's persistent_client_expiration bounds them.)
    std::chrono::seconds session_expiry{std::chrono::hours(24 * 7)};
    /// Each connection attempt gives up after this (FB101): it bounds the CONNACK and the SUBACKs together.
    std::chrono::milliseconds connect_timeout{10000};
    /// What start() does when the broker is not there. FirstConnect::fail_fast (the default) throws FB101
    /// after one attempt (one round of @ref brokers), except when the broker closes the connection after
    /// its CONNACK while the component subscribes, which another process taking this id over also does:
    /// with @ref presence that is tried up to takeover_threshold times, and a duplicate id found meanwhile
    /// is the FB101. FirstConnect::keep_trying retries (backoff of @ref reconnect, no busy loop) until
    /// first_connect_deadline.
    FirstConnect first_connect = FirstConnect::fail_fast;
    /// FirstConnect::keep_trying only: start() throws FB101 when not connected after this long.
    /// std::chrono::milliseconds::max() waits forever (stop() from another thread still interrupts it).
    std::chrono::milliseconds first_connect_deadline{std::chrono::minutes(5)};
    ReconnectOptions reconnect;  ///< automatic reconnection
    /// MQTT keepalive interval. A silent connection (stalled network) is detected as lost within about
    /// three times this interval (Paho sends a PINGREQ after one interval of silence, checking once per
    /// interval, and gives up one interval later), then reconnected. A connection that carries
    /// @ref keep_awake exchanges is not silent, so Paho sends it no PINGREQ: there an exchange unanswered
    /// for 1.5 intervals while the connection moved no data reports it lost instead (while messages arrive
    /// at the process, no exchange is made and Paho's PINGREQ takes over). 0 turns keepalive, and with it
    /// the detection of a silent connection, off (MQTT's rule).
    std::chrono::seconds keepalive{60};
    /// Keep the MQTT client reading while nothing happens. Paho C 1.3 reads every connection of the process
    /// on one thread, which stops reading for 100 ms after each second without traffic: a request that
    /// arrives after a pause waits up to 100 ms about 9 % of the time, at every component it passes, and a
    /// round over many idle nodes meets such a wait often (docs/performance.md, "Change 6"). On: while
    /// connected, the process exchanges an UNSUBSCRIBE of an unused topic and the broker's UNSUBACK every
    /// 500 ms (about 40 bytes each way; once per process, whatever its number of components; nothing
    /// changes at the broker), which keeps that thread reading. None within 125 ms of a message delivered
    /// to the process: that thread is reading then, and an exchange would cut short the holds of
    /// @ref inbound_max_bytes. Off: no periodic traffic through this component (another component of the
    /// process connecting may still nudge through it once); the waits come back unless another component of
    /// the process keeps it on.
    bool keep_awake = true;
    /// QoS of publications and subscriptions (0, 1 or 2). The reference uses 0; 1 (the default) lets a
    /// Delivery report the broker's acknowledgement and lets the broker keep messages for absent
    /// components. 2 needs a broker that grants it: one that grants less for a QoS 2 subscription (RabbitMQ)
    /// is refused at start() with FB101, since its acknowledgements would not mean exactly-once.
    int qos = 1;
    /// Larger outbound messages are refused (send_message() throws MessageError FB601); larger inbound
    /// payloads are rejected without decoding (fault FB601). At most kMaxPayloadBytesLimit (64 MiB): a
    /// RabbitMQ broker does not refuse a publication over its 128 MiB limit but wedges the connection.
    std::size_t max_payload_bytes = std::size_t{16} * 1024U * 1024U;
    /// The largest max_payload_bytes accepted (64 MiB): half of RabbitMQ's 128 MiB message limit, leaving
    /// room for the topic and the properties. A larger value is refused at construction (FB103).
    static constexpr std::size_t kMaxPayloadBytesLimit = std::size_t{64} * 1024U * 1024U;
    std::size_t max_json_depth = 512;  ///< deeper nesting in an inbound payload is rejected (FB601)
    /// Inbound messages waiting for the dispatcher; when full, the oldest waiting message is dropped,
    /// counted and reported as a fault (FB100).
    std::size_t inbound_queue_capacity = 100000;
    /// Payload bytes the inbound side holds at most: the messages (and presence records) queued for the
    /// dispatcher thread and the one being handled; at least max_payload_bytes. A slow handler (a node
    /// training) would otherwise let a flood of large messages grow the process without limit.
    ///
    /// Above half of it, a QoS 1/2 message holds the MQTT client's receive thread until the handler frees
    /// room: the client stops reading, TCP fills up, and the broker keeps the messages that follow in the
    /// session (within its own limits, e.g. Mosquitto's max_queued_messages). While held, the client
    /// library reads nothing for any Messaging object of the process: PUBACKs, end-to-end acknowledgements
    /// and messages for the others wait, and its send thread pauses. A QoS 1/2 publication (from a handler
    /// or any thread) ends the hold at once, as do connecting, disconnecting and stop(); a QoS 0 one leaves
    /// when the hold ends. One hold
    /// lasts at most a quarter of @ref keepalive (15 s at most; 15 s without keepalive), so the broker
    /// never sees the connection idle. A message is dropped, counted (MessagingStats::inbound_bound_drops,
    /// inbound_dropped) and reported as a fault (FB100, at most one per second, with the count) only when
    /// holding it would exceed this bound: at QoS 0 (never held: the broker does not keep QoS 0 messages),
    /// or at QoS 1/2 when no room came within one hold, or when the hold was cut short (stop(), another
    /// thread calling the client library). While a connection of the process is being made nothing is held
    /// or dropped (its CONNACK and SUBACKs come behind what the broker sends): the bound may be exceeded by
    /// what arrives meanwhile. Connection events and faults are never dropped for bytes.
    /// See docs/reliability.md ("Inbound memory").
    std::size_t inbound_max_bytes = std::size_t{256} * 1024U * 1024U;
    /// Publications the library holds until the broker (or, with end_to_end_ack, the receiver)
    /// acknowledges them: those handed to the client and those waiting for a connection. When one more
    /// would exceed this count or outbox_max_bytes, @ref outbox_overflow decides; every overflow is counted
    /// (MessagingStats::outbox_overflows) and reported as a fault (FB103). Forwarded log records are never
    /// buffered while disconnected (they are dropped and counted).
    std::size_t outbox_capacity = 100000;
    /// Payload bytes held by the outbox at most.
    std::size_t outbox_max_bytes = std::size_t{256} * 1024U * 1024U;
    OutboxOverflow outbox_overflow = OutboxOverflow::drop_newest;  ///< policy when the outbox is full
    /// Announce this component on `fedbiomed-messaging/presence/<node|researcher>/<id>` (retained "online",
    /// with a retained "offline" will the broker publishes if the component dies; stop() publishes
    /// "offline" itself). Researchers follow the nodes' announcements (online_nodes(), presence handler).
    /// Reference components never subscribe to these topics. Also what detects duplicate ids.
    bool presence = true;
    /// With @ref presence on, the period of this component's heartbeats, live (not retained) QoS 0 copies of
    /// its "online" record; 0 sends none. Its "online" record announces the period, and the components that
    /// follow it take it offline (presence event with a reason beginning "no heartbeat") when they hear
    /// nothing from it for 3 periods, counted from the start of their own current connection at the
    /// earliest. Why: the will and the retained records are not enough everywhere. A RabbitMQ cluster keeps
    /// them on the node the client is connected to: a component connected to a node that dies has no will
    /// published, and a follower connected to another node never sees the retained "online" record (it
    /// learns the component is online from its next heartbeat). Components that announce no period
    /// (presence_heartbeat 0, or earlier versions of this library) are followed through their will as
    /// before. A node that comes back after being taken offline is online again with its next record.
    /// Cost: one small publication per period per component. 0, or 10 ms to 24 h.
    std::chrono::milliseconds presence_heartbeat{10000};
    /// Duplicate ids: when this many signs that another process uses this component id are seen within
    /// takeover_window, the component stops reconnecting: sticky failure FB101 "another process is
    /// connected with the same component id", reported on both processes. Only the broker's word counts as
    /// a sign, never a message that another client could forge: under MQTT 5 a disconnection with reason
    /// code 0x8E "session taken over"; under MQTT 3.1.1 (needs @ref presence) a connection the broker
    /// closed with another instance's announcement found on our own presence topic during it or the next
    /// connection. Two processes sharing a component id but configured with different client ids are not
    /// disconnected by the broker and are only warned about. 0 disables the detection.
    int takeover_threshold = 3;
    std::chrono::milliseconds takeover_window{60000};  ///< see takeover_threshold
    /// End-to-end acknowledgement between components of this library, on by default towards receivers
    /// that announce it (EndToEndAck::automatic). Each message carries an id in MQTT 5 user properties,
    /// which the broker strips for MQTT 3.1.1 subscribers such as the reference's: a reference component
    /// receives the very same bytes and never sees an acknowledgement. Each receiver acknowledges the id
    /// as soon as the message is queued for its handler (not when the handler returns: a handler may run
    /// for an hour) on `fedbiomed-messaging/ack/<node|researcher>/<sender id>/<receiver id>`, and drops
    /// copies it has already taken. The sender keeps every message until each receiver it was meant for
    /// acknowledged it (a message to a node: that node; a broadcast: every node that announced it and was
    /// online when it was sent), sends again what a receiver is missing, and completes the Delivery then
    /// (Delivery::acknowledged_by()). What it guarantees: docs/reliability.md.
    EndToEndAck end_to_end_ack = EndToEndAck::automatic;
    /// End-to-end: the Delivery fails (FB102, naming the receivers that did not acknowledge) when not
    /// every receiver acknowledged within this time after send_message().
    std::chrono::milliseconds end_to_end_timeout{60000};
    /// End-to-end: a message acknowledged by the broker but not by a receiver is sent again after this
    /// when that receiver acknowledged a later message (it was lost) or nothing at all meanwhile; the
    /// interval doubles at each copy of one message (up to 8 times this), so that a receiver that
    /// vanished costs a few copies per message, not one per interval.
    std::chrono::milliseconds end_to_end_resend_interval{2000};
    /// send_error() sends at most this many error messages per second on average, in bursts of at most
    /// error_burst: what bad requests make a node send back stays bounded however many arrive. The others
    /// are not sent: their Delivery fails (FB103), they are counted (MessagingStats::errors_rate_limited)
    /// and logged together, once per episode. 0 lifts the limit.
    double error_rate = 10.0;
    double error_burst = 20.0;  ///< see error_rate
    /// forward_logs: at most this many log records per second on general/logger, in bursts of at most
    /// forwarded_log_burst. The others are counted (MessagingStats::logs_rate_limited) and announced by
    /// one WARNING record "N log record(s) not forwarded" before the next record forwarded. Local sinks
    /// (the console) still get every record. 0 lifts the limit.
    double forwarded_log_rate = 20.0;
    double forwarded_log_burst = 100.0;  ///< see forwarded_log_rate
    /// Nodes only: while started, forward the library logger's records of INFO and above to general/logger
    /// as reference `log` messages (spec section 9; see logger.hpp). At most one forwarder per process:
    /// the first node started.
    bool forward_logs = true;
    /// stop() waits at most this long for publications not acknowledged yet (including those waiting for
    /// a reconnection), then fails them.
    std::chrono::milliseconds stop_timeout{5000};

    /// @brief The reference's wire behaviour: MQTT 3.1.1, QoS 0, clean session, broker-assigned client id,
    /// no presence announcements (so nothing beyond the reference's own traffic), no end-to-end
    /// acknowledgement.
    /// Reconnection and the outbox stay on: they change nothing on the wire. @throws std::bad_alloc only.
    static MessagingOptions reference_compatible();
};

}  // namespace fedbiomed

// One benchmark client, behind one interface so every workload runs the same code over the three
// transports: this library's Messaging, a minimal raw Paho C++ client with Paho's defaults, and the
// mosquitto_pub / mosquitto_sub tools (driven through pipes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fedbiomed/json.hpp"

namespace fbm_bench {

/// The client under test.
enum class Impl {
    lib,        ///< fedbiomed::Messaging with its default options (broker, port, and qos when asked)
    paho,       ///< raw Paho C++ async_client, out of the box (retries when Paho refuses: -12)
    paho_wait,  ///< raw Paho C++ as a careful user writes it: waits on its tokens, never meets a refusal
    tools,      ///< mosquitto_sub | this process | mosquitto_pub -l
};

Impl parse_impl(const std::string& text);
const char* impl_name(Impl impl) noexcept;

/// Which Fed-BioMed component the client plays: it fixes the topics (those of the reference).
enum class Side {
    researcher,  ///< publishes on general/nodes; subscribes general/researcher, general/monitoring,
                 ///< general/logger
    node,        ///< publishes on general/researcher; subscribes general/nodes and general/<id>
};

struct EndpointConfig {
    Impl impl = Impl::lib;
    Side side = Side::node;
    std::string id;             ///< component id (also the MQTT client id of the raw and tools clients)
    int port = 1883;            ///< broker on 127.0.0.1
    int qos = -1;               ///< -1: the library's default (lib), 1 for the others
    bool subscribe = true;      ///< false: no subscriptions (raw / tools; Messaging always subscribes)
    bool publish = true;        ///< false: tools start no mosquitto_pub (a pure subscriber)
    bool batch_writes = false;  ///< tools: let writes to mosquitto_pub accumulate (throughput runs)
    /// > 0: send() waits while more publications than this are unacknowledged (lib, raw Paho), as a
    /// producer that respects its client's buffer (this library's outbox holds 100 000 by default).
    std::size_t max_outstanding = 0;
    std::string stderr_path;  ///< where the mosquitto tools write their stderr
    /// lib: a clean session instead of the default persistent one (runs sharing one RabbitMQ cluster must
    /// not leave queues behind that collect the next runs' messages).
    bool clean_session = false;
};

/// Called for every valid inbound message (decoded, protocol version checked), on the client's receive
/// thread (the dispatcher thread for lib, Paho's thread for raw Paho, a reader thread for tools).
using MessageSink = std::function<void(const fedbiomed::Json& msg)>;

class Endpoint {
public:
    virtual ~Endpoint() = default;
    /// Connects and subscribes; returns once messages can be received.
    virtual void start(MessageSink sink) = 0;
    /// Publishes @p msg on the side's default topic (serialize_msg() wire text).
    virtual void send(const fedbiomed::Json& msg) = 0;
    /// Waits until everything sent was written (QoS 0) or acknowledged (QoS 1).
    virtual void flush() = 0;
    /// Disconnects; after it returns no sink call runs.
    virtual void stop() = 0;
    /// Publications the client refused and the caller sent again until it took them (raw Paho's -12,
    /// "buffer full"): retried, not lost.
    virtual std::uint64_t retries() const { return 0; }
    /// Publications the client refused for good (this library's outbox full): dropped, never sent.
    virtual std::uint64_t drops() const { return 0; }
    /// Inbound payloads that failed decoding or the version check.
    virtual std::uint64_t bad_messages() const { return 0; }
};

std::unique_ptr<Endpoint> make_endpoint(const EndpointConfig& config);

/// The QoS a client really uses for @p config (resolving -1).
int effective_qos(const EndpointConfig& config);

}  // namespace fbm_bench

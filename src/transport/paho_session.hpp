// The Session (session.hpp) over Paho's async_client: connect with a deadline, subscribe, publish,
// disconnect; Paho's callbacks become the plain values of SessionCallbacks here, and nowhere else. A
// session serves one connection: the connection supervisor (connection_supervisor.cpp) makes a new one for
// every connection attempt and destroys it when the connection is lost or stopped. Destroying the client is
// the only sure way to cancel an attempt still running in Paho's threads, and it leaves nothing in flight
// inside Paho to be re-sent behind the Outbox's back (the Outbox re-sends what was not acknowledged). Reusing
// one client across reconnections, as Paho's own automatic reconnect does, was tried and rejected: Paho
// C 1.3.12's re-send of its in-flight publications after a reconnection races with their release between its
// two threads (a use-after-free seen by AddressSanitizer when the broker is killed mid-stream).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <mqtt/async_client.h>

#include "fedbiomed/messaging_options.hpp"
#include "transport/receive_thread_doorbell.hpp"
#include "transport/session.hpp"
#include "transport/socket_tuning.hpp"
#include "transport/tcp_progress.hpp"
#include "transport/tls_probe.hpp"

namespace fedbiomed::detail {

class PahoSession final : public Session {
public:
    /// Creates the client (no network activity). The callbacks are registered here, before any connect,
    /// and never changed. Keeps a copy of what it needs of @p options (nothing refers back to them).
    /// @throws MessagingError (FB101) when Paho refuses the broker address or the client id.
    PahoSession(const MessagingOptions& options, const SessionSettings& settings, SessionCallbacks callbacks);

    /// Destroys the client; a connection attempt still in progress is abandoned. Never throws.
    ~PahoSession() override;

    void connect(Clock::time_point deadline) override;
    void subscribe(const std::vector<std::string>& topics, int qos, Clock::time_point deadline) override;
    void interrupt() noexcept override;

    /// Without a tag Paho copies the payload into a message object it creates and releases itself (a
    /// message object created here would have its last reference dropped inside libpaho-mqttpp3 on Paho's
    /// thread, a hand-over ThreadSanitizer cannot see); with MQTT 5 properties a message object is needed.
    SendResult publish(const Publication& publication) override;

    bool disconnect(std::chrono::milliseconds timeout) noexcept override;
    bool connected() const noexcept override;
    /// Paho C 1.3 holds the excess back and then sends only about a window per second (it waits for its own
    /// timer, not for the acknowledgements), so callers keep at most this many in flight themselves.
    std::size_t receive_maximum() const noexcept override { return receive_maximum_; }
    bool mqtt5() const noexcept override { return mqtt5_; }
    bool session_present() const noexcept override { return session_present_; }
    std::vector<std::string> unacknowledged_topics(std::size_t limit) const noexcept override {
        return completions_.topics(limit);
    }
    const std::string& endpoint() const noexcept override { return endpoint_; }

    /// The URI a session to @p broker uses.
    static std::string make_uri(const BrokerAddress& broker);

    /// The inode of this session's own socket to the broker, found at connect() (socket_tuning.hpp); 0 when
    /// it was not found (nothing is tuned then). For checks: two sessions never share one.
    unsigned long broker_socket_inode() const noexcept { return socket_.inode(); }
    /// A duplicate descriptor of that socket (-1 when not found), valid while the session lives. For tests.
    int broker_socket_descriptor() const noexcept { return socket_.descriptor(); }

    /// Sends an UNSUBSCRIBE of a topic nobody subscribes to; its UNSUBACK wakes Paho's receive thread,
    /// which every client of the process shares (paho_session.cpp says why a connecting session of the
    /// same process needs that, receive_thread_waker.hpp why an idle process does). Called by another
    /// session's connect(), on its supervisor thread, and by the waker's thread; changes nothing at the
    /// broker. Never throws.
    ///
    /// Nudges silence Paho's keepalive on this connection (Paho sends a PINGREQ only after a keepalive
    /// without sending anything), so they watch the connection instead: when a nudge has waited for its
    /// answer for 1.5 keepalives (Paho's own patience for a PINGRESP) while the connection moved no data
    /// (a long transfer in either direction delays the answer without stalling anything), the connection is
    /// stalled and is reported lost. With keepalive 0, never (MQTT's rule). One nudge at a time: while one
    /// waits for its answer, nudge() sends nothing more and returns true. The waker sends none within 125 ms
    /// of a message delivered to any session of the process: Paho's keepalive watches meanwhile.
    /// @return false when it could not be sent (this session is not connected any more, or stalled).
    bool nudge() noexcept;
    /// MessagingOptions::keep_awake: this session lets the process's waker (receive_thread_waker.hpp) run
    /// and nudge through it while it is connected.
    bool keeps_awake() const noexcept { return keep_awake_; }

private:
    // Throws ConnectRefused when the broker granted less than QoS 2 for a QoS 2 subscription.
    void check_exactly_once_granted(const mqtt::token& token, const std::string& topic) const;
    // Wakes connect()/subscribe() when one of their tokens completes.
    class Waiter final : public mqtt::iaction_listener {
    public:
        explicit Waiter(PahoSession& owner) : owner_(owner) {}
        void on_success(const mqtt::token& token) override { completed(token, true); }
        void on_failure(const mqtt::token& token) override { completed(token, false); }

    private:
        void completed(const mqtt::token& token, bool succeeded) noexcept;
        PahoSession& owner_;
    };

    // Turns publication completions into SessionCallbacks calls. It also keeps Paho's delivery tokens: their
    // reference counts also change inside libpaho-mqttpp3, which ThreadSanitizer cannot see, so our
    // reference is dropped on Paho's thread, in a later completion callback (or once the client is gone).
    class Completions final : public mqtt::iaction_listener {
    public:
        explicit Completions(PahoSession& owner) : owner_(owner) {}
        void on_success(const mqtt::token& token) override;
        void on_failure(const mqtt::token& token) override;
        // Keeps the token of publication @p id (to @p topic) until it completes.
        void keep(std::uint64_t id, mqtt::delivery_token_ptr token, SharedText topic);
        // Drops every token. Only once the client is destroyed.
        void release() noexcept;
        // The distinct topics of the publications kept or interrupted, oldest first, at most @p limit.
        std::vector<std::string> topics(std::size_t limit) const noexcept;

    private:
        // Our reference to a completing token goes to spare_, released at the next completion.
        // @p interrupted: it failed because the connection went (topics() still counts it).
        void retire(std::uint64_t id, std::vector<mqtt::delivery_token_ptr>& released, bool interrupted);
        // Keeps @p topic among the interrupted ones (under mutex_), at most kTopicsNamed, oldest first.
        void remember_interrupted(std::uint64_t id, const SharedText& topic);
        static constexpr std::size_t kTopicsNamed = 4;
        PahoSession& owner_;
        mutable std::mutex mutex_;
        // The topic is ours (not read back from Paho's message: see above on reference counts).
        struct Kept {
            mqtt::delivery_token_ptr token;
            SharedText topic;
        };
        std::unordered_map<std::uint64_t, Kept> tokens_;
        // The oldest publications the connection's end interrupted, by id; distinct topics, a few only.
        std::vector<std::pair<std::uint64_t, SharedText>> interrupted_;
        std::unordered_set<std::uint64_t> completed_early_;  // completed before keep() was called
        std::vector<mqtt::delivery_token_ptr> spare_;
    };

    // Waits until @p token completes, @p deadline passes or interrupt(); true when it completed.
    bool wait(const mqtt::token_ptr& token, Clock::time_point deadline);
    // wait() for the CONNACK, waking Paho's receive thread through the other connected sessions of the
    // process while it does not come (paho_session.cpp: the second client's stall).
    bool wait_connect(const mqtt::token_ptr& token, Clock::time_point deadline);
    // nudge(), an answer overdue: true (and a new window begins) when the connection still moves data.
    bool still_moving(std::int64_t now) noexcept;
    // nudge(): the connection is stalled; reported lost as Paho would report it, once.
    void report_stall(std::chrono::nanoseconds waited) noexcept;
    // Re-arms TCP_QUICKACK on our socket: the acknowledgement of what was just read leaves at once.
    // Called on Paho's receive thread right after an answer the session waited for. Never throws.
    void acknowledge_now() const noexcept;

    [[noreturn]] void throw_connect_failure(const std::string& detail) const;
    // The broker closed the connection while @p tokens (the SUBSCRIBEs of @p topics sent so far) waited.
    [[noreturn]] void throw_closed_after_subscribe(const std::vector<std::string>& topics,
                                                   const std::vector<mqtt::token_ptr>& tokens);
    std::string describe_transport_failure(const std::string& paho_text, Clock::time_point deadline) const;
    // TLS only: why our own handshake with the broker fails ("" when it succeeds or cannot say).
    std::string tls_failure_cause(Clock::time_point deadline) const;

    // What the session needs of the options (a copy: it refers to nothing of its owner's).
    const std::string broker_;
    const int port_;
    const bool tls_;
    TlsProbeSettings tls_probe_;  // what a diagnostic handshake uses when a TLS connection fails
    const bool mqtt5_;
    const std::chrono::milliseconds connect_timeout_;
    const bool keep_awake_;
    SessionCallbacks callbacks_;
    std::string endpoint_;
    std::string uri_;
    // Kept for the client's lifetime, as Paho keeps pointers into them.
    mqtt::connect_options connect_options_;
    Waiter waiter_{*this};
    Completions completions_{*this};
    std::mutex wait_mutex_;
    std::condition_variable wait_cv_;
    std::atomic<bool> interrupted_{false};
    // False once the connection is lost or the session is being destroyed: a publication that fails then
    // failed because the connection went, and may be sent again on the next one.
    std::atomic<bool> alive_{true};
    std::size_t receive_maximum_ = 65535;
    bool session_present_ = false;  // written by connect(), read by its caller's thread afterwards
    std::vector<const mqtt::token*> completed_;  // tokens the Waiter saw complete (guarded by wait_mutex_)
    std::vector<const mqtt::token*> succeeded_;  // among them, those acknowledged (guarded by wait_mutex_)
    // This connection's socket (socket_tuning.hpp): claimed in connect() before any publication or
    // subscription, released after the client is destroyed; quick_ is its descriptor for Paho's threads
    // (-1 until claimed).
    BrokerSocket socket_;
    // Rung while connecting (receive_thread_doorbell.hpp); null when the process has none. Set by the
    // constructor, read by connect().
    std::shared_ptr<ReceiveThreadDoorbell> doorbell_;
    std::atomic<int> quick_{-1};
    // QoS 1/2 publications handed to Paho and not completed: the PUBACK that brings this to 0 re-arms
    // quick-ack at once; with more in flight only when nothing more waits in the socket.
    std::atomic<long> awaiting_ack_{0};
    // Tokens of the nudges other sessions sent through this one (they run on other threads).
    std::mutex nudge_mutex_;
    std::vector<mqtt::token_ptr> nudge_tokens_;
    void keep_nudge_token(mqtt::token_ptr token);  // bounded list (nudge_mutex_ taken inside)
    // Marks the broker's answer to a nudge (nudge(): a stalled connection), and acknowledges it at once: a
    // stock broker's Nagle would otherwise hold its next write to us (a request) until our delayed ACK of
    // the UNSUBACK, up to 40 ms (measured: a 50-node round on a stock broker took twice the tuned one's
    // time until this).
    class NudgeAnswers final : public mqtt::iaction_listener {
    public:
        explicit NudgeAnswers(PahoSession& owner) : owner_(owner) {}
        void on_success(const mqtt::token&) override { answered(); }
        void on_failure(const mqtt::token&) override { answered(); }

    private:
        void answered() noexcept {
            owner_.unanswered_since_ns_.store(0);
            owner_.acknowledge_now();
        }
        PahoSession& owner_;
    };
    NudgeAnswers nudge_answers_{*this};
    // Steady-clock time (ns since its epoch) of the oldest nudge sent since the broker last answered one;
    // 0 when none waits.
    std::atomic<std::int64_t> unanswered_since_ns_{0};
    // The connection's progress when that nudge was sent (tcp_progress.hpp); written and read by nudge()
    // only, which its callers serialise (under the registry's mutex).
    std::optional<TcpProgress> progress_at_nudge_;
    // How long a nudge may wait for its answer before the connection counts as stalled; 0: forever.
    const std::chrono::milliseconds stall_bound_;
    std::unique_ptr<mqtt::async_client> client_;
    // Tokens of connect / subscribe / disconnect, dropped only after the client is destroyed: their
    // reference counts also change inside libpaho-mqttpp3, invisible to ThreadSanitizer, and dropping
    // them while Paho's threads may still hold them would look like a race.
    std::vector<mqtt::token_ptr> kept_tokens_;
};

/// Text for an MQTT 3.1.1 CONNACK return code or an MQTT 5 CONNACK reason code ("not authorised").
std::string connack_text(int code);

/// Text for a SUBACK failure code (0x80 in MQTT 3.1.1, 0x80 and above in MQTT 5): "not authorised (SUBACK
/// code 135)".
std::string suback_text(int code);

}  // namespace fedbiomed::detail

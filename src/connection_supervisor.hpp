// The connection supervisor: the one owner of the connection's lifecycle (one Phase instead of a flag per
// fact), and the thread that connects, watches the connection, and reconnects with backoff; it turns a
// refusal, a loss with reconnection disabled, or a duplicate-id verdict into a sticky failure. It knows
// sessions through transport/session.hpp only; everything else it does goes through the hooks the
// composition root gives it. It also owns the broker list: attempt() picks the broker, failover is the
// order in which it picks them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "broker_address.hpp"
#include "counters.hpp"
#include "fedbiomed/messaging_events.hpp"
#include "fedbiomed/messaging_options.hpp"
#include "inbound_item.hpp"
#include "outbox.hpp"
#include "takeover_detector.hpp"
#include "transport/session.hpp"

namespace fedbiomed::detail {

/// Where the component stands. Written by start()/stop() and the supervisor thread, read by any thread.
enum class Phase : std::uint8_t {
    stopped,         ///< not started: publications are refused
    stopped_failed,  ///< not started, and the last start() failed or a sticky failure preceded stop()
    starting,        ///< start() waits for the first connection: publications wait in the outbox
    connected,       ///< connected and subscribed
    reconnecting,    ///< the connection was lost; reconnecting (publications wait in the outbox)
    farewell,        ///< another process uses our id: announcing it before failing
    failed,          ///< sticky failure: publications are refused with its reason until stop()
    leaving,         ///< stop() in progress: publications are refused
};

class ConnectionSupervisor {
public:
    using Clock = std::chrono::steady_clock;

    struct Config {
        std::string id;
        ComponentType type = ComponentType::node;
        std::string client_id;
        std::vector<BrokerAddress> brokers;  ///< at least one; tried in this order
        std::vector<std::string> subscriptions;
        /// automatic: MQTT 5, and 3.1.1 at once when a broker hangs up on the MQTT 5 CONNECT.
        MqttVersion mqtt_version = MqttVersion::automatic;
        int qos = 1;
        bool persistent_session = true;  ///< ask the broker to resume the session (clean session off)
        bool presence = true;
        std::chrono::milliseconds connect_timeout{10000};
        FirstConnect first_connect = FirstConnect::fail_fast;
        std::chrono::milliseconds first_connect_deadline{300000};
        ReconnectOptions reconnect;
    };

    /// Given by the composition root; called on the supervisor thread.
    struct Hooks {
        /// A new session to @p broker for connection number @p seq, speaking @p version (v3_1_1 or v5);
        /// its callbacks carry @p generation. @p fallback: a clean session under topics.hpp's
        /// fallback_client_id(), because the broker could not resume the persistent one (see attempt());
        /// otherwise the session the options ask for.
        std::function<std::unique_ptr<Session>(std::uint64_t generation, std::uint64_t seq,
                                               const BrokerAddress& broker, MqttVersion version,
                                               bool fallback)>
            make_session;
        std::function<void(std::unique_ptr<Session> session)> attach;  ///< connected: publications go there
        std::function<std::unique_ptr<Session>()> detach;              ///< take the session back
        std::function<void()> connection_lost;                         ///< what was in flight waits
        std::function<Clock::time_point()> sweep;  ///< end-to-end sweep (null without end_to_end_ack)
        std::function<void()> pump;
        std::function<void(Fault fault)> fault;
        std::function<void(ConnectionEvent event)> state;
        std::function<void(const std::string& error)> close_outbox;  ///< a sticky failure: fail what is owed
        /// Another process uses our id: tell it (@p other: its instance, @p why), bounded wait.
        std::function<void(const std::string& other, const std::string& why)> farewell;
        /// The watch on stalled writes (watch_writes()): what the writes are doing, and a wake-up of Paho's
        /// receive thread (the doorbell; false when none was possible). Either null: no watch.
        std::function<Outbox::Writes()> writes;
        std::function<bool()> wake_client;
    };

    ConnectionSupervisor(Config config, Counters& counters, TakeoverDetector& takeover, Hooks hooks);
    ~ConnectionSupervisor();

    ConnectionSupervisor(const ConnectionSupervisor&) = delete;
    ConnectionSupervisor& operator=(const ConnectionSupervisor&) = delete;

    Phase phase() const noexcept { return phase_.load(std::memory_order_acquire); }

    /// connected, reconnecting, farewell or failed: start() succeeded and stop() was not called.
    bool started() const noexcept;

    /// True after a failed start() or a sticky failure (until a connection succeeds).
    bool is_failed() const noexcept;

    /// Why a publication to @p topic is refused now; nullopt when it is accepted.
    std::optional<std::string> refusal(const std::string& topic) const;

    /// Starts the supervisor thread and waits for the first connection or its failure (caller's thread,
    /// under the owner's lifecycle lock). @return the failure's text (the thread is then joined).
    std::optional<std::string> start();

    /// stop() called while start() waits: the first connection is abandoned. Never throws.
    void interrupt_start() noexcept;

    /// stop() begins: publications are refused and our records are not repaired any more.
    /// @return the phase before (connected, failed...).
    Phase begin_leaving() noexcept;

    /// Asks the thread to end (it disconnects cleanly and destroys the session) and joins it.
    void stop_and_join();

    /// Joins a thread that ended by itself (a sticky failure).
    void join();

    /// stop() is complete. @p before is what begin_leaving() returned.
    void finish_stop(Phase before) noexcept;

    /// Signals from the client's threads (callbacks carry the session's generation) and others; they never
    /// block for long and never throw.
    void connection_lost(std::uint64_t generation, const std::string& cause) noexcept;
    void disconnect_packet(std::uint64_t generation, int reason) noexcept;
    void request_work() noexcept;
    /// A QoS 0 write may be left unfinished by the client: while QoS 0 publications stay unwritten, check
    /// every kWriteCheck whether any publication completed, and wake the client when none did (Paho C
    /// continues a partial socket write only on a pass of its receive thread, up to a second later).
    void watch_writes() noexcept;
    void request_takeover(const std::string& other) noexcept;

    /// Successful connections so far (orders presence records).
    std::uint64_t connection_seq() const noexcept { return connection_seq_.load(); }

    /// The connection being made or in use (connection_seq() + 1 while connecting).
    std::uint64_t attempt_seq() const noexcept { return attempt_seq_.load(); }

    /// The broker connected to, being tried, or last tried (BrokerAddress::display()). Any thread.
    std::string broker() const;

private:
    enum class StartOutcome : std::uint8_t { pending, connected, failed };
    // unresumable: only from attempt_with(): the broker had no session for a persistent connection and
    // then did not acknowledge the re-subscription (or closed the connection after it).
    enum class Attempt : std::uint8_t { connected, transient, refused, unresumable };
    struct AttemptResult {
        Attempt kind = Attempt::transient;
        std::string detail;  // why, without the FB101 text; connected: the session warning, if any
        SessionOutcome session = SessionOutcome::none;  // connected: what became of the session
        // The broker may not speak this protocol version: it hung up on our CONNECT without a CONNACK, or
        // its refusal says so.
        bool version_in_doubt = false;
        // The broker answered the CONNECT, and the connection was then lost before the attempt finished
        // (during the subscriptions): to the takeover detector, a lost connection like any other.
        bool lost_after_connack = false;
        // Paho failed the attempt for another connection's socket (SocketNumberMixUp): made again at once.
        bool socket_mix_up = false;
    };
    enum class Ending : std::uint8_t { stop, lost, takeover };
    // Wake-up reasons of the supervisor thread (guarded by mutex_).
    struct Signals {
        bool stop = false;
        bool lost = false;
        bool work = false;
        bool takeover = false;
        bool writes = false;
    };

    void run() noexcept;
    void supervise();
    // The watch on stalled writes between two looks (watch_writes()).
    struct WriteWatch {
        Clock::time_point next = Clock::time_point::max();  // never: not watching
        std::uint64_t completions_seen = 0;
        std::chrono::microseconds interval{0};
    };
    void check_writes(WriteWatch& watch);
    void abandon(const char* what) noexcept;
    AttemptResult attempt();
    // attempt() falls back to a clean session; attempt_versions() to MQTT 3.1.1; attempt_in() tries again
    // after a socket mix-up; attempt_once() is one try.
    AttemptResult attempt_versions(bool fallback);
    AttemptResult attempt_in(MqttVersion version, bool fallback);
    AttemptResult attempt_once(MqttVersion version, bool fallback);
    // What a successful connection with @p clean_session whose CONNACK said @p present means for the
    // session; records where the persistent session lives. Sets @p warning for a lost session.
    SessionOutcome session_outcome(bool clean_session, bool present, std::string& warning);
    // Moves to the next broker of the list (wrapping around).
    void next_broker();
    const BrokerAddress& current_broker() const noexcept { return config_.brokers[broker_index_]; }
    Ending watch();
    bool wait_backoff(Clock::time_point wake);
    // Waits until @p until for the connection to be lost: true when it was (and stop() was not asked).
    bool wait_for_loss(Clock::time_point until);
    bool stop_requested();
    void finish_start(bool ok, const std::string& error);
    std::string take_loss_cause();
    void handle_loss(const std::string& cause);
    void teardown(bool clean);
    void fail_sticky(ErrorNumbers code, const std::string& text);
    void give_up_duplicate();
    void fail_duplicate();
    // The FB101 text (without its code) of a duplicate-id verdict.
    std::string duplicate_verdict() const;
    bool takeover_sign_at_loss(std::uint64_t connection, bool while_subscribing = false);
    // Moves phase_ from one of @p from to @p to; false when it was elsewhere.
    bool move(std::initializer_list<Phase> from, Phase to) noexcept;

    const Config config_;
    Counters& counters_;
    TakeoverDetector& takeover_;
    const Hooks hooks_;

    std::atomic<Phase> phase_{Phase::stopped};
    std::atomic<std::uint64_t> generation_{0};      // sessions made (callbacks carry theirs)
    std::atomic<std::uint64_t> connection_seq_{0};  // successful connections (presence record order)
    std::atomic<std::uint64_t> attempt_seq_{0};     // the connection being made or in use
    std::thread thread_;                            // started and joined under the owner's lifecycle lock
    std::size_t broker_index_ = 0;                  // written by the supervisor thread, under mutex_
    // Supervisor thread only, kept across stop()/start() as the broker keeps the session: the broker of
    // the list where our persistent session was made (none yet), and whether the broker should have one
    // for us (a persistent connection succeeded, and no clean one replaced it since).
    std::optional<std::size_t> session_home_;
    bool expect_session_ = false;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    Signals signals_;
    std::string takeover_other_;
    std::string loss_cause_;
    bool taken_over_ = false;  // the broker said "session taken over" (MQTT 5) before this loss
    std::string sticky_reason_;
    StartOutcome start_outcome_ = StartOutcome::connected;
    std::string start_error_;
    Session* connecting_ = nullptr;  // the attempt stop() may interrupt
};

}  // namespace fedbiomed::detail

/// @file event_recorder.hpp
/// @brief Test support: records what a Messaging hands to a handler (connection events, presence events,
/// faults, messages), with the time each arrived, and lets the test wait for what it expects.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fedbiomed/messaging.hpp>

#include "wait.hpp"

namespace fbm_test {

/// @brief The events of one kind a handler received, in arrival order. handler() may be called from any
/// thread (the library's dispatcher thread); every method is thread-safe.
template <class Event>
class EventRecorder {
public:
    using Clock = std::chrono::steady_clock;

    /// @brief One event and when it was recorded.
    struct Entry {
        Event event;
        Clock::time_point at;
    };

    /// @brief A handler that records each event it is given; it must not outlive the recorder.
    std::function<void(const Event&)> handler() {
        return [this](const Event& event) { add(event); };
    }

    /// @brief Records @p event now.
    void add(Event event) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            entries_.push_back({std::move(event), Clock::now()});
        }
        changed_.notify_all();
    }

    /// @brief Waits until at least @p count events arrived; false on timeout.
    bool wait_count(std::size_t count, std::chrono::milliseconds timeout = kWait) const {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return entries_.size() >= count; });
    }

    /// @brief Waits until at least @p count events satisfy @p pred; false on timeout.
    template <class Pred>
    bool wait_count_if(Pred pred, std::size_t count, std::chrono::milliseconds timeout = kWait) const {
        std::unique_lock<std::mutex> lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return count_locked(pred) >= count; });
    }

    /// @brief Waits for the first event satisfying @p pred and returns it (nullopt on timeout).
    template <class Pred>
    std::optional<Event> wait_first(Pred pred, std::chrono::milliseconds timeout = kWait) const {
        std::unique_lock<std::mutex> lock(mutex_);
        std::optional<Event> found;
        changed_.wait_for(lock, timeout, [&] {
            for (const auto& entry : entries_) {
                if (pred(entry.event)) {
                    found = entry.event;
                    return true;
                }
            }
            return false;
        });
        return found;
    }

    /// @brief How many events so far satisfy @p pred.
    template <class Pred>
    std::size_t count_if(Pred pred) const {
        std::lock_guard<std::mutex> lock(mutex_);
        return count_locked(pred);
    }

    /// @brief How many events so far.
    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return entries_.size();
    }

    /// @brief A copy of the events so far.
    std::vector<Event> events() const {
        std::lock_guard<std::mutex> lock(mutex_);
        std::vector<Event> copy;
        copy.reserve(entries_.size());
        for (const auto& entry : entries_) {
            copy.push_back(entry.event);
        }
        return copy;
    }

    /// @brief A copy of the events so far with their arrival times.
    std::vector<Entry> entries() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return entries_;
    }

private:
    template <class Pred>
    std::size_t count_locked(Pred pred) const {
        return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                      [&](const Entry& entry) { return pred(entry.event); }));
    }

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    std::vector<Entry> entries_;
};

/// @brief Connection-state events (Messaging::set_connection_state_handler).
using StateRecorder = EventRecorder<fedbiomed::ConnectionEvent>;

/// @brief Presence events (Messaging::set_presence_handler).
using PresenceRecorder = EventRecorder<fedbiomed::PresenceEvent>;

/// @brief A predicate on connection events: the state is @p state.
inline auto in_state(fedbiomed::ConnectionState state) {
    return [state](const fedbiomed::ConnectionEvent& event) { return event.state == state; };
}

/// @brief One message a MessageHandler received.
struct ReceivedMessage {
    fedbiomed::Json msg;
    std::string topic;
};

/// @brief What a Messaging hands to its MessageHandler and its FaultHandler, in two recorders.
class Recorder {
public:
    /// @brief A MessageHandler that records (msg, topic).
    fedbiomed::MessageHandler handler() {
        return [this](const fedbiomed::Json& msg, const std::string& topic) { add_message(msg, topic); };
    }
    /// @brief A FaultHandler that records every fault.
    fedbiomed::FaultHandler fault_handler() { return faults_.handler(); }

    /// @brief Records a message, e.g. from a handler that does more.
    void add_message(const fedbiomed::Json& msg, const std::string& topic) { messages_.add({msg, topic}); }
    /// @brief Records a fault.
    void add_fault(const fedbiomed::MessagingFault& fault) { faults_.add(fault); }

    /// @brief Waits until at least @p count messages arrived; false on timeout.
    bool wait_messages(std::size_t count, std::chrono::milliseconds timeout = kWait) const {
        return messages_.wait_count(count, timeout);
    }
    /// @brief Waits until at least @p count faults arrived; false on timeout.
    bool wait_faults(std::size_t count, std::chrono::milliseconds timeout = kWait) const {
        return faults_.wait_count(count, timeout);
    }
    /// @brief The messages so far, as (msg, topic).
    std::vector<std::pair<fedbiomed::Json, std::string>> messages() const {
        std::vector<std::pair<fedbiomed::Json, std::string>> copy;
        for (auto& received : messages_.events()) {
            copy.emplace_back(std::move(received.msg), std::move(received.topic));
        }
        return copy;
    }
    /// @brief The faults so far.
    std::vector<fedbiomed::MessagingFault> faults() const { return faults_.events(); }

private:
    EventRecorder<ReceivedMessage> messages_;
    EventRecorder<fedbiomed::MessagingFault> faults_;
};

}  // namespace fbm_test

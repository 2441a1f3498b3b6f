#include "delivery.hpp"

#include <utility>
#include <vector>

#include <mqtt/token.h>

namespace fedbiomed {

void Delivery::Shared::complete(State outcome, std::string why) noexcept {
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (state != State::pending) {
            return;
        }
        state = outcome;
        error = std::move(why);
    }
    done.notify_all();
}

Delivery::Delivery() : shared_(std::make_shared<Shared>()) {
    shared_->state = State::failed;
    shared_->error = std::string(error_text(ErrorNumbers::FB103)) + ": no publication";
}

Delivery::Delivery(std::shared_ptr<Shared> shared) noexcept : shared_(std::move(shared)) {}

Delivery::State Delivery::state() const noexcept {
    if (!shared_) {
        return State::failed;
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->state;
}

bool Delivery::wait_for(std::chrono::milliseconds timeout) const noexcept {
    if (!shared_) {
        return true;
    }
    std::unique_lock<std::mutex> lock(shared_->mutex);
    return shared_->done.wait_for(lock, timeout, [this] { return shared_->state != State::pending; });
}

std::string Delivery::error() const {
    if (!shared_) {
        return std::string(error_text(ErrorNumbers::FB103)) + ": no publication";
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->error;
}

namespace detail {
namespace {

void* context_of(std::uint64_t id) noexcept {
    return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
}

std::uint64_t id_of(void* context) noexcept {
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(context));
}

}  // namespace

Delivery failed_delivery(std::string error) {
    auto shared = std::make_shared<Delivery::Shared>();
    shared->state = Delivery::State::failed;
    shared->error = std::move(error);
    return Delivery(std::move(shared));
}

void* PendingPublications::add(std::shared_ptr<Delivery::Shared> shared, Kind kind) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::uint64_t id = next_id_++;
    entries_.emplace(id, Entry{std::move(shared), kind, nullptr});
    return context_of(id);
}

void PendingPublications::attach(void* context, mqtt::delivery_token_ptr token) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = entries_.find(id_of(context));
    if (found != entries_.end()) {
        found->second.token = std::move(token);
    } else {
        spare_tokens_.push_back(std::move(token));
    }
}

void PendingPublications::release_tokens() noexcept {
    std::vector<mqtt::delivery_token_ptr> spare;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        spare.swap(spare_tokens_);
        for (auto& [id, entry] : entries_) {
            (void)id;
            entry.token.reset();
        }
    }
}

void PendingPublications::cancel(void* context, const std::string& error) noexcept {
    finish(id_of(context), false, error, false);
}

void PendingPublications::finish(std::uint64_t id, bool ok, const std::string& error,
                                 bool on_paho_thread) noexcept {
    Entry entry;
    std::vector<mqtt::delivery_token_ptr> spare;
    bool now_empty = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (on_paho_thread) {
            spare.swap(spare_tokens_);  // released here, on Paho's thread (see attach())
        }
        const auto found = entries_.find(id);
        if (found == entries_.end()) {
            return;  // already failed by fail_all() (stop or connection loss)
        }
        entry = std::move(found->second);
        entries_.erase(found);
        now_empty = entries_.empty();
    }
    finish_entry(entry, ok, error);
    if (now_empty) {
        empty_.notify_all();
    }
}

void PendingPublications::finish_entry(Entry& entry, bool ok, const std::string& error) noexcept {
    if (entry.kind == Kind::log) {
        Counters::bump(ok ? counters_.logs_forwarded : counters_.logs_dropped);
        return;
    }
    Counters::bump(ok ? counters_.published : counters_.publish_failures);
    if (entry.shared) {
        entry.shared->complete(ok ? Delivery::State::delivered : Delivery::State::failed,
                               ok ? std::string() : error);
    }
}

std::size_t PendingPublications::fail_all(const std::string& error) noexcept {
    std::unordered_map<std::uint64_t, Entry> taken;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        taken.swap(entries_);
        for (auto& [id, entry] : taken) {
            (void)id;
            if (entry.token) {
                spare_tokens_.push_back(std::move(entry.token));  // Paho may still hold it
            }
        }
    }
    for (auto& [id, entry] : taken) {
        (void)id;
        finish_entry(entry, false, error);
    }
    empty_.notify_all();
    return taken.size();
}

bool PendingPublications::wait_empty(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mutex_);
    return empty_.wait_for(lock, timeout, [this] { return entries_.empty(); });
}

std::size_t PendingPublications::size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

void PendingPublications::on_success(const mqtt::token& token) {
    try {
        finish(id_of(token.get_user_context()), true, {}, true);
    } catch (...) {
        // Nothing may escape into Paho.
    }
}

void PendingPublications::on_failure(const mqtt::token& token) {
    try {
        const int rc = token.get_return_code();
        std::string why = std::string(error_text(ErrorNumbers::FB103)) +
                          ": the broker did not accept the publication (MQTT client error " +
                          std::to_string(rc);
        const char* text = MQTTAsync_strerror(rc);
        if (text != nullptr) {
            why += ": ";
            why += text;
        }
        why += ")";
        finish(id_of(token.get_user_context()), false, why, true);
    } catch (...) {
        // Nothing may escape into Paho.
    }
}

}  // namespace detail
}  // namespace fedbiomed

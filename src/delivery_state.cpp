#include "delivery_state.hpp"

#include <algorithm>
#include <utility>

#include "error_text.hpp"

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

void Delivery::Shared::expect(std::vector<std::string> receivers) {
    std::lock_guard<std::mutex> lock(mutex);
    expected = std::move(receivers);
}

bool Delivery::Shared::acknowledge(const std::string& receiver) {
    std::lock_guard<std::mutex> lock(mutex);
    if (std::find(acknowledged_by.begin(), acknowledged_by.end(), receiver) != acknowledged_by.end()) {
        return false;
    }
    if (!expected.empty() && std::find(expected.begin(), expected.end(), receiver) == expected.end()) {
        return false;  // not one it was meant for (a node that came online later): not its business
    }
    acknowledged_by.push_back(receiver);
    return true;
}

bool Delivery::Shared::expects_receivers() const {
    std::lock_guard<std::mutex> lock(mutex);
    return !expected.empty();
}

bool Delivery::Shared::all_acknowledged() const {
    std::lock_guard<std::mutex> lock(mutex);
    return expected.empty() ? !acknowledged_by.empty() : acknowledged_by.size() >= expected.size();
}

std::vector<std::string> Delivery::Shared::missing() const {
    std::lock_guard<std::mutex> lock(mutex);
    std::vector<std::string> left;
    for (const auto& receiver : expected) {
        if (std::find(acknowledged_by.begin(), acknowledged_by.end(), receiver) == acknowledged_by.end()) {
            left.push_back(receiver);
        }
    }
    return left;
}

std::string Delivery::Shared::missing_text(std::size_t max) const {
    const std::vector<std::string> left = missing();
    std::string text;
    for (std::size_t i = 0; i < left.size() && i < max; ++i) {
        text += (i == 0 ? "" : ", ") + left[i];
    }
    if (left.size() > max) {
        text += " and " + std::to_string(left.size() - max) + " more";
    }
    return text;
}

Delivery::Delivery() : shared_(std::make_shared<Shared>()) {
    shared_->state = State::failed;
    shared_->error = detail::with_code(ErrorNumbers::FB103, "no publication");
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
        return detail::with_code(ErrorNumbers::FB103, "no publication");
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->error;
}

std::vector<std::string> Delivery::acknowledged_by() const {
    if (!shared_) {
        return {};
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->acknowledged_by;
}

std::vector<std::string> Delivery::not_acknowledged_by() const {
    return shared_ ? shared_->missing() : std::vector<std::string>();
}

namespace detail {

Delivery failed_delivery(std::string error) {
    auto shared = std::make_shared<Delivery::Shared>();
    shared->state = Delivery::State::failed;
    shared->error = std::move(error);
    return Delivery(std::move(shared));
}

}  // namespace detail
}  // namespace fedbiomed

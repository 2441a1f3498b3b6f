#include "delivery_state.hpp"

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

namespace detail {

Delivery failed_delivery(std::string error) {
    auto shared = std::make_shared<Delivery::Shared>();
    shared->state = Delivery::State::failed;
    shared->error = std::move(error);
    return Delivery(std::move(shared));
}

}  // namespace detail
}  // namespace fedbiomed

#include "client_thread_hold.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace fedbiomed::detail {
namespace {

struct HoldState {
    std::mutex mutex;
    std::condition_variable changed;
    // Sequentially consistent: a hold that begins and a Use that begins always see each other (one of
    // them reads the other's increment), so a hold never waits for a thread that waits for Paho's mutex.
    std::atomic<int> holders{0};
    std::atomic<int> brief_uses{0};
    std::atomic<int> handshakes{0};
};

HoldState& state() {
    // Never destroyed: Paho's threads may still call in while the process exits.
    static HoldState* const instance = new HoldState;
    return *instance;
}

void notify_holders(HoldState& hold) noexcept {
    if (hold.holders.load() == 0) {
        return;
    }
    try {
        { const std::lock_guard<std::mutex> lock(hold.mutex); }
    } catch (...) {
    }
    hold.changed.notify_all();
}

}  // namespace

ClientThreadHold::Use::Use(Kind kind) noexcept : kind_(kind) {
    HoldState& hold = state();
    (kind_ == Kind::brief ? hold.brief_uses : hold.handshakes).fetch_add(1);
    notify_holders(hold);
}

ClientThreadHold::Use::~Use() {
    HoldState& hold = state();
    (kind_ == Kind::brief ? hold.brief_uses : hold.handshakes).fetch_sub(1);
}

ClientThreadHold::Outcome ClientThreadHold::hold(Clock::time_point deadline,
                                                 const std::function<bool()>& ready) noexcept {
    HoldState& hold = state();
    try {
        std::unique_lock<std::mutex> lock(hold.mutex);
        hold.holders.fetch_add(1);
        struct Leave {
            std::atomic<int>& holders;
            ~Leave() { holders.fetch_sub(1); }
        } leave{hold.holders};
        for (;;) {
            if (hold.handshakes.load() != 0) {
                return Outcome::handshake;
            }
            if (hold.brief_uses.load() != 0) {
                return Outcome::yielded;
            }
            if (ready()) {
                return Outcome::ready;
            }
            if (hold.changed.wait_until(lock, deadline) == std::cv_status::timeout) {
                return ready() ? Outcome::ready : Outcome::timed_out;
            }
        }
    } catch (...) {
        return Outcome::timed_out;  // a lock that cannot be taken: do not hold
    }
}

void ClientThreadHold::wake() noexcept {
    notify_holders(state());
}

bool ClientThreadHold::holding() noexcept {
    return state().holders.load() != 0;
}

}  // namespace fedbiomed::detail

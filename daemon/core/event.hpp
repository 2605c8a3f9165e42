// A condition for coroutines on one executor: waiters park until notify()
// or their deadline, then re-check whatever they wait for. Single-threaded
// by design (everything runs on the daemon's io_context); the waiter list
// is shared so a waiter may outlive the Event that woke it.
#pragma once

#include "proto/asio.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

namespace earshot::core {

class Event {
public:
    explicit Event(asio::any_io_executor ex) : ex_(std::move(ex)), waiters_(std::make_shared<Waiters>()) {}
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    // Wakes every waiter parked on the event when it dies.
    ~Event() { notify(); }

    // Wakes every parked waiter.
    void notify() {
        for (auto* t : *waiters_) t->cancel();
    }

    // Parks until notify() or `deadline`, whichever comes first.
    awaitable<void> wait_until(std::chrono::steady_clock::time_point deadline) {
        auto waiters = waiters_;
        asio::steady_timer timer(ex_, deadline);
        waiters->push_back(&timer);
        struct Unpark {
            std::shared_ptr<Waiters> w;
            asio::steady_timer* t;
            ~Unpark() { std::erase(*w, t); }
        } unpark{waiters, &timer};
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    awaitable<void> wait_for(std::chrono::steady_clock::duration d) {
        co_await wait_until(std::chrono::steady_clock::now() + d);
    }

private:
    using Waiters = std::vector<asio::steady_timer*>;
    asio::any_io_executor ex_;
    std::shared_ptr<Waiters> waiters_;
};

} // namespace earshot::core

// Waiting for another process to get somewhere, without fixed sleeps.
#pragma once

#include <chrono>
#include <thread>

namespace earshot::test {

// Polls until pred() holds or the deadline passes; returns whether it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return pred();
}

} // namespace earshot::test

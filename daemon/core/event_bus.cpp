#include "daemon/core/event_bus.hpp"

#include "daemon/core/event.hpp"

namespace earshot::core {
namespace {

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace

namespace events {

const char* kind_of(const Event& e) {
    return std::visit([](const auto& ev) { return std::decay_t<decltype(ev)>::kind; }, e);
}

nlohmann::json fields_of(const Event& e) {
    return std::visit(
        [](const auto& ev) -> nlohmann::json {
            using T = std::decay_t<decltype(ev)>;
            if constexpr (std::is_same_v<T, events::ScanProgress>)
                return {{"phase", ev.phase},
                        {"files_done", ev.files_done},
                        {"files_total", ev.files_total},
                        {"fingerprints_done", ev.fingerprints_done},
                        {"fingerprints_total", ev.fingerprints_total}};
            else if constexpr (std::is_same_v<T, events::ScanFinished>)
                return {{"scans_completed", ev.scans_completed},
                        {"metadata_ms", ev.metadata_ms},
                        {"content_ms", ev.content_ms}};
            else if constexpr (std::is_same_v<T, events::LinkUp>)
                return {{"peer_id", ev.peer_id}, {"name", ev.name}, {"address", ev.address}};
            else if constexpr (std::is_same_v<T, events::LinkDown>)
                return {{"peer_id", ev.peer_id}, {"name", ev.name}};
            else if constexpr (std::is_same_v<T, events::PeerPaired>)
                return {{"peer_id", ev.peer_id}, {"name", ev.name}, {"role", ev.role}};
            else if constexpr (std::is_same_v<T, events::PeerRemoved>)
                return {{"peer_id", ev.peer_id}, {"name", ev.name}};
            else
                return {{"sid", ev.sid},
                        {"chunks_held", ev.chunks_held},
                        {"chunks_total", ev.chunks_total},
                        {"complete", ev.complete}};
        },
        e);
}

} // namespace events

// Shared with the notifications posted to the executor, so one that runs
// after the bus is gone finds the waiters gone too instead of a dangling bus.
struct EventBus::Shared {
    explicit Shared(asio::any_io_executor ex) : arrived(std::move(ex)) {}
    mutable std::mutex mutex; // guards ring and next_seq: publishers are on any thread
    std::deque<EventRecord> ring;
    std::uint64_t next_seq = 1;
    core::Event arrived; // io thread only
};

EventBus::EventBus(asio::any_io_executor ex, std::size_t capacity)
    : ex_(ex), capacity_(capacity), shared_(std::make_shared<Shared>(ex)) {}

EventBus::~EventBus() = default;

std::uint64_t EventBus::publish(events::Event e) {
    std::uint64_t seq = 0;
    {
        std::lock_guard lock(shared_->mutex);
        seq = shared_->next_seq++;
        shared_->ring.push_back(EventRecord{seq, unix_ms_now(), std::move(e)});
        while (shared_->ring.size() > capacity_) shared_->ring.pop_front();
    }
    asio::post(ex_, [weak = std::weak_ptr<Shared>(shared_)] {
        if (auto s = weak.lock()) s->arrived.notify();
    });
    return seq;
}

EventBatch EventBus::since(std::uint64_t after) const {
    std::lock_guard lock(shared_->mutex);
    EventBatch batch;
    batch.last_seq = shared_->next_seq - 1;
    if (after > batch.last_seq) after = batch.last_seq; // a reader from an earlier run of the daemon
    const std::uint64_t oldest = shared_->ring.empty() ? shared_->next_seq : shared_->ring.front().seq;
    if (after + 1 < oldest) batch.missed = oldest - after - 1;
    for (const auto& r : shared_->ring)
        if (r.seq > after) batch.records.push_back(r);
    return batch;
}

std::uint64_t EventBus::last_seq() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->next_seq - 1;
}

awaitable<EventBatch> EventBus::next(std::uint64_t after, std::chrono::milliseconds wait) {
    auto shared = shared_;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        auto batch = since(after);
        if (!batch.records.empty() || batch.missed > 0 || std::chrono::steady_clock::now() >= deadline)
            co_return batch;
        co_await shared->arrived.wait_until(deadline);
    }
}

} // namespace earshot::core

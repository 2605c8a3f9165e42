// The daemon's one channel of typed events (in the spirit of libtorrent's
// alerts and Syncthing's events): scan progress, links up and down, pairing,
// pins. Publishers call publish() from any thread; readers (the HTTP
// /api/v1/events stream, and later metrics and the web page) ask for what
// came after the last sequence number they saw, on the io thread.
//
// The bus keeps the last `capacity` events in a ring: a reader that falls
// further behind is told how many it missed instead of holding memory, so a
// stalled client costs the daemon nothing.
#pragma once

#include "proto/asio.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <variant>
#include <vector>

namespace earshot::core {

namespace events {

struct ScanProgress {
    static constexpr const char* kind = "scan_progress";
    std::string phase; // walking | metadata | fingerprints
    std::uint64_t files_done = 0, files_total = 0;
    std::uint64_t fingerprints_done = 0, fingerprints_total = 0;
};
struct ScanFinished {
    static constexpr const char* kind = "scan_finished";
    std::uint64_t scans_completed = 0;
    double metadata_ms = 0, content_ms = 0;
};
struct LinkUp {
    static constexpr const char* kind = "link_up";
    std::string peer_id, name, address;
};
struct LinkDown {
    static constexpr const char* kind = "link_down";
    std::string peer_id, name;
};
struct PeerPaired {
    static constexpr const char* kind = "peer_paired";
    std::string peer_id, name, role;
};
struct PeerRemoved {
    static constexpr const char* kind = "peer_removed";
    std::string peer_id, name;
};
struct PinProgress {
    static constexpr const char* kind = "pin_progress";
    std::string sid;
    std::uint64_t chunks_held = 0, chunks_total = 0;
    bool complete = false;
};

using Event = std::variant<ScanProgress, ScanFinished, LinkUp, LinkDown, PeerPaired, PeerRemoved, PinProgress>;

// The event's name ("link_up") and its fields as JSON.
const char* kind_of(const Event& e);
nlohmann::json fields_of(const Event& e);

} // namespace events

struct EventRecord {
    std::uint64_t seq = 0; // 1, 2, ... in publication order
    std::int64_t unix_ms = 0;
    events::Event event;
};

struct EventBatch {
    std::uint64_t missed = 0; // events after `after` that fell out of the ring
    std::vector<EventRecord> records;
    std::uint64_t last_seq = 0; // the newest sequence number at the time of asking
};

class EventBus {
public:
    static constexpr std::size_t default_capacity = 1024;

    EventBus(asio::any_io_executor ex, std::size_t capacity = default_capacity);
    ~EventBus();
    EventBus(const EventBus&) = delete;
    EventBus& operator=(const EventBus&) = delete;

    // Any thread. Returns the event's sequence number.
    std::uint64_t publish(events::Event e);
    // The events after sequence number `after` (0: all still held), waiting
    // up to `wait` for the first one; an empty batch when none came. On the
    // bus's executor.
    awaitable<EventBatch> next(std::uint64_t after, std::chrono::milliseconds wait);
    // Without waiting; any thread.
    EventBatch since(std::uint64_t after) const;
    std::uint64_t last_seq() const;

private:
    struct Shared;
    asio::any_io_executor ex_;
    std::size_t capacity_;
    std::shared_ptr<Shared> shared_;
};

} // namespace earshot::core

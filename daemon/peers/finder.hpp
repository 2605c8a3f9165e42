// "Where can I reach peer X?" as one small interface. The dialler asks it
// whenever it has no link to a paired peer; each way of finding a peer is an
// implementation: the addresses in the roster (what the user typed, where
// the last link was), LAN discovery's sightings, and later the DHT (a
// `dht::Finder` that looks the peer's BEP 44 record up). The dialler does
// not know which kinds exist: PeerService composes them into one Finders.
//
// Threads: the io thread, like PeerManager.
#pragma once

#include "daemon/peers/roster.hpp"
#include "proto/asio.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace earshot::peers {

// An address to dial and which finder said so ("configured", "last-known",
// "lan"; the DHT will add "dht"), shown in /api/v1/peers as found_via.
struct Candidate {
    std::string address; // "host:port", as split_host_port reads it
    std::string via;
    bool operator==(const Candidate&) const = default;
};

class Finder {
public:
    virtual ~Finder() = default;
    // Where `peer` may be reached, best first; empty if this finder knows of
    // nowhere. Never throws for "not found": a finder that fails (a DHT
    // lookup timing out) returns what it has. `peer` outlives the call.
    virtual awaitable<std::vector<Candidate>> find(const PeerRecord& peer) = 0;
};

// The addresses the roster holds for a peer: what the user typed
// (PeerRecord::address, "configured") and where its last link was
// (PeerRecord::last_address, "last-known"). Either may be chosen alone, so
// the composite can rank a fresh LAN sighting between the two.
class RosterFinder final : public Finder {
public:
    enum class Which { configured, last_known, both };
    explicit RosterFinder(Which which = Which::both) : which_(which) {}
    awaitable<std::vector<Candidate>> find(const PeerRecord& peer) override;

private:
    Which which_;
};

// The latest LAN address of each key that discovery saw ("lan"). Sightings
// of keys not paired yet are kept too: pairing a daemon the LAN already
// announced dials it at once instead of waiting for its next announcement.
class SightingFinder final : public Finder {
public:
    // A flood of announcements from fresh keys must not grow memory without
    // bound: beyond `capacity` keys the one sighted longest ago is forgotten.
    static constexpr std::size_t default_capacity = 1024;
    explicit SightingFinder(std::size_t capacity = default_capacity) : capacity_(capacity) {}

    // Records a sighting; true if it is news for `key` (a first sighting or
    // a new address), i.e. worth waking the dialler for.
    bool sighted(const proto::PublicKey& key, const asio::ip::tcp::endpoint& where);
    std::optional<asio::ip::tcp::endpoint> last(const proto::PublicKey& key) const;
    std::size_t size() const { return seen_.size(); }

    awaitable<std::vector<Candidate>> find(const PeerRecord& peer) override;

private:
    struct Seen {
        asio::ip::tcp::endpoint where;
        std::uint64_t order = 0; // when it was last sighted, as a count of sightings
    };
    std::size_t capacity_;
    std::uint64_t next_order_ = 0;
    std::map<proto::PublicKey, Seen> seen_;
};

// Asks each finder in turn, in order of preference, and merges what they
// say: an address given by two finders is kept once, where the first put it
// (with its `via`). In turn rather than at once because today's finders
// answer from memory; a slow one (the DHT) should answer from its own cache
// and refresh in the background, so one lookup never holds up the LAN.
// Holds references: the finders outlive it (they are members of the same
// owner, PeerService).
class Finders final : public Finder {
public:
    Finders() = default;
    Finders(std::initializer_list<std::reference_wrapper<Finder>> finders) : finders_(finders) {}
    void add(Finder& f) { finders_.push_back(f); }
    awaitable<std::vector<Candidate>> find(const PeerRecord& peer) override;

private:
    std::vector<std::reference_wrapper<Finder>> finders_;
};

// Keeps `a` and appends what `b` adds, dropping addresses already present.
void merge_candidates(std::vector<Candidate>& a, std::span<const Candidate> b);

// Per-address exponential backoff for one peer, without a clock of its own
// (the caller passes `now`), so a test can step time by hand. Each address
// backs off on its own: a dead configured address does not delay a live
// LAN address found later.
class AddressBackoff {
public:
    using Clock = std::chrono::steady_clock;
    // At least a millisecond: a zero delay would have the dial loop spin on
    // an address that is refused at once.
    AddressBackoff(std::chrono::milliseconds first, std::chrono::milliseconds max)
        : first_(std::max(first, std::chrono::milliseconds(1))), max_(std::max(max, first_)) {}

    // The first candidate (in their order) that may be tried at `now`.
    std::optional<std::size_t> pick(std::span<const Candidate> candidates, Clock::time_point now) const;
    // When `address` may be tried next; time_point{} (the clock's epoch,
    // before any `now`) if at once.
    Clock::time_point next_try(const std::string& address) const;
    // The earliest next_try among `candidates` (nullopt if there are none).
    std::optional<Clock::time_point> earliest(std::span<const Candidate> candidates) const;

    // The dial failed at `now`: wait first, then twice as long, up to max.
    void failed(const std::string& address, Clock::time_point now);
    // A link came up over it: it starts afresh.
    void succeeded(const std::string& address);
    // Forgets addresses that are no longer candidates (bounded memory; an
    // address that returns starts afresh).
    void retain(std::span<const Candidate> candidates);
    std::size_t failures(const std::string& address) const;

private:
    struct State {
        std::size_t failures = 0;
        std::chrono::milliseconds delay{0};
        Clock::time_point next{};
    };
    std::chrono::milliseconds first_, max_;
    std::map<std::string, State, std::less<>> state_;
};

} // namespace earshot::peers

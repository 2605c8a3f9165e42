// What earshot keeps in the DHT (proto/DHT.md): for every paired peer one
// BEP 44 item that only that peer can find and open, saying where this
// daemon can be reached; and the lookups of the items our peers keep for us,
// as one more peers::Finder ("dht").
//
// Cost: puts and lookups grow with the number of paired peers, never with
// the library. A peer is put for when the endpoints change, at each epoch
// (hour) after a delay of its own, and halfway through it; it is looked up
// only while the dialler asks for it (no link), at most once a
// `lookup_interval` (less often while it stays unfound), and the dialler's
// questions are answered from the last lookup at once: a DHT round trip
// never holds up the LAN's or the roster's answers.
//
// Threads: the io thread.
#pragma once

#include "daemon/dht/node.hpp"
#include "daemon/peers/finder.hpp"
#include "daemon/peers/identity.hpp"
#include "daemon/peers/roster.hpp"
#include "proto/presence.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace earshot::dht {

struct PresenceOptions {
    // Between lookups of a peer the dialler keeps asking for; doubled after
    // each that found nothing new, up to lookup_max_interval.
    std::chrono::seconds lookup_interval{30};
    std::chrono::seconds lookup_max_interval{900};
    std::chrono::milliseconds get_timeout{8000};
    // A lookup that found nothing tries again after this, then twice as
    // long, until lookup_interval.
    std::chrono::milliseconds retry_first{2000};
    std::chrono::milliseconds put_timeout{20000};
    // How often the publisher looks at its schedule (and at the roster).
    std::chrono::milliseconds tick{2000};
};

class Presence final : public peers::Finder {
public:
    // Unix seconds: the epochs follow the wall clock (a test may step it).
    using WallClock = std::function<std::uint64_t()>;
    // Where this daemon can be reached right now, best first.
    using Endpoints = std::function<std::vector<proto::presence::Endpoint>()>;

    Presence(asio::io_context& io, Node& node, const peers::Identity& me, const peers::Roster& roster,
             Endpoints endpoints, PresenceOptions options = {}, WallClock clock = {});
    ~Presence() override;
    Presence(const Presence&) = delete;
    Presence& operator=(const Presence&) = delete;

    void start();
    void stop();
    // The endpoints changed (a port mapped, a new external address): every
    // peer's item is put again at the next tick.
    void republish();

    // peers::Finder
    awaitable<std::vector<peers::Candidate>> find(const peers::PeerRecord& peer) override;
    // Called (on the io thread) when a lookup found endpoints that are news
    // for that peer: the dialler should ask again.
    std::function<void(const proto::PublicKey&)> on_found;
    // Whether the dialler still wants a peer (no link up): lookups for a
    // linked peer stop. Unset: always.
    std::function<bool(const proto::PublicKey&)> still_wanted;

    // Per-daemon figures for /api/v1/status: items put, lookups made.
    nlohmann::json status() const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

// The presence endpoint as an address a dialler takes ("1.2.3.4:5", "[::1]:5").
std::string to_address(const proto::presence::Endpoint&);

} // namespace earshot::dht

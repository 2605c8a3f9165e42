// Peers as the daemon runs them: the roster of paired own devices and
// friends with its pairing rules, the manager that keeps a link to each, the
// finders that tell it where a peer is (the roster's addresses, LAN
// discovery's sightings), and every live link as a resolver source (its
// results adopted into our recording ids by the caller's hook). The pairing
// API (/api/v1/peers, `earshot device|friend`) is answered here.
//
// Threads: the io thread.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/core/event_bus.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/peers/discovery.hpp"
#include "daemon/peers/finder.hpp"
#include "daemon/peers/identity.hpp"
#include "daemon/peers/manager.hpp"
#include "daemon/peers/roster.hpp"
#include "resolver/pipeline.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace earshot::peers {

struct PeerServiceOptions {
    ManagerOptions manager;             // listen address, our name, timeouts
    bool discovery = true;              // LAN multicast
    std::uint16_t discovery_port = 60212;
    std::vector<std::string> libraries; // what a friend's --share may name
    // The source name of this daemon's pins, which no peer may take (nor
    // this daemon's own name, manager.name).
    std::string pins_source = "pinned";
};

class PeerService final : public http::PeerControl {
public:
    // A peer's result entry, made ours: its recording id, and whatever the
    // rest of the daemon remembers of remote content.
    using Adopt = std::function<void(const proto::PublicKey& from, const proto::ResultEntry&, resolver::Result&)>;

    PeerService(asio::io_context& io, const Identity& me, const std::filesystem::path& roster_file, Offering& library,
                core::Blocking& blocking, core::EventBus& events, resolver::Resolver& resolver,
                PeerServiceOptions options, Adopt adopt);
    PeerService(const PeerService&) = delete;
    PeerService& operator=(const PeerService&) = delete;

    // Binds the peer port (throws std::system_error if it cannot), starts
    // linking and LAN discovery.
    void start();
    void stop();

    PeerManager& manager() { return manager_; }
    const Roster& roster() const { return roster_; }
    // Called after a link came up and its source was registered.
    std::function<void()> on_source_added;
    // One more way to find peers (the DHT's), asked after the others; it
    // outlives this service's links (stop() first).
    void add_finder(Finder& f) { finders_.add(f); }
    // Adds this service's fields to GET /api/v1/status.
    void status_part(nlohmann::json& status) const;

    // http::PeerControl
    nlohmann::json peers() const override;
    nlohmann::json add_peer(const http::PeerSpec&) override;
    bool remove_peer(std::string_view peer_id) override;
    awaitable<void> saved() override { co_await roster_.saved(); }

private:
    void link_up(const std::shared_ptr<Link>&);
    void link_down(const std::shared_ptr<Link>&);
    // Validates a pairing request into a roster record (std::invalid_argument).
    PeerRecord record_of(const http::PeerSpec&) const;

    asio::io_context& io_;
    const Identity& me_;
    core::EventBus& events_;
    resolver::Resolver& resolver_;
    PeerServiceOptions options_;
    Adopt adopt_;
    Roster roster_;
    // Where to reach a peer, best first: the address the user typed, where
    // the LAN last saw it, where the last link was. The DHT's finder goes
    // after the LAN's (a LAN address is nearer than a global one).
    RosterFinder configured_{RosterFinder::Which::configured};
    SightingFinder sightings_;
    RosterFinder last_known_{RosterFinder::Which::last_known};
    Finders finders_{configured_, sightings_, last_known_};
    PeerManager manager_;
    std::unique_ptr<LanDiscovery> discovery_;
    bool started_ = false;
    // The links' resolver sources look links up here; a query still running
    // when this service is gone sees the token expired and ends.
    std::shared_ptr<const int> alive_ = std::make_shared<const int>(0);
};

// How a peer is named as a source in results: its roster name, else the
// start of its peer id.
std::string source_name(const PeerRecord&);

} // namespace earshot::peers

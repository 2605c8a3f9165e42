// The DHT as the daemon runs it: the engine (dht::Node), what is published
// in it and looked up through it for paired peers (dht::Presence, one more
// peers::Finder), and where this daemon can be reached, which is what gets
// published: the peer listener's addresses, what DHT nodes see of us, and
// the ports the home router mapped. Nothing here depends on the library:
// the cost grows with the paired peers only.
//
// Threads: the io thread (libtorrent's own thread stays inside Node).
#pragma once

#include "daemon/dht/node.hpp"
#include "daemon/dht/presence.hpp"
#include "daemon/peers/peer_service.hpp"

#include <nlohmann/json.hpp>

namespace earshot::dht {

struct DhtServiceOptions {
    NodeOptions node; // node.peer_port is filled in at start()
    PresenceOptions presence;
};

// The public mainline routers a node joins through by default.
std::vector<std::string> default_bootstrap();

class DhtService {
public:
    DhtService(asio::io_context& io, const peers::Identity& me, peers::PeerService& peers, DhtServiceOptions options);
    ~DhtService();
    DhtService(const DhtService&) = delete;
    DhtService& operator=(const DhtService&) = delete;

    // After PeerService::start() (the peer port is published).
    void start();
    void stop();
    // Adds "dht" (and "reachable") to GET /api/v1/status.
    void status_part(nlohmann::json& status) const;

    // Where this daemon can be reached now, best first (what is published).
    std::vector<proto::presence::Endpoint> endpoints() const;

private:
    asio::io_context& io_;
    const peers::Identity& me_;
    peers::PeerService& peers_;
    DhtServiceOptions options_;
    std::unique_ptr<Node> node_;
    std::unique_ptr<Presence> presence_;
    bool started_ = false;
};

// How a reader should treat an address (DHT.md's endpoint kinds): private,
// loopback and link-local ones are "lan", others "direct".
proto::presence::EndpointKind kind_of(const asio::ip::address&);

} // namespace earshot::dht

// The mainline DHT (BEP 5) with BEP 44 mutable items, as the daemon uses it:
// libtorrent-rasterbar as a DHT-only engine (no torrents, no peer protocol of
// its own). Other parts see two awaitable calls, get and put of one item, and
// a status; what they put there is proto/DHT.md's business (dht::Presence).
//
// Ports: libtorrent opens a TCP socket beside the UDP one on every port it
// listens on (2.0.8, whatever the settings; docs/toolchain-notes.md), so the
// DHT cannot take the UDP side of the peer port while our peer listener holds
// its TCP side. It listens on its own port (by default the peer port + 1);
// its TCP socket takes no connections of ours. With port mapping on,
// libtorrent's UPnP-IGD and NAT-PMP clients map that port and, through
// add_port_mapping, the peer port.
//
// Threads: libtorrent runs its own network thread. Its alerts are drained on
// the io thread (set_alert_notify posts there), where every awaiting
// coroutine and all state of this class live. put()'s signing callback runs
// on libtorrent's thread and touches only what it captured.
#pragma once

#include "proto/asio.hpp"
#include "proto/bytes.hpp"
#include "proto/presence.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace earshot::dht {

struct NodeOptions {
    // Literal "IP:PORT" listen addresses (libtorrent does not resolve names
    // here); port 0 lets the system choose.
    std::vector<std::string> listen;
    std::vector<std::string> bootstrap; // "host:port" routers or nodes to join through
    // Many nodes on one address and private ranges, as a private test DHT on
    // loopback has them. Off on the real DHT, where it would let one host
    // fill our routing table.
    bool allow_local = false;
    // UPnP-IGD and NAT-PMP on the home router, for the DHT port and for
    // `peer_port` (TCP).
    bool port_mapping = true;
    std::uint16_t peer_port = 0;
    // Routing table kept across restarts, so a restart rejoins in seconds.
    std::filesystem::path state_file;
};

// A BEP 44 mutable item as found: its value is the bencoded string's bytes
// (the only form earshot puts).
struct FoundItem {
    std::uint64_t seq = 0;
    proto::Bytes value;
};

// An external address this daemon learnt: what DHT nodes see of it
// ("observed"), or a port mapping the router made ("mapped").
struct ExternalEndpoint {
    asio::ip::address address;
    std::uint16_t port = 0; // 0 for an observed address: our ports go with it
    bool tcp = true;        // mappings: which protocol
    std::string via;        // "observed", "upnp", "natpmp"
    bool operator==(const ExternalEndpoint&) const = default;
};

class Node {
public:
    Node(asio::io_context& io, NodeOptions options);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Starts the engine (throws std::runtime_error if libtorrent refuses the
    // settings). Listening failures are logged and show in status().
    void start();
    // Saves the routing table and stops. Called before the io_context stops.
    void stop();

    // The item under (key, salt) with the highest seq any node returned
    // before the lookup ended or `timeout`; nullopt when none did. With
    // `enough`, the first item it accepts ends the wait: a lookup ends only
    // when every node asked has answered or timed out, and nodes that left
    // (churn) take seconds to time out. The value is not checked here beyond
    // BEP 44's signature, which libtorrent verifies.
    using Enough = std::function<bool(const FoundItem&)>;
    awaitable<std::optional<FoundItem>> get(const proto::PublicKey& key, std::span<const std::uint8_t> salt,
                                            std::chrono::milliseconds timeout, Enough enough = {});
    // Puts `sealed` (as a bencoded string) under keys.item_key/keys.salt with
    // `seq`, signed with keys.signing_seed. Returns how many nodes stored it
    // (0: none, or no answer within `timeout`).
    awaitable<int> put(const proto::presence::ItemKeys& keys, std::uint64_t seq, proto::Bytes sealed,
                       std::chrono::milliseconds timeout);

    // Routing-table size, listen ports, external endpoints, mappings.
    nlohmann::json status() const;
    std::size_t routing_nodes() const;
    std::vector<ExternalEndpoint> external() const;
    // The UDP port the DHT listens on (0 until it does).
    std::uint16_t port() const;
    // Called on the io thread whenever external() changed.
    void on_external_changed(std::function<void()> fn);

    // Packets and bytes sent and received, for the traffic figures.
    struct Traffic {
        std::uint64_t packets_out = 0, bytes_out = 0, packets_in = 0, bytes_in = 0;
    };
    Traffic traffic() const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

} // namespace earshot::dht

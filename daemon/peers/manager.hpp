// Keeps a link to every paired peer that can be reached: accepts on the
// peer port (strangers are refused inside the handshake), dials the
// addresses a Finder gives (configured, discovered, last-known; later the
// DHT's) with exponential backoff per address, and keeps exactly one link
// per peer when both sides dial at once (the link opened by the peer with
// the smaller key wins, on both ends). How a peer is found is the Finder's
// business (daemon/peers/finder.hpp); look_again() is the push path that
// tells the dialler a finder has news.
#pragma once

#include "daemon/core/event.hpp"
#include "daemon/peers/finder.hpp"
#include "daemon/peers/identity.hpp"
#include "daemon/peers/link.hpp"
#include "daemon/peers/roster.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace earshot::peers {

struct ManagerOptions {
    asio::ip::tcp::endpoint listen{asio::ip::address_v4::any(), 60211};
    std::string name; // ours, sent in Hello
    std::chrono::milliseconds handshake_timeout{10000};
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds first_backoff{1000};
    std::chrono::milliseconds max_backoff{60000};
    // A peer with no address that is due is asked about again this often
    // (and at once on look_again()): a finder may learn of it any time.
    std::chrono::milliseconds look_again{30000};
};

class PeerManager {
public:
    PeerManager(asio::io_context& io, const Identity& me, Roster& roster, Offering& library, core::Blocking& blocking,
                ManagerOptions options, Finder& finder);
    // Dials only the roster's addresses (configured, then last-known).
    PeerManager(asio::io_context& io, const Identity& me, Roster& roster, Offering& library, core::Blocking& blocking,
                ManagerOptions options);
    ~PeerManager();
    PeerManager(const PeerManager&) = delete;
    PeerManager& operator=(const PeerManager&) = delete;

    // Binds the peer port (throws std::system_error if it cannot), then
    // accepts and dials every paired peer.
    void start();
    void stop();
    asio::ip::tcp::endpoint local_endpoint() const;

    // Links whose Hello arrived.
    std::vector<std::shared_ptr<Link>> links() const;
    std::shared_ptr<Link> link(const proto::PublicKey&) const;

    // The roster gained or changed this peer: dial it (again) now.
    void paired(const PeerRecord&);
    // The peer was removed from the roster: drop its link and stop dialling.
    void unpaired(const proto::PublicKey&);
    // A finder has news of this peer (LAN discovery saw it, later the DHT
    // found it): if it has no link, ask the finders again now.
    void look_again(const proto::PublicKey&);

    // The roster entry plus live state: online, address, latency, last seen,
    // how the link's address was found (found_via) and the finder's
    // candidates with their backoff.
    nlohmann::json describe(const PeerRecord&) const;

    // Notified whenever a link comes up or goes down.
    core::Event& links_changed() { return links_changed_; }
    std::function<void(const std::shared_ptr<Link>&)> on_link_up;
    std::function<void(const std::shared_ptr<Link>&)> on_link_down;

private:
    struct Dialler;
    awaitable<void> accept_loop();
    awaitable<void> handle_inbound(asio::ip::tcp::socket socket);
    awaitable<void> dial_loop(proto::PublicKey key, std::shared_ptr<Dialler> d);
    awaitable<bool> try_dial(const PeerRecord& rec, const Candidate& candidate);
    // Runs a link until it ends; true if it came up (Hello arrived). `via`:
    // how the address was found, or "inbound".
    awaitable<bool> run_link(std::unique_ptr<Channel> channel, PeerRecord rec, std::string address, bool we_dialled,
                             std::string via);
    void ensure_dialler(const proto::PublicKey& key);
    bool accept_peer(const proto::PublicKey& key) const;

    asio::io_context& io_;
    const Identity& me_;
    Roster& roster_;
    Offering& library_;
    core::Blocking& blocking_;
    ManagerOptions options_;
    std::unique_ptr<Finder> own_finder_; // only when constructed without one
    Finder& finder_;
    asio::ip::tcp::acceptor acceptor_;
    bool running_ = false;
    std::shared_ptr<std::size_t> handshaking_ = std::make_shared<std::size_t>(0); // inbound handshakes in progress
    std::map<proto::PublicKey, std::shared_ptr<Link>> links_; // at most one per peer, ready or not
    std::map<proto::PublicKey, std::shared_ptr<Dialler>> diallers_;
    core::Event links_changed_;
};

// "host:port", "[v6]:port"; throws std::invalid_argument.
std::pair<std::string, std::uint16_t> split_host_port(std::string_view text);

} // namespace earshot::peers

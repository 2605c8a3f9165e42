// The daemon, assembled: the composition root. It builds the services from
// the configuration, wires them to each other and owns them; it decides
// nothing itself. The services:
//
//   library::Library     the index, scanner, watcher, catalogue, recording identity
//   resolver::Resolver   the query pipeline over the library, pins and linked peers
//   stream::Streams      the bytes behind a sid: local files, swarms, cache, pins
//   peers::PeerService   roster and pairing rules, links, LAN discovery
//   peers::ServedLibrary what linked peers may see of the library and the pins
//   dht::DhtService      the mainline DHT: presence for paired peers, a finder
//   http::Server         the HTTP modules over the services' narrow interfaces
//
// Threads (docs/architecture.md): one io thread runs the io_context (HTTP,
// peer links, the pipeline, timers); core::Blocking's pool does the file and
// LMDB work those would otherwise block on; the scanner has its own threads.
#pragma once

#include "daemon/config.hpp"
#include "daemon/core/blocking.hpp"
#include "daemon/core/dir_lock.hpp"
#include "daemon/core/event_bus.hpp"
#include "daemon/dht/dht_service.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/http/server.hpp"
#include "daemon/library/library.hpp"
#include "daemon/peers/identity.hpp"
#include "daemon/peers/peer_service.hpp"
#include "daemon/peers/served_library.hpp"
#include "daemon/stream/streams.hpp"
#include "resolver/pipeline.hpp"

#include <memory>

namespace earshot::daemon {

// The resolver source (and result "source") of this daemon's complete pins.
inline constexpr std::string_view pins_source = "pinned";

class App final {
public:
    App(asio::io_context& io, Config config);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    // Loads the catalogue, starts HTTP, the peers, the first scan and the
    // watcher (with --oneshot, only the scan).
    void start();
    void stop();

    library::Library& library() { return library_; }
    resolver::Resolver& resolver() { return resolver_; }
    stream::Streams& streams() { return streams_; }
    peers::PeerService& peers() { return peers_; }
    core::EventBus& events() { return events_; }
    const peers::Identity& identity() const { return identity_; }
    // Only when serving (not --oneshot).
    asio::ip::tcp::endpoint http_endpoint() const { return server_->local_endpoint(); }

private:
    asio::io_context& io_;
    Config config_;
    core::DirLock lock_; // first: nothing below touches the folder before it is ours
    // Before everything that hands it work, so it is destroyed after them.
    core::Blocking blocking_;
    // Before everything that publishes to it.
    core::EventBus events_;
    peers::Identity identity_;
    library::Library library_;
    resolver::Resolver resolver_;
    http::NamedResolver search_;
    stream::Streams streams_;
    peers::ServedLibrary served_;
    peers::PeerService peers_;
    // After peers_, whose finders hold its presence: destroyed first.
    std::unique_ptr<dht::DhtService> dht_;
    std::unique_ptr<http::Server> server_;
};

} // namespace earshot::daemon

// The daemon, assembled. One io_context runs on the main thread and owns all
// networking (HTTP now, peers later), the query pipeline and the inotify
// watcher; the scanner's threads do the CPU and disk work and reach the
// rest only through the LMDB store and the thread-safe catalogue. Nothing
// blocks the io_context for long: resolving is an in-memory index lookup,
// and streaming reads a file with pread in 256 KiB steps.
#pragma once

#include "daemon/config.hpp"
#include "daemon/core/blocking.hpp"
#include "daemon/core/dir_lock.hpp"
#include "daemon/core/event_bus.hpp"
#include "daemon/core/version.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/http/server.hpp"
#include "daemon/index/scanner.hpp"
#include "daemon/index/store.hpp"
#include "daemon/index/watcher.hpp"
#include "daemon/peers/discovery.hpp"
#include "daemon/peers/identity.hpp"
#include "daemon/peers/manager.hpp"
#include "daemon/peers/roster.hpp"
#include "daemon/stream/chunk_cache.hpp"
#include "daemon/stream/pin_source.hpp"
#include "daemon/stream/swarm.hpp"
#include "resolver/catalogue.hpp"
#include "resolver/pipeline.hpp"

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace earshot::daemon {

using core::version;

// The resolver source (and result "source") of this daemon's complete pins.
inline constexpr std::string_view pins_source = "pinned";

class App final : public http::Backend,
                  public http::EventSource,
                  public index::IndexObserver,
                  public peers::Library {
public:
    App(asio::io_context& io, Config config);
    ~App() override;

    // Loads the catalogue, starts HTTP, the first scan and the watcher.
    void start();
    void stop();
    index::Scanner& scanner() { return *scanner_; }
    index::Store& store() { return store_; }
    const peers::Identity& identity() const { return identity_; }
    asio::ip::tcp::endpoint http_endpoint() const { return server_->local_endpoint(); }
    peers::PeerManager* peer_manager() { return peers_.get(); }

    // http::Backend
    std::string name() const override { return config_.name; }
    nlohmann::json status() const override;
    bool request_scan() override { return scanner_->request(); }
    nlohmann::json failures() const override;
    std::optional<nlohmann::json> track_details(std::string_view sid) const override;
    awaitable<std::unique_ptr<http::ByteSource>> open_stream(std::string sid) override;
    resolver::Resolver& resolver() override { return resolver_; }
    nlohmann::json peers() const override;
    nlohmann::json add_peer(const http::PeerSpec&) override;
    bool remove_peer(std::string_view peer_id) override;
    nlohmann::json pins() const override;
    awaitable<nlohmann::json> pin(resolver::Query q, std::string sid) override;
    bool unpin(std::string_view sid) override;

    // peers::Library: what linked peers may see of the index.
    awaitable<std::vector<proto::ResultEntry>> search(peers::PeerRecord who, resolver::Query q) override;
    awaitable<std::optional<peers::ServedContent>> content(peers::PeerRecord who, proto::Hash id) override;
    void content_changed(const std::string& path) override;

    // index::IndexObserver: keeps the catalogue in step with the index.
    void track_updated(const index::Track&) override;
    void track_removed(index::TrackId) override;
    void scan_phase(const index::ScanStatus&) override;

    // http::EventSource: the event channel, for GET /api/v1/events.
    awaitable<http::EventMessages> events_after(std::uint64_t after, std::chrono::milliseconds wait) override;
    core::EventBus& events() { return events_; }

private:
    // What remote results told us about content we do not hold, so a sid
    // can be streamed (size, type) and pinned (tags) later.
    struct RemoteMeta {
        std::uint64_t size = 0;
        std::string mimetype;
        nlohmann::json tags;
        std::set<proto::PublicKey> claimers; // peers whose Results held it: asked first
    };
    void remember_remote(const proto::PublicKey& from, const proto::ResultEntry& e, const std::string& recording);
    void link_up(const std::shared_ptr<peers::Link>&);
    void link_down(const std::shared_ptr<peers::Link>&);
    std::shared_ptr<stream::Swarm> swarm_for(const proto::Hash& id);
    void start_pin_job(const proto::Hash& id);
    awaitable<void> report_scan_progress();
    std::string source_name(const peers::PeerRecord&) const;
    std::vector<index::Track> tracks_for_sid(std::string_view sid) const;
    std::optional<index::Track> playable_track(std::string_view sid) const;
    std::vector<proto::ResultEntry> search_for_peer(const peers::PeerRecord& who, const resolver::Query& q) const;
    std::optional<peers::ServedContent> content_for_peer(const peers::PeerRecord& who, const proto::Hash& id) const;

    asio::io_context& io_;
    Config config_;
    core::DirLock lock_; // first: nothing below touches the folder before it is ours
    // Before everything that hands it work, so it is destroyed after them.
    core::Blocking blocking_;
    // Before everything that publishes to it.
    core::EventBus events_;
    peers::Identity identity_;
    index::Store store_;
    resolver::Catalogue catalogue_;
    resolver::Resolver resolver_;
    std::unique_ptr<index::Scanner> scanner_;
    std::unique_ptr<index::Watcher> watcher_;
    std::unique_ptr<http::Server> server_;
    peers::Roster roster_;
    std::unique_ptr<stream::ChunkCache> cache_;
    std::shared_ptr<stream::PinSource> pin_source_;
    std::unique_ptr<peers::PeerManager> peers_;
    std::unique_ptr<peers::LanDiscovery> discovery_;
    std::map<proto::Hash, RemoteMeta> remote_;
    std::deque<proto::Hash> remote_order_; // oldest first, to bound remote_
    std::map<proto::Hash, std::weak_ptr<stream::Swarm>> swarms_;
    std::set<proto::Hash> pin_jobs_;
    bool stopped_ = false;
    // MusicBrainz recording id → our recording id, so a peer's encoding of a
    // recording we hold joins ours. Written by the scanner's thread too.
    mutable std::mutex mbid_mutex_;
    std::map<std::string, std::string> recording_by_mbid_;
};

// The local library as a resolver source: an index lookup, then the track
// records for the best matches.
class LocalSource final : public resolver::Source {
public:
    LocalSource(const resolver::Catalogue& catalogue, const index::Store& store, std::string name)
        : catalogue_(catalogue), store_(store), name_(std::move(name)) {}
    std::string name() const override { return name_; }
    awaitable<void> resolve(resolver::Query q, resolver::Emit emit, std::stop_token stop) override;
    std::vector<resolver::Result> lookup(const resolver::Query& q, std::size_t limit = 20) const;

private:
    const resolver::Catalogue& catalogue_;
    const index::Store& store_;
    std::string name_;
};

resolver::Candidate candidate_of(const index::Track&);
std::string sid_of(const index::Track&);
std::string recording_of(const index::Track&);
// The recording id sent to peers: "mb:<MusicBrainz recording id>" when the
// file is tagged with one (the same on every peer), else our own id.
std::string wire_recording_of(const index::Track&);

} // namespace earshot::daemon

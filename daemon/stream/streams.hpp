// Streams: the bytes behind a sid, wherever they are. A local file of the
// library when it has one; otherwise a swarm over the peers that hold it,
// verified chunk by chunk into the chunk cache. Owns the cache, the pins
// (complete verified copies kept past eviction, fetched in the background)
// and their resolver source, and what peers' results told us about content
// we do not hold (size, type, tags and who claimed it), so a sid seen in a
// result can be streamed and pinned later.
//
// Threads: the io thread; file lookups and reads go to the blocking pool.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/core/event_bus.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/library/library.hpp"
#include "daemon/stream/chunk_cache.hpp"
#include "daemon/stream/pin_source.hpp"
#include "daemon/stream/swarm.hpp"
#include "resolver/pipeline.hpp"

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace earshot::stream {

struct StreamsOptions {
    std::filesystem::path cache_dir;
    std::uint64_t cache_bytes = 2ull << 30; // unpinned chunks
    std::string pins_source = "pinned";     // the resolver source name of complete pins
};

class Streams final : public http::PinControl, public http::StreamSource {
public:
    Streams(asio::io_context& io, core::Blocking& blocking, core::EventBus& events, const library::Library& library,
            resolver::Resolver& resolver, StreamsOptions options);
    Streams(const Streams&) = delete;
    Streams& operator=(const Streams&) = delete;

    // Remote content comes from these peers' links. Until called (and with
    // --oneshot), only local files stream.
    void use_peers(peers::PeerManager& peers) { peers_ = &peers; }
    // Resumes the pins a previous run left incomplete.
    void start();

    ChunkCache& cache() { return *cache_; }
    const std::shared_ptr<PinSource>& pin_source() const { return pin_source_; }

    // A peer's result named this content: remembered so its sid can be
    // streamed and pinned later, and the peer is asked for it first.
    void remember_remote(const proto::PublicKey& from, const proto::ResultEntry&, const std::string& recording);
    // A peer came online: pins waiting for a source get one.
    void source_added();

    // http::PinControl
    nlohmann::json pins() const override;
    awaitable<nlohmann::json> pin(resolver::Query q, std::string sid) override;
    awaitable<bool> unpin(std::string sid) override;
    // http::StreamSource
    awaitable<std::unique_ptr<http::ByteSource>> open_stream(std::string sid) override;

private:
    struct RemoteMeta {
        std::uint64_t size = 0;
        std::string mimetype;
        nlohmann::json tags;
        std::set<proto::PublicKey> claimers; // peers whose Results held it: asked first
    };
    std::shared_ptr<Swarm> swarm_for(const proto::Hash& id);
    void start_pin_job(const proto::Hash& id);
    awaitable<std::vector<std::string>> sids_to_pin(resolver::Query q);

    asio::io_context& io_;
    core::Blocking& blocking_;
    core::EventBus& events_;
    const library::Library& library_;
    resolver::Resolver& resolver_;
    StreamsOptions options_;
    std::unique_ptr<ChunkCache> cache_;
    std::shared_ptr<PinSource> pin_source_;
    peers::PeerManager* peers_ = nullptr;
    std::map<proto::Hash, RemoteMeta> remote_;
    std::deque<proto::Hash> remote_order_; // oldest first, to bound remote_
    std::map<proto::Hash, std::weak_ptr<Swarm>> swarms_;
    std::set<proto::Hash> pin_jobs_;
};

} // namespace earshot::stream

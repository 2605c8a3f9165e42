#include "daemon/stream/streams.hpp"

#include "daemon/stream/local_file.hpp"
#include "resolver/normalise.hpp"

#include <spdlog/spdlog.h>

namespace earshot::stream {

Streams::Streams(asio::io_context& io, core::Blocking& blocking, core::EventBus& events,
                 const library::Library& library, resolver::Resolver& resolver, StreamsOptions options)
    : io_(io), blocking_(blocking), events_(events), library_(library), resolver_(resolver),
      options_(std::move(options)) {
    CacheOptions cache_options;
    cache_options.max_bytes = options_.cache_bytes;
    cache_ = std::make_unique<ChunkCache>(options_.cache_dir, cache_options);
    pin_source_ = std::make_shared<PinSource>(*cache_, options_.pins_source);
}

void Streams::start() { source_added(); }

void Streams::source_added() {
    for (const auto& p : cache_->pins())
        if (!p.complete()) start_pin_job(p.content);
}

void Streams::remember_remote(const proto::PublicKey& from, const proto::ResultEntry& e, const std::string& recording) {
    constexpr std::size_t max_remembered = 50'000;
    auto [it, fresh] = remote_.try_emplace(e.content_id);
    auto& meta = it->second;
    meta.size = e.size;
    meta.mimetype = e.mimetype;
    meta.tags = {{"artist", resolver::join_artists(e.artists)},
                 {"artists", e.artists},
                 {"track", e.track},
                 {"album", e.album},
                 {"mimetype", e.mimetype},
                 {"size", e.size},
                 {"duration", e.duration_ms / 1000.0},
                 {"recording", recording}};
    meta.claimers.insert(from);
    if (auto live = swarms_.find(e.content_id); live != swarms_.end())
        if (auto swarm = live->second.lock()) swarm->claimed_by(from);
    if (!fresh) return;
    remote_order_.push_back(e.content_id);
    if (remote_order_.size() > max_remembered) {
        remote_.erase(remote_order_.front());
        remote_order_.pop_front();
    }
}

std::shared_ptr<Swarm> Streams::swarm_for(const proto::Hash& id) {
    if (auto it = swarms_.find(id); it != swarms_.end())
        if (auto live = it->second.lock()) return live;
    std::erase_if(swarms_, [](const auto& kv) { return kv.second.expired(); });
    auto swarm = std::make_shared<Swarm>(io_.get_executor(), *peers_, *cache_, blocking_, id);
    if (auto meta = remote_.find(id); meta != remote_.end())
        for (const auto& key : meta->second.claimers) swarm->claimed_by(key);
    swarms_[id] = swarm;
    return swarm;
}

awaitable<std::unique_ptr<http::ByteSource>> Streams::open_stream(std::string sid) {
    // The index read and stat() run on the pool: a hung mount answers late
    // for its own files only.
    auto find_local = [this, sid] { return library_.playable_track(sid); };
    const auto local = co_await blocking_.run(std::move(find_local));
    if (local) {
        std::unique_ptr<http::ByteSource> file;
        try {
            file = co_await LocalFile::open(blocking_, local->path, local->mimetype);
        } catch (const std::system_error& e) {
            spdlog::warn("cannot open indexed file {}: {}", local->path, e.what());
        }
        if (file) co_return file;
    }
    // Not here (or not any more): a remote copy, verified chunk by chunk.
    const auto id = proto::hash_from_hex(sid);
    if (!id || !peers_) co_return nullptr;
    auto swarm = swarm_for(*id);
    const auto meta = remote_.find(*id);
    std::string mimetype = meta != remote_.end() ? meta->second.mimetype : std::string();
    if (mimetype.empty())
        if (const auto pinned = cache_->pin_meta(*id)) mimetype = pinned->value("mimetype", "");
    if (!swarm->size()) {
        // Never heard of it and nobody to ask: a 404, not a 20 s wait.
        if (meta == remote_.end() && peers_->links().empty()) co_return nullptr;
        try {
            co_await swarm->open();
        } catch (const std::exception& e) {
            spdlog::info("cannot stream {}: {}", sid, e.what());
            co_return nullptr;
        }
    }
    co_return std::make_unique<RemoteStream>(swarm, *swarm->size(), mimetype);
}

nlohmann::json Streams::pins() const {
    auto list = nlohmann::json::array();
    for (const auto& p : cache_->pins()) {
        auto j = p.meta;
        j["sid"] = proto::to_hex(p.content);
        j["size"] = p.size;
        j["chunks_held"] = p.chunks_held;
        j["chunks_total"] = p.chunks_total;
        j["complete"] = p.complete();
        j["downloading"] = pin_jobs_.contains(p.content);
        list.push_back(std::move(j));
    }
    return {{"pins", std::move(list)}};
}

// The tracks a query finds that are not here already: a track (or free
// text) by score, or every track of an album or artist.
awaitable<std::vector<std::string>> Streams::sids_to_pin(resolver::Query q) {
    const bool collection = q.track.empty() && q.text.empty();
    const auto album = resolver::normalise(q.album), artist = resolver::normalise_artist(q.artist);
    if (collection) q.text = q.artist + " " + q.album;
    const auto qid = resolver_.start(std::move(q));
    const auto snap = co_await resolver_.wait(qid, std::chrono::milliseconds(4000));
    std::vector<std::string> sids;
    if (!snap) co_return sids;
    for (const auto& r : snap->results) {
        if (std::find(r.sources.begin(), r.sources.end(), library_.name()) != r.sources.end()) continue;
        const bool wanted =
            collection ? (album.empty() || resolver::normalise(r.album) == album) &&
                             (artist.empty() || resolver::normalise_artist(r.artist).find(artist) != std::string::npos)
                       : r.score >= 0.8;
        if (wanted) sids.push_back(r.sid);
    }
    co_return sids;
}

awaitable<nlohmann::json> Streams::pin(resolver::Query q, std::string sid) {
    std::vector<std::string> sids;
    if (!sid.empty())
        sids.push_back(sid);
    else
        sids = co_await sids_to_pin(std::move(q));
    auto pinned = nlohmann::json::array();
    auto skipped = nlohmann::json::array();
    for (const auto& s : sids) {
        const auto id = proto::hash_from_hex(s);
        if (!id || !library_.tracks_for_sid(s).empty()) {
            skipped.push_back({{"sid", s}, {"reason", id ? "held locally" : "not a content id"}});
            continue;
        }
        if (!peers_) {
            skipped.push_back({{"sid", s}, {"reason", "no peers in this mode"}});
            continue;
        }
        auto meta = remote_.find(*id);
        auto swarm = swarm_for(*id);
        std::uint64_t size = meta != remote_.end() ? meta->second.size : swarm->size().value_or(0);
        if (meta == remote_.end() && !swarm->size()) {
            try {
                size = co_await swarm->open();
            } catch (const std::exception& e) {
                skipped.push_back({{"sid", s}, {"reason", e.what()}});
                continue;
            }
        }
        // pin.json is written and fsynced: on the pool.
        auto keep = [cache = cache_.get(), id = *id, size,
                     tags = meta != remote_.end() ? meta->second.tags : nlohmann::json::object()] {
            cache->pin(id, size, tags);
        };
        co_await blocking_.run(std::move(keep));
        start_pin_job(*id);
        pinned.push_back(s);
    }
    co_return nlohmann::json{{"pinned", pinned}, {"skipped", skipped}};
}

awaitable<bool> Streams::unpin(std::string sid) {
    const auto id = proto::hash_from_hex(sid);
    if (!id) co_return false;
    auto drop = [cache = cache_.get(), id = *id] { return cache->unpin(id); };
    co_return co_await blocking_.run(std::move(drop));
}

void Streams::start_pin_job(const proto::Hash& id) {
    if (!peers_ || !pin_jobs_.insert(id).second) return;
    auto swarm = swarm_for(id);
    asio::co_spawn(io_, [this, swarm, id]() -> awaitable<void> {
        try {
            // Told at every tenth of the way (and at the end), not per chunk.
            auto progress = [this, id, reported = std::uint64_t{0}](std::uint64_t done, std::uint64_t total) mutable {
                const auto step = std::max<std::uint64_t>(1, total / 10);
                if (done != total && done < reported + step) return;
                reported = done;
                events_.publish(core::events::PinProgress{proto::to_hex(id), done, total, done == total});
            };
            co_await swarm->fetch_all(std::move(progress));
            spdlog::info("pinned copy of {} complete", proto::to_hex(id));
        } catch (const std::exception& e) {
            spdlog::info("pin {} incomplete for now: {}", proto::to_hex(id), e.what());
        }
        pin_jobs_.erase(id);
    }, asio::detached);
}

} // namespace earshot::stream

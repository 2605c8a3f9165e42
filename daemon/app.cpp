#include "daemon/app.hpp"

#include "daemon/core/private_file.hpp"
#include "daemon/http/modules.hpp"
#include "daemon/index/walk.hpp"
#include "daemon/peers/peer_source.hpp"
#include "daemon/stream/local_file.hpp"
#include "resolver/normalise.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <charconv>
#include <fstream>

namespace earshot::daemon {
namespace {

asio::ip::tcp::endpoint parse_endpoint(std::string_view flag, const std::string& text) {
    // "ADDR:PORT", "[v6]:PORT", or ":PORT" for loopback.
    std::string host;
    std::uint16_t port = 0;
    try {
        std::tie(host, port) = peers::split_host_port(text);
    } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string(flag) + ": " + e.what());
    }
    if (host.empty() || host == "localhost") host = "127.0.0.1";
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (ec) throw std::invalid_argument(std::string(flag) + ": '" + host + "' is not an IP address");
    return {addr, port};
}

// Off loopback the API needs a token. If none is configured, one is made
// once and kept (0600) in the data folder, where the owner can read it.
std::string ensure_token(const std::filesystem::path& data_dir) {
    const auto file = data_dir / "api-token";
    if (std::ifstream in(file); in) {
        std::string token;
        std::getline(in, token);
        if (!token.empty()) return token;
    }
    std::array<unsigned char, 24> raw;
    randombytes_buf(raw.data(), raw.size());
    const auto token = proto::to_hex(raw);
    core::write_private_file(file, token + "\n");
    spdlog::info("HTTP API token written to {}", file.string());
    return token;
}


nlohmann::json optional_json(const std::optional<float>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

} // namespace

namespace {
// A track the content pass has not hashed yet is still playable, under a
// sid naming the track instead of its bytes.
constexpr std::string_view unhashed_sid_prefix = "track-";
} // namespace

std::string sid_of(const index::Track& t) {
    return t.has_content() ? proto::to_hex(t.content) : std::string(unhashed_sid_prefix) + std::to_string(t.id);
}

std::string recording_of(const index::Track& t) {
    std::array<std::uint8_t, 8> be;
    for (int i = 0; i < 8; ++i) be[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t.recording >> (56 - 8 * i));
    return proto::to_hex(be);
}

std::string wire_recording_of(const index::Track& t) {
    return t.tags.musicbrainz.recording.empty() ? recording_of(t) : "mb:" + t.tags.musicbrainz.recording;
}

resolver::Candidate candidate_of(const index::Track& t) {
    resolver::Candidate c;
    c.artists = t.tags.artists;
    // The album artist is a second name the track answers to ("Various
    // Artists" compilations aside, it is usually the main artist).
    if (!t.tags.album_artist.empty() &&
        std::find(c.artists.begin(), c.artists.end(), t.tags.album_artist) == c.artists.end() && c.artists.empty())
        c.artists.push_back(t.tags.album_artist);
    c.album = t.tags.album;
    c.title = t.tags.title;
    c.duration_s = t.audio.duration_ms / 1000.0;
    return c;
}

std::vector<resolver::Result> LocalSource::lookup(const resolver::Query& q, std::size_t limit) const {
    const auto matches = catalogue_.search(q, limit);
    std::vector<resolver::Result> out;
    out.reserve(matches.size());
    store_.read([&](const index::ReadTxn& r) {
        for (const auto& m : matches) {
            auto t = r.track(m.key);
            if (!t) continue; // removed since the catalogue saw it
            resolver::Result res;
            res.sid = sid_of(*t);
            res.artist = resolver::join_artists(t->tags.artists);
            res.track = t->tags.title;
            res.album = t->tags.album;
            res.source = name_;
            res.size = t->stamp.size;
            res.bitrate_kbps = t->audio.bitrate_kbps;
            res.duration_s = t->audio.duration_ms / 1000.0;
            res.mimetype = t->mimetype;
            res.score = m.score;
            res.recording = recording_of(*t);
            res.quality = t->quality();
            out.push_back(std::move(res));
        }
        return 0;
    });
    return out;
}

awaitable<void> LocalSource::resolve(resolver::Query q, resolver::Emit emit, std::stop_token) {
    auto results = lookup(q);
    if (!results.empty()) emit(std::move(results));
    co_return;
}

App::App(asio::io_context& io, Config config)
    : io_(io),
      config_(std::move(config)),
      lock_((std::filesystem::create_directories(config_.data_dir), config_.data_dir)),
      events_(io.get_executor()),
      identity_(peers::Identity::load_or_create(config_.data_dir)),
      store_(config_.data_dir / "index"),
      resolver_(io.get_executor(),
                {resolver::SourceSpec{std::make_shared<LocalSource>(catalogue_, store_, config_.name), 1.0,
                                      std::chrono::milliseconds(1000)}}),
      roster_(config_.data_dir / "peers.json") {
    std::filesystem::permissions(config_.data_dir, std::filesystem::perms::owner_all);
    index::ScannerOptions options;
    options.roots = config_.libraries;
    options.threads = config_.threads;
    options.fingerprints = config_.fingerprints;
    scanner_ = std::make_unique<index::Scanner>(store_, options, *this);

    http::ServerOptions http_options;
    http_options.listen = parse_endpoint("--http", config_.http);
    if (!http_options.listen.address().is_loopback())
        http_options.token = config_.token.empty() ? ensure_token(config_.data_dir) : config_.token;
    http_options.sites_file = config_.data_dir / "sites.json";
    if (!config_.oneshot) {
        std::vector<std::unique_ptr<http::Module>> extra;
        extra.push_back(http::events_module(*this));
        server_ = std::make_unique<http::Server>(io_, *this, http_options, std::move(extra));
    }

    stream::CacheOptions cache_options;
    // The read-ahead window of a stream reaches 16 MiB; a smaller cache
    // would evict chunks before the player reads them.
    constexpr std::uint64_t min_cache_mb = 32;
    if (config_.cache_mb < min_cache_mb)
        spdlog::warn("--cache-size {} MiB is below the {} MiB a stream needs; using {} MiB", config_.cache_mb,
                     min_cache_mb, min_cache_mb);
    cache_options.max_bytes = std::max(config_.cache_mb, min_cache_mb) << 20;
    cache_ = std::make_unique<stream::ChunkCache>(config_.data_dir / "cache", cache_options);
    // What was pinned is found with every peer offline.
    pin_source_ = std::make_shared<stream::PinSource>(*cache_, std::string(pins_source));
    resolver_.add_source({pin_source_, 1.0, std::chrono::milliseconds(1000)});
    if (!config_.oneshot) {
        peers::ManagerOptions peer_options;
        peer_options.listen = parse_endpoint("--listen", config_.listen);
        peer_options.name = config_.name;
        peers_ = std::make_unique<peers::PeerManager>(io_, identity_, roster_, *this, blocking_, peer_options);
        peers_->on_link_up = [this](const std::shared_ptr<peers::Link>& l) { link_up(l); };
        peers_->on_link_down = [this](const std::shared_ptr<peers::Link>& l) { link_down(l); };
    }
}

App::~App() { stop(); }

void App::start() {
    const auto started = std::chrono::steady_clock::now();
    std::size_t n = 0;
    store_.read([&](const index::ReadTxn& r) {
        catalogue_.reserve(r.track_count());
        std::lock_guard lock(mbid_mutex_);
        r.for_each_track([&](const index::Track& t) {
            catalogue_.upsert({t.id, candidate_of(t)});
            if (!t.tags.musicbrainz.recording.empty()) recording_by_mbid_[t.tags.musicbrainz.recording] = recording_of(t);
            ++n;
        });
        return 0;
    });
    catalogue_.shrink_to_fit();
    store_.release_mapped_pages();
    spdlog::info("index: {} tracks loaded in {:.0f} ms", n,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    for (const auto& lib : config_.libraries)
        if (!std::filesystem::is_directory(lib)) spdlog::warn("library folder {} is not there (unmounted?)", lib);
    if (server_) {
        server_->start();
        spdlog::info("HTTP API on http://{}", server_->local_endpoint().address().is_v6()
                                                   ? "[" + server_->local_endpoint().address().to_string() + "]:" +
                                                         std::to_string(server_->local_endpoint().port())
                                                   : server_->local_endpoint().address().to_string() + ":" +
                                                         std::to_string(server_->local_endpoint().port()));
    }
    if (server_) asio::co_spawn(io_, report_scan_progress(), asio::detached); // someone may be watching
    if (peers_) {
        peers_->start();
        if (config_.discovery) {
            peers::DiscoveryOptions d;
            d.port = config_.discovery_port;
            // A peer port on loopback can only be reached from this host, so
            // announce it there (several daemons on one machine, tests).
            if (peers_->local_endpoint().address().is_loopback()) d.interface = asio::ip::address_v4::loopback();
            discovery_ = std::make_unique<peers::LanDiscovery>(
                io_, identity_, peers_->local_endpoint().port(), config_.name, d,
                [this](const peers::Sighting& s) { peers_->sighted(s.key, s.endpoint); });
            discovery_->start();
        }
        for (const auto& p : cache_->pins())
            if (!p.complete()) start_pin_job(p.content);
    }
    if (config_.watch && !config_.oneshot) {
        watcher_ = std::make_unique<index::Watcher>(io_, *scanner_, config_.libraries);
        watcher_->start();
    }
    scanner_->request();
}

void App::stop() {
    stopped_ = true;
    if (discovery_) discovery_->stop();
    if (peers_) peers_->stop();
    if (watcher_) watcher_->stop();
    if (server_) server_->stop();
}

void App::track_updated(const index::Track& t) {
    catalogue_.upsert({t.id, candidate_of(t)});
    if (!t.tags.musicbrainz.recording.empty()) {
        std::lock_guard lock(mbid_mutex_);
        recording_by_mbid_[t.tags.musicbrainz.recording] = recording_of(t);
    }
}
void App::track_removed(index::TrackId id) { catalogue_.erase(id); }

void App::scan_phase(const index::ScanStatus& s) {
    if (s.phase == "idle")
        events_.publish(core::events::ScanFinished{s.scans_completed, s.last_metadata_ms, s.last_content_ms});
    else
        events_.publish(core::events::ScanProgress{s.phase, s.files_done, s.files_total, s.fingerprints_done,
                                                   s.fingerprints_total});
}

// Between phase changes a long scan reports how far it got, once a second
// while it moves, so a watcher sees it advance without asking.
awaitable<void> App::report_scan_progress() {
    asio::steady_timer timer(io_);
    index::ScanStatus last;
    for (;;) {
        timer.expires_after(std::chrono::seconds(1));
        boost::system::error_code ec;
        co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
        if (ec || stopped_) co_return;
        const auto s = scanner_->status();
        const bool moved = s.files_done != last.files_done || s.fingerprints_done != last.fingerprints_done;
        if (s.running && s.phase != "idle" && moved)
            events_.publish(core::events::ScanProgress{s.phase, s.files_done, s.files_total, s.fingerprints_done,
                                                       s.fingerprints_total});
        last = s;
    }
}

awaitable<http::EventMessages> App::events_after(std::uint64_t after, std::chrono::milliseconds wait) {
    auto batch = co_await events_.next(after, wait);
    http::EventMessages out;
    out.missed = batch.missed;
    for (auto& r : batch.records)
        out.events.push_back({r.seq, core::events::kind_of(r.event), r.unix_ms, core::events::fields_of(r.event)});
    co_return out;
}

nlohmann::json App::status() const {
    const auto scan = scanner_->status();
    std::size_t tracks = 0, failures = 0;
    store_.read([&](const index::ReadTxn& r) {
        tracks = r.track_count();
        failures = r.failure_count();
        return 0;
    });
    return {
        {"name", config_.name},
        {"version", version},
        {"peer_id", identity_.peer_id()},
        {"peer_port", peers_ ? peers_->local_endpoint().port() : 0},
        {"peers_online", peers_ ? peers_->links().size() : 0},
        {"peers_paired", roster_.list().size()},
        {"tracks", tracks},
        {"libraries", config_.libraries.size()},
        {"scan",
         {{"running", scan.running},
          {"phase", scan.phase},
          {"files_done", scan.files_done},
          {"files_total", scan.files_total},
          {"fingerprints_done", scan.fingerprints_done},
          {"fingerprints_total", scan.fingerprints_total},
          {"errors", failures},
          {"scans_completed", scan.scans_completed},
          {"last_metadata_ms", scan.last_metadata_ms},
          {"last_content_ms", scan.last_content_ms}}},
    };
}

nlohmann::json App::failures() const {
    auto out = nlohmann::json::array();
    store_.read([&](const index::ReadTxn& r) {
        r.for_each_failure([&](const index::Failure& f) {
            out.push_back({{"path", f.path}, {"reason", f.reason}, {"size", f.stamp.size},
                           {"mtime", f.stamp.mtime_ns / 1'000'000'000}});
        });
        // A track whose tags read but whose audio would not decode is playable
        // yet unfingerprinted; the owner should hear about it too.
        r.for_each_track([&](const index::Track& t) {
            if (t.fingerprint == index::FingerprintState::failed)
                out.push_back({{"path", t.path}, {"reason", "indexed without fingerprint: " + t.fingerprint_error},
                               {"size", t.stamp.size}, {"mtime", t.stamp.mtime_ns / 1'000'000'000}});
        });
        return 0;
    });
    return out;
}

std::vector<index::Track> App::tracks_for_sid(std::string_view sid) const {
    return store_.read([&](const index::ReadTxn& r) {
        std::vector<index::Track> out;
        if (sid.starts_with(unhashed_sid_prefix)) {
            index::TrackId id = 0;
            const auto digits = sid.substr(unhashed_sid_prefix.size());
            const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
            if (ec == std::errc{} && end == digits.data() + digits.size())
                if (auto t = r.track(id)) out.push_back(std::move(*t));
        } else if (const auto content = proto::hash_from_hex(sid)) {
            for (auto id : r.tracks_with_content(*content))
                if (auto t = r.track(id)) out.push_back(std::move(*t));
        }
        return out;
    });
}

std::optional<index::Track> App::playable_track(std::string_view sid) const {
    for (auto& t : tracks_for_sid(sid)) {
        // Serve only bytes that are still the indexed ones as far as the
        // stamp can tell; a changed file is rescanned instead.
        if (index::stat_file(t.path) == t.stamp) return std::move(t);
        const auto slash = t.path.rfind('/');
        scanner_->request({t.path.substr(0, slash == std::string::npos ? 0 : slash)});
    }
    return std::nullopt;
}

std::optional<nlohmann::json> App::track_details(std::string_view sid) const {
    // Known but currently not playable still has details.
    auto t = playable_track(sid);
    if (!t) {
        auto all = tracks_for_sid(sid);
        if (all.empty()) return std::nullopt;
        t = std::move(all.front());
    }
    const auto& tags = t->tags;
    const auto& mb = tags.musicbrainz;
    const auto& rg = tags.replaygain;
    return nlohmann::json{
        {"sid", sid_of(*t)},
        {"artists", tags.artists},
        {"artist", resolver::join_artists(tags.artists)},
        {"album_artist", tags.album_artist},
        {"album", tags.album},
        {"track", tags.title},
        {"genre", tags.genre},
        {"track_number", tags.track_number},
        {"disc_number", tags.disc_number},
        {"year", tags.year},
        {"musicbrainz",
         {{"recording", mb.recording}, {"track", mb.track}, {"release", mb.release},
          {"release_group", mb.release_group}, {"artist", mb.artist}, {"album_artist", mb.album_artist}}},
        {"replaygain",
         {{"track_gain", optional_json(rg.track_gain_db)}, {"track_peak", optional_json(rg.track_peak)},
          {"album_gain", optional_json(rg.album_gain_db)}, {"album_peak", optional_json(rg.album_peak)}}},
        {"has_cover", tags.has_cover},
        {"duration", t->audio.duration_ms / 1000.0},
        {"bitrate", t->audio.bitrate_kbps},
        {"sample_rate", t->audio.sample_rate},
        {"channels", t->audio.channels},
        {"format", t->format},
        {"mimetype", t->mimetype},
        {"size", t->stamp.size},
        {"recording", recording_of(*t)},
        {"fingerprint", t->fingerprint == index::FingerprintState::done     ? "done"
                        : t->fingerprint == index::FingerprintState::failed ? "failed"
                                                                            : "pending"},
        {"fingerprint_error", t->fingerprint_error},
        {"source", config_.name},
    };
}

awaitable<std::unique_ptr<http::ByteSource>> App::open_stream(std::string sid) {
    // The index read and stat() run on the pool: a hung mount answers late
    // for its own files only.
    auto find_local = [this, sid] { return playable_track(sid); };
    const auto local = co_await blocking_.run(std::move(find_local));
    if (local) {
        std::unique_ptr<http::ByteSource> file;
        try {
            file = co_await stream::LocalFile::open(blocking_, local->path, local->mimetype);
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
        for (const auto& p : cache_->pins())
            if (p.content == *id) mimetype = p.meta.value("mimetype", "");
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
    co_return std::make_unique<stream::RemoteStream>(swarm, *swarm->size(), mimetype);
}

std::shared_ptr<stream::Swarm> App::swarm_for(const proto::Hash& id) {
    if (auto it = swarms_.find(id); it != swarms_.end())
        if (auto live = it->second.lock()) return live;
    std::erase_if(swarms_, [](const auto& kv) { return kv.second.expired(); });
    auto swarm = std::make_shared<stream::Swarm>(io_.get_executor(), *peers_, *cache_, blocking_, id);
    if (auto meta = remote_.find(id); meta != remote_.end())
        for (const auto& key : meta->second.claimers) swarm->claimed_by(key);
    swarms_[id] = swarm;
    return swarm;
}

// ---- peers ----

std::string App::source_name(const peers::PeerRecord& rec) const {
    return rec.name.empty() ? proto::format_peer_id(rec.key).substr(0, 7) : rec.name;
}

void App::remember_remote(const proto::PublicKey& from, const proto::ResultEntry& e, const std::string& recording) {
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

void App::link_up(const std::shared_ptr<peers::Link>& link) {
    if (peers_->link(link->key()) != link) return; // replaced meanwhile: the current link is the source
    const auto name = source_name(link->record());
    const auto key = link->key();
    auto adopt = [this, key](const proto::ResultEntry& e, resolver::Result& r) {
        // Same bytes as a file of ours: our recording id. Otherwise the
        // peer's id, kept apart from ours and from other peers'.
        const auto local = store_.read([&](const index::ReadTxn& txn) -> std::string {
            for (auto id : txn.tracks_with_content(e.content_id))
                if (auto t = txn.track(id)) return recording_of(*t);
            return {};
        });
        if (!local.empty()) {
            r.recording = local;
        } else if (e.recording.starts_with("mb:")) {
            // A MusicBrainz id means the same recording on every peer; ours
            // if we hold an encoding of it.
            std::lock_guard lock(mbid_mutex_);
            const auto mine = recording_by_mbid_.find(e.recording.substr(3));
            r.recording = mine != recording_by_mbid_.end() ? mine->second : e.recording;
        } else {
            r.recording = proto::format_peer_id(key).substr(0, 7) + ":" + e.recording;
        }
        remember_remote(key, e, r.recording);
    };
    resolver_.remove_source(name);
    resolver_.add_source({std::make_shared<peers::PeerSource>(link, name, std::move(adopt)), 1.0,
                          std::chrono::milliseconds(3000)});
    events_.publish(core::events::LinkUp{proto::format_peer_id(key), link->record().name, link->remote_address()});
    // Pins waiting for a source get one.
    for (const auto& p : cache_->pins())
        if (!p.complete()) start_pin_job(p.content);
}

void App::link_down(const std::shared_ptr<peers::Link>& link) {
    // A link replaced by a newer one (both sides dialled at once) must not
    // take the newer one's source with it.
    if (auto current = peers_->link(link->key()); current && current != link) return;
    resolver_.remove_source(source_name(link->record()));
    events_.publish(core::events::LinkDown{proto::format_peer_id(link->key()), link->record().name});
}

// A peer's query and chunk requests touch the catalogue (its own lock),
// LMDB (read snapshots on any thread) and stat(): all on the pool.
awaitable<std::vector<proto::ResultEntry>> App::search(peers::PeerRecord who, resolver::Query q) {
    auto job = [this, who = std::move(who), q = std::move(q)] { return search_for_peer(who, q); };
    auto entries = co_await blocking_.run(std::move(job));
    co_return entries;
}

awaitable<std::optional<peers::ServedContent>> App::content(peers::PeerRecord who, proto::Hash id) {
    auto job = [this, who = std::move(who), id] { return content_for_peer(who, id); };
    auto found = co_await blocking_.run(std::move(job));
    co_return found;
}

std::vector<proto::ResultEntry> App::search_for_peer(const peers::PeerRecord& who, const resolver::Query& q) const {
    constexpr std::size_t max_answers = 50;
    // Look deeper than we answer: a friend's scope may hide the best matches.
    const auto matches = catalogue_.search(q, who.role == peers::Role::device ? max_answers : 4 * max_answers);
    std::vector<proto::ResultEntry> out;
    store_.read([&](const index::ReadTxn& r) {
        for (const auto& m : matches) {
            if (out.size() >= max_answers) break;
            auto t = r.track(m.key);
            if (!t || !t->has_content() || !who.may_see(t->path)) continue;
            proto::ResultEntry e;
            e.content_id = t->content;
            e.size = t->stamp.size;
            e.artists = t->tags.artists;
            e.track = t->tags.title;
            e.album = t->tags.album;
            e.mimetype = t->mimetype;
            e.bitrate_kbps = t->audio.bitrate_kbps;
            e.duration_ms = t->audio.duration_ms;
            e.score = std::clamp(m.score, 0.0, 1.0);
            e.recording = wire_recording_of(*t);
            e.quality = t->quality();
            out.push_back(std::move(e));
        }
        return 0;
    });
    if (who.role != peers::Role::device) return out;
    // Own devices find this daemon's pins too (and then fetch them from it).
    for (auto& e : pin_source_->entries(q)) {
        if (out.size() >= max_answers) break;
        const auto id = e.content_id;
        if (std::none_of(out.begin(), out.end(), [&](const auto& held) { return held.content_id == id; }))
            out.push_back(std::move(e));
    }
    return out;
}

std::optional<peers::ServedContent> App::content_for_peer(const peers::PeerRecord& who, const proto::Hash& id) const {
    auto indexed = store_.read([&](const index::ReadTxn& r) -> std::optional<peers::ServedContent> {
        for (auto tid : r.tracks_with_content(id)) {
            auto t = r.track(tid);
            if (!t || !who.may_see(t->path) || index::stat_file(t->path) != t->stamp) continue;
            auto leaves = r.leaves(id);
            if (!leaves) continue;
            return peers::ServedContent{t->path, t->stamp.size,
                                        std::make_shared<const std::vector<proto::Hash>>(std::move(*leaves)), {}};
        }
        return std::nullopt;
    });
    if (indexed || who.role != peers::Role::device) return indexed;
    // Own devices also get what this daemon holds of others' content (its
    // pins and cache). Friends do not: what is cached tells what was played.
    auto held = cache_->leaves(id);
    if (!held) return std::nullopt;
    auto* cache = cache_.get();
    return peers::ServedContent{{}, held->first,
                                std::make_shared<const std::vector<proto::Hash>>(std::move(held->second)),
                                [cache, id](std::uint64_t chunk) { return cache->get(id, chunk); }};
}

void App::content_changed(const std::string& path) { scanner_->recheck(path); }

nlohmann::json App::peers() const {
    auto list = nlohmann::json::array();
    for (const auto& rec : roster_.list()) list.push_back(peers_ ? peers_->describe(rec) : peers::to_json(rec));
    return {{"peer_id", identity_.peer_id()}, {"peers", std::move(list)}};
}

nlohmann::json App::add_peer(const http::PeerSpec& spec) {
    auto parsed = proto::parse_peer_id(spec.peer_id);
    if (auto* err = std::get_if<std::string>(&parsed)) throw std::invalid_argument("peer id: " + *err);
    peers::PeerRecord rec;
    rec.key = std::get<proto::PublicKey>(parsed);
    if (rec.key == identity_.public_key()) throw std::invalid_argument("that is this daemon's own peer id");
    const auto role = peers::role_from_string(spec.role);
    if (!role) throw std::invalid_argument("role must be 'device' or 'friend'");
    rec.role = *role;
    rec.name = spec.name.empty() ? proto::format_peer_id(rec.key).substr(0, 7) : spec.name;
    if (rec.name == config_.name) throw std::invalid_argument("'" + rec.name + "' is this daemon's own name");
    if (rec.name == pins_source) throw std::invalid_argument("'" + rec.name + "' names this daemon's pinned tracks");
    for (const auto& other : roster_.list())
        if (other.key != rec.key && other.name == rec.name)
            throw std::invalid_argument("the name '" + rec.name + "' is already used by another peer");
    if (!spec.address.empty()) {
        peers::split_host_port(spec.address); // throws std::invalid_argument
        rec.address = spec.address;
    }
    if (spec.shared) {
        if (rec.role == peers::Role::device)
            throw std::invalid_argument("own devices see the whole library; --share is for friends");
        std::vector<std::string> folders;
        for (auto folder : *spec.shared) {
            folder = std::filesystem::path(folder).lexically_normal().string();
            while (folder.size() > 1 && folder.back() == '/') folder.pop_back();
            const bool in_library = std::any_of(config_.libraries.begin(), config_.libraries.end(), [&](const auto& lib) {
                return folder == lib || (folder.starts_with(lib) && folder[lib.size()] == '/');
            });
            if (!in_library) throw std::invalid_argument("'" + folder + "' is not a library folder or inside one");
            folders.push_back(folder);
        }
        rec.shared = std::move(folders);
    }
    if (auto old = roster_.find(rec.key); old && old->name != rec.name) resolver_.remove_source(source_name(*old));
    roster_.upsert(rec);
    if (peers_) peers_->paired(rec);
    spdlog::info("paired with {} {} ({})", peers::to_string(rec.role), rec.name, proto::format_peer_id(rec.key));
    events_.publish(core::events::PeerPaired{proto::format_peer_id(rec.key), rec.name, std::string(peers::to_string(rec.role))});
    return peers_ ? peers_->describe(*roster_.find(rec.key)) : peers::to_json(rec);
}

bool App::remove_peer(std::string_view peer_id) {
    auto parsed = proto::parse_peer_id(peer_id);
    if (std::holds_alternative<std::string>(parsed)) return false;
    const auto key = std::get<proto::PublicKey>(parsed);
    const auto rec = roster_.find(key);
    if (!rec || !roster_.remove(key)) return false;
    resolver_.remove_source(source_name(*rec));
    if (peers_) peers_->unpaired(key);
    spdlog::info("unpaired {} ({})", rec->name, proto::format_peer_id(key));
    events_.publish(core::events::PeerRemoved{proto::format_peer_id(key), rec->name});
    return true;
}

// ---- pins ----

nlohmann::json App::pins() const {
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

awaitable<nlohmann::json> App::pin(resolver::Query q, std::string sid) {
    std::vector<std::string> sids;
    if (!sid.empty()) {
        sids.push_back(sid);
    } else {
        // The tracks the query finds that are not here already: a track (or
        // free text) by score, or every track of an album or artist.
        const bool collection = q.track.empty() && q.text.empty();
        const auto album = resolver::normalise(q.album), artist = resolver::normalise_artist(q.artist);
        if (collection) q.text = q.artist + " " + q.album;
        const auto qid = resolver_.start(std::move(q));
        const auto snap = co_await resolver_.wait(qid, std::chrono::milliseconds(4000));
        if (snap)
            for (const auto& r : snap->results) {
                if (std::find(r.sources.begin(), r.sources.end(), config_.name) != r.sources.end()) continue;
                const bool wanted = collection ? (album.empty() || resolver::normalise(r.album) == album) &&
                                                     (artist.empty() || resolver::normalise_artist(r.artist).find(artist) !=
                                                                            std::string::npos)
                                               : r.score >= 0.8;
                if (wanted) sids.push_back(r.sid);
            }
    }
    auto pinned = nlohmann::json::array();
    auto skipped = nlohmann::json::array();
    for (const auto& s : sids) {
        const auto id = proto::hash_from_hex(s);
        if (!id || !tracks_for_sid(s).empty()) {
            skipped.push_back({{"sid", s}, {"reason", id ? "held locally" : "not a content id"}});
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
        cache_->pin(*id, size, meta != remote_.end() ? meta->second.tags : nlohmann::json::object());
        start_pin_job(*id);
        pinned.push_back(s);
    }
    co_return nlohmann::json{{"pinned", pinned}, {"skipped", skipped}};
}

bool App::unpin(std::string_view sid) {
    const auto id = proto::hash_from_hex(sid);
    return id && cache_->unpin(*id);
}

void App::start_pin_job(const proto::Hash& id) {
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

} // namespace earshot::daemon

#include "daemon/app.hpp"

#include "daemon/index/walk.hpp"
#include "daemon/stream/local_file.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include <charconv>
#include <fstream>

namespace earshot::daemon {
namespace {

asio::ip::tcp::endpoint parse_endpoint(const std::string& text) {
    // "ADDR:PORT", "[v6]:PORT", or ":PORT" for loopback.
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--http expects ADDR:PORT, got '" + text + "'");
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (host.empty() || host == "localhost") host = "127.0.0.1";
    unsigned long port = 0;
    try {
        std::size_t used = 0;
        port = std::stoul(text.substr(colon + 1), &used);
        if (used != text.size() - colon - 1 || port > 65535) throw std::out_of_range("port");
    } catch (const std::exception&) {
        throw std::invalid_argument("--http: bad port in '" + text + "'");
    }
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (ec) throw std::invalid_argument("--http: '" + host + "' is not an IP address");
    return {addr, static_cast<unsigned short>(port)};
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
    const auto old = ::umask(077);
    {
        std::ofstream out(file, std::ios::trunc);
        out << token << '\n';
    }
    ::umask(old);
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    spdlog::info("HTTP API token written to {}", file.string());
    return token;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
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
            res.artist = join(t->tags.artists, ", ");
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
      identity_((std::filesystem::create_directories(config_.data_dir),
                 peers::Identity::load_or_create(config_.data_dir))),
      store_(config_.data_dir / "index"),
      resolver_(io.get_executor(),
                {resolver::SourceSpec{std::make_shared<LocalSource>(catalogue_, store_, config_.name), 1.0,
                                      std::chrono::milliseconds(1000)}}) {
    std::filesystem::permissions(config_.data_dir, std::filesystem::perms::owner_all);
    index::ScannerOptions options;
    options.roots = config_.libraries;
    options.threads = config_.threads;
    options.fingerprints = config_.fingerprints;
    scanner_ = std::make_unique<index::Scanner>(store_, options, *this);

    http::ServerOptions http_options;
    http_options.listen = parse_endpoint(config_.http);
    if (!http_options.listen.address().is_loopback())
        http_options.token = config_.token.empty() ? ensure_token(config_.data_dir) : config_.token;
    if (!config_.oneshot) server_ = std::make_unique<http::Server>(io_, *this, http_options);
}

App::~App() { stop(); }

void App::start() {
    const auto started = std::chrono::steady_clock::now();
    std::size_t n = 0;
    store_.read([&](const index::ReadTxn& r) {
        catalogue_.reserve(r.track_count());
        r.for_each_track([&](const index::Track& t) {
            catalogue_.upsert({t.id, candidate_of(t)});
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
    if (config_.watch && !config_.oneshot) {
        watcher_ = std::make_unique<index::Watcher>(io_, *scanner_, config_.libraries);
        watcher_->start();
    }
    scanner_->request();
}

void App::stop() {
    if (watcher_) watcher_->stop();
    if (server_) server_->stop();
}

void App::track_updated(const index::Track& t) { catalogue_.upsert({t.id, candidate_of(t)}); }
void App::track_removed(index::TrackId id) { catalogue_.erase(id); }

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
        {"artist", join(tags.artists, ", ")},
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

std::unique_ptr<http::ByteSource> App::open_stream(std::string_view sid) {
    auto t = playable_track(sid);
    if (!t) return nullptr;
    try {
        return std::make_unique<stream::LocalFile>(t->path, t->mimetype);
    } catch (const std::system_error& e) {
        spdlog::warn("cannot open indexed file {}: {}", t->path, e.what());
        return nullptr;
    }
}

} // namespace earshot::daemon

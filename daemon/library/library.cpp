#include "daemon/library/library.hpp"

#include "daemon/core/version.hpp"
#include "daemon/index/walk.hpp"
#include "daemon/library/tracks.hpp"

#include <spdlog/spdlog.h>

namespace earshot::library {

Library::Library(asio::io_context& io, core::Blocking& blocking, const std::filesystem::path& index_dir,
                 core::EventBus& events, LibraryOptions options)
    : io_(io), blocking_(blocking), events_(events), options_(std::move(options)), store_(index_dir) {
    index::ScannerOptions scan;
    scan.roots = options_.roots;
    scan.threads = options_.threads;
    scan.fingerprints = options_.fingerprints;
    scanner_ = std::make_unique<index::Scanner>(store_, scan, *this);
}

Library::~Library() { stop(); }

void Library::start(bool live) {
    const auto started = std::chrono::steady_clock::now();
    std::size_t n = 0;
    store_.read([&](const index::ReadTxn& r) {
        catalogue_.reserve(r.track_count());
        r.for_each_track([&](const index::Track& t) {
            catalogue_.upsert({t.id, candidate_of(t)});
            recordings_.learn(t);
            ++n;
        });
        return 0;
    });
    catalogue_.shrink_to_fit();
    store_.release_mapped_pages();
    spdlog::info("index: {} tracks loaded in {:.0f} ms", n,
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    for (const auto& lib : options_.roots)
        if (!std::filesystem::is_directory(lib)) spdlog::warn("library folder {} is not there (unmounted?)", lib);
    if (live) {
        asio::co_spawn(io_, report_scan_progress(), asio::detached); // someone may be watching
        if (options_.watch) {
            watcher_ = std::make_unique<index::Watcher>(io_, *scanner_, blocking_, options_.roots);
            watcher_->start();
        }
    }
    scanner_->request();
}

void Library::stop() {
    stopped_ = true;
    if (watcher_) watcher_->stop();
}

void Library::track_updated(const index::Track& t) {
    catalogue_.upsert({t.id, candidate_of(t)});
    recordings_.learn(t);
}

void Library::track_removed(index::TrackId id) { catalogue_.erase(id); }

void Library::scan_phase(const index::ScanStatus& s) {
    if (s.phase == "idle")
        events_.publish(core::events::ScanFinished{s.scans_completed, s.last_metadata_ms, s.last_content_ms});
    else
        events_.publish(core::events::ScanProgress{s.phase, s.files_done, s.files_total, s.fingerprints_done,
                                                   s.fingerprints_total});
}

// Between phase changes a long scan reports how far it got, once a second
// while it moves, so a watcher sees it advance without asking.
awaitable<void> Library::report_scan_progress() {
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

nlohmann::json Library::status() const {
    const auto scan = scanner_->status();
    std::size_t tracks = 0, failures = 0;
    store_.read([&](const index::ReadTxn& r) {
        tracks = r.track_count();
        failures = r.failure_count();
        return 0;
    });
    nlohmann::json out{
        {"name", options_.name},
        {"version", core::version},
        {"tracks", tracks},
        {"libraries", options_.roots.size()},
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
    for (const auto& part : status_parts_) part(out);
    return out;
}

// (Each job is named before it is awaited: docs/toolchain-notes.md.)
awaitable<nlohmann::json> Library::failures() {
    auto job = [this] { return failures_now(); };
    auto list = co_await blocking_.run(std::move(job));
    co_return list;
}

awaitable<std::optional<nlohmann::json>> Library::track_details(std::string sid) {
    auto job = [this, sid = std::move(sid)] { return track_details_now(sid); };
    auto details = co_await blocking_.run(std::move(job));
    co_return details;
}

nlohmann::json Library::failures_now() const {
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

std::vector<index::Track> Library::tracks_for_sid(std::string_view sid) const {
    return store_.read([&](const index::ReadTxn& r) { return library::tracks_for_sid(r, sid); });
}

std::optional<index::Track> Library::playable_track(std::string_view sid) const {
    for (auto& t : tracks_for_sid(sid)) {
        // Serve only bytes that are still the indexed ones as far as the
        // stamp can tell; a changed file is rescanned instead.
        if (index::stat_file(t.path) == t.stamp) return std::move(t);
        const auto slash = t.path.rfind('/');
        scanner_->request({t.path.substr(0, slash == std::string::npos ? 0 : slash)});
    }
    return std::nullopt;
}

std::optional<nlohmann::json> Library::track_details_now(std::string_view sid) const {
    // Known but currently not playable still has details.
    auto t = playable_track(sid);
    if (!t) {
        auto all = tracks_for_sid(sid);
        if (all.empty()) return std::nullopt;
        t = std::move(all.front());
    }
    return details_of(*t, options_.name);
}

} // namespace earshot::library

// The library: the index on disk (LMDB), the scanner that fills it, the
// watcher that keeps it current, the in-memory catalogue the resolver
// searches, and recording identity. What the native API shows of the index
// (status, failures, track details) is answered here.
//
// Threads: constructed and driven on the io thread; the scanner's threads
// call the IndexObserver methods (the catalogue and Recordings lock for
// themselves; the event bus is thread-safe).
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/core/event_bus.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/index/scanner.hpp"
#include "daemon/index/store.hpp"
#include "daemon/index/watcher.hpp"
#include "daemon/library/recordings.hpp"
#include "resolver/catalogue.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace earshot::library {

struct LibraryOptions {
    std::string name;                // shown as results' "source"
    std::vector<std::string> roots;  // absolute library folders
    unsigned threads = 0;            // scan workers; 0: one per core
    bool fingerprints = true;
    bool watch = true;               // inotify (needs start(); not for --oneshot)
};

class Library final : public http::LibraryControl, public index::IndexObserver {
public:
    Library(asio::io_context& io, core::Blocking& blocking, const std::filesystem::path& index_dir,
            core::EventBus& events, LibraryOptions options);
    ~Library() override;
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    // Loads the catalogue from the index and starts the first scan; with
    // `live`, also the watcher and the once-a-second progress events.
    void start(bool live);
    void stop();

    const std::string& name() const { return options_.name; }
    const std::vector<std::string>& roots() const { return options_.roots; }
    index::Store& store() { return store_; }
    const index::Store& store() const { return store_; }
    const resolver::Catalogue& catalogue() const { return catalogue_; }
    const Recordings& recordings() const { return recordings_; }
    index::Scanner& scanner() { return *scanner_; }

    // Every file behind a sid; the first of them whose bytes are still the
    // indexed ones (a stat per candidate: call it off the io thread).
    std::vector<index::Track> tracks_for_sid(std::string_view sid) const;
    std::optional<index::Track> playable_track(std::string_view sid) const;
    // A file's bytes changed under a peer's read: rescan it.
    void recheck(const std::string& path) { scanner_->recheck(path); }

    // Parts of GET /api/v1/status owned elsewhere (peers, later the DHT):
    // each adds its fields to the object.
    void add_status_part(std::function<void(nlohmann::json&)> part) { status_parts_.push_back(std::move(part)); }

    // http::LibraryControl
    nlohmann::json status() const override;
    bool request_scan() override { return scanner_->request(); }
    awaitable<nlohmann::json> failures() override;
    awaitable<std::optional<nlohmann::json>> track_details(std::string sid) override;
    // The same, synchronously (what the pool runs).
    nlohmann::json failures_now() const;
    std::optional<nlohmann::json> track_details_now(std::string_view sid) const;

    // index::IndexObserver
    void track_updated(const index::Track&) override;
    void track_removed(index::TrackId) override;
    void scan_phase(const index::ScanStatus&) override;

private:
    awaitable<void> report_scan_progress();

    asio::io_context& io_;
    core::Blocking& blocking_;
    core::EventBus& events_;
    LibraryOptions options_;
    index::Store store_;
    resolver::Catalogue catalogue_;
    Recordings recordings_{store_};
    std::unique_ptr<index::Scanner> scanner_;
    std::unique_ptr<index::Watcher> watcher_;
    std::vector<std::function<void(nlohmann::json&)>> status_parts_;
    bool stopped_ = false;
};

} // namespace earshot::library

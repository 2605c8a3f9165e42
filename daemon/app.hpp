// The daemon, assembled. One io_context runs on the main thread and owns all
// networking (HTTP now, peers later), the query pipeline and the inotify
// watcher; the scanner's threads do the CPU and disk work and reach the
// rest only through the LMDB store and the thread-safe catalogue. Nothing
// blocks the io_context for long: resolving is an in-memory index lookup,
// and streaming reads a file with pread in 256 KiB steps.
#pragma once

#include "daemon/config.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/http/server.hpp"
#include "daemon/index/scanner.hpp"
#include "daemon/index/store.hpp"
#include "daemon/index/watcher.hpp"
#include "daemon/peers/identity.hpp"
#include "resolver/catalogue.hpp"
#include "resolver/pipeline.hpp"

#include <memory>

namespace earshot::daemon {

inline constexpr std::string_view version = "0.1.0";

class App final : public http::Backend, public index::IndexObserver {
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

    // http::Backend
    std::string name() const override { return config_.name; }
    nlohmann::json status() const override;
    bool request_scan() override { return scanner_->request(); }
    nlohmann::json failures() const override;
    std::optional<nlohmann::json> track_details(std::string_view sid) const override;
    std::unique_ptr<http::ByteSource> open_stream(std::string_view sid) override;
    resolver::Resolver& resolver() override { return resolver_; }

    // index::IndexObserver: keeps the catalogue in step with the index.
    void track_updated(const index::Track&) override;
    void track_removed(index::TrackId) override;

private:
    std::vector<index::Track> tracks_for_sid(std::string_view sid) const;
    std::optional<index::Track> playable_track(std::string_view sid) const;

    asio::io_context& io_;
    Config config_;
    peers::Identity identity_;
    index::Store store_;
    resolver::Catalogue catalogue_;
    resolver::Resolver resolver_;
    std::unique_ptr<index::Scanner> scanner_;
    std::unique_ptr<index::Watcher> watcher_;
    std::unique_ptr<http::Server> server_;
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

} // namespace earshot::daemon

#include "daemon/app.hpp"

#include "daemon/core/endpoint.hpp"
#include "daemon/core/private_file.hpp"
#include "daemon/http/modules.hpp"
#include "daemon/library/local_source.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

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

// Makes the data folder (owner only) before anything opens a file in it.
const std::filesystem::path& private_folder(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
    return dir;
}

library::LibraryOptions library_options(const Config& c) {
    return {c.name, c.libraries, c.threads, c.fingerprints, c.watch};
}

stream::StreamsOptions streams_options(const Config& c) {
    // The read-ahead window of a stream reaches 16 MiB; a smaller cache
    // would evict chunks before the player reads them.
    constexpr std::uint64_t min_cache_mb = 32;
    if (c.cache_mb < min_cache_mb)
        spdlog::warn("--cache-size {} MiB is below the {} MiB a stream needs; using {} MiB", c.cache_mb, min_cache_mb,
                     min_cache_mb);
    return {c.data_dir / "cache", std::max(c.cache_mb, min_cache_mb) << 20, std::string(pins_source)};
}

peers::PeerServiceOptions peer_options(const Config& c) {
    peers::PeerServiceOptions o;
    o.manager.listen = parse_endpoint("--listen", c.listen);
    o.manager.name = c.name;
    o.discovery = c.discovery;
    o.discovery_port = c.discovery_port;
    o.libraries = c.libraries;
    o.pins_source = pins_source;
    return o;
}

dht::DhtServiceOptions dht_options(const Config& c) {
    dht::DhtServiceOptions o;
    // Checked here so a typo fails at start-up; libtorrent wants literal IPs.
    const auto listen = parse_endpoint("--dht-listen", c.dht_listen);
    o.node.listen = {listen.address().is_v6() ? "[" + listen.address().to_string() + "]:" + std::to_string(listen.port())
                                              : listen.address().to_string() + ":" + std::to_string(listen.port())};
    o.node.bootstrap = c.dht_bootstrap.empty() ? dht::default_bootstrap() : c.dht_bootstrap;
    o.node.allow_local = c.dht_allow_local;
    o.node.port_mapping = c.port_mapping;
    o.node.state_file = c.data_dir / "dht-state";
    return o;
}

} // namespace

App::App(asio::io_context& io, Config config)
    : io_(io),
      config_(std::move(config)),
      lock_(private_folder(config_.data_dir)),
      events_(io.get_executor()),
      identity_(peers::Identity::load_or_create(config_.data_dir)),
      library_(io, blocking_, config_.data_dir / "index", events_, library_options(config_)),
      resolver_(io.get_executor(),
                {resolver::SourceSpec{std::make_shared<library::LocalSource>(library_.catalogue(), library_.store(),
                                                                             config_.name),
                                      1.0, std::chrono::milliseconds(1000)}}),
      search_(config_.name, resolver_),
      streams_(io, blocking_, events_, library_, resolver_, streams_options(config_)),
      served_(library_, blocking_, streams_.cache(), *streams_.pin_source()),
      peers_(io, identity_, config_.data_dir / "peers.json", served_, blocking_, events_, resolver_,
             peer_options(config_),
             [this](const proto::PublicKey& from, const proto::ResultEntry& e, resolver::Result& r) {
                 r.recording = library_.recordings().adopt(from, e);
                 streams_.remember_remote(from, e, r.recording);
             }) {
    // What was pinned is found with every peer offline.
    resolver_.add_source({streams_.pin_source(), 1.0, std::chrono::milliseconds(1000)});
    library_.add_status_part([this](nlohmann::json& s) { peers_.status_part(s); });
    if (config_.oneshot) return;
    if (config_.dht) dht_ = std::make_unique<dht::DhtService>(io_, identity_, peers_, dht_options(config_));
    library_.add_status_part([this](nlohmann::json& s) {
        if (dht_)
            dht_->status_part(s);
        else
            s["dht"] = {{"running", false}};
    });
    streams_.use_peers(peers_.manager());
    peers_.on_source_added = [this] { streams_.source_added(); };

    http::ServerOptions http_options;
    http_options.listen = parse_endpoint("--http", config_.http);
    if (!http_options.listen.address().is_loopback())
        http_options.token = config_.token.empty() ? ensure_token(config_.data_dir) : config_.token;
    http_options.sites_file = config_.data_dir / "sites.json";
    http_options.blocking = &blocking_;
    std::vector<std::unique_ptr<http::Module>> extra;
    extra.push_back(http::events_module(events_));
    server_ = std::make_unique<http::Server>(io_, http::StandardParts{search_, library_, peers_, streams_, streams_},
                                             http_options, std::move(extra));
}

App::~App() { stop(); }

void App::start() {
    const bool live = !config_.oneshot;
    library_.start(live); // the catalogue is loaded before the first request can arrive
    if (live) {
        server_->start();
        spdlog::info("HTTP API on http://{}", core::format_endpoint(server_->local_endpoint()));
        peers_.start();
        if (dht_) dht_->start();
        streams_.start();
    }
}

void App::stop() {
    if (dht_) dht_->stop();
    peers_.stop();
    library_.stop();
    if (server_) server_->stop();
}

} // namespace earshot::daemon

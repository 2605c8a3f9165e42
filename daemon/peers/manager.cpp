#include "daemon/peers/manager.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace earshot::peers {
namespace {
using Clock = std::chrono::steady_clock;
using asio::ip::tcp;
using namespace std::chrono_literals;

std::string to_string(const tcp::endpoint& ep) {
    const auto a = ep.address().to_string();
    return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}
} // namespace

std::pair<std::string, std::uint16_t> split_host_port(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon + 1 == text.size())
        throw std::invalid_argument("expected HOST:PORT, got '" + std::string(text) + "'");
    std::string host(text.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned long port = 0;
    const auto digits = text.substr(colon + 1);
    for (char c : digits) {
        if (c < '0' || c > '9') throw std::invalid_argument("bad port in '" + std::string(text) + "'");
        port = port * 10 + static_cast<unsigned>(c - '0');
        if (port > 65535) throw std::invalid_argument("port out of range in '" + std::string(text) + "'");
    }
    return {host, static_cast<std::uint16_t>(port)};
}

// One per paired peer: wakes its dial loop when something changes.
struct PeerManager::Dialler {
    explicit Dialler(asio::any_io_executor ex) : wake(ex) {}
    bool active = true;
    std::optional<tcp::endpoint> sighted;
    core::Event wake;
};

PeerManager::PeerManager(asio::io_context& io, const Identity& me, Roster& roster, Library& library,
                         core::Blocking& blocking, ManagerOptions options)
    : io_(io), me_(me), roster_(roster), library_(library), blocking_(blocking), options_(std::move(options)),
      acceptor_(io),
      links_changed_(io.get_executor()) {}

PeerManager::~PeerManager() { stop(); }

void PeerManager::start() {
    try {
        acceptor_.open(options_.listen.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(options_.listen);
        acceptor_.listen();
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen for peers on " + to_string(options_.listen) + ": " +
                                 e.code().message() + " (another earshotd? choose a port with --listen)");
    }
    running_ = true;
    spdlog::info("peer port {}, peer id {}", to_string(acceptor_.local_endpoint()), me_.peer_id());
    asio::co_spawn(io_, accept_loop(), asio::detached);
    for (const auto& rec : roster_.list()) ensure_dialler(rec.key);
}

void PeerManager::stop() {
    if (!running_) return;
    running_ = false;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    for (auto& [key, d] : diallers_) {
        d->active = false;
        d->wake.notify();
    }
    for (auto& [key, link] : links_) link->close("the daemon is stopping");
    roster_.save();
}

tcp::endpoint PeerManager::local_endpoint() const { return acceptor_.local_endpoint(); }

std::vector<std::shared_ptr<Link>> PeerManager::links() const {
    std::vector<std::shared_ptr<Link>> out;
    for (const auto& [key, link] : links_)
        if (link->ready()) out.push_back(link);
    return out;
}

std::shared_ptr<Link> PeerManager::link(const proto::PublicKey& key) const {
    auto it = links_.find(key);
    return it != links_.end() && it->second->ready() ? it->second : nullptr;
}

bool PeerManager::accept_peer(const proto::PublicKey& key) const { return roster_.find(key).has_value(); }

void PeerManager::paired(const PeerRecord& rec) {
    if (auto it = links_.find(rec.key); it != links_.end()) it->second->update_record(rec);
    ensure_dialler(rec.key);
    diallers_[rec.key]->wake.notify();
}

void PeerManager::unpaired(const proto::PublicKey& key) {
    if (auto it = diallers_.find(key); it != diallers_.end()) {
        it->second->active = false;
        it->second->wake.notify();
        diallers_.erase(it);
    }
    if (auto it = links_.find(key); it != links_.end()) it->second->close("no longer paired");
}

void PeerManager::sighted(const proto::PublicKey& key, const tcp::endpoint& where) {
    // Kept for peers not paired yet too: pairing a daemon the LAN already
    // announced dials it at once instead of waiting for its next announcement.
    constexpr std::size_t max_sightings = 1024;
    if (sightings_.size() >= max_sightings && !sightings_.contains(key)) sightings_.erase(sightings_.begin());
    sightings_[key] = where;
    auto it = diallers_.find(key);
    if (it == diallers_.end()) return;
    const bool news = it->second->sighted != where;
    it->second->sighted = where;
    if (news) it->second->wake.notify();
}

void PeerManager::ensure_dialler(const proto::PublicKey& key) {
    if (!running_ || diallers_.contains(key)) return;
    auto d = std::make_shared<Dialler>(io_.get_executor());
    if (auto seen = sightings_.find(key); seen != sightings_.end()) d->sighted = seen->second;
    diallers_[key] = d;
    asio::co_spawn(io_, dial_loop(key, d), asio::detached);
}

awaitable<void> PeerManager::accept_loop() {
    while (running_) {
        boost::system::error_code ec;
        tcp::socket socket = co_await acceptor_.async_accept(asio::redirect_error(use_awaitable, ec));
        if (ec) {
            if (!running_ || ec == asio::error::operation_aborted) co_return;
            spdlog::warn("peer port: accept failed: {}", ec.message());
            continue;
        }
        // Handshakes cost CPU and wait up to handshake_timeout: a flood of
        // connections from strangers must not pile them up without bound.
        constexpr std::size_t max_handshakes = 64;
        if (*handshaking_ >= max_handshakes) {
            spdlog::warn("peer port: {} handshakes in progress; dropping a new connection", *handshaking_);
            continue; // the socket closes as it goes out of scope
        }
        asio::co_spawn(io_, handle_inbound(std::move(socket)), asio::detached);
    }
}

awaitable<void> PeerManager::handle_inbound(tcp::socket socket) {
    boost::system::error_code ec;
    const auto from = socket.remote_endpoint(ec);
    const auto address = ec ? std::string("?") : to_string(from);
    std::unique_ptr<Channel> channel;
    {
        // Shared, not a member reference: the frame may be destroyed with the
        // io_context after the manager is gone.
        struct Done {
            std::shared_ptr<std::size_t> n;
            ~Done() { --*n; }
        } done{handshaking_};
        ++*handshaking_;
        try {
            channel = co_await Channel::accept(
                std::move(socket), me_, [this](const proto::PublicKey& k) { return accept_peer(k); },
                options_.handshake_timeout);
        } catch (const ChannelError& e) {
            spdlog::info("inbound connection from {} refused: {}", address, e.what());
            co_return;
        }
    }
    auto rec = roster_.find(channel->remote_identity());
    if (!rec || !running_) co_return; // unpaired during the handshake
    co_await run_link(std::move(channel), std::move(*rec), address, false);
}

awaitable<void> PeerManager::dial_loop(proto::PublicKey key, std::shared_ptr<Dialler> d) {
    auto backoff = options_.first_backoff;
    while (running_ && d->active) {
        if (links_.contains(key)) {
            co_await d->wake.wait_for(1h); // woken when the link goes down
            continue;
        }
        const auto rec = roster_.find(key);
        if (!rec) co_return;
        // Most specific first: what the user typed, what the LAN just told
        // us, where it was last reached.
        std::vector<std::string> candidates;
        if (!rec->address.empty()) candidates.push_back(rec->address);
        if (d->sighted) candidates.push_back(to_string(*d->sighted));
        if (!rec->last_address.empty()) candidates.push_back(rec->last_address);
        bool linked = false;
        for (const auto& address : candidates) {
            if (!running_ || !d->active || links_.contains(key)) break;
            if (co_await try_dial(*rec, address)) {
                linked = true;
                break;
            }
        }
        if (!running_ || !d->active) co_return;
        if (linked) {
            backoff = options_.first_backoff; // it was up: try again soon after it dropped
            co_await d->wake.wait_for(backoff);
            continue;
        }
        if (candidates.empty()) {
            co_await d->wake.wait_for(1h); // nowhere to dial until an address or a sighting comes
            continue;
        }
        co_await d->wake.wait_for(backoff);
        backoff = std::min(backoff * 2, options_.max_backoff);
    }
}

awaitable<bool> PeerManager::try_dial(const PeerRecord& rec, const std::string& address) {
    auto ex = co_await asio::this_coro::executor;
    tcp::socket socket(ex);
    try {
        const auto [host, port] = split_host_port(address);
        tcp::resolver resolver(ex);
        boost::system::error_code ec;
        const auto endpoints = co_await resolver.async_resolve(host, std::to_string(port),
                                                               asio::redirect_error(use_awaitable, ec));
        if (ec) throw std::runtime_error("cannot resolve " + host + ": " + ec.message());
        // The connect gets its own deadline: a silent address must not hold
        // up the next candidate for the kernel's two minutes.
        asio::steady_timer deadline(ex, options_.connect_timeout);
        bool expired = false;
        deadline.async_wait([&](const boost::system::error_code& e) {
            if (e) return;
            expired = true;
            boost::system::error_code ignored;
            socket.close(ignored);
        });
        co_await asio::async_connect(socket, endpoints, asio::redirect_error(use_awaitable, ec));
        deadline.cancel();
        if (expired) throw std::runtime_error("no answer within " + std::to_string(options_.connect_timeout.count()) + " ms");
        if (ec) throw std::runtime_error(ec.message());
        auto channel = co_await Channel::connect(
            std::move(socket), me_,
            [&rec](const proto::PublicKey& k) { return k == rec.key; }, options_.handshake_timeout);
        // A peer that has not added us takes the handshake and then drops
        // the link: that is a failed dial (backoff), not a link.
        co_return co_await run_link(std::move(channel), rec, address, true);
    } catch (const std::exception& e) {
        spdlog::debug("dialling {} ({}) at {}: {}", rec.name, proto::format_peer_id(rec.key).substr(0, 7), address,
                      e.what());
        co_return false;
    }
}

awaitable<bool> PeerManager::run_link(std::unique_ptr<Channel> channel, PeerRecord rec, std::string address,
                                      bool we_dialled) {
    const auto key = rec.key;
    auto link = std::make_shared<Link>(io_.get_executor(), std::move(channel), std::move(rec), library_, blocking_,
                                       options_.name, address, we_dialled);
    // Both sides may dial at once; each end keeps the link opened by the
    // smaller key, so both keep the same one.
    const auto& preferred = std::min(me_.public_key(), key);
    const auto initiator = [&](const Link& l) { return l.we_dialled() ? me_.public_key() : key; };
    if (auto old = links_.find(key); old != links_.end()) {
        const bool keep_new = initiator(*link) == preferred || initiator(*old->second) != preferred;
        if (keep_new) {
            old->second->close("replaced by a second link");
        } else {
            link->close("a link already exists");
            co_await link->run();
            co_return true;
        }
    }
    links_[key] = link;
    bool was_up = false;
    // A weak reference: the link owning a callback that owns the link would
    // be a cycle that outlives an io_context torn down mid-link.
    link->on_ready([this, weak = std::weak_ptr<Link>(link), &was_up] {
        auto up = weak.lock();
        if (!up) return;
        was_up = true;
        if (on_link_up) on_link_up(up);
        links_changed_.notify();
    });
    co_await link->run();
    link->on_ready(nullptr);
    if (was_up) roster_.seen(key, we_dialled ? address : std::string(), unix_ms_now());
    if (auto it = links_.find(key); it != links_.end() && it->second == link) links_.erase(it);
    if (was_up && on_link_down) on_link_down(link);
    links_changed_.notify();
    if (auto d = diallers_.find(key); d != diallers_.end()) d->second->wake.notify();
    co_return was_up;
}

nlohmann::json PeerManager::describe(const PeerRecord& rec) const {
    auto j = to_json(rec);
    const auto l = link(rec.key);
    j["online"] = l != nullptr;
    if (l) {
        j["connected_address"] = l->remote_address();
        j["direction"] = l->we_dialled() ? "outbound" : "inbound";
        j["remote_name"] = l->hello_name();
        j["latency_ms"] = l->stats().latency_ms ? nlohmann::json(*l->stats().latency_ms) : nlohmann::json(nullptr);
        j["last_seen_ms"] = unix_ms_now();
        j["connected_ms"] = l->stats().connected_ms;
        j["bytes_served"] = l->stats().bytes_served;
        j["bytes_fetched"] = l->stats().bytes_fetched;
    } else {
        j["latency_ms"] = nullptr;
    }
    return j;
}

} // namespace earshot::peers

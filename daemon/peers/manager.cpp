#include "daemon/peers/manager.hpp"

#include "daemon/core/endpoint.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

namespace earshot::peers {
namespace {
using Clock = std::chrono::steady_clock;
using asio::ip::tcp;
using namespace std::chrono_literals;
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

// One per paired peer: its dial loop's state, and the wake-up for it.
struct PeerManager::Dialler {
    Dialler(asio::any_io_executor ex, std::chrono::milliseconds first, std::chrono::milliseconds max)
        : backoff(first, max), wake(ex) {}
    bool active = true;
    // look_again() came while the loop was not parked (asking the finders
    // or dialling), when a notify() would wake no one.
    bool news = false;
    std::vector<Candidate> candidates; // the finders' last answer
    AddressBackoff backoff;
    std::string found_via; // how the current or last link's address was found
    core::Event wake;
};

PeerManager::PeerManager(asio::io_context& io, const Identity& me, Roster& roster, Offering& library,
                         core::Blocking& blocking, ManagerOptions options, Finder& finder)
    : io_(io), me_(me), roster_(roster), library_(library), blocking_(blocking), options_(std::move(options)),
      finder_(finder), acceptor_(io), links_changed_(io.get_executor()) {}

PeerManager::PeerManager(asio::io_context& io, const Identity& me, Roster& roster, Offering& library,
                         core::Blocking& blocking, ManagerOptions options)
    : io_(io), me_(me), roster_(roster), library_(library), blocking_(blocking), options_(std::move(options)),
      own_finder_(std::make_unique<RosterFinder>()), finder_(*own_finder_), acceptor_(io),
      links_changed_(io.get_executor()) {}

PeerManager::~PeerManager() { stop(); }

void PeerManager::start() {
    try {
        acceptor_.open(options_.listen.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(options_.listen);
        acceptor_.listen();
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen for peers on " + core::format_endpoint(options_.listen) + ": " +
                                 e.code().message() + " (another earshotd? choose a port with --listen)");
    }
    running_ = true;
    spdlog::info("peer port {}, peer id {}", core::format_endpoint(acceptor_.local_endpoint()), me_.peer_id());
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
    roster_.save_now();
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

void PeerManager::look_again(const proto::PublicKey& key) {
    auto it = diallers_.find(key);
    if (it == diallers_.end()) return; // not paired (yet): paired() asks the finders anyway
    it->second->news = true;
    it->second->wake.notify();
}

void PeerManager::ensure_dialler(const proto::PublicKey& key) {
    if (!running_ || diallers_.contains(key)) return;
    auto d = std::make_shared<Dialler>(io_.get_executor(), options_.first_backoff, options_.max_backoff);
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
    const auto address = ec ? std::string("?") : core::format_endpoint(from);
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
    co_await run_link(std::move(channel), std::move(*rec), address, false, "inbound");
}

awaitable<void> PeerManager::dial_loop(proto::PublicKey key, std::shared_ptr<Dialler> d) {
    while (running_ && d->active) {
        if (links_.contains(key)) {
            co_await d->wake.wait_for(1h); // woken when the link goes down
            continue;
        }
        const auto rec = roster_.find(key);
        if (!rec) co_return;
        // Asked before every dial: a sighting or a changed address that came
        // during the last attempt is used for the next.
        d->news = false;
        auto found = co_await finder_.find(*rec);
        if (!running_ || !d->active) co_return;
        d->backoff.retain(found);
        d->candidates = std::move(found);
        if (links_.contains(key)) continue; // it dialled us meanwhile
        const auto now = Clock::now();
        if (const auto due = d->backoff.pick(d->candidates, now)) {
            const Candidate candidate = d->candidates[*due]; // a copy: the next answer replaces the list
            const bool linked = co_await try_dial(*rec, candidate);
            if (!running_ || !d->active) co_return;
            if (linked) {
                d->backoff.succeeded(candidate.address);
                co_await d->wake.wait_for(options_.first_backoff); // it was up: dial again soon after it dropped
            } else {
                d->backoff.failed(candidate.address, Clock::now());
            }
            continue; // the next address that is due, at once
        }
        if (d->news) continue;
        // Nothing due: sleep until an address is, but never longer than the
        // look-again period, since a finder may learn of the peer meanwhile
        // (a peer with no address at all is asked about every period, not
        // parked until someone pushes an address).
        auto until = now + options_.look_again;
        if (const auto next = d->backoff.earliest(d->candidates); next && *next < until) until = *next;
        co_await d->wake.wait_until(until);
    }
}

awaitable<bool> PeerManager::try_dial(const PeerRecord& rec, const Candidate& candidate) {
    const auto& address = candidate.address;
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
        const bool up = co_await run_link(std::move(channel), rec, address, true, candidate.via);
        co_return up;
    } catch (const std::exception& e) {
        spdlog::debug("dialling {} ({}) at {} ({}): {}", rec.name, proto::format_peer_id(rec.key).substr(0, 7), address,
                      candidate.via, e.what());
        co_return false;
    }
}

awaitable<bool> PeerManager::run_link(std::unique_ptr<Channel> channel, PeerRecord rec, std::string address,
                                      bool we_dialled, std::string via) {
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
    link->on_ready([this, weak = std::weak_ptr<Link>(link), &was_up, &via, key] {
        auto up = weak.lock();
        if (!up) return;
        was_up = true;
        if (auto d = diallers_.find(key); d != diallers_.end()) d->second->found_via = via;
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
    j["found_via"] = nullptr;
    j["candidates"] = nlohmann::json::array();
    if (auto it = diallers_.find(rec.key); it != diallers_.end()) {
        const auto& d = *it->second;
        if (!d.found_via.empty()) j["found_via"] = d.found_via;
        const auto now = Clock::now();
        for (const auto& c : d.candidates) {
            const auto next = d.backoff.next_try(c.address);
            const auto wait = next <= now ? 0 : std::chrono::ceil<std::chrono::milliseconds>(next - now).count();
            j["candidates"].push_back({{"address", c.address},
                                       {"via", c.via},
                                       {"next_try_in_ms", wait},
                                       {"failures", d.backoff.failures(c.address)}});
        }
    }
    return j;
}

} // namespace earshot::peers

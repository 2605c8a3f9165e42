#include "daemon/dht/presence.hpp"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace earshot::dht {
namespace presence = proto::presence;
using namespace std::chrono_literals;

namespace {

std::uint64_t system_seconds() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

constexpr auto retry_delay = 30s;

std::string short_id(const proto::PublicKey& k) { return proto::format_peer_id(k).substr(0, 8); }

// A peer's own delay after each epoch starts (0–299 s, DHT.md §6.2), fixed by
// its key so the puts of one daemon's pairs spread over five minutes.
std::uint64_t jitter_of(const proto::PublicKey& k) { return (std::uint64_t{k[0]} << 8 | k[1]) % 300; }

// The order a reader tries a record's endpoints in (DHT.md: lan first, then
// mapped, direct, observed).
int rank(presence::EndpointKind k) {
    switch (k) {
    case presence::EndpointKind::lan: return 0;
    case presence::EndpointKind::mapped: return 1;
    case presence::EndpointKind::direct: return 2;
    case presence::EndpointKind::observed: return 3;
    }
    return 4;
}

} // namespace

std::string to_address(const presence::Endpoint& e) {
    if (const auto* v4 = std::get_if<presence::Ipv4>(&e.address))
        return asio::ip::address_v4(*v4).to_string() + ":" + std::to_string(e.port);
    return "[" + asio::ip::address_v6(std::get<presence::Ipv6>(e.address)).to_string() + "]:" + std::to_string(e.port);
}

struct Presence::State : std::enable_shared_from_this<State> {
    State(asio::io_context& io, Node& node, const peers::Identity& me, const peers::Roster& roster, Endpoints endpoints,
          PresenceOptions options, WallClock clock)
        : io(io), node(node), me(me), roster(roster), endpoints(std::move(endpoints)), options(options),
          clock(clock ? std::move(clock) : WallClock(system_seconds)), tick(io) {}

    // What was put for one peer.
    struct Published {
        std::uint64_t epoch = 0;
        std::uint64_t published = 0; // the record's time, its seq
        std::vector<presence::Endpoint> endpoints;
        proto::Bytes sealed; // the value put last: a refresh puts these very bytes
        std::optional<std::uint64_t> refreshed_at; // the halfway re-put of this epoch
        bool putting = false;
        bool stored = false; // some node took the last put
        // After a put no node took (no DHT yet, or none reachable): not before.
        std::chrono::steady_clock::time_point retry_after{};
    };
    // What was found of one peer.
    struct Found {
        std::vector<peers::Candidate> candidates;
        std::uint64_t published = 0;
        std::chrono::steady_clock::time_point looked{};
        bool looking = false;
        // Lookups in a row that found nothing new: the next waits longer (a
        // friend offline for weeks costs a few lookups an hour, not 120).
        unsigned misses = 0;
    };

    asio::io_context& io;
    Node& node;
    const peers::Identity& me;
    const peers::Roster& roster;
    Endpoints endpoints;
    PresenceOptions options;
    WallClock clock;
    asio::steady_timer tick;
    bool running = false;
    bool republish = false;
    std::map<proto::PublicKey, presence::Key> secrets;
    std::map<proto::PublicKey, Published> published;
    std::map<proto::PublicKey, Found> found;
    std::function<void(const proto::PublicKey&)> on_found;
    std::function<bool(const proto::PublicKey&)> wanted;
    std::uint64_t puts = 0, puts_stored = 0, lookups = 0, lookups_found = 0;

    const presence::Key* secret(const proto::PublicKey& peer) {
        if (auto it = secrets.find(peer); it != secrets.end()) return &it->second;
        try {
            return &secrets.emplace(peer, me.pair_secret(peer)).first->second;
        } catch (const std::invalid_argument& e) {
            spdlog::warn("dht: no presence for {}: {}", short_id(peer), e.what());
            return nullptr;
        }
    }

    awaitable<void> publish_loop(std::shared_ptr<State> self);
    // fresh: a new record (new seq); refresh: the last value again, same
    // seq; withdraw: the empty record of an unpaired peer.
    enum class Put { fresh, refresh, withdraw };
    awaitable<void> put_for(std::shared_ptr<State> self, proto::PublicKey peer, presence::Record record, Put kind);
    awaitable<void> lookup(std::shared_ptr<State> self, peers::PeerRecord peer);
};

// Each coroutine holds `self`: the state outlives its suspended steps.
awaitable<void> Presence::State::publish_loop(std::shared_ptr<State> self) {
    while (running) {
        const auto now = clock();
        const auto epoch = presence::epoch_of(now);
        const auto current = endpoints();
        std::set<proto::PublicKey> paired;
        for (const auto& p : roster.list()) {
            paired.insert(p.key);
            auto& pub = published[p.key];
            if (pub.putting || std::chrono::steady_clock::now() < pub.retry_after) continue;
            const auto into_epoch = now % presence::epoch_seconds;
            // Not yet in the DHT (never put, or no node took it) counts as a change.
            const bool changed = republish || !pub.stored || pub.endpoints != current;
            // A new epoch: after this peer's delay, or at once when a whole
            // epoch went by without a put (the daemon was off).
            const bool new_epoch = pub.epoch != epoch && (into_epoch >= jitter_of(p.key) || pub.epoch + 1 < epoch);
            const bool halfway =
                pub.epoch == epoch && !pub.refreshed_at && into_epoch >= presence::epoch_seconds / 2 + jitter_of(p.key);
            if (!(changed || new_epoch || halfway)) continue;
            presence::Record r;
            const bool refresh = halfway && !changed;
            if (refresh) {
                // The same signed item again: it only refreshes the storing
                // nodes' timers against churn (same seq, same value).
                r.published = pub.published;
                pub.refreshed_at = now;
            } else {
                r.published = presence::next_published(now, pub.published);
                // Put after the halfway mark: nothing to refresh this epoch.
                if (into_epoch >= presence::epoch_seconds / 2 + jitter_of(p.key))
                    pub.refreshed_at = now;
                else
                    pub.refreshed_at.reset();
            }
            r.endpoints = current;
            asio::co_spawn(io, put_for(self, p.key, std::move(r), refresh ? Put::refresh : Put::fresh),
                           asio::detached);
        }
        // Unpaired: one last record with nothing in it, then silence (§6.5).
        for (auto it = published.begin(); it != published.end();) {
            if (paired.contains(it->first) || it->second.putting) {
                ++it;
                continue;
            }
            presence::Record r;
            r.published = presence::next_published(now, it->second.published);
            asio::co_spawn(io, put_for(self, it->first, std::move(r), Put::withdraw), asio::detached);
            secrets.erase(it->first);
            found.erase(it->first);
            it = published.erase(it);
        }
        republish = false;
        tick.expires_after(options.tick);
        boost::system::error_code ec;
        co_await tick.async_wait(asio::redirect_error(use_awaitable, ec));
    }
}

awaitable<void> Presence::State::put_for([[maybe_unused]] std::shared_ptr<State> self, proto::PublicKey peer,
                                         presence::Record record, Put kind) {
    const auto* s = secret(peer);
    if (!s) co_return;
    const auto keys = presence::item_keys(*s, me.public_key(), peer, presence::epoch_of(record.published));
    s = nullptr; // the map entry may go while this awaits
    std::optional<proto::Bytes> sealed;
    if (kind == Put::refresh) {
        // The stored value again: storing nodes refuse a different value
        // under the same seq.
        if (auto it = published.find(peer); it != published.end() && !it->second.sealed.empty())
            sealed = it->second.sealed;
    }
    if (!sealed) {
        try {
            sealed = presence::seal(keys, record);
        } catch (const std::invalid_argument& e) {
            spdlog::warn("dht: cannot seal the presence record for {}: {}", short_id(peer), e.what());
        }
    }
    if (kind != Put::withdraw) {
        auto& pub = published[peer];
        pub.putting = true;
        pub.epoch = keys.epoch;
        pub.published = record.published;
        pub.endpoints = record.endpoints;
        if (sealed) pub.sealed = *sealed;
    }
    int stored = 0;
    if (sealed) stored = co_await node.put(keys, record.published, std::move(*sealed), options.put_timeout);
    ++puts;
    if (stored > 0) ++puts_stored;
    spdlog::debug("dht: presence for {} (epoch {}, seq {}, {} endpoints) stored on {} nodes", short_id(peer),
                  keys.epoch, record.published, record.endpoints.size(), stored);
    if (auto it = published.find(peer); it != published.end()) {
        it->second.putting = false;
        it->second.stored = stored > 0;
        // Nobody took it: put again soon rather than in an hour.
        if (stored == 0) it->second.retry_after = std::chrono::steady_clock::now() + retry_delay;
    }
}

awaitable<void> Presence::State::lookup([[maybe_unused]] std::shared_ptr<State> self, peers::PeerRecord peer) {
    const auto* known = secret(peer.key);
    if (!known) {
        found[peer.key].looking = false;
        co_return;
    }
    const auto pair = *known; // the map entry may go while this awaits
    std::optional<presence::Record> best;
    // A peer paired a moment ago may not have put its item yet: look again
    // soon, then less often, while the dialler still wants the peer.
    auto retry = options.retry_first;
    for (;;) {
        ++lookups;
        for (const auto epoch : presence::lookup_epochs(clock())) {
            const auto keys = presence::item_keys(pair, peer.key, me.public_key(), epoch);
            // Every copy found is opened here, once; the first that opens
            // ends the wait: waiting for every node of the lookup to answer
            // costs seconds when some have gone. What does not open (not for
            // us, or damaged: a DHT node may return anything) is dropped.
            auto opened = std::make_shared<std::optional<presence::Record>>();
            auto opens = [keys, opened, who = short_id(peer.key)](const FoundItem& i) {
                try {
                    auto r = presence::open(keys, i.seq, i.value);
                    if (!*opened || r.published > (*opened)->published) *opened = std::move(r);
                    return true;
                } catch (const proto::DecodeError& e) {
                    spdlog::debug("dht: an item at {}'s target does not open: {}", who, e.what());
                    return false;
                }
            };
            co_await node.get(keys.item_key, keys.salt, options.get_timeout, std::move(opens));
            if (*opened && (!best || (*opened)->published > best->published)) best = std::move(*opened);
            if (best) break; // the current epoch's record is the newest there is
        }
        if (best || !running || retry > options.lookup_interval || !roster.find(peer.key) ||
            (wanted && !wanted(peer.key)))
            break;
        asio::steady_timer wait(io, retry);
        boost::system::error_code ec;
        co_await wait.async_wait(asio::redirect_error(use_awaitable, ec));
        retry *= 2;
    }
    if (!running || !found.contains(peer.key)) co_return;
    auto& g = found[peer.key];
    g.looking = false;
    g.looked = std::chrono::steady_clock::now();
    if (!best || best->published <= g.published) {
        ++g.misses;
        co_return;
    }
    g.misses = 0;
    ++lookups_found;
    auto endpoints = best->endpoints;
    std::stable_sort(endpoints.begin(), endpoints.end(),
                     [](const auto& a, const auto& b) { return rank(a.kind) < rank(b.kind); });
    std::vector<peers::Candidate> candidates;
    for (const auto& e : endpoints) candidates.push_back({to_address(e), "dht"});
    const bool news = candidates != g.candidates;
    g.candidates = std::move(candidates);
    g.published = best->published;
    spdlog::info("dht: found {} ({} endpoints, published {})", peer.name, g.candidates.size(), best->published);
    if (news && on_found) on_found(peer.key);
}

Presence::Presence(asio::io_context& io, Node& node, const peers::Identity& me, const peers::Roster& roster,
                   Endpoints endpoints, PresenceOptions options, WallClock clock)
    : state_(std::make_shared<State>(io, node, me, roster, std::move(endpoints), options, std::move(clock))) {}

Presence::~Presence() { stop(); }

void Presence::start() {
    auto& s = *state_;
    if (s.running) return;
    s.running = true;
    s.on_found = [this](const proto::PublicKey& k) {
        if (on_found) on_found(k);
    };
    s.wanted = [this](const proto::PublicKey& k) { return !still_wanted || still_wanted(k); };
    asio::co_spawn(s.io, s.publish_loop(state_), asio::detached);
}

void Presence::stop() {
    auto& s = *state_;
    s.running = false;
    s.on_found = nullptr;
    s.wanted = nullptr;
    s.tick.cancel();
}

void Presence::republish() {
    state_->republish = true;
    state_->tick.cancel();
}

awaitable<std::vector<peers::Candidate>> Presence::find(const peers::PeerRecord& peer) {
    auto& s = *state_;
    auto& f = s.found[peer.key];
    const auto now = std::chrono::steady_clock::now();
    const auto interval = std::min<std::chrono::steady_clock::duration>(
        s.options.lookup_interval * (1u << std::min(f.misses, 5u)), s.options.lookup_max_interval);
    if (s.running && !f.looking && (f.looked == std::chrono::steady_clock::time_point{} || now - f.looked >= interval)) {
        f.looking = true;
        asio::co_spawn(s.io, s.lookup(state_, peer), asio::detached);
    }
    co_return f.candidates;
}

nlohmann::json Presence::status() const {
    const auto& s = *state_;
    return {{"peers_published", s.published.size()},
            {"puts", s.puts},
            {"puts_stored", s.puts_stored},
            {"lookups", s.lookups},
            {"lookups_found", s.lookups_found}};
}

} // namespace earshot::dht

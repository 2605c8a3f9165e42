#include "daemon/peers/finder.hpp"

#include "daemon/core/endpoint.hpp"

#include <algorithm>

namespace earshot::peers {

void merge_candidates(std::vector<Candidate>& a, std::span<const Candidate> b) {
    for (const auto& c : b) {
        if (c.address.empty()) continue;
        const bool known = std::any_of(a.begin(), a.end(), [&](const Candidate& x) { return x.address == c.address; });
        if (!known) a.push_back(c);
    }
}

awaitable<std::vector<Candidate>> RosterFinder::find(const PeerRecord& peer) {
    std::vector<Candidate> out;
    if (which_ != Which::last_known && !peer.address.empty()) out.push_back({peer.address, "configured"});
    if (which_ != Which::configured && !peer.last_address.empty()) out.push_back({peer.last_address, "last-known"});
    co_return out;
}

bool SightingFinder::sighted(const proto::PublicKey& key, const asio::ip::tcp::endpoint& where) {
    if (capacity_ == 0) return false;
    auto it = seen_.find(key);
    if (it == seen_.end() && seen_.size() >= capacity_) {
        // Linear, but only when full, over at most `capacity` entries.
        auto oldest = std::min_element(seen_.begin(), seen_.end(),
                                       [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
        seen_.erase(oldest);
    }
    const bool news = it == seen_.end() || it->second.where != where;
    seen_[key] = Seen{where, next_order_++};
    return news;
}

std::optional<asio::ip::tcp::endpoint> SightingFinder::last(const proto::PublicKey& key) const {
    auto it = seen_.find(key);
    if (it == seen_.end()) return std::nullopt;
    return it->second.where;
}

awaitable<std::vector<Candidate>> SightingFinder::find(const PeerRecord& peer) {
    std::vector<Candidate> out;
    if (auto where = last(peer.key)) out.push_back({core::format_endpoint(*where), "lan"});
    co_return out;
}

awaitable<std::vector<Candidate>> Finders::find(const PeerRecord& peer) {
    std::vector<Candidate> out;
    for (Finder& f : finders_) {
        // Named, not awaited inside an expression (docs/toolchain-notes.md).
        auto found = co_await f.find(peer);
        merge_candidates(out, found);
    }
    co_return out;
}

std::optional<std::size_t> AddressBackoff::pick(std::span<const Candidate> candidates, Clock::time_point now) const {
    for (std::size_t i = 0; i < candidates.size(); ++i)
        if (next_try(candidates[i].address) <= now) return i;
    return std::nullopt;
}

AddressBackoff::Clock::time_point AddressBackoff::next_try(const std::string& address) const {
    auto it = state_.find(address);
    return it == state_.end() ? Clock::time_point{} : it->second.next;
}

std::optional<AddressBackoff::Clock::time_point> AddressBackoff::earliest(std::span<const Candidate> candidates) const {
    std::optional<Clock::time_point> out;
    for (const auto& c : candidates) {
        const auto t = next_try(c.address);
        if (!out || t < *out) out = t;
    }
    return out;
}

void AddressBackoff::failed(const std::string& address, Clock::time_point now) {
    auto& s = state_[address];
    ++s.failures;
    s.delay = s.failures == 1 ? first_ : std::min(s.delay * 2, max_);
    s.next = now + s.delay;
}

void AddressBackoff::succeeded(const std::string& address) { state_.erase(address); }

void AddressBackoff::retain(std::span<const Candidate> candidates) {
    std::erase_if(state_, [&](const auto& entry) {
        return std::none_of(candidates.begin(), candidates.end(),
                            [&](const Candidate& c) { return c.address == entry.first; });
    });
}

std::size_t AddressBackoff::failures(const std::string& address) const {
    auto it = state_.find(address);
    return it == state_.end() ? 0 : it->second.failures;
}

} // namespace earshot::peers

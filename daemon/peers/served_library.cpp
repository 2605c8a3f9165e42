#include "daemon/peers/served_library.hpp"

#include "daemon/index/walk.hpp"
#include "daemon/library/tracks.hpp"

namespace earshot::peers {

awaitable<std::vector<proto::ResultEntry>> ServedLibrary::search(PeerRecord who, resolver::Query q) {
    auto job = [this, who = std::move(who), q = std::move(q)] { return search_now(who, q); };
    auto entries = co_await blocking_.run(std::move(job));
    co_return entries;
}

awaitable<std::optional<ServedContent>> ServedLibrary::content(PeerRecord who, proto::Hash id) {
    auto job = [this, who = std::move(who), id] { return content_now(who, id); };
    auto found = co_await blocking_.run(std::move(job));
    co_return found;
}

std::vector<proto::ResultEntry> ServedLibrary::search_now(const PeerRecord& who, const resolver::Query& q) const {
    constexpr std::size_t max_answers = 50;
    // Look deeper than we answer: a friend's scope may hide the best matches.
    const auto matches = library_.catalogue().search(q, who.role == Role::device ? max_answers : 4 * max_answers);
    std::vector<proto::ResultEntry> out;
    library_.store().read([&](const index::ReadTxn& r) {
        for (const auto& m : matches) {
            if (out.size() >= max_answers) break;
            auto t = r.track(m.key);
            if (!t || !t->has_content() || !who.may_see(t->path)) continue;
            out.push_back(library::entry_of(*t, m.score));
        }
        return 0;
    });
    if (who.role != Role::device) return out;
    // Own devices find this daemon's pins too (and then fetch them from it).
    for (auto& e : pins_.entries(q)) {
        if (out.size() >= max_answers) break;
        const auto id = e.content_id;
        if (std::none_of(out.begin(), out.end(), [&](const auto& held) { return held.content_id == id; }))
            out.push_back(std::move(e));
    }
    return out;
}

std::optional<ServedContent> ServedLibrary::content_now(const PeerRecord& who, const proto::Hash& id) const {
    auto indexed = library_.store().read([&](const index::ReadTxn& r) -> std::optional<ServedContent> {
        for (auto tid : r.tracks_with_content(id)) {
            auto t = r.track(tid);
            if (!t || !who.may_see(t->path) || index::stat_file(t->path) != t->stamp) continue;
            auto leaves = r.leaves(id);
            if (!leaves) continue;
            return ServedContent{t->path, t->stamp.size,
                                 std::make_shared<const std::vector<proto::Hash>>(std::move(*leaves)), {}};
        }
        return std::nullopt;
    });
    if (indexed || who.role != Role::device) return indexed;
    auto held = cache_.leaves(id);
    if (!held) return std::nullopt;
    auto* cache = &cache_;
    return ServedContent{{}, held->first, std::make_shared<const std::vector<proto::Hash>>(std::move(held->second)),
                         [cache, id](std::uint64_t chunk) { return cache->get(id, chunk); }};
}

} // namespace earshot::peers

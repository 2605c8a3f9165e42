#include "daemon/stream/pin_source.hpp"

#include "proto/content_id.hpp"
#include "resolver/score.hpp"

#include <algorithm>
#include <set>

namespace earshot::stream {
namespace {

std::string text(const nlohmann::json& meta, const char* field) {
    const auto it = meta.find(field);
    return it != meta.end() && it->is_string() ? it->get<std::string>() : std::string();
}

double number(const nlohmann::json& meta, const char* field) {
    const auto it = meta.find(field);
    return it != meta.end() && it->is_number() ? it->get<double>() : 0.0;
}

// The artist tags as the peer sent them; pins made before they were kept
// have the joined line only.
std::vector<std::string> artists_of(const nlohmann::json& meta) {
    std::vector<std::string> out;
    if (const auto it = meta.find("artists"); it != meta.end() && it->is_array())
        for (const auto& a : *it)
            if (a.is_string()) out.push_back(a.get<std::string>());
    if (out.empty() && !text(meta, "artist").empty()) out.push_back(text(meta, "artist"));
    return out;
}

resolver::Candidate candidate_of(const PinInfo& p) {
    resolver::Candidate c;
    c.artists = artists_of(p.meta);
    c.album = text(p.meta, "album");
    c.title = text(p.meta, "track");
    c.duration_s = number(p.meta, "duration");
    return c;
}

} // namespace

void PinSource::refresh() {
    std::set<proto::Hash> complete;
    for (auto& p : cache_.pins()) {
        if (!p.complete()) continue;
        complete.insert(p.content);
        auto [it, fresh] = pinned_.try_emplace(p.content);
        if (!fresh && it->second.info.meta == p.meta) continue;
        if (fresh) {
            it->second.key = next_key_++;
            by_key_[it->second.key] = p.content;
        }
        catalogue_.upsert(it->second.key, resolver::prepare(candidate_of(p)));
        it->second.info = std::move(p);
    }
    for (auto it = pinned_.begin(); it != pinned_.end();) {
        if (complete.contains(it->first)) {
            ++it;
            continue;
        }
        catalogue_.erase(it->second.key);
        by_key_.erase(it->second.key);
        it = pinned_.erase(it);
    }
}

resolver::Result PinSource::result_of(const PinInfo& p, double score) const {
    resolver::Result r;
    r.sid = proto::to_hex(p.content);
    r.artist = resolver::join_artists(artists_of(p.meta));
    r.track = text(p.meta, "track");
    r.album = text(p.meta, "album");
    r.source = name_;
    r.size = p.size;
    r.duration_s = number(p.meta, "duration");
    r.mimetype = text(p.meta, "mimetype");
    r.score = score;
    // The recording as the peer that had it named it, when the pin kept it;
    // else these bytes are a recording of their own.
    r.recording = text(p.meta, "recording");
    if (r.recording.empty()) r.recording = "content:" + r.sid;
    return r;
}

std::vector<std::pair<const PinInfo*, double>> PinSource::matches(const resolver::Query& q, std::size_t limit) {
    refresh();
    std::vector<std::pair<const PinInfo*, double>> out;
    for (const auto& m : catalogue_.search(q, limit)) {
        const auto content = by_key_.find(m.key);
        if (content != by_key_.end()) out.emplace_back(&pinned_.at(content->second).info, m.score);
    }
    return out;
}

std::vector<resolver::Result> PinSource::lookup(const resolver::Query& q, std::size_t limit) {
    std::lock_guard lock(mutex_);
    std::vector<resolver::Result> out;
    for (const auto& [pin, score] : matches(q, limit)) out.push_back(result_of(*pin, score));
    return out;
}

std::vector<proto::ResultEntry> PinSource::entries(const resolver::Query& q, std::size_t limit) {
    std::lock_guard lock(mutex_);
    std::vector<proto::ResultEntry> out;
    for (const auto& [pin, score] : matches(q, limit)) {
        const auto r = result_of(*pin, score);
        proto::ResultEntry e;
        e.content_id = pin->content;
        e.size = pin->size;
        e.artists = artists_of(pin->meta);
        e.track = r.track;
        e.album = r.album;
        e.mimetype = r.mimetype;
        e.duration_ms = static_cast<std::uint32_t>(r.duration_s * 1000.0);
        e.score = std::clamp(score, 0.0, 1.0);
        e.recording = r.recording;
        out.push_back(std::move(e));
    }
    return out;
}

awaitable<void> PinSource::resolve(resolver::Query q, resolver::Emit emit, std::stop_token) {
    // In memory: a few hundred pins at most are compared, the cache's own
    // bookkeeping is read under its mutex, nothing touches the disk.
    auto results = lookup(q);
    if (!results.empty()) emit(std::move(results));
    co_return;
}

} // namespace earshot::stream

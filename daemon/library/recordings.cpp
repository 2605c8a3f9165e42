#include "daemon/library/recordings.hpp"

#include "daemon/library/tracks.hpp"

namespace earshot::library {

void Recordings::learn(const index::Track& t) {
    if (t.tags.musicbrainz.recording.empty()) return;
    std::lock_guard lock(mutex_);
    by_mbid_[t.tags.musicbrainz.recording] = recording_of(t);
}

std::string Recordings::adopt(const proto::PublicKey& from, const proto::ResultEntry& e) const {
    auto local = store_.read([&](const index::ReadTxn& txn) -> std::string {
        for (auto id : txn.tracks_with_content(e.content_id))
            if (auto t = txn.track(id)) return recording_of(*t);
        return {};
    });
    if (!local.empty()) return local;
    if (e.recording.starts_with("mb:")) {
        std::lock_guard lock(mutex_);
        const auto mine = by_mbid_.find(e.recording.substr(3));
        return mine != by_mbid_.end() ? mine->second : e.recording;
    }
    return proto::format_peer_id(from).substr(0, 7) + ":" + e.recording;
}

} // namespace earshot::library

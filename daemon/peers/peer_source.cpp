#include "daemon/peers/peer_source.hpp"

#include "resolver/score.hpp"

#include <stdexcept>

namespace earshot::peers {

std::string source_key(const proto::PublicKey& key) { return "peer:" + proto::format_peer_id(key); }

awaitable<void> PeerSource::resolve(resolver::Query q, resolver::Emit emit, std::stop_token stop) {
    auto link = link_.lock();
    if (!link || !link->ready()) throw std::runtime_error("offline");
    const resolver::Query asked = q;
    co_await link->query(
        std::move(q),
        [&](std::vector<proto::ResultEntry> entries) {
            std::vector<resolver::Result> batch;
            batch.reserve(entries.size());
            for (const auto& e : entries) {
                resolver::Result r;
                r.sid = proto::to_hex(e.content_id);
                r.artist = resolver::join_artists(e.artists);
                r.track = e.track;
                r.album = e.album;
                r.source = name_;
                r.sources = {name_};
                r.size = e.size;
                r.bitrate_kbps = e.bitrate_kbps;
                r.duration_s = e.duration_ms / 1000.0;
                r.mimetype = e.mimetype;
                // Scored here, not taken from the peer: a friend's daemon
                // cannot push its results above better ones by claiming 1.0.
                resolver::Candidate c;
                c.artists = e.artists;
                c.album = e.album;
                c.title = e.track;
                c.duration_s = r.duration_s;
                r.score = resolver::score(asked, c);
                r.recording = e.recording;
                r.quality = e.quality;
                if (adopt_) adopt_(e, r);
                batch.push_back(std::move(r));
            }
            emit(std::move(batch));
        },
        stop);
}

} // namespace earshot::peers

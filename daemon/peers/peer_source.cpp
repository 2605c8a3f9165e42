#include "daemon/peers/peer_source.hpp"

#include "resolver/score.hpp"

#include <stdexcept>

namespace earshot::peers {

std::string source_key(const proto::PublicKey& key) { return "peer:" + proto::format_peer_id(key); }

awaitable<std::shared_ptr<Link>> PeerSource::ready_link() {
    if (owner_gone()) throw std::runtime_error("offline");
    auto link = links_.current();
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while ((!link || !link->ready()) && links_.changed && std::chrono::steady_clock::now() < give_up) {
        co_await links_.changed->wait_until(give_up);
        if (owner_gone()) throw std::runtime_error("offline");
        link = links_.current();
    }
    if (!link || !link->ready()) throw std::runtime_error("offline");
    co_return link;
}

awaitable<void> PeerSource::resolve(resolver::Query q, resolver::Emit emit, std::stop_token stop) {
    const auto link = co_await ready_link();
    try {
        co_await ask(link, q, emit, stop);
        co_return;
    } catch (const std::runtime_error&) {
        // Replaced under the query (both sides dialled at once): ask the new
        // link, once. A link that simply died has no successor to ask.
        if (stop.stop_requested() || !links_.changed || owner_gone() || links_.current() == link) throw;
    }
    const auto next = co_await ready_link();
    co_await ask(next, std::move(q), emit, stop);
}

awaitable<void> PeerSource::ask(const std::shared_ptr<Link>& link, resolver::Query q, const resolver::Emit& emit,
                                std::stop_token stop) {
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

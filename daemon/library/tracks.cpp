#include "daemon/library/tracks.hpp"

#include "resolver/normalise.hpp"

#include <algorithm>
#include <charconv>

namespace earshot::library {
namespace {

// A track the content pass has not hashed yet is still playable, under a
// sid naming the track instead of its bytes.
constexpr std::string_view unhashed_sid_prefix = "track-";

nlohmann::json optional_json(const std::optional<float>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); }

} // namespace

std::string sid_of(const index::Track& t) {
    return t.has_content() ? proto::to_hex(t.content) : std::string(unhashed_sid_prefix) + std::to_string(t.id);
}

std::vector<index::Track> tracks_for_sid(const index::ReadTxn& r, std::string_view sid) {
    std::vector<index::Track> out;
    if (sid.starts_with(unhashed_sid_prefix)) {
        index::TrackId id = 0;
        const auto digits = sid.substr(unhashed_sid_prefix.size());
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
        if (ec == std::errc{} && end == digits.data() + digits.size())
            if (auto t = r.track(id)) out.push_back(std::move(*t));
    } else if (const auto content = proto::hash_from_hex(sid)) {
        for (auto id : r.tracks_with_content(*content))
            if (auto t = r.track(id)) out.push_back(std::move(*t));
    }
    return out;
}

std::string recording_of(const index::Track& t) {
    std::array<std::uint8_t, 8> be;
    for (int i = 0; i < 8; ++i) be[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(t.recording >> (56 - 8 * i));
    return proto::to_hex(be);
}

std::string wire_recording_of(const index::Track& t) {
    return t.tags.musicbrainz.recording.empty() ? recording_of(t) : "mb:" + t.tags.musicbrainz.recording;
}

resolver::Candidate candidate_of(const index::Track& t) {
    resolver::Candidate c;
    c.artists = t.tags.artists;
    // The album artist is a second name the track answers to ("Various
    // Artists" compilations aside, it is usually the main artist).
    if (!t.tags.album_artist.empty() &&
        std::find(c.artists.begin(), c.artists.end(), t.tags.album_artist) == c.artists.end() && c.artists.empty())
        c.artists.push_back(t.tags.album_artist);
    c.album = t.tags.album;
    c.title = t.tags.title;
    c.duration_s = t.audio.duration_ms / 1000.0;
    return c;
}

resolver::Result result_of(const index::Track& t, std::string_view source, double score) {
    resolver::Result r;
    r.sid = sid_of(t);
    r.artist = resolver::join_artists(t.tags.artists);
    r.track = t.tags.title;
    r.album = t.tags.album;
    r.source = source;
    r.size = t.stamp.size;
    r.bitrate_kbps = t.audio.bitrate_kbps;
    r.duration_s = t.audio.duration_ms / 1000.0;
    r.mimetype = t.mimetype;
    r.score = score;
    r.recording = recording_of(t);
    r.quality = t.quality();
    return r;
}

proto::ResultEntry entry_of(const index::Track& t, double score) {
    proto::ResultEntry e;
    e.content_id = t.content;
    e.size = t.stamp.size;
    e.artists = t.tags.artists;
    e.track = t.tags.title;
    e.album = t.tags.album;
    e.mimetype = t.mimetype;
    e.bitrate_kbps = t.audio.bitrate_kbps;
    e.duration_ms = t.audio.duration_ms;
    e.score = std::clamp(score, 0.0, 1.0);
    e.recording = wire_recording_of(t);
    e.quality = t.quality();
    return e;
}

nlohmann::json details_of(const index::Track& t, std::string_view source) {
    const auto& tags = t.tags;
    const auto& mb = tags.musicbrainz;
    const auto& rg = tags.replaygain;
    return nlohmann::json{
        {"sid", sid_of(t)},
        {"artists", tags.artists},
        {"artist", resolver::join_artists(tags.artists)},
        {"album_artist", tags.album_artist},
        {"album", tags.album},
        {"track", tags.title},
        {"genre", tags.genre},
        {"track_number", tags.track_number},
        {"disc_number", tags.disc_number},
        {"year", tags.year},
        {"musicbrainz",
         {{"recording", mb.recording}, {"track", mb.track}, {"release", mb.release},
          {"release_group", mb.release_group}, {"artist", mb.artist}, {"album_artist", mb.album_artist}}},
        {"replaygain",
         {{"track_gain", optional_json(rg.track_gain_db)}, {"track_peak", optional_json(rg.track_peak)},
          {"album_gain", optional_json(rg.album_gain_db)}, {"album_peak", optional_json(rg.album_peak)}}},
        {"has_cover", tags.has_cover},
        {"duration", t.audio.duration_ms / 1000.0},
        {"bitrate", t.audio.bitrate_kbps},
        {"sample_rate", t.audio.sample_rate},
        {"channels", t.audio.channels},
        {"format", t.format},
        {"mimetype", t.mimetype},
        {"size", t.stamp.size},
        {"recording", recording_of(t)},
        {"fingerprint", t.fingerprint == index::FingerprintState::done     ? "done"
                        : t.fingerprint == index::FingerprintState::failed ? "failed"
                                                                           : "pending"},
        {"fingerprint_error", t.fingerprint_error},
        {"source", source},
    };
}

} // namespace earshot::library

#include "daemon/index/track.hpp"

#include <algorithm>
#include <bit>
#include <iterator>

namespace earshot::index {
namespace {

// Record layout version. A decoder meeting a newer version refuses it rather
// than misreading it; the store then rescans that file.
constexpr std::uint8_t track_version = 1;
constexpr std::uint8_t failure_version = 1;

void put_stamp(proto::ByteWriter& w, const FileStamp& s) {
    w.varint(s.size);
    w.svarint(s.mtime_ns);
    w.varint(s.inode);
    w.varint(s.device);
}

FileStamp get_stamp(proto::ByteReader& r) {
    FileStamp s;
    s.size = r.varint();
    s.mtime_ns = r.svarint();
    s.inode = r.varint();
    s.device = r.varint();
    return s;
}

// Optional floats travel as a presence byte plus the IEEE bits.
void put_opt(proto::ByteWriter& w, const std::optional<float>& v) {
    w.u8(v.has_value());
    if (v) w.u32le(std::bit_cast<std::uint32_t>(*v));
}

std::optional<float> get_opt(proto::ByteReader& r) {
    if (!r.u8()) return std::nullopt;
    return std::bit_cast<float>(r.u32le());
}

std::uint32_t get_u32(proto::ByteReader& r) {
    const auto v = r.varint();
    if (v > UINT32_MAX) throw proto::DecodeError("field exceeds 32 bits");
    return static_cast<std::uint32_t>(v);
}

} // namespace

std::uint32_t Track::quality() const {
    static constexpr std::string_view lossless[] = {"flac", "alac", "wav", "aiff", "ape", "wavpack", "dsf"};
    const bool is_lossless = std::find(std::begin(lossless), std::end(lossless), format) != std::end(lossless);
    // Lossless always outranks lossy; within each class the higher bitrate wins.
    return (is_lossless ? 1u << 20 : 0u) + std::min<std::uint32_t>(audio.bitrate_kbps, (1u << 20) - 1);
}

proto::Bytes encode(const Track& t) {
    proto::ByteWriter w;
    w.u8(track_version);
    w.varint(t.id);
    w.str(t.path);
    put_stamp(w, t.stamp);
    w.hash(t.content);
    w.str(t.format);
    w.str(t.mimetype);
    w.varint(t.tags.artists.size());
    for (const auto& a : t.tags.artists) w.str(a);
    for (const auto* s : {&t.tags.album_artist, &t.tags.album, &t.tags.title, &t.tags.genre})
        w.str(*s);
    w.varint(t.tags.track_number);
    w.varint(t.tags.disc_number);
    w.varint(t.tags.year);
    const auto& mb = t.tags.musicbrainz;
    for (const auto* s : {&mb.recording, &mb.track, &mb.release, &mb.release_group, &mb.artist, &mb.album_artist})
        w.str(*s);
    const auto& rg = t.tags.replaygain;
    for (const auto* v : {&rg.track_gain_db, &rg.track_peak, &rg.album_gain_db, &rg.album_peak})
        put_opt(w, *v);
    w.u8(t.tags.has_cover);
    w.varint(t.audio.duration_ms);
    w.varint(t.audio.bitrate_kbps);
    w.varint(t.audio.sample_rate);
    w.varint(t.audio.channels);
    w.u8(static_cast<std::uint8_t>(t.fingerprint));
    w.str(t.fingerprint_error);
    w.varint(t.recording);
    return std::move(w).take();
}

Track decode_track(proto::ByteView bytes) {
    proto::ByteReader r(bytes);
    if (const auto v = r.u8(); v != track_version)
        throw proto::DecodeError("unknown track record version " + std::to_string(v));
    Track t;
    t.id = r.varint();
    t.path = r.str();
    t.stamp = get_stamp(r);
    t.content = r.hash();
    t.format = r.str();
    t.mimetype = r.str();
    const auto artists = r.varint();
    if (artists > r.remaining()) throw proto::DecodeError("artist count exceeds record");
    for (std::uint64_t i = 0; i < artists; ++i) t.tags.artists.push_back(r.str());
    for (auto* s : {&t.tags.album_artist, &t.tags.album, &t.tags.title, &t.tags.genre})
        *s = r.str();
    t.tags.track_number = get_u32(r);
    t.tags.disc_number = get_u32(r);
    t.tags.year = get_u32(r);
    auto& mb = t.tags.musicbrainz;
    for (auto* s : {&mb.recording, &mb.track, &mb.release, &mb.release_group, &mb.artist, &mb.album_artist})
        *s = r.str();
    auto& rg = t.tags.replaygain;
    for (auto* v : {&rg.track_gain_db, &rg.track_peak, &rg.album_gain_db, &rg.album_peak})
        *v = get_opt(r);
    t.tags.has_cover = r.u8() != 0;
    t.audio.duration_ms = get_u32(r);
    t.audio.bitrate_kbps = get_u32(r);
    t.audio.sample_rate = get_u32(r);
    t.audio.channels = get_u32(r);
    const auto fp = r.u8();
    if (fp > static_cast<std::uint8_t>(FingerprintState::failed)) throw proto::DecodeError("bad fingerprint state");
    t.fingerprint = static_cast<FingerprintState>(fp);
    t.fingerprint_error = r.str();
    t.recording = r.varint();
    if (!r.done()) throw proto::DecodeError("trailing bytes after track record");
    return t;
}

proto::Bytes encode(const Failure& f) {
    proto::ByteWriter w;
    w.u8(failure_version);
    w.str(f.path);
    put_stamp(w, f.stamp);
    w.str(f.reason);
    return std::move(w).take();
}

Failure decode_failure(proto::ByteView bytes) {
    proto::ByteReader r(bytes);
    if (const auto v = r.u8(); v != failure_version)
        throw proto::DecodeError("unknown failure record version " + std::to_string(v));
    Failure f;
    f.path = r.str();
    f.stamp = get_stamp(r);
    f.reason = r.str();
    if (!r.done()) throw proto::DecodeError("trailing bytes after failure record");
    return f;
}

} // namespace earshot::index

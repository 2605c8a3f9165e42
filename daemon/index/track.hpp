// The index's unit of record: one audio file on disk, what its tags say,
// which exact bytes it holds (content id) and which recording it is.
#pragma once

#include "proto/bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace earshot::index {

using TrackId = std::uint64_t;
using RecordingId = std::uint64_t;

struct ReplayGain {
    std::optional<float> track_gain_db, track_peak, album_gain_db, album_peak;
};

struct MusicBrainzIds {
    std::string recording, track, release, release_group, artist, album_artist;
};

struct TrackTags {
    std::vector<std::string> artists; // multi-value ARTIST kept in tag order
    std::string album_artist, album, title, genre;
    std::uint32_t track_number = 0, disc_number = 0, year = 0;
    MusicBrainzIds musicbrainz;
    ReplayGain replaygain;
    bool has_cover = false;
};

struct AudioProperties {
    std::uint32_t duration_ms = 0, bitrate_kbps = 0, sample_rate = 0, channels = 0;
};

// What a rescan compares to decide whether a file changed.
struct FileStamp {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0, device = 0;
    friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

enum class FingerprintState : std::uint8_t { pending = 0, done = 1, failed = 2 };

struct Track {
    TrackId id = 0;
    std::string path; // absolute, raw bytes as the filesystem gave them (may be non-UTF-8)
    FileStamp stamp;
    proto::Hash content{}; // all zero until hashed
    std::string format;   // container/codec short name: "flac", "mp3", "opus", ...
    std::string mimetype; // served as Content-Type
    TrackTags tags;
    AudioProperties audio;
    FingerprintState fingerprint = FingerprintState::pending;
    std::string fingerprint_error; // why, when fingerprint == failed
    RecordingId recording = 0;     // 0 until assigned

    // False until the content pass has hashed the file (the metadata pass
    // reads tags only, so that a new library is searchable at once).
    bool has_content() const { return content != proto::Hash{}; }

    // Orders encodings of one recording: lossless first, then higher bitrate.
    std::uint32_t quality() const;
};

// A file the scan could not index, with the reason a user can act on.
struct Failure {
    std::string path;
    FileStamp stamp;
    std::string reason;
};

proto::Bytes encode(const Track&);
Track decode_track(proto::ByteView); // throws proto::DecodeError
proto::Bytes encode(const Failure&);
Failure decode_failure(proto::ByteView);

} // namespace earshot::index

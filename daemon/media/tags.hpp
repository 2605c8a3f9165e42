// Reading what an audio file says about itself: tags, audio properties, format and MIME type.
#pragma once

#include "daemon/index/track.hpp"

#include <filesystem>
#include <stdexcept>
#include <string>

namespace earshot::media {

struct MediaInfo {
    index::TrackTags tags;       // artists[0] is the file's own (display) artist credit
    index::AudioProperties audio;
    std::string format;          // short lowercase codec name: mp3 flac vorbis opus aac alac wav aiff wma ...
    std::string mimetype;        // what to serve it as: audio/mpeg audio/flac audio/ogg audio/mp4 ...
};

// A file that cannot be indexed, with a reason a user can act on: "cannot read: <strerror>",
// "not a regular file", "empty file", "not an audio file", "not a recognised audio file ...",
// "unsupported format: ...", "no audio stream", "corrupt or truncated: ...".
class MediaError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Reads tags and audio properties with TagLib (FFmpeg for the few formats TagLib 1.13 lacks:
// raw ADTS AAC and DSF). The container is recognised by its content, not its extension, so a
// FLAC named .mp3 still reads. Cheap structural checks catch files cut short (MP3 with a
// Xing/VBRI header, MP4, WAV, AIFF); other truncations show up when the file is fingerprinted.
// Missing tags stay empty (a missing title is the caller's to replace with the file name).
// The path's bytes go to the OS unchanged, so non-UTF-8 file names work. Thread-safe for
// concurrent calls on different files. Throws MediaError.
MediaInfo read_media_info(const std::filesystem::path& file);

// Cheap extension check (case-insensitive) the scanner uses to skip covers, playlists, cue
// sheets and logs without opening them: mp3 mp2 flac ogg oga opus spx m4a m4b mp4 aac alac
// wav aiff aif aifc wma asf ape wv mpc tta dsf.
bool looks_like_audio(const std::filesystem::path& file);

} // namespace earshot::media

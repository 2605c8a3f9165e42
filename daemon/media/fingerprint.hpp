// Acoustic fingerprints: decode the start of a file with FFmpeg and run Chromaprint over it,
// exactly the pipeline of Chromaprint's own fpcalc (mono, 11025 Hz, s16, same resampler settings),
// so our raw fingerprints are comparable with `fpcalc -raw` output.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace earshot::media {

struct Fingerprint {
    std::vector<std::uint32_t> raw; // Chromaprint CHROMAPRINT_ALGORITHM_DEFAULT (TEST2), as `fpcalc -raw`
    double duration_s = 0;          // the container's duration if it states one, else the decoded length
};

// Why a file could not be decoded: "no audio stream", "decoder rejected audio: ...",
// "corrupt or truncated: ...", "audio too short to fingerprint ...", "cannot read: ...".
class FingerprintError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Decodes up to max_seconds of the best audio stream and returns its raw fingerprint.
// Safe to call from several threads at once on different files (no shared state besides
// FFmpeg's and Chromaprint's own thread-safe initialisation). Throws FingerprintError.
Fingerprint compute_fingerprint(const std::filesystem::path& file, double max_seconds = 120);

// What FFmpeg's demuxer says about a file's best audio stream, without decoding it. Used for
// formats TagLib cannot read (raw ADTS AAC, DSF) and to check durations TagLib cannot know.
struct AudioProbe {
    std::string codec;        // FFmpeg codec name: "aac", "dsd_lsbf_planar", "flac", ...
    double duration_s = 0;    // 0 when neither the stream nor the container states it
    std::uint32_t bitrate_kbps = 0, sample_rate = 0, channels = 0;
    std::vector<std::pair<std::string, std::string>> tags; // container + stream metadata, FFmpeg's key names
    bool has_cover = false;   // an attached picture stream
};
// Throws FingerprintError when FFmpeg cannot open the file or it holds no audio stream.
AudioProbe probe_audio(const std::filesystem::path& file);

// Turns FFmpeg's log output off for this process (idempotent, thread-safe). FFmpeg otherwise
// writes a line to stderr for every corrupt frame it meets, which floods a daemon's journal
// when a library holds damaged files; every failure here is reported through exceptions instead.
void silence_ffmpeg_logging();

} // namespace earshot::media

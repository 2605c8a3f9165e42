// Test audio: small tagged files in every common format, made with the ffmpeg CLI, plus the
// kinds of broken files a library scan meets in the wild.
#pragma once

#include "tests/support/process.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace earshot::test {

// Every member has a default initializer so designated initializers may name any subset
// without tripping -Wmissing-field-initializers: make_audio(p, {.title = "x", .seed = 2}).
struct ToneSpec {
    std::string artist{}, title{}, album{};    // empty: tag not written
    std::vector<std::string> extra_metadata{}; // "key=value", passed to ffmpeg's -metadata as is
    int seed = 1;                              // same seed => same audio ("recording")
    double seconds = 8;
    // Non-zero: a related but different recording of `seed` (same melody and rhythm, another bass
    // line and noise floor), like an alternative take. Never the same recording as variant 0.
    int variant = 0;
    std::filesystem::path cover{};             // optional PNG/JPEG attached as cover art (.mp3 .flac .m4a)
};

// Writes a tagged audio file; the extension of `out` picks the format: .flac .mp3 .ogg (Vorbis)
// .opus .m4a (AAC) .aac (raw ADTS with an ID3v2 tag) .wav .aiff .wma. The audio is a seeded
// random melody over a bass line and a little pink noise: deterministic per (seed, variant,
// seconds), distinct between seeds, and fingerprints like music rather than like a pure tone.
// Output bytes are reproducible too (ffmpeg's bitexact mode). Throws std::runtime_error with
// ffmpeg's stderr if ffmpeg fails, std::invalid_argument for an unknown extension.
void make_audio(const std::filesystem::path& out, const ToneSpec& spec);

// Writes the bad inputs a scanner must survive, each a different failure:
//   truncated.mp3      an MP3 cut to a third of the length its Xing header declares
//   garbage.flac       random bytes named .flac
//   zero.ogg           an empty file
//   header_only.m4a    an MP4 with its header (moov) but the media data cut off
//   id3_only.mp3       a valid ID3v2 tag and no audio after it
//   notes.txt          a text file
//   garbage_audio.flac valid FLAC header and tags (artist "Garbage Artist", title "Garbage
//                      Title"), its audio frames replaced by random bytes: tags read fine, decoding fails
// read_media_info() rejects all but garbage_audio.flac; compute_fingerprint() rejects all.
void make_corrupt_variants(const std::filesystem::path& dir);

// A small PNG usable as ToneSpec::cover.
void make_cover_png(const std::filesystem::path& out);

// Runs ffmpeg ("-v error -nostdin -y" + args) without a shell; throws std::runtime_error with its
// stderr if it fails. For tests that need a file make_audio doesn't make.
void run_ffmpeg(const std::vector<std::string>& args);


} // namespace earshot::test

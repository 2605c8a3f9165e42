#include "tests/support/audio.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <utility>

namespace earshot::test {
namespace {

namespace fs = std::filesystem;

class SplitMix {
public:
    explicit SplitMix(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    unsigned below(unsigned n) { return static_cast<unsigned>(next() % n); }

private:
    std::uint64_t state_;
};

std::string fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

// A random melody (semitones over two octaves from A3, notes of 150/300/450 ms), a bass line
// (one note per 1.2 s) and pink noise at -26 dB. Melodies make fingerprints that change with
// time like music does; pure or steady tones give degenerate ones.
std::string tone_graph(const ToneSpec& spec) {
    if (!(spec.seconds > 0)) throw std::invalid_argument("make_audio: seconds must be positive");
    const int rate = 44100;
    SplitMix melody(static_cast<std::uint64_t>(spec.seed) * 2 + 1);
    SplitMix bass(static_cast<std::uint64_t>(spec.seed) * 7919 + static_cast<std::uint64_t>(spec.variant) * 104729 + 3);
    std::string g, labels;
    int n = 0;
    static constexpr std::array<double, 3> kLengths = {0.15, 0.30, 0.45};
    for (double t = 0; t < spec.seconds; ++n) {
        const double freq = 220.0 * std::pow(2.0, melody.below(24) / 12.0);
        const double len = kLengths[melody.below(3)];
        g += "sine=f=" + fixed(freq, 3) + ":r=" + std::to_string(rate) + ":d=" + fixed(len, 4) + "[m" + std::to_string(n) + "];";
        labels += "[m" + std::to_string(n) + "]";
        t += len;
    }
    g += labels + "concat=n=" + std::to_string(n) + ":v=0:a=1,volume=0.5[mel];";
    labels.clear();
    int b = 0;
    for (double t = 0; t < spec.seconds; t += 1.2, ++b) {
        const double freq = 55.0 * std::pow(2.0, bass.below(12) / 12.0);
        g += "sine=f=" + fixed(freq, 3) + ":r=" + std::to_string(rate) + ":d=1.2[b" + std::to_string(b) + "];";
        labels += "[b" + std::to_string(b) + "]";
    }
    g += labels + "concat=n=" + std::to_string(b) + ":v=0:a=1,volume=0.4[bass];";
    const long noise_seed = static_cast<long>(spec.seed) * 131 + spec.variant;
    g += "anoisesrc=d=" + fixed(spec.seconds, 4) + ":c=pink:r=" + std::to_string(rate) + ":a=0.05:seed=" + std::to_string(noise_seed) + "[noise];";
    g += "[mel][bass][noise]amix=inputs=3:normalize=0:duration=shortest,atrim=duration=" + fixed(spec.seconds, 4) +
         ",aformat=channel_layouts=stereo[aout]";
    return g;
}

std::vector<std::string> codec_args(const fs::path& out) {
    std::string ext = out.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (ext == ".flac") return {"-c:a", "flac"};
    if (ext == ".mp3") return {"-c:a", "libmp3lame", "-b:a", "128k"};
    if (ext == ".ogg") return {"-c:a", "libvorbis", "-q:a", "3"};
    if (ext == ".opus") return {"-c:a", "libopus", "-b:a", "64k"};
    if (ext == ".m4a") return {"-c:a", "aac", "-b:a", "128k"};
    if (ext == ".aac") return {"-c:a", "aac", "-b:a", "128k", "-f", "adts", "-write_id3v2", "1"};
    if (ext == ".wav") return {"-c:a", "pcm_s16le"};
    if (ext == ".aiff") return {"-c:a", "pcm_s16be", "-write_id3v2", "1"};
    if (ext == ".wma") return {"-c:a", "wmav2", "-b:a", "128k"};
    throw std::invalid_argument("make_audio: unsupported extension " + ext);
}

void make_audio_with(const fs::path& out, const ToneSpec& spec, const std::vector<std::string>& extra_output_args) {
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    std::vector<std::string> args = {"-filter_complex", tone_graph(spec)};
    if (!spec.cover.empty()) args.insert(args.end(), {"-i", spec.cover.string()});
    args.insert(args.end(), {"-map", "[aout]"});
    // The filtergraph is not an input file, so the cover is input 0.
    if (!spec.cover.empty()) args.insert(args.end(), {"-map", "0:v", "-c:v", "copy", "-disposition:v", "attached_pic"});
    auto codec = codec_args(out);
    args.insert(args.end(), codec.begin(), codec.end());
    // Bit-exact: no encoder version strings or timestamps, so the same spec gives the same bytes.
    args.insert(args.end(), {"-fflags", "+bitexact", "-flags", "+bitexact"});
    if (!spec.artist.empty()) args.insert(args.end(), {"-metadata", "artist=" + spec.artist});
    if (!spec.title.empty()) args.insert(args.end(), {"-metadata", "title=" + spec.title});
    if (!spec.album.empty()) args.insert(args.end(), {"-metadata", "album=" + spec.album});
    for (const auto& kv : spec.extra_metadata) args.insert(args.end(), {"-metadata", kv});
    args.insert(args.end(), extra_output_args.begin(), extra_output_args.end());
    args.push_back(out.string());
    run_ffmpeg(args);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& p, std::string_view bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string random_bytes(std::size_t n, std::uint64_t seed) {
    SplitMix rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng.next() >> 56);
    return s;
}

} // namespace

void run_ffmpeg(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"ffmpeg", "-v", "error", "-nostdin", "-y"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_program(argv);
    if (r.exit_code != 0)
        throw std::runtime_error("ffmpeg failed (exit " + std::to_string(r.exit_code) + "): " + r.err);
}

void make_audio(const fs::path& out, const ToneSpec& spec) {
    make_audio_with(out, spec, {});
}

void make_cover_png(const fs::path& out) {
    run_ffmpeg({"-f", "lavfi", "-i", "testsrc=s=32x32:d=1", "-frames:v", "1", "-fflags", "+bitexact", out.string()});
}

void make_corrupt_variants(const fs::path& dir) {
    fs::create_directories(dir);

    // An MP3 whose Xing header promises 6 s but whose bytes stop after about two.
    const fs::path full_mp3 = dir / ".full.mp3";
    make_audio(full_mp3, {.artist = "Truncated Artist", .title = "Truncated Title", .seed = 901, .seconds = 6});
    const std::string mp3 = read_file(full_mp3);
    write_file(dir / "truncated.mp3", std::string_view(mp3).substr(0, mp3.size() / 3));

    // Only the ID3v2 tag of that MP3: a tagged file without a single audio frame.
    if (mp3.size() < 10 || mp3.compare(0, 3, "ID3") != 0) throw std::runtime_error("ffmpeg wrote no ID3v2 tag");
    const auto syncsafe = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(mp3[i]) & 0x7F); };
    const std::size_t tag_size = 10 + ((syncsafe(6) << 21) | (syncsafe(7) << 14) | (syncsafe(8) << 7) | syncsafe(9));
    write_file(dir / "id3_only.mp3", std::string_view(mp3).substr(0, std::min(tag_size, mp3.size())));
    fs::remove(full_mp3);

    write_file(dir / "garbage.flac", random_bytes(64 * 1024, 902));
    write_file(dir / "zero.ogg", "");
    write_file(dir / "notes.txt", "Ripped with care. Track 3 skips at 2:10.\n");

    // MP4 with the moov box first (faststart), cut 16 bytes into the mdat payload.
    const fs::path full_m4a = dir / ".full.m4a";
    make_audio_with(full_m4a, {.artist = "Header Artist", .title = "Header Title", .seed = 903, .seconds = 4}, {"-movflags", "+faststart"});
    const std::string m4a = read_file(full_m4a);
    const auto mdat = m4a.find("mdat");
    if (mdat == std::string::npos) throw std::runtime_error("ffmpeg wrote no mdat box");
    write_file(dir / "header_only.m4a", std::string_view(m4a).substr(0, mdat + 4 + 16));
    fs::remove(full_m4a);

    // A FLAC whose metadata blocks (STREAMINFO, tags) are intact but whose frames are noise.
    const fs::path full_flac = dir / ".full.flac";
    make_audio(full_flac, {.artist = "Garbage Artist", .title = "Garbage Title", .seed = 904, .seconds = 4});
    std::string flac = read_file(full_flac);
    fs::remove(full_flac);
    if (flac.compare(0, 4, "fLaC") != 0) throw std::runtime_error("ffmpeg wrote no FLAC header");
    std::size_t at = 4;
    for (bool last = false; !last;) {
        if (at + 4 > flac.size()) throw std::runtime_error("unexpected FLAC metadata layout");
        const auto h = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(flac[at + i])); };
        last = (h(0) & 0x80) != 0;
        at += 4 + ((h(1) << 16) | (h(2) << 8) | h(3));
    }
    const std::string noise = random_bytes(flac.size() - at, 905);
    flac.replace(at, noise.size(), noise);
    write_file(dir / "garbage_audio.flac", flac);
}

} // namespace earshot::test

#include "daemon/media/tags.hpp"

#include "daemon/media/fingerprint.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <taglib/aifffile.h>
#include <taglib/apefile.h>
#include <taglib/apetag.h>
#include <taglib/asffile.h>
#include <taglib/asftag.h>
#include <taglib/fileref.h>
#include <taglib/tfilestream.h>
#include <taglib/id3v2framefactory.h>
#include <taglib/flacfile.h>
#include <taglib/id3v2tag.h>
#include <taglib/mp4file.h>
#include <taglib/mp4tag.h>
#include <taglib/mpcfile.h>
#include <taglib/mpegfile.h>
#include <taglib/oggflacfile.h>
#include <taglib/opusfile.h>
#include <taglib/speexfile.h>
#include <taglib/tpropertymap.h>
#include <taglib/trueaudiofile.h>
#include <taglib/vorbisfile.h>
#include <taglib/wavfile.h>
#include <taglib/wavpackfile.h>
#include <taglib/xingheader.h>

namespace earshot::media {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Raw file access: a descriptor opened once for the pre-checks and the content sniff.

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

// Reads up to n bytes at offset; short reads at the end of the file are normal.
std::vector<unsigned char> read_at(const Fd& fd, std::uint64_t offset, std::size_t n) {
    std::vector<unsigned char> buf(n);
    std::size_t got = 0;
    while (got < n) {
        const ssize_t r = ::pread(fd.get(), buf.data() + got, n - got, static_cast<off_t>(offset + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw MediaError(std::string("cannot read: ") + std::strerror(errno));
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    buf.resize(got);
    return buf;
}

std::uint32_t be32(const unsigned char* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
std::uint32_t le32(const unsigned char* p) {
    return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}
bool starts_with(const std::vector<unsigned char>& b, std::size_t at, std::string_view magic) {
    return b.size() >= at + magic.size() && std::memcmp(b.data() + at, magic.data(), magic.size()) == 0;
}

// ---------------------------------------------------------------------------------------------
// What the first bytes say the file is. The extension is only a hint: files get renamed, and
// download sites hand out AAC-in-MP4 as .mp3.

enum class Kind { unknown, mpeg, adts, flac, ogg_vorbis, ogg_opus, ogg_flac, ogg_speex, ogg_other, wav, aiff, mp4, asf, ape, wavpack, musepack, tta, dsf };

struct Sniff {
    Kind kind = Kind::unknown;
    bool id3_prefix = false; // an ID3v2 tag precedes the audio
};

bool is_mpeg_sync(const unsigned char* p) {
    // 11 sync bits, a valid version, a layer other than "reserved", a bitrate index that isn't "bad".
    return p[0] == 0xFF && (p[1] & 0xE0) == 0xE0 && ((p[1] >> 3) & 3) != 1 && ((p[1] >> 1) & 3) != 0 && (p[2] >> 4) != 0xF;
}
bool is_adts_sync(const unsigned char* p) {
    return p[0] == 0xFF && (p[1] & 0xF6) == 0xF0; // 12 sync bits, layer 00
}

Kind sniff_at(const std::vector<unsigned char>& b) {
    if (b.size() < 12) return Kind::unknown;
    if (starts_with(b, 0, "fLaC")) return Kind::flac;
    if (starts_with(b, 0, "OggS")) {
        // The first page's first packet names the codec.
        if (b.size() < 28) return Kind::ogg_other;
        const std::size_t at = 27 + b[26];
        if (starts_with(b, at, "\x01vorbis")) return Kind::ogg_vorbis;
        if (starts_with(b, at, "OpusHead")) return Kind::ogg_opus;
        if (starts_with(b, at, "\x7F" "FLAC")) return Kind::ogg_flac;
        if (starts_with(b, at, "Speex   ")) return Kind::ogg_speex;
        return Kind::ogg_other;
    }
    if (starts_with(b, 0, "RIFF") && starts_with(b, 8, "WAVE")) return Kind::wav;
    if (starts_with(b, 0, "RF64") && starts_with(b, 8, "WAVE")) return Kind::wav;
    if (starts_with(b, 0, "FORM") && (starts_with(b, 8, "AIFF") || starts_with(b, 8, "AIFC"))) return Kind::aiff;
    if (starts_with(b, 4, "ftyp")) return Kind::mp4;
    if (starts_with(b, 0, "\x30\x26\xB2\x75\x8E\x66\xCF\x11")) return Kind::asf;
    if (starts_with(b, 0, "MAC ")) return Kind::ape;
    if (starts_with(b, 0, "wvpk")) return Kind::wavpack;
    if (starts_with(b, 0, "MPCK") || starts_with(b, 0, "MP+")) return Kind::musepack;
    if (starts_with(b, 0, "TTA1")) return Kind::tta;
    if (starts_with(b, 0, "DSD ")) return Kind::dsf;
    if (is_adts_sync(b.data())) return Kind::adts;
    if (is_mpeg_sync(b.data())) return Kind::mpeg;
    return Kind::unknown;
}

Sniff sniff(const Fd& fd) {
    auto head = read_at(fd, 0, 64);
    if (!starts_with(head, 0, "ID3") || head.size() < 10) return {sniff_at(head), false};
    // Skip the ID3v2 tag (syncsafe size, plus a footer if flagged) and look at what follows.
    const std::uint64_t size = (std::uint64_t{head[6] & 0x7Fu} << 21) | (std::uint64_t{head[7] & 0x7Fu} << 14) |
                               (std::uint64_t{head[8] & 0x7Fu} << 7) | (head[9] & 0x7Fu);
    const std::uint64_t after = 10 + size + ((head[5] & 0x10) ? 10 : 0);
    const Kind next = sniff_at(read_at(fd, after, 64));
    // Anything else after an ID3v2 tag is almost always MP3 with padding or junk before the first
    // frame, which TagLib's MPEG reader searches past.
    return {next == Kind::unknown ? Kind::mpeg : next, true};
}

const char* kind_name(Kind k) {
    switch (k) {
    case Kind::mpeg: return "MP3";
    case Kind::adts: return "AAC";
    case Kind::flac: return "FLAC";
    case Kind::ogg_vorbis: return "Ogg Vorbis";
    case Kind::ogg_opus: return "Opus";
    case Kind::ogg_flac: return "Ogg FLAC";
    case Kind::ogg_speex: return "Speex";
    case Kind::ogg_other: return "Ogg";
    case Kind::wav: return "WAV";
    case Kind::aiff: return "AIFF";
    case Kind::mp4: return "MP4";
    case Kind::asf: return "WMA";
    case Kind::ape: return "APE";
    case Kind::wavpack: return "WavPack";
    case Kind::musepack: return "Musepack";
    case Kind::tta: return "TTA";
    case Kind::dsf: return "DSF";
    case Kind::unknown: break;
    }
    return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Opening with TagLib.

constexpr auto kReadStyle = TagLib::AudioProperties::Accurate;

// TagLib's own extension-based choice is used only when the content wasn't recognised.
// Every reader gets a read-only stream: TagLib otherwise opens files for
// writing, which a read-only library refuses and which wakes our own
// inotify watch (IN_CLOSE_WRITE) after every scan.
std::unique_ptr<TagLib::File> open_by_kind(TagLib::IOStream* stream, Kind kind) {
    auto* id3 = TagLib::ID3v2::FrameFactory::instance();
    switch (kind) {
    case Kind::mpeg: return std::make_unique<TagLib::MPEG::File>(stream, id3, true, kReadStyle);
    case Kind::flac: return std::make_unique<TagLib::FLAC::File>(stream, id3, true, kReadStyle);
    case Kind::ogg_vorbis: return std::make_unique<TagLib::Ogg::Vorbis::File>(stream, true, kReadStyle);
    case Kind::ogg_opus: return std::make_unique<TagLib::Ogg::Opus::File>(stream, true, kReadStyle);
    case Kind::ogg_flac: return std::make_unique<TagLib::Ogg::FLAC::File>(stream, true, kReadStyle);
    case Kind::ogg_speex: return std::make_unique<TagLib::Ogg::Speex::File>(stream, true, kReadStyle);
    case Kind::wav: return std::make_unique<TagLib::RIFF::WAV::File>(stream, true, kReadStyle);
    case Kind::aiff: return std::make_unique<TagLib::RIFF::AIFF::File>(stream, true, kReadStyle);
    case Kind::mp4: return std::make_unique<TagLib::MP4::File>(stream, true, kReadStyle);
    case Kind::asf: return std::make_unique<TagLib::ASF::File>(stream, true, kReadStyle);
    case Kind::ape: return std::make_unique<TagLib::APE::File>(stream, true, kReadStyle);
    case Kind::wavpack: return std::make_unique<TagLib::WavPack::File>(stream, true, kReadStyle);
    case Kind::musepack: return std::make_unique<TagLib::MPC::File>(stream, true, kReadStyle);
    case Kind::tta: return std::make_unique<TagLib::TrueAudio::File>(stream, true, kReadStyle);
    case Kind::adts: case Kind::dsf: case Kind::ogg_other: case Kind::unknown: break;
    }
    return nullptr;
}

template <class T>
T* as(TagLib::File* f) {
    return dynamic_cast<T*>(f);
}

void identify(TagLib::File* f, MediaInfo& info) {
    auto set = [&](const char* format, const char* mime) {
        info.format = format;
        info.mimetype = mime;
    };
    if (auto* mp3 = as<TagLib::MPEG::File>(f)) {
        const auto* p = mp3->audioProperties();
        const int layer = p ? p->layer() : 3;
        set(layer == 1 ? "mp1" : layer == 2 ? "mp2" : "mp3", "audio/mpeg");
    } else if (as<TagLib::FLAC::File>(f)) {
        set("flac", "audio/flac");
    } else if (as<TagLib::Ogg::Vorbis::File>(f)) {
        set("vorbis", "audio/ogg");
    } else if (as<TagLib::Ogg::Opus::File>(f)) {
        set("opus", "audio/ogg"); // browsers play .opus served as audio/ogg, not all know audio/opus
    } else if (as<TagLib::Ogg::FLAC::File>(f)) {
        set("flac", "audio/ogg");
    } else if (as<TagLib::Ogg::Speex::File>(f)) {
        set("speex", "audio/ogg");
    } else if (auto* mp4 = as<TagLib::MP4::File>(f)) {
        const auto* p = mp4->audioProperties();
        const auto codec = p ? p->codec() : TagLib::MP4::Properties::Unknown;
        set(codec == TagLib::MP4::Properties::ALAC ? "alac" : codec == TagLib::MP4::Properties::AAC ? "aac" : "mp4", "audio/mp4");
    } else if (as<TagLib::RIFF::WAV::File>(f)) {
        set("wav", "audio/wav");
    } else if (as<TagLib::RIFF::AIFF::File>(f)) {
        set("aiff", "audio/aiff");
    } else if (as<TagLib::ASF::File>(f)) {
        set("wma", "audio/x-ms-wma");
    } else if (as<TagLib::APE::File>(f)) {
        set("ape", "audio/x-ape");
    } else if (as<TagLib::WavPack::File>(f)) {
        set("wavpack", "audio/x-wavpack");
    } else if (as<TagLib::MPC::File>(f)) {
        set("musepack", "audio/x-musepack");
    } else if (as<TagLib::TrueAudio::File>(f)) {
        set("tta", "audio/x-tta");
    } else {
        // Tracker modules and whatever else TagLib's extension table knows.
        set("unknown", "application/octet-stream");
    }
}

// ---------------------------------------------------------------------------------------------
// Structural checks for files cut short. Each compares a size the file declares with its real size.

// Declared sizes are only trusted this far: some encoders and taggers get them slightly wrong,
// and a playable file wrongly rejected is worse than a slightly short one accepted.
bool clearly_short(std::uint64_t have, std::uint64_t declared) {
    return have + 8192 + declared / 32 < declared;
}

std::string percent_of(std::uint64_t have, std::uint64_t declared) {
    return std::to_string(have * 100 / std::max<std::uint64_t>(declared, 1)) + "%";
}

std::optional<std::string> truncated_mpeg(TagLib::MPEG::File* f, std::uint64_t file_size) {
    const auto* p = f->audioProperties();
    const auto* xing = p ? p->xingHeader() : nullptr;
    if (!xing || !xing->isValid() || xing->totalSize() == 0) return std::nullopt; // CBR without a header: nothing to compare
    // Encoders disagree on whether the Xing/VBRI byte count includes a leading ID3v2 tag, so
    // compare with the whole file: that never mistakes a complete file for a cut one.
    if (!clearly_short(file_size, xing->totalSize())) return std::nullopt;
    return "corrupt or truncated: the file holds " + percent_of(file_size, xing->totalSize()) + " of the audio its header declares";
}

std::optional<std::string> truncated_iff(const Fd& fd, std::uint64_t file_size, bool little_endian) {
    const auto head = read_at(fd, 0, 12);
    if (head.size() < 12) return "corrupt or truncated: incomplete header";
    const std::uint32_t declared = little_endian ? le32(head.data() + 4) : be32(head.data() + 4);
    // Streaming writers leave 0 or 0xFFFFFFFF ("unknown"); RF64 keeps the real size elsewhere.
    if (declared == 0 || declared >= 0xFFFFFFF0u || starts_with(head, 0, "RF64")) return std::nullopt;
    if (!clearly_short(file_size, std::uint64_t{declared} + 8)) return std::nullopt;
    return "corrupt or truncated: the file holds " + percent_of(file_size, std::uint64_t{declared} + 8) + " of the data its header declares";
}

// Walks the top-level MP4 boxes: a media or index box that runs past the end of the file means
// the file was cut short. Padding boxes may be cut harmlessly, and anything that isn't a known
// top-level box is trailing junk (an ID3v1 tag appended by a confused tagger, say), not a cut.
std::optional<std::string> truncated_mp4(const Fd& fd, std::uint64_t file_size) {
    static constexpr std::array<std::string_view, 16> kTopLevel = {"ftyp", "styp", "moov", "mdat", "moof", "mfra", "sidx", "free",
                                                                  "skip", "wide", "udta", "meta", "uuid", "pdin", "emsg", "prft"};
    std::uint64_t offset = 0;
    bool media = false;
    for (int boxes = 0; offset < file_size && boxes < 4096; ++boxes) {
        const auto h = read_at(fd, offset, 16);
        if (h.size() < 8) break;
        const std::string type(reinterpret_cast<const char*>(h.data() + 4), 4);
        if (std::find(kTopLevel.begin(), kTopLevel.end(), type) == kTopLevel.end()) break;
        std::uint64_t size = be32(h.data());
        if (size == 1) {
            if (h.size() < 16) return "corrupt or truncated: the file ends inside a box header";
            size = (std::uint64_t{be32(h.data() + 8)} << 32) | be32(h.data() + 12);
        } else if (size == 0) {
            size = file_size - offset; // the last box runs to the end of the file by definition
        }
        if (size < 8) return "corrupt or truncated: invalid MP4 box size";
        if (type == "mdat" || type == "moof") media = true;
        if (offset + size > file_size) {
            if (type == "free" || type == "skip" || type == "wide") break;
            return "corrupt or truncated: the file holds " + percent_of(file_size - offset, size) + " of its '" + type + "' box";
        }
        offset += size;
    }
    if (!media) return "corrupt or truncated: no media data";
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Tag fields, by uppercase key, from whichever tag format the file uses.

using Fields = std::map<std::string, std::vector<std::string>, std::less<>>;

std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(std::string_view s) {
    const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\0'; };
    while (!s.empty() && ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && ws(s.back())) s.remove_suffix(1);
    return std::string(s);
}

void add_field(Fields& fields, std::string key, std::string_view value) {
    std::string v = trim(value);
    if (v.empty()) return;
    auto& values = fields[upper(std::move(key))];
    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(std::move(v));
}

Fields collect_fields(TagLib::File* f) {
    Fields fields;
    const TagLib::PropertyMap props = f->properties();
    for (const auto& [key, values] : props)
        for (const auto& v : values) add_field(fields, key.to8Bit(true), v.to8Bit(true));
    // TagLib 1.13 doesn't map every freeform key into its PropertyMap (ReplayGain in MP4 and ASF
    // notably); read those directly so the same keys work in every format.
    if (auto* mp4 = as<TagLib::MP4::File>(f); mp4 && mp4->tag()) {
        constexpr std::string_view prefix = "----:com.apple.iTunes:";
        for (const auto& [key, item] : mp4->tag()->itemMap()) {
            const std::string k = key.to8Bit(true);
            if (k.size() <= prefix.size() || k.compare(0, prefix.size(), prefix) != 0) continue;
            const std::string name = upper(k.substr(prefix.size()));
            if (fields.count(name)) continue;
            for (const auto& v : item.toStringList()) add_field(fields, name, v.to8Bit(true));
        }
    }
    if (auto* asf = as<TagLib::ASF::File>(f); asf && asf->tag()) {
        for (const auto& [key, attributes] : asf->tag()->attributeListMap()) {
            const std::string name = upper(key.to8Bit(true));
            if (fields.count(name)) continue;
            for (const auto& a : attributes)
                if (a.type() == TagLib::ASF::Attribute::UnicodeType) add_field(fields, name, a.toString().to8Bit(true));
        }
    }
    return fields;
}

const std::vector<std::string>* find(const Fields& fields, std::initializer_list<std::string_view> keys) {
    for (auto key : keys)
        if (auto it = fields.find(key); it != fields.end() && !it->second.empty()) return &it->second;
    return nullptr;
}

std::string first(const Fields& fields, std::initializer_list<std::string_view> keys) {
    const auto* v = find(fields, keys);
    return v ? v->front() : std::string();
}

// "3/12" -> 3, " 07" -> 7; anything without leading digits -> 0.
std::uint32_t leading_number(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    std::uint32_t n = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    return ec == std::errc() ? n : 0;
}

// The first run of exactly four digits: "2011-05-02" -> 2011, "02/05/2011" -> 2011.
std::uint32_t year_of(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
        if (j - i == 4) return leading_number(s.substr(i, 4));
        i = j;
    }
    return 0;
}

// "-6.5 dB" -> -6.5, "+2.10 dB" -> 2.1, "0.988" -> 0.988. Locale-independent.
std::optional<float> number_of(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    float v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || !std::isfinite(v)) return std::nullopt;
    return v;
}

// MusicBrainz ids are single UUIDs; some taggers pack several into one value.
std::string first_id(std::string s) {
    const auto cut = s.find_first_of(";/, ");
    if (cut != std::string::npos) s.resize(cut);
    return s;
}

index::TrackTags tags_from(const Fields& fields) {
    index::TrackTags t;
    // ARTIST in tag order (every value a multi-value field holds), then ARTISTS (Picard's list of
    // the individual credits behind a joined "A feat. B") for matching on each name.
    for (auto key : {"ARTIST", "ARTISTS"})
        if (const auto* v = find(fields, {key}))
            for (const auto& a : *v)
                if (std::find(t.artists.begin(), t.artists.end(), a) == t.artists.end()) t.artists.push_back(a);
    t.album_artist = first(fields, {"ALBUMARTIST", "ALBUM ARTIST", "ALBUM_ARTIST"});
    t.album = first(fields, {"ALBUM"});
    t.title = first(fields, {"TITLE"});
    t.genre = first(fields, {"GENRE"});
    t.track_number = leading_number(first(fields, {"TRACKNUMBER", "TRACK"}));
    t.disc_number = leading_number(first(fields, {"DISCNUMBER", "DISC"}));
    t.year = year_of(first(fields, {"DATE", "YEAR", "ORIGINALDATE", "ORIGINALYEAR"}));
    auto& mb = t.musicbrainz;
    mb.recording = first_id(first(fields, {"MUSICBRAINZ_TRACKID", "MUSICBRAINZ TRACK ID"}));
    mb.track = first_id(first(fields, {"MUSICBRAINZ_RELEASETRACKID", "MUSICBRAINZ RELEASE TRACK ID"}));
    mb.release = first_id(first(fields, {"MUSICBRAINZ_ALBUMID", "MUSICBRAINZ ALBUM ID"}));
    mb.release_group = first_id(first(fields, {"MUSICBRAINZ_RELEASEGROUPID", "MUSICBRAINZ RELEASE GROUP ID"}));
    mb.artist = first_id(first(fields, {"MUSICBRAINZ_ARTISTID", "MUSICBRAINZ ARTIST ID"}));
    mb.album_artist = first_id(first(fields, {"MUSICBRAINZ_ALBUMARTISTID", "MUSICBRAINZ ALBUM ARTIST ID"}));
    auto& rg = t.replaygain;
    rg.track_gain_db = number_of(first(fields, {"REPLAYGAIN_TRACK_GAIN"}));
    rg.track_peak = number_of(first(fields, {"REPLAYGAIN_TRACK_PEAK"}));
    rg.album_gain_db = number_of(first(fields, {"REPLAYGAIN_ALBUM_GAIN"}));
    rg.album_peak = number_of(first(fields, {"REPLAYGAIN_ALBUM_PEAK"}));
    return t;
}

// ---------------------------------------------------------------------------------------------
// Cover art: every tag format keeps pictures outside its PropertyMap.

bool id3_has_cover(TagLib::ID3v2::Tag* tag) {
    return tag && !tag->frameListMap()["APIC"].isEmpty();
}
bool xiph_has_cover(TagLib::Ogg::XiphComment* c) {
    return c && (!c->pictureList().isEmpty() || c->contains("COVERART") || c->contains("METADATA_BLOCK_PICTURE"));
}
bool ape_has_cover(TagLib::APE::Tag* tag) {
    if (!tag) return false;
    for (const auto& [key, item] : tag->itemListMap())
        if (key.upper().startsWith("COVER ART")) return true;
    return false;
}

bool has_cover(TagLib::File* f) {
    if (auto* x = as<TagLib::MPEG::File>(f))
        return (x->hasID3v2Tag() && id3_has_cover(x->ID3v2Tag())) || (x->hasAPETag() && ape_has_cover(x->APETag()));
    if (auto* x = as<TagLib::FLAC::File>(f))
        return !x->pictureList().isEmpty() || (x->hasXiphComment() && xiph_has_cover(x->xiphComment())) ||
               (x->hasID3v2Tag() && id3_has_cover(x->ID3v2Tag()));
    if (auto* x = as<TagLib::Ogg::File>(f)) return xiph_has_cover(dynamic_cast<TagLib::Ogg::XiphComment*>(x->tag()));
    if (auto* x = as<TagLib::MP4::File>(f)) {
        if (!x->tag() || !x->tag()->contains("covr")) return false;
        return !x->tag()->item("covr").toCoverArtList().isEmpty();
    }
    if (auto* x = as<TagLib::ASF::File>(f)) return x->tag() && !x->tag()->attribute("WM/Picture").isEmpty();
    if (auto* x = as<TagLib::RIFF::WAV::File>(f)) return x->hasID3v2Tag() && id3_has_cover(x->ID3v2Tag());
    if (auto* x = as<TagLib::RIFF::AIFF::File>(f)) return x->hasID3v2Tag() && id3_has_cover(x->tag());
    if (auto* x = as<TagLib::APE::File>(f)) return x->hasAPETag() && ape_has_cover(x->APETag());
    if (auto* x = as<TagLib::WavPack::File>(f)) return x->hasAPETag() && ape_has_cover(x->APETag());
    if (auto* x = as<TagLib::MPC::File>(f)) return x->hasAPETag() && ape_has_cover(x->APETag());
    return false;
}

// ---------------------------------------------------------------------------------------------
// FFmpeg for what TagLib 1.13 cannot read at all (raw ADTS AAC, DSF).

MediaInfo read_with_ffmpeg(const fs::path& file, Kind kind) {
    AudioProbe probe;
    try {
        probe = probe_audio(file);
    } catch (const FingerprintError& e) {
        throw MediaError(e.what());
    }
    if (probe.duration_s <= 0) throw MediaError(std::string("corrupt or truncated: ") + kind_name(kind) + " file holds no audio");
    Fields fields;
    for (const auto& [key, value] : probe.tags) add_field(fields, key, value);
    MediaInfo info;
    info.tags = tags_from(fields);
    info.tags.has_cover = probe.has_cover;
    info.audio.duration_ms = static_cast<std::uint32_t>(std::llround(probe.duration_s * 1000));
    info.audio.bitrate_kbps = probe.bitrate_kbps;
    info.audio.sample_rate = probe.sample_rate;
    info.audio.channels = probe.channels;
    if (kind == Kind::dsf) {
        info.format = "dsf";
        info.mimetype = "audio/x-dsf";
    } else {
        info.format = "aac";
        info.mimetype = "audio/aac";
    }
    return info;
}

std::string extension_of(const fs::path& file) {
    std::string ext = file.extension().string();
    if (!ext.empty() && ext.front() == '.') ext.erase(0, 1);
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

[[noreturn]] void throw_unreadable(const fs::path& file, const Sniff& s, std::string_view detail = {}) {
    if (s.kind != Kind::unknown)
        throw MediaError(std::string("corrupt or truncated: ") + (detail.empty() ? std::string("cannot parse this ") + kind_name(s.kind) + " file" : std::string(detail)));
    if (looks_like_audio(file))
        throw MediaError("not a recognised audio file: the contents are not ." + extension_of(file) + " audio");
    throw MediaError("not an audio file");
}

} // namespace

bool looks_like_audio(const fs::path& file) {
    static constexpr std::array<std::string_view, 24> kExtensions = {
        "mp3", "mp2", "flac", "ogg", "oga", "opus", "spx", "m4a", "m4b", "mp4", "aac", "alac", "wav",
        "aiff", "aif", "aifc", "wma", "asf", "ape", "wv", "mpc", "tta", "dsf", "wave"};
    const std::string ext = extension_of(file);
    return !ext.empty() && std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

MediaInfo read_media_info(const fs::path& file) {
    // Open once ourselves first: it gives the exact errno for unreadable files, and the bytes for
    // recognising the content.
    // O_NONBLOCK: a FIFO named like a song must not hang the scan (it is rejected just below).
    Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) throw MediaError(std::string("cannot read: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw MediaError(std::string("cannot read: ") + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw MediaError("not a regular file");
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (file_size == 0) throw MediaError("empty file");
    const Sniff s = sniff(fd);

    // TagLib 1.13 has no reader for raw ADTS AAC or DSF.
    if (s.kind == Kind::dsf || s.kind == Kind::adts) return read_with_ffmpeg(file, s.kind);

    TagLib::FileStream stream(file.c_str(), /*openReadOnly=*/true);
    if (!stream.isOpen()) throw MediaError(std::string("cannot read: ") + std::strerror(errno));
    std::unique_ptr<TagLib::File> owned;
    TagLib::FileRef ref;
    TagLib::File* f = nullptr;
    if (s.kind != Kind::unknown && s.kind != Kind::ogg_other) {
        owned = open_by_kind(&stream, s.kind);
        f = owned.get();
    } else {
        // Unrecognised content, or an Ogg stream that doesn't start with a known codec (a
        // Skeleton stream first, say): let TagLib try by extension.
        const char* unsupported = "unsupported format: Ogg stream with an unknown codec";
        if (!looks_like_audio(file)) throw MediaError(s.kind == Kind::ogg_other ? unsupported : "not an audio file");
        ref = TagLib::FileRef(&stream, true, kReadStyle);
        f = ref.file();
        if ((!f || !f->isValid()) && s.kind == Kind::ogg_other) throw MediaError(unsupported);
    }
    if (!f || !f->isValid()) throw_unreadable(file, s);

    MediaInfo info;
    identify(f, info);

    const auto* props = f->audioProperties();
    if (!props || (props->sampleRate() <= 0 && props->lengthInMilliseconds() <= 0)) {
        if (as<TagLib::MP4::File>(f)) throw MediaError("no audio stream");
        throw_unreadable(file, s, std::string("no ") + kind_name(s.kind) + " audio data found");
    }

    if (auto* mp3 = as<TagLib::MPEG::File>(f))
        if (auto why = truncated_mpeg(mp3, file_size)) throw MediaError(*why);
    if (s.kind == Kind::wav || s.kind == Kind::aiff)
        if (auto why = truncated_iff(fd, file_size, s.kind == Kind::wav)) throw MediaError(*why);
    if (s.kind == Kind::mp4)
        if (auto why = truncated_mp4(fd, file_size)) throw MediaError(*why);

    info.audio.duration_ms = static_cast<std::uint32_t>(std::max(0, props->lengthInMilliseconds()));
    info.audio.bitrate_kbps = static_cast<std::uint32_t>(std::max(0, props->bitrate()));
    info.audio.sample_rate = static_cast<std::uint32_t>(std::max(0, props->sampleRate()));
    info.audio.channels = static_cast<std::uint32_t>(std::max(0, props->channels()));
    if (info.audio.duration_ms == 0) {
        // Some valid files don't state their length (FLAC written to a pipe leaves STREAMINFO's
        // sample count at 0); FFmpeg can still measure it.
        try {
            const AudioProbe probe = probe_audio(file);
            info.audio.duration_ms = static_cast<std::uint32_t>(std::llround(probe.duration_s * 1000));
        } catch (const FingerprintError& e) {
            const std::string why = e.what();
            throw MediaError(why.rfind("corrupt or truncated", 0) == 0 ? why : "corrupt or truncated: " + why);
        }
        if (info.audio.duration_ms == 0) throw MediaError("corrupt or truncated: the audio has no length");
    }
    if (info.audio.bitrate_kbps == 0)
        info.audio.bitrate_kbps = static_cast<std::uint32_t>(file_size * 8 / info.audio.duration_ms); // bits/ms = kbit/s

    info.tags = tags_from(collect_fields(f));
    info.tags.has_cover = has_cover(f);
    return info;
}

} // namespace earshot::media

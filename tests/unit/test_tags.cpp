#define BOOST_TEST_MODULE media_tags
#include <boost/test/unit_test.hpp>

#include "daemon/media/tags.hpp"
#include "tests/support/audio.hpp"
#include "tests/support/temp_dir.hpp"

#include <taglib/mp4file.h>
#include <taglib/mp4tag.h>
#include <taglib/fileref.h>
#include <taglib/tpropertymap.h>

#include <atomic>
#include <cmath>
#include <iterator>
#include <thread>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <vector>

using namespace earshot;
using earshot::media::MediaError;
using earshot::media::read_media_info;
namespace fs = std::filesystem;

namespace {

const std::string kRecording = "5b11f4ce-a62d-471e-81fc-a69a8278c7da";
const std::string kReleaseTrack = "0c2fb1f4-63d4-4c3b-9a5f-7b7b1a3c4f10";
const std::string kRelease = "1d6f5ef4-0a3b-4ba5-9d9e-2a2e6f8b1c11";
const std::string kReleaseGroup = "2e7a6f05-1b4c-4cb6-8eaf-3b3f7a9c2d12";
const std::string kArtist = "3f8b7a16-2c5d-4dc7-9fb0-4c4a8bad3e13";
const std::string kAlbumArtist = "4a9c8b27-3d6e-4ed8-80c1-5d5b9cbe4f14";

// The common tags, spelled the way each tag format's own taggers (Picard, foobar2000) spell them.
enum class Style { vorbis, id3, asf, mp4, riff_info };

std::vector<std::string> tags_for(Style style) {
    std::vector<std::string> v = {"album_artist=Various Artists", "track=3/12", "disc=2/3", "date=2011-05-02", "genre=Ambient"};
    auto add = [&](std::initializer_list<std::string> more) { v.insert(v.end(), more); };
    switch (style) {
    case Style::vorbis:
        add({"MUSICBRAINZ_TRACKID=" + kRecording, "MUSICBRAINZ_RELEASETRACKID=" + kReleaseTrack, "MUSICBRAINZ_ALBUMID=" + kRelease,
             "MUSICBRAINZ_RELEASEGROUPID=" + kReleaseGroup, "MUSICBRAINZ_ARTISTID=" + kArtist, "MUSICBRAINZ_ALBUMARTISTID=" + kAlbumArtist,
             "REPLAYGAIN_TRACK_GAIN=-6.50 dB", "REPLAYGAIN_TRACK_PEAK=0.988547", "REPLAYGAIN_ALBUM_GAIN=+1.25 dB", "REPLAYGAIN_ALBUM_PEAK=1.000000"});
        break;
    case Style::id3: // TXXX frames
        add({"MusicBrainz Track Id=" + kRecording, "MusicBrainz Release Track Id=" + kReleaseTrack, "MusicBrainz Album Id=" + kRelease,
             "MusicBrainz Release Group Id=" + kReleaseGroup, "MusicBrainz Artist Id=" + kArtist, "MusicBrainz Album Artist Id=" + kAlbumArtist,
             "REPLAYGAIN_TRACK_GAIN=-6.50 dB", "REPLAYGAIN_TRACK_PEAK=0.988547", "REPLAYGAIN_ALBUM_GAIN=+1.25 dB", "REPLAYGAIN_ALBUM_PEAK=1.000000"});
        break;
    case Style::asf:
        add({"MusicBrainz/Track Id=" + kRecording, "MusicBrainz/Release Track Id=" + kReleaseTrack, "MusicBrainz/Album Id=" + kRelease,
             "MusicBrainz/Release Group Id=" + kReleaseGroup, "MusicBrainz/Artist Id=" + kArtist, "MusicBrainz/Album Artist Id=" + kAlbumArtist,
             "replaygain_track_gain=-6.50 dB", "replaygain_track_peak=0.988547", "replaygain_album_gain=+1.25 dB", "replaygain_album_peak=1.000000"});
        break;
    case Style::mp4:       // ffmpeg can't write MP4 freeform atoms; add_mp4_freeform() does
    case Style::riff_info: // RIFF INFO has no place for these
        break;
    }
    return v;
}

// MusicBrainz ids as TagLib maps them into MP4, ReplayGain as the freeform atoms foobar2000 and
// Picard write (TagLib 1.13 leaves those out of its PropertyMap).
void add_mp4_freeform(const fs::path& file) {
    TagLib::MP4::File f(file.c_str());
    BOOST_REQUIRE(f.isValid());
    TagLib::PropertyMap props = f.properties();
    props.replace("MUSICBRAINZ_TRACKID", TagLib::StringList(TagLib::String(kRecording, TagLib::String::UTF8)));
    props.replace("MUSICBRAINZ_RELEASETRACKID", TagLib::StringList(TagLib::String(kReleaseTrack, TagLib::String::UTF8)));
    props.replace("MUSICBRAINZ_ALBUMID", TagLib::StringList(TagLib::String(kRelease, TagLib::String::UTF8)));
    props.replace("MUSICBRAINZ_RELEASEGROUPID", TagLib::StringList(TagLib::String(kReleaseGroup, TagLib::String::UTF8)));
    props.replace("MUSICBRAINZ_ARTISTID", TagLib::StringList(TagLib::String(kArtist, TagLib::String::UTF8)));
    props.replace("MUSICBRAINZ_ALBUMARTISTID", TagLib::StringList(TagLib::String(kAlbumArtist, TagLib::String::UTF8)));
    BOOST_REQUIRE(f.setProperties(props).isEmpty());
    auto* tag = f.tag();
    tag->setItem("----:com.apple.iTunes:replaygain_track_gain", TagLib::MP4::Item(TagLib::StringList("-6.50 dB")));
    tag->setItem("----:com.apple.iTunes:replaygain_track_peak", TagLib::MP4::Item(TagLib::StringList("0.988547")));
    tag->setItem("----:com.apple.iTunes:replaygain_album_gain", TagLib::MP4::Item(TagLib::StringList("+1.25 dB")));
    tag->setItem("----:com.apple.iTunes:replaygain_album_peak", TagLib::MP4::Item(TagLib::StringList("1.000000")));
    BOOST_REQUIRE(f.save());
}

// Rewrites the ARTIST field as a real multi-value field (ffmpeg's -metadata can only write one value).
void set_artists(const fs::path& file, const std::vector<std::string>& artists, const std::vector<std::string>& artists_field = {}) {
    TagLib::FileRef f(file.c_str());
    BOOST_REQUIRE(!f.isNull());
    TagLib::PropertyMap props = f.file()->properties();
    auto to_list = [](const std::vector<std::string>& v) {
        TagLib::StringList l;
        for (const auto& s : v) l.append(TagLib::String(s, TagLib::String::UTF8));
        return l;
    };
    props.replace("ARTIST", to_list(artists));
    if (!artists_field.empty()) props.replace("ARTISTS", to_list(artists_field));
    const auto rejected = f.file()->setProperties(props);
    BOOST_REQUIRE_MESSAGE(!rejected.contains("ARTIST"), "format refused a multi-value ARTIST");
    BOOST_REQUIRE(f.save());
}

struct FormatCase {
    std::string ext, format, mimetype;
    Style style;
    std::uint32_t sample_rate;
    bool cover;
};

const std::vector<FormatCase> kFormats = {
    {".flac", "flac", "audio/flac", Style::vorbis, 44100, true},
    {".mp3", "mp3", "audio/mpeg", Style::id3, 44100, true},
    {".ogg", "vorbis", "audio/ogg", Style::vorbis, 44100, false},
    {".opus", "opus", "audio/ogg", Style::vorbis, 48000, false},
    {".m4a", "aac", "audio/mp4", Style::mp4, 44100, true},
    {".wav", "wav", "audio/wav", Style::riff_info, 44100, false},
    {".aiff", "aiff", "audio/aiff", Style::id3, 44100, false},
    {".wma", "wma", "audio/x-ms-wma", Style::asf, 44100, false},
    {".aac", "aac", "audio/aac", Style::id3, 44100, false}, // raw ADTS: read through FFmpeg
};

void check_musicbrainz_and_replaygain(const index::TrackTags& t) {
    BOOST_TEST(t.musicbrainz.recording == kRecording);
    BOOST_TEST(t.musicbrainz.track == kReleaseTrack);
    BOOST_TEST(t.musicbrainz.release == kRelease);
    BOOST_TEST(t.musicbrainz.release_group == kReleaseGroup);
    BOOST_TEST(t.musicbrainz.artist == kArtist);
    BOOST_TEST(t.musicbrainz.album_artist == kAlbumArtist);
    BOOST_REQUIRE(t.replaygain.track_gain_db.has_value());
    BOOST_TEST(*t.replaygain.track_gain_db == -6.5f, boost::test_tools::tolerance(1e-4f));
    BOOST_REQUIRE(t.replaygain.track_peak.has_value());
    BOOST_TEST(*t.replaygain.track_peak == 0.988547f, boost::test_tools::tolerance(1e-4f));
    BOOST_REQUIRE(t.replaygain.album_gain_db.has_value());
    BOOST_TEST(*t.replaygain.album_gain_db == 1.25f, boost::test_tools::tolerance(1e-4f));
    BOOST_REQUIRE(t.replaygain.album_peak.has_value());
    BOOST_TEST(*t.replaygain.album_peak == 1.0f, boost::test_tools::tolerance(1e-4f));
}

struct Fixture {
    test::TempDir dir{"earshot-tags"};
    fs::path cover = dir / "cover.png";
    Fixture() { test::make_cover_png(cover); }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(reads_tags_and_properties_in_every_format, Fixture) {
    for (const auto& fc : kFormats) {
        BOOST_TEST_CONTEXT("format " << fc.ext) {
            const fs::path file = dir / ("track" + fc.ext);
            test::make_audio(file, {.artist = "Art One", .title = "Title Øne", .album = "The Album", .extra_metadata = tags_for(fc.style),
                                    .seed = 3, .seconds = 6, .cover = fc.cover ? cover : fs::path()});
            if (fc.style == Style::mp4) add_mp4_freeform(file);

            const auto info = read_media_info(file);
            BOOST_TEST(info.format == fc.format);
            BOOST_TEST(info.mimetype == fc.mimetype);
            BOOST_TEST(std::abs(static_cast<int>(info.audio.duration_ms) - 6000) <= 100, "duration " << info.audio.duration_ms);
            BOOST_TEST(info.audio.sample_rate == fc.sample_rate);
            BOOST_TEST(info.audio.channels == 2u);
            BOOST_TEST(info.audio.bitrate_kbps > 0u);

            const auto& t = info.tags;
            BOOST_TEST(t.artists == std::vector<std::string>{"Art One"}, boost::test_tools::per_element());
            BOOST_TEST(t.title == "Title Øne");
            BOOST_TEST(t.album == "The Album");
            BOOST_TEST(t.genre == "Ambient");
            BOOST_TEST(t.track_number == 3u);
            BOOST_TEST(t.year == 2011u);
            BOOST_TEST(t.has_cover == fc.cover);
            if (fc.style != Style::riff_info) {
                BOOST_TEST(t.album_artist == "Various Artists");
                BOOST_TEST(t.disc_number == 2u);
                check_musicbrainz_and_replaygain(t);
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(keeps_every_value_of_a_multi_value_artist, Fixture) {
    for (const std::string ext : {".flac", ".ogg", ".opus", ".mp3", ".m4a"}) {
        BOOST_TEST_CONTEXT("format " << ext) {
            const fs::path file = dir / ("multi" + ext);
            test::make_audio(file, {.artist = "placeholder", .title = "Duet", .seed = 4, .seconds = 3});
            set_artists(file, {"Art One", "Second Artist"});
            const auto info = read_media_info(file);
            BOOST_TEST(info.tags.artists == (std::vector<std::string>{"Art One", "Second Artist"}), boost::test_tools::per_element());
            BOOST_TEST(info.tags.title == "Duet");
        }
    }
    // Picard's layout: one joined display credit in ARTIST, the individual names in ARTISTS.
    const fs::path picard = dir / "picard.flac";
    test::make_audio(picard, {.title = "Feature", .seed = 5, .seconds = 3});
    set_artists(picard, {"Art One feat. Guest"}, {"Art One", "Guest"});
    BOOST_TEST(read_media_info(picard).tags.artists == (std::vector<std::string>{"Art One feat. Guest", "Art One", "Guest"}),
               boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(missing_tags_stay_empty, Fixture) {
    const fs::path file = dir / "bare.flac";
    test::make_audio(file, {.seed = 6, .seconds = 3});
    const auto info = read_media_info(file);
    BOOST_TEST(info.tags.title.empty());
    BOOST_TEST(info.tags.artists.empty());
    BOOST_TEST(info.tags.album.empty());
    BOOST_TEST(info.tags.track_number == 0u);
    BOOST_TEST(info.tags.year == 0u);
    BOOST_TEST(!info.tags.replaygain.track_gain_db.has_value());
    BOOST_TEST(info.tags.musicbrainz.recording.empty());
    BOOST_TEST(!info.tags.has_cover);
    BOOST_TEST(std::abs(static_cast<int>(info.audio.duration_ms) - 3000) <= 50);
}

BOOST_FIXTURE_TEST_CASE(corrupt_files_are_rejected_with_a_reason, Fixture) {
    const fs::path bad = dir / "bad";
    test::make_corrupt_variants(bad);
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"truncated.mp3", "corrupt or truncated"}, {"garbage.flac", "not a recognised audio file"},
        {"zero.ogg", "empty file"},                {"header_only.m4a", "corrupt or truncated"},
        {"id3_only.mp3", "corrupt or truncated"},  {"notes.txt", "not an audio file"},
    };
    for (const auto& [name, reason] : expected) {
        BOOST_TEST_CONTEXT(name) {
            BOOST_REQUIRE(fs::exists(bad / name));
            try {
                read_media_info(bad / name);
                BOOST_ERROR("accepted a bad file");
            } catch (const MediaError& e) {
                const std::string what = e.what();
                BOOST_TEST_MESSAGE(name << ": " << what);
                BOOST_TEST(what.rfind(reason, 0) == 0, "reason was: " << what);
            }
        }
    }
    // Valid header and tags over undecodable audio: TagLib can't tell, the fingerprinter will.
    const auto info = read_media_info(bad / "garbage_audio.flac");
    BOOST_TEST(info.tags.title == "Garbage Title");
    BOOST_TEST(info.format == "flac");
}

BOOST_FIXTURE_TEST_CASE(unreadable_paths_say_why, Fixture) {
    BOOST_CHECK_EXCEPTION(read_media_info(dir / "missing.flac"), MediaError, [](const MediaError& e) {
        return std::string(e.what()) == "cannot read: No such file or directory";
    });
    fs::create_directory(dir / "folder.mp3");
    BOOST_CHECK_EXCEPTION(read_media_info(dir / "folder.mp3"), MediaError,
                          [](const MediaError& e) { return std::string(e.what()) == "not a regular file"; });
    // A FIFO must be refused, not block the scan waiting for a writer.
    BOOST_REQUIRE(::mkfifo((dir / "pipe.flac").c_str(), 0600) == 0);
    BOOST_CHECK_EXCEPTION(read_media_info(dir / "pipe.flac"), MediaError,
                          [](const MediaError& e) { return std::string(e.what()) == "not a regular file"; });
}

BOOST_FIXTURE_TEST_CASE(content_decides_the_format_not_the_extension, Fixture) {
    // make_audio picks the codec by extension, so write a FLAC and rename it.
    test::make_audio(dir / "a.flac", {.title = "Flac Inside", .seed = 7, .seconds = 3});
    fs::rename(dir / "a.flac", dir / "really_flac.mp3");
    const auto flac = read_media_info(dir / "really_flac.mp3");
    BOOST_TEST(flac.format == "flac");
    BOOST_TEST(flac.mimetype == "audio/flac");
    BOOST_TEST(flac.tags.title == "Flac Inside");

    test::make_audio(dir / "b.mp3", {.title = "Mp3 Inside", .seed = 8, .seconds = 3});
    fs::rename(dir / "b.mp3", dir / "really_mp3.ogg");
    const auto mp3 = read_media_info(dir / "really_mp3.ogg");
    BOOST_TEST(mp3.format == "mp3");
    BOOST_TEST(mp3.tags.title == "Mp3 Inside");
}

BOOST_FIXTURE_TEST_CASE(non_utf8_file_names_work, Fixture) {
    // Latin-1 "café" and a stray 0xFF: bytes no UTF-8 decoder accepts.
    const fs::path file = dir / fs::path(std::string("caf\xE9 \xFF\xFE.flac"));
    test::make_audio(file, {.artist = "Bytes", .title = "Not UTF-8", .seed = 9, .seconds = 3});
    BOOST_REQUIRE(fs::exists(file));
    const auto info = read_media_info(file);
    BOOST_TEST(info.tags.title == "Not UTF-8");
    BOOST_TEST(info.format == "flac");
}

BOOST_FIXTURE_TEST_CASE(a_flac_that_states_no_length_is_measured, Fixture) {
    // Written as to a pipe: STREAMINFO's total sample count stays 0, so TagLib reports no length.
    const fs::path src = dir / "src.flac";
    test::make_audio(src, {.title = "Streamed", .seed = 10, .seconds = 5});
    const fs::path streamed = dir / "streamed.flac";
    test::run_ffmpeg({"-i", src.string(), "-c:a", "copy", "-seekable", "0", streamed.string()});
    const auto info = read_media_info(streamed);
    BOOST_TEST(std::abs(static_cast<int>(info.audio.duration_ms) - 5000) <= 100, "duration " << info.audio.duration_ms);
    BOOST_TEST(info.tags.title == "Streamed");
}

namespace {
std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void spit(const fs::path& p, std::string_view bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}
} // namespace

BOOST_FIXTURE_TEST_CASE(cut_files_are_caught_but_trailing_junk_is_not, Fixture) {
    test::make_audio(dir / "full.wav", {.title = "Cut", .seed = 13, .seconds = 4});
    const std::string wav = slurp(dir / "full.wav");
    spit(dir / "cut.wav", std::string_view(wav).substr(0, wav.size() / 2));
    BOOST_CHECK_EXCEPTION(read_media_info(dir / "cut.wav"), MediaError,
                          [](const MediaError& e) { return std::string(e.what()).rfind("corrupt or truncated", 0) == 0; });

    // A confused tagger appended an ID3v1 tag to an MP4: junk after the last box, not a cut.
    test::make_audio(dir / "junk.m4a", {.title = "Junk Tail", .seed = 14, .seconds = 3});
    spit(dir / "junk.m4a", slurp(dir / "junk.m4a") + "TAG" + std::string(125, ' '));
    const auto info = read_media_info(dir / "junk.m4a");
    BOOST_TEST(info.tags.title == "Junk Tail");
    BOOST_TEST(info.format == "aac");
}

BOOST_FIXTURE_TEST_CASE(concurrent_reads_agree_with_serial_ones, Fixture) {
    std::vector<fs::path> files;
    for (const std::string ext : {".flac", ".mp3", ".ogg", ".opus", ".m4a", ".wav"}) {
        files.push_back(dir / ("c" + ext));
        test::make_audio(files.back(), {.artist = "Conc", .title = "Title " + ext, .seed = 15, .seconds = 2, .cover = ext == ".mp3" ? cover : fs::path()});
    }
    std::vector<media::MediaInfo> serial;
    for (const auto& f : files) serial.push_back(read_media_info(f));
    std::atomic<int> mismatches{0};
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < 2; ++t)
            threads.emplace_back([&] {
                for (int round = 0; round < 20; ++round)
                    for (std::size_t i = 0; i < files.size(); ++i) {
                        const auto info = read_media_info(files[i]);
                        if (info.tags.title != serial[i].tags.title || info.audio.duration_ms != serial[i].audio.duration_ms ||
                            info.tags.has_cover != serial[i].tags.has_cover || info.format != serial[i].format)
                            ++mismatches;
                    }
            });
    }
    BOOST_TEST(mismatches.load() == 0);
}

BOOST_AUTO_TEST_CASE(extension_check_for_the_scanner) {
    using media::looks_like_audio;
    for (const char* name : {"a.mp3", "B.FLAC", "c.Ogg", "d.oga", "e.opus", "f.m4a", "g.mp4", "h.aac", "i.alac", "j.wav", "k.aiff", "l.aif",
                             "m.wma", "n.ape", "o.wv", "p.mpc", "q.spx", "r.dsf", "/music/x y/s.flac"})
        BOOST_TEST(looks_like_audio(name), name);
    for (const char* name : {"cover.jpg", "folder.png", "album.cue", "rip.log", "notes.txt", "list.m3u", "noext", ".flac.part", "mp3"})
        BOOST_TEST(!looks_like_audio(name), name);
}

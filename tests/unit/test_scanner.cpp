// The scanner against real files on disk, generated with FFmpeg.
#define BOOST_TEST_MODULE scanner
#include <boost/test/unit_test.hpp>

#include "daemon/index/scanner.hpp"
#include "daemon/index/walk.hpp"
#include "tests/support/audio.hpp"
#include "tests/support/temp_dir.hpp"

#include <map>
#include <mutex>
#include <set>
#include <string>

using namespace earshot;
using namespace earshot::index;
namespace fs = std::filesystem;

namespace {

struct Recorder final : IndexObserver {
    std::mutex m;
    std::size_t updates = 0, removals = 0;
    void track_updated(const Track&) override {
        std::lock_guard l(m);
        ++updates;
    }
    void track_removed(TrackId) override {
        std::lock_guard l(m);
        ++removals;
    }
    void reset() {
        std::lock_guard l(m);
        updates = removals = 0;
    }
};

struct Library {
    test::TempDir tmp{"earshot-scan"};
    fs::path music = tmp / "music";
    fs::path data = tmp / "data";
    Recorder recorder;
    std::unique_ptr<Store> store;
    std::unique_ptr<Scanner> scanner;

    Library() { fs::create_directories(music); }

    void open(bool fingerprints = true) {
        scanner.reset();
        store.reset();
        store = std::make_unique<Store>(data);
        ScannerOptions o;
        o.roots = {music.string()};
        o.threads = 2;
        o.fingerprints = fingerprints;
        o.fingerprint_seconds = 30;
        scanner = std::make_unique<Scanner>(*store, o, recorder);
    }
    void scan(std::vector<std::string> scopes = {}) {
        recorder.reset();
        BOOST_REQUIRE(scanner->request(std::move(scopes)));
        scanner->wait_idle();
    }
    std::map<std::string, Track> tracks() {
        std::map<std::string, Track> out;
        store->read([&](const ReadTxn& r) {
            r.for_each_track([&](const Track& t) { out.emplace(fs::path(t.path).filename().string(), t); });
            return 0;
        });
        return out;
    }
    std::map<std::string, std::string> failures() {
        std::map<std::string, std::string> out;
        store->read([&](const ReadTxn& r) {
            r.for_each_failure([&](const Failure& f) { out.emplace(fs::path(f.path).filename().string(), f.reason); });
            return 0;
        });
        return out;
    }
};


} // namespace

BOOST_AUTO_TEST_CASE(indexes_every_format_and_records_bad_files) {
    Library lib;
    for (auto ext : {"flac", "mp3", "ogg", "opus", "m4a", "wav"})
        test::make_audio(lib.music / "fmt" / (std::string("song.") + ext), {.artist = "Artist", .title = std::string("Song ") + ext, .seed = 1, .seconds = 6});
    test::make_corrupt_variants(lib.music / "bad");
    lib.open(false);
    lib.scan();

    const auto tracks = lib.tracks();
    for (auto ext : {"flac", "mp3", "ogg", "opus", "m4a", "wav"}) {
        BOOST_TEST_CONTEXT(ext) {
            auto it = tracks.find(std::string("song.") + ext);
            BOOST_TEST_REQUIRE((it != tracks.end()));
            BOOST_TEST(it->second.tags.title == std::string("Song ") + ext);
            BOOST_TEST(it->second.audio.duration_ms > 5000u);
            BOOST_TEST(!it->second.mimetype.empty());
        }
    }
    const auto failures = lib.failures();
    // Exactly the five unindexable variants (audio.hpp lists them), each with
    // its reason: garbage_audio.flac is indexed without a fingerprint instead,
    // and notes.txt is not audio, so it is skipped rather than a failure.
    const std::set<std::string> expected{"truncated.mp3", "id3_only.mp3", "garbage.flac", "zero.ogg", "header_only.m4a"};
    std::set<std::string> failed;
    for (const auto& [name, reason] : failures) {
        failed.insert(name);
        BOOST_TEST(!reason.empty(), name);
    }
    BOOST_TEST(failures.size() == 5u);
    std::string names;
    for (const auto& f : failed) names += f + " ";
    BOOST_TEST((failed == expected), "failures recorded: " << names);
    BOOST_TEST(tracks.contains("garbage_audio.flac"));
    BOOST_TEST(!tracks.contains("notes.txt"));
    const auto s = lib.scanner->status();
    BOOST_TEST(!s.running);
    BOOST_TEST(s.files_done == s.files_total);
}

BOOST_AUTO_TEST_CASE(rescans_skip_unchanged_and_follow_moves_and_deletions) {
    Library lib;
    test::make_audio(lib.music / "a" / "one.mp3", {.artist = "A", .title = "One", .seed = 1, .seconds = 6});
    test::make_audio(lib.music / "a" / "two.mp3", {.artist = "A", .title = "Two", .seed = 2, .seconds = 6});
    test::make_audio(lib.music / "a" / "three.ogg", {.artist = "A", .title = "Three", .seed = 3, .seconds = 6});
    lib.open(false);
    lib.scan();
    auto before = lib.tracks();
    BOOST_TEST_REQUIRE(before.size() == 3u);

    lib.scan();
    BOOST_TEST(lib.recorder.updates == 0u);
    BOOST_TEST(lib.recorder.removals == 0u);

    fs::create_directories(lib.music / "b");
    fs::rename(lib.music / "a" / "one.mp3", lib.music / "b" / "uno.mp3");
    fs::remove(lib.music / "a" / "two.mp3");
    lib.scan();
    auto after = lib.tracks();
    BOOST_TEST(after.size() == 2u);
    BOOST_TEST_REQUIRE(after.contains("uno.mp3"));
    BOOST_TEST(after["uno.mp3"].id == before["one.mp3"].id);
    BOOST_TEST(after["uno.mp3"].recording == before["one.mp3"].recording);
    BOOST_TEST(!after.contains("two.mp3"));
    BOOST_TEST(lib.recorder.removals == 1u);

    // Copied elsewhere (a new inode, as across filesystems) and the original
    // deleted: recognised by its content id, identity kept.
    fs::copy_file(lib.music / "b" / "uno.mp3", lib.music / "a" / "eins.mp3");
    fs::remove(lib.music / "b" / "uno.mp3");
    lib.scan();
    after = lib.tracks();
    BOOST_TEST_REQUIRE(after.contains("eins.mp3"));
    BOOST_TEST(after["eins.mp3"].id == before["one.mp3"].id);
    BOOST_TEST(after["eins.mp3"].content == before["one.mp3"].content);
    BOOST_TEST(after.size() == 2u);

    // Rewritten in place with other audio: same track, new content.
    test::make_audio(lib.music / "a" / "three.ogg", {.artist = "A", .title = "Three (new mix)", .seed = 9, .seconds = 6});
    lib.scan();
    after = lib.tracks();
    BOOST_TEST(after["three.ogg"].id == before["three.ogg"].id);
    BOOST_TEST(after["three.ogg"].content != before["three.ogg"].content);
    BOOST_TEST(after["three.ogg"].tags.title == "Three (new mix)");
}

BOOST_AUTO_TEST_CASE(missing_or_unmounted_folder_keeps_its_tracks) {
    Library lib;
    test::make_audio(lib.music / "x.flac", {.artist = "A", .title = "X", .seed = 1, .seconds = 6});
    test::make_audio(lib.music / "y.flac", {.artist = "A", .title = "Y", .seed = 2, .seconds = 6});
    lib.open(false);
    lib.scan();
    BOOST_TEST_REQUIRE(lib.tracks().size() == 2u);

    // The folder is gone (a disconnected disk).
    fs::rename(lib.music, lib.tmp / "elsewhere");
    lib.scan();
    BOOST_TEST(lib.tracks().size() == 2u);
    // The mount point is there but empty (an unmounted share).
    fs::create_directories(lib.music);
    lib.scan();
    BOOST_TEST(lib.tracks().size() == 2u);
    // Back again: nothing is re-read.
    fs::remove(lib.music);
    fs::rename(lib.tmp / "elsewhere", lib.music);
    lib.scan();
    BOOST_TEST(lib.tracks().size() == 2u);
    BOOST_TEST(lib.recorder.updates == 0u);
}

BOOST_AUTO_TEST_CASE(symlinks_odd_names_and_loops) {
    Library lib;
    test::make_audio(lib.music / "real" / "song.mp3", {.artist = "A", .title = "Song", .seed = 1, .seconds = 6});
    // A link to a file inside the library and a link back up the tree.
    fs::create_symlink(lib.music / "real" / "song.mp3", lib.music / "link-to-song.mp3");
    fs::create_symlink(lib.music, lib.music / "real" / "loop");
    // A folder outside the library reached through a link is followed once.
    test::make_audio(lib.tmp / "outside" / "ext.ogg", {.artist = "B", .title = "Outside", .seed = 2, .seconds = 6});
    fs::create_symlink(lib.tmp / "outside", lib.music / "outside-link");
    fs::create_symlink(lib.tmp / "outside", lib.music / "outside-link-2");
    // Names that are not UTF-8, and two names that differ only by normalisation.
    test::make_audio(lib.music / "\xff\xfe raw.mp3", {.artist = "C", .title = "Raw bytes", .seed = 3, .seconds = 6});
    test::make_audio(lib.music / "Caf\xc3\xa9.mp3", {.artist = "D", .title = "NFC", .seed = 4, .seconds = 6});
    test::make_audio(lib.music / "Cafe\xcc\x81.mp3", {.artist = "D", .title = "NFD", .seed = 5, .seconds = 6});
    lib.open(false);
    lib.scan();

    const auto tracks = lib.tracks();
    std::size_t songs = 0, outside = 0;
    for (const auto& [name, t] : tracks) {
        songs += t.tags.title == "Song";
        outside += t.tags.title == "Outside";
    }
    BOOST_TEST(songs == 1u);
    BOOST_TEST(outside == 1u);
    BOOST_TEST(tracks.contains("\xff\xfe raw.mp3"));
    BOOST_TEST(tracks.contains("Caf\xc3\xa9.mp3"));
    BOOST_TEST(tracks.contains("Cafe\xcc\x81.mp3"));
    BOOST_TEST(tracks.size() == 5u);
    bool loop_reported = false;
    for (const auto& [name, reason] : lib.failures()) loop_reported |= reason.find("loop") != std::string::npos;
    BOOST_TEST(loop_reported);
}

BOOST_AUTO_TEST_CASE(same_recording_in_several_encodings_shares_a_recording_id) {
    Library lib;
    test::make_audio(lib.music / "flac" / "s.flac", {.artist = "Artist", .title = "Same", .seed = 7, .seconds = 30});
    test::make_audio(lib.music / "mp3" / "s.mp3", {.artist = "Artist", .title = "Same", .seed = 7, .seconds = 30});
    test::make_audio(lib.music / "opus" / "s.opus", {.artist = "Artist", .title = "Same", .seed = 7, .seconds = 30});
    test::make_audio(lib.music / "other" / "o.flac", {.artist = "Artist", .title = "Other", .seed = 8, .seconds = 30});
    lib.open(true);
    lib.scan();
    const auto tracks = lib.tracks();
    BOOST_TEST_REQUIRE(tracks.size() == 4u);
    for (const auto& [name, t] : tracks) BOOST_TEST((t.fingerprint == FingerprintState::done), name);
    BOOST_TEST(tracks.at("s.flac").recording == tracks.at("s.mp3").recording);
    BOOST_TEST(tracks.at("s.flac").recording == tracks.at("s.opus").recording);
    BOOST_TEST(tracks.at("o.flac").recording != tracks.at("s.flac").recording);
    // Lossless ranks above lossy among encodings of one recording.
    BOOST_TEST(tracks.at("s.flac").quality() > tracks.at("s.mp3").quality());
    const auto s = lib.scanner->status();
    BOOST_TEST(s.fingerprints_done == 4u);
}

BOOST_AUTO_TEST_CASE(undecodable_audio_with_good_tags_is_indexed_without_fingerprint) {
    Library lib;
    test::make_corrupt_variants(lib.music);
    lib.open(true);
    lib.scan();
    const auto tracks = lib.tracks();
    BOOST_TEST_REQUIRE(tracks.contains("garbage_audio.flac"));
    const auto& t = tracks.at("garbage_audio.flac");
    BOOST_TEST(t.tags.title == "Garbage Title");
    BOOST_TEST((t.fingerprint == FingerprintState::failed));
    BOOST_TEST(!t.fingerprint_error.empty());
    // Everything else there is unindexable, each with its reason.
    const auto failures = lib.failures();
    for (auto name : {"truncated.mp3", "id3_only.mp3", "garbage.flac", "zero.ogg", "header_only.m4a"})
        BOOST_TEST((failures.contains(name) && !failures.at(name).empty()), name);
    BOOST_TEST(tracks.size() == 1u);
}

BOOST_AUTO_TEST_CASE(scoped_rescan_only_touches_its_folder) {
    Library lib;
    test::make_audio(lib.music / "a" / "1.mp3", {.artist = "A", .title = "1", .seed = 1, .seconds = 6});
    test::make_audio(lib.music / "b" / "2.mp3", {.artist = "B", .title = "2", .seed = 2, .seconds = 6});
    lib.open(false);
    lib.scan();
    fs::remove(lib.music / "b" / "2.mp3");
    test::make_audio(lib.music / "a" / "3.mp3", {.artist = "A", .title = "3", .seed = 3, .seconds = 6});
    lib.scan({(lib.music / "a").string()});
    auto tracks = lib.tracks();
    // b was not in scope: its vanished file is still indexed until b is scanned.
    BOOST_TEST(tracks.size() == 3u);
    lib.scan({(lib.music / "b").string()});
    BOOST_TEST(lib.tracks().size() == 2u);
}

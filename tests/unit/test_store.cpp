#define BOOST_TEST_MODULE store
#include <boost/test/unit_test.hpp>

#include "daemon/index/store.hpp"
#include "tests/support/temp_dir.hpp"

using namespace earshot;
using namespace earshot::index;

namespace {

Track sample(std::string path, std::uint8_t content_byte) {
    Track t;
    t.path = std::move(path);
    t.stamp = {1234, 1'700'000'000'123'456'789, 42, 7};
    t.content.fill(content_byte);
    t.format = "flac";
    t.mimetype = "audio/flac";
    t.tags.artists = {"Artist One", "Artist Two"};
    t.tags.title = "Title";
    t.tags.album = "Album";
    t.tags.track_number = 3;
    t.tags.replaygain.track_gain_db = -6.5f;
    t.tags.musicbrainz.recording = "c0ffee00-0000-0000-0000-000000000000";
    t.audio = {183'000, 900, 44100, 2};
    return t;
}

} // namespace

BOOST_AUTO_TEST_CASE(track_record_round_trips) {
    auto t = sample("/music/a.flac", 1);
    t.id = 99;
    t.recording = 5;
    t.fingerprint = FingerprintState::failed;
    t.fingerprint_error = "decoder rejected audio";
    const auto back = decode_track(encode(t));
    BOOST_TEST(back.path == t.path);
    BOOST_TEST(back.tags.artists == t.tags.artists);
    BOOST_TEST(*back.tags.replaygain.track_gain_db == -6.5f);
    BOOST_TEST(!back.tags.replaygain.album_gain_db.has_value());
    BOOST_TEST(back.tags.musicbrainz.recording == t.tags.musicbrainz.recording);
    BOOST_TEST(back.audio.duration_ms == 183'000u);
    BOOST_TEST((back.stamp == t.stamp));
    BOOST_TEST((back.fingerprint == FingerprintState::failed));
    BOOST_TEST(back.recording == 5u);
    // Every truncation of a record is an error, never a crash or a half track.
    const auto bytes = encode(t);
    for (std::size_t n = 0; n < bytes.size(); ++n)
        BOOST_CHECK_THROW(decode_track(proto::ByteView(bytes).first(n)), proto::DecodeError);
}

BOOST_AUTO_TEST_CASE(put_find_erase_and_persist) {
    test::TempDir dir;
    TrackId id = 0;
    {
        Store store(dir.path());
        auto t = sample("/music/a.flac", 1);
        auto dup = sample("/music/copy of a.flac", 1);
        std::vector<proto::Hash> leaves(3);
        leaves[2].fill(9);
        store.write([&](WriteTxn& w) {
            w.put_track(t);
            w.put_track(dup);
            w.put_leaves(t.content, leaves);
            w.put_failure({"/music/bad.mp3", {}, "corrupt or truncated"});
        });
        id = t.id;
        BOOST_TEST(t.id != 0u);
        BOOST_TEST(t.recording != 0u);
        BOOST_TEST(dup.id != t.id);
        store.read([&](const ReadTxn& r) {
            BOOST_TEST(r.track_count() == 2u);
            BOOST_TEST(*r.track_id_by_path("/music/a.flac") == t.id);
            BOOST_TEST(!r.track_id_by_path("/music/other.flac").has_value());
            BOOST_TEST(r.tracks_with_content(t.content).size() == 2u);
            BOOST_TEST(r.leaves(t.content)->at(2) == leaves[2]);
            BOOST_TEST(r.failure("/music/bad.mp3")->reason == "corrupt or truncated");
            return 0;
        });
        // The leaf layer stays while any track still holds those bytes.
        store.write([&](WriteTxn& w) { w.erase_track(dup.id); });
        BOOST_TEST(store.read([&](const ReadTxn& r) { return r.leaves(t.content).has_value(); }));
    }
    // Reopened: what was committed is there.
    Store store(dir.path());
    store.read([&](const ReadTxn& r) {
        BOOST_TEST(r.track_count() == 1u);
        BOOST_TEST(r.track(id)->tags.title == "Title");
        return 0;
    });
    store.write([&](WriteTxn& w) { w.erase_track(id); });
    store.read([&](const ReadTxn& r) {
        BOOST_TEST(r.track_count() == 0u);
        BOOST_TEST(!r.leaves(sample("", 1).content).has_value());
        BOOST_TEST(!r.track_id_by_path("/music/a.flac").has_value());
        return 0;
    });
}

BOOST_AUTO_TEST_CASE(moving_a_track_updates_its_path_and_content_entries) {
    test::TempDir dir;
    Store store(dir.path());
    auto t = sample("/music/old.flac", 1);
    store.write([&](WriteTxn& w) { w.put_track(t); });
    t.path = "/music/new.flac";
    t.content.fill(2);
    store.write([&](WriteTxn& w) { w.put_track(t); });
    store.read([&](const ReadTxn& r) {
        BOOST_TEST(!r.track_id_by_path("/music/old.flac").has_value());
        BOOST_TEST(*r.track_id_by_path("/music/new.flac") == t.id);
        BOOST_TEST(r.tracks_with_content(sample("", 1).content).empty());
        BOOST_TEST(r.tracks_with_content(t.content).size() == 1u);
        return 0;
    });
}

BOOST_AUTO_TEST_CASE(fingerprint_terms_find_candidates) {
    test::TempDir dir;
    Store store(dir.path());
    auto a = sample("/m/a.flac", 1), b = sample("/m/b.mp3", 2), c = sample("/m/c.ogg", 3);
    store.write([&](WriteTxn& w) {
        w.put_track(a);
        w.put_track(b);
        w.put_track(c);
        w.put_fingerprint(a.id, std::vector<std::uint32_t>{1, 2, 3}, std::vector<std::uint32_t>{10, 11, 12});
        w.put_fingerprint(b.id, std::vector<std::uint32_t>{4, 5}, std::vector<std::uint32_t>{11, 12, 13});
        w.put_fingerprint(c.id, std::vector<std::uint32_t>{6}, std::vector<std::uint32_t>{99});
    });
    const std::vector<std::uint32_t> query{11, 12, 50};
    auto found = store.read([&](const ReadTxn& r) { return r.fingerprint_candidates(query, 2); });
    BOOST_TEST_REQUIRE(found.size() == 2u);
    BOOST_TEST(found[0].second == 2u);
    BOOST_TEST(store.read([&](const ReadTxn& r) { return r.fingerprint(b.id); }) == std::vector<std::uint32_t>({4, 5}));
    // Replacing a fingerprint drops its old terms.
    store.write([&](WriteTxn& w) {
        w.put_fingerprint(b.id, std::vector<std::uint32_t>{7}, std::vector<std::uint32_t>{99});
    });
    found = store.read([&](const ReadTxn& r) { return r.fingerprint_candidates(query, 2); });
    BOOST_TEST(found.size() == 1u);
    store.write([&](WriteTxn& w) { w.erase_track(c.id); });
    const std::vector<std::uint32_t> q99{99};
    found = store.read([&](const ReadTxn& r) { return r.fingerprint_candidates(q99, 1); });
    BOOST_TEST_REQUIRE(found.size() == 1u);
    BOOST_TEST(found[0].first == b.id);
}

BOOST_AUTO_TEST_CASE(map_grows_when_full) {
    test::TempDir dir;
    Store store(dir.path(), std::size_t{1} << 20);
    const auto before = store.map_size();
    std::vector<proto::Hash> leaves(2048); // 64 KiB per content
    for (int batch = 0; batch < 10; ++batch) {
        store.write([&](WriteTxn& w) {
            for (int i = 0; i < 10; ++i) {
                auto t = sample("/m/" + std::to_string(batch) + "-" + std::to_string(i) + ".flac", 0);
                t.content[0] = static_cast<std::uint8_t>(batch);
                t.content[1] = static_cast<std::uint8_t>(i);
                w.put_track(t);
                w.put_leaves(t.content, leaves);
            }
        });
    }
    BOOST_TEST(store.map_size() > before);
    BOOST_TEST(store.read([](const ReadTxn& r) { return r.track_count(); }) == 100u);
}

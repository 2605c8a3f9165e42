// A daemon's life: live changes, kill -9 mid-scan, tokens off loopback, clean stop.
#define BOOST_TEST_MODULE daemon_lifecycle
#include <boost/test/unit_test.hpp>

#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"

#include <fstream>
#include <set>
#include <thread>

using namespace earshot;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {


using test::eventually;

std::size_t hits(test::Daemon& d, const std::string& artist, const std::string& track) {
    auto r = d.api().get_json("/api/v1/search?" + client::query_string({{"artist", artist}, {"track", track}}));
    std::size_t n = 0;
    for (auto& x : r["results"]) n += x["score"].get<double>() >= 0.99;
    return n;
}

} // namespace

BOOST_AUTO_TEST_CASE(inotify_picks_up_new_changed_and_removed_files) {
    test::TempDir tmp("earshot-watch");
    const auto music = tmp / "music";
    test::make_audio(music / "a.mp3", {.artist = "Watcher", .title = "First", .seed = 1, .seconds = 4});
    test::Daemon d(tmp / "data", {"--library", music.string()});
    d.wait_scan_idle();
    BOOST_TEST(hits(d, "Watcher", "First") == 1u);
    // Scanning only reads the library: it must not wake its own watch.
    std::this_thread::sleep_for(2500ms);
    BOOST_TEST(d.status()["scan"]["scans_completed"].get<int>() == 1);

    // A new album folder appears (created elsewhere, moved in, as a copy tool does).
    test::make_audio(tmp / "staging" / "b.ogg", {.artist = "Watcher", .title = "Second", .seed = 2, .seconds = 4});
    fs::rename(tmp / "staging", music / "new album");
    BOOST_TEST(eventually([&] { return hits(d, "Watcher", "Second") == 1; }));
    // A file written in place.
    test::make_audio(music / "c.flac", {.artist = "Watcher", .title = "Third", .seed = 3, .seconds = 4});
    BOOST_TEST(eventually([&] { return hits(d, "Watcher", "Third") == 1; }));
    // Removed.
    fs::remove(music / "a.mp3");
    BOOST_TEST(eventually([&] { return hits(d, "Watcher", "First") == 0; }));
    BOOST_TEST(d.stop() == 0);
}

BOOST_AUTO_TEST_CASE(kill9_mid_scan_loses_and_duplicates_nothing) {
    test::TempDir tmp("earshot-kill");
    const auto music = tmp / "music";
    const int n = 120;
    for (int i = 0; i < n; ++i)
        test::make_audio(music / ("d" + std::to_string(i % 7)) / ("t" + std::to_string(i) + (i % 2 ? ".mp3" : ".flac")),
                         {.artist = "Artist " + std::to_string(i % 5), .title = "Title " + std::to_string(i), .seed = i, .seconds = 3});
    test::Daemon d(tmp / "data", {"--library", music.string(), "--threads", "1"});
    // Kill it while it is busy, several times, at different points.
    for (int round = 0; round < 3; ++round) {
        eventually([&] {
            auto s = d.status()["scan"];
            return s["files_done"].get<int>() > 10 * (round + 1) || !s["running"].get<bool>();
        });
        d.kill9_and_restart();
    }
    auto s = d.wait_scan_idle(300s);
    BOOST_TEST(s["tracks"].get<int>() == n);
    BOOST_TEST(s["scan"]["fingerprints_done"].get<int>() + 0 <= n);
    // Every track is there exactly once.
    std::set<std::string> titles;
    for (int i = 0; i < n; ++i) {
        auto r = d.api().get_json("/api/v1/search?" + client::query_string({{"artist", "Artist " + std::to_string(i % 5)},
                                                                               {"track", "Title " + std::to_string(i)}}));
        std::size_t exact = 0;
        for (auto& x : r["results"]) exact += x["score"].get<double>() >= 0.99 && x["track"] == "Title " + std::to_string(i);
        BOOST_TEST(exact == 1u, "Title " << i);
    }
    // And every track got its fingerprint in the end.
    auto after = d.status();
    BOOST_TEST(after["scan"]["errors"].get<int>() == 0);
}

BOOST_AUTO_TEST_CASE(off_loopback_every_api_call_needs_the_token) {
    test::TempDir tmp("earshot-token");
    const auto music = tmp / "music";
    test::make_audio(music / "a.mp3", {.artist = "Token", .title = "Song", .seed = 1, .seconds = 4});
    // Listens on every interface; the test only ever connects through loopback.
    test::Daemon d(tmp / "data", {"--library", music.string()}, "0.0.0.0");
    const auto token_file = d.data() / "api-token";
    BOOST_TEST_REQUIRE(fs::exists(token_file));
    BOOST_TEST(((fs::status(token_file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write)));
    std::string token;
    std::ifstream(token_file) >> token;

    BOOST_TEST(d.api().get("/api/v1/status").status == 401u);
    BOOST_TEST(d.api().get("/api/?method=stat").status == 401u);
    BOOST_TEST(d.api().get("/api/v1/status?auth=wrong").status == 401u);
    BOOST_TEST(d.api().get("/api/v1/status?auth=" + token).status == 200u);
    BOOST_TEST(d.api().get("/api/v1/status", {{"Authorization", "Bearer " + token}}).status == 200u);
    client::Client authed(d.url(), token);
    authed.get_json("/api/v1/health");
    // Wait for the track, then stream it without a token (players cannot send one).
    bool found = eventually([&] { return !authed.get_json("/api/v1/search?q=token%20song")["results"].empty(); });
    BOOST_TEST_REQUIRE(found);
    const std::string sid = authed.get_json("/api/v1/search?q=token%20song")["results"][0]["sid"];
    BOOST_TEST(d.api().get("/sid/" + sid).status == 200u);
}

BOOST_AUTO_TEST_CASE(stops_cleanly_on_sigterm_and_keeps_its_index) {
    test::TempDir tmp("earshot-stop");
    const auto music = tmp / "music";
    test::make_audio(music / "a.mp3", {.artist = "Stop", .title = "Song", .seed = 1, .seconds = 4});
    {
        test::Daemon d(tmp / "data", {"--library", music.string()});
        d.wait_scan_idle();
        BOOST_TEST(d.stop() == 0);
    }
    std::string peer_id;
    {
        test::Daemon d(tmp / "data", {"--library", music.string()});
        peer_id = d.status()["peer_id"];
        BOOST_TEST(peer_id.size() == 63u);
        // `earshot id` prints the same id.
        const auto out = test::run_program({test::earshot_cli_path(), "--api", d.url(), "id"});
        BOOST_TEST(out.exit_code == 0);
        BOOST_TEST(out.out == peer_id + "\n");
    }
    // The music is unmounted; the restarted daemon still knows the track, and is still itself.
    fs::rename(music, tmp / "away");
    test::Daemon d(tmp / "data", {"--library", music.string()});
    d.wait_scan_idle();
    BOOST_TEST(d.status()["tracks"].get<int>() == 1);
    BOOST_TEST(d.status()["peer_id"] == peer_id);
    BOOST_TEST(d.stop() == 0);
}

BOOST_AUTO_TEST_CASE(config_file_sets_what_flags_do_and_flags_win) {
    test::TempDir tmp("earshot-config");
    const auto music = tmp / "music";
    test::make_audio(music / "a.mp3", {.artist = "Config", .title = "Song", .seed = 1, .seconds = 4});
    const auto config = tmp / "earshot.toml";
    std::ofstream(config) << "library = [\"" << music.string() << "\"]\nname = \"from-file\"\nfingerprints = false\n";
    {
        test::Daemon d(tmp / "data", {"--config", config.string()});
        auto s = d.wait_scan_idle();
        BOOST_TEST(s["name"] == "from-file");
        BOOST_TEST(s["tracks"].get<int>() == 1);
        BOOST_TEST(s["scan"]["fingerprints_done"].get<int>() == 1); // hashed, not fingerprinted
        BOOST_TEST(d.api().get_json("/api/v1/search?q=config%20song")["results"][0]["track"] == "Song");
    }
    test::Daemon d(tmp / "data", {"--config", config.string(), "--name", "from-flag"});
    BOOST_TEST(d.status()["name"] == "from-flag");
    // A broken file is a clear start-up error, not a crash.
    std::ofstream(config) << "library = [\n";
    const auto log = tmp / "bad-config.log";
    BOOST_TEST(test::run(test::earshotd_path(), {"--config", config.string(), "--data", (tmp / "d2").string()}, log) != 0);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(text.find("earshot.toml") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_data_folder_serves_one_daemon_at_a_time) {
    test::TempDir tmp("earshot-lock");
    test::Daemon d(tmp / "data", {"--no-discovery"});
    d.wait_ready();
    const auto log = tmp / "second.log";
    const auto port = [] { return "127.0.0.1:" + std::to_string(test::free_port()); };
    const int second = test::run(test::earshotd_path(),
                                 {"--data", d.data().string(), "--http", port(), "--listen", port(), "--no-discovery"}, log);
    BOOST_TEST(second == 1);
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(text.find("in use by another earshotd (pid " + std::to_string(d.process().pid()) + ")") != std::string::npos,
               text);
    BOOST_TEST(d.status()["name"].is_string()); // the first one is untouched
    // The kernel drops the lock with its holder: kill -9 leaves nothing stale.
    d.kill9_and_restart();
    BOOST_TEST(d.status()["name"].is_string());
    BOOST_TEST(d.stop() == 0);
}

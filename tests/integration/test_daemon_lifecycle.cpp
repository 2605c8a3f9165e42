// A daemon's life: live changes, kill -9 mid-scan, tokens off loopback, clean stop.
#define BOOST_TEST_MODULE daemon_lifecycle
#include <boost/test/unit_test.hpp>

#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"

#include <csignal>
#include <fstream>
#include <map>
#include <optional>
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
    // Scanning only reads the library: it must not wake its own watch. No
    // event says "nothing happened", so this is the one bounded wait: twice
    // the watcher's 1 s quiet period, failing at the first poll that sees a
    // second scan running or done.
    BOOST_TEST(!eventually([&] {
        const auto s = d.status()["scan"];
        return s["running"].get<bool>() || s["scans_completed"].get<int>() != 1;
    }, 2s));

    // A new album folder appears (created elsewhere, moved in, as a copy tool does).
    test::make_audio(tmp / "staging" / "b.ogg", {.artist = "Watcher", .title = "Second", .seed = 2, .seconds = 4});
    fs::rename(tmp / "staging", music / "new album");
    BOOST_TEST(eventually([&] { return hits(d, "Watcher", "Second") == 1; }));
    // A file written in place.
    test::make_audio(music / "c.flac", {.artist = "Watcher", .title = "Third", .seed = 3, .seconds = 4});
    BOOST_TEST(eventually([&] { return hits(d, "Watcher", "Third") == 1; }));
    // Rewritten in place with new tags (a tag editor saving): the new title
    // is found and the old one is gone, still one track.
    const auto tracks_before = d.status()["tracks"].get<int>();
    test::make_audio(music / "c.flac", {.artist = "Watcher", .title = "Third Retagged", .seed = 3, .seconds = 4});
    BOOST_TEST(eventually([&] { return hits(d, "Watcher", "Third Retagged") == 1; }));
    BOOST_TEST(hits(d, "Watcher", "Third") == 0u);
    BOOST_TEST(d.status()["tracks"].get<int>() == tracks_before);
    // Moved to another folder and renamed: the same track (same sid, one
    // track), its bytes served from the new path, nothing left at the old one.
    // (Once hashed, so its sid is its content id rather than a track-N one.)
    BOOST_TEST_REQUIRE(eventually([&] { return !d.status()["scan"]["running"].get<bool>(); }));
    const auto found = d.api().get_json("/api/v1/search?artist=Watcher&track=Second");
    BOOST_TEST_REQUIRE(!found["results"].empty());
    const std::string second_sid = found["results"][0]["sid"];
    const auto second_bytes = d.api().get("/sid/" + second_sid).body;
    const auto since = d.last_event_id();
    fs::create_directories(music / "moved");
    fs::rename(music / "new album" / "b.ogg", music / "moved" / "renamed.ogg");
    BOOST_TEST_REQUIRE(d.wait_event([](const test::Event& e) { return e.kind == "scan_finished"; }, since).has_value());
    BOOST_TEST(eventually([&] { return !d.status()["scan"]["running"].get<bool>(); }));
    const auto after = d.api().get_json("/api/v1/search?artist=Watcher&track=Second");
    BOOST_TEST_REQUIRE(after["results"].size() == 1u, after.dump());
    BOOST_TEST(after["results"][0]["sid"] == second_sid);
    const auto streamed = d.api().get("/sid/" + second_sid);
    BOOST_TEST(streamed.status == 200u);
    BOOST_TEST((streamed.body == second_bytes));
    BOOST_TEST(d.status()["tracks"].get<int>() == tracks_before);
    // The file really is gone from the old path (so the stream above read the new one).
    BOOST_TEST(!fs::exists(music / "new album" / "b.ogg"));
    // Removed.
    fs::remove(music / "a.mp3");
    BOOST_TEST(eventually([&] { return hits(d, "Watcher", "First") == 0; }));
    BOOST_TEST(d.status()["tracks"].get<int>() == tracks_before - 1);
    BOOST_TEST(d.stop() == 0);
}

namespace {

// What a (restarted) daemon's scan set out to do, from its own events: the
// tags pass starts with `files_done` = files already indexed and unchanged,
// the content pass with `fingerprints_total` = tracks still to hash and
// fingerprint (no content-pass event at all: nothing was left).
struct ScanPlan {
    std::uint64_t files_total = 0, files_already_done = 0;
    std::optional<std::uint64_t> content_left;
};

bool content_phase(const test::Event& e) {
    return e.kind == "scan_progress" && (e.data["phase"] == "fingerprints" || e.data["phase"] == "hashing");
}

// A rescan of a library that is all indexed: every file's tags are seen
// unchanged (files_done reaches n) and no content is hashed or fingerprinted.
void expect_rescan_reads_nothing(test::Daemon& d, std::uint64_t n) {
    const auto before = d.last_event_id();
    BOOST_TEST_REQUIRE(d.api().post_form("/api/v1/scan", "").status == 202u);
    const auto end = d.wait_event([](const test::Event& e) { return e.kind == "scan_finished"; }, before, 120s);
    BOOST_TEST_REQUIRE(end.has_value());
    for (const auto& e : d.events(before)) {
        if (e.id > end->id || e.kind != "scan_progress") continue;
        BOOST_TEST(!content_phase(e), e.data.dump());
        if (e.data["phase"] == "metadata") BOOST_TEST(e.data["files_done"].get<std::uint64_t>() == n);
    }
}

// Read as soon as the content pass starts (or the scan ends without one),
// so the caller can still kill the daemon in it.
std::optional<ScanPlan> plan_of_first_scan(test::Daemon& d, std::chrono::seconds timeout = 120s) {
    const auto finished = d.wait_event([](const test::Event& e) { return e.kind == "scan_finished" || content_phase(e); },
                                       0, timeout);
    if (!finished) return std::nullopt;
    ScanPlan plan;
    bool metadata_seen = false;
    for (const auto& e : d.events(0)) {
        if (e.id > finished->id) break;
        if (e.kind != "scan_progress") continue;
        if (!metadata_seen && e.data["phase"] == "metadata") {
            metadata_seen = true;
            plan.files_total = e.data["files_total"].get<std::uint64_t>();
            plan.files_already_done = e.data["files_done"].get<std::uint64_t>();
        }
        if (!plan.content_left && content_phase(e))
            plan.content_left = e.data["fingerprints_total"].get<std::uint64_t>();
    }
    if (!metadata_seen) return std::nullopt;
    return plan;
}

// Polls the status quickly (the content pass commits every 250 ms) until `pred` holds.
template <class Pred>
std::optional<nlohmann::json> scan_status_when(test::Daemon& d, Pred pred, std::chrono::seconds timeout = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto s = d.status()["scan"];
        if (pred(s)) return s;
        std::this_thread::sleep_for(10ms);
    }
    return std::nullopt;
}

} // namespace

// kill -9 at three moments (in the tags pass, then twice in the content
// pass, the second time in the restarted daemon's own pass): each restart
// does only what the killed one had not committed, and the end is the same
// index as an uninterrupted scan: every file once, every file fingerprinted.
BOOST_AUTO_TEST_CASE(kill9_mid_scan_resumes_where_it_stopped) {
    test::TempDir tmp("earshot-kill");
    const auto music = tmp / "music";
    const std::uint64_t n = 120;
    // Two 40 s recordings (the content pass decodes each file's audio, so
    // long enough to be caught part-way), each copied 60 times under other
    // tags: distinct bytes, distinct tracks, cheap to make.
    const auto base = tmp / "base";
    test::make_audio(base / "a.flac", {.seed = 1, .seconds = 40});
    test::make_audio(base / "b.mp3", {.seed = 2, .seconds = 40});
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto out = music / ("d" + std::to_string(i % 7)) / ("t" + std::to_string(i) + (i % 2 ? ".mp3" : ".flac"));
        fs::create_directories(out.parent_path());
        test::run_ffmpeg({"-i", (base / (i % 2 ? "b.mp3" : "a.flac")).string(), "-c", "copy", "-map_metadata", "-1",
                          "-metadata", "artist=Artist " + std::to_string(i % 5), "-metadata",
                          "title=Title " + std::to_string(i), "-fflags", "+bitexact", out.string()});
    }
    // One scan worker, so the content pass lasts long enough to be caught in.
    test::Daemon d(tmp / "data", {"--library", music.string(), "--threads", "1", "--no-watch"});

    // 1. As early as the scan is seen running: in the tags pass where the
    //    machine lets us see it (it commits every 250 ms, so here usually
    //    before its first commit), else just after. The restart re-reads no
    //    committed file, and in the end nothing is lost or doubled.
    const auto early = scan_status_when(d, [](const nlohmann::json& s) {
        return s["phase"] != "idle" || s["scans_completed"].get<int>() > 0;
    });
    BOOST_TEST_REQUIRE(early.has_value());
    const bool in_tags_pass = (*early)["phase"] == "walking" || (*early)["phase"] == "metadata";
    const auto tags_committed = in_tags_pass ? (*early)["files_done"].get<std::uint64_t>() : n;
    d.kill9_and_restart();
    auto plan = plan_of_first_scan(d);
    BOOST_TEST_REQUIRE(plan.has_value());
    BOOST_TEST(plan->files_total == n);
    BOOST_TEST_MESSAGE("killed in phase " << (*early)["phase"] << " with " << tags_committed << "/" << n << " tags committed; the restart found "
                                      << plan->files_already_done << " done");
    BOOST_TEST(plan->files_already_done >= tags_committed, "killed with " << tags_committed << " tags committed");

    // 2. and 3. In the content pass, with some fingerprints done and more to
    //    do: the restarted daemon's pass is the rest, never the finished ones,
    //    and its tags pass reads nothing again.
    std::uint64_t to_fingerprint = plan->content_left.value_or(0);
    BOOST_TEST_REQUIRE(to_fingerprint > 30u, "the content pass must be long enough to kill in");
    for (int round = 0; round < 2; ++round) {
        BOOST_TEST_CONTEXT("content-pass kill " << round) {
            const auto mid = scan_status_when(d, [&](const nlohmann::json& s) {
                const auto done = s["fingerprints_done"].get<std::uint64_t>();
                return s["phase"] == "fingerprints" && done >= 5 && done + 10 <= s["fingerprints_total"].get<std::uint64_t>();
            });
            BOOST_TEST_REQUIRE(mid.has_value(), "never saw the content pass part-way: " << d.status().dump());
            const auto done = (*mid)["fingerprints_done"].get<std::uint64_t>();
            BOOST_TEST((*mid)["fingerprints_total"].get<std::uint64_t>() == to_fingerprint);
            d.kill9_and_restart();
            plan = plan_of_first_scan(d);
            BOOST_TEST_REQUIRE(plan.has_value());
            BOOST_TEST(plan->files_total == n);
            BOOST_TEST(plan->files_already_done == n); // every tag was in before the kill
            // At least `done` were committed when we looked, so at most the rest is left.
            BOOST_TEST_REQUIRE(plan->content_left.has_value(), "the kill came after the content pass ended");
            BOOST_TEST_MESSAGE("killed at " << done << "/" << to_fingerprint << " fingerprints; the restart has "
                                             << plan->content_left.value_or(0) << " left");
            BOOST_TEST(*plan->content_left <= to_fingerprint - done, "killed at " << done << "/" << to_fingerprint);
            BOOST_TEST(*plan->content_left > 0u);
            to_fingerprint = *plan->content_left;
        }
    }

    auto s = d.wait_scan_idle(300s);
    BOOST_TEST(s["tracks"].get<std::uint64_t>() == n);
    BOOST_TEST(s["scan"]["errors"].get<int>() == 0);
    BOOST_TEST(s["scan"]["fingerprints_done"].get<std::uint64_t>() == to_fingerprint);
    // Every track is there exactly once.
    for (std::uint64_t i = 0; i < n; ++i) {
        auto r = d.api().get_json("/api/v1/search?" + client::query_string({{"artist", "Artist " + std::to_string(i % 5)},
                                                                               {"track", "Title " + std::to_string(i)}}));
        std::size_t exact = 0;
        for (auto& x : r["results"]) exact += x["score"].get<double>() >= 0.99 && x["track"] == "Title " + std::to_string(i);
        BOOST_TEST(exact == 1u, "Title " << i);
    }
    // And every track got its content id and fingerprint: a rescan finds
    // nothing at all left to read.
    expect_rescan_reads_nothing(d, n);
    BOOST_TEST(d.status()["scan"]["fingerprints_total"].get<std::uint64_t>() == 0u);
    BOOST_TEST(d.stop() == 0);
}

// kill -9 in the tags pass: that pass commits every 250 ms and reads a small
// library faster than the daemon starts, so this library is large (copies
// of one short file, hashing only): the restart re-reads no committed file,
// and the index ends with every file once.
BOOST_AUTO_TEST_CASE(kill9_in_the_tags_pass_resumes_where_it_stopped) {
    test::TempDir tmp("earshot-kill-tags");
    const auto music = tmp / "music";
    const std::uint64_t n = 1500;
    test::make_audio(tmp / "one.mp3", {.artist = "Many", .title = "Copies", .seed = 1, .seconds = 1});
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto dir = music / ("d" + std::to_string(i % 10));
        fs::create_directories(dir);
        fs::copy_file(tmp / "one.mp3", dir / ("c" + std::to_string(i) + ".mp3"));
    }
    test::Daemon d(tmp / "data", {"--library", music.string(), "--threads", "1", "--no-fingerprints", "--no-watch"});
    const auto mid = scan_status_when(d, [&](const nlohmann::json& s) {
        const auto done = s["files_done"].get<std::uint64_t>();
        return s["phase"] == "metadata" && done > 0 && done < n;
    });
    BOOST_TEST_REQUIRE(mid.has_value(), "never saw the tags pass part-way: " << d.status().dump());
    const auto committed = (*mid)["files_done"].get<std::uint64_t>();
    d.kill9_and_restart();
    const auto plan = plan_of_first_scan(d);
    BOOST_TEST_REQUIRE(plan.has_value());
    BOOST_TEST_MESSAGE("killed at " << committed << "/" << n << " tags; the restart found " << plan->files_already_done
                                    << " done");
    BOOST_TEST(plan->files_total == n);
    BOOST_TEST(plan->files_already_done >= committed);
    const auto s = d.wait_scan_idle(300s);
    BOOST_TEST(s["tracks"].get<std::uint64_t>() == n);
    BOOST_TEST(s["scan"]["errors"].get<int>() == 0);
    BOOST_TEST(d.api().get_json("/api/v1/search?artist=Many&track=Copies&timeout=1000")["results"].size() >= 1u);
    // Nothing left: a rescan reads no tags and hashes nothing.
    expect_rescan_reads_nothing(d, n);
    BOOST_TEST(d.stop() == 0);
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
                                 {"--data", d.data().string(), "--http", port(), "--listen", port(), "--no-discovery", "--no-dht"}, log);
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

namespace {

// Waits for the end of the next scan after `since` (an event id).
bool next_scan_finished(test::Daemon& d, std::uint64_t since, std::chrono::seconds timeout = 60s) {
    return d.wait_event([](const test::Event& e) { return e.kind == "scan_finished"; }, since, timeout).has_value();
}

} // namespace

// Ctrl-C is a clean stop like SIGTERM: exit 0, "stopped" logged, the index
// kept and the data folder's lock released for the next daemon.
BOOST_AUTO_TEST_CASE(stops_cleanly_on_sigint_and_frees_its_data_folder) {
    test::TempDir tmp("earshot-sigint");
    const auto music = tmp / "music";
    test::make_audio(music / "a.mp3", {.artist = "Interrupt", .title = "Song", .seed = 1, .seconds = 4});
    std::string log;
    {
        test::Daemon d(tmp / "data", {"--library", music.string()});
        d.wait_scan_idle();
        d.process().signal(SIGINT);
        BOOST_TEST(d.process().wait(20s) == 0);
        log = d.process().log_text();
    }
    BOOST_TEST(log.find("signal " + std::to_string(SIGINT) + " received; stopping") != std::string::npos, log);
    BOOST_TEST(log.find(" stopped\n") != std::string::npos, log);
    BOOST_TEST(log.find("critical") == std::string::npos, log);
    // Nothing holds the folder any more: the next daemon starts on it at once,
    // with the index the first one left.
    test::Daemon again(tmp / "data", {"--library", music.string()});
    BOOST_TEST(again.status()["tracks"].get<int>() == 1);
    BOOST_TEST(again.stop() == 0);
}

// --oneshot: one scan, the status as JSON on stdout, exit 0.
BOOST_AUTO_TEST_CASE(oneshot_scans_prints_the_status_as_json_and_exits) {
    test::TempDir tmp("earshot-oneshot");
    const auto music = tmp / "music";
    test::make_audio(music / "a.flac", {.artist = "Once", .title = "First", .seed = 1, .seconds = 4});
    test::make_audio(music / "b.mp3", {.artist = "Once", .title = "Second", .seed = 2, .seconds = 4});
    std::ofstream(music / "empty.ogg").flush(); // one file that cannot be indexed
    const auto port = [] { return "127.0.0.1:" + std::to_string(test::free_port()); };
    const std::vector<std::string> argv{test::earshotd_path(), "--oneshot", "--library", music.string(),
                                        "--data", (tmp / "data").string(), "--http", port(), "--listen", port(),
                                        "--no-discovery"};
    const auto out = test::run_program(argv);
    BOOST_TEST_REQUIRE(out.exit_code == 0, out.err);
    nlohmann::json s;
    BOOST_REQUIRE_NO_THROW(s = nlohmann::json::parse(out.out));
    BOOST_TEST(s["tracks"].get<int>() == 2);
    BOOST_TEST(s["scan"]["running"] == false);
    BOOST_TEST(s["scan"]["scans_completed"].get<int>() == 1);
    BOOST_TEST(s["scan"]["files_total"].get<int>() == 3);
    BOOST_TEST(s["scan"]["fingerprints_done"].get<int>() == 2);
    BOOST_TEST(s["scan"]["errors"].get<int>() == 1);
    // It left a usable index and no lock: a second run finds the tracks known.
    const auto again = test::run_program(argv);
    BOOST_TEST_REQUIRE(again.exit_code == 0, again.err);
    BOOST_TEST(nlohmann::json::parse(again.out)["tracks"].get<int>() == 2);
}

// --token TOKEN on a non-loopback --http: that token, and only it, opens the API.
BOOST_AUTO_TEST_CASE(a_given_token_is_the_one_off_loopback) {
    test::TempDir tmp("earshot-given-token");
    const auto music = tmp / "music";
    test::make_audio(music / "a.mp3", {.artist = "Given", .title = "Token", .seed = 1, .seconds = 4});
    const std::string token = "given-token-0123456789abcdef";
    // A first run without --token generated DATA/api-token...
    std::string generated;
    {
        test::Daemon first(tmp / "data", {"--library", music.string()}, "0.0.0.0");
        std::ifstream(first.data() / "api-token") >> generated;
        BOOST_TEST_REQUIRE(!generated.empty());
        BOOST_TEST(first.api().get("/api/v1/status?auth=" + generated).status == 200u);
        BOOST_TEST(first.stop() == 0);
    }
    // ...which no longer opens anything once --token names another.
    test::Daemon d(tmp / "data", {"--library", music.string(), "--token", token}, "0.0.0.0");
    BOOST_TEST(d.api().get("/api/v1/status?auth=" + generated).status == 401u);
    BOOST_TEST(d.api().get("/api/v1/status").status == 401u);
    BOOST_TEST(d.api().get("/api/v1/status?auth=" + token + "x").status == 401u);
    BOOST_TEST(d.api().get("/api/v1/status", {{"Authorization", "Bearer wrong"}}).status == 401u);
    BOOST_TEST(d.api().get("/api/v1/status?auth=" + token).status == 200u);
    BOOST_TEST(d.api().get("/api/v1/status", {{"Authorization", "Bearer " + token}}).status == 200u);
    // The CLI with --token works; without it, it says no and exits 1.
    const auto cli = test::earshot_cli_path();
    const auto with = test::run_program({cli, "--api", d.url(), "--token", token, "status"});
    BOOST_TEST(with.exit_code == 0, with.err);
    BOOST_TEST(with.out.find("tracks") != std::string::npos, with.out);
    const auto without = test::run_program({cli, "--api", d.url(), "status"});
    BOOST_TEST(without.exit_code == 1, without.out << without.err);
}

// --no-watch: a file added while running is not seen until a rescan,
// beside a watching daemon over the same folder that sees it by itself.
BOOST_AUTO_TEST_CASE(no_watch_sees_new_files_only_on_a_rescan) {
    test::TempDir tmp("earshot-nowatch");
    const auto music = tmp / "music";
    test::make_audio(music / "a.mp3", {.artist = "Static", .title = "Old", .seed = 1, .seconds = 4});
    test::Daemon watched(tmp / "watched", {"--library", music.string()});
    test::Daemon unwatched(tmp / "unwatched", {"--library", music.string(), "--no-watch"});
    watched.wait_scan_idle();
    unwatched.wait_scan_idle();
    BOOST_TEST_REQUIRE(hits(unwatched, "Static", "Old") == 1u);

    test::make_audio(tmp / "staging" / "b.ogg", {.artist = "Static", .title = "New", .seed = 2, .seconds = 4});
    fs::rename(tmp / "staging" / "b.ogg", music / "b.ogg");
    BOOST_TEST_REQUIRE(eventually([&] { return hits(watched, "Static", "New") == 1; }));
    // The watching daemon has had its quiet period, read and indexed the
    // file; the other one has not even started a scan.
    BOOST_TEST(hits(unwatched, "Static", "New") == 0u);
    const auto s = unwatched.status()["scan"];
    BOOST_TEST(s["scans_completed"].get<int>() == 1);
    BOOST_TEST(s["running"] == false);
    // A rescan finds it.
    const auto since = unwatched.last_event_id();
    BOOST_TEST_REQUIRE(unwatched.api().post_form("/api/v1/scan", "").status == 202u);
    BOOST_TEST_REQUIRE(next_scan_finished(unwatched, since));
    BOOST_TEST(hits(unwatched, "Static", "New") == 1u);
}

// Broken links and link loops in a library: recorded as errors with their
// reasons (README: "broken links, symlink loops"), never stopping the scan,
// beside links that work (a file linked twice is one track, a linked folder
// is walked).
BOOST_AUTO_TEST_CASE(broken_and_looping_symlinks_are_errors_good_links_are_followed) {
    test::TempDir tmp("earshot-links");
    const auto music = tmp / "music";
    test::make_audio(music / "good.mp3", {.artist = "Linked", .title = "Real", .seed = 1, .seconds = 4});
    test::make_audio(tmp / "outside" / "elsewhere.flac", {.artist = "Linked", .title = "Elsewhere", .seed = 2, .seconds = 4});
    fs::create_symlink("good.mp3", music / "again.mp3");        // the same file twice
    fs::create_directory_symlink("../outside", music / "linked"); // a folder outside the library
    fs::create_symlink("nowhere.flac", music / "dangling.flac");  // broken
    fs::create_symlink("loop.mp3", music / "loop.mp3");           // points at itself
    fs::create_directory_symlink(".", music / "back");           // a folder loop
    fs::create_symlink("nowhere.txt", music / "dangling.txt");    // broken, but not audio: ignored
    test::Daemon d(tmp / "data", {"--library", music.string()});
    const auto s = d.wait_scan_idle();
    BOOST_TEST(s["tracks"].get<int>() == 2);
    BOOST_TEST(hits(d, "Linked", "Real") == 1u);
    BOOST_TEST(hits(d, "Linked", "Elsewhere") == 1u);
    BOOST_TEST(s["scan"]["errors"].get<int>() == 3);
    std::map<std::string, std::string> reasons;
    for (const auto& e : d.api().get_json("/api/v1/errors"))
        reasons[fs::path(e["path"].get<std::string>()).filename().string()] = e["reason"].get<std::string>();
    BOOST_TEST(reasons.size() == 3u);
    BOOST_TEST(reasons["dangling.flac"].find("broken symbolic link") != std::string::npos, reasons["dangling.flac"]);
    BOOST_TEST(reasons["loop.mp3"].find("symbolic link loop") != std::string::npos, reasons["loop.mp3"]);
    BOOST_TEST(reasons["back"].find("symbolic link loop") != std::string::npos, reasons["back"]);
    BOOST_TEST(!reasons.contains("dangling.txt"));
    BOOST_TEST(d.stop() == 0);
}

// End to end: a real earshotd over a generated library, driven over HTTP
// exactly as players, Playdar clients and the CLI drive it.
#define BOOST_TEST_MODULE daemon
#include <boost/test/unit_test.hpp>

#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/temp_dir.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include <sys/stat.h>

using namespace earshot;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}


// One daemon over one library for the read-only tests of this file.
struct Fixture {
    test::TempDir tmp{"earshot-e2e"};
    fs::path music = tmp / "music";
    std::unique_ptr<test::Daemon> daemon;
    fs::path karma;

    Fixture() {
        karma = music / "Radiohead" / "OK Computer" / "06 Karma Police.flac";
        test::make_audio(karma, {.artist = "Radiohead", .title = "Karma Police", .album = "OK Computer", .seed = 1, .seconds = 20});
        test::make_audio(music / "Radiohead" / "OK Computer" / "07 Fitter Happier.mp3",
                         {.artist = "Radiohead", .title = "Fitter Happier", .album = "OK Computer", .seed = 2, .seconds = 12});
        test::make_audio(music / "Beyoncé" / "Halo.m4a", {.artist = "Beyoncé", .title = "Halo", .album = "I Am... Sasha Fierce", .seed = 3, .seconds = 12});
        test::make_audio(music / "U2" / "One.ogg", {.artist = "U2", .title = "One", .album = "Achtung Baby", .seed = 4, .seconds = 12});
        test::make_audio(music / "Cover Band" / "Karma Police.mp3", {.artist = "Cover Band", .title = "Karma Police", .album = "Covers", .seed = 5, .seconds = 12});
        test::make_audio(music / "Radiohead" / "OK Computer (MP3)" / "06 Karma Police.mp3",
                         {.artist = "Radiohead", .title = "Karma Police", .album = "OK Computer", .seed = 1, .seconds = 20});
        test::make_corrupt_variants(music / "junk");
        daemon = std::make_unique<test::Daemon>(tmp / "data",
                                                std::vector<std::string>{"--library", music.string(), "--name", "home"});
        daemon->wait_scan_idle();
    }

    nlohmann::json search(const std::string& q) {
        return daemon->api().get_json("/api/v1/search?" + client::query_string({{"q", q}}));
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

} // namespace

BOOST_AUTO_TEST_CASE(status_reports_the_finished_scan) {
    auto s = fixture().daemon->status();
    BOOST_TEST(s["name"] == "home");
    // Six good files plus junk/garbage_audio.flac, whose tags read but whose audio does not decode.
    BOOST_TEST(s["tracks"].get<int>() == 7);
    BOOST_TEST(s["scan"]["running"] == false);
    BOOST_TEST(s["scan"]["files_done"] == s["scan"]["files_total"]);
    BOOST_TEST(s["scan"]["fingerprints_done"].get<int>() == 7);
    // truncated.mp3, id3_only.mp3, garbage.flac, zero.ogg, header_only.m4a
    BOOST_TEST(s["scan"]["errors"].get<int>() == 5);
    BOOST_TEST(!s["version"].get<std::string>().empty());
}

BOOST_AUTO_TEST_CASE(errors_list_names_bad_files_with_reasons) {
    auto errors = fixture().daemon->api().get_json("/api/v1/errors");
    BOOST_TEST_REQUIRE(errors.is_array());
    BOOST_TEST(errors.size() == 6u); // five unindexable files and one indexed without fingerprint
    for (auto& e : errors) {
        BOOST_TEST(e["path"].get<std::string>().find("/junk/") != std::string::npos);
        BOOST_TEST(!e["reason"].get<std::string>().empty());
    }
}

BOOST_AUTO_TEST_CASE(sloppy_queries_find_the_right_track_first) {
    auto& f = fixture();
    for (const std::string& q : std::vector<std::string>{"radiohead - karma police", "Radiohaed karma polise", "KARMA POLICE (Remastered 2011) - Radiohead",
                          "the radiohead - karma police"}) {
        auto r = f.search(q);
        BOOST_TEST_CONTEXT(q) {
            BOOST_TEST_REQUIRE(!r["results"].empty());
            BOOST_TEST(r["results"][0]["artist"] == "Radiohead");
            BOOST_TEST(r["results"][0]["track"] == "Karma Police");
        }
    }
    auto exact = f.daemon->api().get_json("/api/v1/search?artist=Radiohead&track=Karma%20Police");
    BOOST_TEST(exact["solved"] == true);
    BOOST_TEST(exact["results"][0]["score"].get<double>() == 1.0);
    // Both encodings of the recording, one recording id, lossless first; the
    // cover band's same-titled song, if listed at all, only after them and unsolved.
    const auto& res = exact["results"];
    BOOST_TEST_REQUIRE(res.size() >= 2u);
    BOOST_TEST(res[0]["recording"] == res[1]["recording"]);
    BOOST_TEST(res[0]["mimetype"] == "audio/flac");
    BOOST_TEST(res[1]["mimetype"] == "audio/mpeg");
    for (std::size_t i = 2; i < res.size(); ++i) BOOST_TEST(res[i]["score"].get<double>() < 0.99);
    // Title only: the cover is found too, below the real one.
    auto title_only = f.search("karma police");
    bool cover_found = false;
    for (auto& r : title_only["results"]) cover_found |= r["artist"] == "Cover Band";
    BOOST_TEST(cover_found);
    // Short names and diacritics.
    BOOST_TEST(f.search("u2 one")["results"][0]["track"] == "One");
    BOOST_TEST(f.search("beyonce halo")["results"][0]["artist"] == "Beyoncé");
    // Nothing leaks a path.
    BOOST_TEST(exact.dump().find(f.music.string()) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(playdar_resolve_and_long_poll) {
    auto& api = fixture().daemon->api();
    auto started = api.get_json("/api/?method=resolve&artist=radiohead&track=karma%20police&qid=test-qid-1");
    BOOST_TEST(started["qid"] == "test-qid-1");
    auto r = api.get_json("/api/?method=get_results_long&qid=test-qid-1&timeout=5000");
    BOOST_TEST(r["qid"] == "test-qid-1");
    BOOST_TEST(r["solved"] == true);
    BOOST_TEST(r["query"]["artist"] == "radiohead");
    BOOST_TEST_REQUIRE(!r["results"].empty());
    auto top = r["results"][0];
    for (auto key : {"sid", "artist", "track", "album", "source", "size", "bitrate", "duration", "mimetype", "score", "recording"})
        BOOST_TEST(top.contains(key), key);
    BOOST_TEST(top["source"] == "home");
    auto jsonp = api.get("/api/?method=get_results&qid=test-qid-1&jsonp=cb");
    BOOST_TEST(jsonp.body.rfind("cb(", 0) == 0);
    auto stat = api.get_json("/api/?method=stat");
    BOOST_TEST(stat["name"] == "playdar");
}

BOOST_AUTO_TEST_CASE(sid_streams_byte_for_byte_with_ranges) {
    auto& f = fixture();
    const auto file = slurp(f.karma);
    auto r = f.daemon->api().get_json("/api/v1/search?artist=Radiohead&track=Karma%20Police");
    const std::string sid = r["results"][0]["sid"];
    auto& api = f.daemon->api();
    auto whole = api.get("/sid/" + sid);
    BOOST_TEST(whole.status == 200u);
    BOOST_TEST(whole.header("Content-Type") == "audio/flac");
    BOOST_TEST(whole.header("Accept-Ranges") == "bytes");
    BOOST_TEST((whole.body == file));

    const auto n = file.size();
    struct Case {
        std::string range;
        std::size_t from, len;
    };
    const Case cases[] = {{"bytes=0-0", 0, 1}, {"bytes=100-65635", 100, 65536}, {"bytes=" + std::to_string(n - 1) + "-", n - 1, 1},
                          {"bytes=-1000", n - 1000, 1000}, {"bytes=70000-", 70000, n - 70000},
                          {"bytes=5-" + std::to_string(n + 100), 5, n - 5}};
    for (const auto& c : cases) {
        auto part = api.get("/sid/" + sid, {{"Range", c.range}});
        BOOST_TEST_CONTEXT(c.range) {
            BOOST_TEST(part.status == 206u);
            BOOST_TEST((part.body == file.substr(c.from, c.len)));
            BOOST_TEST(part.header("Content-Range") ==
                       "bytes " + std::to_string(c.from) + "-" + std::to_string(c.from + c.len - 1) + "/" + std::to_string(n));
        }
    }
    auto beyond = api.get("/sid/" + sid, {{"Range", "bytes=" + std::to_string(n + 10) + "-"}});
    BOOST_TEST(beyond.status == 416u);
    auto head = api.head("/sid/" + sid);
    BOOST_TEST(head.status == 200u);
    BOOST_TEST(head.header("Content-Length") == std::to_string(n));
}

BOOST_AUTO_TEST_CASE(real_players_read_and_seek) {
    auto& f = fixture();
    auto r = f.daemon->api().get_json("/api/v1/search?artist=Radiohead&track=Karma%20Police");
    const std::string url = f.daemon->url() + "/sid/" + r["results"][0]["sid"].get<std::string>();
    const auto log = f.tmp / "players.log";
    BOOST_TEST(test::run("ffprobe", {"-v", "error", "-show_entries", "format=duration", url}, log) == 0);
    BOOST_TEST(test::run("ffmpeg", {"-v", "error", "-nostdin", "-ss", "12", "-i", url, "-t", "3", "-f", "null", "-"}, log) == 0);
    // mpv: test_daemon_mpv (its own CTest entry, skipped where mpv is missing).
}

BOOST_AUTO_TEST_CASE(traversal_and_malformed_requests_are_refused) {
    auto& api = fixture().daemon->api();
    for (const std::string& target : std::vector<std::string>{"/sid/../../etc/passwd", "/sid/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/sid/..%2F..%2Fetc%2Fpasswd",
                               "/api/v1/tracks/..%2f..%2fetc", "/sid/" + std::string(64, 'z'), "/sid/", "/../../etc/passwd",
                               "/api/v1/tracks/%ZZ"}) {
        auto r = api.get(target);
        BOOST_TEST_CONTEXT(target) {
            BOOST_TEST((r.status == 400u || r.status == 404u));
            BOOST_TEST(r.body.find("root:") == std::string::npos);
        }
    }
    BOOST_TEST(api.get("/api/?method=no_such_method").status == 400u);
    BOOST_TEST(api.get("/api/?method=get_results").status == 400u);
    BOOST_TEST(api.get_json("/api/v1/health")["ok"] == true);
}

BOOST_AUTO_TEST_CASE(cli_talks_to_the_daemon) {
    auto& f = fixture();
    const auto log = f.tmp / "cli.log";
    const auto cli = test::earshot_cli_path();
    BOOST_TEST(test::run(cli, {"--api", f.daemon->url(), "status"}, log) == 0);
    BOOST_TEST(test::run(cli, {"--api", f.daemon->url(), "search", "radiohead - karma police"}, log) == 0);
    BOOST_TEST(test::run(cli, {"--api", f.daemon->url(), "play", "--print", "radiohead - karma police"}, log) == 0);
    BOOST_TEST(test::run(cli, {"--api", f.daemon->url(), "errors"}, log) == 0);
    BOOST_TEST(test::run(cli, {"--api", f.daemon->url(), "search", "zzzz qqqq xxxx"}, log) == 3);
    const auto text = slurp(log);
    BOOST_TEST(text.find("Karma Police") != std::string::npos);
    BOOST_TEST(text.find("/sid/") != std::string::npos);
    // Not running: a plain message and exit code 1.
    const auto down = f.tmp / "cli-down.log";
    BOOST_TEST(test::run(cli, {"--api", "http://127.0.0.1:" + std::to_string(test::free_port()), "status"}, down) == 1);
    BOOST_TEST(slurp(down).find("earshotd") != std::string::npos);
}

// Web sites through the real daemon: approved from the CLI, kept in
// DATA/sites.json (0600) across a restart, revoked from the CLI.
BOOST_AUTO_TEST_CASE(sites_are_approved_from_the_cli_and_survive_a_restart) {
    test::TempDir tmp{"earshot-e2e-sites"};
    const auto music = tmp / "music";
    const auto song = music / "Portishead" / "Roads.ogg";
    test::make_audio(song, {.artist = "Portishead", .title = "Roads", .album = "Dummy", .seed = 9, .seconds = 6});
    const auto data = tmp / "data";
    const std::vector<std::string> args{"--library", music.string(), "--name", "sites-home"};
    const client::Headers fetch{{"Origin", "https://player.example"}, {"Sec-Fetch-Site", "cross-site"},
                                {"Sec-Fetch-Mode", "cors"}, {"Referer", "https://player.example/"}};
    const client::Headers audio{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "no-cors"},
                                {"Sec-Fetch-Dest", "audio"}, {"Referer", "https://player.example/"}};
    const auto cli = test::earshot_cli_path();
    std::string token, url;
    {
        test::Daemon d(data, args);
        d.wait_scan_idle();
        auto& api = d.api();
        // A stranger gets nothing; the CLI (no browser headers) gets everything.
        BOOST_TEST(api.get("/api/?method=resolve&artist=Portishead&track=Roads", fetch).status == 403u);
        const auto found = api.get_json("/api/v1/search?artist=Portishead&track=Roads");
        BOOST_REQUIRE(!found["results"].empty());
        const std::string sid = found["results"][0]["sid"];
        BOOST_TEST(api.get("/sid/" + sid, audio).status == 403u);

        const auto allowed = test::run_program({cli, "--api", d.url(), "sites", "allow", "https://player.example", "--name", "Player"});
        BOOST_TEST(allowed.exit_code == 0);
        BOOST_REQUIRE(allowed.out.size() == 65u);
        token = allowed.out.substr(0, 64);
        const auto listed = test::run_program({cli, "--api", d.url(), "sites", "list"});
        BOOST_TEST(listed.out.find("https://player.example") != std::string::npos);

        struct stat st {};
        BOOST_REQUIRE(::stat((data / "sites.json").c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 0777) == 0600u);

        const auto qid = api.get("/api/?method=resolve&artist=Portishead&track=Roads&auth=" + token, fetch).json()["qid"].get<std::string>();
        const auto results = api.get("/api/?method=get_results_long&timeout=5000&qid=" + qid + "&auth=" + token, fetch).json();
        BOOST_REQUIRE(!results["results"].empty());
        url = results["results"][0]["url"].get<std::string>();
        BOOST_TEST(url.find("?auth=" + token) != std::string::npos);
        const auto bytes = api.get(url.substr(d.url().size()), audio);
        BOOST_TEST(bytes.status == 200u);
        BOOST_TEST((bytes.body == slurp(song)));
        d.stop();
    }
    test::Daemon d(data, args);
    auto& api = d.api();
    const auto path = url.substr(url.find("/sid/"));
    BOOST_TEST(api.get(path, audio).status == 200u); // still approved after the restart
    BOOST_TEST(test::run_program({cli, "--api", d.url(), "sites", "revoke", "https://player.example"}).exit_code == 0);
    BOOST_TEST(api.get(path, audio).status == 403u);
    BOOST_TEST(api.get("/api/?method=stat&auth=" + token, fetch).json()["authenticated"] == false);
}

BOOST_AUTO_TEST_CASE(events_stream_as_server_sent_events_and_resume) {
    auto& d = *fixture().daemon;
    // What the first scan told, still held: phases in order, then its end.
    auto r = d.api().get("/api/v1/events?since=0&timeout=300");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(r.header("Content-Type").rfind("text/event-stream", 0) == 0u);
    const auto held = test::parse_events(r.body);
    BOOST_TEST_REQUIRE(!held.empty(), r.body);
    std::vector<std::string> phases;
    for (std::size_t i = 0; i < held.size(); ++i) {
        if (i > 0) BOOST_TEST(held[i].id > held[i - 1].id);
        BOOST_TEST(held[i].data["time_ms"].get<std::int64_t>() > 0);
        // A long phase also reports its progress once a second: count each phase once.
        if (held[i].kind == "scan_progress" && (phases.empty() || phases.back() != held[i].data["phase"]))
            phases.push_back(held[i].data["phase"].get<std::string>());
    }
    BOOST_TEST_REQUIRE(phases.size() >= 3u, r.body);
    BOOST_TEST(phases[0] == "walking");
    BOOST_TEST(phases[1] == "metadata");
    BOOST_TEST((std::find(phases.begin(), phases.end(), "fingerprints") != phases.end()));
    const auto finished = std::find_if(held.begin(), held.end(), [](const test::Event& e) { return e.kind == "scan_finished"; });
    BOOST_TEST_REQUIRE((finished != held.end()), r.body);
    BOOST_TEST((*finished).data["scans_completed"].get<int>() >= 1);

    // Resuming after an event gives exactly what followed it.
    const auto resumed = test::parse_events(d.api().get("/api/v1/events?timeout=300", {{"Last-Event-ID", std::to_string(held[0].id)}}).body);
    BOOST_TEST_REQUIRE(resumed.size() == held.size() - 1);
    BOOST_TEST(resumed.front().id == held[1].id);

    // Live: a stream opened before the next scan sees it start.
    std::optional<client::Response> live;
    std::thread reader([&] {
        client::Client c(d.url(), {}, std::chrono::seconds(30));
        live = c.get("/api/v1/events?max=1&timeout=20000&since=" + std::to_string(held.back().id));
    });
    BOOST_TEST(d.api().post_form("/api/v1/scan", "").ok());
    reader.join();
    BOOST_TEST_REQUIRE(live.has_value());
    const auto next = test::parse_events(live->body);
    BOOST_TEST_REQUIRE(next.size() == 1u, live->body);
    BOOST_TEST(next[0].kind == "scan_progress");
    BOOST_TEST(next[0].data["phase"] == "walking");
    BOOST_TEST(next[0].id > held.back().id);
    d.wait_scan_idle();

    // A page of another site learns nothing here.
    const auto foreign = d.api().get("/api/v1/events?since=0&timeout=100", {{"Origin", "https://evil.example"}});
    BOOST_TEST(foreign.status == 403u);
    BOOST_TEST(foreign.body.find("scan_") == std::string::npos);
}

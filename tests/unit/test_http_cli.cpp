// The `earshot` CLI binary ($EARSHOT_CLI) against a real http::Server with an
// in-test backend: output, exit codes, progress, the player hand-off and the
// messages a user sees when something is wrong.
#define BOOST_TEST_MODULE test_http_cli
#include <boost/test/unit_test.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/test_http_backend.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

using namespace earshot;
using namespace earshot::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::unique_ptr<TestBackend> make_backend(asio::io_context& io) {
    std::vector<resolver::Result> items{
        make_result("s1", "Portishead", "Roads", "Dummy", 5000, "audio/flac"),
        make_result("s2", "Massive Attack", "Teardrop", "Mezzanine", 4000, "audio/mpeg"),
    };
    std::vector<resolver::SourceSpec> sources;
    sources.push_back({std::make_shared<ListSource>(io.get_executor(), "local", items), 1.0, 2000ms});
    auto b = std::make_unique<TestBackend>(io, std::move(sources));
    b->tracks["s1"] = json{{"sid", "s1"}, {"artist", "Portishead"}, {"title", "Roads"}};
    b->failure_list = json::array({json{{"path", "/music/bad\x1b[31m.mp3"}, {"reason", "not an audio file"}},
                                   json{{"path", "/music/cut.flac"}, {"reason", "truncated FLAC stream"}}});
    b->scan_files = 5;
    b->scan_step = 100ms; // each phase lasts 500 ms: the CLI polls every 200 ms
    return b;
}

std::string quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

struct Run {
    int code = -1;
    std::string out, err;
};

class Cli {
public:
    Cli() {
        const char* cli = std::getenv("EARSHOT_CLI");
        BOOST_REQUIRE_MESSAGE(cli && *cli, "EARSHOT_CLI must name the earshot binary");
        binary_ = cli;
    }
    // Runs `earshot args...` with extra environment assignments ("A=b").
    Run operator()(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
        // Appended piece by piece: GCC 12 -O3 reports a false -Wrestrict on
        // `" " + std::string` (docs/toolchain-notes.md).
        std::string cmd = "env -u EARSHOT_API -u EARSHOT_TOKEN -u EARSHOT_PLAYER";
        const auto word = [&](const std::string& w) {
            cmd += ' ';
            cmd += quote(w);
        };
        for (const auto& e : env) word(e);
        word(binary_);
        for (const auto& a : args) word(a);
        const auto out = dir_ / "out", err = dir_ / "err";
        cmd += " </dev/null >";
        cmd += quote(out.string());
        cmd += " 2>";
        cmd += quote(err.string());
        const int rc = std::system(cmd.c_str());
        Run r;
        r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }

private:
    static std::string slurp(const std::filesystem::path& p) {
        std::ifstream f(p, std::ios::binary);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    std::string binary_;
    TempDir dir_{"earshot-cli-test"};
};

struct Fixture {
    ServerHarness server{make_backend};
    Cli cli;
    std::string api() const { return server.url(); }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(cli, Fixture)

BOOST_AUTO_TEST_CASE(status_human_and_json) {
    auto r = cli({"--api", api(), "status"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out.find("testlib") != std::string::npos);
    BOOST_TEST(r.out.find("tracks:  3") != std::string::npos);
    BOOST_TEST(r.out.find("scan:    idle") != std::string::npos);
    BOOST_TEST(r.out.find("2 file(s) could not be indexed") != std::string::npos);
    r = cli({"status", "--json"}, {"EARSHOT_API=" + api()});
    BOOST_TEST(r.code == 0);
    const auto j = json::parse(r.out);
    BOOST_TEST(j["name"] == "testlib");
    BOOST_TEST(j["scan"]["phase"] == "idle");
}

BOOST_AUTO_TEST_CASE(search_table_json_and_not_found) {
    auto r = cli({"--api", api(), "search", "Portishead - Roads"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out.find("SCORE") != std::string::npos);
    BOOST_TEST(r.out.find("Portishead") != std::string::npos);
    BOOST_TEST(r.out.find("Roads") != std::string::npos);
    BOOST_TEST(r.out.find("Dummy") != std::string::npos);
    BOOST_TEST(r.out.find("3:07") != std::string::npos); // 187.4 s
    BOOST_TEST(r.out.find("FLAC 320k") != std::string::npos);
    BOOST_TEST(r.out.find("s1") != std::string::npos);
    r = cli({"--api", api(), "resolve", "--artist", "Massive Attack", "--track", "Teardrop", "--json"});
    BOOST_TEST(r.code == 0);
    const auto j = json::parse(r.out);
    BOOST_TEST(j["results"][0]["sid"] == "s2");
    BOOST_TEST(j["results"][0]["url"] == api() + "/sid/s2");
    r = cli({"--api", api(), "search", "Nobody - Nothing"});
    BOOST_TEST(r.code == 3);
    BOOST_TEST(r.err.find("nothing found") != std::string::npos);
    r = cli({"--api", api(), "search"});
    BOOST_TEST(r.code == 2);
}

BOOST_AUTO_TEST_CASE(play_prints_or_hands_over_to_the_player) {
    auto r = cli({"--api", api(), "play", "--print", "Portishead - Roads"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out == api() + "/sid/s1\n");
    // $EARSHOT_PLAYER is split on spaces and gets the URL last.
    r = cli({"--api", api(), "play", "Massive Attack - Teardrop"}, {"EARSHOT_PLAYER=echo PLAYER-RAN --flag"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out == "PLAYER-RAN --flag " + api() + "/sid/s2\n");
    r = cli({"--api", api(), "play", "--sid", "s1"}, {"EARSHOT_PLAYER=echo"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out == api() + "/sid/s1\n");
    r = cli({"--api", api(), "play", "--sid", "nope", "--print"});
    BOOST_TEST(r.code == 3);
    r = cli({"--api", api(), "play", "Nobody - Nothing", "--print"});
    BOOST_TEST(r.code == 3);
}

BOOST_AUTO_TEST_CASE(errors_table) {
    auto r = cli({"--api", api(), "errors"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out.find("PATH") != std::string::npos);
    BOOST_TEST(r.out.find("truncated FLAC stream") != std::string::npos);
    BOOST_TEST(r.out.find('\x1b') == std::string::npos); // a file name cannot drive the terminal
    r = cli({"--api", api(), "errors", "--json"});
    BOOST_TEST(json::parse(r.out).size() == 2u);
}

BOOST_AUTO_TEST_CASE(scan_follows_progress_to_the_end) {
    auto r = cli({"--api", api(), "scan"});
    BOOST_TEST(r.code == 0);
    // stderr is a file here: plain progress lines, one per phase at least.
    BOOST_TEST(r.err.find("scan: metadata") != std::string::npos);
    BOOST_TEST(r.err.find("/5 files") != std::string::npos);
    BOOST_TEST(r.err.find("scan: fingerprints") != std::string::npos);
    BOOST_TEST(r.err.find("scan finished: 5 tracks, 2 error(s)") != std::string::npos);
    BOOST_TEST(r.err.find('\r') == std::string::npos); // no bar redraws off a terminal
    BOOST_TEST(!server.on_io([&] { return server.backend().scan_running(); }));

    r = cli({"--api", api(), "scan", "--no-wait"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.err.find("scan started") != std::string::npos);
    BOOST_TEST(server.on_io([&] { return server.backend().scan_running(); }));
    r = cli({"--api", api(), "scan", "--no-wait"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.err.find("already running") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(sites_allow_list_revoke) {
    auto r = cli({"--api", api(), "sites", "list"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.err.find("no web sites allowed") != std::string::npos);
    r = cli({"--api", api(), "sites", "allow", "HTTPS://Player.Example/", "--name", "Player"});
    BOOST_TEST(r.code == 0);
    // stdout is the token alone, for TOKEN=$(earshot sites allow ...).
    BOOST_REQUIRE(r.out.size() == 65u);
    const auto token = r.out.substr(0, 64);
    BOOST_TEST(r.out.back() == '\n');
    BOOST_TEST(r.err.find("https://player.example") != std::string::npos);
    // The token it printed opens the Playdar API to that site, and only that site.
    auto api_client = server.client();
    const client::Headers from_player{{"Origin", "https://player.example"}, {"Sec-Fetch-Site", "cross-site"}};
    BOOST_TEST(api_client.get("/api/?method=resolve&q=x&auth=" + token, from_player).status == 200u);
    BOOST_TEST(api_client.get("/api/?method=resolve&q=x", from_player).status == 403u);
    r = cli({"--api", api(), "sites", "list"});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out.find("ORIGIN") != std::string::npos);
    BOOST_TEST(r.out.find("https://player.example") != std::string::npos);
    BOOST_TEST(r.out.find("Player") != std::string::npos);
    BOOST_TEST(r.out.find(token) == std::string::npos); // tokens are not shown in the table
    r = cli({"--api", api(), "sites", "list", "--json"});
    BOOST_TEST(json::parse(r.out)[0]["token"] == token);
    r = cli({"--api", api(), "sites", "allow", "not an origin"});
    BOOST_TEST(r.code == 1);
    BOOST_TEST(r.err.find("is not a web origin") != std::string::npos);
    r = cli({"--api", api(), "sites", "revoke", token});
    BOOST_TEST(r.code == 0);
    BOOST_TEST(api_client.get("/api/?method=resolve&q=x&auth=" + token, from_player).status == 403u);
    r = cli({"--api", api(), "sites", "revoke", "https://player.example"});
    BOOST_TEST(r.code == 3);
    BOOST_TEST(cli({"--api", api(), "sites"}).code == 2);
    BOOST_TEST(cli({"--api", api(), "sites", "allow"}).code == 2);
}

BOOST_AUTO_TEST_CASE(usage_errors) {
    BOOST_TEST(cli({}).code == 2);
    BOOST_TEST(cli({"frobnicate"}).code == 2);
    BOOST_TEST(cli({"--api", "https://127.0.0.1:1", "status"}).code == 2);
    BOOST_TEST(cli({"--help"}).code == 0);
    const auto v = cli({"--version"});
    BOOST_TEST(v.code == 0);
    BOOST_TEST(v.out.starts_with("earshot 0.1.0"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(daemon_not_running) {
    // A port that was just free: bind, note, release.
    std::uint16_t port = 0;
    {
        asio::io_context io;
        asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }
    Cli cli;
    const auto url = "http://127.0.0.1:" + std::to_string(port);
    const auto r = cli({"--api", url, "status"});
    BOOST_TEST(r.code == 1);
    BOOST_TEST(r.err == "earshot: cannot reach earshotd at " + url +
                            " (connection refused) — is it running? Start it with: earshotd --library DIR\n");
}

BOOST_AUTO_TEST_CASE(token_required) {
    http::ServerOptions opts;
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0);
    opts.token = "tok-123";
    ServerHarness server(make_backend, opts);
    Cli cli;
    auto r = cli({"--api", server.url(), "status"});
    BOOST_TEST(r.code == 1);
    BOOST_TEST(r.err.find("wants an API token") != std::string::npos);
    r = cli({"--api", server.url(), "--token", "tok-123", "status"});
    BOOST_TEST(r.code == 0);
    r = cli({"status"}, {"EARSHOT_API=" + server.url(), "EARSHOT_TOKEN=tok-123"});
    BOOST_TEST(r.code == 0);
}

// The CLI's reader of /api/v1/events, fed the same stream cut every way.
BOOST_AUTO_TEST_CASE(event_stream_parser_reassembles_events_however_cut) {
    const std::string stream = ": still here\r\n\r\n"
                               "id: 7\nevent: link_up\ndata: {\"name\":\"home\"}\n\n"
                               "event: missed\rdata: {\"count\":3}\r\r"
                               "data: first\r\ndata:second\r\nunknown: field\r\n\r\n"
                               "id: 9\nevent: orphan\n\n"  // no data: not an event
                               "data: cut off before its blank line";
    for (std::size_t piece : {std::size_t{1}, std::size_t{2}, std::size_t{5}, std::size_t{17}, stream.size()}) {
        client::EventStreamParser parser;
        std::vector<client::ServerEvent> got;
        for (std::size_t at = 0; at < stream.size(); at += piece)
            parser.feed(std::string_view(stream).substr(at, piece), [&](client::ServerEvent&& e) { got.push_back(std::move(e)); });
        BOOST_TEST_CONTEXT("pieces of " << piece) {
            BOOST_REQUIRE_EQUAL(got.size(), 3u);
            BOOST_TEST(got[0].id == "7");
            BOOST_TEST(got[0].kind == "link_up");
            BOOST_TEST(got[0].data == "{\"name\":\"home\"}");
            BOOST_TEST(got[1].kind == "missed");
            BOOST_TEST(got[1].id == "7"); // an id holds until the next one
            BOOST_TEST(got[1].data == "{\"count\":3}");
            BOOST_TEST(got[2].kind == "message");
            BOOST_TEST(got[2].data == "first\nsecond");
        }
    }
}

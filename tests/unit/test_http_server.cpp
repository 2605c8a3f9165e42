// The real http::Server on 127.0.0.1:0 with an in-test Backend whose queries
// run through the real resolver::Resolver, driven by the earshot_client HTTP
// client (and curl/ffprobe where a real player's behaviour matters).
#define BOOST_TEST_MODULE test_http_server
#include <boost/test/unit_test.hpp>

#include "tests/support/temp_dir.hpp"
#include "tests/unit/test_http_backend.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sys/wait.h>

using namespace earshot;
using namespace earshot::test;
using namespace std::chrono_literals;
using nlohmann::json;
using client::bhttp::verb;

namespace {

constexpr std::size_t big_size = 1'000'003; // several 256 KiB pieces, odd on purpose

std::shared_ptr<const std::vector<std::uint8_t>> big_data() {
    static const auto data = std::make_shared<const std::vector<std::uint8_t>>(pattern_bytes(big_size));
    return data;
}

std::string slice(std::uint64_t first, std::uint64_t last) {
    const auto& d = *big_data();
    return std::string(reinterpret_cast<const char*>(d.data() + first), last - first + 1);
}

std::unique_ptr<TestBackend> make_backend(asio::io_context& io) {
    auto ex = io.get_executor();
    std::vector<resolver::Result> items{
        make_result("s1", "Portishead", "Roads", "Dummy", big_size, "audio/flac"),
        make_result("s2", "Massive Attack", "Teardrop", "Mezzanine", 1234, "audio/mpeg"),
        make_result("s3", "Massive Attack", "Angel", "Mezzanine", 1234, "audio/mpeg"),
    };
    std::vector<resolver::Result> slow_items{make_result("slow1", "Slowdive", "Alison", "Souvlaki", 10, "audio/ogg")};
    std::vector<resolver::SourceSpec> sources;
    sources.push_back({std::make_shared<ListSource>(ex, "local", items), 1.0, 2000ms});
    sources.push_back({std::make_shared<ListSource>(ex, "slowpeer", slow_items, 600ms), 1.0, 3000ms});
    auto b = std::make_unique<TestBackend>(io, std::move(sources));
    b->streams["s1"] = [] { return std::make_unique<MemorySource>(big_data(), "audio/flac"); };
    b->streams["s2"] = [] { return std::make_unique<MemorySource>(big_data(), "audio/mpeg"); };
    b->streams["broken"] = [] { return std::make_unique<MemorySource>(big_data(), "audio/flac", 0); };
    b->streams["breaks-midway"] = [] { return std::make_unique<MemorySource>(big_data(), "audio/flac", 300'000); };
    b->streams["empty"] = [] {
        return std::make_unique<MemorySource>(std::make_shared<const std::vector<std::uint8_t>>(), "audio/flac");
    };
    b->tracks["s1"] = json{{"sid", "s1"}, {"artist", "Portishead"}, {"title", "Roads"}};
    b->failure_list = json::array({json{{"path", "/music/bad.mp3"}, {"reason", "not an audio file"}}});
    return b;
}

struct Fixture {
    ServerHarness server{make_backend};
};

// Status code and parsed JSON body.
json expect_json(const client::Response& r, unsigned status) {
    BOOST_TEST(r.status == status);
    BOOST_TEST(r.header("Content-Type").starts_with("application/json"));
    return r.json();
}

void expect_error(const client::Response& r, unsigned status) {
    const auto j = expect_json(r, status);
    BOOST_TEST(j.contains("error"));
    BOOST_TEST(j["error"].is_string());
    BOOST_TEST(!j["error"].get<std::string>().empty());
}

struct Proc {
    int status;
    std::string out;
};

Proc run(const std::string& command) {
    Proc p{-1, {}};
    FILE* f = ::popen(command.c_str(), "r");
    if (!f) return p;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) p.out.append(buf, n);
    const int rc = ::pclose(f);
    p.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return p;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(playdar, Fixture)

BOOST_AUTO_TEST_CASE(stat_has_the_playdar_shape) {
    auto api = server.client();
    const auto r = api.get("/api/?method=stat");
    const auto j = expect_json(r, 200);
    BOOST_TEST(j["name"] == "playdar");
    BOOST_TEST(j["version"] == "0.1.0");
    BOOST_TEST(j["authenticated"] == true);
    BOOST_TEST(j["hostname"].is_string());
    BOOST_TEST(j["capabilities"].is_object());
    BOOST_TEST(j["earshot"]["name"] == "testlib");
    BOOST_TEST(r.header("Access-Control-Allow-Origin") == "*");
    // "/api" without the slash works too.
    BOOST_TEST(api.get("/api?method=stat").status == 200u);
}

BOOST_AUTO_TEST_CASE(resolve_then_get_results) {
    auto api = server.client();
    const auto qid = expect_json(api.get("/api/?method=resolve&artist=Portishead&track=Roads"), 200)["qid"].get<std::string>();
    BOOST_TEST(!qid.empty());
    const auto j = expect_json(api.get("/api/?method=get_results_long&timeout=5000&qid=" + qid), 200);
    BOOST_TEST(j["qid"] == qid);
    BOOST_TEST(j["solved"] == true);
    BOOST_TEST(j["query"]["artist"] == "Portishead");
    BOOST_TEST(j["query"]["track"] == "Roads");
    BOOST_TEST(j["query"]["album"] == "");
    BOOST_TEST(j["query"]["qid"] == qid);
    BOOST_TEST(j["poll_interval"].is_number_integer());
    BOOST_TEST(j["poll_limit"].is_number_integer());
    BOOST_REQUIRE(j["results"].is_array());
    BOOST_REQUIRE(!j["results"].empty());
    const auto& r = j["results"][0];
    BOOST_TEST(r["sid"] == "s1");
    BOOST_TEST(r["artist"] == "Portishead");
    BOOST_TEST(r["track"] == "Roads");
    BOOST_TEST(r["album"] == "Dummy");
    BOOST_TEST(r["source"] == "testlib");
    BOOST_TEST(r["size"] == big_size);
    BOOST_TEST(r["bitrate"] == 320);
    BOOST_TEST(r["duration"].is_number_integer());
    BOOST_TEST(r["duration"] == 187);
    BOOST_TEST(r["mimetype"] == "audio/flac");
    BOOST_TEST(r["score"].get<double>() >= resolver::solved_score);
    BOOST_TEST(r["recording"] == "rec-s1");
    BOOST_TEST(r["url"] == server.url() + "/sid/s1");
    BOOST_TEST(!r.contains("path"));
    // The URL it hands out plays.
    const auto media = api.get("/sid/s1");
    BOOST_TEST(media.status == 200u);
    BOOST_TEST(media.body == slice(0, big_size - 1));
    // Plain get_results sees the same snapshot.
    const auto again = expect_json(api.get("/api/?method=get_results&qid=" + qid), 200);
    BOOST_TEST(again["results"][0]["sid"] == "s1");
}

BOOST_AUTO_TEST_CASE(resolve_by_form_post_and_free_text_with_own_qid) {
    auto api = server.client();
    auto j = expect_json(api.post_form("/api/", "method=resolve&q=massive+attack+-+teardrop&qid=my-query.1"), 200);
    BOOST_TEST(j["qid"] == "my-query.1");
    j = expect_json(api.get("/api/?method=get_results_long&qid=my-query.1&timeout=5000"), 200);
    BOOST_TEST(j["query"]["q"] == "massive attack - teardrop");
    BOOST_REQUIRE(!j["results"].empty());
    BOOST_TEST(j["results"][0]["sid"] == "s2");
    BOOST_TEST(j["solved"] == true);
}

BOOST_AUTO_TEST_CASE(long_poll_returns_at_its_timeout_then_results_arrive) {
    auto api = server.client();
    const auto qid = expect_json(api.get("/api/?method=resolve&artist=Slowdive&track=Alison"), 200)["qid"].get<std::string>();
    const auto began = std::chrono::steady_clock::now();
    auto j = expect_json(api.get("/api/?method=get_results_long&timeout=150&qid=" + qid), 200);
    const auto waited = std::chrono::steady_clock::now() - began;
    BOOST_TEST(j["solved"] == false);
    BOOST_TEST(j["results"].empty()); // the slow peer answers after 600 ms
    BOOST_TEST(waited >= 100ms);
    BOOST_TEST(waited < 550ms);
    j = expect_json(api.get("/api/?method=get_results_long&timeout=5000&qid=" + qid), 200);
    BOOST_TEST(j["solved"] == true);
    BOOST_TEST(j["results"][0]["sid"] == "slow1");
}

BOOST_AUTO_TEST_CASE(cancel) {
    auto api = server.client();
    const auto qid = expect_json(api.get("/api/?method=resolve&artist=Slowdive&track=Alison"), 200)["qid"].get<std::string>();
    auto j = expect_json(api.get("/api/?method=cancel&qid=" + qid), 200);
    BOOST_TEST(j["qid"] == qid);
    BOOST_TEST(j["cancelled"] == true);
    j = expect_json(api.get("/api/?method=get_results&qid=" + qid), 200);
    BOOST_TEST(j["finished"] == true);
    expect_error(api.get("/api/?method=cancel&qid=nope"), 404);
    expect_error(api.get("/api/?method=get_results&qid=nope"), 404);
    expect_error(api.get("/api/?method=get_results_long&qid=nope&timeout=10"), 404);
}

BOOST_AUTO_TEST_CASE(jsonp) {
    auto api = server.client();
    for (const std::string param : {"jsonp", "callback"}) {
        const auto r = api.get("/api/?method=stat&" + param + "=Playdar.client.cb$1");
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.header("Content-Type").starts_with("text/javascript"));
        BOOST_REQUIRE(r.body.starts_with("Playdar.client.cb$1("));
        BOOST_REQUIRE(r.body.ends_with(");"));
        const auto inner = r.body.substr(20, r.body.size() - 22);
        BOOST_TEST(json::parse(inner)["name"] == "playdar");
    }
    // Errors are wrapped too, keeping their status.
    const auto r = api.get("/api/?method=bogus&jsonp=cb");
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.starts_with("cb({\"error\""));
    // Callback names that could inject script are refused (plain JSON).
    for (const char* cb : {"alert(1)", "a%3Bb", "x%20y", "%3Cscript%3E"}) {
        BOOST_TEST_CONTEXT(cb) { expect_error(api.get(std::string("/api/?method=stat&jsonp=") + cb), 400); }
    }
}

BOOST_AUTO_TEST_CASE(bad_requests_get_clear_json_errors) {
    auto api = server.client();
    expect_error(api.get("/api/?method=bogus"), 400);
    expect_error(api.get("/api/"), 400);                                // no method
    expect_error(api.get("/api/?method=resolve"), 400);                 // nothing to resolve
    expect_error(api.get("/api/?method=resolve&artist=x"), 400);        // artist alone
    expect_error(api.get("/api/?method=resolve&track=x&duration=abc"), 400);
    expect_error(api.get("/api/?method=resolve&track=x&duration=-3"), 400);
    expect_error(api.get("/api/?method=resolve&track=x&qid=a/b"), 400);
    expect_error(api.get("/api/?method=resolve&track=" + std::string(5000, 'x')), 400);
    expect_error(api.get("/api/?method=get_results"), 400);             // no qid
    expect_error(api.get("/api/?method=get_results_long&qid=x&timeout=soon"), 400);
    expect_error(api.get("/api/?method=get_results_long&qid=x&timeout=-1"), 400);
    expect_error(api.get("/api/?method=resolve&track=%zz"), 400);       // malformed escape
    expect_error(api.get("/api/?method=stat%"), 400);
    expect_error(api.request(verb::delete_, "/api/?method=stat"), 405);
    const auto e = expect_json(api.get("/api/?method=bogus"), 400);
    BOOST_TEST(e["error"].get<std::string>().find("bogus") != std::string::npos);
    BOOST_TEST(api.get("/api/?method=stat").status == 200u); // and the connection is still fine
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(streaming, Fixture)

BOOST_AUTO_TEST_CASE(range_table) {
    auto api = server.client();
    const std::uint64_t n = big_size;
    const std::string total = "/" + std::to_string(n);

    auto whole = api.get("/sid/s1");
    BOOST_TEST(whole.status == 200u);
    BOOST_TEST(whole.header("Content-Type") == "audio/flac");
    BOOST_TEST(whole.header("Content-Length") == std::to_string(n));
    BOOST_TEST(whole.header("Accept-Ranges") == "bytes");
    BOOST_TEST(whole.header("ETag") == "\"s1\"");
    BOOST_TEST(whole.header("Access-Control-Allow-Origin") == "*");
    BOOST_TEST(whole.body == slice(0, n - 1));

    struct Case {
        std::string range;
        std::uint64_t first, last;
    };
    const Case cases[] = {
        {"bytes=0-0", 0, 0},                                   // first byte
        {"bytes=" + std::to_string(n - 1) + "-", n - 1, n - 1}, // last byte
        {"bytes=-1", n - 1, n - 1},                            // last byte, as a suffix
        {"bytes=-1000", n - 1000, n - 1},                      // suffix
        {"bytes=262143-262144", 262143, 262144},               // across a piece boundary
        {"bytes=300000-", 300000, n - 1},                      // open-ended
        {"bytes=10-99999999999", 10, n - 1},                   // clipped at the end
        {"bytes=0-9,20-29", 0, 29},                            // multi-range: one covering span
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.range) {
            const auto r = api.get("/sid/s1", {{"Range", c.range}});
            BOOST_TEST(r.status == 206u);
            BOOST_TEST(r.header("Content-Range") ==
                       "bytes " + std::to_string(c.first) + "-" + std::to_string(c.last) + total);
            BOOST_TEST(r.header("Content-Length") == std::to_string(c.last - c.first + 1));
            BOOST_TEST(r.body.size() == c.last - c.first + 1);
            BOOST_TEST((r.body == slice(c.first, c.last)));
        }
    }
    for (const std::string& bad : {"bytes=" + std::to_string(n) + "-", "bytes=" + std::to_string(n + 10) + "-" + std::to_string(n + 20), std::string("bytes=-0")}) {
        BOOST_TEST_CONTEXT(bad) {
            const auto r = api.get("/sid/s1", {{"Range", bad}});
            BOOST_TEST(r.status == 416u);
            BOOST_TEST(r.header("Content-Range") == "bytes */" + std::to_string(n));
        }
    }
    // Unparsable Range: ignored, whole body.
    auto r = api.get("/sid/s1", {{"Range", "bytes=oops"}});
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body.size() == n);
    // If-Range: only honoured while the ETag matches.
    r = api.get("/sid/s1", {{"Range", "bytes=5-9"}, {"If-Range", "\"s1\""}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == slice(5, 9));
    r = api.get("/sid/s1", {{"Range", "bytes=5-9"}, {"If-Range", "\"other\""}});
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body.size() == n);
    // HEAD: the headers a GET would get, no body.
    r = api.head("/sid/s1");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Content-Length") == std::to_string(n));
    BOOST_TEST(r.body.empty());
    r = api.head("/sid/s1", {{"Range", "bytes=100-199"}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.header("Content-Length") == "100");
    BOOST_TEST(r.header("Content-Range") == "bytes 100-199" + total);
    BOOST_TEST(r.body.empty());
    // Still the same healthy connection after all that.
    BOOST_TEST(api.get("/api/v1/health").status == 200u);
}

BOOST_AUTO_TEST_CASE(empty_stream) {
    auto api = server.client();
    auto r = api.get("/sid/empty");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Content-Length") == "0");
    r = api.get("/sid/empty", {{"Range", "bytes=0-"}});
    BOOST_TEST(r.status == 416u);
    BOOST_TEST(r.header("Content-Range") == "bytes */0");
}

BOOST_AUTO_TEST_CASE(unknown_sids_and_traversal) {
    auto api = server.client();
    expect_error(api.get("/sid/unknown"), 404);
    expect_error(api.get("/sid/"), 404);
    expect_error(api.get("/sid/s1/extra"), 404);
    expect_error(api.get("/sid/%252e%252e"), 404); // decodes once to a literal, unknown name
    expect_error(api.get("/sid/s1%3Bx"), 404);
    // Each of these breaks a rule of request paths (a dot segment, an encoded
    // '/', '\\' or NUL, malformed percent-encoding), so the server refuses it
    // with 400 before any route sees it; none may reach a file.
    const std::pair<const char*, unsigned> refused[] = {
        {"/sid/../../etc/passwd", 400},                // literal ".." segments
        {"/sid/%2e%2e%2fetc", 400},                    // encoded "../"
        {"/sid/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400},  // encoded "../../etc/passwd"
        {"/sid/..%2f..%2fetc%2fpasswd", 400},          // encoded '/'
        {"/api/../", 400},                             // ".." segment
        {"/api/v1/../../etc/passwd", 400},             // ".." segments
        {"/api/v1/tracks/..%2F..%2Fetc", 400},         // encoded '/'
        {"/sid/%2E%2E", 400},                          // encoded ".."
        {"/sid/a%5c..%5cb", 400},                      // encoded '\\'
        {"/sid/%00", 400},                             // encoded NUL
        {"/sid/%zz", 400},                             // not percent-encoding
    };
    for (const auto& [t, expected] : refused) {
        BOOST_TEST_CONTEXT(t) {
            const auto r = api.get(t);
            BOOST_TEST((r.status == 400u || r.status == 404u));
            BOOST_TEST(r.body.find("root:") == std::string::npos);
            expect_error(r, expected);
        }
    }
    expect_error(api.get("/nowhere"), 404);
    expect_error(api.get("/"), 404);
    expect_error(api.request(verb::post, "/sid/s1"), 405);
    BOOST_TEST(api.request(verb::post, "/sid/s1").header("Allow").find("GET") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(source_failures) {
    auto api = server.client();
    // Fails before the first byte: a proper 500, and the connection lives on.
    expect_error(api.get("/sid/broken"), 500);
    BOOST_TEST(api.get("/api/v1/health").status == 200u);
    // Fails after the headers went out: the connection is closed early, the
    // client notices (short body), the server carries on.
    BOOST_CHECK_THROW(api.get("/sid/breaks-midway"), client::ProtocolError);
    BOOST_TEST(api.get("/api/v1/health").status == 200u);
}

BOOST_AUTO_TEST_CASE(client_that_vanishes_mid_stream) {
    for (int i = 0; i < 3; ++i) {
        asio::io_context io;
        asio::ip::tcp::socket s(io);
        s.connect({asio::ip::make_address("127.0.0.1"), server.port()});
        const std::string req = "GET /sid/s1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        asio::write(s, asio::buffer(req));
        std::array<char, 1000> buf{};
        asio::read(s, asio::buffer(buf)); // some of it, then hang up
        s.close();
    }
    auto api = server.client();
    const auto r = api.get("/sid/s1", {{"Range", "bytes=-10"}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == slice(big_size - 10, big_size - 1));
}

BOOST_AUTO_TEST_CASE(pipelined_requests_share_a_connection) {
    auto api = server.client();
    const auto out = api.raw_exchange(
        "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        "GET /sid/s1 HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-3\r\n\r\n"
        "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    BOOST_TEST(out.starts_with("HTTP/1.1 200"));
    BOOST_TEST(out.find("HTTP/1.1 206") != std::string::npos);
    BOOST_TEST(out.find(slice(0, 3)) != std::string::npos);
    BOOST_TEST(out.rfind("{\"ok\":true}") > out.find("HTTP/1.1 206"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(big_files)

// A sparse 5 GiB file: 64-bit offsets end to end without using the disk.
BOOST_AUTO_TEST_CASE(multi_gigabyte_offsets) {
    TempDir dir("earshot-http-big");
    const auto path = dir / "huge.bin";
    const std::uint64_t size = 5ULL << 30;
    const std::uint64_t at = (4ULL << 30) + 12345; // beyond 32 bits
    const std::string marker = "earshot-was-here";
    {
        std::ofstream f(path, std::ios::binary);
        f.seekp(static_cast<std::streamoff>(at));
        f << marker;
        f.seekp(static_cast<std::streamoff>(size - 1));
        f.put('Z');
    }
    BOOST_REQUIRE(std::filesystem::file_size(path) == size);
    ServerHarness server([&](asio::io_context& io) {
        auto b = make_backend(io);
        b->streams["huge"] = [path] { return std::make_unique<FileSource>(path, "application/octet-stream"); };
        return b;
    });
    auto api = server.client();
    auto r = api.head("/sid/huge");
    BOOST_TEST(r.header("Content-Length") == std::to_string(size));
    r = api.get("/sid/huge", {{"Range", "bytes=" + std::to_string(at) + "-" + std::to_string(at + marker.size() - 1)}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == marker);
    BOOST_TEST(r.header("Content-Range") == "bytes " + std::to_string(at) + "-" + std::to_string(at + marker.size() - 1) +
                                                "/" + std::to_string(size));
    r = api.get("/sid/huge", {{"Range", "bytes=-1"}});
    BOOST_TEST(r.body == "Z");
    // 3 MiB from the middle, streamed in pieces.
    r = api.get("/sid/huge", {{"Range", "bytes=" + std::to_string(at - 1000000) + "-" + std::to_string(at + 2145727)}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body.size() == 3145728u);
    BOOST_TEST(r.body.substr(1000000, marker.size()) == marker);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(native, Fixture)

BOOST_AUTO_TEST_CASE(status_health_errors_tracks) {
    auto api = server.client();
    auto j = expect_json(api.get("/api/v1/health"), 200);
    BOOST_TEST(j["ok"] == true);
    j = expect_json(api.get("/api/v1/status"), 200);
    BOOST_TEST(j["name"] == "testlib");
    BOOST_TEST(j["scan"]["running"] == false);
    j = expect_json(api.get("/api/v1/errors"), 200);
    BOOST_TEST(j[0]["reason"] == "not an audio file");
    j = expect_json(api.get("/api/v1/tracks/s1"), 200);
    BOOST_TEST(j["title"] == "Roads");
    expect_error(api.get("/api/v1/tracks/nope"), 404);
    expect_error(api.get("/api/v1/nothing"), 404);
    expect_error(api.get("/api/v1/status/"), 404);
    expect_error(api.request(verb::delete_, "/api/v1/status"), 405);
    const auto r = api.get("/api/v1/status");
    BOOST_TEST(r.header("Access-Control-Allow-Origin").empty()); // no CORS on the native API
}

BOOST_AUTO_TEST_CASE(search_waits_and_limits) {
    auto api = server.client();
    auto j = expect_json(api.get("/api/v1/search?artist=Massive+Attack&track=Teardrop"), 200);
    BOOST_TEST(j["solved"] == true);
    BOOST_REQUIRE(!j["results"].empty());
    BOOST_TEST(j["results"][0]["sid"] == "s2");
    BOOST_TEST(j["results"][0]["url"] == server.url() + "/sid/s2");
    const auto qid = j["qid"].get<std::string>();
    j = expect_json(api.get("/api/v1/results/" + qid), 200);
    BOOST_TEST(j["results"][0]["sid"] == "s2");
    // Free text matching two titles by one artist, at most one result shown.
    j = expect_json(api.get("/api/v1/search?q=Mezzanine+Angel&limit=1&timeout=100"), 200);
    BOOST_TEST(j["results"].size() == 1u);
    // Nothing found: an empty list once every source has answered.
    j = expect_json(api.get("/api/v1/search?q=nothing+like+this&timeout=5000"), 200);
    BOOST_TEST(j["results"].empty());
    BOOST_TEST(j["finished"] == true);
    BOOST_TEST(j["solved"] == false);
    expect_error(api.get("/api/v1/search"), 400);
    expect_error(api.get("/api/v1/search?q=x&limit=0"), 400);
    expect_error(api.get("/api/v1/search?q=x&timeout=1e3"), 400);
    expect_error(api.get("/api/v1/results/unknown"), 404);
    expect_error(api.request(verb::post, "/api/v1/search?q=x"), 405);
}

BOOST_AUTO_TEST_CASE(scan_starts_once) {
    auto api = server.client();
    auto r = api.request(verb::post, "/api/v1/scan");
    auto j = expect_json(r, 202);
    BOOST_TEST(j["started"] == true);
    j = expect_json(api.request(verb::post, "/api/v1/scan"), 409);
    BOOST_TEST(j["started"] == false);
    BOOST_TEST(j["error"] == "a scan is already running");
    expect_error(api.get("/api/v1/scan"), 405);
    // A page on another site cannot start one.
    expect_error(api.request(verb::post, "/api/v1/scan", {}, {{"Origin", "http://evil.example"}}), 403);
    const auto port = std::to_string(server.port());
    expect_json(api.request(verb::post, "/api/v1/scan", {}, {{"Origin", "http://127.0.0.1:" + port}}), 409);
}

BOOST_AUTO_TEST_CASE(handler_exception_is_a_500_and_nothing_else) {
    auto api = server.client();
    server.backend().throw_in_status = true;
    const auto e = expect_json(api.get("/api/v1/status"), 500);
    BOOST_TEST(e["error"].get<std::string>().find("exploded") != std::string::npos);
    BOOST_TEST(api.get("/api/v1/health").status == 200u);
    // On one connection: the 500, then a normal answer.
    const auto out = api.raw_exchange("GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                                      "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    BOOST_TEST(out.starts_with("HTTP/1.1 500"));
    BOOST_TEST(out.find("HTTP/1.1 200") != std::string::npos);
    server.backend().throw_in_status = false;
    BOOST_TEST(api.get("/api/v1/status").status == 200u);
}

BOOST_AUTO_TEST_CASE(dns_rebinding_hosts_are_refused) {
    auto api = server.client();
    expect_error(api.get("/api/v1/status", {{"Host", "evil.example:60210"}}), 403);
    expect_error(api.get("/api/?method=stat", {{"Host", "evil.example"}}), 403);
    BOOST_TEST(api.get("/api/v1/status", {{"Host", "localhost:60210"}}).status == 200u);
    // URLs in results follow the name the client used.
    const auto j = expect_json(api.get("/api/v1/search?artist=Portishead&track=Roads", {{"Host", "localhost:1234"}}), 200);
    BOOST_TEST(j["results"][0]["url"] == "http://localhost:1234/sid/s1");
}

BOOST_AUTO_TEST_CASE(cors_preflight) {
    auto api = server.client();
    const auto r = api.request(verb::options, "/api/?method=resolve",
                               {}, {{"Origin", "http://player.example"}, {"Access-Control-Request-Method", "POST"}});
    BOOST_TEST(r.status == 204u);
    BOOST_TEST(r.header("Access-Control-Allow-Origin") == "*");
    BOOST_TEST(r.header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
    BOOST_TEST(r.header("Access-Control-Allow-Headers").find("Range") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(protocol, Fixture)

BOOST_AUTO_TEST_CASE(oversized_and_malformed_requests) {
    auto api = server.client();
    auto out = api.raw_exchange("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
    BOOST_TEST(out.starts_with("HTTP/1.1 431"));
    BOOST_TEST(out.find("\"error\"") != std::string::npos);
    out = api.raw_exchange("POST /api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: 100000\r\n\r\n" + std::string(100000, 'a'));
    BOOST_TEST(out.starts_with("HTTP/1.1 413"));
    out = api.raw_exchange("THIS IS NOT HTTP\r\n\r\n");
    BOOST_TEST(out.starts_with("HTTP/1.1 400"));
    out = api.raw_exchange("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n");
    BOOST_TEST(out.starts_with("HTTP/1.1 400"));
    // A form POST with a bad escape in the body.
    const auto r = api.post_form("/api/", "method=resolve&track=%G0");
    expect_error(r, 400);
    // Expect: 100-continue is answered, then the body is read.
    out = api.raw_exchange("POST /api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                           "Content-Length: 11\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nmethod=stat");
    BOOST_TEST(out.starts_with("HTTP/1.1 100"));
    BOOST_TEST(out.find("\"playdar\"") != std::string::npos);
    BOOST_TEST(api.get("/api/v1/health").status == 200u);
}

BOOST_AUTO_TEST_CASE(http_1_0_and_connection_close) {
    auto api = server.client();
    const auto out = api.raw_exchange("GET /api/v1/health HTTP/1.0\r\n\r\n");
    BOOST_TEST(out.starts_with("HTTP/1.0 200"));
    BOOST_TEST(out.ends_with("{\"ok\":true}"));
}

BOOST_AUTO_TEST_CASE(port_in_use_is_a_clear_error) {
    asio::io_context io;
    auto backend = make_backend(io);
    http::ServerOptions opts;
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port());
    try {
        http::Server second(io, *backend, opts);
        BOOST_FAIL("a second server bound the same port");
    } catch (const std::system_error& e) {
        BOOST_TEST(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(server.port())) !=
                   std::string::npos);
        BOOST_TEST((e.code() == std::errc::address_in_use));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(auth)

BOOST_AUTO_TEST_CASE(non_loopback_needs_a_token) {
    asio::io_context io;
    auto backend = make_backend(io);
    http::ServerOptions opts;
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0);
    BOOST_CHECK_THROW(http::Server(io, *backend, opts), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(token_on_a_wildcard_bind) {
    http::ServerOptions opts;
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0);
    opts.token = "s3cret-token";
    ServerHarness server(make_backend, opts);
    auto anon = server.client();
    auto r = anon.get("/api/?method=stat");
    expect_error(r, 401);
    BOOST_TEST(r.header("WWW-Authenticate") == "Bearer");
    expect_error(anon.get("/api/v1/status"), 401);
    expect_error(anon.get("/api/v1/health"), 401);
    expect_error(anon.get("/nowhere"), 401); // no probing for paths
    expect_error(anon.get("/api/v1/status", {{"Authorization", "Bearer wrong"}}), 401);
    expect_error(anon.get("/api/v1/status?auth=s3cret-toke"), 401);
    expect_error(anon.get("/api/v1/status", {{"Authorization", "Basic czNjcmV0LXRva2Vu"}}), 401);
    // /sid needs none: players get plain URLs.
    r = anon.get("/sid/s1", {{"Range", "bytes=0-9"}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == slice(0, 9));
    // Bearer, and auth=.
    BOOST_TEST(anon.get("/api/v1/status", {{"Authorization", "Bearer s3cret-token"}}).status == 200u);
    BOOST_TEST(anon.get("/api/?method=stat&auth=s3cret-token").status == 200u);
    BOOST_TEST(anon.post_form("/api/", "method=stat&auth=s3cret-token").status == 200u);
    auto authed = server.client("s3cret-token");
    const auto j = expect_json(authed.get("/api/v1/search?artist=Portishead&track=Roads"), 200);
    BOOST_TEST(j["results"][0]["sid"] == "s1");
    // With a token, the Host header is not second-guessed (LAN names are normal).
    BOOST_TEST(authed.get("/api/v1/health", {{"Host", "music-box.lan:60210"}}).status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(stop_closes_everything_and_the_io_context_runs_dry) {
    ServerHarness server(make_backend);
    const auto port = server.port();
    auto idle = server.client();
    BOOST_TEST(idle.get("/api/v1/health").status == 200u); // leaves a keep-alive connection open
    // A stream in progress that nobody reads.
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    asio::write(s, asio::buffer(std::string("GET /sid/s1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")));
    // Its headers arrived: the stream is under way (and then stalls, unread).
    asio::streambuf head;
    asio::read_until(s, head, "\r\n\r\n");
    const std::string status_line(asio::buffers_begin(head.data()), asio::buffers_begin(head.data()) + 15);
    BOOST_TEST(status_line == "HTTP/1.1 200 OK");
    BOOST_TEST(server.shutdown(5s));
    // Nobody listens any more.
    asio::ip::tcp::socket again(io);
    boost::system::error_code ec;
    again.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    BOOST_TEST(ec.failed());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(real_clients)

// curl and ffprobe against a real audio file: what players actually send.
BOOST_AUTO_TEST_CASE(curl_and_ffprobe) {
    if (std::system("command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null && command -v curl >/dev/null") != 0) {
        BOOST_TEST_MESSAGE("ffmpeg/ffprobe/curl missing; skipped");
        return;
    }
    TempDir dir("earshot-http-audio");
    const auto ogg = dir / "tone.ogg";
    const auto mp3 = dir / "tone.mp3";
    BOOST_REQUIRE(std::system(("ffmpeg -v error -y -f lavfi -i sine=frequency=440:duration=6 -c:a libvorbis '" +
                               ogg.string() + "'").c_str()) == 0);
    BOOST_REQUIRE(std::system(("ffmpeg -v error -y -f lavfi -i sine=frequency=660:duration=6 -b:a 128k '" +
                               mp3.string() + "'").c_str()) == 0);
    ServerHarness server([&](asio::io_context& io) {
        auto b = make_backend(io);
        b->streams["ogg1"] = [ogg] { return std::make_unique<FileSource>(ogg, "audio/ogg"); };
        b->streams["mp31"] = [mp3] { return std::make_unique<FileSource>(mp3, "audio/mpeg"); };
        return b;
    });
    for (const auto& [sid, file] : {std::pair{std::string("ogg1"), ogg}, std::pair{std::string("mp31"), mp3}}) {
        BOOST_TEST_CONTEXT(sid) {
            const auto url = server.url() + "/sid/" + sid;
            const auto probe = run("ffprobe -v error -show_entries format=duration -of csv=p=0 '" + url + "'");
            BOOST_TEST(probe.status == 0);
            const double seconds = std::atof(probe.out.c_str());
            BOOST_TEST(seconds > 5.5);
            BOOST_TEST(seconds < 6.5);
            // curl's byte ranges equal the file's bytes.
            const auto got = run("curl -sf -r 100-4195 '" + url + "'");
            BOOST_TEST(got.status == 0);
            std::ifstream f(file, std::ios::binary);
            std::string expected(4096, '\0');
            f.seekg(100);
            f.read(expected.data(), 4096);
            BOOST_TEST(got.out.size() == 4096u);
            BOOST_TEST((got.out == expected));
            const auto head = run("curl -sfI '" + url + "'");
            BOOST_TEST(head.out.find("Accept-Ranges: bytes") != std::string::npos);
            BOOST_TEST(head.out.find("Content-Length: " + std::to_string(std::filesystem::file_size(file))) !=
                       std::string::npos);
        }
    }
    // A seek the way players do it: decode 1 s from the middle of the ogg.
    const auto seek = run("ffmpeg -v error -ss 3 -t 1 -i '" + server.url() + "/sid/ogg1' -f null - 2>&1; echo rc=$?");
    BOOST_TEST(seek.out.find("rc=0") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

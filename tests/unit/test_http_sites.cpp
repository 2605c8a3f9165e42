// Web pages are strangers: requests shaped exactly as Chromium sends them from
// a page on another origin (fetch, a JSONP <script>, an <audio> element) get
// nothing until the user approved the site, and everything once they did;
// beside them the honest cases: programs without browser headers and the
// daemon's own pages keep working without a token.
#define BOOST_TEST_MODULE test_http_sites
#include <boost/test/unit_test.hpp>

#include "daemon/http/sites.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/unit/test_http_backend.hpp"

#include <fstream>

#include <sys/stat.h>

using namespace earshot;
using namespace earshot::test;
using namespace std::chrono_literals;
using nlohmann::json;
using client::bhttp::verb;
using client::Headers;

namespace {

constexpr std::size_t stream_size = 300'007;

std::shared_ptr<const std::vector<std::uint8_t>> stream_data() {
    static const auto data = std::make_shared<const std::vector<std::uint8_t>>(pattern_bytes(stream_size, 777));
    return data;
}

std::string slice(std::uint64_t first, std::uint64_t last) {
    const auto& d = *stream_data();
    return std::string(reinterpret_cast<const char*>(d.data() + first), last - first + 1);
}

std::unique_ptr<TestBackend> make_backend(asio::io_context& io) {
    std::vector<resolver::Result> items{
        make_result("s1", "Portishead", "Roads", "Dummy", stream_size, "audio/flac"),
        make_result("s2", "Massive Attack", "Teardrop", "Mezzanine", stream_size, "audio/mpeg"),
    };
    std::vector<resolver::SourceSpec> sources;
    sources.push_back({std::make_shared<ListSource>(io.get_executor(), "local", items), 1.0, 2000ms});
    auto b = std::make_unique<TestBackend>(io, std::move(sources));
    b->streams["s1"] = [] { return std::make_unique<MemorySource>(stream_data(), "audio/flac"); };
    b->streams["s2"] = [] { return std::make_unique<MemorySource>(stream_data(), "audio/mpeg"); };
    return b;
}

const std::string player = "https://player.example";
const std::string other = "https://other.example";

// What Chromium sends for fetch(url) from a page on `site` (mode cors).
Headers fetch_from(const std::string& site) {
    return {{"Origin", site},
            {"Sec-Fetch-Site", "cross-site"},
            {"Sec-Fetch-Mode", "cors"},
            {"Sec-Fetch-Dest", "empty"},
            {"Referer", site + "/"},
            {"Accept", "*/*"}};
}
// What Chromium sends for <script src=url> (JSONP): no Origin, the page's origin as Referer.
Headers script_from(const std::string& site) {
    return {{"Sec-Fetch-Site", "cross-site"},
            {"Sec-Fetch-Mode", "no-cors"},
            {"Sec-Fetch-Dest", "script"},
            {"Referer", site + "/"},
            {"Accept", "*/*"}};
}
// What Chromium sends for <audio src=url>.
Headers audio_from(const std::string& site) {
    return {{"Sec-Fetch-Site", "cross-site"},
            {"Sec-Fetch-Mode", "no-cors"},
            {"Sec-Fetch-Dest", "audio"},
            {"Referer", site + "/"},
            {"Accept", "*/*"},
            {"Accept-Encoding", "identity;q=1, *;q=0"},
            {"Range", "bytes=0-"}};
}
// A top-level navigation from a page on `site` (window.open, a link).
Headers navigation_from(const std::string& site) {
    return {{"Sec-Fetch-Site", "cross-site"},
            {"Sec-Fetch-Mode", "navigate"},
            {"Sec-Fetch-Dest", "document"},
            {"Sec-Fetch-User", "?1"},
            {"Referer", site + "/"}};
}
Headers with(Headers h, std::string name, std::string value) {
    h.emplace_back(std::move(name), std::move(value));
    return h;
}

std::string qid_of(const client::Response& r) { return r.json()["qid"].get<std::string>(); }

struct Fixture {
    ServerHarness server{make_backend};
    std::string own() const { return server.url(); }
    // The daemon's own page submitting its form (Chromium: Origin on every POST).
    Headers own_page_post() const {
        return {{"Origin", own()},
                {"Sec-Fetch-Site", "same-origin"},
                {"Sec-Fetch-Mode", "navigate"},
                {"Sec-Fetch-Dest", "document"},
                {"Referer", own() + "/auth_1/"},
                {"Content-Type", "application/x-www-form-urlencoded"}};
    }
    // Approves a site the way the CLI does and returns its token.
    std::string allow(const std::string& origin) {
        auto api = server.client();
        const auto r = api.post_form("/api/v1/sites", "origin=" + client::url_encode(origin) + "&name=Player");
        BOOST_REQUIRE(r.status == 200u);
        return r.json()["token"].get<std::string>();
    }
    // A query started by a local program: a stranger must not read its results.
    std::string local_qid() {
        auto api = server.client();
        const auto qid = qid_of(api.get("/api/?method=resolve&artist=Portishead&track=Roads"));
        const auto j = api.get("/api/?method=get_results_long&timeout=5000&qid=" + qid).json();
        BOOST_REQUIRE(!j["results"].empty());
        return qid;
    }
};

// Nothing of the library in a refused reply: no results, no sids, no names.
void expect_refused(const client::Response& r, std::string_view context) {
    BOOST_TEST_CONTEXT(context) {
        BOOST_TEST(r.status == 403u);
        BOOST_TEST(r.body.find("/auth_1/") != std::string::npos);
        BOOST_TEST(r.body.find("results") == std::string::npos);
        BOOST_TEST(r.body.find("Portishead") == std::string::npos);
        BOOST_TEST(r.body.find("s1") == std::string::npos);
        BOOST_TEST(r.body.find("testlib") == std::string::npos);
        BOOST_TEST(r.body.find("qid") == std::string::npos);
    }
}

std::string nonce_in(const std::string& page) {
    const std::string marker = "name=\"nonce\" value=\"";
    const auto at = page.find(marker);
    BOOST_REQUIRE(at != std::string::npos);
    const auto start = at + marker.size();
    return page.substr(start, page.find('"', start) - start);
}

} // namespace

BOOST_AUTO_TEST_SUITE(pieces)

BOOST_AUTO_TEST_CASE(origins_are_normalised_or_refused) {
    using http::normalise_origin;
    BOOST_TEST(normalise_origin("https://Player.Example").value_or("-") == "https://player.example");
    BOOST_TEST(normalise_origin("HTTP://a.example:80/path?q#f").value_or("-") == "http://a.example");
    BOOST_TEST(normalise_origin("https://a.example:443").value_or("-") == "https://a.example");
    BOOST_TEST(normalise_origin("http://127.0.0.1:60210").value_or("-") == "http://127.0.0.1:60210");
    BOOST_TEST(normalise_origin("http://[::1]:8080/").value_or("-") == "http://[::1]:8080");
    for (const char* bad : {"null", "", "player.example", "://x", "http://", "http://user@a.example", "http://a.example:",
                            "http://a.example:99999", "http://a b", "http://a.example:8o", "1http://a"}) {
        BOOST_TEST_CONTEXT(bad) { BOOST_TEST(!normalise_origin(bad)); }
    }
}

BOOST_AUTO_TEST_CASE(callers_are_told_apart_by_browser_headers) {
    using http::Caller;
    using http::classify_caller;
    const auto none = std::optional<std::string_view>{};
    const std::string host = "127.0.0.1:60210";
    // No browser headers: a program.
    BOOST_TEST((classify_caller(none, none, none, host).kind == Caller::program));
    // The daemon's own page, and the user typing the URL.
    BOOST_TEST((classify_caller("http://127.0.0.1:60210", "same-origin", none, host).kind == Caller::same_origin));
    BOOST_TEST((classify_caller(none, "none", none, host).kind == Caller::same_origin));
    BOOST_TEST((classify_caller(none, none, "http://127.0.0.1:60210/auth_1/", host).kind == Caller::same_origin));
    // Strangers, each sign on its own, with the site named where a header names it.
    auto c = classify_caller("https://player.example", none, none, host);
    BOOST_TEST((c.kind == Caller::cross_site));
    BOOST_TEST(c.origin == "https://player.example");
    c = classify_caller(none, "cross-site", "https://player.example/", host);
    BOOST_TEST((c.kind == Caller::cross_site));
    BOOST_TEST(c.origin == "https://player.example");
    c = classify_caller(none, none, "https://player.example/page.html", host);
    BOOST_TEST((c.kind == Caller::cross_site));
    BOOST_TEST(c.origin == "https://player.example");
    c = classify_caller(none, "cross-site", none, host); // no-referrer: a stranger we cannot name
    BOOST_TEST((c.kind == Caller::cross_site));
    BOOST_TEST(c.origin.empty());
    BOOST_TEST((classify_caller("null", none, none, host).kind == Caller::cross_site));
    // Another port of localhost is another origin (same-site, not same-origin).
    BOOST_TEST((classify_caller(none, "same-site", "http://127.0.0.1:8080/", host).kind == Caller::cross_site));
    BOOST_TEST((classify_caller("http://127.0.0.1:8080", none, none, host).kind == Caller::cross_site));
    // Contradicting headers: one sign of a stranger is enough.
    BOOST_TEST((classify_caller("http://127.0.0.1:60210", "cross-site", none, host).kind == Caller::cross_site));
    BOOST_TEST((classify_caller(none, "same-origin", "https://player.example/", host).kind == Caller::cross_site));
}

BOOST_AUTO_TEST_CASE(nonces_are_single_use_and_expire) {
    auto now = http::Approvals::Clock::now();
    http::Approvals approvals([&] { return now; });
    const auto a = approvals.issue("https://player.example", "Player", "");
    const auto b = approvals.issue("https://player.example", "Player", "");
    BOOST_TEST(a.size() == 32u);
    BOOST_TEST(a != b);
    const auto p = approvals.take(a);
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST(p->origin == "https://player.example");
    BOOST_TEST(!approvals.take(a)); // once
    BOOST_TEST(!approvals.take("0123456789abcdef0123456789abcdef"));
    now += http::Approvals::lifetime + 1s;
    BOOST_TEST(!approvals.take(b)); // expired
    for (std::size_t i = 0; i < http::Approvals::max_pending + 10; ++i) approvals.issue("https://x.example", "", "");
    BOOST_TEST(approvals.pending() == http::Approvals::max_pending);
}

BOOST_AUTO_TEST_CASE(site_names_are_cleaned_and_cut_between_characters) {
    BOOST_TEST(http::clean_site_name("Pla\x1b[31myer\n") == "Pla[31myer");
    std::string e_acute;
    for (int i = 0; i < 200; ++i) e_acute += "\xc3\xa9"; // 400 bytes of "é"
    BOOST_TEST(http::clean_site_name(e_acute).size() == 100u);
    const auto cut = http::clean_site_name("a" + e_acute); // byte 100 is inside an "é"
    BOOST_TEST(cut.size() == 99u);
    BOOST_TEST(cut.substr(97) == "\xc3\xa9");
    BOOST_TEST(http::clean_site_name(std::string(150, 'x')).size() == 100u);
}

BOOST_AUTO_TEST_CASE(html_is_escaped) {
    BOOST_TEST(http::html_escape("<a href=\"x\" title='y'>&</a>") ==
               "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(strangers, Fixture)

BOOST_AUTO_TEST_CASE(an_unapproved_site_learns_nothing) {
    const auto qid = local_qid();
    auto api = server.client();
    // fetch(), as a Playdar client page calls it.
    expect_refused(api.get("/api/?method=resolve&artist=Portishead&track=Roads", fetch_from(player)), "fetch resolve");
    expect_refused(api.get("/api/?method=get_results&qid=" + qid, fetch_from(player)), "fetch get_results");
    expect_refused(api.get("/api/?method=get_results_long&timeout=100&qid=" + qid, fetch_from(player)), "long poll");
    expect_refused(api.get("/api/?method=cancel&qid=" + qid, fetch_from(player)), "cancel");
    // Unknown qids look the same as known ones: no probing.
    expect_refused(api.get("/api/?method=get_results&qid=nope", fetch_from(player)), "unknown qid");
    // A form POST (no preflight needed, Origin sent).
    auto r = api.request(verb::post, "/api/", "method=resolve&q=Portishead+Roads",
                         with(fetch_from(player), "Content-Type", "application/x-www-form-urlencoded"));
    expect_refused(r, "form post");
    // JSONP: a <script> element, no Origin.
    r = api.get("/api/?method=get_results&jsonp=cb&qid=" + qid, script_from(player));
    expect_refused(r, "jsonp");
    BOOST_TEST(r.body.starts_with("cb({\"error\""));
    // <audio>: no bytes, whether or not the sid exists.
    r = api.get("/sid/s1", audio_from(player));
    expect_refused(r, "audio");
    BOOST_TEST(r.body.find(slice(0, 63)) == std::string::npos);
    BOOST_TEST(api.get("/sid/unknown", audio_from(player)).status == 403u);
    BOOST_TEST(api.head("/sid/s1", audio_from(player)).header("Content-Length") != std::to_string(stream_size));
    // A made-up token is no better than none.
    expect_refused(api.get("/api/?method=resolve&q=x&auth=" + std::string(64, 'a'), fetch_from(player)), "bad token");
    // The error says what to do, for the site's own origin.
    const auto e = api.get("/api/?method=resolve&q=x", fetch_from(player)).json()["error"].get<std::string>();
    BOOST_TEST(e.find("https://player.example") != std::string::npos);
    BOOST_TEST(e.find("website=https%3A%2F%2Fplayer.example") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stat_answers_strangers_with_nothing_but_the_truth) {
    auto api = server.client();
    auto r = api.get("/api/?method=stat", fetch_from(player));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Access-Control-Allow-Origin") == "*");
    auto j = r.json();
    BOOST_TEST(j["name"] == "playdar");
    BOOST_TEST(j["authenticated"] == false);
    BOOST_TEST(!j.contains("hostname"));
    BOOST_TEST(!j.contains("earshot"));
    BOOST_TEST(r.body.find("testlib") == std::string::npos);
    // JSONP stat, as Playdar.js probes for the daemon.
    r = api.get("/api/?method=stat&jsonp=Playdar.cb", script_from(player));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body.find("\"authenticated\":false") != std::string::npos);
    // Programs and approved sites are told true.
    BOOST_TEST(api.get("/api/?method=stat").json()["authenticated"] == true);
    const auto token = allow(player);
    j = api.get("/api/?method=stat&auth=" + token, fetch_from(player)).json();
    BOOST_TEST(j["authenticated"] == true);
    BOOST_TEST(j["earshot"]["name"] == "testlib");
}

BOOST_AUTO_TEST_CASE(an_approved_site_gets_everything) {
    const auto token = allow(player);
    auto api = server.client();
    // fetch with Authorization: Bearer.
    auto r = api.get("/api/?method=resolve&artist=Portishead&track=Roads",
                     with(fetch_from(player), "Authorization", "Bearer " + token));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Access-Control-Allow-Origin") == "*");
    const auto qid = qid_of(r);
    auto j = api.get("/api/?method=get_results_long&timeout=5000&qid=" + qid + "&auth=" + token, fetch_from(player)).json();
    BOOST_REQUIRE(!j["results"].empty());
    BOOST_TEST(j["results"][0]["sid"] == "s1");
    // The stream URL it is given carries its token, so an <audio> on the site plays it.
    const auto url = j["results"][0]["url"].get<std::string>();
    BOOST_TEST(url == server.url() + "/sid/s1?auth=" + token);
    // JSONP with auth=, as Playdar.js sends it.
    r = api.get("/api/?method=get_results&jsonp=cb&auth=" + token + "&qid=" + qid, script_from(player));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body.starts_with("cb({"));
    BOOST_TEST(r.body.find("\"sid\":\"s1\"") != std::string::npos);
    // <audio src=url>: every byte.
    r = api.get(url.substr(server.url().size()), audio_from(player));
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body.size() == stream_size);
    BOOST_TEST((r.body == slice(0, stream_size - 1)));
    r = api.get("/sid/s2?auth=" + token, with(audio_from(player), "Range", "bytes=100-199"));
    BOOST_TEST(r.status == 206u);
    BOOST_TEST((r.body == slice(100, 199)));
}

BOOST_AUTO_TEST_CASE(a_token_is_worth_nothing_from_another_origin) {
    const auto token = allow(player);
    allow(other); // approved too, with its own token
    auto api = server.client();
    expect_refused(api.get("/api/?method=resolve&q=Portishead+Roads&auth=" + token, fetch_from(other)), "fetch");
    expect_refused(api.get("/api/?method=resolve&q=Portishead+Roads",
                           with(fetch_from(other), "Authorization", "Bearer " + token)),
                   "bearer");
    expect_refused(api.get("/api/?method=resolve&jsonp=cb&q=x&auth=" + token, script_from(other)), "jsonp");
    expect_refused(api.get("/sid/s1?auth=" + token, audio_from(other)), "audio");
    // Nor from a page that hides where it is (no Referer, no Origin).
    Headers hidden{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "no-cors"}, {"Sec-Fetch-Dest", "audio"}};
    const auto r = api.get("/sid/s1?auth=" + token, hidden);
    BOOST_TEST(r.status == 403u);
    BOOST_TEST(r.body.find("names no origin") != std::string::npos);
    // The same token from its own origin works: the refusals above were about the origin.
    BOOST_TEST(api.get("/sid/s1?auth=" + token, audio_from(player)).status == 206u);
}

BOOST_AUTO_TEST_CASE(revoking_by_origin_or_token) {
    const auto token = allow(player);
    const auto other_token = allow(other);
    auto api = server.client();
    auto sites = api.get_json("/api/v1/sites")["sites"];
    BOOST_TEST(sites.size() == 2u);
    BOOST_TEST(sites[0]["origin"] == player);
    BOOST_TEST(sites[0]["name"] == "Player");
    // Approving again keeps the token.
    BOOST_TEST(allow(player) == token);
    BOOST_TEST(api.get("/api/?method=resolve&q=x&auth=" + token, fetch_from(player)).status == 200u);
    auto r = api.post_form("/api/v1/sites/revoke", "site=" + client::url_encode("HTTPS://player.example/"));
    BOOST_TEST(r.status == 200u);
    expect_refused(api.get("/api/?method=resolve&q=x&auth=" + token, fetch_from(player)), "revoked by origin");
    expect_refused(api.get("/sid/s1?auth=" + token, audio_from(player)), "revoked stream");
    BOOST_TEST(api.get("/api/?method=resolve&q=x&auth=" + other_token, fetch_from(other)).status == 200u);
    r = api.post_form("/api/v1/sites/revoke", "site=" + other_token);
    BOOST_TEST(r.status == 200u);
    expect_refused(api.get("/api/?method=resolve&q=x&auth=" + other_token, fetch_from(other)), "revoked by token");
    BOOST_TEST(api.get_json("/api/v1/sites")["sites"].empty());
    BOOST_TEST(api.post_form("/api/v1/sites/revoke", "site=" + other_token).status == 404u);
    BOOST_TEST(api.post_form("/api/v1/sites", "origin=not-an-origin").status == 400u);
    BOOST_TEST(api.post_form("/api/v1/sites", "origin=null").status == 400u);
}

BOOST_AUTO_TEST_CASE(a_site_cannot_approve_itself_through_the_native_api) {
    auto api = server.client();
    auto r = api.request(verb::post, "/api/v1/sites", "origin=https%3A%2F%2Fplayer.example",
                         with(fetch_from(player), "Content-Type", "application/x-www-form-urlencoded"));
    BOOST_TEST(r.status == 403u);
    // A form POST from a page without Origin but with Sec-Fetch-Site, or a foreign Referer.
    r = api.request(verb::post, "/api/v1/sites", "origin=https%3A%2F%2Fplayer.example",
                    {{"Content-Type", "application/x-www-form-urlencoded"}, {"Sec-Fetch-Site", "cross-site"}});
    BOOST_TEST(r.status == 403u);
    r = api.request(verb::post, "/api/v1/sites", "origin=https%3A%2F%2Fplayer.example",
                    {{"Content-Type", "application/x-www-form-urlencoded"}, {"Referer", player + "/"}});
    BOOST_TEST(r.status == 403u);
    BOOST_TEST(api.get("/api/v1/sites", script_from(player)).status == 403u);
    BOOST_TEST(api.get_json("/api/v1/sites")["sites"].empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(honest_callers, Fixture)

BOOST_AUTO_TEST_CASE(programs_without_browser_headers_need_no_token) {
    auto api = server.client(); // like curl: no Origin, no Sec-Fetch-*, no Referer
    const auto qid = local_qid();
    const auto j = api.get("/api/?method=get_results&qid=" + qid).json();
    BOOST_TEST(j["results"][0]["url"] == server.url() + "/sid/s1"); // no token in URLs for programs
    auto r = api.get("/sid/s1", {{"Range", "bytes=0-99"}, {"User-Agent", "mpv 0.35.1"}, {"Icy-MetaData", "1"}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST((r.body == slice(0, 99)));
    r = api.get("/api/?method=resolve&jsonp=cb&q=Portishead+Roads");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(api.get("/api/v1/status").status == 200u);
}

BOOST_AUTO_TEST_CASE(the_daemons_own_pages_and_typed_urls_need_no_token) {
    auto api = server.client();
    Headers same{{"Origin", own()}, {"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Mode", "cors"},
                 {"Referer", own() + "/"}};
    auto r = api.get("/api/?method=resolve&q=Portishead+Roads", same);
    BOOST_TEST(r.status == 200u);
    // The user pastes a result URL into the address bar.
    r = api.get("/sid/s1", {{"Sec-Fetch-Site", "none"}, {"Sec-Fetch-Mode", "navigate"}, {"Sec-Fetch-Dest", "document"}});
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body.size() == stream_size);
    // The daemon's own page playing a stream.
    r = api.get("/sid/s1", {{"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Dest", "audio"}, {"Referer", own() + "/"},
                            {"Range", "bytes=0-9"}});
    BOOST_TEST(r.status == 206u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(approval, Fixture)

BOOST_AUTO_TEST_CASE(auth_1_then_auth_2_delivers_a_token_to_the_receiver) {
    auto api = server.client();
    const auto target = "/auth_1/?website=" + client::url_encode(player) + "&name=" +
                        client::url_encode("<script>alert('Player')</script>") +
                        "&receiverurl=" + client::url_encode(player + "/playdar_auth.html");
    auto page = api.get(target, navigation_from(player));
    BOOST_TEST(page.status == 200u);
    BOOST_TEST(page.header("Content-Type").starts_with("text/html"));
    BOOST_TEST(page.header("X-Frame-Options") == "DENY");
    BOOST_TEST(page.header("Content-Security-Policy").find("frame-ancestors 'none'") != std::string::npos);
    BOOST_TEST(page.header("Cache-Control") == "no-store");
    BOOST_TEST(page.header("Access-Control-Allow-Origin").empty()); // no other origin reads the nonce
    BOOST_TEST(page.body.find("<script>") == std::string::npos);
    BOOST_TEST(page.body.find("&lt;script&gt;alert(&#39;Player&#39;)&lt;/script&gt;") != std::string::npos);
    BOOST_TEST(page.body.find("https://player.example") != std::string::npos);
    const auto nonce = nonce_in(page.body);
    BOOST_TEST(nonce.size() == 32u);

    // A foreign page that got hold of the nonce still cannot approve: its
    // auto-submitted form carries its own Origin...
    Headers foreign{{"Origin", player}, {"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "navigate"},
                    {"Sec-Fetch-Dest", "document"}, {"Referer", player + "/"},
                    {"Content-Type", "application/x-www-form-urlencoded"}};
    auto r = api.request(verb::post, "/auth_2/", "nonce=" + nonce + "&decision=allow", foreign);
    BOOST_TEST(r.status == 403u);
    BOOST_TEST(r.header("Location").empty());
    // ...or one sent under no-referrer ("Origin: null")...
    r = api.request(verb::post, "/auth_2/", "nonce=" + nonce + "&decision=allow",
                    {{"Origin", "null"}, {"Sec-Fetch-Site", "cross-site"},
                     {"Content-Type", "application/x-www-form-urlencoded"}});
    BOOST_TEST(r.status == 403u);
    // ...nor does a GET (an <img> or a link) approve.
    BOOST_TEST(api.get("/auth_2/?nonce=" + nonce + "&decision=allow", navigation_from(player)).status == 405u);
    BOOST_TEST(api.get_json("/api/v1/sites")["sites"].empty());

    // The daemon's own page: approved, token in the receiver's fragment.
    r = api.request(verb::post, "/auth_2/", "nonce=" + nonce + "&decision=allow", own_page_post());
    BOOST_TEST(r.status == 303u);
    const auto location = r.header("Location");
    const std::string prefix = player + "/playdar_auth.html#";
    BOOST_REQUIRE(location.starts_with(prefix));
    const auto token = location.substr(prefix.size());
    BOOST_TEST(token.size() == 64u);
    const auto sites = api.get_json("/api/v1/sites")["sites"];
    BOOST_REQUIRE(sites.size() == 1u);
    BOOST_TEST(sites[0]["origin"] == player);
    BOOST_TEST(sites[0]["token"] == token);
    BOOST_TEST(api.get("/api/?method=resolve&q=Portishead+Roads&auth=" + token, fetch_from(player)).status == 200u);

    // A nonce counts once.
    r = api.request(verb::post, "/auth_2/", "nonce=" + nonce + "&decision=allow", own_page_post());
    BOOST_TEST(r.status == 400u);
    r = api.request(verb::post, "/auth_2/", "nonce=00112233445566778899aabbccddeeff&decision=allow", own_page_post());
    BOOST_TEST(r.status == 400u);
}

BOOST_AUTO_TEST_CASE(without_a_receiver_the_token_is_shown_and_deny_denies) {
    auto api = server.client();
    auto page = api.get("/auth_1/?website=" + client::url_encode(player) + "&name=Player", navigation_from(player));
    BOOST_REQUIRE(page.status == 200u);
    auto r = api.request(verb::post, "/auth_2/", "nonce=" + nonce_in(page.body) + "&decision=deny", own_page_post());
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(api.get_json("/api/v1/sites")["sites"].empty());

    page = api.get("/auth_1/?website=" + client::url_encode(player) + "&name=Player", navigation_from(player));
    r = api.request(verb::post, "/auth_2/", "nonce=" + nonce_in(page.body) + "&decision=allow", own_page_post());
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Cache-Control") == "no-store");
    const auto sites = api.get_json("/api/v1/sites")["sites"];
    BOOST_REQUIRE(sites.size() == 1u);
    BOOST_TEST(r.body.find(sites[0]["token"].get<std::string>()) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(approval_requests_that_lie_are_refused) {
    auto api = server.client();
    // The receiver must be on the site's own origin.
    auto r = api.get("/auth_1/?website=" + client::url_encode(player) + "&receiverurl=" +
                         client::url_encode("https://collector.example/steal"),
                     navigation_from(player));
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("name=\"nonce\"") == std::string::npos);
    // A page cannot ask in another site's name.
    r = api.get("/auth_1/?website=" + client::url_encode(player), navigation_from(other));
    BOOST_TEST(r.status == 400u);
    // Nonsense websites.
    BOOST_TEST(api.get("/auth_1/?website=null", navigation_from(player)).status == 400u);
    BOOST_TEST(api.get("/auth_1/", navigation_from(player)).status == 400u);
    // A rebinding page (its own name in Host) never gets the page.
    BOOST_TEST(api.get("/auth_1/?website=" + client::url_encode(player), {{"Host", "evil.example:60210"}}).status == 403u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(persistence)

BOOST_AUTO_TEST_CASE(sites_json_is_private_and_survives_a_restart) {
    TempDir dir("earshot-sites");
    const auto file = dir / "sites.json";
    http::ServerOptions opts;
    opts.sites_file = file;
    std::string token;
    {
        ServerHarness server(make_backend, opts);
        auto api = server.client();
        const auto r = api.post_form("/api/v1/sites", "origin=" + client::url_encode(player) + "&name=Player");
        BOOST_REQUIRE(r.status == 200u);
        token = r.json()["token"].get<std::string>();
        struct stat st {};
        BOOST_REQUIRE(::stat(file.c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 0777) == 0600u);
    }
    {
        ServerHarness server(make_backend, opts);
        auto api = server.client();
        BOOST_TEST(api.get("/api/?method=resolve&q=x&auth=" + token, fetch_from(player)).status == 200u);
        BOOST_TEST(api.get("/api/?method=resolve&q=x&auth=" + token, fetch_from(other)).status == 403u);
        BOOST_TEST(api.post_form("/api/v1/sites/revoke", "site=" + client::url_encode(player)).status == 200u);
    }
    {
        ServerHarness server(make_backend, opts);
        auto api = server.client();
        BOOST_TEST(api.get("/api/?method=resolve&q=x&auth=" + token, fetch_from(player)).status == 403u);
    }
    // A damaged file stops the server with a message naming it, not with no sites.
    {
        std::ofstream(file) << "{not json";
    }
    asio::io_context io;
    auto backend = make_backend(io);
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    try {
        http::Server s(io, *backend, opts);
        BOOST_FAIL("a damaged sites.json was accepted");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).find("sites.json") != std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(with_api_token)

// Beyond loopback the API token rules stand: a site token is no substitute
// for it, and a cross-site <audio> needs a token too.
BOOST_AUTO_TEST_CASE(token_rules_are_not_weakened) {
    http::ServerOptions opts;
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0);
    opts.token = "s3cret-token";
    ServerHarness server(make_backend, opts);
    auto admin = server.client("s3cret-token");
    const auto r = admin.post_form("/api/v1/sites", "origin=" + client::url_encode(player));
    BOOST_REQUIRE(r.status == 200u);
    const auto site_token = r.json()["token"].get<std::string>();
    auto anon = server.client();
    BOOST_TEST(anon.get("/api/?method=resolve&q=x&auth=" + site_token, fetch_from(player)).status == 401u);
    BOOST_TEST(anon.get("/auth_1/?website=" + client::url_encode(player), navigation_from(player)).status == 401u);
    BOOST_TEST(anon.get("/api/?method=resolve&q=x&auth=s3cret-token", fetch_from(player)).status == 200u);
    // Streams: players still need nothing, strangers need a token.
    BOOST_TEST(anon.get("/sid/s1", {{"Range", "bytes=0-9"}}).status == 206u);
    BOOST_TEST(anon.get("/sid/s1", audio_from(player)).status == 403u);
    BOOST_TEST(anon.get("/sid/s1?auth=" + site_token, audio_from(player)).status == 206u);
    BOOST_TEST(anon.get("/sid/s1?auth=" + site_token, audio_from(other)).status == 403u);
    BOOST_TEST(anon.get("/sid/s1?auth=s3cret-token", audio_from(other)).status == 206u);
}

BOOST_AUTO_TEST_SUITE_END()

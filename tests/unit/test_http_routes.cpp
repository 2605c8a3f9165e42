// The route table and its policies: patterns match as documented, a module
// over a few-line fake of its own narrow interface is served with its policy
// enforced by the router (the handler never runs for a refused request), and
// a new module plugs into the real Server beside the standard ones.
#define BOOST_TEST_MODULE test_http_routes
#include <boost/test/unit_test.hpp>

#include "daemon/http/modules.hpp"
#include "daemon/http/router.hpp"
#include "tests/unit/test_http_backend.hpp"

using namespace earshot;
using namespace earshot::test;
using namespace std::chrono_literals;
using nlohmann::json;
using http::bhttp::verb;

namespace {

awaitable<http::Reply> ok_handler(const http::Request&) { co_return http::json_reply(http::bhttp::status::ok, json{{"ok", true}}); }

http::Route row(std::string pattern, http::Policy policy = http::Policy::local_only) {
    return http::Route{.pattern = std::move(pattern), .policy = policy, .handler = ok_handler};
}

std::vector<std::string> segments(std::string_view target) { return http::parse_target(target).segments; }

// A StreamSource in five lines, counting what it was asked for.
struct CountingStreams final : http::StreamSource {
    int opened = 0;
    awaitable<std::unique_ptr<http::ByteSource>> open_stream(std::string sid) override {
        ++opened;
        if (sid != "abc") co_return nullptr;
        co_return std::make_unique<MemorySource>(std::make_shared<const std::vector<std::uint8_t>>(pattern_bytes(100)),
                                                 "audio/ogg");
    }
};

// Drives route() directly, without sockets: a request as the connection loop builds it.
class Direct {
public:
    explicit Direct(http::RouteTable& routes, std::string token = {})
        : options_(options_for(std::move(token))), ctx_{options_, !options_.token.empty(), "", sites_, routes} {}
    http::SiteRegistry& sites() { return sites_; }

    http::Reply get(std::string target, const client::Headers& headers = {}, verb method = verb::get) {
        http::Message msg{method, target, 11};
        msg.set(http::bhttp::field::host, "127.0.0.1:60210");
        for (const auto& [k, v] : headers) msg.set(k, v);
        auto parsed = http::parse_target(msg.target());
        http::Request req{msg, std::move(parsed.segments), *http::Params::parse(parsed.query), "http://127.0.0.1:60210"};
        http::Reply reply;
        asio::io_context io;
        asio::co_spawn(io, run(ctx_, req, reply), asio::detached);
        io.run();
        return reply;
    }

private:
    static http::ServerOptions options_for(std::string token) {
        http::ServerOptions o;
        o.listen = {asio::ip::make_address(token.empty() ? "127.0.0.1" : "0.0.0.0"), 60210};
        o.token = std::move(token);
        return o;
    }
    static awaitable<void> run(const http::RouterContext& ctx, http::Request& req, http::Reply& out) {
        auto reply = co_await http::route(ctx, req);
        out = std::move(reply);
    }
    http::ServerOptions options_;
    http::SiteRegistry sites_;
    http::RouterContext ctx_;
};

const client::Headers audio_from_player{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "no-cors"},
                                        {"Sec-Fetch-Dest", "audio"}, {"Referer", "https://player.example/"}};

} // namespace

BOOST_AUTO_TEST_SUITE(table)

BOOST_AUTO_TEST_CASE(patterns_match_exactly_or_as_subtrees_and_the_longest_wins) {
    http::RouteTable t;
    t.add(row("/api/"));
    t.add(row("/api/v1/*"));
    t.add(row("/api/v1/sites/*"));
    t.add(row("/sid/*"));
    const auto pattern = [&](std::string_view target) {
        const auto* r = t.find(segments(target));
        return r ? r->pattern : std::string("none");
    };
    BOOST_TEST(pattern("/api") == "/api/");
    BOOST_TEST(pattern("/api/") == "/api/");
    BOOST_TEST(pattern("/api/?method=stat") == "/api/");
    BOOST_TEST(pattern("/api/x") == "none");
    BOOST_TEST(pattern("/api/v1") == "/api/v1/*");
    BOOST_TEST(pattern("/api/v1/status") == "/api/v1/*");
    BOOST_TEST(pattern("/api/v1/peers/remove") == "/api/v1/*");
    BOOST_TEST(pattern("/api/v1/sites") == "/api/v1/sites/*");
    BOOST_TEST(pattern("/api/v1/sites/revoke") == "/api/v1/sites/*");
    BOOST_TEST(pattern("/api/v1/sitesx") == "/api/v1/*");
    BOOST_TEST(pattern("/sid") == "/sid/*");
    BOOST_TEST(pattern("/sid/abc") == "/sid/*");
    BOOST_TEST(pattern("/") == "none");
    BOOST_TEST(pattern("/apis") == "none");
}

BOOST_AUTO_TEST_CASE(bad_and_duplicate_patterns_are_refused) {
    http::RouteTable t;
    t.add(row("/metrics"));
    BOOST_CHECK_THROW(t.add(row("/metrics/")), std::invalid_argument); // the same exact route
    t.add(row("/metrics/*"));                                            // a subtree is another row
    BOOST_CHECK_THROW(t.add(row("metrics")), std::invalid_argument);
    BOOST_CHECK_THROW(t.add(row("/a/*/b")), std::invalid_argument);
    BOOST_CHECK_THROW(t.add(row("/a//b")), std::invalid_argument);
    BOOST_CHECK_THROW(t.add(http::Route{.pattern = "/no-handler"}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(policies)

// The stream module needs nothing but a StreamSource; the router, not the
// module, keeps strangers out, before the source is even asked.
BOOST_AUTO_TEST_CASE(a_module_over_its_own_narrow_fake) {
    CountingStreams streams;
    http::RouteTable routes;
    const auto module = http::stream_module(streams); // outlives its routes' use
    module->add_routes(routes);
    Direct d(routes);
    auto r = d.get("/sid/abc", {{"Range", "bytes=0-9"}});
    BOOST_TEST(static_cast<unsigned>(r.status) == 206u);
    BOOST_REQUIRE(r.stream.has_value());
    BOOST_TEST(r.stream->length == 10u);
    BOOST_TEST(r.fields["Access-Control-Allow-Origin"] == "*");
    BOOST_TEST(streams.opened == 1);
    r = d.get("/sid/abc", audio_from_player);
    BOOST_TEST(static_cast<unsigned>(r.status) == 403u);
    BOOST_TEST(!r.stream.has_value());
    BOOST_TEST(streams.opened == 1); // refused before the module ran
    r = d.get("/sid/abc", {}, verb::post);
    BOOST_TEST(static_cast<unsigned>(r.status) == 405u);
    BOOST_TEST(r.fields["Allow"] == "GET, HEAD, OPTIONS");
    // An approved site's token opens it, from that site only.
    const auto token = d.sites().allow("https://player.example", "Player").token;
    r = d.get("/sid/abc?auth=" + token, audio_from_player);
    BOOST_TEST(static_cast<unsigned>(r.status) == 200u);
    BOOST_TEST(streams.opened == 2);
}

BOOST_AUTO_TEST_CASE(each_policy_as_documented) {
    http::RouteTable routes;
    routes.add(row("/open", http::Policy::open));
    routes.add(row("/token", http::Policy::token));
    routes.add(row("/local", http::Policy::local_only));
    routes.add(row("/site", http::Policy::site_token));
    routes.add(row("/player", http::Policy::player));
    const client::Headers stranger{{"Origin", "https://player.example"}, {"Sec-Fetch-Site", "cross-site"}};
    const auto status = [](const http::Reply& r) { return static_cast<unsigned>(r.status); };
    {
        Direct loopback(routes);
        for (const char* p : {"/open", "/token", "/local", "/site", "/player"})
            BOOST_TEST_CONTEXT(p) { BOOST_TEST(status(loopback.get(p)) == 200u); } // a program
        BOOST_TEST(status(loopback.get("/open", stranger)) == 200u);
        BOOST_TEST(status(loopback.get("/token", stranger)) == 200u);
        BOOST_TEST(status(loopback.get("/local", stranger)) == 403u);
        BOOST_TEST(status(loopback.get("/site", stranger)) == 403u);
        BOOST_TEST(status(loopback.get("/player", stranger)) == 403u);
        const auto token = loopback.sites().allow("https://player.example", "").token;
        BOOST_TEST(status(loopback.get("/local?auth=" + token, stranger)) == 403u); // no site token counts here
        BOOST_TEST(status(loopback.get("/site?auth=" + token, stranger)) == 200u);
        BOOST_TEST(status(loopback.get("/player?auth=" + token, stranger)) == 200u);
        BOOST_TEST(status(loopback.get("/nowhere")) == 404u);
    }
    {
        Direct lan(routes, "api-token");
        BOOST_TEST(status(lan.get("/open")) == 200u);
        BOOST_TEST(status(lan.get("/token")) == 401u);
        BOOST_TEST(status(lan.get("/local")) == 401u);
        BOOST_TEST(status(lan.get("/site")) == 401u);
        BOOST_TEST(status(lan.get("/player")) == 200u);
        BOOST_TEST(status(lan.get("/nowhere")) == 401u);
        BOOST_TEST(status(lan.get("/local?auth=api-token")) == 200u);
        BOOST_TEST(status(lan.get("/local?auth=api-token", stranger)) == 403u);
        BOOST_TEST(status(lan.get("/site?auth=api-token", stranger)) == 200u);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(plugging_in)

// A module the daemon does not have yet (metrics, say), over an interface of
// its own, served by the real Server beside the standard modules.
struct Counters {
    virtual ~Counters() = default;
    virtual std::uint64_t requests() const = 0;
};
struct FixedCounters final : Counters {
    std::uint64_t requests() const override { return 42; }
};

class MetricsModule final : public http::Module {
public:
    explicit MetricsModule(const Counters& c, std::string pattern = "/metrics") : counters_(c), pattern_(std::move(pattern)) {}
    void add_routes(http::RouteTable& routes) override {
        routes.add(http::Route{.pattern = pattern_,
                               .methods = {verb::get},
                               .policy = http::Policy::local_only,
                               .handler = [this](const http::Request& req) { return handle(req); }});
    }

private:
    awaitable<http::Reply> handle(const http::Request&) {
        http::Reply r;
        r.fields.set(http::bhttp::field::content_type, "text/plain; version=0.0.4");
        r.body = "earshot_http_requests_total " + std::to_string(counters_.requests()) + "\n";
        co_return r;
    }
    const Counters& counters_;
    std::string pattern_;
};

std::unique_ptr<TestBackend> make_backend(asio::io_context& io) {
    std::vector<resolver::SourceSpec> sources;
    sources.push_back({std::make_shared<ListSource>(io.get_executor(), "local",
                                                    std::vector<resolver::Result>{make_result("s1", "A", "B", "C", 5, "audio/ogg")}),
                       1.0, 2000ms});
    return std::make_unique<TestBackend>(io, std::move(sources));
}

BOOST_AUTO_TEST_CASE(a_new_module_plugs_in_without_touching_the_others) {
    FixedCounters counters;
    asio::io_context io;
    auto backend = make_backend(io);
    std::vector<std::unique_ptr<http::Module>> extra;
    extra.push_back(std::make_unique<MetricsModule>(counters));
    http::ServerOptions opts;
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    http::Server server(io, *backend, opts, std::move(extra));
    server.start();
    std::thread t([&] { io.run(); });
    client::Client api("http://127.0.0.1:" + std::to_string(server.local_endpoint().port()));
    auto r = api.get("/metrics");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == "earshot_http_requests_total 42\n");
    BOOST_TEST(api.get("/metrics", {{"Sec-Fetch-Site", "cross-site"}}).status == 403u);
    BOOST_TEST(api.request(verb::post, "/metrics").status == 405u);
    // The standard modules are all still there.
    BOOST_TEST(api.get("/api/?method=stat").status == 200u);
    BOOST_TEST(api.get("/api/v1/health").status == 200u);
    BOOST_TEST(api.get("/api/v1/sites").status == 200u);
    BOOST_TEST(api.get("/sid/unknown").status == 404u);
    server.stop();
    asio::post(io, [&] {
        backend.reset();
        io.stop();
    });
    t.join();
}

BOOST_AUTO_TEST_CASE(a_module_cannot_take_a_route_another_has) {
    FixedCounters counters;
    asio::io_context io;
    auto backend = make_backend(io);
    std::vector<std::unique_ptr<http::Module>> extra;
    extra.push_back(std::make_unique<MetricsModule>(counters, "/api/"));
    http::ServerOptions opts;
    opts.listen = asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
    BOOST_CHECK_THROW(http::Server(io, *backend, opts, std::move(extra)), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

// The pure parsing rules of the HTTP layer: percent-decoding, targets that can
// never traverse, query parameters, Range, tokens and Host checks.
#define BOOST_TEST_MODULE test_http_parse
#include <boost/test/unit_test.hpp>

#include "cli/client.hpp"
#include "daemon/http/auth.hpp"
#include "daemon/http/range.hpp"
#include "daemon/http/url.hpp"

#include <stdexcept>

using namespace earshot::http;
using Kind = RangeRequest::Kind;

BOOST_AUTO_TEST_SUITE(url)

BOOST_AUTO_TEST_CASE(percent_decoding_is_strict) {
    BOOST_TEST(*percent_decode("a%20b%2Fc", false) == "a b/c");
    BOOST_TEST(*percent_decode("a+b", false) == "a+b");
    BOOST_TEST(*percent_decode("a+b", true) == "a b");
    BOOST_TEST(*percent_decode("%e2%82%AC", false) == "\xE2\x82\xAC");
    BOOST_TEST(!percent_decode("%", false));
    BOOST_TEST(!percent_decode("abc%2", false));
    BOOST_TEST(!percent_decode("%zz", false));
    BOOST_TEST(!percent_decode("%-1", false));
    BOOST_TEST(*percent_decode("", true) == "");
}

BOOST_AUTO_TEST_CASE(percent_encoding_round_trips) {
    const std::string all = [] {
        std::string s;
        for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
        return s;
    }();
    BOOST_TEST(*percent_decode(percent_encode(all), false) == all);
    BOOST_TEST(*percent_decode(earshot::client::url_encode(all), true) == all);
    BOOST_TEST(percent_encode("A-z_0.9~") == "A-z_0.9~");
    BOOST_TEST(percent_encode("a b/c") == "a%20b%2Fc");
}

BOOST_AUTO_TEST_CASE(params_keep_order_and_first_wins) {
    const auto p = Params::parse("method=resolve&artist=The+Beatles&track=Let%20It%20Be&&flag&artist=other");
    BOOST_REQUIRE(p);
    BOOST_TEST(*p->find("method") == "resolve");
    BOOST_TEST(*p->find("artist") == "The Beatles");
    BOOST_TEST(*p->find("track") == "Let It Be");
    BOOST_TEST(*p->find("flag") == "");
    BOOST_TEST(!p->find("album"));
    BOOST_TEST(p->items().size() == 5u);
    BOOST_TEST(!Params::parse("a=%zz"));
    BOOST_TEST(!Params::parse("a%=1"));
    BOOST_TEST(Params::parse("")->items().empty());
}

BOOST_AUTO_TEST_CASE(targets_split_into_decoded_segments) {
    const auto t = parse_target("/api/v1/tracks/abc%2D1?x=1&y=%20");
    BOOST_TEST((t.segments == std::vector<std::string>{"api", "v1", "tracks", "abc-1"}));
    BOOST_TEST(t.query == "x=1&y=%20");
    BOOST_TEST((parse_target("/api/").segments == std::vector<std::string>{"api", ""}));
    BOOST_TEST((parse_target("/").segments == std::vector<std::string>{""}));
    BOOST_TEST((parse_target("/sid/a+b").segments == std::vector<std::string>{"sid", "a+b"}));
}

BOOST_AUTO_TEST_CASE(targets_that_could_traverse_are_refused) {
    for (const char* bad : {"/sid/../../etc/passwd", "/sid/%2e%2e%2fetc", "/api/../", "/sid/..", "/sid/.", "/./api",
                            "/sid/%2E%2E/x", "/sid/.%2e/x", "/sid/..%2f..%2fetc%2fpasswd", "/sid/a%2fb", "/sid/a%5cb",
                            "/sid/a%00b", "/sid/%zz", "/sid/%", "sid/x", "", "http://host/sid/x", "*", "/a#frag"}) {
        BOOST_TEST_CONTEXT(bad) { BOOST_CHECK_THROW(parse_target(bad), std::invalid_argument); }
    }
    // Double encoding decodes once: "%2e%2e" stays a harmless literal name.
    BOOST_TEST(parse_target("/sid/%252e%252e").segments.back() == "%2e%2e");
    // Dots inside a name are fine.
    BOOST_TEST(parse_target("/sid/a..b").segments.back() == "a..b");
}

BOOST_AUTO_TEST_CASE(auth_values_are_redacted_for_logs) {
    BOOST_TEST(redact_target("/api/?method=stat&auth=s3cret&x=1") == "/api/?method=stat&auth=***&x=1");
    BOOST_TEST(redact_target("/api/?auth=s3cret") == "/api/?auth=***");
    BOOST_TEST(redact_target("/sid/abc") == "/sid/abc");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(range)

BOOST_AUTO_TEST_CASE(single_ranges) {
    const std::uint64_t n = 1000;
    struct Case {
        const char* header;
        Kind kind;
        std::uint64_t first, last;
    };
    const Case cases[] = {
        {"bytes=0-0", Kind::partial, 0, 0},
        {"bytes=999-999", Kind::partial, 999, 999},
        {"bytes=0-", Kind::partial, 0, 999},
        {"bytes=500-", Kind::partial, 500, 999},
        {"bytes=-1", Kind::partial, 999, 999},
        {"bytes=-100", Kind::partial, 900, 999},
        {"bytes=-5000", Kind::partial, 0, 999},  // suffix longer than the body: all of it
        {"bytes=10-99999", Kind::partial, 10, 999}, // last clipped
        {"Bytes = 1-2", Kind::partial, 1, 2},
        {"bytes=1000-", Kind::unsatisfiable, 0, 0},
        {"bytes=1000-2000", Kind::unsatisfiable, 0, 0},
        {"bytes=-0", Kind::unsatisfiable, 0, 0},
        {"bytes=5-4", Kind::whole, 0, 0}, // invalid: ignored
        {"bytes=abc", Kind::whole, 0, 0},
        {"bytes=1-2-3", Kind::whole, 0, 0},
        {"bytes=", Kind::whole, 0, 0},
        {"items=0-1", Kind::whole, 0, 0},
        {"bytes=+1-2", Kind::whole, 0, 0},
        {"bytes=99999999999999999999999-", Kind::whole, 0, 0}, // overflow is malformed, not a crash
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.header) {
            const auto r = parse_range(c.header, n);
            BOOST_TEST(static_cast<int>(r.kind) == static_cast<int>(c.kind));
            if (c.kind == Kind::partial) {
                BOOST_TEST(r.range.first == c.first);
                BOOST_TEST(r.range.last == c.last);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(multi_ranges_coalesce_into_one_span) {
    auto r = parse_range("bytes=0-9, 20-29", 1000);
    BOOST_TEST((r.kind == Kind::partial));
    BOOST_TEST(r.range.first == 0u);
    BOOST_TEST(r.range.last == 29u);
    r = parse_range("bytes=-10,0-0", 1000); // spans the whole body
    BOOST_TEST(r.range.first == 0u);
    BOOST_TEST(r.range.last == 999u);
    r = parse_range("bytes=2000-3000,5-6", 1000); // unsatisfiable parts are dropped
    BOOST_TEST((r.kind == Kind::partial));
    BOOST_TEST(r.range.first == 5u);
    BOOST_TEST(r.range.last == 6u);
    BOOST_TEST((parse_range("bytes=2000-3000,4000-", 1000).kind == Kind::unsatisfiable));
    std::string many = "bytes=0-0";
    for (int i = 1; i < 40; ++i) { // appended piece by piece: GCC 12 -O3 -Wrestrict (docs/toolchain-notes.md)
        many += ',';
        many += std::to_string(i);
        many += '-';
        many += std::to_string(i);
    }
    BOOST_TEST((parse_range(many, 1000).kind == Kind::whole));
}

BOOST_AUTO_TEST_CASE(sixty_four_bit_offsets) {
    const std::uint64_t n = 6'000'000'000ULL;
    auto r = parse_range("bytes=5000000000-5000000099", n);
    BOOST_TEST((r.kind == Kind::partial));
    BOOST_TEST(r.range.first == 5'000'000'000ULL);
    BOOST_TEST(r.range.length() == 100u);
    r = parse_range("bytes=-1", n);
    BOOST_TEST(r.range.first == n - 1);
}

BOOST_AUTO_TEST_CASE(empty_body_is_never_satisfiable) {
    BOOST_TEST((parse_range("bytes=0-", 0).kind == Kind::unsatisfiable));
    BOOST_TEST((parse_range("bytes=-1", 0).kind == Kind::unsatisfiable));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(auth)

BOOST_AUTO_TEST_CASE(tokens) {
    BOOST_TEST(token_equals("s3cret", "s3cret"));
    BOOST_TEST(!token_equals("s3cret", "s3creT"));
    BOOST_TEST(!token_equals("s3cre", "s3cret"));
    BOOST_TEST(!token_equals("", ""));
    BOOST_TEST(*bearer_token("Bearer abc") == "abc");
    BOOST_TEST(*bearer_token("bearer   abc ") == "abc");
    BOOST_TEST(!bearer_token("Basic abc"));
    BOOST_TEST(!bearer_token("Bearer "));
}

BOOST_AUTO_TEST_CASE(hosts) {
    BOOST_TEST(*host_of("[::1]:60210") == "::1");
    BOOST_TEST(*host_of("example.org:80") == "example.org");
    BOOST_TEST(*host_of("localhost") == "localhost");
    BOOST_TEST(!host_of("a b"));
    BOOST_TEST(!host_of("::1"));
    BOOST_TEST(host_is_local("127.0.0.1:60210", "box"));
    BOOST_TEST(host_is_local("[::1]:1", "box"));
    BOOST_TEST(host_is_local("LOCALHOST:60210", "box"));
    BOOST_TEST(host_is_local("app.localhost", "box"));
    BOOST_TEST(host_is_local("Box:60210", "box"));
    BOOST_TEST(host_is_local("192.168.1.5:60210", "box"));
    BOOST_TEST(host_is_local("", "box"));
    BOOST_TEST(!host_is_local("evil.example:60210", "box"));
    BOOST_TEST(!host_is_local("localhost.evil.example", "box"));
    BOOST_TEST(!host_is_local("evil.example", ""));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client_url)

BOOST_AUTO_TEST_CASE(base_urls) {
    using earshot::client::BaseUrl;
    auto u = BaseUrl::parse("http://127.0.0.1:60210");
    BOOST_TEST(u.host == "127.0.0.1");
    BOOST_TEST(u.port == "60210");
    BOOST_TEST(u.prefix == "");
    u = BaseUrl::parse("HTTP://[::1]:8080/earshot/");
    BOOST_TEST(u.host == "::1");
    BOOST_TEST(u.prefix == "/earshot");
    BOOST_TEST(u.text == "http://[::1]:8080/earshot");
    u = BaseUrl::parse("localhost");
    BOOST_TEST(u.port == "80");
    for (const char* bad : {"https://x", "http://", "http://x:0", "http://x:99999", "http://x:1a", "http://[::1", "http://x/?a"}) {
        BOOST_TEST_CONTEXT(bad) { BOOST_CHECK_THROW(BaseUrl::parse(bad), std::invalid_argument); }
    }
}

BOOST_AUTO_TEST_SUITE_END()

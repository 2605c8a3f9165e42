// Finding peers (daemon/peers/finder.hpp): the composite's order and
// dedup, the bound on remembered sightings, and per-address backoff, as
// plain logic with time passed in; then real PeerManagers on loopback: a
// peer paired without an address is found through a LAN sighting fed after
// start, within seconds (it used to be parked for an hour), a finder that
// learns of a peer later is asked again on the short period, and a dead
// configured address does not hold up a live sighting.
#define BOOST_TEST_MODULE finder
#include <boost/test/unit_test.hpp>

#include "daemon/peers/finder.hpp"
#include "daemon/peers/manager.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/temp_dir.hpp"

#include <sodium.h>

#include <optional>

using namespace earshot;
using namespace std::chrono_literals;
using asio::ip::tcp;
using peers::Candidate;

namespace earshot::peers {
std::ostream& operator<<(std::ostream& os, const Candidate& c) { return os << c.address << " (" << c.via << ")"; }
} // namespace earshot::peers

namespace {

struct Sodium {
    Sodium() {
        if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    }
};
BOOST_GLOBAL_FIXTURE(Sodium);

// Says whatever the test put in `answer`; counts how often it was asked.
class FixedFinder final : public peers::Finder {
public:
    explicit FixedFinder(std::vector<Candidate> a = {}) : answer(std::move(a)) {}
    awaitable<std::vector<Candidate>> find(const peers::PeerRecord&) override {
        ++asked;
        co_return answer;
    }
    std::vector<Candidate> answer;
    int asked = 0;
};

std::vector<Candidate> find_now(peers::Finder& f, const peers::PeerRecord& rec) {
    asio::io_context io;
    auto fut = asio::co_spawn(io, f.find(rec), asio::use_future);
    io.run();
    return fut.get();
}

// Any 32 bytes will do: the sighting finder keeps keys, it does not check them.
proto::PublicKey key_of(int n) {
    proto::PublicKey k{};
    k[0] = static_cast<std::uint8_t>(n >> 8);
    k[1] = static_cast<std::uint8_t>(n);
    return k;
}

tcp::endpoint loopback(std::uint16_t port) { return {asio::ip::address_v4::loopback(), port}; }

} // namespace

BOOST_AUTO_TEST_CASE(finders_keep_order_of_preference_and_drop_duplicate_addresses) {
    FixedFinder first({{"10.0.0.1:1", "configured"}, {"10.0.0.2:2", "configured"}});
    FixedFinder empty;
    FixedFinder second({{"10.0.0.2:2", "lan"}, {"10.0.0.3:3", "lan"}, {"", "lan"}});
    FixedFinder third({{"10.0.0.1:1", "last-known"}, {"10.0.0.4:4", "last-known"}});
    peers::Finders all{first, empty, second};
    all.add(third);
    const auto got = find_now(all, peers::PeerRecord{});
    const std::vector<Candidate> want{{"10.0.0.1:1", "configured"},
                                      {"10.0.0.2:2", "configured"},
                                      {"10.0.0.3:3", "lan"},
                                      {"10.0.0.4:4", "last-known"}};
    BOOST_TEST(got == want, boost::test_tools::per_element());
    BOOST_TEST(first.asked == 1);
    BOOST_TEST(empty.asked == 1);
    BOOST_TEST(third.asked == 1);
    peers::Finders none;
    BOOST_TEST(find_now(none, peers::PeerRecord{}).empty());
}

BOOST_AUTO_TEST_CASE(roster_finder_gives_configured_and_last_known_addresses) {
    peers::PeerRecord rec;
    rec.address = "host.example:60211";
    rec.last_address = "192.0.2.7:60211";
    peers::RosterFinder both, configured(peers::RosterFinder::Which::configured),
        last(peers::RosterFinder::Which::last_known);
    BOOST_TEST((find_now(both, rec) ==
                std::vector<Candidate>{{"host.example:60211", "configured"}, {"192.0.2.7:60211", "last-known"}}));
    BOOST_TEST((find_now(configured, rec) == std::vector<Candidate>{{"host.example:60211", "configured"}}));
    BOOST_TEST((find_now(last, rec) == std::vector<Candidate>{{"192.0.2.7:60211", "last-known"}}));
    BOOST_TEST(find_now(both, peers::PeerRecord{}).empty());
}

BOOST_AUTO_TEST_CASE(sighting_finder_is_bounded_and_forgets_the_longest_unseen) {
    peers::SightingFinder s(3);
    BOOST_TEST(s.sighted(key_of(1), loopback(1)));
    BOOST_TEST(s.sighted(key_of(2), loopback(2)));
    BOOST_TEST(s.sighted(key_of(3), loopback(3)));
    BOOST_TEST(!s.sighted(key_of(1), loopback(1)), "the same address again is no news");
    BOOST_TEST(s.sighted(key_of(2), loopback(22)), "a new address is news");
    // Key 3 is now the one sighted longest ago: a fourth key pushes it out.
    BOOST_TEST(s.sighted(key_of(4), loopback(4)));
    BOOST_TEST(s.size() == 3u);
    BOOST_TEST(!s.last(key_of(3)).has_value());
    BOOST_TEST(s.last(key_of(1)).has_value());
    BOOST_TEST((s.last(key_of(2)) == loopback(22)));
    BOOST_TEST(s.last(key_of(4)).has_value());
    peers::PeerRecord rec;
    rec.key = key_of(2);
    BOOST_TEST((find_now(s, rec) == std::vector<Candidate>{{"127.0.0.1:22", "lan"}}));
    rec.key = key_of(3);
    BOOST_TEST(find_now(s, rec).empty());

    peers::SightingFinder many;
    for (int i = 0; i < 1100; ++i) many.sighted(key_of(1000 + i), loopback(static_cast<std::uint16_t>(i + 1)));
    BOOST_TEST(many.size() == peers::SightingFinder::default_capacity);
    BOOST_TEST(many.last(key_of(1000 + 1099)).has_value());
    BOOST_TEST(!many.last(key_of(1000)).has_value());
}

BOOST_AUTO_TEST_CASE(backoff_is_per_address_so_a_dead_configured_address_does_not_delay_a_live_sighting) {
    using Clock = peers::AddressBackoff::Clock;
    peers::AddressBackoff b(1000ms, 8000ms);
    const std::vector<Candidate> c{{"192.0.2.1:60211", "configured"}, {"127.0.0.1:5000", "lan"}};
    const auto t0 = Clock::time_point{} + 100h;
    BOOST_TEST((b.pick(c, t0) == std::optional<std::size_t>(0)), "never tried: preference order");
    b.failed(c[0].address, t0);
    BOOST_TEST((b.pick(c, t0) == std::optional<std::size_t>(1)), "the dead one backs off; the live one at once");
    b.succeeded(c[1].address);
    // The link drops 10 ms later: the live address is still first in line.
    BOOST_TEST((b.pick(c, t0 + 10ms) == std::optional<std::size_t>(1)));
    BOOST_TEST((b.next_try(c[0].address) == t0 + 1000ms));
    BOOST_TEST((b.pick(c, t0 + 1000ms) == std::optional<std::size_t>(0)), "its backoff over, preference again");
    // Doubling, up to the cap.
    b.failed(c[0].address, t0 + 1000ms);
    BOOST_TEST((b.next_try(c[0].address) == t0 + 3000ms));
    for (int i = 0; i < 10; ++i) b.failed(c[0].address, t0 + 3000ms);
    BOOST_TEST((b.next_try(c[0].address) == t0 + 3000ms + 8000ms));
    BOOST_TEST(b.failures(c[0].address) == 12u);
    // Both failing: nothing due; the earliest retry is the live one's.
    b.failed(c[1].address, t0 + 3000ms);
    BOOST_TEST(!b.pick(c, t0 + 3000ms).has_value());
    BOOST_TEST((b.earliest(c) == t0 + 4000ms));
    BOOST_TEST(!b.earliest(std::vector<Candidate>{}).has_value());
    // An address that stops being a candidate is forgotten.
    b.retain(std::vector<Candidate>{c[1]});
    BOOST_TEST(b.failures(c[0].address) == 0u);
    BOOST_TEST(b.failures(c[1].address) == 1u);
}

namespace {

// Serves nothing: these tests only link.
class NoLibrary final : public peers::Offering {
public:
    awaitable<std::vector<proto::ResultEntry>> search(peers::PeerRecord, resolver::Query) override {
        co_return std::vector<proto::ResultEntry>{};
    }
    awaitable<std::optional<peers::ServedContent>> content(peers::PeerRecord, proto::Hash) override {
        co_return std::nullopt;
    }
    void content_changed(const std::string&) override {}
};

// Runs the io_context until `done` or the deadline.
template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(20ms);
    return done();
}

// One daemon's peer side as PeerService wires it: configured, LAN,
// last-known, plus `extra` (standing in for the DHT).
struct Node {
    Node(asio::io_context& io, const test::TempDir& tmp, int seed, std::string name,
         std::chrono::milliseconds look_again = 30s)
        : id(peers::Identity::from_seed(test::seed_of(seed))), roster(tmp / (name + "-peers.json")) {
        finders.add(extra);
        peers::ManagerOptions o;
        o.listen = tcp::endpoint(asio::ip::address_v4::loopback(), 0);
        o.name = std::move(name);
        o.first_backoff = 100ms;
        o.connect_timeout = 2000ms;
        o.look_again = look_again;
        manager.emplace(io, id, roster, library, blocking, o, finders);
    }
    void pair(const Node& other, std::string address = {}) {
        peers::PeerRecord r;
        r.key = other.id.public_key();
        r.name = "peer";
        r.address = std::move(address);
        roster.upsert(r);
    }
    nlohmann::json describe(const Node& other) const { return manager->describe(*roster.find(other.id.public_key())); }

    peers::Identity id;
    peers::Roster roster;
    NoLibrary library;
    core::Blocking blocking{1};
    peers::RosterFinder configured{peers::RosterFinder::Which::configured};
    peers::SightingFinder sightings;
    peers::RosterFinder last_known{peers::RosterFinder::Which::last_known};
    FixedFinder extra;
    peers::Finders finders{configured, sightings, last_known};
    std::optional<peers::PeerManager> manager;
};

} // namespace

BOOST_AUTO_TEST_CASE(a_peer_paired_without_an_address_is_found_through_a_sighting_fed_after_start) {
    test::TempDir tmp{"earshot-finder"};
    asio::io_context io;
    Node a(io, tmp, 1, "a"), b(io, tmp, 2, "b");
    a.pair(b);
    b.pair(a);
    a.manager->start();
    b.manager->start();
    // Nowhere to dial yet: no link, and /api/v1/peers says there is no candidate.
    io.run_for(300ms);
    BOOST_TEST(!a.manager->link(b.id.public_key()));
    BOOST_TEST(a.describe(b)["candidates"].empty());
    BOOST_TEST(a.describe(b)["found_via"].is_null());

    const auto asked_before = a.extra.asked;
    const auto t0 = std::chrono::steady_clock::now();
    if (a.sightings.sighted(b.id.public_key(), b.manager->local_endpoint())) a.manager->look_again(b.id.public_key());
    const auto both_linked = [&] { return a.manager->link(b.id.public_key()) && b.manager->link(a.id.public_key()); };
    BOOST_TEST_REQUIRE(run_until(io, both_linked, 5s));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    BOOST_TEST(took.count() < 5000, "found in " << took.count() << " ms");
    BOOST_TEST(a.extra.asked > asked_before, "the finders were asked again at once");

    const auto seen_by_a = a.describe(b);
    BOOST_TEST(seen_by_a["online"] == true);
    BOOST_TEST(seen_by_a["found_via"] == "lan");
    BOOST_TEST_REQUIRE(seen_by_a["candidates"].size() == 1u);
    BOOST_TEST(seen_by_a["candidates"][0]["via"] == "lan");
    BOOST_TEST(seen_by_a["candidates"][0]["address"] ==
               "127.0.0.1:" + std::to_string(b.manager->local_endpoint().port()));
    BOOST_TEST(seen_by_a["candidates"][0]["next_try_in_ms"] == 0);
    BOOST_TEST(b.describe(a)["found_via"] == "inbound");
    a.manager->stop();
    b.manager->stop();
    io.run_for(100ms);
}

BOOST_AUTO_TEST_CASE(a_peer_with_no_candidates_is_asked_about_again_on_the_short_period) {
    test::TempDir tmp{"earshot-finder"};
    asio::io_context io;
    // Nothing pushes news here (no look_again): only the period brings the
    // dialler back to the finders.
    Node a(io, tmp, 1, "a", 300ms), b(io, tmp, 2, "b");
    a.pair(b);
    b.pair(a);
    a.manager->start();
    b.manager->start();
    io.run_for(200ms);
    BOOST_TEST(!a.manager->link(b.id.public_key()));
    a.extra.answer = {{"127.0.0.1:" + std::to_string(b.manager->local_endpoint().port()), "dht"}};
    BOOST_TEST_REQUIRE(run_until(io, [&] { return a.manager->link(b.id.public_key()) != nullptr; }, 3s));
    BOOST_TEST(a.describe(b)["found_via"] == "dht");
    a.manager->stop();
    b.manager->stop();
    io.run_for(100ms);
}

BOOST_AUTO_TEST_CASE(a_dead_configured_address_does_not_hold_up_a_live_sighting) {
    test::TempDir tmp{"earshot-finder"};
    asio::io_context io;
    // A port nobody listens on: bound, then closed, so dialling it is refused.
    std::uint16_t dead_port = 0;
    {
        tcp::acceptor probe(io, loopback(0));
        dead_port = probe.local_endpoint().port();
    }
    Node a(io, tmp, 1, "a"), b(io, tmp, 2, "b");
    const auto dead = "127.0.0.1:" + std::to_string(dead_port);
    a.pair(b, dead);
    b.pair(a);
    a.manager->start();
    b.manager->start();
    a.sightings.sighted(b.id.public_key(), b.manager->local_endpoint());
    a.manager->look_again(b.id.public_key());
    BOOST_TEST_REQUIRE(run_until(io, [&] { return a.manager->link(b.id.public_key()) != nullptr; }, 5s));
    const auto seen = a.describe(b);
    BOOST_TEST(seen["found_via"] == "lan");
    BOOST_TEST_REQUIRE(seen["candidates"].size() == 2u);
    BOOST_TEST(seen["candidates"][0]["address"] == dead);
    BOOST_TEST(seen["candidates"][0]["via"] == "configured");
    BOOST_TEST(seen["candidates"][0]["failures"] == 1);
    BOOST_TEST(seen["candidates"][1]["via"] == "lan");
    a.manager->stop();
    b.manager->stop();
    io.run_for(100ms);
}

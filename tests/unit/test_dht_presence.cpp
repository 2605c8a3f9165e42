// dht::Presence's schedule (proto/DHT.md §6) against a real private DHT,
// with the wall clock stepped by hand: the first put, the halfway refresh
// (same seq), the next epoch's new item, and the empty record an unpaired
// peer gets. A second dht::Node reads what was stored, as the peer would.
// (The refresh puts the very same bytes, as BEP 44's "same seq, same value:
// reset the timer" asks; libtorrent's storing nodes also take another value
// under an equal seq, so a get cannot tell which bytes a refresh carried.)
#define BOOST_TEST_MODULE dht_presence
#include <boost/test/unit_test.hpp>

#include "daemon/dht/node.hpp"
#include "daemon/dht/presence.hpp"
#include "tests/support/private_dht.hpp"
#include "tests/support/run_io.hpp"
#include "tests/support/temp_dir.hpp"

using namespace earshot;
using namespace std::chrono_literals;
namespace presence = proto::presence;

namespace {

std::array<std::uint8_t, 32> seed(std::uint8_t b) {
    std::array<std::uint8_t, 32> s{};
    s.fill(b);
    return s;
}

dht::NodeOptions node_options(const test::PrivateDht& dht) {
    dht::NodeOptions o;
    o.listen = {"127.0.0.1:0"};
    o.bootstrap = {dht.nodes().at(0), dht.nodes().at(1)};
    o.allow_local = true;
    o.port_mapping = false;
    return o;
}

// Polls `pred` on the io thread every 20 ms, at most `timeout`.
template <class Pred>
awaitable<bool> until(asio::io_context& io, Pred pred, std::chrono::milliseconds timeout = 15s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    asio::steady_timer t(io);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) co_return false;
        t.expires_after(20ms);
        co_await t.async_wait(use_awaitable);
    }
    co_return true;
}

} // namespace

BOOST_AUTO_TEST_CASE(first_put_halfway_refresh_next_epoch_and_unpairing) {
    test::TempDir tmp;
    test::PrivateDht swarm(20);
    asio::io_context io;
    const auto home = peers::Identity::from_seed(seed(1));
    const auto laptop = peers::Identity::from_seed(seed(2));
    peers::Roster roster(tmp / "peers.json");
    peers::PeerRecord r;
    r.key = laptop.public_key();
    r.name = "laptop";
    roster.upsert(r);

    const std::uint64_t epoch = 499000;
    std::uint64_t now = epoch * presence::epoch_seconds + 60;
    const presence::Endpoint here{presence::EndpointKind::lan, presence::Ipv4{127, 0, 0, 1}, 4242};
    dht::Node home_node(io, node_options(swarm)), reader(io, node_options(swarm));
    dht::PresenceOptions options;
    options.tick = 50ms;
    dht::Presence publisher(io, home_node, home, roster, [&] { return std::vector{here}; }, options,
                            [&] { return now; });

    const auto puts = [&] { return publisher.status()["puts_stored"].get<int>(); };
    // What the laptop finds for `e`: the item's seq and value, and what it opens to.
    const auto read = [&](std::uint64_t e) -> awaitable<std::optional<std::pair<dht::FoundItem, presence::Record>>> {
        const auto keys = presence::item_keys(laptop.pair_secret(home.public_key()), home.public_key(),
                                              laptop.public_key(), e);
        auto item = co_await reader.get(keys.item_key, keys.salt, 5s);
        if (!item) co_return std::nullopt;
        auto record = presence::open(keys, item->seq, item->value);
        co_return std::pair{std::move(*item), std::move(record)};
    };

    test::run_io(io, [&]() -> awaitable<void> {
        home_node.start();
        reader.start();
        publisher.start();

        BOOST_TEST_REQUIRE(co_await until(io, [&] { return puts() >= 1; }));
        const auto first = co_await read(epoch);
        BOOST_TEST_REQUIRE(first.has_value());
        BOOST_TEST(first->first.seq == now);
        BOOST_TEST((first->second.endpoints == std::vector{here}));

        // Halfway through the hour (past any peer's delay): the same item again.
        now = epoch * presence::epoch_seconds + presence::epoch_seconds / 2 + 300;
        BOOST_TEST_REQUIRE(co_await until(io, [&] { return puts() >= 2; }));
        const auto refreshed = co_await read(epoch);
        BOOST_TEST_REQUIRE(refreshed.has_value());
        BOOST_TEST(refreshed->first.seq == first->first.seq);
        BOOST_TEST((refreshed->second == first->second));

        // The next hour: new keys, a new seq, same endpoints.
        now = (epoch + 1) * presence::epoch_seconds + 300;
        BOOST_TEST_REQUIRE(co_await until(io, [&] { return puts() >= 3; }));
        const auto next = co_await read(epoch + 1);
        BOOST_TEST_REQUIRE(next.has_value());
        BOOST_TEST(next->first.seq == now);
        BOOST_TEST((next->second.endpoints == std::vector{here}));
        BOOST_TEST((next->first.value != first->first.value));

        // Unpaired: one record with nothing in it, under a higher seq.
        BOOST_TEST_REQUIRE(roster.remove(laptop.public_key()));
        BOOST_TEST_REQUIRE(co_await until(io, [&] { return puts() >= 4; }));
        const auto withdrawn = co_await read(epoch + 1);
        BOOST_TEST_REQUIRE(withdrawn.has_value());
        BOOST_TEST(withdrawn->first.seq > next->first.seq);
        BOOST_TEST(withdrawn->second.endpoints.empty());
        // And nothing more is put for it.
        now += 2 * presence::epoch_seconds;
        const auto before = publisher.status()["puts"].get<int>();
        co_await until(io, [] { return false; }, 500ms);
        BOOST_TEST(publisher.status()["puts"].get<int>() == before);

        publisher.stop();
        home_node.stop();
        reader.stop();
    });
}

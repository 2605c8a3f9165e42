#define BOOST_TEST_MODULE discovery
#include <boost/test/unit_test.hpp>

#include "daemon/peers/discovery.hpp"
#include "proto/announce.hpp"
#include "tests/support/seed.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace earshot;
using namespace std::chrono_literals;
namespace announce = proto::announce;
using asio::ip::udp;
using peers::DiscoveryOptions;
using peers::Identity;
using peers::LanDiscovery;
using peers::Sighting;

namespace {
using test::seed_of;

const auto loopback = asio::ip::address_v4::loopback();

// A UDP port nobody on this host uses right now, so concurrent test runs
// (and other engineers' daemons) do not hear each other.
std::uint16_t free_udp_port() {
    asio::io_context io;
    udp::socket s(io, udp::endpoint(loopback, 0));
    return s.local_endpoint().port();
}

DiscoveryOptions loopback_options(std::uint16_t port) {
    DiscoveryOptions o;
    o.port = port;
    o.interface = loopback; // only daemons on this host
    // The default 30 s interval: finding each other within a second or two
    // relies on the first announcement and the answer to newcomers.
    return o;
}

// Everything one LanDiscovery reported.
struct Seen {
    std::vector<Sighting> all;
    std::function<void(const Sighting&)> recorder() {
        return [this](const Sighting& s) { all.push_back(s); };
    }
    const Sighting* of(const proto::PublicKey& key) const {
        for (const auto& s : all)
            if (s.key == key) return &s;
        return nullptr;
    }
};

// Runs `io` until `done()` or the deadline; true if done.
bool run_until(asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        io.run_for(20ms);
        if (io.stopped()) io.restart();
    }
    return true;
}

void run_for(asio::io_context& io, std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline) {
        io.run_for(20ms);
        if (io.stopped()) io.restart();
    }
}

// A plain UDP socket that sends to the group over loopback, like an
// attacker on the link would.
udp::socket raw_sender(asio::io_context& io) {
    udp::socket s(io, udp::v4());
    s.set_option(asio::ip::multicast::outbound_interface(loopback));
    s.set_option(asio::ip::multicast::enable_loopback(true));
    s.bind(udp::endpoint(loopback, 0));
    return s;
}

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

} // namespace

BOOST_AUTO_TEST_CASE(three_daemons_on_one_host_find_each_other) {
    asio::io_context io;
    const auto port = free_udp_port();
    const std::array ids{Identity::from_seed(seed_of(1)), Identity::from_seed(seed_of(2)),
                         Identity::from_seed(seed_of(3))};
    const std::array<std::uint16_t, 3> tcp_ports{41001, 41002, 41003};
    const std::array<std::string, 3> names{"laptop", "desk", "phone"};
    std::array<Seen, 3> seen;
    std::vector<std::unique_ptr<LanDiscovery>> ds;
    for (std::size_t i = 0; i < 3; ++i) {
        ds.push_back(std::make_unique<LanDiscovery>(io, ids[i], tcp_ports[i], names[i], loopback_options(port),
                                                    seen[i].recorder()));
        ds.back()->start();
        BOOST_REQUIRE(ds.back()->active());
        // Started one after another, as daemons are: the later ones were not
        // listening when the earlier ones first announced.
        run_for(io, 100ms);
    }
    const auto everyone_seen = [&] {
        for (std::size_t i = 0; i < 3; ++i)
            for (std::size_t j = 0; j < 3; ++j)
                if (i != j && !seen[i].of(ids[j].public_key())) return false;
        return true;
    };
    BOOST_TEST_REQUIRE(run_until(io, everyone_seen, 3000ms), "not every daemon saw every other within 3 s");

    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            if (i == j) continue;
            const auto* s = seen[i].of(ids[j].public_key());
            BOOST_TEST(s->endpoint.port() == tcp_ports[j]);
            BOOST_TEST(s->endpoint.address() == asio::ip::address(loopback));
            BOOST_TEST(s->name == names[j]);
        }
        // Nobody reports itself, although its own datagrams loop back to it.
        BOOST_TEST(!seen[i].of(ids[i].public_key()));
    }

    // announce_now() is heard at once (not after the 30 s interval).
    const auto before = seen[1].all.size();
    ds[0]->announce_now();
    BOOST_TEST(run_until(io, [&] { return seen[1].all.size() > before; }, 2000ms));
    BOOST_TEST((seen[1].all.back().key == ids[0].public_key()));

    // After stop() a daemon neither reports nor announces.
    ds[2]->stop();
    BOOST_TEST(!ds[2]->active());
    ds[2]->stop(); // idempotent
    const auto stopped_seen = seen[2].all.size();
    const auto from_stopped = [&](const Seen& s) {
        return std::count_if(s.all.begin(), s.all.end(),
                             [&](const Sighting& x) { return x.key == ids[2].public_key(); });
    };
    const auto heard_from_2 = from_stopped(seen[0]);
    ds[0]->announce_now();
    ds[2]->announce_now();
    run_for(io, 500ms);
    BOOST_TEST(seen[2].all.size() == stopped_seen);
    BOOST_TEST(from_stopped(seen[0]) == heard_from_2);
}

BOOST_AUTO_TEST_CASE(forged_announcements_are_ignored) {
    asio::io_context io;
    const auto port = free_udp_port();
    const auto me = Identity::from_seed(seed_of(10));
    const auto alice = Identity::from_seed(seed_of(11));
    const auto mallory = Identity::from_seed(seed_of(12));
    const auto carol = Identity::from_seed(seed_of(13));
    Seen seen;
    LanDiscovery d(io, me, 42000, "me", loopback_options(port), seen.recorder());
    d.start();
    BOOST_REQUIRE(d.active());

    auto sender = raw_sender(io);
    const udp::endpoint group(DiscoveryOptions{}.group, port);
    const auto send = [&](const proto::Bytes& datagram) { sender.send_to(asio::buffer(datagram), group); };

    // Mallory signs an announcement claiming Alice's key and Mallory's port.
    announce::Announcement claim;
    claim.key = alice.public_key();
    claim.port = 6666;
    claim.timestamp_ms = now_ms();
    claim.instance = {1, 2, 3, 4, 5, 6, 7, 8};
    send(announce::encode(claim, mallory.sign(announce::signing_input(claim))));
    // Our own key, validly signed by us, sent by someone else: still ours.
    announce::Announcement mine = claim;
    mine.key = me.public_key();
    send(announce::encode(mine, me.sign(announce::signing_input(mine))));
    // A stale but genuine announcement from Alice.
    announce::Announcement old = claim;
    old.timestamp_ms = now_ms() - 10 * 60 * 1000;
    send(announce::encode(old, alice.sign(announce::signing_input(old))));
    // Garbage.
    send(proto::Bytes(150, 0xEE));

    // Then a genuine one from Carol through the same socket: once it has
    // arrived, everything sent before it was received and judged too.
    announce::Announcement genuine = claim;
    genuine.key = carol.public_key();
    genuine.port = 4321;
    send(announce::encode(genuine, carol.sign(announce::signing_input(genuine))));

    BOOST_TEST_REQUIRE(run_until(io, [&] { return seen.of(carol.public_key()) != nullptr; }, 3000ms),
                       "the genuine announcement did not arrive");
    run_for(io, 100ms);
    BOOST_TEST(seen.of(carol.public_key())->endpoint.port() == 4321);
    BOOST_TEST(!seen.of(alice.public_key()), "the forged or stale announcement for Alice was reported");
    BOOST_TEST(!seen.of(me.public_key()));
    BOOST_TEST(seen.all.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_unusable_group_disables_discovery_without_throwing) {
    asio::io_context io;
    const auto me = Identity::from_seed(seed_of(20));
    DiscoveryOptions o = loopback_options(free_udp_port());
    o.group = asio::ip::make_address_v4("10.1.2.3"); // not a multicast address: joining fails
    LanDiscovery d(io, me, 42000, "", o, [](const Sighting&) {});
    BOOST_CHECK_NO_THROW(d.start());
    BOOST_TEST(!d.active());
    d.announce_now(); // does nothing, harmlessly
    io.run_for(50ms);

    BOOST_CHECK_THROW(LanDiscovery(io, me, 0, "", DiscoveryOptions{}, nullptr), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(destroying_a_running_discovery_is_safe) {
    asio::io_context io;
    const auto port = free_udp_port();
    const auto a = Identity::from_seed(seed_of(30));
    const auto b = Identity::from_seed(seed_of(31));
    Seen seen_b;
    LanDiscovery db(io, b, 43002, "b", loopback_options(port), seen_b.recorder());
    db.start();
    {
        int calls = 0;
        LanDiscovery da(io, a, 43001, "a", loopback_options(port), [&](const Sighting&) { ++calls; });
        da.start();
        BOOST_TEST(run_until(io, [&] { return seen_b.of(a.public_key()) != nullptr; }, 3000ms));
        // `da` and `calls` die here while its receive and timer waits are queued.
    }
    run_for(io, 300ms); // the aborted operations complete without touching freed memory
    db.announce_now();
    run_for(io, 200ms);
    BOOST_TEST(db.active());
}

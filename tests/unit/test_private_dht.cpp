// The private test DHT (earshot-test-dht, test::PrivateDht), and what the
// daemon's DHT presence will rely on from libtorrent 2.0: a BEP 44 mutable
// item keyed and salted by proto::presence, put by one session and got by
// another through 20 other nodes; libtorrent's signature, made from the
// derived seed, is libsodium's; a missing item is reported as missing in
// bounded time; and the DHT's nodes see the item's salt and target but
// neither identity nor any endpoint (proto/DHT.md §1, on real packets).
#define BOOST_TEST_MODULE private_dht
#include <boost/test/unit_test.hpp>

#include "proto/presence.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/private_dht.hpp"

#include "daemon/dht/engine_settings.hpp"

#include <libtorrent/alert_types.hpp>
#include <libtorrent/bencode.hpp>
#include <libtorrent/entry.hpp>
#include <libtorrent/kademlia/ed25519.hpp>
#include <libtorrent/kademlia/item.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_params.hpp>
#include <libtorrent/settings_pack.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace lt = libtorrent;
using namespace earshot;
namespace presence = proto::presence;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// The identities of proto/DHT.md §8: seeds 00..1f (A) and 20..3f (B).
presence::Seed seed_from(std::uint8_t first) {
    presence::Seed s;
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(first + i);
    return s;
}

proto::PublicKey public_of(const presence::Seed& seed) {
    BOOST_REQUIRE(sodium_init() >= 0);
    proto::PublicKey pk;
    std::array<std::uint8_t, 64> sk;
    crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
    return pk;
}

template <std::size_t N>
std::array<char, N> to_chars(const std::array<std::uint8_t, N>& a) {
    std::array<char, N> out;
    std::copy(a.begin(), a.end(), out.begin());
    return out;
}

template <std::size_t N>
std::string to_string(const std::array<std::uint8_t, N>& a) {
    return std::string(a.begin(), a.end());
}

proto::ByteView bytes_of(const std::string& s) { return proto::as_bytes(s); }

// Latencies here are well under a millisecond on loopback.
double ms(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1000.0; }

// A DHT-only libtorrent session as the daemon will run one, on loopback,
// bootstrapped from the private DHT. The settings are the swarm's
// (tests/support/dht/swarm_main.cpp says why each is needed on loopback).
class DhtClient {
public:
    // Returns once it listens and its bootstrap lookup is over.
    explicit DhtClient(const std::string& bootstrap) : session_(make_params(bootstrap)) {
        const auto started = Clock::now();
        bool bootstrapped = false;
        BOOST_REQUIRE_MESSAGE(pump([&](lt::alert* a) {
                                  const auto* l = lt::alert_cast<lt::listen_succeeded_alert>(a);
                                  // utp is the UDP socket (the DHT's; uTP shares it).
                                  if (l && l->socket_type == lt::socket_type_t::utp) port_ = l->port;
                                  if (lt::alert_cast<lt::dht_bootstrap_alert>(a)) bootstrapped = true;
                                  return port_ != 0 && bootstrapped;
                              }, milliseconds(10000)),
                              "a DHT client did not listen and bootstrap within 10 s");
        bootstrap_time_ = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
    }

    // From construction to dht_bootstrap_alert.
    std::chrono::microseconds bootstrap_time() const { return bootstrap_time_; }

    lt::session& session() { return session_; }
    std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

    // Hands every alert to on_alert until it returns true; false on timeout.
    template <class F>
    bool pump(F on_alert, milliseconds timeout) {
        const auto deadline = Clock::now() + timeout;
        std::vector<lt::alert*> alerts;
        while (Clock::now() < deadline) {
            session_.wait_for_alert(milliseconds(20));
            session_.pop_alerts(&alerts);
            for (lt::alert* a : alerts)
                if (on_alert(a)) return true;
        }
        return false;
    }

    // Nodes in its routing table now.
    int routing_nodes() {
        session_.post_dht_stats();
        int n = -1;
        pump([&](lt::alert* a) {
            const auto* st = lt::alert_cast<lt::dht_stats_alert>(a);
            if (!st) return false;
            n = 0;
            for (const auto& bucket : st->routing_table) n += bucket.num_nodes;
            return true;
        }, milliseconds(2000));
        return n;
    }

private:
    static lt::session_params make_params(const std::string& bootstrap) {
        // The daemon's engine settings, as dht::Node has them on a private DHT.
        auto s = dht::engine_settings({"127.0.0.1:0", bootstrap, true, false});
        s.set_bool(lt::settings_pack::enable_ip_notifier, false);
        s.set_int(lt::settings_pack::alert_mask,
                  lt::alert_category::error | lt::alert_category::status | lt::alert_category::dht);
        return lt::session_params(std::move(s));
    }

    lt::session session_;
    int port_ = 0;
    std::chrono::microseconds bootstrap_time_{};
};

// What the put callback saw, read by the test thread after the put's alert.
// libtorrent calls the callback on its network thread; the mutex is never
// contended (the test thread only looks once the put is over).
struct PutSeen {
    std::mutex mutex;
    int calls = 0;
    std::int64_t seq_in = -1;
    std::string value_in; // the stored value's byte string, if any was found
    bool value_in_undefined = false;
    std::string salt_in;
};

struct PutResult {
    std::chrono::microseconds latency{};
    int num_success = -1;
    presence::Signature signature{};
    std::int64_t seq = -1;
};

// Puts `sealed` as the item of `keys` with seq = published, signed by
// libtorrent from the derived seed, as the daemon will.
PutResult put(DhtClient& client, const presence::ItemKeys& keys, std::uint64_t published, const proto::Bytes& sealed,
              const std::shared_ptr<PutSeen>& seen) {
    const auto [pk, sk] = lt::dht::ed25519_create_keypair(to_chars(keys.signing_seed));
    BOOST_TEST((pk.bytes == to_chars(keys.item_key))); // TOOLCHAIN.md: same key as libsodium's
    const std::string value(sealed.begin(), sealed.end());
    const auto seq = static_cast<std::int64_t>(published);
    const auto started = Clock::now();
    client.session().dht_put_item(
        pk.bytes,
        [pk = pk, sk = sk, value, seq, seen](lt::entry& e, std::array<char, 64>& sig, std::int64_t& s,
                                            const std::string& salt) {
            {
                std::lock_guard lock(seen->mutex);
                ++seen->calls;
                seen->seq_in = s;
                seen->value_in_undefined = e.type() == lt::entry::undefined_t;
                if (e.type() == lt::entry::string_t) seen->value_in = e.string();
                seen->salt_in = salt;
            }
            e = lt::entry(value);
            s = seq;
            std::vector<char> encoded;
            lt::bencode(std::back_inserter(encoded), e);
            sig = lt::dht::sign_mutable_item(encoded, salt, lt::dht::sequence_number(seq), pk, sk).bytes;
        },
        to_string(keys.salt));
    PutResult r;
    const bool done = client.pump([&](lt::alert* a) {
        const auto* p = lt::alert_cast<lt::dht_put_alert>(a);
        if (!p || p->public_key != pk.bytes || p->salt != to_string(keys.salt)) return false;
        r.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        r.num_success = p->num_success;
        std::copy(p->signature.begin(), p->signature.end(), r.signature.begin());
        r.seq = p->seq;
        return true;
    }, milliseconds(10000));
    BOOST_REQUIRE_MESSAGE(done, "no dht_put_alert within 10 s");
    return r;
}

struct GetResult {
    std::optional<std::chrono::microseconds> first_item;    // the first alert with a value
    std::optional<std::chrono::microseconds> authoritative; // the lookup's end
    std::string value;
    std::int64_t seq = -1;
    presence::Signature signature{};
    int alerts = 0;
};

// Gets (key, salt) and follows the alerts until the authoritative one (the
// lookup is over) or the timeout.
GetResult get(DhtClient& client, const proto::PublicKey& key, const presence::Salt& salt, milliseconds timeout) {
    const auto started = Clock::now();
    client.session().dht_get_item(to_chars(key), to_string(salt));
    GetResult r;
    client.pump([&](lt::alert* a) {
        const auto* m = lt::alert_cast<lt::dht_mutable_item_alert>(a);
        if (!m || m->key != to_chars(key) || m->salt != to_string(salt)) return false;
        ++r.alerts;
        const auto t = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        if (m->item.type() == lt::entry::string_t) {
            if (!r.first_item) r.first_item = t;
            r.value = m->item.string();
            r.seq = m->seq;
            std::copy(m->signature.begin(), m->signature.end(), r.signature.begin());
        }
        if (m->authoritative) r.authoritative = t;
        return m->authoritative;
    }, timeout);
    return r;
}

presence::Endpoint v4(presence::EndpointKind kind, presence::Ipv4 address, std::uint16_t port) {
    return presence::Endpoint{kind, address, port};
}

// An endpoint as the plaintext spells it (address, then the port u16le):
// the bytes that must never reach a DHT node.
proto::Bytes endpoint_bytes(const presence::Endpoint& e) {
    proto::Bytes b;
    std::visit([&](const auto& a) { b.assign(a.begin(), a.end()); }, e.address);
    b.push_back(static_cast<std::uint8_t>(e.port & 0xff));
    b.push_back(static_cast<std::uint8_t>(e.port >> 8));
    return b;
}

} // namespace

BOOST_AUTO_TEST_CASE(presence_item_through_a_private_dht) {
    test::PrivateDht dht(20);
    BOOST_TEST_MESSAGE("private DHT of " << dht.nodes().size() << " nodes ready after " << dht.time_to_ready().count()
                                         << " ms");

    // Two bootstrap nodes each, different ones: they meet only through the
    // network. (Given all 20 as bootstrap nodes, a session's routing table
    // stayed empty: libtorrent keeps bootstrap nodes out of it.)
    DhtClient a(dht.bootstrap(2, 0)), b(dht.bootstrap(2, 2));
    // The bootstrap lookup (for its own id) leaves 7-10 nodes in a table;
    // more come in only every few seconds (libtorrent's refresh), so "a few"
    // is what a test may wait for.
    const int a_nodes = a.routing_nodes(), b_nodes = b.routing_nodes();
    BOOST_TEST_MESSAGE("bootstrapped: A after " << ms(a.bootstrap_time()) << " ms with " << a_nodes
                                                << " nodes in its routing table, B after " << ms(b.bootstrap_time())
                                                << " ms with " << b_nodes);
    BOOST_REQUIRE(a_nodes >= 4);
    BOOST_REQUIRE(b_nodes >= 4);

    // --- Keys: both sides derive them, A to put and B to get -------------
    const auto seed_a = seed_from(0x00), seed_b = seed_from(0x20);
    const auto pk_a = public_of(seed_a), pk_b = public_of(seed_b);
    constexpr std::uint64_t published = 1767226834; // DHT.md §8: 2026-01-01T00:20:34Z
    const auto epoch = presence::epoch_of(published);
    const auto put_keys = presence::item_keys(presence::pair_secret(seed_a, pk_b), pk_a, pk_b, epoch);
    const auto get_keys = presence::item_keys(presence::pair_secret(seed_b, pk_a), pk_a, pk_b, epoch);
    BOOST_REQUIRE((put_keys.item_key == get_keys.item_key && put_keys.salt == get_keys.salt));

    presence::Record record;
    record.published = published;
    record.endpoints = {v4(presence::EndpointKind::direct, {203, 0, 113, 7}, 60211),
                        v4(presence::EndpointKind::mapped, {198, 51, 100, 23}, 41000),
                        v4(presence::EndpointKind::lan, {192, 168, 1, 23}, 60211)};
    const auto sealed = presence::seal(put_keys, record);

    // --- A puts ------------------------------------------------------------
    auto seen = std::make_shared<PutSeen>();
    const auto put1 = put(a, put_keys, published, sealed, seen);
    BOOST_TEST_MESSAGE("put: " << ms(put1.latency) << " ms, stored on " << put1.num_success << " nodes");
    BOOST_TEST(put1.num_success > 0);
    BOOST_TEST(put1.seq == static_cast<std::int64_t>(published));
    {
        std::lock_guard lock(seen->mutex);
        BOOST_TEST_MESSAGE("first put's callback: " << seen->calls << " call(s), seq in " << seen->seq_in
                                                    << ", value in " << (seen->value_in_undefined ? "undefined" : "set"));
        BOOST_TEST(seen->calls == 1);
        BOOST_TEST(seen->seq_in == 0); // nothing stored yet
        BOOST_TEST(seen->value_in_undefined);
        BOOST_TEST((seen->salt_in == to_string(put_keys.salt)));
    }
    // libtorrent's signature (ed25519_create_keypair(seed) + sign_mutable_item)
    // is libsodium's: Ed25519 is deterministic, so equal, not merely valid.
    BOOST_TEST(presence::verify(put_keys.item_key, put_keys.salt, published, sealed, put1.signature));
    BOOST_TEST((put1.signature == presence::sign(put_keys, published, sealed)));

    // --- B gets and opens ------------------------------------------------
    const auto got = get(b, get_keys.item_key, get_keys.salt, milliseconds(10000));
    BOOST_REQUIRE_MESSAGE(got.first_item, "B did not get the item");
    BOOST_TEST_MESSAGE("get: first value after " << ms(*got.first_item) << " ms, lookup done after "
                                                 << (got.authoritative ? ms(*got.authoritative) : -1.0) << " ms, "
                                                 << got.alerts << " alert(s)");
    BOOST_TEST(got.authoritative.has_value());
    BOOST_TEST(got.seq == static_cast<std::int64_t>(published));
    BOOST_TEST((got.value == std::string(sealed.begin(), sealed.end())));
    BOOST_TEST(presence::verify(get_keys.item_key, get_keys.salt, static_cast<std::uint64_t>(got.seq),
                                bytes_of(got.value), got.signature));
    const auto opened = presence::open(get_keys, static_cast<std::uint64_t>(got.seq), bytes_of(got.value));
    BOOST_TEST((opened.endpoints == record.endpoints));
    BOOST_TEST(opened.published == published);

    // --- A updates: the callback sees what is stored; B gets the new one ---
    presence::Record record2 = record;
    record2.published = presence::next_published(published, published); // same second: +1
    record2.endpoints.pop_back();
    const auto sealed2 = presence::seal(put_keys, record2);
    auto seen2 = std::make_shared<PutSeen>();
    const auto put2 = put(a, put_keys, record2.published, sealed2, seen2);
    BOOST_TEST_MESSAGE("update put: " << ms(put2.latency) << " ms, stored on " << put2.num_success << " nodes");
    BOOST_TEST(put2.num_success > 0);
    {
        std::lock_guard lock(seen2->mutex);
        BOOST_TEST_MESSAGE("update's callback: " << seen2->calls << " call(s), seq in " << seen2->seq_in);
        BOOST_TEST(seen2->seq_in == static_cast<std::int64_t>(published));
        BOOST_TEST((seen2->value_in == std::string(sealed.begin(), sealed.end())));
    }
    const auto got2 = get(b, get_keys.item_key, get_keys.salt, milliseconds(10000));
    BOOST_REQUIRE(got2.first_item);
    BOOST_TEST(got2.seq == static_cast<std::int64_t>(record2.published));
    BOOST_TEST((presence::open(get_keys, static_cast<std::uint64_t>(got2.seq), bytes_of(got2.value)).endpoints ==
                record2.endpoints));

    // --- A salt nobody put: nothing, and the lookup ends -----------------
    auto other_salt = get_keys.salt;
    other_salt[0] ^= 0x01;
    const auto missing = get(b, get_keys.item_key, other_salt, milliseconds(5000));
    BOOST_TEST_MESSAGE("get of a salt nobody put: " << missing.alerts << " alert(s), lookup done after "
                                                    << (missing.authoritative ? ms(*missing.authoritative) : -1.0)
                                                    << " ms");
    BOOST_TEST(!missing.first_item.has_value());
    BOOST_TEST(missing.authoritative.has_value());

    // --- What the DHT's nodes saw ------------------------------------------
    // The nodes log what they receive; give the tool a moment to write the
    // last of it (it flushes every 20 ms).
    const auto target = put_keys.target();
    BOOST_TEST(test::eventually([&] { return dht.received(put_keys.salt) && dht.received(target); },
                                std::chrono::seconds(5)));
    const auto packets = dht.packets();
    BOOST_TEST_MESSAGE("the nodes received " << packets.size() << " packets");
    BOOST_TEST(dht.dropped() == 0u); // else "never seen" below proves nothing
    std::size_t with_salt = 0;
    for (const auto& p : packets) {
        if (std::search(p.bytes.begin(), p.bytes.end(), put_keys.salt.begin(), put_keys.salt.end()) == p.bytes.end())
            continue;
        ++with_salt;
        // Only A and B ever had business with this item.
        BOOST_TEST((p.remote == a.endpoint() || p.remote == b.endpoint()), "salt sent by " << p.remote);
    }
    BOOST_TEST(with_salt > 0u);
    // The item's own key (k) does travel, in the puts: a 32-byte key that
    // was sent is found, so the absent ones below were really not sent.
    BOOST_TEST(dht.received(put_keys.item_key));
    BOOST_TEST(!dht.received(pk_a));
    BOOST_TEST(!dht.received(pk_b));
    BOOST_TEST(!dht.received(put_keys.signing_seed));
    BOOST_TEST(!dht.received(put_keys.aead_key));
    for (const auto& e : record.endpoints) BOOST_TEST(!dht.received(endpoint_bytes(e)));

    // A crash, or a sanitizer's report, in the tool fails the test too.
    BOOST_TEST(dht.stop() == 0, dht.tool_output());
}

#define BOOST_TEST_MODULE announce
#include <boost/test/unit_test.hpp>

#include "daemon/peers/discovery.hpp"
#include "proto/announce.hpp"
#include "tests/support/seed.hpp"

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace earshot;
using namespace std::chrono_literals;
namespace announce = proto::announce;
using peers::AnnouncementFilter;
using peers::Identity;
using peers::Sighting;

namespace {
using test::seed_of;

// The example of proto/DISCOVERY.md §5: seed 00 01 .. 1f, port 60211,
// 2026-01-01T00:00:00Z, instance 01..08, name "laptop".
std::array<std::uint8_t, 32> example_seed() {
    std::array<std::uint8_t, 32> s;
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(i);
    return s;
}

announce::Announcement example_announcement(const Identity& id) {
    announce::Announcement a;
    a.key = id.public_key();
    a.port = 60211;
    a.timestamp_ms = 1767225600000;
    a.instance = {1, 2, 3, 4, 5, 6, 7, 8};
    a.name = "laptop";
    return a;
}

constexpr std::string_view example_hex =
    "4553414e0103a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc86"
    "64125531b833eb00a8da769b0100000102030405060708066c6170746f706453"
    "b39dc5c7c57ed87deb99ad96b4e05acf0b543c5369557990cb5d37c15a29d68e"
    "11d85f980b328ba846a33f626bd5c1a391b38a38e48675b397a9f6953306";

proto::Bytes signed_datagram(const Identity& id, const announce::Announcement& a) {
    return announce::encode(a, id.sign(announce::signing_input(a)));
}

std::chrono::system_clock::time_point at_ms(std::uint64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

announce::Announcement fresh(const Identity& id, std::uint64_t now_ms, std::uint16_t port = 4100) {
    announce::Announcement a;
    a.key = id.public_key();
    a.port = port;
    a.timestamp_ms = now_ms;
    a.instance = {9, 9, 9, 9, 9, 9, 9, 9};
    a.name = "desk";
    return a;
}

const asio::ip::address source = asio::ip::make_address("192.168.1.23");

std::string rejection(AnnouncementFilter& f, const proto::Bytes& datagram, std::uint64_t now_ms) {
    auto v = f.check(datagram, source, at_ms(now_ms));
    if (auto* h = std::get_if<peers::Heard>(&v)) return "accepted " + proto::format_peer_id(h->sighting.key);
    return std::get<std::string>(v);
}

bool accepted(AnnouncementFilter& f, const proto::Bytes& datagram, std::uint64_t now_ms) {
    auto v = f.check(datagram, source, at_ms(now_ms));
    return std::holds_alternative<peers::Heard>(v);
}

} // namespace

BOOST_AUTO_TEST_CASE(round_trip) {
    const auto id = Identity::from_seed(seed_of(7));
    for (const std::string& name : std::vector<std::string>{"", "laptop", "Küche ♫", std::string(announce::max_name_size, 'n')}) {
        announce::Announcement a;
        a.key = id.public_key();
        a.port = 65535;
        a.timestamp_ms = 0xFEDCBA9876543210ull;
        a.instance = {0xAA, 0, 0xBB, 0, 0xCC, 0, 0xDD, 0xEE};
        a.name = name;
        const auto bytes = signed_datagram(id, a);
        BOOST_TEST(bytes.size() == announce::min_size + name.size());
        const auto d = announce::decode(bytes);
        BOOST_TEST((d.announcement == a));
        BOOST_TEST(d.signed_message == announce::signing_input(a));
        BOOST_TEST(Identity::verify(a.key, d.signed_message, d.signature));
        BOOST_TEST(announce::encode(d.announcement, d.signature) == bytes);
    }
}

BOOST_AUTO_TEST_CASE(hex_example_of_the_spec) {
    const auto id = Identity::from_seed(example_seed());
    const auto a = example_announcement(id);
    const auto bytes = signed_datagram(id, a);
    BOOST_TEST(proto::to_hex(bytes) == example_hex);

    const auto parsed = proto::from_hex(example_hex);
    BOOST_REQUIRE(parsed);
    const auto d = announce::decode(*parsed);
    BOOST_TEST((d.announcement == a));
    BOOST_TEST(Identity::verify(d.announcement.key, d.signed_message, d.signature));
    // The signed message is the context string followed by the datagram
    // without its last 64 bytes.
    const std::string ctx(announce::signature_context);
    proto::Bytes expect(ctx.begin(), ctx.end());
    expect.insert(expect.end(), parsed->begin(), parsed->end() - 64);
    BOOST_TEST(d.signed_message == expect);

    // The document must show exactly these bytes (wrapped in lines of 64
    // hex digits, in the block after "Example datagram").
    std::ifstream md(EARSHOT_DISCOVERY_MD);
    BOOST_REQUIRE(md);
    std::stringstream all;
    all << md.rdbuf();
    const std::string doc = all.str();
    const auto start = doc.find("Example datagram");
    BOOST_REQUIRE(start != std::string::npos);
    const auto fence = doc.find("```\n", start);
    BOOST_REQUIRE(fence != std::string::npos);
    const auto end = doc.find("```", fence + 4);
    BOOST_REQUIRE(end != std::string::npos);
    std::string hex;
    for (char c : doc.substr(fence + 4, end - fence - 4))
        if (c != '\n' && c != ' ') hex += c;
    BOOST_TEST(hex == example_hex);
}

BOOST_AUTO_TEST_CASE(strict_decoding) {
    const auto id = Identity::from_seed(seed_of(3));
    auto a = fresh(id, 1767225600000);
    const auto good = signed_datagram(id, a);
    BOOST_REQUIRE_NO_THROW(announce::decode(good));

    // Truncated anywhere, or a byte too many.
    for (std::size_t n = 0; n < good.size(); ++n)
        BOOST_CHECK_THROW(announce::decode(proto::ByteView(good).first(n)), proto::DecodeError);
    auto longer = good;
    longer.push_back(0);
    BOOST_CHECK_THROW(announce::decode(longer), proto::DecodeError);

    auto mutate = [&](std::size_t at, std::uint8_t v) {
        auto b = good;
        b.at(at) = v;
        return b;
    };
    BOOST_CHECK_THROW(announce::decode(mutate(0, 'X')), proto::DecodeError); // magic
    BOOST_CHECK_THROW(announce::decode(mutate(4, 2)), proto::DecodeError);   // version
    auto port0 = good;
    port0[37] = port0[38] = 0;
    BOOST_CHECK_THROW(announce::decode(port0), proto::DecodeError);
    // Name length disagreeing with the size, either way.
    BOOST_CHECK_THROW(announce::decode(mutate(55, static_cast<std::uint8_t>(a.name.size() + 1))), proto::DecodeError);
    BOOST_CHECK_THROW(announce::decode(mutate(55, static_cast<std::uint8_t>(a.name.size() - 1))), proto::DecodeError);
    BOOST_CHECK_THROW(announce::decode(mutate(55, 200)), proto::DecodeError);
    // A name with a control character or broken UTF-8.
    BOOST_CHECK_THROW(announce::decode(mutate(56, '\n')), proto::DecodeError);
    BOOST_CHECK_THROW(announce::decode(mutate(56, 0xC3)), proto::DecodeError);
    // Longest legal datagram and one past it.
    a.name.assign(announce::max_name_size, 'x');
    auto longest = signed_datagram(id, a);
    BOOST_TEST(longest.size() == announce::max_size);
    BOOST_REQUIRE_NO_THROW(announce::decode(longest));
    longest.insert(longest.begin() + 56, 'x');
    longest[55] = static_cast<std::uint8_t>(announce::max_name_size + 1);
    BOOST_CHECK_THROW(announce::decode(longest), proto::DecodeError);

    // The encoder refuses what the decoder would refuse.
    auto bad = fresh(id, 1);
    bad.port = 0;
    BOOST_CHECK_THROW(announce::signing_input(bad), std::invalid_argument);
    bad = fresh(id, 1);
    bad.name.assign(announce::max_name_size + 1, 'x');
    BOOST_CHECK_THROW(announce::signing_input(bad), std::invalid_argument);
    bad.name = "tab\there";
    BOOST_CHECK_THROW(announce::signing_input(bad), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(filter_accepts_a_fresh_signed_announcement) {
    const auto me = Identity::from_seed(seed_of(1));
    const auto peer = Identity::from_seed(seed_of(2));
    AnnouncementFilter f(me.public_key(), 5min);
    const std::uint64_t now = 1767225600000;
    auto v = f.check(signed_datagram(peer, fresh(peer, now - 1000, 4242)), source, at_ms(now));
    BOOST_REQUIRE(std::holds_alternative<peers::Heard>(v));
    BOOST_TEST(std::get<peers::Heard>(v).new_instance);
    const auto& s = std::get<peers::Heard>(v).sighting;
    BOOST_TEST((s.key == peer.public_key()));
    // The address is where the datagram came from; the port is announced.
    BOOST_TEST(s.endpoint.address() == source);
    BOOST_TEST(s.endpoint.port() == 4242);
    BOOST_TEST(s.name == "desk");

    // The same instance again, later: a sighting, but no newcomer.
    auto again = f.check(signed_datagram(peer, fresh(peer, now, 4242)), source, at_ms(now));
    BOOST_REQUIRE(std::holds_alternative<peers::Heard>(again));
    BOOST_TEST(!std::get<peers::Heard>(again).new_instance);
    // A restart (new instance) is news again.
    auto restarted = fresh(peer, now + 1, 4243);
    restarted.instance[0] ^= 0xFF;
    auto news = f.check(signed_datagram(peer, restarted), source, at_ms(now));
    BOOST_REQUIRE(std::holds_alternative<peers::Heard>(news));
    BOOST_TEST(std::get<peers::Heard>(news).new_instance);
    BOOST_TEST(std::get<peers::Heard>(news).sighting.endpoint.port() == 4243);
}

BOOST_AUTO_TEST_CASE(filter_rejects_forgeries_and_stale_or_replayed_datagrams) {
    const auto me = Identity::from_seed(seed_of(1));
    const auto alice = Identity::from_seed(seed_of(2));
    const auto mallory = Identity::from_seed(seed_of(3));
    const std::uint64_t now = 1767225600000;
    AnnouncementFilter f(me.public_key(), 5min);

    // Our own announcement, validly signed.
    BOOST_TEST(rejection(f, signed_datagram(me, fresh(me, now)), now) == "our own announcement");

    // Mallory signs a datagram claiming Alice's key.
    const auto claim = fresh(alice, now);
    const auto forged = announce::encode(claim, mallory.sign(announce::signing_input(claim)));
    BOOST_TEST(rejection(f, forged, now).starts_with("bad signature"));

    // A flipped bit in the signature.
    auto bad_sig = signed_datagram(alice, fresh(alice, now));
    bad_sig.back() ^= 1;
    BOOST_TEST(rejection(f, bad_sig, now).starts_with("bad signature"));

    // Alice's genuine datagram with the port changed in transit.
    auto tampered = signed_datagram(alice, fresh(alice, now, 4100));
    tampered[37] ^= 0x01;
    BOOST_TEST(rejection(f, tampered, now).starts_with("bad signature"));
    // ... or the name, or the timestamp.
    auto renamed = signed_datagram(alice, fresh(alice, now));
    renamed[56] = 'D';
    BOOST_TEST(rejection(f, renamed, now).starts_with("bad signature"));
    auto redated = signed_datagram(alice, fresh(alice, now));
    redated[40] ^= 0x10;
    BOOST_TEST(rejection(f, redated, now).starts_with("bad signature"));

    // Signed without the context string (a signature Alice made for some
    // other purpose over the same bytes) does not verify.
    const auto plain = fresh(alice, now);
    const auto input = announce::signing_input(plain);
    const auto no_ctx = proto::ByteView(input).subspan(announce::signature_context.size());
    BOOST_TEST(rejection(f, announce::encode(plain, alice.sign(no_ctx)), now).starts_with("bad signature"));

    // Stale and future timestamps, just outside the window; just inside is fine.
    BOOST_TEST(rejection(f, signed_datagram(alice, fresh(alice, now - 300'001)), now).starts_with("timestamp"));
    BOOST_TEST(rejection(f, signed_datagram(alice, fresh(alice, now + 300'001)), now).starts_with("timestamp"));
    BOOST_TEST(accepted(f, signed_datagram(alice, fresh(alice, now - 300'000)), now));

    // Garbage and truncation are dropped with the decoder's reason.
    auto good = signed_datagram(alice, fresh(alice, now + 10));
    BOOST_TEST(rejection(f, proto::Bytes(good.begin(), good.end() - 1), now).starts_with("announcement:"));
    auto trailing = good;
    trailing.push_back(0);
    BOOST_TEST(rejection(f, trailing, now).starts_with("announcement:"));

    // The genuine datagram is accepted once; a replay of it (from anywhere)
    // is not, nor is an older one from the same instance.
    BOOST_TEST(accepted(f, good, now));
    BOOST_TEST(rejection(f, good, now + 500).starts_with("replayed"));
    BOOST_TEST(rejection(f, signed_datagram(alice, fresh(alice, now + 5)), now).starts_with("replayed"));
    BOOST_TEST(accepted(f, signed_datagram(alice, fresh(alice, now + 20)), now));
    // A restarted daemon (new instance) may start from an older clock reading.
    auto restarted = fresh(alice, now - 1000);
    restarted.instance = {1, 1, 1, 1, 1, 1, 1, 1};
    BOOST_TEST(accepted(f, signed_datagram(alice, restarted), now));
}

BOOST_AUTO_TEST_CASE(filter_memory_is_bounded) {
    const auto me = Identity::from_seed(seed_of(1));
    AnnouncementFilter f(me.public_key(), 5min);
    const std::uint64_t now = 1767225600000;
    // More distinct keys than the filter remembers (a flood of fresh
    // identities): every one is accepted, and memory stays bounded.
    std::vector<proto::Bytes> first;
    for (std::size_t i = 0; i < AnnouncementFilter::max_remembered + 10; ++i) {
        std::array<std::uint8_t, 32> seed{};
        seed[0] = static_cast<std::uint8_t>(i);
        seed[1] = static_cast<std::uint8_t>(i >> 8);
        seed[2] = 0x5A;
        const auto id = Identity::from_seed(seed);
        const auto d = signed_datagram(id, fresh(id, now + i));
        BOOST_REQUIRE(accepted(f, d, now));
        if (i < 3) first.push_back(d);
    }
    // The oldest entry was evicted, so its replay is no longer recognised —
    // the price of bounded memory, limited to the skew window — while a
    // recent key is still remembered.
    BOOST_TEST(accepted(f, first[0], now));
    std::array<std::uint8_t, 32> seed{};
    const std::size_t last = AnnouncementFilter::max_remembered + 9;
    seed[0] = static_cast<std::uint8_t>(last);
    seed[1] = static_cast<std::uint8_t>(last >> 8);
    seed[2] = 0x5A;
    const auto recent = Identity::from_seed(seed);
    BOOST_TEST(rejection(f, signed_datagram(recent, fresh(recent, now + last)), now).starts_with("replayed"));
}

BOOST_AUTO_TEST_CASE(names_are_cut_to_fit) {
    using peers::announcement_name;
    BOOST_TEST(announcement_name("laptop") == "laptop");
    BOOST_TEST(announcement_name("a\nb\tc\x7f") == "abc");
    BOOST_TEST(announcement_name("bad\xC3utf8") == "badutf8");
    const std::string notes = std::string(63, 'x') + "♫"; // 63 + 3 bytes
    BOOST_TEST(announcement_name(notes) == std::string(63, 'x'));
    BOOST_TEST(announcement_name(std::string(100, 'y')).size() == announce::max_name_size);
}

#define BOOST_TEST_MODULE presence
#include <boost/test/unit_test.hpp>

#include "proto/presence.hpp"

#include <sodium.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace earshot;
using namespace earshot::proto::presence;
using proto::Bytes;
using proto::ByteView;
using proto::DecodeError;
using proto::PublicKey;

namespace {

// The identities of proto/DHT.md §8: seeds 00..1f, 20..3f, 40..5f.
Seed seed_from(std::uint8_t first) {
    Seed s;
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(first + i);
    return s;
}

PublicKey public_of(const Seed& seed) {
    BOOST_REQUIRE(sodium_init() >= 0);
    PublicKey pk;
    std::array<std::uint8_t, 64> sk;
    crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
    return pk;
}

struct Peers {
    Seed a_seed = seed_from(0x00), b_seed = seed_from(0x20), c_seed = seed_from(0x40);
    PublicKey a = public_of(a_seed), b = public_of(b_seed), c = public_of(c_seed);
};

constexpr std::uint64_t vector_published = 1767226834; // 2026-01-01T00:20:34Z
constexpr std::uint64_t vector_epoch = 490896;

Endpoint v4(EndpointKind kind, std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
    return Endpoint{kind, Ipv4{a, b, c, d}, port};
}

Endpoint v6(EndpointKind kind, Ipv6 address, std::uint16_t port) { return Endpoint{kind, address, port}; }

constexpr Ipv6 doc_v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};

Record vector_record(const Peers& p) {
    Record r;
    r.published = vector_published;
    r.endpoints = {v4(EndpointKind::direct, 203, 0, 113, 7, 60211), v4(EndpointKind::mapped, 198, 51, 100, 23, 41000),
                   v4(EndpointKind::observed, 203, 0, 113, 9, 52000), v4(EndpointKind::lan, 192, 168, 1, 23, 60211),
                   v6(EndpointKind::direct, doc_v6, 60211)};
    r.relays = {p.c};
    return r;
}

Nonce vector_nonce() {
    Nonce n;
    for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(0x80 + i);
    return n;
}

// The largest record: 16 distinct IPv6 endpoints and 4 relays.
Record full_record(std::uint64_t published) {
    Record r;
    r.published = published;
    for (std::uint8_t i = 0; i < max_endpoints; ++i) {
        Ipv6 a = doc_v6;
        a[15] = static_cast<std::uint8_t>(i + 1);
        r.endpoints.push_back(v6(EndpointKind::mapped, a, static_cast<std::uint16_t>(1000 + i)));
    }
    for (std::uint8_t i = 0; i < max_relays; ++i) r.relays.push_back(public_of(seed_from(static_cast<std::uint8_t>(0x60 + i))));
    return r;
}

ItemKeys keys_a_to_b(const Peers& p, std::uint64_t epoch = vector_epoch) {
    return item_keys(pair_secret(p.a_seed, p.b), p.a, p.b, epoch);
}

// The associated data, as DHT.md §4 writes it: built here independently of
// the code under test, to seal arbitrary plaintexts (malformed ones
// included) exactly as a publisher would.
Bytes spec_ad(const ItemKeys& k) {
    proto::ByteWriter w; // not vector::insert: GCC 12's false -Warray-bounds
    w.raw(proto::as_bytes(ad_context));
    w.raw(k.publisher);
    w.raw(k.reader);
    for (int i = 0; i < 8; ++i) w.u8(static_cast<std::uint8_t>(k.epoch >> (8 * i)));
    return std::move(w).take();
}

Bytes seal_raw(const ItemKeys& k, ByteView plaintext, const Nonce& nonce) {
    const auto ad = spec_ad(k);
    Bytes out(nonce.begin(), nonce.end());
    out.resize(nonce.size() + plaintext.size() + tag_size);
    unsigned long long n = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + nonce.size(), &n, plaintext.data(), plaintext.size(), ad.data(),
                                               ad.size(), nullptr, nonce.data(), k.aead_key.data());
    return out;
}

std::string hex(ByteView b) { return proto::to_hex(b); }

bool contains(ByteView haystack, ByteView needle) {
    return !needle.empty() && std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

// The vector block of DHT.md §8, formatted as presence_reference.py does:
// each name padded to 18 columns, values cut into lines of 64 characters.
std::string vector_block(const std::vector<std::pair<std::string, std::string>>& entries) {
    std::string out;
    for (const auto& [name, value] : entries) {
        for (std::size_t at = 0; at == 0 || at < value.size(); at += 64) {
            std::string label = at == 0 ? name : "";
            label.resize(18, ' ');
            out += label + value.substr(at, 64) + "\n";
        }
    }
    return out;
}

std::string block_in_spec() {
    std::ifstream md(EARSHOT_DHT_MD);
    BOOST_REQUIRE(md);
    std::stringstream all;
    all << md.rdbuf();
    const std::string doc = all.str();
    const auto start = doc.find("Test vectors");
    BOOST_REQUIRE(start != std::string::npos);
    const auto fence = doc.find("```\n", start);
    BOOST_REQUIRE(fence != std::string::npos);
    const auto end = doc.find("```", fence + 4);
    BOOST_REQUIRE(end != std::string::npos);
    return doc.substr(fence + 4, end - fence - 4);
}

} // namespace

BOOST_AUTO_TEST_CASE(vectors_of_the_spec) {
    const Peers p;
    const auto pair = pair_secret(p.a_seed, p.b);
    const auto k = item_keys(pair, p.a, p.b, epoch_of(vector_published));
    BOOST_TEST(k.epoch == vector_epoch);
    const auto plain = encode_plaintext(vector_record(p));
    const auto sealed = seal_with_nonce(k, vector_record(p), vector_nonce());
    const auto sig = sign(k, vector_published, sealed);
    const auto back = item_keys(pair, p.b, p.a, vector_epoch);

    const std::vector<std::pair<std::string, std::string>> entries{
        {"seed A", hex(p.a_seed)},
        {"public key A", hex(p.a)},
        {"seed B", hex(p.b_seed)},
        {"public key B", hex(p.b)},
        {"relay C", hex(p.c)},
        {"pair secret", hex(pair)},
        {"epoch", std::to_string(k.epoch)},
        {"signing seed", hex(k.signing_seed)},
        {"item key", hex(k.item_key)},
        {"salt", hex(k.salt)},
        {"aead key", hex(k.aead_key)},
        {"target", hex(k.target())},
        {"associated data", hex(spec_ad(k))},
        {"plaintext", hex(plain)},
        {"nonce", hex(vector_nonce())},
        {"sealed value", hex(sealed)},
        {"seq", std::to_string(vector_published)},
        {"signature", hex(sig)},
        {"item key B to A", hex(back.item_key)},
        {"salt B to A", hex(back.salt)},
        {"target B to A", hex(back.target())},
    };
    BOOST_TEST(vector_block(entries) == block_in_spec());
    // The identity of PEER_ID.md's example, so the two documents agree.
    BOOST_TEST(hex(p.a) == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");

    // The reader opens it, and the signature checks with plain libsodium
    // over the payload written out as BEP 44 spells it.
    const auto reader_side = item_keys(pair_secret(p.b_seed, p.a), p.a, p.b, vector_epoch);
    BOOST_TEST((open(reader_side, vector_published, sealed) == vector_record(p)));
    std::string payload = "4:salt32:" + std::string(k.salt.begin(), k.salt.end()) + "3:seqi1767226834e1:v552:";
    payload.append(sealed.begin(), sealed.end());
    BOOST_TEST(crypto_sign_verify_detached(sig.data(), reinterpret_cast<const unsigned char*>(payload.data()), payload.size(),
                                           k.item_key.data()) == 0);
    BOOST_TEST(verify(k.item_key, k.salt, vector_published, sealed, sig));
    BOOST_TEST(bencode_string(sealed).size() == 556u);
}

BOOST_AUTO_TEST_CASE(bep44_signing_vectors) {
    // BEP 44's "Test vectors", tests 1 and 2: the signing buffers, the
    // targets, and signatures made by libtorrent's ed25519 that our verify
    // must accept.
    const auto text = [](std::string_view s) { return Bytes(s.begin(), s.end()); };
    const auto value = bencode_string(text("Hello World!"));
    BOOST_TEST((value == text("12:Hello World!")));
    BOOST_TEST((signing_payload({}, 1, value) == text("3:seqi1e1:v12:Hello World!")));
    BOOST_TEST((signing_payload(text("foobar"), 1, value) == text("4:salt6:foobar3:seqi1e1:v12:Hello World!")));

    const auto key_bytes = proto::from_hex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548");
    BOOST_REQUIRE(key_bytes);
    PublicKey key;
    std::copy(key_bytes->begin(), key_bytes->end(), key.begin());
    BOOST_TEST(hex(item_target(key, {})) == "4a533d47ec9c7d95b1ad75f576cffc641853b750");
    BOOST_TEST(hex(item_target(key, text("foobar"))) == "411eba73b6f087ca51a3795d9c8c938d365e32c1");

    auto check = [&](const Bytes& salt, std::string_view sig_hex) {
        const auto s = proto::from_hex(sig_hex);
        BOOST_REQUIRE(s);
        const auto payload = signing_payload(salt, 1, value);
        BOOST_TEST(crypto_sign_verify_detached(s->data(), payload.data(), payload.size(), key.data()) == 0);
        Signature sig;
        std::copy(s->begin(), s->end(), sig.begin());
        BOOST_TEST(verify(key, salt, 1, text("Hello World!"), sig));
        BOOST_TEST(!verify(key, salt, 2, text("Hello World!"), sig));
    };
    check({}, "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff"
              "1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01");
    check(text("foobar"), "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d"
                          "df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08");

    // BEP 44's limits.
    BOOST_CHECK_THROW(signing_payload(Bytes(65, 'x'), 1, value), std::invalid_argument);
    BOOST_CHECK_NO_THROW(signing_payload(Bytes(64, 'x'), 1, value));
    BOOST_CHECK_THROW(signing_payload({}, std::uint64_t{1} << 63, value), std::invalid_argument);
    BOOST_CHECK_THROW(item_target(key, Bytes(65, 'x')), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(both_sides_derive_the_same_keys) {
    const Peers p;
    const auto ab = pair_secret(p.a_seed, p.b);
    BOOST_TEST(hex(ab) == hex(pair_secret(p.b_seed, p.a)));
    for (const auto& [pub, rd] : {std::pair{p.a, p.b}, std::pair{p.b, p.a}}) {
        const auto from_a = item_keys(pair_secret(p.a_seed, p.b), pub, rd, 7);
        const auto from_b = item_keys(pair_secret(p.b_seed, p.a), pub, rd, 7);
        BOOST_TEST(hex(from_a.signing_seed) == hex(from_b.signing_seed));
        BOOST_TEST(hex(from_a.item_key) == hex(from_b.item_key));
        BOOST_TEST(hex(from_a.salt) == hex(from_b.salt));
        BOOST_TEST(hex(from_a.aead_key) == hex(from_b.aead_key));
        BOOST_TEST(hex(from_a.target()) == hex(from_b.target()));
        // The item key is the public key of the signing seed.
        BOOST_TEST(hex(from_a.item_key) == hex(public_of(from_a.signing_seed)));
    }
}

BOOST_AUTO_TEST_CASE(every_epoch_direction_and_pair_has_its_own_keys) {
    const Peers p;
    const auto ab = pair_secret(p.a_seed, p.b);
    const auto ac = pair_secret(p.a_seed, p.c);
    const auto bc = pair_secret(p.b_seed, p.c);
    BOOST_TEST(hex(ab) != hex(ac));
    BOOST_TEST(hex(ab) != hex(bc));
    BOOST_TEST(hex(ac) != hex(bc));
    const std::vector<ItemKeys> all{
        item_keys(ab, p.a, p.b, vector_epoch),     item_keys(ab, p.a, p.b, vector_epoch + 1),
        item_keys(ab, p.a, p.b, vector_epoch - 1), item_keys(ab, p.b, p.a, vector_epoch),
        item_keys(ac, p.a, p.c, vector_epoch),     item_keys(ac, p.c, p.a, vector_epoch),
        item_keys(bc, p.b, p.c, vector_epoch),     item_keys(ab, p.a, p.b, 0),
    };
    std::set<std::string> seen;
    for (const auto& k : all)
        for (const auto& v : {hex(k.signing_seed), hex(k.item_key), hex(k.salt), hex(k.aead_key), hex(k.target())})
            BOOST_TEST(seen.insert(v).second, "a derived value repeats: " << v);
    BOOST_TEST(seen.size() == all.size() * 5);
}

BOOST_AUTO_TEST_CASE(round_trip_with_random_nonces) {
    const Peers p;
    const auto k = keys_a_to_b(p);
    for (const auto& r : {vector_record(p), full_record(vector_published), Record{vector_published, {}, {}}}) {
        const auto plain = encode_plaintext(r);
        BOOST_TEST(plain.size() == plaintext_size);
        BOOST_TEST((decode_plaintext(plain) == r));
        const auto one = seal(k, r);
        const auto two = seal(k, r);
        BOOST_TEST(one.size() == sealed_size);
        BOOST_TEST(hex(one) != hex(two)); // fresh nonce each time
        BOOST_TEST((open(k, r.published, one) == r));
        BOOST_TEST((open(k, r.published, two) == r));
        BOOST_TEST(verify(k.item_key, k.salt, r.published, one, sign(k, r.published, one)));
    }
}

BOOST_AUTO_TEST_CASE(the_padded_length_is_constant) {
    const Peers p;
    const auto k = keys_a_to_b(p);
    const Record empty{vector_published, {}, {}};
    const auto full = full_record(vector_published);
    BOOST_TEST(encode_plaintext(empty).size() == encode_plaintext(full).size());
    const auto a = seal(k, empty), b = seal(k, full);
    BOOST_TEST(a.size() == b.size());
    BOOST_TEST(a.size() == sealed_size);
    BOOST_TEST(bencode_string(b).size() <= 1000u);
    BOOST_TEST(signing_payload(k.salt, full.published, bencode_string(b)).size() ==
               signing_payload(k.salt, empty.published, bencode_string(a)).size());
}

BOOST_AUTO_TEST_CASE(a_third_party_cannot_find_or_open_the_item) {
    const Peers p;
    const auto k = keys_a_to_b(p);
    const auto sealed = seal(k, vector_record(p));
    // C knows A's and B's public ids and has its own secret key: the best it
    // can do is the secret of its own pair with A (or with B).
    for (const auto& guess : {pair_secret(p.c_seed, p.a), pair_secret(p.c_seed, p.b)}) {
        BOOST_TEST(hex(guess) != hex(pair_secret(p.a_seed, p.b)));
        const auto c_view = item_keys(guess, p.a, p.b, vector_epoch);
        BOOST_TEST(hex(c_view.salt) != hex(k.salt));
        BOOST_TEST(hex(c_view.item_key) != hex(k.item_key));
        BOOST_TEST(hex(c_view.target()) != hex(k.target()));
        BOOST_CHECK_THROW(open(c_view, vector_published, sealed), DecodeError);
    }
    // B's keys for reading C's items, or its keys for the other direction,
    // do not open it either.
    BOOST_CHECK_THROW(open(item_keys(pair_secret(p.b_seed, p.a), p.b, p.a, vector_epoch), vector_published, sealed), DecodeError);
}

BOOST_AUTO_TEST_CASE(tampering_fails_authentication) {
    const Peers p;
    const auto k = keys_a_to_b(p);
    const auto sealed = seal_with_nonce(k, vector_record(p), vector_nonce());
    BOOST_REQUIRE_NO_THROW(open(k, vector_published, sealed));
    // Any flipped bit, in the nonce, the ciphertext or the tag.
    for (std::size_t i = 0; i < sealed.size(); ++i) {
        auto t = sealed;
        t[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
        BOOST_CHECK_THROW(open(k, vector_published, t), DecodeError);
    }
    // Truncated or extended.
    BOOST_CHECK_THROW(open(k, vector_published, ByteView(sealed).first(sealed.size() - 1)), DecodeError);
    auto longer = sealed;
    longer.push_back(0);
    BOOST_CHECK_THROW(open(k, vector_published, longer), DecodeError);
    BOOST_CHECK_THROW(open(k, vector_published, Bytes{}), DecodeError);
    // The same AEAD key with other associated data: another epoch, or the
    // directions swapped, or another reader.
    auto other = k;
    other.epoch += 1;
    BOOST_CHECK_THROW(open(other, vector_published, sealed), DecodeError);
    other = k;
    std::swap(other.publisher, other.reader);
    BOOST_CHECK_THROW(open(other, vector_published, sealed), DecodeError);
    other = k;
    other.reader = p.c;
    BOOST_CHECK_THROW(open(other, vector_published, sealed), DecodeError);
    // The keys of the neighbouring epochs.
    BOOST_CHECK_THROW(open(keys_a_to_b(p, vector_epoch - 1), vector_published, sealed), DecodeError);
    BOOST_CHECK_THROW(open(keys_a_to_b(p, vector_epoch + 1), vector_published, sealed), DecodeError);
    // A seq that is not the record's (an old value replayed under a new seq
    // would also fail the signature; the record says so by itself too).
    BOOST_CHECK_THROW(open(k, vector_published + 1, sealed), DecodeError);
    BOOST_CHECK_THROW(open(k, vector_published - 1, sealed), DecodeError);
    // The signature covers salt, seq and value.
    const auto sig = sign(k, vector_published, sealed);
    auto t = sealed;
    t[100] ^= 1;
    BOOST_TEST(!verify(k.item_key, k.salt, vector_published, t, sig));
    BOOST_TEST(!verify(k.item_key, k.salt, vector_published + 1, sealed, sig));
    auto salt = k.salt;
    salt[0] ^= 1;
    BOOST_TEST(!verify(k.item_key, salt, vector_published, sealed, sig));
    BOOST_TEST(!verify(keys_a_to_b(p, vector_epoch + 1).item_key, k.salt, vector_published, sealed, sig));
}

BOOST_AUTO_TEST_CASE(malformed_plaintexts_are_refused) {
    const Peers p;
    const auto k = keys_a_to_b(p);
    const auto good = encode_plaintext(vector_record(p));
    // Offsets in the vector record: 5 endpoints of 8, 8, 8, 8 and 20 bytes
    // from offset 10, then the relay count at 62 and one relay at 63..94.
    constexpr std::size_t relay_count_at = 10 + 4 * 8 + 20;
    BOOST_REQUIRE(good[relay_count_at] == 1);
    auto mutate = [&](std::size_t at, std::uint8_t v) {
        auto b = good;
        b.at(at) = v;
        return b;
    };
    const std::vector<std::pair<std::string, Bytes>> cases{
        {"version 0", mutate(0, 0)},
        {"version 2", mutate(0, 2)},
        {"published beyond INT64_MAX", mutate(8, 0x80)},
        {"17 endpoints", mutate(9, 17)},
        {"255 endpoints", mutate(9, 255)},
        {"one endpoint fewer: its bytes become non-zero padding", mutate(9, 4)},
        {"kind 0", mutate(10, 0)},
        {"kind 5", mutate(10, 5)},
        {"family 5", mutate(11, 5)},
        {"family 0", mutate(11, 0)},
        {"family 6 where 4 was: shifts every later field", mutate(11, 6)},
        {"port 0", [&] { auto b = mutate(16, 0); b[17] = 0; return b; }()},
        {"unspecified IPv4 address", [&] { auto b = good; std::fill_n(b.begin() + 12, 4, 0); return b; }()},
        {"the same address:port twice", [&] { auto b = good; std::copy_n(good.begin() + 12, 6, b.begin() + 20); return b; }()},
        {"5 relays", mutate(relay_count_at, 5)},
        {"no relay: the relay key becomes padding", mutate(relay_count_at, 0)},
        {"two relays, the second all zeros", mutate(relay_count_at, 2)},
        {"a relay that is no key", [&] { auto b = good; std::fill_n(b.begin() + relay_count_at + 1, 32, 0xff); return b; }()},
        {"a padding byte", mutate(plaintext_size - 1, 1)},
        {"the first padding byte", mutate(relay_count_at + 33, 0x80)},
        {"one byte short", Bytes(good.begin(), good.end() - 1)},
        {"one byte long", [&] { auto b = good; b.push_back(0); return b; }()},
        {"empty", Bytes{}},
        {"all zeros", Bytes(plaintext_size, 0)},
    };
    for (const auto& [what, bytes] : cases) {
        BOOST_TEST_CONTEXT(what) {
            BOOST_CHECK_THROW(decode_plaintext(bytes), DecodeError);
            // The same, sealed properly by someone holding the keys: open
            // authenticates it and still refuses it.
            BOOST_CHECK_THROW(open(k, vector_published, seal_raw(k, bytes, vector_nonce())), DecodeError);
        }
    }

    // Constructed cases the byte edits above do not reach.
    auto one_endpoint = [&](Endpoint e) {
        Bytes b(plaintext_size, 0);
        b[0] = version;
        for (int i = 0; i < 8; ++i) b[1 + i] = static_cast<std::uint8_t>(vector_published >> (8 * i));
        b[9] = 1;
        b[10] = static_cast<std::uint8_t>(e.kind);
        b[11] = 6;
        const auto& a = std::get<Ipv6>(e.address);
        std::copy(a.begin(), a.end(), b.begin() + 12);
        b[28] = static_cast<std::uint8_t>(e.port);
        b[29] = static_cast<std::uint8_t>(e.port >> 8);
        return b;
    };
    const Ipv6 mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 7};
    BOOST_CHECK_NO_THROW(decode_plaintext(one_endpoint(v6(EndpointKind::lan, doc_v6, 1))));
    BOOST_CHECK_THROW(decode_plaintext(one_endpoint(v6(EndpointKind::lan, mapped, 1))), DecodeError);
    BOOST_CHECK_THROW(decode_plaintext(one_endpoint(v6(EndpointKind::lan, Ipv6{}, 1))), DecodeError);
    auto twin_relays = encode_plaintext(Record{vector_published, {}, {p.a, p.b}});
    std::copy(p.a.begin(), p.a.end(), twin_relays.begin() + 11 + 32);
    BOOST_CHECK_THROW(decode_plaintext(twin_relays), DecodeError);

    // A valid record whose published time lies in another epoch than the
    // keys' (a publisher bug, or an old record sealed under new keys).
    auto stale = vector_record(p);
    stale.published -= epoch_seconds;
    BOOST_CHECK_THROW(open(k, stale.published, seal_raw(k, encode_plaintext(stale), vector_nonce())), DecodeError);

    // The message names what is wrong.
    try {
        decode_plaintext(mutate(10, 9));
        BOOST_FAIL("decoded kind 9");
    } catch (const DecodeError& e) {
        BOOST_TEST(std::string(e.what()) == "presence record: unknown endpoint kind 9");
    }
}

BOOST_AUTO_TEST_CASE(the_encoder_refuses_what_the_decoder_would) {
    const Peers p;
    const auto k = keys_a_to_b(p);
    auto bad = [&](auto edit) {
        auto r = vector_record(p);
        edit(r);
        return r;
    };
    const std::vector<Record> cases{
        bad([](Record& r) { r.endpoints[0].port = 0; }),
        bad([](Record& r) { r.endpoints[0].kind = static_cast<EndpointKind>(0); }),
        bad([](Record& r) { r.endpoints[0].kind = static_cast<EndpointKind>(5); }),
        bad([](Record& r) { r.endpoints[0].address = Ipv4{}; }),
        bad([](Record& r) { r.endpoints[4].address = Ipv6{}; }),
        bad([](Record& r) { r.endpoints[4].address = Ipv6{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}; }),
        bad([](Record& r) { r.endpoints.push_back(r.endpoints[1]); }),
        bad([](Record& r) { r.endpoints.push_back(Endpoint{EndpointKind::lan, r.endpoints[1].address, r.endpoints[1].port}); }),
        bad([&](Record& r) { r.relays.push_back(p.c); }),
        bad([](Record& r) { r.published = std::uint64_t{1} << 63; }),
        [] { auto r = full_record(vector_published); r.endpoints.push_back(v4(EndpointKind::direct, 1, 2, 3, 4, 5)); return r; }(),
        [&] { auto r = full_record(vector_published); r.relays.push_back(p.a); return r; }(),
    };
    for (const auto& r : cases) {
        BOOST_CHECK_THROW(encode_plaintext(r), std::invalid_argument);
        BOOST_CHECK_THROW(seal(k, r), std::invalid_argument);
    }
    // A record must be sealed under the keys of its own epoch.
    auto next_hour = vector_record(p);
    next_hour.published = (vector_epoch + 1) * epoch_seconds;
    BOOST_CHECK_THROW(seal(k, next_hour), std::invalid_argument);
    BOOST_CHECK_NO_THROW(seal(keys_a_to_b(p, vector_epoch + 1), next_hour));
}

BOOST_AUTO_TEST_CASE(unusable_peer_keys_are_refused) {
    const Peers p;
    // Pairing with oneself, or keys that are no usable point: the Ed25519
    // identity (0,1), a small-order point, and a y that is not canonical.
    BOOST_CHECK_THROW(pair_secret(p.a_seed, p.a), std::invalid_argument);
    PublicKey identity{};
    identity[0] = 1;
    BOOST_CHECK_THROW(pair_secret(p.a_seed, identity), std::invalid_argument);
    PublicKey zero{};
    BOOST_CHECK_THROW(pair_secret(p.a_seed, zero), std::invalid_argument);
    PublicKey ones;
    ones.fill(0xff);
    BOOST_CHECK_THROW(pair_secret(p.a_seed, ones), std::invalid_argument);
    BOOST_CHECK_THROW(item_keys(pair_secret(p.a_seed, p.b), p.a, p.a, 1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_dht_node_sees_no_identity_and_no_address) {
    const Peers p;
    const auto record = vector_record(p);
    // Everything a node storing or relaying the item ever sees, for both
    // directions and for a few nonces.
    std::vector<Bytes> seen;
    for (const auto& [pub, rd] : {std::pair{p.a, p.b}, std::pair{p.b, p.a}}) {
        const auto k = item_keys(pair_secret(p.a_seed, p.b), pub, rd, vector_epoch);
        for (std::uint8_t n = 0; n < 4; ++n) {
            auto nonce = vector_nonce();
            nonce[0] = n;
            const auto sealed = seal_with_nonce(k, record, nonce);
            const auto sig = sign(k, record.published, sealed);
            const auto payload = signing_payload(k.salt, record.published, bencode_string(sealed));
            const auto target = k.target();
            Bytes all(k.item_key.begin(), k.item_key.end());
            for (ByteView part : {ByteView(k.salt), ByteView(target), ByteView(payload), ByteView(sig)})
                all.insert(all.end(), part.begin(), part.end());
            seen.push_back(std::move(all));
        }
    }
    // What must not be in it: both identity keys and the relay's, as bytes
    // and as peer ids (printed, and without dashes), every endpoint's
    // address, and its address with the port as the plaintext encodes it.
    std::vector<std::pair<std::string, Bytes>> secrets;
    for (const auto& [name, key] : {std::pair{"A", p.a}, std::pair{"B", p.b}, std::pair{"C", p.c}}) {
        secrets.emplace_back(std::string("key ") + name, Bytes(key.begin(), key.end()));
        const auto id = proto::format_peer_id(key);
        secrets.emplace_back(std::string("peer id ") + name, Bytes(id.begin(), id.end()));
        std::string plain;
        std::copy_if(id.begin(), id.end(), std::back_inserter(plain), [](char c) { return c != '-'; });
        secrets.emplace_back(std::string("bare peer id ") + name, Bytes(plain.begin(), plain.end()));
        std::string lower = plain;
        std::transform(lower.begin(), lower.end(), lower.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
        secrets.emplace_back(std::string("lowercase peer id ") + name, Bytes(lower.begin(), lower.end()));
        const auto h = hex(key);
        secrets.emplace_back(std::string("hex key ") + name, Bytes(h.begin(), h.end()));
    }
    for (const auto& e : record.endpoints) {
        Bytes address = std::visit([](const auto& a) { return Bytes(a.begin(), a.end()); }, e.address);
        secrets.emplace_back("address " + hex(address), address);
        address.push_back(static_cast<std::uint8_t>(e.port));
        address.push_back(static_cast<std::uint8_t>(e.port >> 8));
        secrets.emplace_back("address:port " + hex(address), address);
    }
    for (const auto& bytes : seen)
        for (const auto& [what, secret] : secrets) BOOST_TEST(!contains(bytes, secret), what << " is visible to the DHT");
    // The check itself finds what it looks for.
    BOOST_TEST(contains(encode_plaintext(record), secrets.back().second));
}

BOOST_AUTO_TEST_CASE(epochs_and_seq) {
    BOOST_TEST(epoch_seconds == 3600u);
    BOOST_TEST(epoch_of(1767225600) == 490896u);
    BOOST_TEST(epoch_of(1767229199) == 490896u);
    BOOST_TEST(epoch_of(1767229200) == 490897u);
    const auto tries = lookup_epochs(1767226834);
    BOOST_TEST(tries[0] == 490896u);
    BOOST_TEST(tries[1] == 490895u);
    // seq follows the clock, and never falls back or stands still.
    BOOST_TEST(next_published(1000, 0) == 1000u);
    BOOST_TEST(next_published(1000, 999) == 1000u);
    BOOST_TEST(next_published(1000, 1000) == 1001u);
    BOOST_TEST(next_published(900, 1000) == 1001u);
}

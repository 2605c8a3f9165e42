#define BOOST_TEST_MODULE noise
#include <boost/test/unit_test.hpp>

#include <algorithm>

#include "proto/noise.hpp"

#include <sodium.h>

#include <limits>
#include <string>

using namespace earshot::proto;
using namespace earshot::proto::noise;

namespace {

Bytes hex(std::string_view h) {
    auto b = from_hex(h);
    BOOST_REQUIRE(b.has_value());
    return *b;
}

Key key_hex(std::string_view h) {
    const auto b = hex(h);
    BOOST_REQUIRE_EQUAL(b.size(), 32u);
    Key k;
    std::copy(b.begin(), b.end(), k.begin());
    return k;
}

template <std::size_t N> std::string hx(const std::array<std::uint8_t, N>& a) { return to_hex(a); }

Bytes text(std::string_view s) { return Bytes(as_bytes(s).begin(), as_bytes(s).end()); }

StaticIdentity identity(std::uint8_t fill) {
    std::array<std::uint8_t, 32> seed;
    seed.fill(fill);
    return StaticIdentity::from_seed(seed);
}

Key x25519_private_of(const StaticIdentity& id) {
    Key x;
    BOOST_REQUIRE(crypto_sign_ed25519_sk_to_curve25519(x.data(), id.ed25519_secret.data()) == 0);
    return x;
}

Bytes concat(ByteView a, ByteView b) {
    Bytes out(a.begin(), a.end());
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

const Bytes prologue = text(earshot_prologue);

} // namespace

// Published test data, copied verbatim: the "cacophony" vectors of the Noise
// project, as shipped in mcginty/snow tests/vectors/cacophony.txt, entry
// "Noise_XX_25519_ChaChaPoly_BLAKE2b". Raw X25519 statics, no identity binding.
namespace cacophony {
constexpr std::string_view init_prologue = "4a6f686e2047616c74";
constexpr std::string_view init_static = "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1";
constexpr std::string_view init_ephemeral = "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a";
constexpr std::string_view resp_prologue = "4a6f686e2047616c74";
constexpr std::string_view resp_static = "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893";
constexpr std::string_view resp_ephemeral = "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b";
constexpr std::string_view handshake_hash =
    "8cf47d7b3cb5804c0109d48e8bcdbee2cbb65687d8ea2c92994ca361fb86151ad93627b98936cbb32de56e8abb21def3925011ac3e35db9cbeea73ab9a4392c2";
struct Message {
    std::string_view payload, ciphertext;
};
constexpr Message messages[] = {
    {"4c756477696720766f6e204d69736573",
     "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573"},
    {"4d757272617920526f746862617264",
     "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088430505b6745ce64a5f33f0e8e3b83f11ce8802bca507f4f2d8"
     "b564dbe277e1966116e132faa2dfd70b8b077b9f94b913df5056ae1319469b824a98d54bbaa82c325595587064f978c4b6d104f7596e6f"},
    {"462e20412e20486179656b",
     "99579e1c1ee15e422a57ddd6b16d37087b17558e8369c18991b4b2ca3a824abf904cdcf5458b5431a75af034ca9e9b982de039eaaf15677"
     "5e2d580cd4e5ebae89c3f8cb2594b556d8a8169"},
    {"4361726c204d656e676572", "fc56eea290b3f3a21aac0c70cd5787b5ee99be37d2f4d751329b55"},
    {"4a65616e2d426170746973746520536179", "bb31c9da10d5639a4cdb88a12f5c61de41bbc7df09bf75d94f8184fe4157f5c68f"},
    {"457567656e2042f6686d20766f6e2042617765726b",
     "f6199cadb152fb27f82be0a0891ec76a33598ae92a46cab2fb5a8ed5bf48b7f267f8370af7"},
};
} // namespace cacophony

BOOST_AUTO_TEST_CASE(reproduces_cacophony_xx_25519_chachapoly_blake2b) {
    HandshakeState init(Role::initiator, key_hex(cacophony::init_static), hex(cacophony::init_prologue),
                        key_hex(cacophony::init_ephemeral));
    HandshakeState resp(Role::responder, key_hex(cacophony::resp_static), hex(cacophony::resp_prologue),
                        key_hex(cacophony::resp_ephemeral));

    // Handshake: messages alternate initiator, responder, initiator.
    for (std::size_t i = 0; i < 3; ++i) {
        auto& writer = i % 2 == 0 ? init : resp;
        auto& reader = i % 2 == 0 ? resp : init;
        const auto& m = cacophony::messages[i];
        const auto ciphertext = writer.write_message(hex(m.payload));
        BOOST_TEST(to_hex(ciphertext) == m.ciphertext, "handshake message " << i);
        BOOST_TEST(to_hex(reader.read_message(ciphertext)) == m.payload, "handshake message " << i);
    }
    BOOST_TEST(init.finished());
    BOOST_TEST(resp.finished());
    BOOST_TEST(to_hex(init.handshake_hash()) == cacophony::handshake_hash);
    BOOST_TEST(to_hex(resp.handshake_hash()) == cacophony::handshake_hash);
    BOOST_TEST(init.remote_static().has_value());
    BOOST_TEST(hx(*init.remote_static()) == hx(resp.local_static_public()));
    BOOST_TEST(resp.remote_static().has_value());
    BOOST_TEST(hx(*resp.remote_static()) == hx(init.local_static_public()));

    // Transport: c1 carries initiator → responder, c2 the reverse; the
    // vector keeps alternating, so message 3 is the responder's.
    auto [i_c1, i_c2] = init.split();
    auto [r_c1, r_c2] = resp.split();
    for (std::size_t i = 3; i < std::size(cacophony::messages); ++i) {
        const bool from_initiator = i % 2 == 0;
        auto& send = from_initiator ? i_c1 : r_c2;
        auto& recv = from_initiator ? r_c1 : i_c2;
        const auto& m = cacophony::messages[i];
        const auto ciphertext = send.encrypt({}, hex(m.payload));
        BOOST_TEST(to_hex(ciphertext) == m.ciphertext, "transport message " << i);
        BOOST_TEST(to_hex(recv.decrypt({}, ciphertext)) == m.payload, "transport message " << i);
    }
}

namespace {

struct Completed {
    Handshake init, resp;
    Bytes payload1, payload2, payload3; // what each reader got back
};

Completed run_handshake(const StaticIdentity& a, const StaticIdentity& b) {
    auto init = Handshake::initiator(a, prologue);
    auto resp = Handshake::responder(b, prologue);
    auto p1 = resp.read_message(init.write_message(text("hello")));
    auto p2 = init.read_message(resp.write_message(text("library v7")));
    auto p3 = resp.read_message(init.write_message(text("want tracks")));
    return {std::move(init), std::move(resp), std::move(p1), std::move(p2), std::move(p3)};
}

} // namespace

BOOST_AUTO_TEST_CASE(xx_between_two_ed25519_identities) {
    const auto alice = identity(1), bob = identity(2);
    auto c = run_handshake(alice, bob);
    BOOST_TEST(c.payload1 == text("hello"));
    BOOST_TEST(c.payload2 == text("library v7"));
    BOOST_TEST(c.payload3 == text("want tracks"));
    BOOST_TEST(c.init.finished());
    BOOST_TEST(c.resp.finished());
    BOOST_TEST(hx(c.init.remote_identity()) == hx(bob.ed25519_public));
    BOOST_TEST(hx(c.resp.remote_identity()) == hx(alice.ed25519_public));
    BOOST_TEST(hx(c.init.handshake_hash()) == hx(c.resp.handshake_hash()));

    auto [a_send, a_recv] = c.init.split();
    auto [b_send, b_recv] = c.resp.split();
    for (int round = 0; round < 5; ++round) {
        const auto ab = text("a→b #" + std::to_string(round));
        const auto ba = text(std::string(static_cast<std::size_t>(round) * 100, 'x'));
        const auto ad = text("frame header");
        const auto sealed_ab = a_send.encrypt(ad, ab);
        BOOST_TEST(sealed_ab.size() == ab.size() + tag_len);
        BOOST_TEST(b_recv.decrypt(ad, sealed_ab) == ab);
        BOOST_TEST(a_recv.decrypt({}, b_send.encrypt({}, ba)) == ba);
    }
    BOOST_TEST(a_send.nonce() == 5u);
    BOOST_TEST(b_recv.nonce() == 5u);

    // Different handshakes (fresh ephemerals) give different sessions.
    auto again = run_handshake(alice, bob);
    BOOST_TEST(hx(again.init.handshake_hash()) != hx(c.init.handshake_hash()));
}

BOOST_AUTO_TEST_CASE(tampering_with_any_handshake_message_fails) {
    const auto alice = identity(3), bob = identity(4);
    // Positions: first byte (ephemeral key), a middle byte and the last byte (tag).
    for (std::size_t step = 0; step < 3; ++step) {
        for (int where = 0; where < 3; ++where) {
            BOOST_TEST_CONTEXT("message " << step << " position " << where) {
                auto init = Handshake::initiator(alice, prologue);
                auto resp = Handshake::responder(bob, prologue);
                auto flip = [&](Bytes m) {
                    const std::size_t pos = where == 0 ? 0 : where == 1 ? m.size() / 2 : m.size() - 1;
                    m[pos] ^= 0x01;
                    return m;
                };
                auto m1 = init.write_message(text("one"));
                if (step == 0) {
                    // Message 1 has no MAC yet; its corruption surfaces when
                    // the initiator checks message 2, whose keys and
                    // transcript no longer match.
                    resp.read_message(flip(m1));
                    auto m2 = resp.write_message(text("two"));
                    BOOST_CHECK_THROW(init.read_message(m2), HandshakeError);
                    BOOST_TEST(!init.finished());
                    BOOST_CHECK_THROW(init.write_message({}), HandshakeError); // dead for good
                    continue;
                }
                resp.read_message(m1);
                auto m2 = resp.write_message(text("two"));
                if (step == 1) {
                    BOOST_CHECK_THROW(init.read_message(flip(m2)), HandshakeError);
                    BOOST_CHECK_THROW(init.read_message(m2), HandshakeError); // even the genuine one now
                    BOOST_CHECK_THROW(init.remote_identity(), HandshakeError);
                    continue;
                }
                init.read_message(m2);
                auto m3 = init.write_message(text("three"));
                BOOST_CHECK_THROW(resp.read_message(flip(m3)), HandshakeError);
                BOOST_TEST(!resp.finished());
                BOOST_CHECK_THROW(resp.split(), HandshakeError);
                BOOST_CHECK_THROW(resp.handshake_hash(), HandshakeError);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(truncated_handshake_messages_fail) {
    const auto alice = identity(5), bob = identity(6);
    {
        auto resp = Handshake::responder(bob, prologue);
        BOOST_CHECK_THROW(resp.read_message(Bytes(31, 9)), HandshakeError);
    }
    auto init = Handshake::initiator(alice, prologue);
    auto resp = Handshake::responder(bob, prologue);
    resp.read_message(init.write_message({}));
    auto m2 = resp.write_message({});
    m2.resize(32 + 48 + 15); // e, encrypted s, but not a whole payload tag
    BOOST_CHECK_THROW(init.read_message(m2), HandshakeError);
}

namespace {

// A raw Noise responder that holds Bob's real static key but puts whatever
// Ed25519 key it likes into its payload — what an impersonator would try.
Bytes raw_responder_message2(HandshakeState& raw, Handshake& init, ByteView claimed_identity) {
    raw.read_message(init.write_message({}));
    return raw.write_message(concat(claimed_identity, text("payload")));
}

} // namespace

BOOST_AUTO_TEST_CASE(responder_identity_must_match_its_static_key) {
    const auto alice = identity(7), bob = identity(8), carol = identity(9);
    {
        // Positive control: the raw responder claiming its own identity passes.
        auto init = Handshake::initiator(alice, prologue);
        HandshakeState raw(Role::responder, x25519_private_of(bob), prologue);
        BOOST_TEST(init.read_message(raw_responder_message2(raw, init, bob.ed25519_public)) == text("payload"));
        BOOST_TEST(hx(init.remote_identity()) == hx(bob.ed25519_public));
    }
    {
        // Bob's static key, Carol's name: rejected.
        auto init = Handshake::initiator(alice, prologue);
        HandshakeState raw(Role::responder, x25519_private_of(bob), prologue);
        BOOST_CHECK_THROW(init.read_message(raw_responder_message2(raw, init, carol.ed25519_public)), HandshakeError);
        BOOST_CHECK_THROW(init.remote_identity(), HandshakeError);
        BOOST_CHECK_THROW(init.write_message({}), HandshakeError);
    }
    {
        // A payload too short to hold an identity: rejected.
        auto init = Handshake::initiator(alice, prologue);
        HandshakeState raw(Role::responder, x25519_private_of(bob), prologue);
        raw.read_message(init.write_message({}));
        BOOST_CHECK_THROW(init.read_message(raw.write_message(Bytes(31, 0))), HandshakeError);
    }
}

BOOST_AUTO_TEST_CASE(initiator_identity_must_match_its_static_key) {
    const auto alice = identity(10), bob = identity(11), carol = identity(12);
    for (const bool honest : {true, false}) {
        HandshakeState raw(Role::initiator, x25519_private_of(alice), prologue);
        auto resp = Handshake::responder(bob, prologue);
        resp.read_message(raw.write_message({}));
        const auto m2 = raw.read_message(resp.write_message({}));
        BOOST_TEST(Bytes(m2.begin(), m2.begin() + 32) == Bytes(bob.ed25519_public.begin(), bob.ed25519_public.end()));
        const auto& claimed = honest ? alice.ed25519_public : carol.ed25519_public;
        const auto m3 = raw.write_message(claimed);
        if (honest) {
            BOOST_TEST(resp.read_message(m3).empty());
            BOOST_TEST(resp.finished());
            BOOST_TEST(hx(resp.remote_identity()) == hx(alice.ed25519_public));
        } else {
            BOOST_CHECK_THROW(resp.read_message(m3), HandshakeError);
            BOOST_TEST(!resp.finished());
            BOOST_CHECK_THROW(resp.split(), HandshakeError);
        }
    }
}

BOOST_AUTO_TEST_CASE(mismatched_identity_halves_are_refused) {
    const auto alice = identity(13), bob = identity(14);
    StaticIdentity franken;
    franken.ed25519_public = bob.ed25519_public;
    franken.ed25519_secret = alice.ed25519_secret;
    BOOST_CHECK_THROW(Handshake::initiator(franken, prologue), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(different_prologues_fail) {
    const auto alice = identity(15), bob = identity(16);
    auto init = Handshake::initiator(alice, text("earshot/1"));
    auto resp = Handshake::responder(bob, text("earshot/2"));
    resp.read_message(init.write_message({}));
    BOOST_CHECK_THROW(init.read_message(resp.write_message({})), HandshakeError);
}

BOOST_AUTO_TEST_CASE(calls_out_of_turn_throw) {
    const auto alice = identity(17), bob = identity(18);
    auto init = Handshake::initiator(alice, prologue);
    auto resp = Handshake::responder(bob, prologue);
    BOOST_CHECK_THROW(Handshake::initiator(alice, prologue).read_message(Bytes(32, 1)), HandshakeError);
    BOOST_CHECK_THROW(Handshake::responder(bob, prologue).write_message({}), HandshakeError);
    BOOST_CHECK_THROW(init.split(), HandshakeError);
    BOOST_CHECK_THROW(init.handshake_hash(), HandshakeError);
    BOOST_CHECK_THROW(init.remote_identity(), HandshakeError);

    // Past the end: a wrong-turn call is a bug in the caller, and like any
    // other failure it ends the handshake.
    auto c = run_handshake(alice, bob);
    BOOST_CHECK_THROW(c.init.write_message({}), HandshakeError);
    BOOST_CHECK_THROW(c.resp.read_message(Bytes(64, 0)), HandshakeError);
    BOOST_TEST(!c.init.finished());
    BOOST_CHECK_THROW(c.init.split(), HandshakeError);

    auto d = run_handshake(alice, bob);
    d.init.split();
    BOOST_CHECK_THROW(d.init.split(), HandshakeError); // keys are handed out once

    auto moved = std::move(d.resp);
    BOOST_CHECK_THROW(d.resp.write_message({}), HandshakeError);
    BOOST_TEST(!d.resp.finished());
    BOOST_TEST(moved.finished());
    BOOST_TEST(hx(moved.remote_identity()) == hx(alice.ed25519_public));
}

BOOST_AUTO_TEST_CASE(replayed_reordered_and_reflected_transport_messages_fail) {
    auto c = run_handshake(identity(19), identity(20));
    auto [a_send, a_recv] = c.init.split();
    auto [b_send, b_recv] = c.resp.split();
    const auto m0 = a_send.encrypt({}, text("m0"));
    const auto m1 = a_send.encrypt({}, text("m1"));
    const auto m2 = a_send.encrypt({}, text("m2"));

    BOOST_TEST(b_recv.decrypt({}, m0) == text("m0"));
    BOOST_CHECK_THROW(b_recv.decrypt({}, m0), CipherError);   // replay
    BOOST_CHECK_THROW(b_recv.decrypt({}, m2), CipherError);   // skipped ahead
    BOOST_TEST(b_recv.decrypt({}, m1) == text("m1"));         // failures did not move the nonce
    BOOST_TEST(b_recv.decrypt({}, m2) == text("m2"));
    BOOST_CHECK_THROW(a_recv.decrypt({}, a_send.encrypt({}, text("echo"))), CipherError); // reflected
    BOOST_CHECK_THROW(b_recv.decrypt(text("other ad"), a_send.encrypt({}, text("x"))), CipherError);
    BOOST_CHECK_THROW(b_recv.decrypt({}, Bytes(15, 0)), CipherError);
}

BOOST_AUTO_TEST_CASE(oversized_messages_are_rejected) {
    const auto alice = identity(21), bob = identity(22);
    auto c = run_handshake(alice, bob);
    auto [a_send, a_recv] = c.init.split();
    auto [b_send, b_recv] = c.resp.split();
    const Bytes biggest(max_transport_plaintext, 0xab);
    const auto sealed = a_send.encrypt({}, biggest);
    BOOST_TEST(sealed.size() == max_message_len);
    BOOST_TEST(b_recv.decrypt({}, sealed) == biggest);
    BOOST_CHECK_THROW(a_send.encrypt({}, Bytes(max_transport_plaintext + 1, 0)), CipherError);
    BOOST_CHECK_THROW(b_recv.decrypt({}, Bytes(max_message_len + 1, 0)), CipherError);

    auto init = Handshake::initiator(alice, prologue);
    BOOST_CHECK_THROW(init.write_message(Bytes(max_message_len, 0)), HandshakeError);
    auto init2 = Handshake::initiator(alice, prologue);
    BOOST_TEST(init2.write_message(Bytes(max_message_len - dh_len, 0)).size() == max_message_len);
    auto resp = Handshake::responder(bob, prologue);
    BOOST_CHECK_THROW(resp.read_message(Bytes(max_message_len + 1, 0)), HandshakeError);
    auto resp2 = Handshake::responder(bob, prologue);
    resp2.read_message(Handshake::initiator(alice, prologue).write_message({}));
    BOOST_CHECK_THROW(resp2.write_message(Bytes(max_message_len - 32 - 48 - 16, 0)), HandshakeError);
}

// The channel encrypts and decrypts where the bytes lie; it must produce
// exactly what the copying calls do (so the Cacophony vector holds for it
// too) and refuse the same things, leaving a tampered message unread.
BOOST_AUTO_TEST_CASE(in_place_transport_matches_the_copying_calls) {
    Key k;
    k.fill(9);
    CipherState copying(k), in_place(k), reader(k), in_place_reader(k);
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{4096}, max_transport_plaintext}) {
        Bytes plain(n);
        for (std::size_t i = 0; i < n; ++i) plain[i] = static_cast<std::uint8_t>(i * 31 + 7);
        const auto sealed = copying.encrypt(text("ad"), plain);
        Bytes buf(n + tag_len, 0xee);
        std::copy(plain.begin(), plain.end(), buf.begin());
        in_place.encrypt_in_place(text("ad"), buf);
        BOOST_TEST(buf == sealed, "plaintext of " << n << " bytes");
        BOOST_TEST(reader.decrypt(text("ad"), buf) == plain);
        const auto opened = in_place_reader.decrypt_in_place(text("ad"), buf);
        BOOST_TEST(opened.data() == buf.data());
        BOOST_TEST(Bytes(opened.begin(), opened.end()) == plain);
    }
    // A flipped bit: refused, no plaintext left in the buffer, and the nonce
    // unchanged, so the genuine message still opens.
    auto sealed = copying.encrypt({}, text("genuine"));
    auto tampered = sealed;
    tampered[2] ^= 1;
    BOOST_CHECK_THROW(in_place_reader.decrypt_in_place({}, tampered), CipherError);
    BOOST_TEST(std::all_of(tampered.begin(), tampered.end() - tag_len, [](std::uint8_t b) { return b == 0; }));
    const auto opened = in_place_reader.decrypt_in_place({}, sealed);
    BOOST_TEST(Bytes(opened.begin(), opened.end()) == text("genuine"));
    Bytes too_big(max_message_len + 1, 0);
    BOOST_CHECK_THROW(in_place.encrypt_in_place({}, too_big), CipherError);
    BOOST_CHECK_THROW(in_place_reader.decrypt_in_place({}, too_big), CipherError);
    Bytes too_short(tag_len - 1, 0);
    BOOST_CHECK_THROW(in_place_reader.decrypt_in_place({}, too_short), CipherError);
    CipherState keyless;
    Bytes buf(tag_len + 1, 0);
    BOOST_CHECK_THROW(keyless.encrypt_in_place({}, buf), std::logic_error);
}

BOOST_AUTO_TEST_CASE(cipher_state_nonce_exhaustion_rekey_and_moves) {
    Key k;
    k.fill(7);
    CipherState a(k), b(k);
    a.set_nonce(std::numeric_limits<std::uint64_t>::max() - 1);
    b.set_nonce(std::numeric_limits<std::uint64_t>::max() - 1);
    BOOST_TEST(b.decrypt({}, a.encrypt({}, text("last"))) == text("last"));
    BOOST_CHECK_THROW(a.encrypt({}, text("one too many")), CipherError); // 2^64-1 is reserved
    BOOST_CHECK_THROW(b.decrypt({}, Bytes(20, 0)), CipherError);

    CipherState c(k), d(k);
    c.rekey();
    const auto sealed = c.encrypt({}, text("x"));
    BOOST_CHECK_THROW(d.decrypt({}, sealed), CipherError); // only one side rekeyed
    d.rekey();
    BOOST_TEST(d.decrypt({}, sealed) == text("x"));
    BOOST_TEST(c.nonce() == 1u); // rekey keeps the counter
    BOOST_TEST(d.nonce() == 1u);

    CipherState empty;
    BOOST_TEST(!empty.has_key());
    BOOST_TEST(empty.encrypt_with_ad({}, text("clear")) == text("clear")); // spec: no key, no encryption
    BOOST_CHECK_THROW(empty.encrypt({}, text("clear")), std::logic_error); // but never for transport

    CipherState e(k);
    CipherState f(std::move(e));
    BOOST_TEST(f.has_key());
    BOOST_TEST(!e.has_key()); // a moved-from cipher cannot reuse the nonce
}

BOOST_AUTO_TEST_CASE(low_order_ephemeral_keys_are_refused) {
    // u = 0 and u = 1 are low-order X25519 points: any DH with them is all
    // zeros, which would hand the attacker a known key.
    for (const std::uint8_t u : {0, 1}) {
        Bytes m1(32, 0);
        m1[0] = u;
        auto resp = Handshake::responder(identity(23), prologue);
        resp.read_message(m1); // no DH yet: nothing to check
        BOOST_CHECK_THROW(resp.write_message({}), HandshakeError);
        BOOST_CHECK_THROW(resp.write_message({}), HandshakeError); // and it stays dead
    }
}

// Fuzz target for the DHT presence record (proto/presence.hpp,
// proto/DHT.md). Built as a libFuzzer binary with clang (EARSHOT_FUZZ=ON) and
// as a CTest smoke test with standalone_driver.cpp.
//
// Three views of each input:
//   1. the whole input as a decrypted plaintext (decode_plaintext);
//   2. the whole input as a value got from the DHT (open), which must fail
//      to authenticate — but only ever with DecodeError;
//   3. the input as a recipe: its first bytes choose a valid record (time in
//      the epoch, endpoints of every kind and family, relays from a fixed set
//      of real keys) and a nonce; it must round-trip through the plaintext
//      codec and through seal/open. The rest of the input then edits the
//      plaintext (overwrite, flip, insert, delete, truncate), and the result
//      goes through view 1 and — sealed properly with the item's keys, as a
//      paired peer could — through open, so authenticated garbage reaches
//      every check of the decoder.
// Only DecodeError is an acceptable failure. Whatever decodes must re-encode
// to exactly its input (the encoding is canonical).
#include "proto/presence.hpp"

#include <sodium.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

using namespace earshot::proto;
using namespace earshot::proto::presence;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_presence: %s\n", what);
    std::abort();
}

constexpr std::uint64_t epoch = 490896; // DHT.md §8

Seed seed_of(std::uint8_t b) {
    Seed s;
    s.fill(b);
    return s;
}

PublicKey public_of(std::uint8_t b) {
    if (sodium_init() < 0) fail("libsodium failed to initialise");
    PublicKey pk;
    std::array<std::uint8_t, 64> sk;
    const auto seed = seed_of(b);
    crypto_sign_seed_keypair(pk.data(), sk.data(), seed.data());
    return pk;
}

// One item's keys and a few real relay keys, made once: deriving them for
// every input would cost more than the decoding under test.
struct Fixture {
    ItemKeys keys;
    std::array<PublicKey, 6> relays;
};

const Fixture& fixture() {
    static const Fixture f = [] {
        Fixture x;
        const auto a = public_of(1), b = public_of(2);
        x.keys = item_keys(pair_secret(seed_of(1), b), a, b, epoch);
        for (std::size_t i = 0; i < x.relays.size(); ++i) x.relays[i] = public_of(static_cast<std::uint8_t>(10 + i));
        return x;
    }();
    return f;
}

// DHT.md §4, written out here so the target can seal any plaintext.
Bytes seal_raw(const ItemKeys& k, ByteView plaintext, const Nonce& nonce) {
    ByteWriter ad;
    ad.raw(as_bytes(ad_context));
    ad.raw(k.publisher);
    ad.raw(k.reader);
    ad.u64le(k.epoch);
    Bytes out(nonce.size() + plaintext.size() + tag_size);
    std::copy(nonce.begin(), nonce.end(), out.begin());
    unsigned long long n = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + nonce.size(), &n, plaintext.data(), plaintext.size(),
                                               ad.bytes().data(), ad.bytes().size(), nullptr, nonce.data(), k.aead_key.data());
    return out;
}

// View 1. Returns the record if the plaintext decodes.
std::optional<Record> check_plaintext(ByteView in) {
    Record r;
    try {
        r = decode_plaintext(in);
    } catch (const DecodeError&) {
        return std::nullopt;
    }
    if (in.size() != plaintext_size) fail("decoded a plaintext of a bad size");
    Bytes again;
    try {
        again = encode_plaintext(r);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "re-encoding threw: %s\n", e.what());
        fail("a decoded record did not re-encode");
    }
    if (!std::equal(again.begin(), again.end(), in.begin(), in.end())) fail("encode(decode(x)) != x");
    return r;
}

// Opening a sealed value: a record, or DecodeError, nothing else.
std::optional<Record> check_open(ByteView sealed, std::uint64_t seq) {
    try {
        return open(fixture().keys, seq, sealed);
    } catch (const DecodeError&) {
        return std::nullopt;
    }
}

// Reads the recipe; past its end, zeros.
struct Cursor {
    ByteView in;
    std::size_t at = 0;
    std::uint8_t next() { return at < in.size() ? in[at++] : 0; }
    bool more() const { return at < in.size(); }
};

void recipe(ByteView in) {
    const auto& f = fixture();
    Cursor c{in};
    Record r;
    r.published = epoch * epoch_seconds + (c.next() | c.next() << 8) % epoch_seconds;
    const std::size_t endpoints = c.next() % (max_endpoints + 1);
    for (std::size_t i = 0; i < endpoints; ++i) {
        Endpoint e;
        const auto shape = c.next();
        e.kind = static_cast<EndpointKind>(1 + shape % 4);
        if (shape & 0x80) {
            Ipv6 a;
            for (auto& b : a) b = c.next();
            a[0] |= 0x20; // never zero, never IPv4-mapped
            e.address = a;
        } else {
            Ipv4 a;
            for (auto& b : a) b = c.next();
            a[0] |= 1;
            e.address = a;
        }
        e.port = static_cast<std::uint16_t>(c.next() | c.next() << 8);
        if (e.port == 0) e.port = 1;
        if (std::none_of(r.endpoints.begin(), r.endpoints.end(),
                         [&](const Endpoint& o) { return o.address == e.address && o.port == e.port; }))
            r.endpoints.push_back(e);
    }
    const std::size_t relays = c.next() % (max_relays + 1);
    for (std::size_t i = 0; i < relays; ++i) {
        const auto& key = f.relays[c.next() % f.relays.size()];
        if (std::find(r.relays.begin(), r.relays.end(), key) == r.relays.end()) r.relays.push_back(key);
    }
    Nonce nonce;
    for (auto& b : nonce) b = c.next();

    const Bytes plain = encode_plaintext(r);
    const auto decoded = check_plaintext(plain);
    if (!decoded || !(*decoded == r)) fail("decode(encode(x)) != x");
    const Bytes sealed = seal_with_nonce(f.keys, r, nonce);
    if (sealed.size() != sealed_size) fail("a sealed value of the wrong size");
    if (seal_raw(f.keys, plain, nonce) != sealed) fail("seal disagrees with DHT.md's construction");
    const auto opened = check_open(sealed, r.published);
    if (!opened || !(*opened == r)) fail("open(seal(x)) != x");
    if (check_open(sealed, r.published + 1)) fail("opened with the wrong seq");

    Bytes edited = plain;
    while (c.more() && !edited.empty()) {
        const std::size_t at = c.next() % edited.size();
        const std::uint8_t v = c.next();
        switch (c.next() % 5) {
        case 0: edited[at] = v; break;
        case 1: edited[at] ^= static_cast<std::uint8_t>(1u << (v % 8)); break;
        case 2: edited.insert(edited.begin() + static_cast<std::ptrdiff_t>(at), v); break;
        case 3: edited.erase(edited.begin() + static_cast<std::ptrdiff_t>(at)); break;
        case 4: edited.resize(at); break;
        }
    }
    const auto as_plain = check_plaintext(edited);
    // Sealed by a key holder, it opens exactly when it decodes and is a
    // record of this epoch with this seq.
    const auto as_item = check_open(seal_raw(f.keys, edited, nonce), as_plain ? as_plain->published : r.published);
    const bool should_open = as_plain && epoch_of(as_plain->published) == epoch;
    if (as_item.has_value() != should_open) fail("open and decode_plaintext disagree");
    if (as_item && !(*as_item == *as_plain)) fail("open returned another record than the plaintext holds");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);
    check_plaintext(in);
    check_open(in, epoch * epoch_seconds);
    recipe(in);
    return 0;
}

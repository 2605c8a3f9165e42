#include "proto/presence.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace earshot::proto::presence {
namespace {

void need_sodium() {
    // sodium_init is idempotent and thread-safe; the static only remembers
    // that it succeeded.
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

// Overwrites a secret when it goes out of scope, however the scope is left.
template <std::size_t N>
struct Wiped {
    std::array<std::uint8_t, N> bytes{};
    Wiped() = default;
    Wiped(const Wiped&) = delete;
    Wiped& operator=(const Wiped&) = delete;
    ~Wiped() { sodium_memzero(bytes.data(), bytes.size()); }
    std::uint8_t* data() { return bytes.data(); }
};

// BLAKE2b personalisation shared by every derivation of DHT.md §2; the label
// in front of the message says which derivation it is.
constexpr std::uint8_t kdf_personal[16] = {'e', 'a', 'r', 's', 'h', 'o', 't', ':', 'd', 'h', 't', ':', 'v', '1', 0, 0};

// KDF(key, label, data) = BLAKE2b-256(key, personal, label ‖ 0x00 ‖ data).
// Labels contain no NUL, so label and data can never be shifted into each
// other.
Key kdf(ByteView key, std::string_view label, std::initializer_list<ByteView> data) {
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init_salt_personal(&st, key.data(), key.size(), 32, nullptr, kdf_personal);
    const std::uint8_t nul = 0;
    crypto_generichash_blake2b_update(&st, reinterpret_cast<const std::uint8_t*>(label.data()), label.size());
    crypto_generichash_blake2b_update(&st, &nul, 1);
    for (auto d : data) crypto_generichash_blake2b_update(&st, d.data(), d.size());
    Key out;
    crypto_generichash_blake2b_final(&st, out.data(), out.size());
    sodium_memzero(&st, sizeof st);
    return out;
}

// The direction and epoch an item is for: publisher ‖ reader ‖ u64le(epoch).
Bytes item_context(const PublicKey& publisher, const PublicKey& reader, std::uint64_t epoch) {
    ByteWriter w(72);
    w.raw(publisher);
    w.raw(reader);
    w.u64le(epoch);
    return std::move(w).take();
}

Bytes associated_data(const ItemKeys& k) {
    ByteWriter w(ad_context.size() + 72);
    w.raw(as_bytes(ad_context));
    w.raw(item_context(k.publisher, k.reader, k.epoch));
    return std::move(w).take();
}

// Plaintext layout, DHT.md §3.
constexpr std::size_t header_size = 1 + 8 + 1;          // version, published, endpoint count
constexpr std::size_t max_endpoint_size = 1 + 1 + 16 + 2; // kind, family, address, port
static_assert(header_size + max_endpoints * max_endpoint_size + 1 + max_relays * 32 <= plaintext_size,
              "the largest record must fit the padded plaintext");
static_assert(sealed_size + 4 <= 1000, "BEP 44 storing nodes may refuse a bencoded value over 1000 bytes");

constexpr std::uint8_t family_v4 = 4, family_v6 = 6;
constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

bool valid_kind(std::uint8_t k) { return k >= 1 && k <= 4; }

// The address:port pair, for spotting repeats regardless of kind.
bool same_place(const Endpoint& a, const Endpoint& b) { return a.address == b.address && a.port == b.port; }

// Why an endpoint may not be sent, or empty if it may.
std::string endpoint_problem(const Endpoint& e) {
    if (!valid_kind(static_cast<std::uint8_t>(e.kind)))
        return "unknown endpoint kind " + std::to_string(static_cast<unsigned>(e.kind));
    if (e.port == 0) return "endpoint port 0";
    const bool zero = std::visit([](const auto& a) { return std::all_of(a.begin(), a.end(), [](auto b) { return b == 0; }); },
                                 e.address);
    if (zero) return "unspecified endpoint address";
    if (const auto* v6 = std::get_if<Ipv6>(&e.address)) {
        // ::ffff:a.b.c.d is an IPv4 address in disguise; it is sent as IPv4,
        // so that each address has one spelling.
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::equal(std::begin(mapped), std::end(mapped), v6->begin())) return "IPv4-mapped IPv6 endpoint address";
    }
    return {};
}

// Why a record may not be sent (or was not received), or empty if it is fine.
std::string record_problem(const Record& r) {
    if (r.published > int64_max) return "published time beyond BEP 44's largest seq";
    if (r.endpoints.size() > max_endpoints)
        return std::to_string(r.endpoints.size()) + " endpoints, more than " + std::to_string(max_endpoints);
    if (r.relays.size() > max_relays)
        return std::to_string(r.relays.size()) + " relays, more than " + std::to_string(max_relays);
    for (std::size_t i = 0; i < r.endpoints.size(); ++i) {
        if (auto p = endpoint_problem(r.endpoints[i]); !p.empty()) return p;
        for (std::size_t j = 0; j < i; ++j)
            if (same_place(r.endpoints[i], r.endpoints[j])) return "the same endpoint twice";
    }
    for (std::size_t i = 0; i < r.relays.size(); ++i) {
        // A reader dials a relay by its key; a value that is no key (zeros,
        // a small-order or non-canonical point) could never answer.
        if (crypto_core_ed25519_is_valid_point(r.relays[i].data()) != 1) return "a relay that is not an Ed25519 public key";
        for (std::size_t j = 0; j < i; ++j)
            if (r.relays[i] == r.relays[j]) return "the same relay twice";
    }
    return {};
}


[[noreturn]] void malformed(const std::string& why) { throw DecodeError("presence record: " + why); }

} // namespace

Key pair_secret(const Seed& own_seed, const PublicKey& peer) {
    need_sodium();
    PublicKey own{};
    Wiped<64> own_sk;
    crypto_sign_seed_keypair(own.data(), own_sk.data(), own_seed.data());
    if (own == peer) throw std::invalid_argument("pair secret: a peer cannot pair with itself");

    Wiped<32> x_sk, dh;
    std::array<std::uint8_t, 32> x_pk{};
    if (crypto_sign_ed25519_pk_to_curve25519(x_pk.data(), peer.data()) != 0)
        throw std::invalid_argument("pair secret: the peer's key is not an Ed25519 public key");
    crypto_sign_ed25519_sk_to_curve25519(x_sk.data(), own_sk.data());
    // libsodium refuses an all-zero result itself; checking again costs
    // nothing and does not depend on its version.
    if (crypto_scalarmult(dh.data(), x_sk.data(), x_pk.data()) != 0 || sodium_is_zero(dh.data(), dh.bytes.size()))
        throw std::invalid_argument("pair secret: the peer's key is a low-order point");

    // Both public keys, smaller first: the same input on both sides, and a
    // secret that names the pair it belongs to.
    const auto& lo = std::min(own, peer);
    const auto& hi = std::max(own, peer);
    return kdf(dh.bytes, "pair", {lo, hi});
}

Target item_target(const PublicKey& k, ByteView salt) {
    // libsodium has no SHA-1; OpenSSL's libcrypto (which libtorrent links
    // too) does.
    if (salt.size() > 64) throw std::invalid_argument("BEP 44: a salt is at most 64 bytes");
    std::array<std::uint8_t, 32 + 64> input;
    std::copy(k.begin(), k.end(), input.begin());
    std::copy(salt.begin(), salt.end(), input.begin() + 32);
    Target out;
    unsigned int size = 0;
    if (EVP_Digest(input.data(), 32 + salt.size(), out.data(), &size, EVP_sha1(), nullptr) != 1 || size != out.size())
        throw std::runtime_error("SHA-1 failed");
    return out;
}

ItemKeys item_keys(const Key& pair, const PublicKey& publisher, const PublicKey& reader, std::uint64_t epoch) {
    need_sodium();
    if (publisher == reader) throw std::invalid_argument("item keys: publisher and reader are the same peer");
    ItemKeys k;
    k.publisher = publisher;
    k.reader = reader;
    k.epoch = epoch;
    const auto context = item_context(publisher, reader, epoch);
    k.signing_seed = kdf(pair, "signing seed", {context});
    k.salt = kdf(pair, "salt", {context});
    k.aead_key = kdf(pair, "aead key", {context});
    Wiped<64> sk;
    crypto_sign_seed_keypair(k.item_key.data(), sk.data(), k.signing_seed.data());
    return k;
}

Bytes encode_plaintext(const Record& r) {
    need_sodium();
    if (auto p = record_problem(r); !p.empty()) throw std::invalid_argument("presence record: " + p);
    ByteWriter w(plaintext_size);
    w.u8(version);
    w.u64le(r.published);
    w.u8(static_cast<std::uint8_t>(r.endpoints.size()));
    for (const auto& e : r.endpoints) {
        w.u8(static_cast<std::uint8_t>(e.kind));
        if (const auto* v4 = std::get_if<Ipv4>(&e.address)) {
            w.u8(family_v4);
            w.raw(*v4);
        } else {
            w.u8(family_v6);
            w.raw(std::get<Ipv6>(e.address));
        }
        w.u8(static_cast<std::uint8_t>(e.port & 0xff));
        w.u8(static_cast<std::uint8_t>(e.port >> 8));
    }
    w.u8(static_cast<std::uint8_t>(r.relays.size()));
    for (const auto& relay : r.relays) w.raw(relay);
    auto out = std::move(w).take();
    out.resize(plaintext_size, 0); // the padding: zeros to the fixed size
    return out;
}

Record decode_plaintext(ByteView in) {
    need_sodium();
    // Fixed size first; every count is then checked against its maximum
    // before it is used, and the largest record fits (static_assert above),
    // so the reads below stay in bounds without relying on ByteReader.
    if (in.size() != plaintext_size)
        malformed(std::to_string(in.size()) + " bytes, not " + std::to_string(plaintext_size));
    ByteReader rd(in);
    if (const auto v = rd.u8(); v != version) malformed("unsupported version " + std::to_string(v));
    Record r;
    r.published = rd.u64le();
    const std::size_t n = rd.u8();
    if (n > max_endpoints) malformed(std::to_string(n) + " endpoints, more than " + std::to_string(max_endpoints));
    for (std::size_t i = 0; i < n; ++i) {
        const auto kind = rd.u8();
        if (!valid_kind(kind)) malformed("unknown endpoint kind " + std::to_string(kind));
        Endpoint e;
        e.kind = static_cast<EndpointKind>(kind);
        const auto family = rd.u8();
        if (family == family_v4) e.address = rd.array<4>();
        else if (family == family_v6) e.address = rd.array<16>();
        else malformed("unknown address family " + std::to_string(family));
        const auto port_lo = rd.u8();
        e.port = static_cast<std::uint16_t>(port_lo | rd.u8() << 8);
        r.endpoints.push_back(e);
    }
    const std::size_t relays = rd.u8();
    if (relays > max_relays) malformed(std::to_string(relays) + " relays, more than " + std::to_string(max_relays));
    for (std::size_t i = 0; i < relays; ++i) r.relays.push_back(rd.array<32>());
    // The rest is padding, and padding is zeros: no second spelling of a
    // record, and no room to hide anything in.
    const auto pad = rd.raw(rd.remaining());
    if (!std::all_of(pad.begin(), pad.end(), [](auto b) { return b == 0; })) malformed("non-zero padding");
    if (auto p = record_problem(r); !p.empty()) malformed(p);
    return r;
}

Bytes seal_with_nonce(const ItemKeys& keys, const Record& r, const Nonce& nonce) {
    if (epoch_of(r.published) != keys.epoch)
        throw std::invalid_argument("presence record: published " + std::to_string(r.published) + " is not in epoch " +
                                    std::to_string(keys.epoch));
    auto plain = encode_plaintext(r);
    const auto ad = associated_data(keys);
    Bytes out(sealed_size);
    std::copy(nonce.begin(), nonce.end(), out.begin());
    unsigned long long written = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + nonce.size(), &written, plain.data(), plain.size(), ad.data(),
                                               ad.size(), nullptr, nonce.data(), keys.aead_key.data());
    sodium_memzero(plain.data(), plain.size());
    if (written != plaintext_size + tag_size) throw std::logic_error("presence: unexpected ciphertext size");
    return out;
}

Bytes seal(const ItemKeys& keys, const Record& r) {
    need_sodium();
    // 192 random bits: no counter to keep across restarts, and a repeat is
    // not a practical concern.
    Nonce nonce;
    randombytes_buf(nonce.data(), nonce.size());
    return seal_with_nonce(keys, r, nonce);
}

Record open(const ItemKeys& keys, std::uint64_t seq, ByteView sealed) {
    if (sealed.size() != sealed_size)
        malformed("sealed value of " + std::to_string(sealed.size()) + " bytes, not " + std::to_string(sealed_size));
    const auto ad = associated_data(keys);
    Bytes plain(plaintext_size);
    unsigned long long written = 0;
    const auto nonce = sealed.first(24);
    const auto box = sealed.subspan(24);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &written, nullptr, box.data(), box.size(), ad.data(),
                                                   ad.size(), nonce.data(), keys.aead_key.data()) != 0)
        malformed("does not authenticate (another pair, direction or epoch, or tampered with)");
    auto r = decode_plaintext(plain);
    sodium_memzero(plain.data(), plain.size());
    if (r.published != seq)
        malformed("published " + std::to_string(r.published) + " but the item's seq is " + std::to_string(seq));
    if (epoch_of(r.published) != keys.epoch)
        malformed("published " + std::to_string(r.published) + " is not in epoch " + std::to_string(keys.epoch));
    return r;
}

Bytes bencode_string(ByteView bytes) {
    const auto len = std::to_string(bytes.size()) + ":";
    ByteWriter w(len.size() + bytes.size());
    w.raw(as_bytes(len));
    w.raw(bytes);
    return std::move(w).take();
}

Bytes signing_payload(ByteView salt, std::uint64_t seq, ByteView encoded_value) {
    if (salt.size() > 64) throw std::invalid_argument("BEP 44: a salt is at most 64 bytes");
    if (seq > int64_max) throw std::invalid_argument("BEP 44: seq beyond INT64_MAX");
    ByteWriter w(16 + salt.size() + 32 + encoded_value.size());
    // An empty salt is no salt (BEP 44): nothing of it is signed.
    if (!salt.empty()) {
        w.raw(as_bytes("4:salt"));
        w.raw(bencode_string(salt));
    }
    w.raw(as_bytes("3:seqi" + std::to_string(seq) + "e1:v"));
    w.raw(encoded_value);
    return std::move(w).take();
}

Signature sign(const ItemKeys& keys, std::uint64_t seq, ByteView sealed) {
    need_sodium();
    const auto payload = signing_payload(keys.salt, seq, bencode_string(sealed));
    PublicKey pk{};
    Wiped<64> sk;
    crypto_sign_seed_keypair(pk.data(), sk.data(), keys.signing_seed.data());
    Signature sig;
    crypto_sign_detached(sig.data(), nullptr, payload.data(), payload.size(), sk.data());
    return sig;
}

bool verify(const PublicKey& item_key, ByteView salt, std::uint64_t seq, ByteView sealed, const Signature& sig) {
    need_sodium();
    if (salt.size() > 64 || seq > int64_max) return false;
    const auto payload = signing_payload(salt, seq, bencode_string(sealed));
    return crypto_sign_verify_detached(sig.data(), payload.data(), payload.size(), item_key.data()) == 0;
}

} // namespace earshot::proto::presence

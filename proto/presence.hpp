// DHT presence records (proto/DHT.md): where a daemon can be reached, put
// into the mainline DHT as a BEP 44 mutable item that only one paired peer
// can find and read. For every pair of peers and every hour ("epoch") both
// sides derive, without talking, a throw-away BEP 44 signing key, a salt and
// an AEAD key; the item's value is a fixed-size XChaCha20-Poly1305 box. A DHT
// node sees random keys, salts and ciphertext that change every epoch.
//
// This is the pure layer: no sockets, no clock, no libtorrent. The daemon
// picks the epoch from its clock, feeds item_keys() to libtorrent's
// dht_put_item / dht_get_item, and seals and opens the value here.
#pragma once

#include "proto/bytes.hpp"
#include "proto/peer_id.hpp"

#include <array>
#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

namespace earshot::proto::presence {

// --- Epochs -----------------------------------------------------------------

// One hour: BEP 44 items must be re-put about hourly anyway, so a new key
// every hour costs no extra puts and limits how long a DHT node can follow
// one item to an hour.
inline constexpr std::uint64_t epoch_seconds = 3600;
constexpr std::uint64_t epoch_of(std::uint64_t unix_seconds) { return unix_seconds / epoch_seconds; }
// What a reader tries, in this order: the current epoch, then the previous
// one (the publisher may not have put the new epoch's item yet, or its clock
// may be behind).
constexpr std::array<std::uint64_t, 2> lookup_epochs(std::uint64_t now_unix_seconds) {
    const auto e = epoch_of(now_unix_seconds);
    return {e, e == 0 ? 0 : e - 1};
}

// --- Keys -------------------------------------------------------------------

using Seed = std::array<std::uint8_t, 32>; // an Ed25519 seed (PEER_ID.md)
using Key = std::array<std::uint8_t, 32>;
using Salt = std::array<std::uint8_t, 32>;
using Target = std::array<std::uint8_t, 20>; // SHA-1, the BEP 44 item target
using Signature = std::array<std::uint8_t, 64>;
using Nonce = std::array<std::uint8_t, 24>; // XChaCha20-Poly1305

// The secret two paired peers share: X25519 of their Ed25519 identities,
// hashed with both public keys in byte order, so either side gets the same
// 32 bytes. Throws std::invalid_argument if `peer` is not a usable Ed25519
// key (not a point, a low-order point giving an all-zero DH) or is our own.
Key pair_secret(const Seed& own_seed, const PublicKey& peer);

// BEP 44's target of a mutable item: SHA-1(k ‖ salt), salt at most 64 bytes.
Target item_target(const PublicKey& k, ByteView salt);

// Everything one BEP 44 item needs: the item for one direction (publisher →
// reader) in one epoch. Holds secrets (signing_seed, aead_key): keep it no
// longer than the epoch it is for.
struct ItemKeys {
    PublicKey publisher{};
    PublicKey reader{};
    std::uint64_t epoch = 0;
    Seed signing_seed{};   // Ed25519 seed of the item's key pair
    PublicKey item_key{};  // its public key: BEP 44 `k`
    Salt salt{};           // BEP 44 `salt`
    Key aead_key{};        // XChaCha20-Poly1305 key of the value
    Target target() const { return item_target(item_key, salt); }
};

// Both sides call this with the same arguments: the publisher to put, the
// reader to get. Throws std::invalid_argument if publisher == reader.
ItemKeys item_keys(const Key& pair_secret, const PublicKey& publisher, const PublicKey& reader, std::uint64_t epoch);

// --- The record -------------------------------------------------------------

inline constexpr std::uint8_t version = 1;
inline constexpr std::size_t max_endpoints = 16;
inline constexpr std::size_t max_relays = 4;
// Every plaintext is padded to exactly this size, so the length of an item
// says nothing about how many addresses a daemon has.
inline constexpr std::size_t plaintext_size = 512;
inline constexpr std::size_t tag_size = 16;
// nonce ‖ ciphertext ‖ tag: the bytes of the BEP 44 value's byte string.
inline constexpr std::size_t sealed_size = 24 + plaintext_size + tag_size; // 552
// Prepended to the associated data, so a presence box cannot be confused
// with any other use of XChaCha20-Poly1305 in earshot.
inline constexpr std::string_view ad_context = "earshot-presence/1";

// How the publisher came to the address; the reader tries them in its own
// order (lan first on the same network, then mapped, direct, observed).
enum class EndpointKind : std::uint8_t {
    direct = 1,   // bound on one of the publisher's interfaces and public
    mapped = 2,   // an external mapping made by UPnP IGD or NAT-PMP
    observed = 3, // the publisher's address as others see it (DHT, peers) + its port
    lan = 4,      // a private address: useful to peers in the same network
};

using Ipv4 = std::array<std::uint8_t, 4>;   // network byte order
using Ipv6 = std::array<std::uint8_t, 16>;  // network byte order, never IPv4-mapped
using Address = std::variant<Ipv4, Ipv6>;

struct Endpoint {
    EndpointKind kind = EndpointKind::direct;
    Address address;
    std::uint16_t port = 0; // TCP port of the peer listener; never 0
    bool operator==(const Endpoint&) const = default;
};

struct Record {
    // Unix seconds when it was made; also the BEP 44 `seq`, and it lies in
    // the epoch of the item (see next_published).
    std::uint64_t published = 0;
    std::vector<Endpoint> endpoints;  // at most max_endpoints, no address:port twice
    std::vector<PublicKey> relays;    // "reachable via this peer"; at most max_relays, valid keys, no repeats
    bool operator==(const Record&) const = default;
};

// The BEP 44 `seq` of the next record: the clock, but always above the last
// one put (two changes within one second, a clock stepped back). The item's
// epoch is epoch_of() of the result.
constexpr std::uint64_t next_published(std::uint64_t now_unix_seconds, std::uint64_t last_published) {
    return now_unix_seconds > last_published ? now_unix_seconds : last_published + 1;
}

// The padded plaintext (plaintext_size bytes). Throws std::invalid_argument
// for a record decode_plaintext would refuse.
Bytes encode_plaintext(const Record& r);
// Exactly the inverse: wrong size, version, kind, family, port 0, an
// unspecified or IPv4-mapped address, a relay that is no Ed25519 key,
// repeats, too many entries, non-zero padding — each a DecodeError, nothing
// else is thrown.
Record decode_plaintext(ByteView plaintext);

// The sealed value (sealed_size bytes) with a fresh random nonce. Throws
// std::invalid_argument if the record cannot be encoded or its `published`
// is not in keys.epoch.
Bytes seal(const ItemKeys& keys, const Record& r);
// The same with a given nonce. Only for test vectors and tests: a nonce used
// twice under one key breaks the cipher.
Bytes seal_with_nonce(const ItemKeys& keys, const Record& r, const Nonce& nonce);
// Authenticates and decodes a value got from the DHT, with the `seq` it came
// with. Throws DecodeError (and nothing else) for a wrong size, a box that
// does not authenticate under these keys (another pair, direction or epoch),
// a malformed plaintext, or a record whose `published` is not `seq` or not
// in keys.epoch.
Record open(const ItemKeys& keys, std::uint64_t seq, ByteView sealed);

// --- BEP 44 -----------------------------------------------------------------

// "<len>:<bytes>": the bencoded form of the value, as it goes into `v`.
Bytes bencode_string(ByteView bytes);
// What a BEP 44 mutable item's signature covers: "4:salt<len>:<salt>" (only
// for a non-empty salt) "3:seqi<seq>e1:v" <encoded value>. Throws
// std::invalid_argument for a salt over 64 bytes or seq over INT64_MAX.
Bytes signing_payload(ByteView salt, std::uint64_t seq, ByteView encoded_value);
// Signs the item whose value is bencode_string(sealed) with the item key.
Signature sign(const ItemKeys& keys, std::uint64_t seq, ByteView sealed);
bool verify(const PublicKey& item_key, ByteView salt, std::uint64_t seq, ByteView sealed, const Signature& sig);

} // namespace earshot::proto::presence

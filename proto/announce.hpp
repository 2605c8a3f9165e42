// LAN announcements (proto/DISCOVERY.md): the signed UDP multicast datagram
// with which an earshot daemon tells the devices on its link "peer <key> is
// listening on TCP port <port> at the address this came from".
//
// This is the codec only. It never touches a clock or a key: the sender signs
// signing_input() and hands the signature to encode(); the receiver verifies
// Decoded::signature over Decoded::signed_message and applies the freshness
// rules of DISCOVERY.md §4 (daemon/peers/discovery.hpp does both).
#pragma once

#include "proto/bytes.hpp"
#include "proto/peer_id.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace earshot::proto::announce {

inline constexpr std::array<std::uint8_t, 4> magic{'E', 'S', 'A', 'N'};
inline constexpr std::uint8_t version = 1;
// Prepended to the datagram before signing, so an announcement signature can
// never be mistaken for (or replayed as) an Ed25519 signature made by the same
// identity in another context — a BEP 44 item, a future protocol message.
inline constexpr std::string_view signature_context = "earshot-announce/1";
inline constexpr std::size_t max_name_size = 64; // bytes of UTF-8

inline constexpr std::size_t signature_size = 64;
// magic, version, key, port, timestamp, instance, name length, signature.
inline constexpr std::size_t min_size = 4 + 1 + 32 + 2 + 8 + 8 + 1 + signature_size; // 120
inline constexpr std::size_t max_size = min_size + max_name_size;                      // 184

using Signature = std::array<std::uint8_t, signature_size>;
using Instance = std::array<std::uint8_t, 8>;

struct Announcement {
    PublicKey key{};
    std::uint16_t port = 0;         // TCP peer port; never 0
    std::uint64_t timestamp_ms = 0; // sender's clock, Unix time in milliseconds
    Instance instance{};            // random, fixed for the lifetime of one daemon process
    std::string name;               // may be empty; <= max_name_size bytes of UTF-8, no control characters
    bool operator==(const Announcement&) const = default;
};

// What the signature covers: signature_context ‖ the datagram up to (not
// including) the signature. Throws std::invalid_argument for an announcement
// that may not be sent (port 0, a name too long, not UTF-8 or with control
// characters).
Bytes signing_input(const Announcement& a);

// The datagram: the fields, then `signature` (which must be the key's
// signature over signing_input(a) for anyone to accept it). Throws
// std::invalid_argument like signing_input.
Bytes encode(const Announcement& a, const Signature& signature);

struct Decoded {
    Announcement announcement;
    Signature signature{};
    // signature_context ‖ the received bytes before the signature: what to
    // verify `signature` against with announcement.key.
    Bytes signed_message;
};

// Parses one datagram exactly: wrong size, magic or version, port 0, a name
// length that does not match the datagram's size, a name that is not UTF-8
// or has control characters — all throw DecodeError, nothing else is thrown.
// Does NOT verify the signature.
Decoded decode(ByteView datagram);

} // namespace earshot::proto::announce

// Peer ids: an Ed25519 public key written so that people can read it out,
// paste it into a chat and type it back, with typos caught before anyone
// dials the wrong peer. 32 key bytes → 52 base32 characters (RFC 4648
// alphabet, no padding) → four groups of 13, each followed by a Luhn mod 32
// check character → 56 characters, shown as eight groups of seven:
//   MFZWI3D-BONSGYC-...   (see proto/PEER_ID.md)
#pragma once

#include "proto/bytes.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace earshot::proto {

using PublicKey = std::array<std::uint8_t, 32>;

std::string format_peer_id(const PublicKey& key);

// Accepts any case, with or without dashes and spaces, and the usual
// misreadings of base32 (0→O, 1→I, 8→B). On failure the string says what is
// wrong and where ("group 3 has a typo", "a peer id has 56 characters, not 55").
std::variant<PublicKey, std::string> parse_peer_id(std::string_view text);

} // namespace earshot::proto

// This daemon's Ed25519 identity. Only the 32-byte seed is stored: libsodium
// (peer handshakes) and libtorrent (BEP 44 items on the DHT) derive the same
// key pair from it.
#pragma once

#include "proto/noise.hpp"
#include "proto/presence.hpp"
#include "proto/peer_id.hpp"

#include <filesystem>

namespace earshot::peers {

class Identity {
public:
    // Reads DATA/identity.key, or creates it (0600) on first start. A key
    // file others can read is made private again, with a warning; a
    // malformed one is an error, never silently replaced.
    static Identity load_or_create(const std::filesystem::path& data_dir);
    static Identity from_seed(const std::array<std::uint8_t, 32>& seed);

    const proto::PublicKey& public_key() const { return public_key_; }
    std::string peer_id() const { return proto::format_peer_id(public_key_); }
    // The same key pair as the Noise static identity of peer handshakes.
    proto::noise::StaticIdentity noise_identity() const { return proto::noise::StaticIdentity::from_seed(seed_); }
    // The secret this daemon shares with `peer` (proto/DHT.md §3): its DHT
    // items for that peer are derived from it. Throws std::invalid_argument
    // for a key that is no usable Ed25519 point, or our own.
    proto::presence::Key pair_secret(const proto::PublicKey& peer) const {
        return proto::presence::pair_secret(seed_, peer);
    }
    // Detached Ed25519 signature over `message`.
    std::array<std::uint8_t, 64> sign(proto::ByteView message) const;
    static bool verify(const proto::PublicKey& key, proto::ByteView message, std::span<const std::uint8_t, 64> signature);

private:
    Identity() = default;
    std::array<std::uint8_t, 32> seed_{};
    proto::PublicKey public_key_{};
    std::array<std::uint8_t, 64> secret_key_{}; // libsodium's seed ‖ public key
};

} // namespace earshot::peers

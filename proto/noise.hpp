// Noise_XX_25519_ChaChaPoly_BLAKE2b (Noise spec revision 34) for earshot's
// peer links, built on libsodium only. Pure library: callers move the bytes.
//
// Three layers, each named after the spec so it can be checked line by line:
//   CipherState    — ChaChaPoly with a 64-bit counter nonce; also the
//                    transport cipher after the handshake.
//   SymmetricState — chaining key + handshake hash (HMAC/HKDF over BLAKE2b).
//   HandshakeState — the XX pattern with raw X25519 keys, exactly as the
//                    spec (and the published test vectors) define it.
// On top, Handshake binds the Noise static keys to earshot's Ed25519 daemon
// identities (see proto/NOISE.md) and is what the daemon uses.
#pragma once

#include "proto/bytes.hpp"
#include "proto/peer_id.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace earshot::proto::noise {

inline constexpr std::string_view protocol_name = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
// What earshot daemons pass as the prologue; a peer speaking another version
// of the handshake fails at the first authenticated message.
inline constexpr std::string_view earshot_prologue = "earshot/1";

inline constexpr std::size_t dh_len = 32;
inline constexpr std::size_t hash_len = 64;
inline constexpr std::size_t key_len = 32;
inline constexpr std::size_t tag_len = 16;
// Noise's limit on any one message, handshake or transport, tag included.
inline constexpr std::size_t max_message_len = 65535;
inline constexpr std::size_t max_transport_plaintext = max_message_len - tag_len;

using Key = std::array<std::uint8_t, key_len>;             // also X25519 keys
using HandshakeHash = std::array<std::uint8_t, hash_len>;   // BLAKE2b-512

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};
// A handshake step failed (bad MAC, truncated or oversized message, weak DH
// value, identity mismatch, wrong turn). The handshake is dead afterwards.
class HandshakeError : public Error {
public:
    using Error::Error;
};
// A transport message failed to authenticate, was too large, or the nonce
// space is used up. The cipher's nonce is unchanged by a failed decrypt.
class CipherError : public Error {
public:
    using Error::Error;
};

// Spec §5.1. Move-only: a copy would encrypt twice under the same nonce.
// A moved-from CipherState has no key.
class CipherState {
public:
    CipherState() = default;
    explicit CipherState(const Key& k) { initialize_key(k); }
    ~CipherState();
    CipherState(const CipherState&) = delete;
    CipherState& operator=(const CipherState&) = delete;
    CipherState(CipherState&& other) noexcept;
    CipherState& operator=(CipherState&& other) noexcept;

    void initialize_key(const Key& k);
    bool has_key() const { return has_key_; }
    // Spec SetNonce. earshot's links run over TCP (in order, no loss) and
    // never need it; it is here for completeness and tests.
    void set_nonce(std::uint64_t n) { n_ = n; }
    std::uint64_t nonce() const { return n_; }
    // Without a key these return the input unchanged (the spec's rule for
    // handshake messages sent before any DH).
    Bytes encrypt_with_ad(ByteView ad, ByteView plaintext);
    Bytes decrypt_with_ad(ByteView ad, ByteView ciphertext);
    void rekey();

    // Transport use: a key is required (std::logic_error otherwise) and the
    // message limit is enforced (CipherError).
    Bytes encrypt(ByteView ad, ByteView plaintext);
    Bytes decrypt(ByteView ad, ByteView ciphertext);
    // The same, without a copy, for the channel's hot path. `message` holds
    // the plaintext in its first size() - tag_len bytes and receives the
    // ciphertext and tag; decrypt_in_place returns the plaintext's span of
    // `message` (on failure those bytes are zeroed, never half-decrypted,
    // and the nonce is unchanged).
    void encrypt_in_place(ByteView ad, std::span<std::uint8_t> message);
    std::span<std::uint8_t> decrypt_in_place(ByteView ad, std::span<std::uint8_t> message);

private:
    void check_transport(std::size_t message_size) const;
    void clear() noexcept;
    Key k_{};
    bool has_key_ = false;
    std::uint64_t n_ = 0;
};

// Spec §5.2.
class SymmetricState {
public:
    explicit SymmetricState(std::string_view protocol); // InitializeSymmetric
    ~SymmetricState();
    SymmetricState(const SymmetricState&) = delete;
    SymmetricState& operator=(const SymmetricState&) = delete;

    void mix_key(ByteView input_key_material);
    void mix_hash(ByteView data);
    void mix_key_and_hash(ByteView input_key_material);
    const HandshakeHash& handshake_hash() const { return h_; }
    bool has_key() const { return cipher_.has_key(); }
    Bytes encrypt_and_hash(ByteView plaintext);
    Bytes decrypt_and_hash(ByteView ciphertext);
    // (c1, c2): c1 encrypts initiator → responder, c2 the other way.
    std::pair<CipherState, CipherState> split();

private:
    HandshakeHash ck_{};
    HandshakeHash h_{};
    CipherState cipher_;
};

enum class Role { initiator, responder };

// Spec §5.3 for the XX pattern only:
//   -> e
//   <- e, ee, s, es
//   -> s, se
// Raw X25519 static keys, no identity binding: this is the layer the
// published test vectors exercise. The daemon uses Handshake below.
// Any exception leaves the state failed: every later call throws.
class HandshakeState {
public:
    // `fixed_ephemeral` is FOR TEST VECTORS ONLY: a real handshake must draw a
    // fresh ephemeral key every time (std::nullopt), or it loses forward
    // secrecy and its first message becomes replayable.
    HandshakeState(Role role, const Key& static_private, ByteView prologue,
                   std::optional<Key> fixed_ephemeral = std::nullopt);
    ~HandshakeState();
    HandshakeState(const HandshakeState&) = delete;
    HandshakeState& operator=(const HandshakeState&) = delete;

    Role role() const { return role_; }
    // 0, 1, 2 = the next message of the pattern; 3 = finished.
    std::size_t message_index() const { return index_; }
    bool our_turn_to_write() const;
    bool finished() const { return !failed_ && index_ == 3; }
    bool failed() const { return failed_; }

    Bytes write_message(ByteView payload);
    Bytes read_message(ByteView message); // returns the payload
    // Wipes the keys and marks the handshake failed (used when a layer above
    // rejects a payload the Noise layer accepted).
    void abort() noexcept;

    const Key& local_static_public() const { return s_public_; }
    // The peer's X25519 static key, once its message carrying it decrypted.
    std::optional<Key> remote_static() const { return rs_; }
    HandshakeHash handshake_hash() const; // only when finished
    // Spec Split, once, only when finished: (c1, c2) as in SymmetricState.
    std::pair<CipherState, CipherState> split();

private:
    template <class F> auto guarded(F&& step);
    void check_usable() const;
    void write_e(Bytes& out);
    void write_s(Bytes& out);
    void read_e(ByteView& in);
    void read_s(ByteView& in);
    void mix_dh(const Key& priv, const Key& pub);

    Role role_;
    SymmetricState symmetric_;
    Key s_private_{};
    Key s_public_{};
    Key e_private_{};
    Key e_public_{};
    std::optional<Key> fixed_ephemeral_;
    std::optional<Key> rs_;
    std::optional<Key> re_;
    std::size_t index_ = 0;
    bool failed_ = false;
    bool split_done_ = false;
};

// An earshot daemon identity as libsodium lays it out.
struct StaticIdentity {
    std::array<std::uint8_t, 32> ed25519_public{};
    std::array<std::uint8_t, 64> ed25519_secret{}; // seed ‖ public key
    ~StaticIdentity();

    static StaticIdentity from_seed(const std::array<std::uint8_t, 32>& seed);
};

// One side of an earshot peer handshake: Noise XX whose static keys are the
// X25519 forms of the two daemons' Ed25519 identities, each side proving its
// Ed25519 key in its encrypted handshake payload (see proto/NOISE.md).
// Any exception leaves the handshake failed: every later call throws.
class Handshake {
public:
    // Throw std::invalid_argument if the identity's two halves don't match.
    static Handshake initiator(const StaticIdentity& self, ByteView prologue);
    static Handshake responder(const StaticIdentity& self, ByteView prologue);
    ~Handshake();
    Handshake(Handshake&&) noexcept;
    Handshake& operator=(Handshake&&) noexcept;

    // Payloads of messages 2 and 3 travel encrypted; the payload of message
    // 1 (initiator's first) travels in clear — keep it empty or public.
    Bytes write_message(ByteView payload);
    Bytes read_message(ByteView message);
    bool finished() const;
    // The peer's Ed25519 key, available once the peer proved it (after
    // message 2 for the initiator, message 3 for the responder).
    PublicKey remote_identity() const;
    HandshakeHash handshake_hash() const;
    // Once, after finished(): (send, receive) from this side's point of view.
    std::pair<CipherState, CipherState> split();

private:
    Handshake(Role role, const StaticIdentity& self, ByteView prologue);
    HandshakeState& state() const;

    std::unique_ptr<HandshakeState> state_;
    PublicKey local_identity_{};
    std::optional<PublicKey> remote_identity_;
};

} // namespace earshot::proto::noise

#include "proto/noise.hpp"

#include <sodium.h>

#include <algorithm>
#include <initializer_list>
#include <limits>

namespace earshot::proto::noise {
namespace {

constexpr std::uint64_t max_nonce = std::numeric_limits<std::uint64_t>::max(); // reserved by the spec
constexpr std::size_t blake2b_block_len = 128;

void ensure_sodium() {
    // sodium_init is idempotent and thread-safe; the static only remembers
    // that it succeeded.
    static const bool ok = sodium_init() >= 0;
    if (!ok) throw std::runtime_error("libsodium failed to initialise");
}

template <class T> void wipe(T& secret) noexcept { sodium_memzero(secret.data(), secret.size() * sizeof(secret[0])); }

// Unkeyed BLAKE2b-512, streamed. The spec's HMAC is built from this plain hash
// (not libsodium's keyed BLAKE2b mode, which is a different function).
class Blake2b {
public:
    Blake2b() { crypto_generichash_blake2b_init(&st_, nullptr, 0, hash_len); }
    ~Blake2b() { sodium_memzero(&st_, sizeof st_); }
    Blake2b(const Blake2b&) = delete;
    Blake2b& operator=(const Blake2b&) = delete;
    Blake2b& update(ByteView data) {
        crypto_generichash_blake2b_update(&st_, data.data(), data.size());
        return *this;
    }
    HandshakeHash final() {
        HandshakeHash out;
        crypto_generichash_blake2b_final(&st_, out.data(), out.size());
        return out;
    }

private:
    crypto_generichash_blake2b_state st_;
};

// HMAC (RFC 2104) over BLAKE2b with its 128-byte block, as spec §4.3 says.
HandshakeHash hmac(ByteView key, std::initializer_list<ByteView> data) {
    std::array<std::uint8_t, blake2b_block_len> block{};
    if (key.size() > block.size()) {
        auto hashed = Blake2b().update(key).final();
        std::copy(hashed.begin(), hashed.end(), block.begin());
        wipe(hashed);
    } else {
        std::copy(key.begin(), key.end(), block.begin());
    }
    std::array<std::uint8_t, blake2b_block_len> pad;
    for (std::size_t i = 0; i < block.size(); ++i) pad[i] = block[i] ^ 0x36;
    Blake2b inner_hash;
    inner_hash.update(pad);
    for (auto d : data) inner_hash.update(d);
    auto inner = inner_hash.final();
    for (std::size_t i = 0; i < block.size(); ++i) pad[i] = block[i] ^ 0x5c;
    auto out = Blake2b().update(pad).update(inner).final();
    wipe(block);
    wipe(pad);
    wipe(inner);
    return out;
}

// Spec §4.3 HKDF with two or three outputs.
void hkdf(const HandshakeHash& chaining_key, ByteView ikm, HandshakeHash& out1, HandshakeHash& out2,
          HandshakeHash* out3 = nullptr) {
    auto temp_key = hmac(chaining_key, {ikm});
    const std::uint8_t one = 1, two = 2, three = 3;
    out1 = hmac(temp_key, {ByteView(&one, 1)});
    out2 = hmac(temp_key, {out1, ByteView(&two, 1)});
    if (out3) *out3 = hmac(temp_key, {out2, ByteView(&three, 1)});
    wipe(temp_key);
}

Key truncate(const HandshakeHash& h) {
    Key k;
    std::copy_n(h.begin(), k.size(), k.begin());
    return k;
}

// ChaChaPoly's nonce rule (spec §12.3): 32 zero bits, then the counter
// little-endian.
std::array<std::uint8_t, crypto_aead_chacha20poly1305_IETF_NPUBBYTES> nonce_bytes(std::uint64_t n) {
    std::array<std::uint8_t, crypto_aead_chacha20poly1305_IETF_NPUBBYTES> out{};
    for (std::size_t i = 0; i < 8; ++i) out[4 + i] = static_cast<std::uint8_t>(n >> (8 * i));
    return out;
}

// `buf` holds the plaintext in its first buf.size() - tag_len bytes and
// receives ciphertext and tag in place (libsodium's xor and MAC read each
// byte before they write it, so in and out may be one buffer).
void aead_seal(const Key& k, std::uint64_t n, ByteView ad, std::span<std::uint8_t> buf) {
    unsigned long long written = 0;
    const auto nonce = nonce_bytes(n);
    crypto_aead_chacha20poly1305_ietf_encrypt(buf.data(), &written, buf.data(), buf.size() - tag_len, ad.data(),
                                              ad.size(), nullptr, nonce.data(), k.data());
}

// The reverse: on success the first buf.size() - tag_len bytes are the
// plaintext; on failure libsodium zeroes them (the MAC is checked first, so
// no unauthenticated plaintext is ever produced).
void aead_open(const Key& k, std::uint64_t n, ByteView ad, std::span<std::uint8_t> buf) {
    if (buf.size() < tag_len) throw CipherError("noise: ciphertext shorter than its tag");
    unsigned long long written = 0;
    const auto nonce = nonce_bytes(n);
    if (crypto_aead_chacha20poly1305_ietf_decrypt(buf.data(), &written, nullptr, buf.data(), buf.size(), ad.data(),
                                                  ad.size(), nonce.data(), k.data()) != 0)
        throw CipherError("noise: message failed authentication");
}

Bytes aead_encrypt(const Key& k, std::uint64_t n, ByteView ad, ByteView plaintext) {
    Bytes out(plaintext.size() + tag_len);
    std::copy(plaintext.begin(), plaintext.end(), out.begin());
    aead_seal(k, n, ad, out);
    return out;
}

Bytes aead_decrypt(const Key& k, std::uint64_t n, ByteView ad, ByteView ciphertext) {
    Bytes out(ciphertext.begin(), ciphertext.end());
    aead_open(k, n, ad, out);
    out.resize(out.size() - tag_len);
    return out;
}

Key x25519_public(const Key& priv) {
    Key pub;
    crypto_scalarmult_curve25519_base(pub.data(), priv.data());
    return pub;
}

ByteView take(ByteView& in, std::size_t n, const char* what) {
    if (in.size() < n) throw HandshakeError(std::string("noise: handshake message too short for ") + what);
    auto head = in.first(n);
    in = in.subspan(n);
    return head;
}

Key to_key(ByteView bytes) {
    Key k;
    std::copy_n(bytes.begin(), k.size(), k.begin());
    return k;
}

} // namespace

// ---------------------------------------------------------------- CipherState

CipherState::~CipherState() { clear(); }

CipherState::CipherState(CipherState&& other) noexcept : k_(other.k_), has_key_(other.has_key_), n_(other.n_) {
    other.clear();
}

CipherState& CipherState::operator=(CipherState&& other) noexcept {
    if (this != &other) {
        k_ = other.k_;
        has_key_ = other.has_key_;
        n_ = other.n_;
        other.clear();
    }
    return *this;
}

void CipherState::clear() noexcept {
    wipe(k_);
    has_key_ = false;
    n_ = 0;
}

void CipherState::initialize_key(const Key& k) {
    k_ = k;
    has_key_ = true;
    n_ = 0;
}

Bytes CipherState::encrypt_with_ad(ByteView ad, ByteView plaintext) {
    if (!has_key_) return Bytes(plaintext.begin(), plaintext.end());
    if (n_ == max_nonce) throw CipherError("noise: nonces exhausted, the session must end");
    auto out = aead_encrypt(k_, n_, ad, plaintext);
    ++n_;
    return out;
}

Bytes CipherState::decrypt_with_ad(ByteView ad, ByteView ciphertext) {
    if (!has_key_) return Bytes(ciphertext.begin(), ciphertext.end());
    if (n_ == max_nonce) throw CipherError("noise: nonces exhausted, the session must end");
    auto out = aead_decrypt(k_, n_, ad, ciphertext); // throws before the nonce moves
    ++n_;
    return out;
}

void CipherState::rekey() {
    if (!has_key_) throw std::logic_error("noise: rekey without a key");
    const Key zeros{};
    auto out = aead_encrypt(k_, max_nonce, {}, zeros);
    std::copy_n(out.begin(), k_.size(), k_.begin());
    wipe(out);
}

void CipherState::check_transport(std::size_t message_size) const {
    if (!has_key_) throw std::logic_error("noise: transport cipher has no key");
    if (message_size > max_message_len) throw CipherError("noise: transport message larger than 65535 bytes");
    if (n_ == max_nonce) throw CipherError("noise: nonces exhausted, the session must end");
}

Bytes CipherState::encrypt(ByteView ad, ByteView plaintext) {
    check_transport(plaintext.size() + tag_len);
    return encrypt_with_ad(ad, plaintext);
}

Bytes CipherState::decrypt(ByteView ad, ByteView ciphertext) {
    check_transport(ciphertext.size());
    return decrypt_with_ad(ad, ciphertext);
}

void CipherState::encrypt_in_place(ByteView ad, std::span<std::uint8_t> message) {
    if (message.size() < tag_len) throw std::invalid_argument("noise: no room for the tag");
    check_transport(message.size());
    aead_seal(k_, n_, ad, message);
    ++n_;
}

std::span<std::uint8_t> CipherState::decrypt_in_place(ByteView ad, std::span<std::uint8_t> message) {
    check_transport(message.size());
    aead_open(k_, n_, ad, message); // throws before the nonce moves
    ++n_;
    return message.first(message.size() - tag_len);
}

// ------------------------------------------------------------- SymmetricState

SymmetricState::SymmetricState(std::string_view protocol) {
    ensure_sodium();
    const auto name = as_bytes(protocol);
    if (name.size() <= hash_len) {
        std::copy(name.begin(), name.end(), h_.begin()); // zero-padded
    } else {
        h_ = Blake2b().update(name).final();
    }
    ck_ = h_;
}

SymmetricState::~SymmetricState() {
    wipe(ck_);
    wipe(h_);
}

void SymmetricState::mix_key(ByteView ikm) {
    HandshakeHash temp_k;
    hkdf(ck_, ikm, ck_, temp_k);
    cipher_.initialize_key(truncate(temp_k));
    wipe(temp_k);
}

void SymmetricState::mix_hash(ByteView data) { h_ = Blake2b().update(h_).update(data).final(); }

void SymmetricState::mix_key_and_hash(ByteView ikm) {
    HandshakeHash temp_h, temp_k;
    hkdf(ck_, ikm, ck_, temp_h, &temp_k);
    mix_hash(temp_h);
    cipher_.initialize_key(truncate(temp_k));
    wipe(temp_h);
    wipe(temp_k);
}

Bytes SymmetricState::encrypt_and_hash(ByteView plaintext) {
    auto ciphertext = cipher_.encrypt_with_ad(h_, plaintext);
    mix_hash(ciphertext);
    return ciphertext;
}

Bytes SymmetricState::decrypt_and_hash(ByteView ciphertext) {
    auto plaintext = cipher_.decrypt_with_ad(h_, ciphertext);
    mix_hash(ciphertext);
    return plaintext;
}

std::pair<CipherState, CipherState> SymmetricState::split() {
    HandshakeHash temp_k1, temp_k2;
    hkdf(ck_, {}, temp_k1, temp_k2);
    std::pair<CipherState, CipherState> out{CipherState(truncate(temp_k1)), CipherState(truncate(temp_k2))};
    wipe(temp_k1);
    wipe(temp_k2);
    return out;
}

// ------------------------------------------------------------- HandshakeState

HandshakeState::HandshakeState(Role role, const Key& static_private, ByteView prologue,
                               std::optional<Key> fixed_ephemeral)
    : role_(role), symmetric_(protocol_name), s_private_(static_private), s_public_(x25519_public(static_private)),
      fixed_ephemeral_(fixed_ephemeral) {
    symmetric_.mix_hash(prologue); // XX has no pre-messages
}

HandshakeState::~HandshakeState() { abort(); }

void HandshakeState::abort() noexcept {
    failed_ = true;
    wipe(s_private_);
    wipe(e_private_);
    if (fixed_ephemeral_) wipe(*fixed_ephemeral_);
}

bool HandshakeState::our_turn_to_write() const {
    // Initiator writes messages 0 and 2, responder message 1.
    return index_ < 3 && ((index_ % 2 == 0) == (role_ == Role::initiator));
}

void HandshakeState::check_usable() const {
    if (failed_) throw HandshakeError("noise: handshake already failed");
}

// Runs one step; any failure kills the handshake, since its transcript and
// keys are no longer in a state both sides agree on.
template <class F> auto HandshakeState::guarded(F&& step) {
    check_usable();
    try {
        return step();
    } catch (const HandshakeError&) {
        abort();
        throw;
    } catch (const std::exception& e) {
        abort();
        throw HandshakeError(e.what());
    }
}

void HandshakeState::write_e(Bytes& out) {
    if (fixed_ephemeral_) {
        e_private_ = *fixed_ephemeral_;
    } else {
        randombytes_buf(e_private_.data(), e_private_.size());
    }
    e_public_ = x25519_public(e_private_);
    out.insert(out.end(), e_public_.begin(), e_public_.end());
    symmetric_.mix_hash(e_public_);
}

void HandshakeState::write_s(Bytes& out) {
    auto sealed = symmetric_.encrypt_and_hash(s_public_);
    out.insert(out.end(), sealed.begin(), sealed.end());
}

void HandshakeState::read_e(ByteView& in) {
    re_ = to_key(take(in, dh_len, "an ephemeral key"));
    symmetric_.mix_hash(*re_);
}

void HandshakeState::read_s(ByteView& in) {
    const auto sealed = take(in, dh_len + (symmetric_.has_key() ? tag_len : 0), "a static key");
    rs_ = to_key(symmetric_.decrypt_and_hash(sealed));
}

void HandshakeState::mix_dh(const Key& priv, const Key& pub) {
    Key shared;
    // libsodium already refuses an all-zero result (a low-order point); the
    // explicit check keeps that guarantee visible here.
    const bool bad = crypto_scalarmult_curve25519(shared.data(), priv.data(), pub.data()) != 0 ||
                     sodium_is_zero(shared.data(), shared.size());
    if (!bad) symmetric_.mix_key(shared);
    wipe(shared);
    if (bad) throw HandshakeError("noise: peer sent a weak Diffie-Hellman key");
}

Bytes HandshakeState::write_message(ByteView payload) {
    return guarded([&] {
        if (!our_turn_to_write()) throw HandshakeError("noise: not our turn to write a handshake message");
        // Size of e / encrypted s / payload tag for messages 0, 1, 2.
        static constexpr std::size_t overhead[] = {dh_len, dh_len + dh_len + tag_len + tag_len,
                                                   dh_len + tag_len + tag_len};
        if (payload.size() > max_message_len - overhead[index_])
            throw HandshakeError("noise: handshake message larger than 65535 bytes");
        Bytes out;
        switch (index_) {
        case 0: // -> e
            write_e(out);
            break;
        case 1: // <- e, ee, s, es   (responder: es = DH(s, re))
            write_e(out);
            mix_dh(e_private_, *re_);
            write_s(out);
            mix_dh(s_private_, *re_);
            break;
        case 2: // -> s, se          (initiator: se = DH(s, re))
            write_s(out);
            mix_dh(s_private_, *re_);
            break;
        }
        const auto sealed = symmetric_.encrypt_and_hash(payload);
        out.insert(out.end(), sealed.begin(), sealed.end());
        ++index_;
        return out;
    });
}

Bytes HandshakeState::read_message(ByteView message) {
    return guarded([&] {
        if (index_ >= 3 || our_turn_to_write())
            throw HandshakeError("noise: not our turn to read a handshake message");
        if (message.size() > max_message_len) throw HandshakeError("noise: handshake message larger than 65535 bytes");
        ByteView in = message;
        switch (index_) {
        case 0: // -> e
            read_e(in);
            break;
        case 1: // <- e, ee, s, es   (initiator: es = DH(e, rs))
            read_e(in);
            mix_dh(e_private_, *re_);
            read_s(in);
            mix_dh(e_private_, *rs_);
            break;
        case 2: // -> s, se          (responder: se = DH(e, rs))
            read_s(in);
            mix_dh(e_private_, *rs_);
            break;
        }
        // After message 0 there is a key, so the payload needs at least a tag.
        if (symmetric_.has_key() && in.size() < tag_len)
            throw HandshakeError("noise: handshake message too short for its payload tag");
        auto payload = symmetric_.decrypt_and_hash(in);
        ++index_;
        return payload;
    });
}

HandshakeHash HandshakeState::handshake_hash() const {
    check_usable();
    if (index_ != 3) throw HandshakeError("noise: handshake hash asked for before the handshake finished");
    return symmetric_.handshake_hash();
}

std::pair<CipherState, CipherState> HandshakeState::split() {
    check_usable();
    if (index_ != 3) throw HandshakeError("noise: split before the handshake finished");
    if (split_done_) throw HandshakeError("noise: split twice");
    split_done_ = true;
    // The ephemeral keys have done their job; dropping them now is what
    // gives the session forward secrecy.
    wipe(e_private_);
    wipe(s_private_);
    return symmetric_.split();
}

// ------------------------------------------------------------- StaticIdentity

StaticIdentity::~StaticIdentity() { wipe(ed25519_secret); }

StaticIdentity StaticIdentity::from_seed(const std::array<std::uint8_t, 32>& seed) {
    ensure_sodium();
    StaticIdentity id;
    crypto_sign_seed_keypair(id.ed25519_public.data(), id.ed25519_secret.data(), seed.data());
    return id;
}

// ------------------------------------------------------------------ Handshake

namespace {

// Identity proof = the first 32 bytes of the payload of the message that
// carries the sender's static key (message 1 from the responder, message 2
// from the initiator, counting from 0).
constexpr std::size_t identity_message(Role role) { return role == Role::initiator ? 2 : 1; }
constexpr std::size_t identity_len = 32;

Key static_private_from(const StaticIdentity& self) {
    ensure_sodium();
    Key x_private, x_public;
    if (crypto_sign_ed25519_sk_to_curve25519(x_private.data(), self.ed25519_secret.data()) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(x_public.data(), self.ed25519_public.data()) != 0) {
        wipe(x_private);
        throw std::invalid_argument("noise: not a usable Ed25519 identity");
    }
    // Catches a StaticIdentity whose public half belongs to another seed:
    // we would otherwise announce a key we cannot prove.
    if (sodium_memcmp(x25519_public(x_private).data(), x_public.data(), x_public.size()) != 0) {
        wipe(x_private);
        throw std::invalid_argument("noise: Ed25519 secret and public key do not belong together");
    }
    return x_private;
}

} // namespace

Handshake::Handshake(Role role, const StaticIdentity& self, ByteView prologue) : local_identity_(self.ed25519_public) {
    auto x_private = static_private_from(self);
    state_ = std::make_unique<HandshakeState>(role, x_private, prologue);
    wipe(x_private);
}

Handshake Handshake::initiator(const StaticIdentity& self, ByteView prologue) {
    return Handshake(Role::initiator, self, prologue);
}

Handshake Handshake::responder(const StaticIdentity& self, ByteView prologue) {
    return Handshake(Role::responder, self, prologue);
}

Handshake::~Handshake() = default;
Handshake::Handshake(Handshake&&) noexcept = default;
Handshake& Handshake::operator=(Handshake&&) noexcept = default;

HandshakeState& Handshake::state() const {
    if (!state_) throw HandshakeError("noise: handshake was moved from");
    return *state_;
}

Bytes Handshake::write_message(ByteView payload) {
    auto& st = state();
    if (st.message_index() != identity_message(st.role())) return st.write_message(payload);
    if (payload.size() > max_message_len - identity_len) {
        st.abort();
        throw HandshakeError("noise: handshake message larger than 65535 bytes");
    }
    Bytes with_identity(local_identity_.begin(), local_identity_.end());
    with_identity.insert(with_identity.end(), payload.begin(), payload.end());
    return st.write_message(with_identity);
}

Bytes Handshake::read_message(ByteView message) {
    auto& st = state();
    const bool carries_identity =
        st.message_index() == identity_message(st.role() == Role::initiator ? Role::responder : Role::initiator);
    auto payload = st.read_message(message);
    if (!carries_identity) return payload;

    auto fail = [&](const char* why) {
        st.abort();
        throw HandshakeError(why);
    };
    if (payload.size() < identity_len) fail("noise: peer's handshake payload lacks its identity key");
    PublicKey claimed;
    std::copy_n(payload.begin(), identity_len, claimed.begin());
    Key claimed_x;
    if (crypto_sign_ed25519_pk_to_curve25519(claimed_x.data(), claimed.data()) != 0)
        fail("noise: peer's identity is not a valid Ed25519 key");
    // The handshake proved the peer holds the secret of rs; the identity is
    // only accepted if it is the Ed25519 form of that very key.
    const auto rs = st.remote_static();
    if (!rs || sodium_memcmp(claimed_x.data(), rs->data(), rs->size()) != 0)
        fail("noise: peer's identity key does not match its handshake key");
    remote_identity_ = claimed;
    return Bytes(payload.begin() + identity_len, payload.end());
}

bool Handshake::finished() const { return state_ && state_->finished() && remote_identity_.has_value(); }

PublicKey Handshake::remote_identity() const {
    if (state().failed() || !remote_identity_) throw HandshakeError("noise: peer identity not proven yet");
    return *remote_identity_;
}

HandshakeHash Handshake::handshake_hash() const { return state().handshake_hash(); }

std::pair<CipherState, CipherState> Handshake::split() {
    auto& st = state();
    if (!finished()) throw HandshakeError("noise: split before the handshake finished");
    auto [c1, c2] = st.split();
    if (st.role() == Role::initiator) return {std::move(c1), std::move(c2)};
    return {std::move(c2), std::move(c1)};
}

} // namespace earshot::proto::noise

// The one-core ceiling for a verified, encrypted stream: what libsodium alone
// does to every 64 KiB chunk a receiving daemon gets, with nothing else
// around it (no sockets, no framing, no cache, no HTTP). For N MiB of random
// data cut into 64 KiB chunks, each chunk is encrypted beforehand with its own
// nonce; the timed part decrypts each chunk (XChaCha20-Poly1305, tag checked)
// and hashes its plaintext (BLAKE2b-256, as proto::leaf_hash does). A stream
// between two daemons can at best approach this figure; stream_bench.sh
// prints the ratio.
//
// Usage: crypto_limit [MiB=256] [rounds=3]
// Prints "crypto_limit_MBps <best MB/s>" (MB = 10^6 bytes) plus the per-round
// figures; the best round is the ceiling (the others lost time to neighbours).
// Then, for reading a profile, the two halves alone (best round each):
// "decrypt_only_MBps" and "blake2b_only_MBps".
#include <sodium.h>

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr std::size_t chunk_size = 64 * 1024;
constexpr std::size_t sealed_size = chunk_size + crypto_aead_xchacha20poly1305_ietf_ABYTES;

struct Sealed {
    std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
    std::vector<unsigned char> bytes;
};

enum class Work { both, decrypt, hash };

// Decrypts and/or hashes every chunk once; returns seconds taken. `check`
// accumulates the digests so the work cannot be optimised away. For hash
// alone the ciphertext is hashed (same length, same cost).
double one_round(const std::vector<Sealed>& chunks, const unsigned char* key, unsigned char& check, Work work) {
    std::vector<unsigned char> plain(chunk_size);
    std::array<unsigned char, crypto_generichash_BYTES> digest{};
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& c : chunks) {
        unsigned long long n = chunk_size;
        if (work == Work::hash) {
            crypto_generichash(digest.data(), digest.size(), c.bytes.data(), n, nullptr, 0);
            check ^= digest[0];
            continue;
        }
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &n, nullptr, c.bytes.data(), c.bytes.size(),
                                                       nullptr, 0, c.nonce.data(), key) != 0) {
            fmt::print(stderr, "crypto_limit: a chunk failed authentication\n");
            std::exit(1);
        }
        if (work == Work::decrypt) {
            check ^= plain[0];
            continue;
        }
        crypto_generichash(digest.data(), digest.size(), plain.data(), n, nullptr, 0);
        check ^= digest[0];
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

int main(int argc, char** argv) {
    if (sodium_init() < 0) {
        fmt::print(stderr, "crypto_limit: sodium_init failed\n");
        return 1;
    }
    const std::size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
    const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 3;
    if (mib == 0) {
        fmt::print(stderr, "usage: crypto_limit [MiB=256] [rounds=3]\n");
        return 2;
    }

    std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> key{};
    crypto_aead_xchacha20poly1305_ietf_keygen(key.data());
    const std::size_t count = mib * 1024 * 1024 / chunk_size;
    std::vector<Sealed> chunks(count);
    std::vector<unsigned char> plain(chunk_size);
    for (auto& c : chunks) {
        randombytes_buf(plain.data(), plain.size());
        randombytes_buf(c.nonce.data(), c.nonce.size());
        c.bytes.resize(sealed_size);
        unsigned long long n = 0;
        crypto_aead_xchacha20poly1305_ietf_encrypt(c.bytes.data(), &n, plain.data(), plain.size(), nullptr, 0, nullptr,
                                                   c.nonce.data(), key.data());
        c.bytes.resize(n);
    }

    const double bytes = static_cast<double>(count * chunk_size);
    unsigned char check = 0;
    const auto best_of = [&](Work work, bool verbose) {
        double best = 0;
        for (int r = 0; r < rounds; ++r) {
            const double secs = one_round(chunks, key.data(), check, work);
            const double mbps = bytes / secs / 1e6;
            best = std::max(best, mbps);
            if (verbose)
                fmt::print("round {}: {} chunks, {:.1f} MB in {:.3f} s = {:.1f} MB/s\n", r + 1, count, bytes / 1e6,
                           secs, mbps);
        }
        return best;
    };
    const double limit = best_of(Work::both, true);
    const double decrypt_only = best_of(Work::decrypt, false);
    const double hash_only = best_of(Work::hash, false);
    fmt::print("digest check byte {:02x}\n", check);
    fmt::print("crypto_limit_MBps {:.1f}\n", limit);
    fmt::print("decrypt_only_MBps {:.1f}\n", decrypt_only);
    fmt::print("blake2b_only_MBps {:.1f}\n", hash_only);
    return 0;
}

#include "daemon/peers/identity.hpp"

#include "daemon/core/private_file.hpp"

#include <sodium.h>

#include <spdlog/spdlog.h>

#include <fstream>
#include <stdexcept>

namespace earshot::peers {
namespace {
constexpr std::string_view key_header = "earshot-identity-v1 ed25519-seed ";
}

Identity Identity::from_seed(const std::array<std::uint8_t, 32>& seed) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    Identity id;
    id.seed_ = seed;
    crypto_sign_seed_keypair(id.public_key_.data(), id.secret_key_.data(), seed.data());
    return id;
}

Identity Identity::load_or_create(const std::filesystem::path& data_dir) {
    const auto file = data_dir / "identity.key";
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) {
        const auto perms = std::filesystem::status(file).permissions();
        if ((perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) != std::filesystem::perms::none) {
            spdlog::warn("{} was readable by others; made it private (0600)", file.string());
            std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        }
        std::ifstream in(file);
        std::string line;
        std::getline(in, line);
        if (!line.starts_with(key_header))
            throw std::runtime_error(file.string() + " is not an earshot identity key; move it away to create a new identity");
        const auto seed = proto::hash_from_hex(std::string_view(line).substr(key_header.size()));
        if (!seed) throw std::runtime_error(file.string() + " is damaged (bad seed); restore it from a backup or move it away");
        return from_seed(*seed);
    }
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    std::array<std::uint8_t, 32> seed;
    randombytes_buf(seed.data(), seed.size());
    core::write_private_file(file, std::string(key_header) + proto::to_hex(seed) + "\n");
    auto id = from_seed(seed);
    spdlog::info("created identity {} in {}", id.peer_id(), file.string());
    return id;
}

std::array<std::uint8_t, 64> Identity::sign(proto::ByteView message) const {
    std::array<std::uint8_t, 64> sig;
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key_.data());
    return sig;
}

bool Identity::verify(const proto::PublicKey& key, proto::ByteView message, std::span<const std::uint8_t, 64> signature) {
    return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), key.data()) == 0;
}

} // namespace earshot::peers

#include "proto/peer_id.hpp"

#include <cctype>

namespace earshot::proto {
namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t key_chars = 52, group_chars = 13, groups = 4;
constexpr std::size_t id_chars = key_chars + groups; // 56
constexpr std::size_t display_group = 7;

int value_of(char c) {
    const auto pos = alphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// Luhn mod 32 over the alphabet: catches every single-character substitution
// and most swaps of neighbours within a group.
char check_char(std::string_view group) {
    constexpr int n = 32;
    int factor = 2, sum = 0;
    for (auto it = group.rbegin(); it != group.rend(); ++it) {
        int addend = factor * value_of(*it);
        factor = factor == 2 ? 1 : 2;
        sum += addend / n + addend % n;
    }
    return alphabet[static_cast<std::size_t>((n - sum % n) % n)];
}

std::string base32(const PublicKey& key) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (auto b : key) {
        buffer = buffer << 8 | b;
        bits += 8;
        while (bits >= 5) {
            out.push_back(alphabet[(buffer >> (bits - 5)) & 31]);
            bits -= 5;
        }
    }
    if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 31]);
    return out; // 52 characters; the last carries 1 key bit and 4 zero bits
}

} // namespace

std::string format_peer_id(const PublicKey& key) {
    const auto b32 = base32(key);
    std::string plain;
    for (std::size_t g = 0; g < groups; ++g) {
        const auto group = std::string_view(b32).substr(g * group_chars, group_chars);
        plain.append(group);
        plain.push_back(check_char(group));
    }
    std::string out;
    for (std::size_t i = 0; i < plain.size(); ++i) {
        if (i && i % display_group == 0) out.push_back('-');
        out.push_back(plain[i]);
    }
    return out;
}

std::variant<PublicKey, std::string> parse_peer_id(std::string_view text) {
    std::string plain;
    for (char c : text) {
        if (c == '-' || c == ' ') continue;
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (c == '0') c = 'O';
        if (c == '1') c = 'I';
        if (c == '8') c = 'B';
        if (value_of(c) < 0) return std::string("'") + c + "' cannot appear in a peer id";
        plain.push_back(c);
    }
    if (plain.size() != id_chars)
        return "a peer id has " + std::to_string(id_chars) + " characters, not " + std::to_string(plain.size());
    std::string b32;
    for (std::size_t g = 0; g < groups; ++g) {
        const auto group = std::string_view(plain).substr(g * (group_chars + 1), group_chars);
        if (plain[g * (group_chars + 1) + group_chars] != check_char(group))
            return "group " + std::to_string(g + 1) + " of 4 has a typo (its check character does not match)";
        b32.append(group);
    }
    PublicKey key{};
    std::uint32_t buffer = 0;
    int bits = 0;
    std::size_t out = 0;
    for (char c : b32) {
        buffer = buffer << 5 | static_cast<std::uint32_t>(value_of(c));
        bits += 5;
        if (bits >= 8 && out < key.size()) {
            key[out++] = static_cast<std::uint8_t>(buffer >> (bits - 8));
            bits -= 8;
        }
    }
    // The 4 bits left over after the last key byte must be zero, or two
    // spellings would name one key.
    if ((buffer & ((1u << bits) - 1)) != 0) return std::string("not a peer id (its last characters do not encode a key)");
    return key;
}

} // namespace earshot::proto

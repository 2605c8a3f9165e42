#include "proto/bytes.hpp"

#include <cstring>

namespace earshot::proto {

std::string to_hex(ByteView bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0xF]);
    }
    return out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<Bytes> from_hex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    Bytes out(hex.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_digit(hex[2 * i]);
        const int lo = hex_digit(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::optional<Hash> hash_from_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    auto bytes = from_hex(hex);
    if (!bytes) return std::nullopt;
    Hash h;
    std::memcpy(h.data(), bytes->data(), h.size());
    return h;
}

void ByteWriter::raw(ByteView v) {
    // resize + memcpy rather than vector::insert: GCC 12 at -O3 reports a
    // false -Wstringop-overflow in insert's reallocation path.
    if (v.empty()) return;
    const auto at = out_.size();
    out_.resize(at + v.size());
    std::memcpy(out_.data() + at, v.data(), v.size());
}

void ByteWriter::u32le(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void ByteWriter::u64le(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void ByteWriter::varint(std::uint64_t v) {
    while (v >= 0x80) {
        out_.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out_.push_back(static_cast<std::uint8_t>(v));
}

std::uint8_t ByteReader::u8() { return raw(1)[0]; }

std::uint32_t ByteReader::u32le() {
    const auto b = raw(4);
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | b[static_cast<std::size_t>(i)];
    return v;
}

std::uint64_t ByteReader::u64le() {
    const auto b = raw(8);
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | b[static_cast<std::size_t>(i)];
    return v;
}

std::uint64_t ByteReader::varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        const auto b = u8();
        v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            // The tenth byte may only carry the single top bit.
            if (shift == 63 && b > 1) throw DecodeError("varint overflows 64 bits");
            return v;
        }
    }
    throw DecodeError("varint longer than 10 bytes");
}

ByteView ByteReader::raw(std::size_t n) {
    if (n > remaining()) throw DecodeError("truncated input");
    const auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
}

Hash ByteReader::hash() {
    Hash h;
    const auto b = raw(h.size());
    std::memcpy(h.data(), b.data(), h.size());
    return h;
}

std::size_t ByteReader::checked_length(std::uint64_t n) const {
    if (n > remaining()) throw DecodeError("length prefix exceeds input");
    return static_cast<std::size_t>(n);
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        if (i + n >= s.size()) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = cp << 6 | (d & 0x3F);
        }
        // Overlong forms, surrogates and values above U+10FFFF are not UTF-8.
        static constexpr std::uint32_t min_cp[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

} // namespace earshot::proto

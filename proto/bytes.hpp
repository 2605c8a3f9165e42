// Byte-level building blocks shared by every encoder in earshot: the index
// records on disk and (later) the peer protocol frames. One codec, so a field
// is written and read the same way everywhere.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::proto {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;
using Hash = std::array<std::uint8_t, 32>;

// Thrown by ByteReader on truncated or malformed input. Decoders never read
// past the end of their input; the caller decides what a bad record means.
class DecodeError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The value of one hex digit (either case), or -1.
int hex_digit(char c);
std::string to_hex(ByteView bytes);
// Accepts upper or lower case; std::nullopt on odd length or a non-hex digit.
std::optional<Bytes> from_hex(std::string_view hex);
std::optional<Hash> hash_from_hex(std::string_view hex);

inline ByteView as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Appends little-endian fixed-width integers, LEB128 varints and
// length-prefixed blobs to a growing buffer.
class ByteWriter {
public:
    ByteWriter() = default;
    // Room for what the caller knows it will write: one allocation, and no
    // growth path for GCC 12's -O3 -Wstringop-overflow to misjudge.
    explicit ByteWriter(std::size_t expected_size) { out_.reserve(expected_size); }

    void u8(std::uint8_t v) { out_.push_back(v); }
    void u32le(std::uint32_t v);
    void u64le(std::uint64_t v);
    void varint(std::uint64_t v);
    void svarint(std::int64_t v) { varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
    void raw(ByteView v);
    void blob(ByteView v) { varint(v.size()); raw(v); }
    void str(std::string_view v) { blob(as_bytes(v)); }
    void hash(const Hash& h) { raw(h); }

    const Bytes& bytes() const& { return out_; }
    Bytes take() && { return std::move(out_); }

private:
    Bytes out_;
};

// Reads what ByteWriter wrote. Every accessor throws DecodeError instead of
// reading out of bounds, and blob lengths are checked against what is left.
class ByteReader {
public:
    explicit ByteReader(ByteView in) : in_(in) {}

    std::uint8_t u8();
    std::uint32_t u32le();
    std::uint64_t u64le();
    std::uint64_t varint();
    std::int64_t svarint() {
        const auto v = varint();
        return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
    }
    ByteView raw(std::size_t n);
    // The next N bytes as a fixed-size array (keys, nonces, signatures).
    template <std::size_t N>
    std::array<std::uint8_t, N> array() {
        std::array<std::uint8_t, N> out;
        const auto b = raw(N);
        std::copy(b.begin(), b.end(), out.begin());
        return out;
    }
    ByteView blob() { return raw(checked_length(varint())); }
    std::string str() {
        const auto b = blob();
        return {reinterpret_cast<const char*>(b.data()), b.size()};
    }
    Hash hash();

    std::size_t remaining() const { return in_.size() - pos_; }
    bool done() const { return pos_ == in_.size(); }

private:
    std::size_t checked_length(std::uint64_t n) const;
    ByteView in_;
    std::size_t pos_ = 0;
};

// Strict UTF-8: no overlong forms, surrogates or code points above U+10FFFF.
bool valid_utf8(std::string_view s);

} // namespace earshot::proto

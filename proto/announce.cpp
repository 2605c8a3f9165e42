#include "proto/announce.hpp"

#include <algorithm>
#include <stdexcept>

namespace earshot::proto::announce {
namespace {

// Offsets of DISCOVERY.md §2.
constexpr std::size_t name_length_offset = 4 + 1 + 32 + 2 + 8 + 8; // 55

// UTF-8 without overlong forms, surrogates or values above U+10FFFF, and
// without C0 controls or DEL: a name ends up in logs and on screens, where a
// newline or an escape sequence from a stranger on the LAN has no business.
bool valid_name(std::string_view s) {
    return valid_utf8(s) &&
           std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

void check_sendable(const Announcement& a) {
    if (a.port == 0) throw std::invalid_argument("announcement: port 0");
    if (a.name.size() > max_name_size)
        throw std::invalid_argument("announcement: name longer than " + std::to_string(max_name_size) + " bytes");
    if (!valid_name(a.name)) throw std::invalid_argument("announcement: name is not UTF-8 or has control characters");
}

// The datagram without its signature.
Bytes body(const Announcement& a) {
    check_sendable(a);
    ByteWriter w(name_length_offset + 1 + a.name.size() + signature_size);
    w.raw(magic);
    w.u8(version);
    w.raw(a.key);
    w.u8(static_cast<std::uint8_t>(a.port & 0xff));
    w.u8(static_cast<std::uint8_t>(a.port >> 8));
    w.u64le(a.timestamp_ms);
    w.raw(a.instance);
    w.u8(static_cast<std::uint8_t>(a.name.size()));
    w.raw(as_bytes(a.name));
    return std::move(w).take();
}

Bytes with_context(ByteView unsigned_part) {
    ByteWriter w(signature_context.size() + unsigned_part.size());
    w.raw(as_bytes(signature_context));
    w.raw(unsigned_part);
    return std::move(w).take();
}


} // namespace

Bytes signing_input(const Announcement& a) { return with_context(body(a)); }

Bytes encode(const Announcement& a, const Signature& signature) {
    ByteWriter w(max_size);
    w.raw(body(a));
    w.raw(signature);
    return std::move(w).take();
}

Decoded decode(ByteView datagram) {
    // Size first: every later read is then in bounds, and the one variable
    // field (the name) must account for exactly the bytes that are left.
    if (datagram.size() < min_size || datagram.size() > max_size)
        throw DecodeError("announcement: " + std::to_string(datagram.size()) + " bytes, not " +
                          std::to_string(min_size) + ".." + std::to_string(max_size));
    ByteReader r(datagram);
    const auto m = r.array<4>();
    if (m != magic) throw DecodeError("announcement: bad magic");
    if (const auto v = r.u8(); v != version)
        throw DecodeError("announcement: unsupported version " + std::to_string(v));
    Decoded d;
    auto& a = d.announcement;
    a.key = r.array<32>();
    const auto port_lo = r.u8();
    a.port = static_cast<std::uint16_t>(port_lo | (r.u8() << 8));
    if (a.port == 0) throw DecodeError("announcement: port 0");
    a.timestamp_ms = r.u64le();
    a.instance = r.array<8>();
    const std::size_t name_size = r.u8();
    if (name_size > max_name_size)
        throw DecodeError("announcement: name of " + std::to_string(name_size) + " bytes exceeds " +
                          std::to_string(max_name_size));
    if (r.remaining() != name_size + signature_size)
        throw DecodeError("announcement: name length " + std::to_string(name_size) + " does not match a datagram of " +
                          std::to_string(datagram.size()) + " bytes");
    const auto name = r.raw(name_size);
    a.name.assign(reinterpret_cast<const char*>(name.data()), name.size());
    if (!valid_name(a.name)) throw DecodeError("announcement: name is not UTF-8 or has control characters");
    d.signature = r.array<signature_size>();
    d.signed_message = with_context(datagram.first(name_length_offset + 1 + name_size));
    return d;
}

} // namespace earshot::proto::announce

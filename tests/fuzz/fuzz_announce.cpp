// Fuzz target for the LAN announcement decoder (proto/announce.hpp,
// proto/DISCOVERY.md). Built as a libFuzzer binary with clang
// (EARSHOT_FUZZ=ON) and as a CTest smoke test with standalone_driver.cpp.
//
// Two views of each input:
//   1. the whole input as a received datagram;
//   2. the input as a recipe: its first bytes choose the fields of a
//      well-formed announcement (key, port, timestamp, instance, a name of
//      mixed ASCII and multi-byte UTF-8, signature bytes), which must
//      round-trip; the rest of the input then edits that encoding (overwrite,
//      flip, insert, delete, truncate) and the result goes through view 1.
//      So even inputs that know nothing of the format (the standalone
//      driver's seeds are peer frames) reach every check of the decoder.
// Only DecodeError is an acceptable failure. Whatever decodes must re-encode
// to exactly the input (the encoding is canonical), and its signed message
// must be the context string followed by the bytes before the signature.
#include "proto/announce.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace earshot::proto;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_announce: %s\n", what);
    std::abort();
}

void check_datagram(ByteView in) {
    announce::Decoded d;
    try {
        d = announce::decode(in);
    } catch (const DecodeError&) {
        return;
    }
    if (in.size() < announce::min_size || in.size() > announce::max_size) fail("decoded a datagram of a bad size");
    Bytes again;
    try {
        again = announce::encode(d.announcement, d.signature);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "re-encoding threw: %s\n", e.what());
        fail("a decoded announcement did not re-encode");
    }
    if (!std::equal(again.begin(), again.end(), in.begin(), in.end())) fail("encode(decode(x)) != x");
    Bytes expect(announce::signature_context.begin(), announce::signature_context.end());
    expect.insert(expect.end(), in.begin(), in.end() - announce::signature_size);
    if (d.signed_message != expect) fail("signed message is not context || datagram without signature");
    if (announce::signing_input(d.announcement) != d.signed_message) fail("signing_input disagrees with decode");
}

// Reads the recipe; past its end, zeros.
struct Cursor {
    ByteView in;
    std::size_t at = 0;
    std::uint8_t next() { return at < in.size() ? in[at++] : 0; }
    bool more() const { return at < in.size(); }
};

void recipe(ByteView in) {
    Cursor c{in};
    announce::Announcement a;
    for (auto& b : a.key) b = c.next();
    a.port = static_cast<std::uint16_t>(c.next() | c.next() << 8);
    if (a.port == 0) a.port = 1;
    for (int i = 0; i < 8; ++i) a.timestamp_ms |= std::uint64_t{c.next()} << (8 * i);
    for (auto& b : a.instance) b = c.next();
    static constexpr const char* pieces[] = {"a", "Z", " ", "-", "é", "♫", "𝄞", "ß"};
    const std::size_t want = c.next() % (announce::max_name_size + 1);
    while (c.more()) {
        const std::string piece = pieces[c.next() % std::size(pieces)];
        if (a.name.size() + piece.size() > want) break;
        a.name += piece;
    }
    announce::Signature sig;
    for (auto& b : sig) b = c.next();

    const Bytes good = announce::encode(a, sig);
    announce::Decoded d;
    try {
        d = announce::decode(good);
    } catch (const DecodeError& e) {
        std::fprintf(stderr, "decoding threw: %s\n", e.what());
        fail("a well-formed announcement did not decode");
    }
    if (!(d.announcement == a) || d.signature != sig) fail("decode(encode(x)) != x");
    check_datagram(good);

    Bytes edited = good;
    while (c.more() && !edited.empty()) {
        const std::size_t at = c.next() % edited.size();
        const std::uint8_t v = c.next();
        switch (c.next() % 5) {
        case 0: edited[at] = v; break;
        case 1: edited[at] ^= static_cast<std::uint8_t>(1u << (v % 8)); break;
        case 2: edited.insert(edited.begin() + static_cast<std::ptrdiff_t>(at), v); break;
        case 3: edited.erase(edited.begin() + static_cast<std::ptrdiff_t>(at)); break;
        case 4: edited.resize(at); break;
        }
    }
    check_datagram(edited);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);
    check_datagram(in);
    recipe(in);
    return 0;
}

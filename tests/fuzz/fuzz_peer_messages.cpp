// Fuzz target for the peer protocol decoders (proto/frame.hpp,
// proto/messages.hpp). Built as a libFuzzer binary with clang
// (EARSHOT_FUZZ=ON) and as a CTest smoke test with standalone_driver.cpp.
//
// Two views of each input, so the fuzzer need not discover the framing to
// reach the message decoders:
//   1. the whole input as a byte stream through FrameReader, split where the
//      input's own bytes say, each frame through decode_message;
//   2. the first byte as a message type and the rest as its payload.
// Only DecodeError (and its subclass ProtocolError) is an acceptable failure.
// Whatever decodes must re-encode and decode to the same value.
#include "proto/frame.hpp"
#include "proto/messages.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

using namespace earshot::proto;

namespace {

[[noreturn]] void fail(const char* what, MessageType type) {
    std::fprintf(stderr, "fuzz_peer_messages: %s (message type %d)\n", what, static_cast<int>(type));
    std::abort();
}

void check_message(MessageType type, ByteView payload) {
    std::optional<Message> m;
    try {
        m = decode_message(type, payload);
    } catch (const DecodeError&) {
        return;
    }
    if (!m) return; // unknown type: skipped, as a peer must
    if (message_type(*m) != type) fail("decoded to another message type", type);
    Bytes again;
    try {
        again = encode(*m);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "re-encoding threw: %s\n", e.what());
        fail("a decoded message did not re-encode", type);
    }
    if (again.size() > max_payload_size) fail("re-encoded payload exceeds a frame", type);
    std::optional<Message> back;
    try {
        back = decode_message(type, again);
    } catch (const DecodeError& e) {
        std::fprintf(stderr, "decoding the re-encoding threw: %s\n", e.what());
        fail("re-encoded message did not decode", type);
    }
    if (!back || !(*back == *m)) fail("decode(encode(x)) != x", type);
    // A value's encoding is canonical once it has been through the encoder.
    if (encode(*back) != again) fail("encoding is not stable", type);
}

void frames(ByteView in) {
    FrameReader reader;
    // The split sizes come from the input itself, so libFuzzer can explore
    // how pieces land on header and payload boundaries.
    std::size_t step = in.empty() ? 1 : static_cast<std::size_t>(in[0] % 17) + 1;
    try {
        while (!in.empty()) {
            ByteView piece = in.first(std::min(step, in.size()));
            in = in.subspan(piece.size());
            while (!piece.empty()) {
                piece = piece.subspan(reader.feed(piece));
                if (reader.buffered() > max_frame_size) std::abort();
                while (auto f = reader.next()) {
                    if (f->payload.size() > max_payload_size) std::abort();
                    check_message(f->type, f->payload);
                }
            }
            step = step * 7 % 31 + 1;
        }
    } catch (const DecodeError&) {
        // ProtocolError: the connection would be closed here.
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const ByteView in(data, size);
    frames(in);
    if (!in.empty()) check_message(static_cast<MessageType>(in[0] % 16), in.subspan(1));
    return 0;
}

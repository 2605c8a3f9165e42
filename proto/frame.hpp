// Framing of the earshot peer protocol (proto/PEER_PROTOCOL.md §3). Frames
// travel inside the encrypted channel; this layer only cuts a byte stream into
// bounded, versioned frames. It never interprets payloads (proto/messages.hpp
// does) so that a frame of a message type this build does not know can still
// be skipped cleanly.
#pragma once

#include "proto/bytes.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace earshot::proto {

// Version of the frame layout itself. Message-level evolution is negotiated in
// Hello (protocol_version); this byte only changes if the header changes.
inline constexpr std::uint8_t frame_version = 1;

// Header: u8 frame version, u8 message type, u32le payload length.
inline constexpr std::size_t frame_header_size = 6;

// Chunk data carries at most one 64 KiB chunk and Leaves at most 1 MiB of
// hashes, so 1 MiB plus room for the other fields of a message is ample.
// A peer announcing a longer payload is violating the protocol.
inline constexpr std::size_t max_payload_size = 1024 * 1024 + 4096;
inline constexpr std::size_t max_frame_size = frame_header_size + max_payload_size;

enum class MessageType : std::uint8_t {
    hello = 1,
    query = 2,
    results = 3,
    cancel = 4,
    chunk_request = 5,
    chunk_data = 6,
    leaves = 7,
    have_map = 8,
    ping = 9,
    pong = 10,
    error = 11,
};

// A violation of the framing rules (bad version, oversize length). The
// connection cannot be resynchronised after one: the caller must close it.
class ProtocolError : public DecodeError {
public:
    using DecodeError::DecodeError;
};

struct Frame {
    // Any byte value is possible here: unknown types are delivered, not
    // rejected, so the message layer can skip them (forward compatibility).
    MessageType type{};
    Bytes payload;

    bool operator==(const Frame&) const = default;
};

// Header + payload. Throws std::length_error if payload exceeds
// max_payload_size: sending it would make the peer drop the connection.
Bytes encode_frame(MessageType type, ByteView payload);
// The header alone, for a writer that places the payload itself; the same
// check.
std::array<std::uint8_t, frame_header_size> frame_header(MessageType type, std::size_t payload_size);

// Incremental frame parser. Input may be split at any byte. It holds at most
// one frame (never more than max_frame_size bytes): feed() stops consuming as
// soon as a frame is complete and resumes once next() has taken it. Headers
// are checked as soon as their bytes arrive, so an oversize length is rejected
// before any of its payload is buffered.
//
//     while (!in.empty()) {
//         in = in.subspan(reader.feed(in));
//         while (auto frame = reader.next()) handle(*frame);
//     }
class FrameReader {
public:
    // Consumes a prefix of `data` and returns its length (< data.size() only
    // when a complete frame is waiting for next()). Throws ProtocolError on a
    // bad version or a length above max_payload_size; the reader is then
    // unusable (every later call throws again).
    [[nodiscard]] std::size_t feed(ByteView data);

    // The completed frame, if any.
    std::optional<Frame> next();

    // Bytes held for the frame in progress (header + payload so far).
    std::size_t buffered() const { return header_fill_ + payload_.size(); }

private:
    void check_header();

    std::uint8_t header_[frame_header_size]{};
    std::size_t header_fill_ = 0;
    std::size_t payload_length_ = 0;
    Bytes payload_;
    bool complete_ = false;
    std::optional<std::string> failure_;
};

} // namespace earshot::proto

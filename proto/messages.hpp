// Messages of the earshot peer protocol (proto/PEER_PROTOCOL.md §4): value
// types, payload encoders and validating decoders. Every field goes through
// proto/bytes.hpp. Decoders throw DecodeError on anything malformed — a
// truncation, a count above its bound, a string over max_string_size or not
// UTF-8, an enum value out of range, trailing bytes — and allocate no more
// than the payload they were given could justify.
#pragma once

#include "proto/bytes.hpp"
#include "proto/frame.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace earshot::proto {

// Message-level protocol version announced in Hello.
inline constexpr std::uint32_t peer_protocol_version = 1;

inline constexpr std::size_t max_string_size = 4096;
inline constexpr std::size_t max_results_per_frame = 256;
inline constexpr std::size_t max_artists_per_entry = 32;
inline constexpr std::uint32_t max_chunks_per_request = 64;
inline constexpr std::size_t max_chunk_data_size = 64 * 1024; // == chunk_size
inline constexpr std::uint64_t max_leaves_per_frame = 32768;  // 1 MiB of hashes
// A HaveMap bitmap must fit in one frame: 8 Mi chunks = 512 GiB of content.
inline constexpr std::uint64_t max_have_map_chunks = 8ull * 1024 * 1024;
inline constexpr std::uint32_t max_score_millionths = 1'000'000;

// Capability bits in Hello. Unknown bits are ignored, never rejected.
namespace capability {
inline constexpr std::uint64_t search = 1u << 0;       // answers Query
inline constexpr std::uint64_t serve_chunks = 1u << 1; // answers ChunkRequest
} // namespace capability

struct Hello {
    std::uint32_t protocol_version = peer_protocol_version; // >= 1
    std::string daemon_version;
    std::string name;
    std::uint64_t capabilities = 0;
    bool operator==(const Hello&) const = default;
};

struct Query {
    std::uint64_t query_id = 0;
    std::string artist, track, album, text;
    // Sent as whole milliseconds (<= 2^32-1), so it round-trips only to 1 ms.
    std::optional<double> duration_s;
    bool operator==(const Query&) const = default;
};

struct ResultEntry {
    Hash content_id{};
    std::uint64_t size = 0;
    // Each artist tag as it is, main artist first: names with commas
    // ("Crosby, Stills, Nash & Young") stay whole.
    std::vector<std::string> artists; // <= max_artists_per_entry
    std::string track, album, mimetype;
    std::uint32_t bitrate_kbps = 0;
    std::uint32_t duration_ms = 0;
    // In [0, 1], sent as millionths: it round-trips to 1e-6.
    double score = 0;
    std::string recording;
    std::uint32_t quality = 0;
    bool operator==(const ResultEntry&) const = default;
};

struct Results {
    std::uint64_t query_id = 0;
    std::vector<ResultEntry> entries; // <= max_results_per_frame
    bool final = false;               // no more Results for this query_id
    bool operator==(const Results&) const = default;
};

struct Cancel {
    std::uint64_t query_id = 0;
    bool operator==(const Cancel&) const = default;
};

struct ChunkRequest {
    std::uint64_t request_id = 0;
    Hash content_id{};
    std::uint64_t first_chunk = 0;
    std::uint32_t count = 1; // 1..max_chunks_per_request
    bool operator==(const ChunkRequest&) const = default;
};

struct ChunkData {
    std::uint64_t request_id = 0;
    Hash content_id{};
    std::uint64_t chunk_index = 0;
    Bytes data; // <= max_chunk_data_size
    bool operator==(const ChunkData&) const = default;
};

// One segment of a content's leaf layer. The layer of chunk_count(size) leaves
// is cut into fixed segments of max_leaves_per_frame: segment k starts at
// first_leaf = k * max_leaves_per_frame and holds
// min(max_leaves_per_frame, total - first_leaf) leaves. Most files (< 2 GiB)
// need exactly one segment with first_leaf == 0.
struct Leaves {
    std::uint64_t request_id = 0;
    Hash content_id{};
    std::uint64_t size = 0;
    std::uint64_t first_leaf = 0;
    std::vector<Hash> leaves;
    bool operator==(const Leaves&) const = default;
};

struct HaveMap {
    Hash content_id{};
    std::uint64_t size = 0; // chunk_count(size) <= max_have_map_chunks
    // Bit i (byte i/8, bit i%8, least significant first) = chunk i present.
    // Exactly ceil(chunk_count(size)/8) bytes; padding bits are zero.
    Bytes bitmap;
    bool operator==(const HaveMap&) const = default;
};

struct Ping {
    std::uint64_t nonce = 0;
    bool operator==(const Ping&) const = default;
};

struct Pong {
    std::uint64_t nonce = 0;
    bool operator==(const Pong&) const = default;
};

enum class ErrorCode : std::uint32_t {
    unknown_content = 1,
    not_permitted = 2,
    bad_request = 3,
    overloaded = 4,
    internal = 5,
};

struct Error {
    ErrorCode code = ErrorCode::internal;
    // The query_id or request_id this error answers; 0 = the connection as a
    // whole (ids are never 0, so there is no ambiguity).
    std::uint64_t ref_id = 0;
    std::string message;
    bool operator==(const Error&) const = default;
};

using Message = std::variant<Hello, Query, Results, Cancel, ChunkRequest, ChunkData, Leaves, HaveMap, Ping,
                             Pong, Error>;

// query_id and request_id are chosen by the requester, unique among its
// outstanding requests on the connection, and never 0 (0 is "no request" in
// Error.ref_id): decoders reject 0, encoders throw std::invalid_argument.

// Encoders return the payload. They throw std::invalid_argument for a value
// that breaks the limits above (a decoder would reject it anyway).
Bytes encode(const Hello&);
Bytes encode(const Query&);
Bytes encode(const Results&);
Bytes encode(const Cancel&);
Bytes encode(const ChunkRequest&);
Bytes encode(const ChunkData&);
Bytes encode(const Leaves&);
Bytes encode(const HaveMap&);
Bytes encode(const Ping&);
Bytes encode(const Pong&);
Bytes encode(const Error&);
Bytes encode(const Message&);

Hello decode_hello(ByteView payload);
Query decode_query(ByteView payload);
Results decode_results(ByteView payload);
Cancel decode_cancel(ByteView payload);
ChunkRequest decode_chunk_request(ByteView payload);
ChunkData decode_chunk_data(ByteView payload);
Leaves decode_leaves(ByteView payload);
HaveMap decode_have_map(ByteView payload);
Ping decode_ping(ByteView payload);
Pong decode_pong(ByteView payload);
Error decode_error(ByteView payload);

MessageType message_type(const Message&);
// A whole frame (header + payload) for a message.
Bytes encode_frame(const Message&);

// std::nullopt for a type this build does not know (a newer peer's message:
// skip it); throws DecodeError for a malformed payload of a known type.
std::optional<Message> decode_message(MessageType type, ByteView payload);

// Leaves: how many leaves the segment starting at first_leaf must carry for
// content of `size` bytes; throws DecodeError if first_leaf is not a segment start.
std::uint64_t expected_leaf_count(std::uint64_t size, std::uint64_t first_leaf);
// Cuts a complete leaf layer into the Leaves frames that carry it.
// Throws std::invalid_argument if leaves.size() != chunk_count(size).
std::vector<Leaves> split_leaves(std::uint64_t request_id, const Hash& content_id, std::uint64_t size,
                                 std::span<const Hash> leaves);

// HaveMap: the bitmap length for content of `size` bytes, and bit access.
std::size_t have_map_bytes(std::uint64_t size);
bool have_chunk(const HaveMap&, std::uint64_t chunk_index);

std::string_view to_string(ErrorCode);

} // namespace earshot::proto

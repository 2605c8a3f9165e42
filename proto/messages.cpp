#include "proto/messages.hpp"

#include "proto/content_id.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace earshot::proto {
namespace {

// Smallest encoding of a ResultEntry: hash, then nine one-byte fields.
constexpr std::size_t min_result_entry_size = 32 + 9;
constexpr std::uint32_t max_duration_ms = std::numeric_limits<std::uint32_t>::max();

// --- writing ---------------------------------------------------------------

void put_str(ByteWriter& w, std::string_view s, const char* field) {
    if (s.size() > max_string_size)
        throw std::invalid_argument(std::string(field) + " longer than " + std::to_string(max_string_size) +
                                    " bytes");
    if (!valid_utf8(s)) throw std::invalid_argument(std::string(field) + " is not valid UTF-8");
    w.str(s);
}

void put_bool(ByteWriter& w, bool b) { w.u8(b ? 1 : 0); }

std::uint32_t score_to_millionths(double score) {
    if (std::isnan(score)) throw std::invalid_argument("result score is NaN");
    // Scores are defined on [0, 1]; arithmetic may overshoot by an ulp.
    const double clamped = std::clamp(score, 0.0, 1.0);
    return static_cast<std::uint32_t>(std::llround(clamped * max_score_millionths));
}

std::uint32_t duration_to_ms(double seconds) {
    const double ms = std::round(seconds * 1000.0);
    if (!std::isfinite(ms) || ms < 0 || ms > max_duration_ms)
        throw std::invalid_argument("query duration out of range");
    return static_cast<std::uint32_t>(ms);
}

// --- reading ---------------------------------------------------------------

std::string get_str(ByteReader& r, const char* field) {
    const std::uint64_t n = r.varint();
    if (n > max_string_size)
        throw DecodeError(std::string(field) + ": string of " + std::to_string(n) + " bytes exceeds " +
                          std::to_string(max_string_size));
    const auto b = r.raw(static_cast<std::size_t>(n));
    std::string s(reinterpret_cast<const char*>(b.data()), b.size());
    if (!valid_utf8(s)) throw DecodeError(std::string(field) + ": not valid UTF-8");
    return s;
}

std::uint32_t get_u32(ByteReader& r, const char* field) {
    const std::uint64_t v = r.varint();
    if (v > std::numeric_limits<std::uint32_t>::max())
        throw DecodeError(std::string(field) + ": " + std::to_string(v) + " does not fit 32 bits");
    return static_cast<std::uint32_t>(v);
}

bool get_bool(ByteReader& r, const char* field) {
    const auto b = r.u8();
    if (b > 1) throw DecodeError(std::string(field) + ": boolean byte " + std::to_string(b));
    return b == 1;
}

std::uint64_t get_id(ByteReader& r, const char* field) {
    const std::uint64_t id = r.varint();
    if (id == 0) throw DecodeError(std::string(field) + ": id 0 is reserved");
    return id;
}

void put_id(ByteWriter& w, std::uint64_t id, const char* field) {
    if (id == 0) throw std::invalid_argument(std::string(field) + ": id 0 is reserved");
    w.varint(id);
}

void finish(const ByteReader& r, const char* message) {
    if (!r.done())
        throw DecodeError(std::string(message) + ": " + std::to_string(r.remaining()) + " trailing bytes");
}

void put_entry(ByteWriter& w, const ResultEntry& e) {
    w.hash(e.content_id);
    w.varint(e.size);
    if (e.artists.size() > max_artists_per_entry)
        throw std::invalid_argument("ResultEntry: " + std::to_string(e.artists.size()) + " artists, more than " +
                                    std::to_string(max_artists_per_entry));
    w.varint(e.artists.size());
    for (const auto& a : e.artists) put_str(w, a, "artist");
    put_str(w, e.track, "track");
    put_str(w, e.album, "album");
    put_str(w, e.mimetype, "mimetype");
    w.varint(e.bitrate_kbps);
    w.varint(e.duration_ms);
    w.varint(score_to_millionths(e.score));
    put_str(w, e.recording, "recording");
    w.varint(e.quality);
}

ResultEntry get_entry(ByteReader& r) {
    ResultEntry e;
    e.content_id = r.hash();
    e.size = r.varint();
    const auto artists = r.varint();
    if (artists > max_artists_per_entry)
        throw DecodeError("Results.artists: " + std::to_string(artists) + " is above " +
                          std::to_string(max_artists_per_entry));
    e.artists.reserve(static_cast<std::size_t>(artists));
    for (std::uint64_t i = 0; i < artists; ++i) e.artists.push_back(get_str(r, "Results.artist"));
    e.track = get_str(r, "Results.track");
    e.album = get_str(r, "Results.album");
    e.mimetype = get_str(r, "Results.mimetype");
    e.bitrate_kbps = get_u32(r, "Results.bitrate_kbps");
    e.duration_ms = get_u32(r, "Results.duration_ms");
    const std::uint32_t score = get_u32(r, "Results.score");
    if (score > max_score_millionths)
        throw DecodeError("Results.score: " + std::to_string(score) + " millionths is above 1");
    e.score = static_cast<double>(score) / max_score_millionths;
    e.recording = get_str(r, "Results.recording");
    e.quality = get_u32(r, "Results.quality");
    return e;
}

void check_chunk_request(std::uint64_t first_chunk, std::uint64_t count) {
    if (count == 0 || count > max_chunks_per_request)
        throw DecodeError("ChunkRequest.count " + std::to_string(count) + " outside 1.." +
                          std::to_string(max_chunks_per_request));
    if (first_chunk > std::numeric_limits<std::uint64_t>::max() - count)
        throw DecodeError("ChunkRequest: chunk range overflows");
}

// Checked from the declared length, before the bitmap bytes are read.
void check_have_map_length(std::uint64_t size, std::uint64_t bitmap_size) {
    if (chunk_count(size) > max_have_map_chunks)
        throw DecodeError("HaveMap.size " + std::to_string(size) + " needs more than one frame of bitmap");
    const std::size_t expected = have_map_bytes(size);
    if (bitmap_size != expected)
        throw DecodeError("HaveMap.bitmap is " + std::to_string(bitmap_size) + " bytes, expected " +
                          std::to_string(expected));
}

// Canonical form: bits past the last chunk are zero, so one set of chunks has
// exactly one encoding.
void check_have_map_padding(std::uint64_t size, const Bytes& bitmap) {
    const auto used = static_cast<unsigned>(chunk_count(size) % 8);
    if (used != 0 && !bitmap.empty() && (bitmap.back() >> used) != 0)
        throw DecodeError("HaveMap.bitmap has padding bits set");
}

} // namespace

std::string_view to_string(ErrorCode c) {
    switch (c) {
    case ErrorCode::unknown_content: return "unknown content";
    case ErrorCode::not_permitted: return "not permitted";
    case ErrorCode::bad_request: return "bad request";
    case ErrorCode::overloaded: return "overloaded";
    case ErrorCode::internal: return "internal error";
    }
    return "unknown error code";
}

std::size_t have_map_bytes(std::uint64_t size) {
    return static_cast<std::size_t>((chunk_count(size) + 7) / 8);
}

bool have_chunk(const HaveMap& m, std::uint64_t chunk_index) {
    if (chunk_index >= chunk_count(m.size) || chunk_index / 8 >= m.bitmap.size()) return false;
    return (m.bitmap[static_cast<std::size_t>(chunk_index / 8)] >> (chunk_index % 8)) & 1;
}

std::uint64_t expected_leaf_count(std::uint64_t size, std::uint64_t first_leaf) {
    const std::uint64_t total = chunk_count(size);
    if (first_leaf >= total || first_leaf % max_leaves_per_frame != 0)
        throw DecodeError("Leaves.first_leaf " + std::to_string(first_leaf) + " is not a segment start for " +
                          std::to_string(total) + " leaves");
    return std::min(max_leaves_per_frame, total - first_leaf);
}

std::vector<Leaves> split_leaves(std::uint64_t request_id, const Hash& content_id, std::uint64_t size,
                                 std::span<const Hash> leaves) {
    if (leaves.size() != chunk_count(size))
        throw std::invalid_argument("leaf layer has " + std::to_string(leaves.size()) + " leaves, content of " +
                                    std::to_string(size) + " bytes needs " + std::to_string(chunk_count(size)));
    std::vector<Leaves> out;
    for (std::uint64_t first = 0; first < leaves.size(); first += max_leaves_per_frame) {
        const auto n = static_cast<std::size_t>(expected_leaf_count(size, first));
        const auto seg = leaves.subspan(static_cast<std::size_t>(first), n);
        out.push_back(Leaves{request_id, content_id, size, first, {seg.begin(), seg.end()}});
    }
    return out;
}

// --- Hello -----------------------------------------------------------------

Bytes encode(const Hello& m) {
    if (m.protocol_version == 0) throw std::invalid_argument("Hello.protocol_version must be >= 1");
    ByteWriter w;
    w.varint(m.protocol_version);
    put_str(w, m.daemon_version, "Hello.daemon_version");
    put_str(w, m.name, "Hello.name");
    w.u64le(m.capabilities);
    return std::move(w).take();
}

Hello decode_hello(ByteView payload) {
    ByteReader r(payload);
    Hello m;
    m.protocol_version = get_u32(r, "Hello.protocol_version");
    if (m.protocol_version == 0) throw DecodeError("Hello.protocol_version 0 is invalid");
    m.daemon_version = get_str(r, "Hello.daemon_version");
    m.name = get_str(r, "Hello.name");
    m.capabilities = r.u64le();
    finish(r, "Hello");
    return m;
}

// --- Query -----------------------------------------------------------------

Bytes encode(const Query& m) {
    ByteWriter w;
    put_id(w, m.query_id, "Query.query_id");
    put_str(w, m.artist, "Query.artist");
    put_str(w, m.track, "Query.track");
    put_str(w, m.album, "Query.album");
    put_str(w, m.text, "Query.text");
    put_bool(w, m.duration_s.has_value());
    if (m.duration_s) w.varint(duration_to_ms(*m.duration_s));
    return std::move(w).take();
}

Query decode_query(ByteView payload) {
    ByteReader r(payload);
    Query m;
    m.query_id = get_id(r, "Query.query_id");
    m.artist = get_str(r, "Query.artist");
    m.track = get_str(r, "Query.track");
    m.album = get_str(r, "Query.album");
    m.text = get_str(r, "Query.text");
    if (get_bool(r, "Query.has_duration"))
        m.duration_s = static_cast<double>(get_u32(r, "Query.duration_ms")) / 1000.0;
    finish(r, "Query");
    return m;
}

// --- Results ---------------------------------------------------------------

Bytes encode(const Results& m) {
    if (m.entries.size() > max_results_per_frame)
        throw std::invalid_argument("Results: more than " + std::to_string(max_results_per_frame) +
                                    " entries in one frame");
    ByteWriter w;
    put_id(w, m.query_id, "Results.query_id");
    w.varint(m.entries.size());
    for (const auto& e : m.entries) put_entry(w, e);
    put_bool(w, m.final);
    return std::move(w).take();
}

Results decode_results(ByteView payload) {
    ByteReader r(payload);
    Results m;
    m.query_id = get_id(r, "Results.query_id");
    const std::uint64_t n = r.varint();
    if (n > max_results_per_frame) throw DecodeError("Results: " + std::to_string(n) + " entries exceed the limit");
    if (n > r.remaining() / min_result_entry_size)
        throw DecodeError("Results: " + std::to_string(n) + " entries cannot fit the payload");
    m.entries.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) m.entries.push_back(get_entry(r));
    m.final = get_bool(r, "Results.final");
    finish(r, "Results");
    return m;
}

// --- Cancel ----------------------------------------------------------------

Bytes encode(const Cancel& m) {
    ByteWriter w;
    put_id(w, m.query_id, "Cancel.query_id");
    return std::move(w).take();
}

Cancel decode_cancel(ByteView payload) {
    ByteReader r(payload);
    Cancel m{get_id(r, "Cancel.query_id")};
    finish(r, "Cancel");
    return m;
}

// --- ChunkRequest ----------------------------------------------------------

Bytes encode(const ChunkRequest& m) {
    try {
        check_chunk_request(m.first_chunk, m.count);
    } catch (const DecodeError& e) {
        throw std::invalid_argument(e.what());
    }
    ByteWriter w;
    put_id(w, m.request_id, "ChunkRequest.request_id");
    w.hash(m.content_id);
    w.varint(m.first_chunk);
    w.varint(m.count);
    return std::move(w).take();
}

ChunkRequest decode_chunk_request(ByteView payload) {
    ByteReader r(payload);
    ChunkRequest m;
    m.request_id = get_id(r, "ChunkRequest.request_id");
    m.content_id = r.hash();
    m.first_chunk = r.varint();
    const std::uint64_t count = r.varint();
    check_chunk_request(m.first_chunk, count);
    m.count = static_cast<std::uint32_t>(count);
    finish(r, "ChunkRequest");
    return m;
}

// --- ChunkData -------------------------------------------------------------

Bytes encode(const ChunkData& m) {
    if (m.data.size() > max_chunk_data_size) throw std::invalid_argument("ChunkData.data larger than a chunk");
    ByteWriter w;
    put_id(w, m.request_id, "ChunkData.request_id");
    w.hash(m.content_id);
    w.varint(m.chunk_index);
    w.blob(m.data);
    return std::move(w).take();
}

ChunkData decode_chunk_data(ByteView payload) {
    ByteReader r(payload);
    ChunkData m;
    m.request_id = get_id(r, "ChunkData.request_id");
    m.content_id = r.hash();
    m.chunk_index = r.varint();
    const std::uint64_t n = r.varint();
    if (n > max_chunk_data_size)
        throw DecodeError("ChunkData.data of " + std::to_string(n) + " bytes exceeds one chunk");
    const auto data = r.raw(static_cast<std::size_t>(n));
    m.data.assign(data.begin(), data.end());
    finish(r, "ChunkData");
    return m;
}

// --- Leaves ----------------------------------------------------------------

Bytes encode(const Leaves& m) {
    std::uint64_t expected = 0;
    try {
        expected = expected_leaf_count(m.size, m.first_leaf);
    } catch (const DecodeError& e) {
        throw std::invalid_argument(e.what());
    }
    if (m.leaves.size() != expected)
        throw std::invalid_argument("Leaves: segment holds " + std::to_string(m.leaves.size()) + " leaves, expected " +
                                    std::to_string(expected));
    ByteWriter w;
    put_id(w, m.request_id, "Leaves.request_id");
    w.hash(m.content_id);
    w.varint(m.size);
    w.varint(m.first_leaf);
    w.varint(m.leaves.size());
    for (const auto& h : m.leaves) w.hash(h);
    return std::move(w).take();
}

Leaves decode_leaves(ByteView payload) {
    ByteReader r(payload);
    Leaves m;
    m.request_id = get_id(r, "Leaves.request_id");
    m.content_id = r.hash();
    m.size = r.varint();
    m.first_leaf = r.varint();
    const std::uint64_t n = r.varint();
    const std::uint64_t expected = expected_leaf_count(m.size, m.first_leaf);
    if (n != expected)
        throw DecodeError("Leaves: " + std::to_string(n) + " leaves where content of " + std::to_string(m.size) +
                          " bytes needs " + std::to_string(expected) + " in this segment");
    // expected <= max_leaves_per_frame; also check the bytes are really there
    // before allocating for them.
    if (n > r.remaining() / sizeof(Hash)) throw DecodeError("Leaves: truncated leaf layer");
    m.leaves.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) m.leaves.push_back(r.hash());
    finish(r, "Leaves");
    return m;
}

// --- HaveMap ---------------------------------------------------------------

Bytes encode(const HaveMap& m) {
    try {
        check_have_map_length(m.size, m.bitmap.size());
        check_have_map_padding(m.size, m.bitmap);
    } catch (const DecodeError& e) {
        throw std::invalid_argument(e.what());
    }
    ByteWriter w;
    w.hash(m.content_id);
    w.varint(m.size);
    w.blob(m.bitmap);
    return std::move(w).take();
}

HaveMap decode_have_map(ByteView payload) {
    ByteReader r(payload);
    HaveMap m;
    m.content_id = r.hash();
    m.size = r.varint();
    const std::uint64_t n = r.varint();
    check_have_map_length(m.size, n);
    const auto bits = r.raw(static_cast<std::size_t>(n));
    m.bitmap.assign(bits.begin(), bits.end());
    check_have_map_padding(m.size, m.bitmap);
    finish(r, "HaveMap");
    return m;
}

// --- Ping / Pong -----------------------------------------------------------

namespace {
// Ping and Pong share one layout: a u64 nonce.
template <class T>
Bytes encode_nonce(const T& m) {
    ByteWriter w;
    w.u64le(m.nonce);
    return std::move(w).take();
}

template <class T>
T decode_nonce(ByteView payload, const char* name) {
    ByteReader r(payload);
    T m{r.u64le()};
    finish(r, name);
    return m;
}
} // namespace

Bytes encode(const Ping& m) { return encode_nonce(m); }
Bytes encode(const Pong& m) { return encode_nonce(m); }
Ping decode_ping(ByteView payload) { return decode_nonce<Ping>(payload, "Ping"); }
Pong decode_pong(ByteView payload) { return decode_nonce<Pong>(payload, "Pong"); }

// --- Error -----------------------------------------------------------------

Bytes encode(const Error& m) {
    const auto code = static_cast<std::uint32_t>(m.code);
    if (code < static_cast<std::uint32_t>(ErrorCode::unknown_content) ||
        code > static_cast<std::uint32_t>(ErrorCode::internal))
        throw std::invalid_argument("Error.code " + std::to_string(code) + " is not defined");
    ByteWriter w;
    w.varint(code);
    w.varint(m.ref_id);
    put_str(w, m.message, "Error.message");
    return std::move(w).take();
}

Error decode_error(ByteView payload) {
    ByteReader r(payload);
    Error m;
    const std::uint32_t code = get_u32(r, "Error.code");
    if (code < static_cast<std::uint32_t>(ErrorCode::unknown_content) ||
        code > static_cast<std::uint32_t>(ErrorCode::internal))
        throw DecodeError("Error.code " + std::to_string(code) + " is not defined");
    m.code = static_cast<ErrorCode>(code);
    m.ref_id = r.varint();
    m.message = get_str(r, "Error.message");
    finish(r, "Error");
    return m;
}

// --- the variant -----------------------------------------------------------

namespace {
template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;
} // namespace

MessageType message_type(const Message& m) {
    return std::visit(overloaded{
                          [](const Hello&) { return MessageType::hello; },
                          [](const Query&) { return MessageType::query; },
                          [](const Results&) { return MessageType::results; },
                          [](const Cancel&) { return MessageType::cancel; },
                          [](const ChunkRequest&) { return MessageType::chunk_request; },
                          [](const ChunkData&) { return MessageType::chunk_data; },
                          [](const Leaves&) { return MessageType::leaves; },
                          [](const HaveMap&) { return MessageType::have_map; },
                          [](const Ping&) { return MessageType::ping; },
                          [](const Pong&) { return MessageType::pong; },
                          [](const Error&) { return MessageType::error; },
                      },
                      m);
}

Bytes encode(const Message& m) {
    return std::visit([](const auto& v) { return encode(v); }, m);
}

Bytes encode_frame(const Message& m) { return encode_frame(message_type(m), encode(m)); }

std::optional<Message> decode_message(MessageType type, ByteView payload) {
    switch (type) {
    case MessageType::hello: return decode_hello(payload);
    case MessageType::query: return decode_query(payload);
    case MessageType::results: return decode_results(payload);
    case MessageType::cancel: return decode_cancel(payload);
    case MessageType::chunk_request: return decode_chunk_request(payload);
    case MessageType::chunk_data: return decode_chunk_data(payload);
    case MessageType::leaves: return decode_leaves(payload);
    case MessageType::have_map: return decode_have_map(payload);
    case MessageType::ping: return decode_ping(payload);
    case MessageType::pong: return decode_pong(payload);
    case MessageType::error: return decode_error(payload);
    }
    return std::nullopt;
}

} // namespace earshot::proto

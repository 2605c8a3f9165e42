#define BOOST_TEST_MODULE peer_messages
#include <boost/test/unit_test.hpp>

#include "proto/content_id.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"

#include <fstream>
#include <random>
#include <sstream>

using namespace earshot::proto;

namespace {

Hash hash_of(std::uint8_t seed) {
    Hash h;
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint8_t>(seed + i);
    return h;
}

ResultEntry sample_entry(std::uint8_t seed) {
    ResultEntry e;
    e.content_id = hash_of(seed);
    e.size = 5'123'456 + seed;
    e.artists = {"Björk", "Crosby, Stills, Nash & Young"};
    e.track = "Jóga";
    e.album = "Homogenic";
    e.mimetype = "audio/flac";
    e.bitrate_kbps = 912;
    e.duration_ms = 305'000;
    e.score = 0.875;
    e.recording = "rec-" + std::to_string(seed);
    e.quality = 7;
    return e;
}

// One of every message, with non-default fields, for round trips and truncation.
std::vector<Message> samples() {
    std::vector<Message> out;
    out.push_back(Hello{1, "earshot/0.1.0", "home server", capability::search | capability::serve_chunks | (1ull << 63)});
    out.push_back(Query{42, "The Beatles", "Let It Be", "Let It Be", "", 243.05});
    out.push_back(Query{43, "", "", "", "free text ünïcode", std::nullopt});
    out.push_back(Results{42, {sample_entry(1), sample_entry(2)}, false});
    out.push_back(Results{42, {}, true});
    out.push_back(Cancel{42});
    out.push_back(ChunkRequest{9, hash_of(3), 123456789, 64});
    Bytes data(chunk_size);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31);
    out.push_back(ChunkData{9, hash_of(3), 5, data});
    out.push_back(ChunkData{10, hash_of(4), 0, {}});
    out.push_back(Leaves{9, hash_of(3), 3 * chunk_size + 1, 0, {hash_of(10), hash_of(11), hash_of(12), hash_of(13)}});
    out.push_back(Leaves{9, hash_of(3), 0, 0, {hash_of(14)}});
    out.push_back(HaveMap{hash_of(5), 10 * chunk_size, {0xA5, 0x02}});
    out.push_back(Ping{0xDEADBEEFCAFEF00Dull});
    out.push_back(Pong{0xDEADBEEFCAFEF00Dull});
    out.push_back(Error{ErrorCode::overloaded, 9, "too many requests; retry later"});
    return out;
}

// The hex of each code block in the spec's "Examples" section: on every line,
// the text before the first run of two spaces (the comment), spaces removed.
std::vector<std::string> spec_example_blocks() {
    std::ifstream f(EARSHOT_PEER_PROTOCOL_MD);
    BOOST_REQUIRE_MESSAGE(f, "cannot open " EARSHOT_PEER_PROTOCOL_MD);
    std::vector<std::string> blocks;
    std::string line;
    bool in_examples = false, in_block = false;
    while (std::getline(f, line)) {
        if (line.rfind("## ", 0) == 0) in_examples = line.find("Examples") != std::string::npos;
        if (!in_examples) continue;
        if (line.rfind("```", 0) == 0) {
            in_block = !in_block;
            if (in_block) blocks.emplace_back();
            continue;
        }
        if (!in_block) continue;
        for (char c : line.substr(0, line.find("  ")))
            if (c != ' ') blocks.back().push_back(c);
    }
    return blocks;
}

Frame only_frame(ByteView bytes) {
    FrameReader r;
    BOOST_REQUIRE_EQUAL(r.feed(bytes), bytes.size());
    auto f = r.next();
    BOOST_REQUIRE(f);
    BOOST_TEST(!r.next());
    return *f;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_message_round_trips_through_a_frame) {
    for (const auto& m : samples()) {
        const Bytes frame = encode_frame(m);
        const Frame f = only_frame(frame);
        BOOST_TEST(static_cast<int>(f.type) == static_cast<int>(message_type(m)));
        const auto back = decode_message(f.type, f.payload);
        BOOST_REQUIRE(back);
        BOOST_TEST((*back == m), "message type " << static_cast<int>(message_type(m)));
    }
}

BOOST_AUTO_TEST_CASE(spec_examples_are_byte_exact) {
    // proto/PEER_PROTOCOL.md §6.
    const Hello hello{1, "earshot/0.1.0", "home", capability::search | capability::serve_chunks};
    const std::string hello_hex = "01011c000000"
                                  "01"
                                  "0d65617273686f742f302e312e30"
                                  "04686f6d65"
                                  "0300000000000000";
    BOOST_TEST(to_hex(encode_frame(Message{hello})) == hello_hex);

    ChunkRequest req{7, {}, 300, 16};
    for (std::size_t i = 0; i < req.content_id.size(); ++i) req.content_id[i] = static_cast<std::uint8_t>(i);
    const std::string req_hex = "010524000000"
                                "07"
                                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                                "ac02"
                                "10";
    BOOST_TEST(to_hex(encode_frame(Message{req})) == req_hex);

    // The spec shows exactly these bytes.
    const auto blocks = spec_example_blocks();
    BOOST_REQUIRE_EQUAL(blocks.size(), 2u);
    BOOST_TEST(blocks[0] == hello_hex);
    BOOST_TEST(blocks[1] == req_hex);

    // And the other direction: the spec's bytes decode to the spec's values.
    const auto hello_frame = only_frame(*from_hex(hello_hex));
    BOOST_TEST((decode_message(hello_frame.type, hello_frame.payload) == std::optional<Message>(hello)));
    const auto req_frame = only_frame(*from_hex(req_hex));
    BOOST_TEST((decode_message(req_frame.type, req_frame.payload) == std::optional<Message>(req)));
}

BOOST_AUTO_TEST_CASE(frame_reader_handles_any_split) {
    Bytes stream;
    std::vector<Message> sent = samples();
    for (const auto& m : sent) {
        const auto f = encode_frame(m);
        stream.insert(stream.end(), f.begin(), f.end());
    }
    // Empty payloads must pass too (an unknown type with nothing in it).
    const auto empty = encode_frame(static_cast<MessageType>(200), {});
    stream.insert(stream.end(), empty.begin(), empty.end());

    auto run = [&](auto next_piece) {
        FrameReader r;
        std::vector<Frame> got;
        ByteView in(stream);
        while (!in.empty()) {
            ByteView piece = in.first(std::min(in.size(), next_piece()));
            in = in.subspan(piece.size());
            while (!piece.empty()) {
                piece = piece.subspan(r.feed(piece));
                BOOST_REQUIRE_LE(r.buffered(), max_frame_size);
                while (auto f = r.next()) got.push_back(std::move(*f));
            }
        }
        BOOST_TEST(r.buffered() == 0u);
        BOOST_REQUIRE_EQUAL(got.size(), sent.size() + 1);
        for (std::size_t i = 0; i < sent.size(); ++i) {
            const auto m = decode_message(got[i].type, got[i].payload);
            BOOST_REQUIRE(m);
            BOOST_TEST((*m == sent[i]));
        }
        BOOST_TEST(static_cast<int>(got.back().type) == 200);
        BOOST_TEST(got.back().payload.empty());
    };
    run([] { return std::size_t{1}; });
    std::mt19937 rng(1234);
    for (int round = 0; round < 20; ++round) {
        std::uniform_int_distribution<std::size_t> len(1, 1 + static_cast<std::size_t>(round) * 5000);
        run([&] { return len(rng); });
    }
    run([&] { return stream.size(); });
}

BOOST_AUTO_TEST_CASE(feed_stops_at_a_complete_frame) {
    const auto a = encode_frame(Message{Ping{1}});
    const auto b = encode_frame(Message{Pong{2}});
    Bytes both(a);
    both.insert(both.end(), b.begin(), b.end());
    FrameReader r;
    BOOST_TEST(r.feed(both) == a.size());
    BOOST_TEST(r.feed(ByteView(both).subspan(a.size())) == 0u); // still holding frame a
    BOOST_TEST((decode_message(r.next()->type, encode(Ping{1})) == std::optional<Message>(Ping{1})));
    BOOST_TEST(r.feed(ByteView(both).subspan(a.size())) == b.size());
    BOOST_TEST((r.next()->type == MessageType::pong));
}

BOOST_AUTO_TEST_CASE(oversize_length_rejected_before_buffering) {
    ByteWriter w;
    w.u8(frame_version);
    w.u8(static_cast<std::uint8_t>(MessageType::chunk_data));
    w.u32le(static_cast<std::uint32_t>(max_payload_size + 1));
    Bytes header = std::move(w).take();
    {
        FrameReader r;
        // The first five bytes are fine; the sixth completes the length.
        BOOST_TEST(r.feed(ByteView(header).first(5)) == 5u);
        BOOST_CHECK_THROW((void)r.feed(ByteView(header).subspan(5)), ProtocolError);
        BOOST_TEST(r.buffered() <= frame_header_size);
        BOOST_CHECK_THROW((void)r.feed(header), ProtocolError); // stays failed
        BOOST_CHECK_THROW(r.next(), ProtocolError);
    }
    {
        // Followed by a megabyte of payload: rejected at the header, nothing buffered.
        header.resize(header.size() + max_payload_size + 1, 0x55);
        FrameReader r;
        BOOST_CHECK_THROW((void)r.feed(header), ProtocolError);
        BOOST_TEST(r.buffered() <= frame_header_size);
    }
    {
        // Exactly max_payload_size is allowed.
        Bytes payload(max_payload_size, 1);
        const auto f = encode_frame(static_cast<MessageType>(99), payload);
        BOOST_TEST(f.size() == max_frame_size);
        BOOST_TEST(only_frame(f).payload == payload);
        payload.push_back(1);
        BOOST_CHECK_THROW(encode_frame(static_cast<MessageType>(99), payload), std::length_error);
    }
}

BOOST_AUTO_TEST_CASE(bad_version_rejected_at_first_byte) {
    const std::uint8_t wrong[] = {2};
    FrameReader r;
    try {
        (void)r.feed(wrong);
        BOOST_FAIL("version 2 accepted");
    } catch (const ProtocolError& e) {
        BOOST_TEST(std::string(e.what()).find("version 2") != std::string::npos);
    }
    // ProtocolError is a DecodeError, so one catch covers both layers.
    FrameReader r2;
    const std::uint8_t zero[] = {0, 1, 0, 0, 0, 0};
    BOOST_CHECK_THROW((void)r2.feed(zero), DecodeError);
}

BOOST_AUTO_TEST_CASE(unknown_type_is_skipped) {
    for (int t : {0, 12, 99, 255}) {
        const std::uint8_t payload[] = {1, 2, 3};
        BOOST_TEST(!decode_message(static_cast<MessageType>(t), payload));
    }
}

BOOST_AUTO_TEST_CASE(every_truncation_and_extension_throws) {
    for (const auto& m : samples()) {
        const Bytes payload = encode(m);
        const auto type = message_type(m);
        // Large payloads: every prefix near both ends, then a stride through
        // the middle, keeps this quick while still hitting every field edge.
        for (std::size_t n = 0; n < payload.size(); ++n) {
            if (payload.size() > 4096 && n > 2048 && n < payload.size() - 2048 && n % 509 != 0) continue;
            BOOST_CHECK_THROW(decode_message(type, ByteView(payload).first(n)), DecodeError);
        }
        Bytes longer = payload;
        longer.push_back(0);
        BOOST_CHECK_THROW(decode_message(type, longer), DecodeError);
    }
}

BOOST_AUTO_TEST_CASE(leaves_count_must_match_content_size) {
    const Leaves ok{1, hash_of(1), 2 * chunk_size, 0, {hash_of(2), hash_of(3)}};
    BOOST_TEST((decode_leaves(encode(ok)) == ok));

    Leaves short_layer = ok;
    short_layer.leaves.pop_back();
    BOOST_CHECK_THROW(encode(short_layer), std::invalid_argument);

    // Hand-built payload claiming 2 leaves for a 3-chunk file.
    ByteWriter w;
    w.varint(1);
    w.hash(hash_of(1));
    w.varint(2 * chunk_size + 1);
    w.varint(0);
    w.varint(2);
    w.hash(hash_of(2));
    w.hash(hash_of(3));
    BOOST_CHECK_THROW(decode_leaves(w.bytes()), DecodeError);

    // A huge declared size with a tiny payload fails before allocating.
    ByteWriter huge;
    huge.varint(1);
    huge.hash(hash_of(1));
    huge.varint(std::uint64_t{1} << 62);
    huge.varint(0);
    huge.varint(max_leaves_per_frame);
    BOOST_CHECK_THROW(decode_leaves(huge.bytes()), DecodeError);
}

BOOST_AUTO_TEST_CASE(large_leaf_layer_is_split_into_fixed_segments) {
    const std::uint64_t size = (max_leaves_per_frame + 5) * chunk_size;
    std::vector<Hash> layer(chunk_count(size));
    for (std::size_t i = 0; i < layer.size(); ++i) layer[i] = hash_of(static_cast<std::uint8_t>(i));
    const auto parts = split_leaves(3, hash_of(9), size, layer);
    BOOST_REQUIRE_EQUAL(parts.size(), 2u);
    BOOST_TEST(parts[0].first_leaf == 0u);
    BOOST_TEST(parts[0].leaves.size() == max_leaves_per_frame);
    BOOST_TEST(parts[1].first_leaf == max_leaves_per_frame);
    BOOST_TEST(parts[1].leaves.size() == 5u);
    std::vector<Hash> joined;
    for (const auto& p : parts) {
        const Bytes frame = encode_frame(Message{p});
        BOOST_TEST(frame.size() <= max_frame_size);
        const auto f = only_frame(frame);
        const auto back = decode_leaves(f.payload);
        BOOST_TEST((back == p));
        joined.insert(joined.end(), back.leaves.begin(), back.leaves.end());
    }
    BOOST_TEST((joined == layer));

    Leaves misaligned = parts[1];
    misaligned.first_leaf = 1;
    BOOST_CHECK_THROW(encode(misaligned), std::invalid_argument);
    BOOST_CHECK_THROW(split_leaves(3, hash_of(9), size, std::span(layer).first(10)), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(have_map_bitmap_must_match_size) {
    const HaveMap ok{hash_of(1), 10 * chunk_size, {0xFF, 0x03}};
    BOOST_TEST((decode_have_map(encode(ok)) == ok));
    BOOST_TEST(have_chunk(ok, 9));
    BOOST_TEST(!have_chunk(ok, 10));

    HaveMap wrong = ok;
    wrong.bitmap.push_back(0);
    BOOST_CHECK_THROW(encode(wrong), std::invalid_argument);
    ByteWriter w;
    w.hash(hash_of(1));
    w.varint(10 * chunk_size);
    w.blob(Bytes{0xFF});
    BOOST_CHECK_THROW(decode_have_map(w.bytes()), DecodeError);

    // Padding bits past chunk 9 must be zero.
    ByteWriter pad;
    pad.hash(hash_of(1));
    pad.varint(10 * chunk_size);
    pad.blob(Bytes{0xFF, 0x07});
    BOOST_CHECK_THROW(decode_have_map(pad.bytes()), DecodeError);

    // Content too large for a one-frame bitmap.
    ByteWriter big;
    big.hash(hash_of(1));
    big.varint((max_have_map_chunks + 1) * chunk_size);
    big.varint((max_have_map_chunks + 8) / 8);
    BOOST_CHECK_THROW(decode_have_map(big.bytes()), DecodeError);
}

BOOST_AUTO_TEST_CASE(field_limits_are_enforced) {
    // Strings over 4096 bytes or not UTF-8.
    Hello long_name{1, "v", std::string(max_string_size + 1, 'x'), 0};
    BOOST_CHECK_THROW(encode(long_name), std::invalid_argument);
    ByteWriter w;
    w.varint(1);
    w.str("v");
    w.str(std::string(max_string_size + 1, 'x'));
    w.u64le(0);
    BOOST_CHECK_THROW(decode_hello(w.bytes()), DecodeError);
    for (std::string bad : {"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"}) {
        ByteWriter b;
        b.varint(1);
        b.str("v");
        b.str(bad);
        b.u64le(0);
        BOOST_CHECK_THROW(decode_hello(b.bytes()), DecodeError);
    }
    // Hello version 0, ChunkRequest count 0 and 65, a 64 KiB + 1 chunk.
    BOOST_CHECK_THROW(decode_hello(*from_hex("0001760000000000000000000000")), DecodeError);
    for (std::uint64_t count : {std::uint64_t{0}, std::uint64_t{max_chunks_per_request} + 1}) {
        ByteWriter c;
        c.varint(1);
        c.hash(hash_of(1));
        c.varint(0);
        c.varint(count);
        BOOST_CHECK_THROW(decode_chunk_request(c.bytes()), DecodeError);
    }
    BOOST_CHECK_THROW(encode(ChunkData{1, hash_of(1), 0, Bytes(max_chunk_data_size + 1)}), std::invalid_argument);
    // Error codes outside the enumeration; booleans other than 0/1; a score above 1.
    BOOST_CHECK_THROW(decode_error(*from_hex("0600")), DecodeError);
    BOOST_CHECK_THROW(decode_error(*from_hex("0000")), DecodeError);
    BOOST_TEST((decode_error(*from_hex("010000")) == Error{ErrorCode::unknown_content, 0, ""}));
    BOOST_CHECK_THROW(decode_error(*from_hex("0100")), DecodeError);
    BOOST_CHECK_THROW(decode_cancel(*from_hex("")), DecodeError);
    // Request ids are never 0.
    BOOST_CHECK_THROW(decode_cancel(*from_hex("00")), DecodeError);
    BOOST_CHECK_THROW(encode(Cancel{0}), std::invalid_argument);
    BOOST_CHECK_THROW(encode(ChunkRequest{0, hash_of(1), 0, 1}), std::invalid_argument);
    BOOST_CHECK_THROW(decode_results(*from_hex("010002")), DecodeError);
    ResultEntry over = sample_entry(1);
    over.score = 1.5; // clamped, not rejected: scores are defined on [0, 1]
    BOOST_TEST(decode_results(encode(Results{1, {over}, true})).entries[0].score == 1.0);
    over.score = std::nan("");
    BOOST_CHECK_THROW(encode(Results{1, {over}, true}), std::invalid_argument);
    // Too many results announced for the bytes present.
    ByteWriter many;
    many.varint(1);
    many.varint(max_results_per_frame);
    many.u8(0);
    BOOST_CHECK_THROW(decode_results(many.bytes()), DecodeError);
    BOOST_CHECK_THROW(encode(Results{1, std::vector<ResultEntry>(max_results_per_frame + 1), true}),
                      std::invalid_argument);
    // 257 real entries: every byte present, still over the per-frame limit.
    const Results full{1, std::vector<ResultEntry>(max_results_per_frame), true};
    BOOST_TEST((decode_results(encode(full)) == full));
    ByteWriter over_limit;
    over_limit.varint(1);
    over_limit.varint(max_results_per_frame + 1);
    const Bytes one = encode(Results{1, {ResultEntry{}}, true});
    const ByteView entry = ByteView(one).subspan(2, one.size() - 3); // id, count ... final
    for (std::size_t i = 0; i <= max_results_per_frame; ++i) over_limit.raw(entry);
    over_limit.u8(1);
    BOOST_CHECK_THROW(decode_results(over_limit.bytes()), DecodeError);
    // Artists: whole names with commas survive; more than 32 is refused both ways.
    const auto back = decode_results(encode(Results{1, {sample_entry(3)}, true}));
    BOOST_TEST((back.entries.at(0).artists == std::vector<std::string>{"Björk", "Crosby, Stills, Nash & Young"}));
    ResultEntry crowded = sample_entry(1);
    crowded.artists.assign(max_artists_per_entry + 1, "a");
    BOOST_CHECK_THROW(encode(Results{1, {crowded}, true}), std::invalid_argument);
    ByteWriter crowd;
    crowd.varint(1);
    crowd.varint(1);
    crowd.hash(hash_of(1));
    crowd.varint(10);
    crowd.varint(max_artists_per_entry + 1);
    for (std::size_t i = 0; i <= max_artists_per_entry; ++i) crowd.varint(0);
    BOOST_CHECK_THROW(decode_results(crowd.bytes()), DecodeError);
}

BOOST_AUTO_TEST_CASE(query_duration_round_trips_to_the_millisecond) {
    Query q{1, "a", "b", "", "", 183.4567};
    const auto back = decode_query(encode(q));
    BOOST_REQUIRE(back.duration_s);
    BOOST_TEST(*back.duration_s == 183.457);
    BOOST_TEST((decode_query(encode(back)) == back));
    q.duration_s = -1;
    BOOST_CHECK_THROW(encode(q), std::invalid_argument);
}

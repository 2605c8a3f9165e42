#define BOOST_TEST_MODULE proto_bytes
#include <boost/test/unit_test.hpp>

#include "proto/bytes.hpp"

#include <limits>

using namespace earshot::proto;

namespace {
const std::uint64_t unsigned_cases[] = {0, 127, 128, 300, std::numeric_limits<std::uint64_t>::max()};
const std::int64_t signed_cases[] = {0, -1, 1, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()};
} // namespace

BOOST_AUTO_TEST_CASE(round_trips_every_field_kind) {
    ByteWriter w;
    w.u8(7);
    w.u32le(0xDEADBEEF);
    w.u64le(0x0123456789ABCDEFull);
    for (auto v : unsigned_cases) w.varint(v);
    for (auto v : signed_cases) w.svarint(v);
    w.str("héllo");
    w.str("");
    Hash h{};
    h[31] = 9;
    w.hash(h);

    ByteReader r(w.bytes());
    BOOST_TEST(r.u8() == 7);
    BOOST_TEST(r.u32le() == 0xDEADBEEF);
    BOOST_TEST(r.u64le() == 0x0123456789ABCDEFull);
    for (auto v : unsigned_cases) BOOST_TEST(r.varint() == v);
    for (auto v : signed_cases) BOOST_TEST(r.svarint() == v);
    BOOST_TEST(r.str() == "héllo");
    BOOST_TEST(r.str() == "");
    BOOST_TEST(r.hash() == h);
    BOOST_TEST(r.done());
}

BOOST_AUTO_TEST_CASE(rejects_truncated_and_malformed_input) {
    ByteWriter w;
    w.str("abcdef");
    auto bytes = w.bytes();
    bytes.pop_back();
    ByteReader r1(bytes);
    BOOST_CHECK_THROW(r1.str(), DecodeError);

    const Bytes huge_len{0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'a'};
    ByteReader r2(huge_len);
    BOOST_CHECK_THROW(r2.blob(), DecodeError);

    const Bytes long_varint(11, 0x80);
    ByteReader r3(long_varint);
    BOOST_CHECK_THROW(r3.varint(), DecodeError);

    const Bytes overflow{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02};
    ByteReader r4(overflow);
    BOOST_CHECK_THROW(r4.varint(), DecodeError);

    ByteReader r5(ByteView{});
    BOOST_CHECK_THROW(r5.u8(), DecodeError);
}

BOOST_AUTO_TEST_CASE(hex_round_trip_and_rejects) {
    const Bytes b{0x00, 0xAB, 0xFF};
    BOOST_TEST(to_hex(b) == "00abff");
    BOOST_TEST(*from_hex("00ABff") == b);
    BOOST_TEST(!from_hex("abc").has_value());
    BOOST_TEST(!from_hex("zz").has_value());
    BOOST_TEST(!hash_from_hex("00").has_value());
    BOOST_TEST(hash_from_hex(std::string(64, 'a')).has_value());
}

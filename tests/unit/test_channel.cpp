#define BOOST_TEST_MODULE channel
#include <boost/test/unit_test.hpp>

#include "daemon/peers/channel.hpp"
#include "tests/support/seed.hpp"

#include <sodium.h>

#include <chrono>
#include <exception>
#include <functional>
#include <string>

using namespace earshot;
using namespace std::chrono_literals;
using asio::ip::tcp;
using peers::Channel;
using peers::ChannelError;
using peers::Identity;

namespace {
using test::seed_of;

struct Sodium {
    Sodium() {
        if (sodium_init() < 0) throw std::runtime_error("sodium_init failed");
    }
};

constexpr auto handshake_timeout = 5000ms;

// A connected pair of loopback sockets (the listen backlog completes the
// connect before accept is called, so one coroutine can do both).
awaitable<std::pair<tcp::socket, tcp::socket>> tcp_pair(tcp::acceptor& acceptor) {
    auto ex = co_await asio::this_coro::executor;
    tcp::socket client(ex);
    co_await client.async_connect(acceptor.local_endpoint(), use_awaitable);
    tcp::socket server = co_await acceptor.async_accept(use_awaitable);
    co_return std::pair{std::move(client), std::move(server)};
}

tcp::acceptor loopback_acceptor(asio::io_context& io) {
    return tcp::acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
}

// Messages are sent from named variables: GCC 12 mishandles the destruction
// of temporaries (here the implicit Hello → Message conversion) that live
// across a co_await in the same full-expression, and crashes.

// Runs coroutines to completion on one io_context; each outcome is kept so a
// test can say which side must fail.
struct Outcome {
    bool finished = false;
    std::exception_ptr error;
    std::string message() const {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
            return e.what();
        }
        return {};
    }
    bool failed_with_channel_error() const {
        try {
            if (error) std::rethrow_exception(error);
        } catch (const ChannelError&) {
            return true;
        } catch (...) {
        }
        return false;
    }
};

void spawn(asio::io_context& io, Outcome& out, std::function<awaitable<void>()> body) {
    asio::co_spawn(io, std::move(body), [&out](std::exception_ptr e) {
        out.finished = true;
        out.error = e;
    });
}

peers::AcceptPeer only(const Identity& expected) {
    return [key = expected.public_key()](const proto::PublicKey& k) { return k == key; };
}

proto::Hash hash_of(std::uint64_t i) {
    proto::Hash h{};
    for (std::size_t b = 0; b < h.size(); ++b) h[b] = static_cast<std::uint8_t>((i * 131 + b * 7) ^ (i >> 8));
    return h;
}

std::vector<proto::Message> sample_messages() {
    std::vector<proto::Message> out;
    out.push_back(proto::Hello{1, "earshot 0.1.0", "laptop", proto::capability::search | proto::capability::serve_chunks});
    proto::Query q;
    q.query_id = 7;
    q.artist = "Mötley Crüe";
    q.track = "Kickstart My Heart";
    q.duration_s = 282.0;
    out.push_back(q);
    proto::ChunkData chunk;
    chunk.request_id = 9;
    chunk.content_id = hash_of(1);
    chunk.chunk_index = 3;
    chunk.data.resize(proto::max_chunk_data_size);
    for (std::size_t i = 0; i < chunk.data.size(); ++i) chunk.data[i] = static_cast<std::uint8_t>(i * 31 + (i >> 9));
    out.push_back(std::move(chunk));
    proto::Results results;
    results.query_id = 7;
    results.final = true;
    for (int i = 0; i < 3; ++i) {
        proto::ResultEntry e;
        e.content_id = hash_of(100 + static_cast<std::uint64_t>(i));
        e.size = 5'000'000 + static_cast<std::uint64_t>(i);
        e.artists = {"Mötley Crüe"};
        e.track = "Kickstart My Heart";
        e.mimetype = "audio/flac";
        e.bitrate_kbps = 900;
        e.duration_ms = 282'000;
        e.score = 0.5 + 0.1 * i;
        results.entries.push_back(std::move(e));
    }
    out.push_back(std::move(results));
    // One full Leaves segment: 32768 hashes, a 1 MiB frame over ~17 records.
    proto::Leaves leaves;
    leaves.request_id = 11;
    leaves.content_id = hash_of(2);
    leaves.size = proto::max_leaves_per_frame * proto::max_chunk_data_size;
    leaves.first_leaf = 0;
    for (std::uint64_t i = 0; i < proto::max_leaves_per_frame; ++i) leaves.leaves.push_back(hash_of(i));
    out.push_back(std::move(leaves));
    return out;
}

} // namespace

BOOST_GLOBAL_FIXTURE(Sodium);

BOOST_AUTO_TEST_CASE(peers_prove_identities_and_exchange_messages) {
    const auto alice = Identity::from_seed(seed_of(1));
    const auto bob = Identity::from_seed(seed_of(2));
    const auto messages = sample_messages();
    BOOST_REQUIRE(proto::encode_frame(messages.back()).size() > 1024 * 1024); // really spans many records

    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    Outcome client_out, server_out;
    std::optional<tcp::socket> server_socket;
    std::vector<proto::Message> received;
    std::optional<proto::Message> reply;
    bool client_saw_close = false, server_saw_close = false;
    proto::noise::HandshakeHash client_hash{}, server_hash{};

    spawn(io, client_out, [&]() -> awaitable<void> {
        auto [client, server] = co_await tcp_pair(acceptor);
        server_socket.emplace(std::move(server));
        spawn(io, server_out, [&]() -> awaitable<void> {
            auto ch = co_await Channel::accept(std::move(*server_socket), bob, only(alice), handshake_timeout);
            BOOST_TEST(ch->remote_identity() == alice.public_key());
            server_hash = ch->handshake_hash();
            while (auto m = co_await ch->receive()) received.push_back(std::move(*m));
            server_saw_close = true;
            const proto::Message pong = proto::Pong{42};
            co_await ch->send(pong);
            co_await ch->close();
        });
        auto ch = co_await Channel::connect(std::move(client), alice, only(bob), handshake_timeout);
        BOOST_TEST(ch->remote_identity() == bob.public_key());
        client_hash = ch->handshake_hash();
        for (const auto& m : messages) co_await ch->send(m);
        co_await ch->close();
        reply = co_await ch->receive();
        client_saw_close = !(co_await ch->receive()).has_value();
        // After the close record, receive keeps answering "closed".
        BOOST_TEST(!(co_await ch->receive()).has_value());
    });
    io.run();

    BOOST_TEST_REQUIRE(client_out.finished);
    BOOST_TEST_REQUIRE(server_out.finished);
    BOOST_TEST_REQUIRE(!client_out.error, client_out.message());
    BOOST_TEST_REQUIRE(!server_out.error, server_out.message());
    BOOST_TEST(client_hash == server_hash);
    BOOST_TEST_REQUIRE(received.size() == messages.size());
    for (std::size_t i = 0; i < messages.size(); ++i) BOOST_TEST((received[i] == messages[i]), "message " << i);
    BOOST_TEST(server_saw_close);
    BOOST_TEST_REQUIRE(reply.has_value());
    BOOST_TEST(std::get<proto::Pong>(*reply).nonce == 42u);
    BOOST_TEST(client_saw_close);
}

// The responder does not know the initiator: it drops the link after message
// 3, and nothing the initiator sends is ever delivered.
BOOST_AUTO_TEST_CASE(responder_rejects_a_stranger) {
    const auto alice = Identity::from_seed(seed_of(1));
    const auto bob = Identity::from_seed(seed_of(2));
    const auto carol = Identity::from_seed(seed_of(3));
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    Outcome client_out, server_out;
    std::optional<tcp::socket> server_socket;
    std::optional<proto::PublicKey> asked_about;
    bool delivered = false;

    spawn(io, client_out, [&]() -> awaitable<void> {
        auto [client, server] = co_await tcp_pair(acceptor);
        server_socket.emplace(std::move(server));
        spawn(io, server_out, [&]() -> awaitable<void> {
            auto ch = co_await Channel::accept(std::move(*server_socket), bob,
                                               [&](const proto::PublicKey& k) {
                                                   asked_about = k;
                                                   return k == carol.public_key();
                                               },
                                               handshake_timeout);
            delivered = (co_await ch->receive()).has_value();
        });
        auto ch = co_await Channel::connect(std::move(client), alice, only(bob), handshake_timeout);
        const proto::Message hello = proto::Hello{1, "earshot", "alice", 0};
        co_await ch->send(hello);
        co_await ch->receive();
    });
    io.run();

    BOOST_TEST(server_out.failed_with_channel_error());
    BOOST_TEST(server_out.message() == "peer " + alice.peer_id() + " is not paired");
    BOOST_TEST_REQUIRE(asked_about.has_value());
    BOOST_TEST(*asked_about == alice.public_key());
    BOOST_TEST(client_out.failed_with_channel_error(), client_out.message());
    BOOST_TEST(!delivered);
}

// The initiator does not want the responder: it stops before message 3, so
// the responder never learns who dialled.
BOOST_AUTO_TEST_CASE(initiator_rejects_a_stranger) {
    const auto alice = Identity::from_seed(seed_of(1));
    const auto bob = Identity::from_seed(seed_of(2));
    const auto carol = Identity::from_seed(seed_of(3));
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    Outcome client_out, server_out;
    std::optional<tcp::socket> server_socket;
    bool responder_asked = false;

    spawn(io, client_out, [&]() -> awaitable<void> {
        auto [client, server] = co_await tcp_pair(acceptor);
        server_socket.emplace(std::move(server));
        spawn(io, server_out, [&]() -> awaitable<void> {
            co_await Channel::accept(std::move(*server_socket), bob,
                                     [&](const proto::PublicKey&) {
                                         responder_asked = true;
                                         return true;
                                     },
                                     handshake_timeout);
        });
        co_await Channel::connect(std::move(client), alice, only(carol), handshake_timeout);
    });
    const auto start = std::chrono::steady_clock::now();
    io.run();

    BOOST_TEST(client_out.failed_with_channel_error());
    BOOST_TEST(client_out.message() == "peer " + bob.peer_id() + " is not paired");
    BOOST_TEST(server_out.failed_with_channel_error(), server_out.message());
    BOOST_TEST(!responder_asked); // message 3 (alice's identity) was never sent
    BOOST_TEST((std::chrono::steady_clock::now() - start < handshake_timeout)); // closed at once, no timeout
}

namespace {

// Forwards one direction; `flip_at` (if set) is the index of the Noise
// message (counting the u16-length-prefixed messages in this direction) in
// which byte `flip_offset` is flipped.
awaitable<void> pump(tcp::socket& from, tcp::socket& to, std::optional<std::size_t> flip_at, std::size_t flip_offset) {
    boost::system::error_code ec;
    for (std::size_t index = 0;; ++index) {
        std::array<std::uint8_t, 2> header{};
        co_await asio::async_read(from, asio::buffer(header), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        proto::Bytes body((std::size_t{header[0]} << 8) | header[1]);
        co_await asio::async_read(from, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        if (flip_at && index == *flip_at) body.at(flip_offset) ^= 0x01;
        co_await asio::async_write(to, asio::buffer(header), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        co_await asio::async_write(to, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
    }
    from.close(ec);
    to.close(ec);
}

} // namespace

BOOST_AUTO_TEST_CASE(a_flipped_bit_in_transit_is_caught) {
    const auto alice = Identity::from_seed(seed_of(1));
    const auto bob = Identity::from_seed(seed_of(2));
    // Offsets into the first transport message from alice (a data record:
    // 1 kind byte + the Hello frame, then the 16-byte tag): the record kind,
    // the middle of the frame, the last byte of the tag.
    for (std::size_t offset : {std::size_t{0}, std::size_t{8}, std::size_t{1000}}) {
        asio::io_context io;
        auto front = loopback_acceptor(io); // alice dials the relay
        auto back = loopback_acceptor(io);  // the relay dials bob
        Outcome client_out, server_out, relay_out, back_pump;
        std::optional<tcp::socket> a_side, b_side, relay_a, relay_b;
        bool delivered = false;
        std::size_t flip_offset = offset;

        proto::Hello h{1, "earshot", "alice", 0};
        h.name.assign(2000, 'a'); // a transport message well over 1000 bytes
        const proto::Message hello = h;
        if (offset == 1000) flip_offset = 1 + proto::encode_frame(hello).size() + 15;

        spawn(io, relay_out, [&]() -> awaitable<void> {
            auto [a, ra] = co_await tcp_pair(front);
            auto [rb, b] = co_await tcp_pair(back);
            a_side.emplace(std::move(a));
            b_side.emplace(std::move(b));
            relay_a.emplace(std::move(ra));
            relay_b.emplace(std::move(rb));
            spawn(io, server_out, [&]() -> awaitable<void> {
                auto ch = co_await Channel::accept(std::move(*b_side), bob, only(alice), handshake_timeout);
                delivered = (co_await ch->receive()).has_value();
            });
            spawn(io, client_out, [&]() -> awaitable<void> {
                auto ch = co_await Channel::connect(std::move(*a_side), alice, only(bob), handshake_timeout);
                co_await ch->send(hello);
                co_await ch->close();
            });
            spawn(io, back_pump, [&]() -> awaitable<void> { co_await pump(*relay_b, *relay_a, std::nullopt, 0); });
            // Alice's messages: handshake 1, handshake 3, then transport.
            co_await pump(*relay_a, *relay_b, 2, flip_offset);
        });
        io.run();

        BOOST_TEST(server_out.failed_with_channel_error(), "offset " << offset << ": " << server_out.message());
        BOOST_TEST(server_out.message().find("authentication") != std::string::npos, server_out.message());
        BOOST_TEST(!delivered);
    }
}

BOOST_AUTO_TEST_CASE(closing_without_the_close_record_is_truncation) {
    const auto alice = Identity::from_seed(seed_of(1));
    const auto bob = Identity::from_seed(seed_of(2));
    asio::io_context io;
    auto acceptor = loopback_acceptor(io);
    Outcome client_out, server_out;
    std::optional<tcp::socket> server_socket;
    std::optional<proto::Message> first;

    spawn(io, client_out, [&]() -> awaitable<void> {
        auto [client, server] = co_await tcp_pair(acceptor);
        server_socket.emplace(std::move(server));
        spawn(io, server_out, [&]() -> awaitable<void> {
            auto ch = co_await Channel::accept(std::move(*server_socket), bob, only(alice), handshake_timeout);
            first = co_await ch->receive();
            co_await ch->receive();
        });
        auto ch = co_await Channel::connect(std::move(client), alice, only(bob), handshake_timeout);
        const proto::Message ping = proto::Ping{5};
        co_await ch->send(ping);
        ch.reset(); // the socket closes, no close record
    });
    io.run();

    BOOST_TEST(!client_out.error, client_out.message());
    BOOST_TEST_REQUIRE(first.has_value());
    BOOST_TEST((*first == proto::Message{proto::Ping{5}}));
    BOOST_TEST(server_out.failed_with_channel_error());
    BOOST_TEST(server_out.message().find("truncated") != std::string::npos, server_out.message());
}

BOOST_AUTO_TEST_CASE(silent_or_garbage_peers_fail_the_handshake_in_time) {
    const auto bob = Identity::from_seed(seed_of(2));
    struct Case {
        std::string name;
        proto::Bytes bytes;
        bool expect_timeout;
    };
    const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"; // announces 0x4745 bytes, sends 27
    const std::vector<Case> cases = {
        {"silent", {}, true},
        {"http", proto::Bytes(http.begin(), http.end()), true},
        {"short message 1", {0, 5, 1, 2, 3, 4, 5}, false},
    };
    for (const auto& c : cases) {
        asio::io_context io;
        auto acceptor = loopback_acceptor(io);
        Outcome client_out, server_out;
        std::optional<tcp::socket> server_socket, client_socket;
        spawn(io, client_out, [&]() -> awaitable<void> {
            auto [client, server] = co_await tcp_pair(acceptor);
            server_socket.emplace(std::move(server));
            client_socket.emplace(std::move(client));
            spawn(io, server_out, [&]() -> awaitable<void> {
                co_await Channel::accept(std::move(*server_socket), bob, [](const proto::PublicKey&) { return true; },
                                         300ms);
            });
            if (!c.bytes.empty()) co_await asio::async_write(*client_socket, asio::buffer(c.bytes), use_awaitable);
            // Keep the connection open (as a stalling attacker would) until the server gives up.
            std::array<std::uint8_t, 256> sink{};
            boost::system::error_code ec;
            while (!ec) co_await client_socket->async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
        });
        const auto start = std::chrono::steady_clock::now();
        io.run();
        const auto elapsed = std::chrono::steady_clock::now() - start;

        BOOST_TEST(server_out.failed_with_channel_error(), c.name << ": " << server_out.message());
        BOOST_TEST((server_out.message().find("timed out") != std::string::npos) == c.expect_timeout,
                   c.name << ": " << server_out.message());
        BOOST_TEST((elapsed < 3s), c.name);
        if (c.expect_timeout) BOOST_TEST((elapsed >= 250ms), c.name);
    }
}

namespace {

// A hand-rolled initiator speaking the wire format directly, to send what a
// Channel never would: unknown frame types, bad record kinds, replays.
struct RawPeer {
    tcp::socket socket;
    proto::noise::CipherState send;
    proto::noise::CipherState receive;
};

awaitable<void> write_noise_message(tcp::socket& s, proto::ByteView m) {
    // Sized up front: an initializer list then insert() trips GCC 12's -O3 -Warray-bounds.
    proto::Bytes wire(2 + m.size());
    wire[0] = static_cast<std::uint8_t>(m.size() >> 8);
    wire[1] = static_cast<std::uint8_t>(m.size() & 0xff);
    std::copy(m.begin(), m.end(), wire.begin() + 2);
    co_await asio::async_write(s, asio::buffer(wire), use_awaitable);
}

awaitable<proto::Bytes> read_noise_message(tcp::socket& s) {
    std::array<std::uint8_t, 2> header{};
    co_await asio::async_read(s, asio::buffer(header), use_awaitable);
    proto::Bytes body((std::size_t{header[0]} << 8) | header[1]);
    co_await asio::async_read(s, asio::buffer(body), use_awaitable);
    co_return body;
}

awaitable<RawPeer> raw_connect(tcp::socket s, const Identity& me) {
    const auto id = me.noise_identity();
    auto hs = proto::noise::Handshake::initiator(id, proto::as_bytes(proto::noise::earshot_prologue));
    co_await write_noise_message(s, hs.write_message({}));
    hs.read_message(co_await read_noise_message(s));
    co_await write_noise_message(s, hs.write_message({}));
    auto [tx, rx] = hs.split();
    co_return RawPeer{std::move(s), std::move(tx), std::move(rx)};
}

proto::Bytes record(std::uint8_t kind, proto::ByteView body = {}) {
    proto::Bytes r(1 + body.size());
    r[0] = kind;
    std::copy(body.begin(), body.end(), r.begin() + 1);
    return r;
}

} // namespace

BOOST_AUTO_TEST_CASE(records_from_a_raw_peer) {
    const auto alice = Identity::from_seed(seed_of(1));
    const auto bob = Identity::from_seed(seed_of(2));
    const proto::Message ping = proto::Ping{6};
    const auto ping_frame = proto::encode_frame(ping);
    const auto unknown_frame = proto::encode_frame(static_cast<proto::MessageType>(200), proto::as_bytes("from the future"));
    proto::Bytes both = unknown_frame;
    both.insert(both.end(), ping_frame.begin(), ping_frame.end());
    const proto::ByteView ping_view(ping_frame);

    struct Case {
        std::string name;
        std::vector<proto::Bytes> records; // plaintexts, each one transport message
        bool replay_last = false;          // send the last ciphertext twice
        std::string error;                 // empty: expect Ping{6} then a clean close
    };
    const std::vector<Case> cases = {
        {"unknown type skipped", {record(0, both), record(1)}, false, ""},
        {"frame split over records", {record(0, ping_view.first(3)), record(0), record(0, ping_view.subspan(3)), record(1)}, false, ""},
        {"unknown record kind", {record(0, ping_frame), record(7)}, false, "unknown record kind"},
        {"close inside a frame", {record(0, ping_frame), record(0, ping_view.first(4)), record(1)}, false, "middle of a frame"},
        {"close with data", {record(0, ping_frame), record(1, ping_view)}, false, "close record"},
        {"replayed record", {record(0, ping_frame)}, true, "authentication"},
        {"bad frame version", {record(0, ping_frame), record(0, proto::Bytes{9, 1, 0, 0, 0, 0})}, false, "protocol error"},
    };
    for (const auto& c : cases) {
        asio::io_context io;
        auto acceptor = loopback_acceptor(io);
        Outcome client_out, server_out;
        std::optional<tcp::socket> server_socket;
        std::vector<proto::Message> got;
        bool clean_close = false;
        spawn(io, client_out, [&]() -> awaitable<void> {
            auto [client, server] = co_await tcp_pair(acceptor);
            server_socket.emplace(std::move(server));
            spawn(io, server_out, [&]() -> awaitable<void> {
                auto ch = co_await Channel::accept(std::move(*server_socket), bob, only(alice), handshake_timeout);
                while (auto m = co_await ch->receive()) got.push_back(std::move(*m));
                clean_close = true;
            });
            auto peer = co_await raw_connect(std::move(client), alice);
            proto::Bytes last;
            for (const auto& r : c.records) {
                last = peer.send.encrypt({}, r);
                co_await write_noise_message(peer.socket, last);
            }
            if (c.replay_last) co_await write_noise_message(peer.socket, last);
            // Wait for the server to finish with us.
            std::array<std::uint8_t, 64> sink{};
            boost::system::error_code ec;
            while (!ec) co_await peer.socket.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
        });
        io.run();

        BOOST_TEST(!client_out.error, c.name << ": " << client_out.message());
        BOOST_TEST_REQUIRE(got.size() == 1u, c.name);
        BOOST_TEST((got[0] == ping), c.name);
        if (c.error.empty()) {
            BOOST_TEST(clean_close, c.name);
            BOOST_TEST(!server_out.error, c.name << ": " << server_out.message());
        } else {
            BOOST_TEST(!clean_close, c.name);
            BOOST_TEST(server_out.failed_with_channel_error(), c.name);
            BOOST_TEST(server_out.message().find(c.error) != std::string::npos, c.name << ": " << server_out.message());
        }
    }
}

#include "daemon/peers/channel.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <utility>

namespace earshot::peers {

namespace {

namespace noise = proto::noise;
using asio::ip::tcp;
using boost::system::error_code;

// Record kinds: the first plaintext byte of every transport message.
constexpr std::uint8_t record_data = 0;
constexpr std::uint8_t record_close = 1;
constexpr std::size_t max_record_data = noise::max_transport_plaintext - 1;

bool is_cut(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

void append_message(proto::Bytes& wire, proto::ByteView message) {
    // Noise's usual TCP framing: u16 big-endian length, then the message.
    wire.push_back(static_cast<std::uint8_t>(message.size() >> 8));
    wire.push_back(static_cast<std::uint8_t>(message.size() & 0xff));
    wire.insert(wire.end(), message.begin(), message.end());
}

// One length-prefixed Noise message, or std::nullopt on a clean EOF at a
// message boundary. `what` names the stage for error messages.
awaitable<std::optional<proto::Bytes>> read_message(tcp::socket& socket, const char* what) {
    std::array<std::uint8_t, 2> header{};
    error_code ec;
    const std::size_t got = co_await asio::async_read(socket, asio::buffer(header), asio::redirect_error(use_awaitable, ec));
    if (ec == asio::error::eof && got == 0) co_return std::nullopt;
    if (ec) {
        if (is_cut(ec)) throw ChannelError(std::string("connection truncated in the middle of ") + what);
        throw ChannelError(std::string("reading ") + what + " failed: " + ec.message());
    }
    proto::Bytes body((std::size_t{header[0]} << 8) | header[1]);
    co_await asio::async_read(socket, asio::buffer(body), asio::redirect_error(use_awaitable, ec));
    if (ec) {
        if (is_cut(ec)) throw ChannelError(std::string("connection truncated in the middle of ") + what);
        throw ChannelError(std::string("reading ") + what + " failed: " + ec.message());
    }
    co_return body;
}

awaitable<void> write_all(tcp::socket& socket, proto::ByteView wire, const char* what) {
    error_code ec;
    co_await asio::async_write(socket, asio::buffer(wire.data(), wire.size()), asio::redirect_error(use_awaitable, ec));
    if (ec) {
        if (is_cut(ec)) throw ChannelError(std::string("connection lost while sending ") + what);
        throw ChannelError(std::string("sending ") + what + " failed: " + ec.message());
    }
}

// Enough for a few transport messages per read from the socket: one
// syscall for several records rather than two per record.
constexpr std::size_t receive_buffer_size = 4 * (2 + noise::max_message_len);

// What the handshake's timeout timer and the handshake coroutine share. The
// timer's handler may run after the handshake returned (it was already queued
// when we cancelled), so it owns this state rather than pointing into the
// coroutine frame.
struct HandshakeIo {
    explicit HandshakeIo(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    bool done = false;
    bool expired = false;
};

struct HandshakeResult {
    noise::CipherState send;
    noise::CipherState receive;
    proto::PublicKey remote{};
    noise::HandshakeHash hash{};
};

awaitable<proto::Bytes> read_handshake_message(tcp::socket& socket, const char* what) {
    auto m = co_await read_message(socket, what);
    if (!m) throw ChannelError(std::string("connection closed by the peer before ") + what);
    co_return std::move(*m);
}

void check_peer(const AcceptPeer& accept_peer, const proto::PublicKey& remote) {
    if (!accept_peer(remote)) throw ChannelError("peer " + proto::format_peer_id(remote) + " is not paired");
}

// The three XX messages. Application payloads are empty: nothing but the
// identities (which noise::Handshake adds itself) travels in the handshake.
awaitable<HandshakeResult> run_steps(tcp::socket& socket, const noise::StaticIdentity& me,
                                     const AcceptPeer& accept_peer, noise::Role role) {
    const auto prologue = proto::as_bytes(noise::earshot_prologue);
    auto hs = role == noise::Role::initiator ? noise::Handshake::initiator(me, prologue)
                                             : noise::Handshake::responder(me, prologue);
    HandshakeResult r;
    bool checked = false;
    for (int n = 1; n <= 3; ++n) {
        const auto what = "handshake message " + std::to_string(n);
        // The initiator writes messages 1 and 3, the responder message 2.
        if ((n % 2 == 1) == (role == noise::Role::initiator)) {
            proto::Bytes wire;
            append_message(wire, hs.write_message({}));
            co_await write_all(socket, wire, what.c_str());
            continue;
        }
        hs.read_message(co_await read_handshake_message(socket, what.c_str()));
        // The peer's identity is proven by message 2 (for the initiator) or 3
        // (for the responder). The initiator checks before writing message 3,
        // so a responder we do not want never learns who we are.
        if (n >= 2 && !checked) {
            r.remote = hs.remote_identity();
            check_peer(accept_peer, r.remote);
            checked = true;
        }
    }
    r.hash = hs.handshake_hash();
    std::tie(r.send, r.receive) = hs.split();
    co_return r;
}

} // namespace

Channel::Channel(Token, tcp::socket socket, noise::CipherState send, noise::CipherState receive,
                 const proto::PublicKey& remote, const noise::HandshakeHash& hash)
    : socket_(std::move(socket)), send_(std::move(send)), receive_(std::move(receive)), remote_(remote),
      handshake_hash_(hash) {}

Channel::~Channel() = default;

awaitable<std::unique_ptr<Channel>> Channel::connect(tcp::socket socket, const Identity& me, AcceptPeer accept_peer,
                                                     std::chrono::milliseconds timeout) {
    co_return co_await handshake(std::move(socket), me, std::move(accept_peer), timeout, noise::Role::initiator);
}

awaitable<std::unique_ptr<Channel>> Channel::accept(tcp::socket socket, const Identity& me, AcceptPeer accept_peer,
                                                    std::chrono::milliseconds timeout) {
    co_return co_await handshake(std::move(socket), me, std::move(accept_peer), timeout, noise::Role::responder);
}

awaitable<std::unique_ptr<Channel>> Channel::handshake(tcp::socket socket, const Identity& me, AcceptPeer accept_peer,
                                                       std::chrono::milliseconds timeout, noise::Role role) {
    const auto identity = me.noise_identity();
    auto io = std::make_shared<HandshakeIo>(std::move(socket));
    // Boost 1.74 has no cancellation slots: the timer closes the socket, which
    // makes the pending read or write fail.
    asio::steady_timer timer(io->socket.get_executor(), timeout);
    timer.async_wait([io](const error_code& ec) {
        if (ec || io->done) return;
        io->expired = true;
        error_code ignored;
        io->socket.close(ignored);
    });

    std::optional<HandshakeResult> result;
    std::string failure;
    try {
        result.emplace(co_await run_steps(io->socket, identity, accept_peer, role));
    } catch (const ChannelError& e) {
        failure = e.what();
    } catch (const noise::Error& e) {
        failure = std::string("handshake failed: ") + e.what();
    }
    io->done = true;
    timer.cancel();
    if (io->expired) failure = "handshake timed out after " + std::to_string(timeout.count()) + " ms";
    if (!result || io->expired) {
        error_code ignored;
        io->socket.close(ignored);
        throw ChannelError(failure);
    }
    co_return std::make_unique<Channel>(Token{}, std::move(io->socket), std::move(result->send),
                                        std::move(result->receive), result->remote, result->hash);
}

void Channel::fail(const std::string& why) {
    if (!failure_) failure_ = why;
    error_code ignored;
    socket_.close(ignored);
    throw ChannelError(*failure_);
}

void Channel::abort(const std::string& why) {
    if (!failure_) failure_ = why;
    error_code ignored;
    socket_.close(ignored);
}

void Channel::check_usable() const {
    if (failure_) throw ChannelError(*failure_);
}

awaitable<void> Channel::write_records(proto::ByteView wire) {
    try {
        co_await write_all(socket_, wire, "a transport message");
    } catch (const ChannelError& e) {
        fail(e.what());
    }
}

awaitable<void> Channel::send(const proto::Message& m) {
    check_usable();
    if (we_closed_) throw ChannelError("send after close()");
    // Both may throw for a bad message: nothing is sent then.
    const proto::Bytes payload = proto::encode(m);
    const auto header = proto::frame_header(proto::message_type(m), payload.size());
    // The frame is laid out straight into the records and encrypted where it
    // lies: one copy of a chunk between the encoder and the socket.
    const std::size_t frame_size = header.size() + payload.size();
    const std::size_t records = (frame_size + max_record_data - 1) / max_record_data;
    constexpr std::size_t overhead = 2 + 1 + noise::tag_len; // length, record kind, tag
    send_buffer_.resize(frame_size + records * overhead);    // sends never overlap: one buffer serves them all
    const auto frame_bytes = [&](std::size_t at, std::size_t n, std::uint8_t* out) {
        if (at < header.size()) {
            const std::size_t h = std::min(n, header.size() - at);
            std::copy_n(header.begin() + static_cast<std::ptrdiff_t>(at), h, out);
            out += h;
            n -= h;
            at = header.size();
        }
        std::copy_n(payload.begin() + static_cast<std::ptrdiff_t>(at - header.size()), n, out);
    };
    std::size_t pos = 0;
    try {
        for (std::size_t at = 0; at < frame_size; at += max_record_data) {
            const std::size_t n = std::min(max_record_data, frame_size - at);
            const std::size_t message = 1 + n + noise::tag_len;
            // Noise's usual TCP framing: u16 big-endian length, then the message.
            send_buffer_[pos] = static_cast<std::uint8_t>(message >> 8);
            send_buffer_[pos + 1] = static_cast<std::uint8_t>(message & 0xff);
            send_buffer_[pos + 2] = record_data;
            frame_bytes(at, n, send_buffer_.data() + pos + 3);
            send_.encrypt_in_place({}, std::span(send_buffer_).subspan(pos + 2, message));
            pos += 2 + message;
        }
    } catch (const noise::Error& e) {
        fail(std::string("encrypting failed: ") + e.what()); // nonces used up
    }
    co_await write_records(send_buffer_);
}

awaitable<void> Channel::close() {
    check_usable();
    if (we_closed_) co_return;
    we_closed_ = true;
    proto::Bytes wire;
    const std::uint8_t marker[] = {record_close};
    try {
        append_message(wire, send_.encrypt({}, marker));
    } catch (const noise::Error& e) {
        fail(std::string("encrypting failed: ") + e.what());
    }
    co_await write_records(wire);
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
}

awaitable<void> Channel::fill_receive_buffer(std::size_t need) {
    if (receive_buffer_.empty()) receive_buffer_.resize(receive_buffer_size);
    const std::size_t have = received_end_ - received_begin_;
    if (received_begin_ + need > receive_buffer_.size()) {
        // What is left is part of one message: move it to the front.
        std::copy(receive_buffer_.begin() + static_cast<std::ptrdiff_t>(received_begin_),
                  receive_buffer_.begin() + static_cast<std::ptrdiff_t>(received_end_), receive_buffer_.begin());
        received_begin_ = 0;
        received_end_ = have;
    }
    error_code ec;
    const std::size_t got = co_await socket_.async_read_some(
        asio::buffer(receive_buffer_.data() + received_end_, receive_buffer_.size() - received_end_),
        asio::redirect_error(use_awaitable, ec));
    received_end_ += got;
    if (!ec) co_return;
    if (ec == asio::error::eof && have == 0 && need == 2)
        fail("connection truncated: the peer closed it without a close record");
    if (is_cut(ec)) fail("connection truncated in the middle of a transport message");
    fail("reading a transport message failed: " + ec.message());
}

awaitable<void> Channel::read_record() {
    // One length-prefixed transport message, decrypted where it lies.
    std::size_t need = 2;
    for (;;) {
        const std::size_t have = received_end_ - received_begin_;
        if (have >= 2) {
            need = 2 + ((std::size_t{receive_buffer_[received_begin_]} << 8) | receive_buffer_[received_begin_ + 1]);
            if (have >= need) break;
        }
        co_await fill_receive_buffer(need);
    }
    const auto message = std::span(receive_buffer_).subspan(received_begin_ + 2, need - 2);
    received_begin_ += need;
    if (message.size() < 1 + noise::tag_len) fail("transport message too short");
    std::span<std::uint8_t> plain;
    try {
        plain = receive_.decrypt_in_place({}, message);
    } catch (const noise::Error& e) {
        fail(std::string("transport message failed authentication: ") + e.what());
    }
    switch (plain[0]) {
    case record_data:
        // A view into the receive buffer: it stays put until the next
        // read_record(), which receive() calls only once it is all fed.
        pending_ = plain;
        pending_offset_ = 1;
        break;
    case record_close:
        if (plain.size() != 1) fail("close record carries data");
        if (reader_.buffered() != 0) fail("connection closed in the middle of a frame");
        peer_closed_ = true;
        break;
    default:
        fail("unknown record kind " + std::to_string(plain[0]));
    }
}

awaitable<std::optional<proto::Message>> Channel::receive() {
    check_usable();
    if (receive_failure_) throw ChannelError(*receive_failure_);
    for (;;) {
        try {
            while (pending_offset_ < pending_.size()) {
                pending_offset_ += reader_.feed(pending_.subspan(pending_offset_));
                while (auto frame = reader_.next()) {
                    if (auto m = proto::decode_message(frame->type, frame->payload)) co_return std::move(m);
                    spdlog::debug("peer {}: skipping a message of unknown type {}", proto::format_peer_id(remote_),
                                  static_cast<int>(frame->type));
                }
            }
        } catch (const proto::DecodeError& e) { // ProtocolError is one too
            // The stream past a bad frame is not to be trusted; our own
            // direction is fine, so the caller may still say why and close.
            receive_failure_ = std::string("protocol error: ") + e.what();
            throw ProtocolViolation(e.what());
        }
        if (peer_closed_) co_return std::nullopt;
        co_await read_record();
    }
}

} // namespace earshot::peers

// The encrypted, mutually authenticated link between two earshot daemons:
// one TCP connection carrying the Noise XX handshake of proto/NOISE.md and
// then the frame stream of proto/PEER_PROTOCOL.md §3 inside Noise transport
// messages. The wire format is proto/NOISE.md, section "Channel wire format".
#pragma once

#include "daemon/peers/identity.hpp"
#include "proto/asio.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "proto/noise.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace earshot::peers {

// The channel failed: the handshake did not complete (timeout, bad MAC,
// rejected peer, connection lost), or a transport message was tampered
// with, truncated or broke the protocol. The channel is dead afterwards:
// its socket is closed and every later send/receive throws again.
class ChannelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The peer broke the protocol (a malformed frame or message, or a message
// that makes no sense where it came). Unlike other ChannelErrors the sending
// side still works, so the receiver can tell the peer why (Error
// bad_request, ref_id 0) and close cleanly, as PEER_PROTOCOL.md asks; the
// receiving side is dead (what follows in the stream cannot be trusted).
class ProtocolViolation : public ChannelError {
public:
    explicit ProtocolViolation(const std::string& what) : ChannelError("protocol error: " + what) {}
};

// Decides whether a proven peer identity may talk to us (an own device or a
// friend). Called at most once per handshake, on the channel's executor.
using AcceptPeer = std::function<bool(const proto::PublicKey&)>;

// Threading: one coroutine may send while another receives (the two
// directions have separate ciphers), but sends must not overlap each other,
// nor receives each other. If the io_context runs on several threads, give
// the socket a strand executor.
class Channel {
    struct Token { explicit Token() = default; }; // only the handshake makes channels
public:
    // Run the handshake as initiator (we dialled) or responder (we accepted)
    // with prologue "earshot/1", and return the channel once both identities
    // are proven. Nothing but the three handshake messages is exchanged.
    //
    // `accept_peer` is asked as soon as the peer's identity is known: for the
    // initiator after message 2, before it sends message 3 (so a rejected
    // responder never learns who dialled it); for the responder after message
    // 3. If it returns false the socket is closed at once and ChannelError
    // ("peer <id> is not paired") is thrown. Note that XX makes the
    // responder reveal its own static key (its identity) in message 2 to
    // anyone who connects; only the initiator's identity stays hidden from
    // strangers. The rejected initiator itself sees its first receive()
    // fail (the responder closes without a close record); connect() cannot
    // tell, because the handshake sends nothing after message 3.
    //
    // The whole handshake must finish within `timeout`, or ChannelError.
    // `me` must stay alive until the returned awaitable completes.
    static awaitable<std::unique_ptr<Channel>> connect(asio::ip::tcp::socket socket, const Identity& me,
                                                       AcceptPeer accept_peer, std::chrono::milliseconds timeout);
    static awaitable<std::unique_ptr<Channel>> accept(asio::ip::tcp::socket socket, const Identity& me,
                                                      AcceptPeer accept_peer, std::chrono::milliseconds timeout);

    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    const proto::PublicKey& remote_identity() const { return remote_; }
    // The Noise handshake hash, identical on both ends (channel binding).
    const proto::noise::HandshakeHash& handshake_hash() const { return handshake_hash_; }

    // Encodes the frame and sends it as data records of at most 65518 bytes
    // each (one Noise transport message apiece). Throws std::invalid_argument
    // or std::length_error for a message the encoders refuse (nothing is
    // sent then), ChannelError if the link fails or close() was called.
    // Pass a named proto::Message: GCC 12 mishandles the destruction of a
    // temporary (e.g. an implicit Ping → Message conversion) that lives across
    // a co_await in the same full-expression (it crashed in the tests).
    awaitable<void> send(const proto::Message& m);

    // The next message of a type this build knows (unknown types are skipped,
    // as PEER_PROTOCOL.md requires); std::nullopt once the peer sent its close
    // record. Throws ChannelError on tampering, truncation (EOF or reset
    // without a close record) and an unknown record kind; ProtocolViolation
    // for a bad frame or malformed message (then send() and close() still
    // work, receive() does not).
    awaitable<std::optional<proto::Message>> receive();

    // Sends the authenticated close record and shuts down our sending side,
    // so the peer can tell a clean end from a cut connection. Receiving still
    // works afterwards (to drain what the peer sent before it saw our close).
    // Calling it twice is harmless.
    awaitable<void> close();

    // Closes the socket at once, without a close record: a pending send or
    // receive fails with ChannelError(why). For a peer that does not answer
    // our close record, and for shutting the daemon down.
    void abort(const std::string& why);

    Channel(Token, asio::ip::tcp::socket socket, proto::noise::CipherState send, proto::noise::CipherState receive,
            const proto::PublicKey& remote, const proto::noise::HandshakeHash& hash);

private:

    static awaitable<std::unique_ptr<Channel>> handshake(asio::ip::tcp::socket socket, const Identity& me,
                                                         AcceptPeer accept_peer, std::chrono::milliseconds timeout,
                                                         proto::noise::Role role);
    awaitable<void> write_records(proto::ByteView wire);
    // Reads and decrypts one transport message into pending_ (or sets
    // peer_closed_). Throws ChannelError.
    awaitable<void> read_record();
    // Reads what the socket has (at least one byte) so that a message of
    // `need` bytes fits from received_begin_.
    awaitable<void> fill_receive_buffer(std::size_t need);
    [[noreturn]] void fail(const std::string& why);
    void check_usable() const;

    asio::ip::tcp::socket socket_;
    proto::noise::CipherState send_;
    proto::noise::CipherState receive_;
    proto::PublicKey remote_{};
    proto::noise::HandshakeHash handshake_hash_{};
    proto::FrameReader reader_;
    proto::Bytes send_buffer_;      // the records of the message being sent
    proto::Bytes receive_buffer_;   // bytes from the socket; [begin, end) not yet taken
    std::size_t received_begin_ = 0;
    std::size_t received_end_ = 0;
    proto::ByteView pending_;       // decrypted frame bytes not yet fed to reader_ (in receive_buffer_)
    std::size_t pending_offset_ = 0;
    bool peer_closed_ = false;      // the peer's close record arrived
    bool we_closed_ = false;        // close() sent ours
    std::optional<std::string> failure_;
    std::optional<std::string> receive_failure_; // a protocol violation ended the receiving side only
};

} // namespace earshot::peers

#include "daemon/http/server.hpp"

#include "daemon/core/endpoint.hpp"
#include "daemon/http/modules.hpp"
#include "daemon/http/router.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace earshot::http {

using core::format_endpoint;

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// Pieces a stream is sent in: big enough for throughput, small enough that
// many parallel streams stay cheap, and a multi-GB file never sits in memory.
constexpr std::size_t stream_piece = 256 * 1024;
constexpr std::string_view server_header = "earshot/" EARSHOT_VERSION;

bool is_loopback(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
    return a.is_loopback();
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string local_hostname() {
    error_code ec;
    auto name = asio::ip::host_name(ec);
    return ec ? std::string{} : name;
}

// Errors that just mean "the peer went away or was idle too long".
bool is_disconnect(const error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == beast::error::timeout ||
           ec == asio::error::operation_aborted || ec == asio::error::eof || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor || ec == asio::error::not_connected;
}

} // namespace

struct Server::State {
    State(asio::io_context& io_, StandardParts parts, ServerOptions opts, std::vector<std::unique_ptr<Module>> extra)
        : io(io_), options(std::move(opts)), sites(options.sites_file, io_.get_executor(), options.blocking),
          router{options, !is_loopback(options.listen.address()), local_hostname(), sites, routes}, acceptor(io_) {
        // The standard modules, each given only its own part of the backend.
        modules.push_back(playdar_module(parts.search, router.machine_hostname));
        modules.push_back(native_module(parts.library, parts.peers, parts.pins, parts.search));
        modules.push_back(stream_module(parts.streams));
        modules.push_back(site_module(sites, approvals, parts.search.name()));
        for (auto& m : extra) modules.push_back(std::move(m));
        for (const auto& m : modules) m->add_routes(routes);
    }

    asio::io_context& io;
    ServerOptions options;
    SiteRegistry sites;
    Approvals approvals;
    std::vector<std::unique_ptr<Module>> modules; // before `routes`, whose handlers point into them
    RouteTable routes;
    RouterContext router; // refers to `options`, `sites` and `routes`; State never moves (it lives in a shared_ptr)
    tcp::acceptor acceptor;
    bool started = false;
    bool stopped = false;
    std::uint64_t next_id = 0;
    std::map<std::uint64_t, std::weak_ptr<beast::tcp_stream>> connections;
};

namespace {

using StatePtr = std::shared_ptr<Server::State>;

template <class Response>
void copy_fields(Response& res, const bhttp::fields& fields) {
    for (const auto& f : fields) res.set(f.name_string(), f.value());
    res.set(bhttp::field::server, server_header);
}

// Writes a whole in-memory reply; false if the connection failed.
awaitable<bool> write_buffered(Server::State& st, beast::tcp_stream& stream, unsigned version, Reply& reply,
                               bool keep_alive) {
    bhttp::response<bhttp::string_body> res{reply.status, version};
    copy_fields(res, reply.fields);
    res.body() = std::move(reply.body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    error_code ec;
    stream.expires_after(st.options.write_timeout);
    co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
}

// The base of absolute URLs in replies: what the client called us, if that is a
// plausible host, else the address the connection arrived on.
std::string base_url(const Message& msg, const tcp::endpoint& local) {
    const auto host = msg.find(bhttp::field::host);
    if (host != msg.end() && !host->value().empty()) {
        const auto v = host->value();
        const bool plausible = std::all_of(v.begin(), v.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                   c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
        });
        if (plausible) return "http://" + std::string(v);
    }
    return "http://" + format_endpoint(local);
}

awaitable<Reply> handle(Server::State& st, const Message& msg, const tcp::endpoint& local) {
    std::optional<Reply> refused;
    Target target;
    try {
        target = parse_target(msg.target());
    } catch (const std::invalid_argument& e) {
        refused = error_reply(bhttp::status::bad_request, e.what());
    }
    if (refused) co_return std::move(*refused);

    auto params = Params::parse(target.query);
    if (!params) co_return error_reply(bhttp::status::bad_request, "malformed percent-encoding in the query string");
    // Playdar clients POST their parameters as a form.
    if (msg.method() == bhttp::verb::post) {
        const auto ct = msg.find(bhttp::field::content_type);
        const auto type = ct == msg.end() ? std::string_view{} : ct->value().substr(0, ct->value().find(';'));
        if (iequals(type, "application/x-www-form-urlencoded")) {
            const auto form = Params::parse(msg.body());
            if (!form) co_return error_reply(bhttp::status::bad_request, "malformed percent-encoding in the form body");
            params->append(*form);
        }
    }
    Request req{msg, std::move(target.segments), std::move(*params), base_url(msg, local)};
    co_return co_await route(st.router, req);
}

// Sends `length` bytes of `source` from `offset` as the body. Returns false when
// the connection cannot carry another message (peer gone, source failed after
// the header went out: the only honest signal left is closing).
awaitable<bool> write_stream(Server::State& st, beast::tcp_stream& stream, const Message& req, Reply& reply,
                             bool keep_alive) {
    auto& body = *reply.stream;
    std::vector<std::uint8_t> buf(static_cast<std::size_t>(std::min<std::uint64_t>(stream_piece, std::max<std::uint64_t>(body.length, 1))));
    std::uint64_t pos = body.offset, remaining = body.length;
    error_code ec;

    // Read the first piece before committing to a status line, so a source that
    // fails at once still gets a proper 500 on a connection that survives.
    std::size_t have = 0;
    if (remaining > 0) {
        std::optional<std::string> failure;
        try {
            have = co_await body.source->read(pos, std::span(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), remaining))));
        } catch (const std::exception& e) {
            failure = e.what();
        }
        if (!failure && have == 0) failure = "the source ended before its stated size";
        if (failure) {
            spdlog::error("http: stream {} failed: {}", redact_target(req.target()), *failure);
            auto err = error_reply(bhttp::status::internal_server_error, "cannot read the stream: " + *failure);
            co_return co_await write_buffered(st, stream, req.version(), err, keep_alive);
        }
    }

    bhttp::response<bhttp::buffer_body> res{reply.status, req.version()};
    copy_fields(res, reply.fields);
    res.keep_alive(keep_alive);
    res.content_length(body.length);
    res.body().data = nullptr;
    res.body().more = true;
    bhttp::response_serializer<bhttp::buffer_body> sr{res};
    stream.expires_after(st.options.write_timeout);
    co_await bhttp::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return false;

    while (remaining > 0) {
        if (have == 0) {
            try {
                have = co_await body.source->read(pos, std::span(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), remaining))));
            } catch (const std::exception& e) {
                spdlog::error("http: stream {} failed at byte {}: {}", redact_target(req.target()), pos, e.what());
                co_return false;
            }
            if (have == 0) {
                spdlog::error("http: stream {} ended at byte {} of {}", redact_target(req.target()), pos,
                              body.offset + body.length);
                co_return false;
            }
        }
        have = static_cast<std::size_t>(std::min<std::uint64_t>(have, remaining));
        res.body().data = buf.data();
        res.body().size = have;
        res.body().more = true;
        stream.expires_after(st.options.write_timeout);
        co_await bhttp::async_write(stream, sr, asio::redirect_error(use_awaitable, ec));
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) {
            if (!is_disconnect(ec)) spdlog::debug("http: stream write failed: {}", ec.message());
            co_return false; // the player went away (seek, stop): nothing to clean up
        }
        pos += have;
        remaining -= have;
        have = 0;
    }
    res.body().data = nullptr;
    res.body().more = false;
    stream.expires_after(st.options.write_timeout);
    co_await bhttp::async_write(stream, sr, asio::redirect_error(use_awaitable, ec));
    co_return !ec;
}

// A body of unknown length, chunked (HTTP/1.1) or until close (HTTP/1.0);
// the connection ends with it, so it returns false.
awaitable<bool> write_live(Server::State& st, beast::tcp_stream& stream, const Message& req, Reply& reply) {
    bhttp::response<bhttp::buffer_body> res{reply.status, req.version()};
    copy_fields(res, reply.fields);
    res.keep_alive(false);
    if (req.version() >= 11) res.chunked(true);
    res.body().data = nullptr;
    res.body().more = true;
    bhttp::response_serializer<bhttp::buffer_body> sr{res};
    error_code ec;
    stream.expires_after(st.options.write_timeout);
    co_await bhttp::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return false;
    for (;;) {
        auto piece = co_await reply.live();
        if (!piece) break;
        if (piece->empty()) continue;
        res.body().data = piece->data();
        res.body().size = piece->size();
        res.body().more = true;
        stream.expires_after(st.options.write_timeout);
        co_await bhttp::async_write(stream, sr, asio::redirect_error(use_awaitable, ec));
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) co_return false; // the client went away
    }
    res.body().data = nullptr;
    res.body().more = false;
    stream.expires_after(st.options.write_timeout);
    co_await bhttp::async_write(stream, sr, asio::redirect_error(use_awaitable, ec));
    co_return false;
}

awaitable<bool> write_reply(Server::State& st, beast::tcp_stream& stream, const Message& req, Reply& reply,
                            bool keep_alive) {
    error_code ec;
    const bool bodyless_status = reply.status == bhttp::status::no_content || reply.status == bhttp::status::not_modified;
    if (req.method() == bhttp::verb::head || bodyless_status) {
        // Headers as for GET, including the Content-Length a GET would get.
        bhttp::response<bhttp::empty_body> res{reply.status, req.version()};
        copy_fields(res, reply.fields);
        res.keep_alive(keep_alive);
        if (!bodyless_status) res.content_length(reply.content_length());
        stream.expires_after(st.options.write_timeout);
        co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
        co_return !ec;
    }
    if (reply.live) co_return co_await write_live(st, stream, req, reply);
    if (reply.stream) co_return co_await write_stream(st, stream, req, reply, keep_alive);
    co_return co_await write_buffered(st, stream, req.version(), reply, keep_alive);
}

// Answers a request that could not even be parsed, then the connection ends
// (after a parse error the byte stream's framing is unknown).
awaitable<void> refuse_unparsable(Server::State& st, beast::tcp_stream& stream, const error_code& read_error) {
    bhttp::status status = bhttp::status::bad_request;
    std::string message = "malformed HTTP request: " + read_error.message();
    if (read_error == bhttp::error::header_limit) {
        status = bhttp::status::request_header_fields_too_large;
        message = fmt::format("request headers are larger than {} bytes", st.options.max_header_bytes);
    } else if (read_error == bhttp::error::body_limit) {
        status = bhttp::status::payload_too_large;
        message = fmt::format("request body is larger than {} bytes", st.options.max_body_bytes);
    }
    auto err = error_reply(status, message);
    if (!co_await write_buffered(st, stream, 11, err, false)) co_return;
    error_code ec;
    // Lingering close: closing with unread request bytes pending makes the
    // kernel send a reset, which can destroy our reply before the client reads
    // it. Stop sending, then discard what the client still sends (bounded).
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::array<char, 16 * 1024> sink{};
    std::size_t drained = 0;
    stream.expires_after(std::chrono::seconds(2));
    while (!ec && drained < 1024 * 1024) {
        drained += co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(use_awaitable, ec));
    }
}

awaitable<void> session(Server::State& st, beast::tcp_stream& stream, const tcp::endpoint& remote,
                        const tcp::endpoint& local) {
    beast::flat_buffer buffer;
    while (!st.stopped) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(st.options.max_header_bytes, UINT32_MAX)));
        parser.body_limit(st.options.max_body_bytes);

        error_code ec;
        stream.expires_after(st.options.idle_timeout);
        co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        if (!ec && !parser.is_done()) {
            // curl and others wait for "100 Continue" before sending a body.
            const auto expect = parser.get().find(bhttp::field::expect);
            if (expect != parser.get().end() && iequals(expect->value(), "100-continue")) {
                bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, parser.get().version()};
                stream.expires_after(st.options.write_timeout);
                co_await bhttp::async_write(stream, cont, asio::redirect_error(use_awaitable, ec));
                if (ec) co_return;
            }
            stream.expires_after(st.options.idle_timeout);
            co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        }
        if (ec) {
            if (!is_disconnect(ec) && !st.stopped) {
                spdlog::debug("http: {} sent an unparsable request: {}", format_endpoint(remote), ec.message());
                co_await refuse_unparsable(st, stream, ec);
            }
            co_return;
        }

        const Message& msg = parser.get();
        const auto began = std::chrono::steady_clock::now();
        Reply reply = co_await handle(st, msg, local);
        if (st.stopped) co_return;
        const bool keep_alive = msg.keep_alive();
        const auto length = reply.content_length();
        const bool ok = co_await write_reply(st, stream, msg, reply, keep_alive);
        spdlog::debug("http: {} {} {} -> {} ({} bytes{}, {} ms)", format_endpoint(remote), msg.method_string(),
                      redact_target(msg.target()), static_cast<unsigned>(reply.status), length,
                      ok ? "" : ", connection ended",
                      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began).count());
        if (!ok || !keep_alive) co_return;
    }
}

awaitable<void> serve_connection(StatePtr st, tcp::socket socket) {
    auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
    const auto id = st->next_id++;
    st->connections.emplace(id, stream);
    error_code ec;
    const auto remote = stream->socket().remote_endpoint(ec);
    const auto local = stream->socket().local_endpoint(ec);
    try {
        co_await session(*st, *stream, remote, local);
    } catch (const std::exception& e) {
        // Every handler failure is already a 500 reply; this is a bug in the loop itself.
        spdlog::error("http: connection from {} failed: {}", format_endpoint(remote), e.what());
    }
    st->connections.erase(id);
    stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    stream->close();
}

awaitable<void> accept_loop(StatePtr st) {
    asio::steady_timer backoff(st->io);
    while (!st->stopped) {
        error_code ec;
        tcp::socket socket = co_await st->acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
        if (st->stopped) co_return;
        if (ec) {
            if (ec == asio::error::operation_aborted) co_return;
            // Out of file descriptors and the like: don't spin, try again shortly.
            spdlog::warn("http: accept failed: {}", ec.message());
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(asio::redirect_error(use_awaitable, ec));
            continue;
        }
        if (st->connections.size() >= st->options.max_connections) {
            spdlog::warn("http: refusing a connection: {} are open", st->connections.size());
            socket.close(ec);
            continue;
        }
        asio::co_spawn(st->io, serve_connection(st, std::move(socket)), asio::detached);
    }
}

} // namespace

Server::Server(asio::io_context& io, StandardParts parts, ServerOptions options, std::vector<std::unique_ptr<Module>> extra) {
    if (!is_loopback(options.listen.address()) && options.token.empty())
        throw std::invalid_argument(fmt::format("listening on {} (not a loopback address) requires an API token",
                                                format_endpoint(options.listen)));
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
    state_ = std::make_shared<State>(io, parts, std::move(options), std::move(extra));

    auto& acc = state_->acceptor;
    const auto& ep = state_->options.listen;
    const auto fail = [&](const error_code& ec) {
        // Socket errors are errno values; as std::system_category they compare
        // equal to std::errc::address_in_use and friends.
        throw std::system_error(std::error_code(ec.value(), std::system_category()),
                                fmt::format("cannot listen on {}", format_endpoint(ep)));
    };
    error_code ec;
    acc.open(ep.protocol(), ec);
    if (ec) fail(ec);
    // Lets a restarted daemon bind while old connections sit in TIME_WAIT; a
    // second live listener on the port still fails with "address in use".
    acc.set_option(tcp::acceptor::reuse_address(true), ec);
    if (ec) fail(ec);
    acc.bind(ep, ec);
    if (ec) fail(ec);
    acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) fail(ec);
}

Server::~Server() { stop(); }

tcp::endpoint Server::local_endpoint() const {
    error_code ec;
    const auto ep = state_->acceptor.local_endpoint(ec);
    return ec ? state_->options.listen : ep;
}

void Server::start() {
    auto st = state_;
    asio::dispatch(st->io, [st] {
        if (st->started || st->stopped) return;
        st->started = true;
        spdlog::debug("http: listening on {}{}", format_endpoint(st->acceptor.local_endpoint()),
                     st->router.auth_required ? " (token required)" : "");
        asio::co_spawn(st->io, accept_loop(st), asio::detached);
    });
}

void Server::stop() {
    if (!state_) return;
    auto st = state_;
    auto close_all = [st] {
        if (st->stopped) return;
        st->stopped = true;
        error_code ec;
        st->acceptor.close(ec);
        for (auto& [id, weak] : st->connections) {
            if (auto stream = weak.lock()) {
                stream->socket().shutdown(tcp::socket::shutdown_both, ec);
                stream->close();
            }
        }
    };
    // Run now when nothing else can be touching the state (this thread runs the
    // io_context, or nobody does); otherwise hand it to the io_context's thread.
    if (st->io.get_executor().running_in_this_thread() || st->io.stopped()) close_all();
    else asio::post(st->io, close_all);
}

} // namespace earshot::http

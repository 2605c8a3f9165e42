#include "cli/client.hpp"

#include "proto/percent.hpp"

#include "proto/asio.hpp"

#include <boost/beast/core.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

namespace earshot::client {

namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// Downloads in tests read whole streams; anything bigger is not a reply of ours.
constexpr std::uint64_t max_response_body = std::uint64_t{4} << 30;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// "Connection refused" -> "connection refused", as it reads inside a sentence.
std::string reason(const error_code& ec) {
    if (ec == beast::error::timeout) return "timed out";
    auto m = ec.message();
    if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
    return m;
}

bool closed_by_peer(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message;
}

} // namespace

BaseUrl BaseUrl::parse(std::string_view url) {
    BaseUrl out;
    std::string_view rest = url;
    const auto scheme_end = rest.find("://");
    if (scheme_end != std::string_view::npos) {
        const auto scheme = lower(std::string(rest.substr(0, scheme_end)));
        if (scheme != "http")
            throw std::invalid_argument("unsupported scheme '" + scheme + "' in '" + std::string(url) +
                                        "' (earshotd speaks plain http)");
        rest.remove_prefix(scheme_end + 3);
    }
    const auto path_start = rest.find('/');
    std::string_view authority = rest.substr(0, path_start);
    std::string_view path = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
    if (authority.empty()) throw std::invalid_argument("no host in '" + std::string(url) + "'");

    std::string_view port;
    if (authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("unclosed '[' in '" + std::string(url) + "'");
        out.host = std::string(authority.substr(1, close - 1));
        const auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') throw std::invalid_argument("bad host in '" + std::string(url) + "'");
            port = after.substr(1);
        }
    } else {
        const auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (out.host.empty()) throw std::invalid_argument("no host in '" + std::string(url) + "'");
    if (port.empty()) {
        out.port = "80";
    } else {
        unsigned long n = 0;
        const bool digits = std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits && port.size() <= 5) n = std::stoul(std::string(port));
        if (!digits || n == 0 || n > 65535)
            throw std::invalid_argument("bad port '" + std::string(port) + "' in '" + std::string(url) + "'");
        out.port = std::to_string(n);
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    if (path.find_first_of("?#") != std::string_view::npos)
        throw std::invalid_argument("the API URL must not carry a query: '" + std::string(url) + "'");
    out.prefix = std::string(path);
    const bool v6 = out.host.find(':') != std::string::npos;
    out.text = "http://" + (v6 ? "[" + out.host + "]" : out.host) + ":" + out.port + out.prefix;
    return out;
}

std::string Response::header(std::string_view name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string{} : std::string(it->value());
}

nlohmann::json Response::json() const {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded())
        throw ProtocolError("the server answered HTTP " + std::to_string(status) + " with something that is not JSON");
    return j;
}

std::string Response::error_message() const {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
    if (!body.empty() && body.size() < 500) return body;
    return "HTTP " + std::to_string(status);
}

struct Client::Connection {
    asio::io_context io;
    beast::tcp_stream stream{io};
    beast::flat_buffer buffer;
    bool open = false;

    // Runs one asynchronous operation to completion; the stream's deadline
    // guarantees it completes.
    template <class Start>
    error_code run(Start&& start) {
        error_code result;
        start([&result](error_code ec, auto&&...) { result = ec; });
        io.restart();
        io.run();
        return result;
    }

    void close() {
        error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        stream.close();
        buffer.clear();
        open = false;
    }

    void connect(const BaseUrl& base, std::chrono::milliseconds timeout) {
        tcp::resolver resolver(io);
        error_code ec;
        const auto endpoints = resolver.resolve(base.host, base.port, ec);
        if (ec) throw ConnectError(reason(ec));
        stream.expires_after(timeout);
        ec = run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
        if (ec) {
            stream.close();
            throw ConnectError(reason(ec));
        }
        open = true;
    }
};

Client::Client(std::string_view base_url, std::string token, std::chrono::milliseconds timeout)
    : base_(BaseUrl::parse(base_url)), token_(std::move(token)), timeout_(timeout),
      conn_(std::make_unique<Connection>()) {}

Client::~Client() {
    if (conn_ && conn_->open) conn_->close();
}

Response Client::send_once(const bhttp::request<bhttp::string_body>& req, bool head, bool& reused) {
    auto& c = *conn_;
    reused = c.open;
    if (!c.open) c.connect(base_, timeout_);

    c.stream.expires_after(timeout_);
    auto ec = c.run([&](auto handler) { bhttp::async_write(c.stream, req, std::move(handler)); });
    if (ec) {
        c.close();
        throw ProtocolError("sending to " + base_.text + " failed: " + reason(ec));
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_response_body);
    parser.skip(head); // a HEAD answer has Content-Length but no body
    c.stream.expires_after(timeout_);
    ec = c.run([&](auto handler) { bhttp::async_read(c.stream, c.buffer, parser, std::move(handler)); });
    if (ec) {
        c.close();
        throw ProtocolError(ec == beast::error::timeout
                                ? "no answer from " + base_.text + " within " + std::to_string(timeout_.count()) + " ms"
                                : "reading the answer from " + base_.text + " failed: " + reason(ec));
    }
    auto msg = parser.release();
    if (!msg.keep_alive()) c.close();
    Response out;
    out.status = msg.result_int();
    out.body = std::move(msg.body());
    for (const auto& f : msg) out.headers.insert(f.name_string(), f.value());
    return out;
}

bhttp::request<bhttp::string_body> Client::make_request(bhttp::verb verb, std::string_view target, std::string body,
                                                        const Headers& headers) const {
    bhttp::request<bhttp::string_body> req{verb, base_.prefix + std::string(target), 11};
    const bool v6 = base_.host.find(':') != std::string::npos;
    req.set(bhttp::field::host, (v6 ? "[" + base_.host + "]" : base_.host) + ":" + base_.port);
    req.set(bhttp::field::user_agent, "earshot-cli");
    if (!token_.empty()) req.set(bhttp::field::authorization, "Bearer " + token_);
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    if (verb == bhttp::verb::post || !req.body().empty()) req.prepare_payload();
    req.keep_alive(true);
    return req;
}

Response Client::request(bhttp::verb verb, std::string_view target, std::string body, const Headers& headers) {
    const auto req = make_request(verb, target, std::move(body), headers);
    const bool head = verb == bhttp::verb::head;
    bool reused = false;
    try {
        return send_once(req, head, reused);
    } catch (const ProtocolError&) {
        // The server may have closed an idle keep-alive connection just as we
        // reused it; one retry on a fresh connection tells that from a real failure.
        if (!reused) throw;
    }
    return send_once(req, head, reused);
}

nlohmann::json Client::get_json(std::string_view target) {
    const auto res = get(target);
    if (!res.ok()) throw ApiError(res.status, res.error_message());
    return res.json();
}

nlohmann::json Client::post_json(std::string_view target) {
    const auto res = request(bhttp::verb::post, target);
    if (!res.ok()) throw ApiError(res.status, res.error_message());
    return res.json();
}

void Client::follow_events(std::string_view target, const std::function<bool(const ServerEvent&)>& on_event,
                           std::chrono::milliseconds idle) {
    Connection c;
    c.connect(base_, timeout_);
    const auto req = make_request(bhttp::verb::get, target, {}, {{"Accept", "text/event-stream"}});
    c.stream.expires_after(timeout_);
    auto ec = c.run([&](auto handler) { bhttp::async_write(c.stream, req, std::move(handler)); });
    if (ec) throw ProtocolError("sending to " + base_.text + " failed: " + reason(ec));

    bhttp::response_parser<bhttp::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max()); // a stream has no end we know of
    c.stream.expires_after(timeout_);
    ec = c.run([&](auto handler) { bhttp::async_read_header(c.stream, c.buffer, parser, std::move(handler)); });
    if (ec) throw ProtocolError("reading the answer from " + base_.text + " failed: " + reason(ec));
    const auto status = parser.get().result_int();
    const bool ok = status >= 200 && status < 300;

    EventStreamParser events;
    std::string error_body;
    bool wanted = true;
    std::array<char, 8192> buf;
    while (wanted && !parser.is_done()) {
        parser.get().body().data = buf.data();
        parser.get().body().size = buf.size();
        c.stream.expires_after(ok ? idle : timeout_);
        ec = c.run([&](auto handler) { bhttp::async_read_some(c.stream, c.buffer, parser, std::move(handler)); });
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) {
            if (!ok) break;
            throw ProtocolError(ec == beast::error::timeout ? "the event stream from " + base_.text + " went silent"
                                                            : "the event stream from " + base_.text +
                                                                  " broke: " + reason(ec));
        }
        const std::string_view got(buf.data(), buf.size() - parser.get().body().size);
        if (!ok) {
            if (error_body.size() < 64 * 1024) error_body.append(got);
            continue;
        }
        events.feed(got, [&](ServerEvent&& e) {
            if (wanted) wanted = on_event(e);
        });
    }
    c.close();
    if (!ok) {
        Response res;
        res.status = status;
        res.body = std::move(error_body);
        throw ApiError(status, res.error_message());
    }
}

void EventStreamParser::feed(std::string_view bytes, const std::function<void(ServerEvent&&)>& on_event) {
    for (const char ch : bytes) {
        if (ch == '\n' && after_cr_) { // the LF of a CRLF: the line already ended
            after_cr_ = false;
            continue;
        }
        after_cr_ = ch == '\r';
        if (ch == '\n' || ch == '\r') {
            line(partial_, on_event);
            partial_.clear();
        } else {
            partial_.push_back(ch);
        }
    }
}

void EventStreamParser::line(std::string_view l, const std::function<void(ServerEvent&&)>& on_event) {
    if (l.empty()) {
        auto last_id = current_.id; // an id holds for the events after it too
        if (has_data_) on_event(std::move(current_));
        current_ = {};
        current_.id = std::move(last_id);
        has_data_ = false;
        return;
    }
    if (l.front() == ':') return; // a comment: the server's heartbeat
    const auto colon = l.find(':');
    const auto name = l.substr(0, colon);
    auto value = colon == std::string_view::npos ? std::string_view{} : l.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    if (name == "data") {
        if (has_data_) current_.data.push_back('\n');
        current_.data.append(value);
        has_data_ = true;
    } else if (name == "event") {
        current_.kind = std::string(value);
    } else if (name == "id") {
        current_.id = std::string(value);
    }
}

std::string Client::raw_exchange(std::string_view bytes) {
    Connection c;
    c.connect(base_, timeout_);
    c.stream.expires_after(timeout_);
    auto ec = c.run([&](auto handler) { asio::async_write(c.stream, asio::buffer(bytes), std::move(handler)); });
    std::string out;
    if (ec && !closed_by_peer(ec)) throw ProtocolError("sending to " + base_.text + " failed: " + reason(ec));
    std::array<char, 16 * 1024> buf{};
    while (!ec) {
        std::size_t n = 0;
        c.stream.expires_after(timeout_);
        ec = c.run([&](auto handler) {
            c.stream.async_read_some(asio::buffer(buf), [&n, handler = std::move(handler)](error_code e, std::size_t got) mutable {
                n = got;
                handler(e);
            });
        });
        out.append(buf.data(), n);
    }
    c.close();
    return out;
}

std::string url_encode(std::string_view s) { return proto::percent_encode(s); }

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
    std::string out;
    for (const auto& [name, value] : params) {
        if (value.empty()) continue;
        if (!out.empty()) out.push_back('&');
        out += url_encode(name) + "=" + url_encode(value);
    }
    return out;
}

} // namespace earshot::client

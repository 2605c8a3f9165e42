// A small synchronous HTTP/1.1 client for earshotd's API (Boost.Beast), used by
// the `earshot` CLI and by tests. One keep-alive connection, reopened when the
// server closed it; every operation has a deadline.
#pragma once

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace earshot::client {

namespace bhttp = boost::beast::http;

inline constexpr std::string_view default_api = "http://127.0.0.1:60210";

// "http://host[:port][/prefix]" split up; https is not spoken (the API is
// loopback or token-protected LAN).
struct BaseUrl {
    std::string host;   // without brackets for IPv6 literals
    std::string port;   // "80" when absent
    std::string prefix; // "" or "/prefix" without a trailing slash
    std::string text;   // normalised: "http://host:port/prefix"

    // Throws std::invalid_argument with a message naming what is wrong.
    static BaseUrl parse(std::string_view url);
};

// The server could not be reached at all (refused, unresolvable, timed out).
// what() is the short reason, e.g. "connection refused".
class ConnectError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The connection broke or the server answered something that is not HTTP/JSON.
class ProtocolError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A non-2xx answer; what() is the server's {"error": ...} message.
class ApiError : public std::runtime_error {
public:
    ApiError(unsigned status, const std::string& message) : std::runtime_error(message), status_(status) {}
    unsigned status() const { return status_; }

private:
    unsigned status_;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
    unsigned status = 0;
    bhttp::fields headers;
    std::string body;

    bool ok() const { return status >= 200 && status < 300; }
    // Empty string when absent.
    std::string header(std::string_view name) const;
    // Parses the body; throws ProtocolError if it is not JSON.
    nlohmann::json json() const;
    // The server's {"error": "..."} text, else the body, else "HTTP <status>".
    std::string error_message() const;
};

// One Server-Sent Event (GET /api/v1/events).
struct ServerEvent {
    std::string id;
    std::string kind = "message"; // the "event:" field
    std::string data;
};

// Splits a text/event-stream into events however its bytes are cut (the
// WHATWG rules: LF, CRLF or CR line ends; "data:" lines joined with LF;
// comments and unknown fields ignored; an event without data not sent).
class EventStreamParser {
public:
    void feed(std::string_view bytes, const std::function<void(ServerEvent&&)>& on_event);

private:
    void line(std::string_view l, const std::function<void(ServerEvent&&)>& on_event);
    std::string partial_;
    bool after_cr_ = false;
    ServerEvent current_;
    bool has_data_ = false;
};

class Client {
public:
    // `token`, when set, goes out as "Authorization: Bearer <token>".
    explicit Client(std::string_view base_url, std::string token = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    const BaseUrl& base() const { return base_; }
    void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
    std::chrono::milliseconds timeout() const { return timeout_; }

    // `target` is sent verbatim after the base prefix ("/api/v1/status?x=1"),
    // so callers (and tests) control every byte of it.
    Response request(bhttp::verb verb, std::string_view target, std::string body = {}, const Headers& headers = {});
    Response get(std::string_view target, const Headers& headers = {}) {
        return request(bhttp::verb::get, target, {}, headers);
    }
    Response head(std::string_view target, const Headers& headers = {}) {
        return request(bhttp::verb::head, target, {}, headers);
    }
    Response post_form(std::string_view target, std::string form) {
        return request(bhttp::verb::post, target, std::move(form),
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
    }

    // GET/POST returning the JSON body; throws ApiError on a non-2xx answer.
    nlohmann::json get_json(std::string_view target);
    nlohmann::json post_json(std::string_view target);

    // Reads `target` as an event stream on a connection of its own, calling
    // on_event for each event until it returns false or the server ends the
    // stream. Throws ApiError for a non-2xx answer and ProtocolError when
    // nothing at all (not even the server's heartbeat comment) comes for `idle`.
    void follow_events(std::string_view target, const std::function<bool(const ServerEvent&)>& on_event,
                       std::chrono::milliseconds idle = std::chrono::seconds(40));

    // Writes `bytes` on a fresh connection and returns everything the server
    // sends back until it closes or `timeout` passes (for malformed-request tests).
    std::string raw_exchange(std::string_view bytes);

private:
    struct Connection;
    Response send_once(const bhttp::request<bhttp::string_body>& req, bool head, bool& reused);
    bhttp::request<bhttp::string_body> make_request(bhttp::verb verb, std::string_view target, std::string body,
                                                    const Headers& headers) const;

    BaseUrl base_;
    std::string token_;
    std::chrono::milliseconds timeout_;
    std::unique_ptr<Connection> conn_;
};

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string url_encode(std::string_view s);
// "a=1&b=x%20y" from name/value pairs, skipping pairs whose value is empty.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

} // namespace earshot::client

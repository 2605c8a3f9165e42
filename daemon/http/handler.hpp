// What the connection loop hands to the routes and gets back, and helpers the
// modules share. Internal to earshot_http; the public surface is server.hpp,
// and a module's is routes.hpp.
#pragma once

#include "daemon/http/backend.hpp"
#include "daemon/http/sites.hpp"
#include "daemon/http/url.hpp"
#include "proto/asio.hpp"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::http {

namespace bhttp = boost::beast::http;
using Message = bhttp::request<bhttp::string_body>;

// Thrown by handlers for an answer of {"error": message} with this status.
// `allow` is the Allow header of a 405.
class HttpError : public std::runtime_error {
public:
    HttpError(bhttp::status status, const std::string& message, std::string allow = {})
        : std::runtime_error(message), status_(status), allow_(std::move(allow)) {}
    bhttp::status status() const { return status_; }
    const std::string& allow() const { return allow_; }

private:
    bhttp::status status_;
    std::string allow_;
};

// Who is asking, as the router judged it before calling a handler.
struct Access {
    CallerInfo caller;
    // A program, the daemon's own pages, an approved site presenting its token,
    // or (with --token) anyone presenting the API token.
    bool authenticated = true;
    // The approved site's token: stream URLs handed to that site carry it, so
    // an <audio> element on the site can play them.
    std::string site_token;

    // "" or "?auth=<token>", for the end of a /sid URL.
    std::string url_query() const { return site_token.empty() ? std::string{} : "?auth=" + site_token; }
};

struct Request {
    const Message& msg;
    std::vector<std::string> path; // decoded segments, see parse_target
    Params params;                 // query string, then form body (POST x-www-form-urlencoded)
    std::string base_url;          // "http://host:port", for absolute URLs in replies
    Access access{};               // filled in by route()

    std::optional<std::string_view> header(bhttp::field f) const {
        const auto it = msg.find(f);
        if (it == msg.end()) return std::nullopt;
        return it->value();
    }
    // For fields Beast has no enumerator for (Sec-Fetch-Site).
    std::optional<std::string_view> header(std::string_view name) const {
        const auto it = msg.find(name);
        if (it == msg.end()) return std::nullopt;
        return it->value();
    }
    // The parameter, or throws 400 "missing parameter 'name'".
    const std::string& required(std::string_view name) const;
    // Empty string when absent.
    std::string_view optional(std::string_view name) const;
};

// A streamed body: `length` bytes of `source` from `offset`.
struct StreamBody {
    std::unique_ptr<ByteSource> source;
    std::uint64_t offset = 0, length = 0;
};

struct Reply {
    bhttp::status status = bhttp::status::ok;
    bhttp::fields fields; // Content-Type and the like; Content-Length is computed
    std::string body;
    std::optional<StreamBody> stream; // when set, replaces `body`
    // When set, replaces `body` too: a body of unknown length (Server-Sent
    // Events), sent chunked piece by piece until this returns nullopt or the
    // client goes away; the connection closes after it.
    std::function<awaitable<std::optional<std::string>>()> live;

    std::uint64_t content_length() const { return stream ? stream->length : body.size(); }
};

// Serialises JSON without ever throwing on invalid UTF-8 (file names are bytes).
std::string dump_json(const nlohmann::json& j);
Reply json_reply(bhttp::status status, const nlohmann::json& body);
Reply error_reply(bhttp::status status, std::string_view message);

// One result as both APIs show it; `url` is base_url + "/sid/" + sid + url_query.
nlohmann::json result_json(const resolver::Result& r, std::string_view base_url, std::string_view url_query = {});
nlohmann::json query_json(const resolver::Query& q, std::string_view qid);
// A query's state as both APIs show it: {qid, query, solved, finished, errors, results (at most limit)}.
nlohmann::json snapshot_json(const resolver::QuerySnapshot& snap, std::string_view base_url,
                             std::size_t limit = static_cast<std::size_t>(-1), std::string_view url_query = {});

// Strict number parameters (400 with the parameter's name on anything else).
std::uint64_t parse_unsigned(std::string_view name, std::string_view text);
double parse_seconds(std::string_view name, std::string_view text);

// A sid: [A-Za-z0-9_-]{1,128}. Anything else cannot name a stream.
bool valid_id(std::string_view id);
// A qid, as the resolver accepts them: [A-Za-z0-9_.:-]{1,128}.
bool valid_qid(std::string_view qid);
// Starts a query; a query the resolver refuses becomes a 400.
std::string start_query(resolver::Resolver& resolver, resolver::Query q, std::string qid = {});

// Builds a resolver query from artist/track/album/duration or q; 400 when
// there is nothing to look for or a field is absurdly long.
resolver::Query query_from_params(const Request& req);

// The 403 message for a page of a site that is not approved (or names no
// origin): what it may not do and how it gets approved (/auth_1/).
std::string stranger_message(const Request& req, std::string_view what);

} // namespace earshot::http

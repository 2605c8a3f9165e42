// Which handler answers, and who may ask.
#include "daemon/http/auth.hpp"
#include "daemon/http/handler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace earshot::http {
namespace {

enum class Area { playdar, native, stream, other };

Area area_of(const std::vector<std::string>& p) {
    // "/api" and "/api/" are the Playdar API (clients use "/api/?method=...").
    if (!p.empty() && p[0] == "api" && (p.size() == 1 || (p.size() == 2 && p[1].empty()))) return Area::playdar;
    if (p.size() >= 2 && p[0] == "api" && p[1] == "v1") return Area::native;
    if (!p.empty() && p[0] == "sid") return Area::stream;
    return Area::other;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// CORS: "Access-Control-Allow-Origin: *" on the Playdar API and /sid, in both
// modes, and never on the native API.
//  - Playdar-era web clients are pages on other origins; they need it.
//  - On loopback without a token this exposes nothing new: Playdar's JSONP
//    (which those clients also use, and which CORS cannot restrict) already
//    lets any page run resolve, and /sid only serves bytes behind a sid that a
//    resolve revealed. Results carry no file-system paths.
//  - With a token (non-loopback listen) it is safe as well: the token is not an
//    ambient credential like a cookie, so a foreign page only gets in if the
//    user handed it the token; "*" never shares cookies.
//  - The native API (file paths in /errors, scan control) gets no CORS header,
//    so foreign pages cannot read it, and requests that carry a foreign Origin
//    are refused outright (blocks cross-site form POSTs to /api/v1/scan).
void add_cors(Reply& r) {
    r.fields.set(bhttp::field::access_control_allow_origin, "*");
    r.fields.set(bhttp::field::access_control_expose_headers, "Content-Range, Content-Length, Accept-Ranges, ETag");
}

Reply preflight() {
    Reply r;
    r.status = bhttp::status::no_content;
    r.fields.set(bhttp::field::access_control_allow_methods, "GET, HEAD, POST, OPTIONS");
    r.fields.set(bhttp::field::access_control_allow_headers, "Authorization, Range, If-Range, Content-Type");
    r.fields.set(bhttp::field::access_control_max_age, "600");
    return r;
}

void require_method(const Request& req, std::initializer_list<bhttp::verb> allowed, std::string_view allow_header) {
    for (const auto v : allowed)
        if (req.msg.method() == v) return;
    throw HttpError(bhttp::status::method_not_allowed,
                    "method " + std::string(req.msg.method_string()) + " is not allowed here (allowed: " +
                        std::string(allow_header) + ")",
                    std::string(allow_header));
}

void check_token(const Context& ctx, const Request& req) {
    if (!ctx.auth_required) return;
    if (const auto h = req.header(bhttp::field::authorization))
        if (const auto t = bearer_token(*h); t && token_equals(*t, ctx.options.token)) return;
    if (const auto* t = req.params.find("auth"); t && token_equals(*t, ctx.options.token)) return;
    throw HttpError(bhttp::status::unauthorized,
                    "a token is required: send 'Authorization: Bearer <token>' or the 'auth' parameter");
}

// A page on another site must not drive the native API: browsers always send
// Origin on cross-origin POSTs, and it must name the host the request went to.
void check_origin(const Request& req) {
    const auto origin = req.header(bhttp::field::origin);
    if (!origin) return;
    const auto host = req.header(bhttp::field::host).value_or("");
    const auto scheme_end = origin->find("://");
    if (scheme_end != std::string_view::npos && iequals(origin->substr(scheme_end + 3), host)) return;
    throw HttpError(bhttp::status::forbidden, "cross-origin requests to the native API are refused");
}

awaitable<Reply> dispatch(Context& ctx, const Request& req, Area area) {
    // Without a token the daemon trusts whoever reaches loopback; a DNS-rebinding
    // page reaches loopback too, but always with its own name in Host.
    if (!ctx.auth_required) {
        if (const auto host = req.header(bhttp::field::host); host && !host_is_local(*host, ctx.machine_hostname))
            throw HttpError(bhttp::status::forbidden,
                            "Host '" + std::string(*host) +
                                "' does not name this machine; use an address such as http://127.0.0.1");
    }
    const bool options = req.msg.method() == bhttp::verb::options;
    switch (area) {
    case Area::stream:
        // /sid needs no token: players get a plain URL, and a sid is only known
        // to whoever was allowed to resolve.
        if (options) co_return preflight();
        require_method(req, {bhttp::verb::get, bhttp::verb::head}, "GET, HEAD, OPTIONS");
        co_return co_await handle_stream(ctx, req);
    case Area::playdar:
        if (options) co_return preflight(); // preflights carry no credentials
        check_token(ctx, req);
        require_method(req, {bhttp::verb::get, bhttp::verb::post}, "GET, POST, OPTIONS");
        co_return co_await handle_playdar(ctx, req);
    case Area::native:
        check_token(ctx, req);
        check_origin(req);
        co_return co_await handle_native(ctx, req);
    case Area::other:
        break;
    }
    check_token(ctx, req); // unauthenticated clients learn nothing, not even which paths exist
    throw HttpError(bhttp::status::not_found, "no such path");
}

} // namespace

awaitable<Reply> route(Context& ctx, const Request& req) {
    const auto area = area_of(req.path);
    Reply reply;
    std::optional<std::string> failure;
    try {
        reply = co_await dispatch(ctx, req, area);
    } catch (const HttpError& e) {
        reply = error_reply(e.status(), e.what());
        if (e.status() == bhttp::status::unauthorized) reply.fields.set(bhttp::field::www_authenticate, "Bearer");
        if (!e.allow().empty()) reply.fields.set(bhttp::field::allow, e.allow());
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "unknown exception";
    }
    if (failure) {
        spdlog::error("http: {} {} failed: {}", req.msg.method_string(), redact_target(req.msg.target()), *failure);
        reply = error_reply(bhttp::status::internal_server_error, "internal error: " + *failure);
    }
    if (area == Area::playdar || area == Area::stream) add_cors(reply);
    co_return reply;
}

} // namespace earshot::http

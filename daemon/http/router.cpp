// Which handler answers, and who may ask.
#include "daemon/http/auth.hpp"
#include "daemon/http/handler.hpp"

#include <spdlog/spdlog.h>

namespace earshot::http {
namespace {

enum class Area { playdar, native, stream, site_auth, other };

Area area_of(const std::vector<std::string>& p) {
    // "/api" and "/api/" are the Playdar API (clients use "/api/?method=...").
    if (!p.empty() && p[0] == "api" && (p.size() == 1 || (p.size() == 2 && p[1].empty()))) return Area::playdar;
    if (p.size() >= 2 && p[0] == "api" && p[1] == "v1") return Area::native;
    if (!p.empty() && p[0] == "sid") return Area::stream;
    // "/auth_1/" and "/auth_2/" as Playdar clients build them; "/auth_1" too.
    if (!p.empty() && (p[0] == "auth_1" || p[0] == "auth_2") && (p.size() == 1 || (p.size() == 2 && p[1].empty())))
        return Area::site_auth;
    return Area::other;
}

// CORS: "Access-Control-Allow-Origin: *" on the Playdar API and /sid, in both
// modes, and never on the native API or the approval pages.
//  - Playdar-era web clients are pages on other origins; they need it.
//  - It exposes nothing, because CORS is not what keeps strangers out: a
//    request a browser sent for another site (Origin, Sec-Fetch-Site or
//    Referer say so) gets a 403 without data unless it carries the token of a
//    site the user approved (/auth_1/ -> /auth_2/, or `earshot sites allow`),
//    and that token only counts for the origin it was issued to. The check
//    runs before anything else, so JSONP (which CORS could never restrict)
//    and <audio> get the same 403 as fetch. method=stat alone answers
//    strangers, with nothing but "authenticated": false, so clients can find
//    the daemon and start the approval.
//  - Tokens are not ambient credentials like cookies: a page only has one if
//    the user approved it, and "*" never shares cookies.
//  - The native API (file paths in /errors, scan control, site approval) gets
//    no CORS header and refuses every cross-site request outright (blocks
//    cross-site form POSTs to /api/v1/scan and sites approving themselves).
//  - The approval page carries a one-time nonce; without CORS no other origin
//    can read it, and /auth_2/ only takes it from the daemon's own page.
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

bool presented_api_token(const Context& ctx, const Request& req) {
    if (!ctx.auth_required) return false;
    if (const auto h = req.header(bhttp::field::authorization))
        if (const auto t = bearer_token(*h); t && token_equals(*t, ctx.options.token)) return true;
    const auto* t = req.params.find("auth");
    return t && token_equals(*t, ctx.options.token);
}

// Decides req.access: who is asking, and whether they may have the library's data.
void judge_caller(const Context& ctx, Request& req) {
    auto& a = req.access;
    a.caller = classify_caller(req.header(bhttp::field::origin), req.header(std::string_view("Sec-Fetch-Site")),
                               req.header(bhttp::field::referer), req.header(bhttp::field::host).value_or(""));
    if (a.caller.kind != Caller::cross_site) return; // the user's programs and the daemon's own pages
    // With --token, whoever holds the API token is the user (or was given it by them).
    if (presented_api_token(ctx, req)) return;
    a.authenticated = false;
    if (a.caller.origin.empty()) return; // cannot be matched to an approved site
    std::optional<std::string_view> token;
    if (const auto h = req.header(bhttp::field::authorization)) token = bearer_token(*h);
    if (!token)
        if (const auto* t = req.params.find("auth")) token = *t;
    if (!token) return;
    if (const auto* site = ctx.sites.find(*token, a.caller.origin)) {
        a.authenticated = true;
        a.site_token = site->token;
    }
}

// A page on another site must not drive the native API: browsers send Origin
// on cross-origin POSTs and Sec-Fetch-Site (or a Referer) on everything else.
void check_origin(const Request& req) {
    if (req.access.caller.kind == Caller::cross_site)
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
        // /sid needs no token from players: they get a plain URL and send no
        // browser headers. A page on another site needs its site token, since a
        // content id can be computed from a file the site already has; refused
        // before the sid is even looked at, so a stranger cannot probe for one.
        if (options) co_return preflight();
        require_method(req, {bhttp::verb::get, bhttp::verb::head}, "GET, HEAD, OPTIONS");
        if (!req.access.authenticated)
            throw HttpError(bhttp::status::forbidden, stranger_message(req, "play streams"));
        co_return co_await handle_stream(ctx, req);
    case Area::playdar:
        if (options) co_return preflight(); // preflights carry no credentials
        check_token(ctx, req);
        require_method(req, {bhttp::verb::get, bhttp::verb::post}, "GET, POST, OPTIONS");
        co_return co_await handle_playdar(ctx, req); // refuses strangers everything but stat
    case Area::native:
        check_token(ctx, req);
        check_origin(req);
        co_return co_await handle_native(ctx, req);
    case Area::site_auth:
        check_token(ctx, req);
        co_return co_await handle_site_auth(ctx, req);
    case Area::other:
        break;
    }
    check_token(ctx, req); // unauthenticated clients learn nothing, not even which paths exist
    throw HttpError(bhttp::status::not_found, "no such path");
}

} // namespace

awaitable<Reply> route(Context& ctx, Request& req) {
    const auto area = area_of(req.path);
    judge_caller(ctx, req);
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

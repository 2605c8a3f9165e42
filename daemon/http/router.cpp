// Which handler answers, and who may ask: the route table and the policies.
#include "daemon/http/router.hpp"

#include "daemon/http/auth.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace earshot::http {

void RouteTable::add(Route route) {
    const std::string_view pattern = route.pattern;
    if (!pattern.starts_with('/') || !route.handler)
        throw std::invalid_argument("route '" + route.pattern + "': a pattern starts with '/' and has a handler");
    Row row;
    auto rest = pattern.substr(1);
    if (rest.ends_with("/*")) {
        row.subtree = true;
        rest.remove_suffix(2);
    } else if (rest.ends_with('/')) {
        rest.remove_suffix(1);
    }
    while (!rest.empty()) {
        const auto slash = rest.find('/');
        const auto segment = rest.substr(0, slash);
        if (segment.empty() || segment == "*")
            throw std::invalid_argument("route '" + route.pattern + "': '*' may only end a pattern, after a '/'");
        row.prefix.emplace_back(segment);
        rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    }
    for (const auto& r : rows_)
        if (r.prefix == row.prefix && r.subtree == row.subtree)
            throw std::invalid_argument("route '" + route.pattern + "' is registered twice");
    row.route = std::move(route);
    rows_.push_back(std::move(row));
}

const Route* RouteTable::find(const std::vector<std::string>& path) const {
    const Row* best = nullptr;
    for (const auto& r : rows_) {
        if (path.size() < r.prefix.size() || !std::equal(r.prefix.begin(), r.prefix.end(), path.begin())) continue;
        // An exact pattern also takes the trailing slash ("/api/" is {"api", ""}).
        const bool exact = path.size() == r.prefix.size() ||
                           (path.size() == r.prefix.size() + 1 && path.back().empty());
        if (!r.subtree && !exact) continue;
        if (!best || r.prefix.size() > best->prefix.size()) best = &r;
    }
    return best ? &best->route : nullptr;
}

namespace {

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

void require_method(const Request& req, const Route& route) {
    if (route.methods.empty()) return;
    for (const auto v : route.methods)
        if (req.msg.method() == v) return;
    std::string allow;
    for (const auto v : route.methods) allow += (allow.empty() ? "" : ", ") + std::string(bhttp::to_string(v));
    if (route.cors == Cors::any) allow += ", OPTIONS";
    throw HttpError(bhttp::status::method_not_allowed,
                    "method " + std::string(req.msg.method_string()) + " is not allowed here (allowed: " + allow + ")",
                    allow);
}

void check_token(const RouterContext& ctx, const Request& req) {
    if (!ctx.auth_required) return;
    if (const auto h = req.header(bhttp::field::authorization))
        if (const auto t = bearer_token(*h); t && token_equals(*t, ctx.options.token)) return;
    if (const auto* t = req.params.find("auth"); t && token_equals(*t, ctx.options.token)) return;
    throw HttpError(bhttp::status::unauthorized,
                    "a token is required: send 'Authorization: Bearer <token>' or the 'auth' parameter");
}

bool presented_api_token(const RouterContext& ctx, const Request& req) {
    if (!ctx.auth_required) return false;
    if (const auto h = req.header(bhttp::field::authorization))
        if (const auto t = bearer_token(*h); t && token_equals(*t, ctx.options.token)) return true;
    const auto* t = req.params.find("auth");
    return t && token_equals(*t, ctx.options.token);
}

// Decides req.access: who is asking, and whether they may have the library's data.
void judge_caller(const RouterContext& ctx, Request& req) {
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

awaitable<Reply> dispatch(const RouterContext& ctx, const Request& req, const Route* route) {
    // Without a token the daemon trusts whoever reaches loopback; a DNS-rebinding
    // page reaches loopback too, but always with its own name in Host.
    if (!ctx.auth_required) {
        if (const auto host = req.header(bhttp::field::host); host && !host_is_local(*host, ctx.machine_hostname))
            throw HttpError(bhttp::status::forbidden,
                            "Host '" + std::string(*host) +
                                "' does not name this machine; use an address such as http://127.0.0.1");
    }
    if (!route) {
        check_token(ctx, req); // unauthenticated clients learn nothing, not even which paths exist
        throw HttpError(bhttp::status::not_found, "no such path");
    }
    // Preflights carry no credentials, and answering one reveals nothing.
    if (route->cors == Cors::any && req.msg.method() == bhttp::verb::options) co_return preflight();
    if (route->policy != Policy::open && route->policy != Policy::player) check_token(ctx, req);
    require_method(req, *route);
    const bool stranger = !req.access.authenticated;
    switch (route->policy) {
    case Policy::open:
    case Policy::token:
        break;
    case Policy::local_only:
        // Browsers send Origin on cross-origin POSTs and Sec-Fetch-Site (or a
        // Referer) on everything else; a site token does not count here.
        if (req.access.caller.kind == Caller::cross_site)
            throw HttpError(bhttp::status::forbidden, "cross-origin requests to the native API are refused");
        break;
    case Policy::site_token:
    case Policy::player:
        // Refused before the handler looks at a parameter, so a stranger
        // cannot even probe whether a qid or a sid exists.
        if (stranger && route->for_strangers) co_return co_await route->for_strangers(req);
        if (stranger) throw HttpError(bhttp::status::forbidden, stranger_message(req, route->stranger_refusal));
        break;
    }
    co_return co_await route->handler(req);
}

} // namespace

awaitable<Reply> route(const RouterContext& ctx, Request& req) {
    const Route* found = ctx.routes.find(req.path);
    judge_caller(ctx, req);
    Reply reply;
    std::optional<std::string> failure;
    try {
        reply = co_await dispatch(ctx, req, found);
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
    if (found && found->cors == Cors::any) add_cors(reply);
    co_return reply;
}

} // namespace earshot::http

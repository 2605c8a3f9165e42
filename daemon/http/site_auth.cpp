// Approving web sites, as Playdar did: a site sends the user to /auth_1/, the
// daemon's page asks the user, and the page's form POSTs to /auth_2/, which
// issues the site's token. Also the native API's /api/v1/sites, which the CLI
// uses (`earshot sites allow|list|revoke`).
#include "daemon/http/modules.hpp"
#include "daemon/http/routes.hpp"

#include <fmt/format.h>

namespace earshot::http {
namespace {

// The approval pages are the daemon's own: nobody may frame them (a framed
// page can be clicked through by a site that covers it), nothing is cached
// (the page holds a nonce, the answer a token), and scripts run nowhere.
// The referrer policy is "same-origin", not "no-referrer": under no-referrer
// browsers send "Origin: null" with the form's POST, which /auth_2/ refuses.
Reply html_reply(bhttp::status status, std::string title, std::string body) {
    Reply r;
    r.status = status;
    r.fields.set(bhttp::field::content_type, "text/html; charset=utf-8");
    r.fields.set(bhttp::field::cache_control, "no-store");
    r.fields.set("X-Frame-Options", "DENY");
    r.fields.set("X-Content-Type-Options", "nosniff");
    r.fields.set("Referrer-Policy", "same-origin");
    r.fields.set("Content-Security-Policy",
                 "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
    r.body = fmt::format(R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{0}</title>
<style>body{{font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.5}}code{{background:#eee;padding:0 .2em;word-break:break-all}}button{{font-size:1.1em;margin-right:1em}}</style>
</head><body>
<h1>{0}</h1>
{1}
</body></html>
)",
                         html_escape(title), body);
    return r;
}

[[noreturn]] void wrong_method(std::string_view allowed) {
    throw HttpError(bhttp::status::method_not_allowed, "this path only accepts " + std::string(allowed),
                    std::string(allowed));
}

// Where the token may be sent: an absolute URL on the site's own origin (the
// token is worth nothing elsewhere, and must not be handed to a third party),
// printable ASCII only (it becomes a Location header), with no fragment of
// its own (the token becomes the fragment).
std::string receiver_for(std::string_view receiver, const std::string& origin) {
    if (receiver.empty()) return {};
    const bool printable = std::all_of(receiver.begin(), receiver.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (!printable || receiver.size() > 2048 || receiver.find('#') != std::string_view::npos)
        throw HttpError(bhttp::status::bad_request, "parameter 'receiverurl' must be a plain absolute URL without '#'");
    const auto o = normalise_origin(receiver);
    if (!o || *o != origin)
        throw HttpError(bhttp::status::bad_request, "parameter 'receiverurl' must be on the site's own origin (" + origin + ")");
    return std::string(receiver);
}

struct SiteState {
    SiteRegistry& sites;
    Approvals& approvals;
    std::string library_name;
};

Reply approval_page(SiteState& ctx, const Request& req) {
    if (req.msg.method() != bhttp::verb::get && req.msg.method() != bhttp::verb::head) wrong_method("GET, HEAD");
    const auto& website = req.required("website");
    const auto origin = normalise_origin(website);
    if (!origin)
        throw HttpError(bhttp::status::bad_request,
                        "parameter 'website' must be the site's origin, like https://example.org");
    // The page that sent the user here must be the site it asks for: a site
    // cannot ask in another's name (the token would be bound to that other site
    // anyway, but the user should not be shown a false name).
    if (req.access.caller.kind == Caller::cross_site && !req.access.caller.origin.empty() &&
        req.access.caller.origin != *origin)
        throw HttpError(bhttp::status::bad_request, "this page was opened by " + req.access.caller.origin +
                                                        " but asks approval for " + *origin);
    const auto name = clean_site_name(req.optional("name"));
    const auto receiver = receiver_for(req.optional("receiverurl"), *origin);
    const auto shown_name = name.empty() ? *origin : name;
    const auto nonce = ctx.approvals.issue(*origin, name, receiver);

    const auto again = [&] {
        for (const auto& s : ctx.sites.sites())
            if (s.origin == *origin) return true;
        return false;
    }();
    std::string body = fmt::format(
        "<p>The web site <code>{0}</code>, which calls itself <b>{1}</b>, asks to use your earshot library "
        "<b>{2}</b>: to search it and, through it, the libraries of your devices and friends, and to play what it "
        "finds.</p>\n"
        "<p>Allow it only if you opened this page from that site and trust it. {3}You can take it back at any "
        "time: <code>earshot sites revoke {0}</code></p>\n"
        "<form method=\"post\" action=\"/auth_2/\">\n"
        "<input type=\"hidden\" name=\"nonce\" value=\"{4}\">\n"
        "<button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button>\n"
        "<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button>\n"
        "</form>\n",
        html_escape(*origin), html_escape(shown_name), html_escape(ctx.library_name),
        again ? "It was allowed before; allowing it again keeps its token. " : "", html_escape(nonce));
    return html_reply(bhttp::status::ok, "Allow " + shown_name + " to use earshot?", std::move(body));
}

awaitable<Reply> approve(SiteState& ctx, const Request& req) {
    if (req.msg.method() != bhttp::verb::post) wrong_method("POST");
    // Only the daemon's own page may approve: browsers send Origin with every
    // form POST, and it must be ours. A foreign page's auto-submitting form
    // carries its own Origin and ends here, whatever nonce it guessed.
    if (req.access.caller.kind != Caller::same_origin || !req.header(bhttp::field::origin))
        throw HttpError(bhttp::status::forbidden, "sites are approved only from earshot's own page (/auth_1/)");
    const auto pending = ctx.approvals.take(req.required("nonce"));
    if (!pending)
        throw HttpError(bhttp::status::bad_request,
                        "this approval page has expired or was answered already; let the site open it again");
    const auto& shown_name = pending->name.empty() ? pending->origin : pending->name;
    if (req.optional("decision") != "allow")
        co_return html_reply(bhttp::status::ok, "Not allowed",
                          "<p><code>" + html_escape(pending->origin) + "</code> was not allowed to use earshot.</p>");

    const Site site = ctx.sites.allow(pending->origin, pending->name);
    co_await ctx.sites.saved(); // a token the user approved survives a crash before we answer
    if (!pending->receiver.empty()) {
        // Playdar's way: the token in the fragment, which the receiver page reads
        // and which never reaches a server or its logs.
        Reply r;
        r.status = bhttp::status::see_other;
        r.fields.set(bhttp::field::location, pending->receiver + "#" + site.token);
        r.fields.set(bhttp::field::cache_control, "no-store");
        r.fields.set("Referrer-Policy", "no-referrer");
        co_return r;
    }
    co_return html_reply(bhttp::status::ok, shown_name + " may now use earshot",
                      "<p><code>" + html_escape(site.origin) +
                          "</code> is allowed. If the site asks for a token, paste this one:</p>\n<p><code>" +
                          html_escape(site.token) + "</code></p>\n<p>Revoke it with <code>earshot sites revoke " +
                          html_escape(site.origin) + "</code>.</p>");
}

nlohmann::json site_json(const Site& s) {
    return {{"origin", s.origin}, {"name", s.name}, {"token", s.token}, {"created_ms", s.created_ms}};
}

// GET /api/v1/sites, POST /api/v1/sites, POST /api/v1/sites/revoke.
awaitable<Reply> native_sites(SiteState& ctx, const Request& req) {
    const std::vector<std::string> rest(req.path.begin() + 2, req.path.end()); // after "api", "v1"
    const auto verb = req.msg.method();
    if (rest.size() == 1 && verb == bhttp::verb::get) {
        auto list = nlohmann::json::array();
        for (const auto& s : ctx.sites.sites()) list.push_back(site_json(s));
        co_return json_reply(bhttp::status::ok, nlohmann::json{{"sites", std::move(list)}});
    }
    if (rest.size() == 1) {
        if (verb != bhttp::verb::post) wrong_method("GET, POST");
        std::optional<Site> site;
        try {
            site = ctx.sites.allow(req.required("origin"), req.optional("name"));
        } catch (const std::invalid_argument& e) {
            throw HttpError(bhttp::status::bad_request, e.what());
        }
        co_await ctx.sites.saved();
        co_return json_reply(bhttp::status::ok, site_json(*site));
    }
    if (rest.size() == 2 && rest[1] == "revoke") {
        if (verb != bhttp::verb::post) wrong_method("POST");
        const auto& which = req.required("site");
        if (!ctx.sites.revoke(which)) throw HttpError(bhttp::status::not_found, "no approved site has origin or token '" + which + "'");
        co_await ctx.sites.saved();
        co_return json_reply(bhttp::status::ok, nlohmann::json{{"revoked", which}});
    }
    throw HttpError(bhttp::status::not_found, "no such API path under /api/v1/sites");
}

class SiteModule final : public Module {
public:
    SiteModule(SiteRegistry& sites, Approvals& approvals, std::string library_name)
        : state_{sites, approvals, std::move(library_name)} {}

    void add_routes(RouteTable& routes) override {
        // The approval page opens for a page of another site: that is how a
        // site sends the user here. It checks its own methods (a GET of
        // /auth_2/ is a 405, never an approval).
        routes.add(Route{.pattern = "/auth_1/",
                         .policy = Policy::token,
                         .handler = [this](const Request& req) { return page(req); }});
        // Approval: the page's own POST only, which approve() checks by Origin.
        routes.add(Route{.pattern = "/auth_2/",
                         .policy = Policy::token,
                         .handler = [this](const Request& req) { return approval(req); }});
        // Approving from the CLI: part of the native API, so never cross-site.
        routes.add(Route{.pattern = "/api/v1/sites/*",
                         .policy = Policy::local_only,
                         .handler = [this](const Request& req) { return native(req); }});
    }

private:
    awaitable<Reply> page(const Request& req) { co_return approval_page(state_, req); }
    awaitable<Reply> approval(const Request& req) { return approve(state_, req); }
    awaitable<Reply> native(const Request& req) { return native_sites(state_, req); }

    SiteState state_;
};

} // namespace

std::string stranger_message(const Request& req, std::string_view what) {
    const auto& origin = req.access.caller.origin;
    if (origin.empty())
        return fmt::format("a web page that names no origin (no Origin or Referer header) cannot {}; earshot needs "
                           "to know which site asks before the user can approve it",
                           what);
    return fmt::format("the web site {0} may not {1} until the user approves it: open {2}/auth_1/?website={3}&name=YOUR_NAME"
                       "[&receiverurl=...] and send the token it gives as 'auth=TOKEN' or 'Authorization: Bearer TOKEN'",
                       origin, what, req.base_url, percent_encode(origin));
}

std::unique_ptr<Module> site_module(SiteRegistry& sites, Approvals& approvals, std::string library_name) {
    return std::make_unique<SiteModule>(sites, approvals, std::move(library_name));
}

} // namespace earshot::http

// The route table: each row is {path pattern, methods, access policy, CORS,
// handler}, registered by the modules. The router (router.cpp) finds the row
// for a request and enforces its policy before the handler runs, so who may
// call what is written in one place per route, not spread over handlers.
#pragma once

#include "daemon/http/handler.hpp"
#include "daemon/http/module.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::http {

// Who may reach a route's handler (after the Host check that keeps
// DNS-rebinding pages off a loopback daemon, which applies to every request).
// "Strangers" are pages of other sites (sites.hpp: classify_caller).
enum class Policy {
    // Anyone; the handler does its own checks. For pages that must open
    // before any credential exists (a login page, a client with its own auth).
    open,
    // The API token when the daemon requires one (non-loopback listen);
    // strangers too (the approval pages: a site sends the user there).
    token,
    // The API token when required, and never a stranger, approved or not
    // (the native API: file paths, scan control, pairing, site approval).
    local_only,
    // The API token when required; a stranger needs the token of an approved
    // site, issued to its own origin (the Playdar API).
    site_token,
    // No API token (players get plain URLs); a stranger needs an approved
    // site's token or the API token (/sid streams).
    player,
};

enum class Cors {
    none,
    // "Access-Control-Allow-Origin: *" on every reply and OPTIONS answered as
    // a preflight. Exposes nothing by itself: the policy keeps strangers out.
    any,
};

using Handler = std::function<awaitable<Reply>(const Request&)>;

struct Route {
    // "/api/" matches exactly "/api" and "/api/"; "/api/v1/*" matches
    // "/api/v1" and everything below it. The longest matching pattern wins.
    std::string pattern{};
    // Checked by the router (405 with Allow otherwise); empty: the handler checks.
    std::vector<bhttp::verb> methods{};
    Policy policy = Policy::local_only;
    Cors cors = Cors::none;
    Handler handler{};
    // For site_token and player routes: what a stranger without a valid token
    // is refused, for the 403's message ("play streams").
    std::string stranger_refusal = "use this API";
    // Optional, for site_token routes: answers strangers instead of the 403
    // (Playdar's stat, which lets a client find the daemon and start the
    // approval). The main handler never sees an unapproved stranger.
    Handler for_strangers{};
};

class RouteTable {
public:
    // Throws std::invalid_argument for a malformed pattern or one already taken
    // (two modules must not silently shadow each other).
    void add(Route route);
    // The route for a decoded path, or nullptr.
    const Route* find(const std::vector<std::string>& path) const;
private:
    struct Row {
        std::vector<std::string> prefix;
        bool subtree = false;
        Route route;
    };
    std::vector<Row> rows_;
};

} // namespace earshot::http

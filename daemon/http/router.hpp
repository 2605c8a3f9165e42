// The router: finds the route of a request in the table the modules filled and
// enforces its policy. Internal to earshot_http (server.cpp calls it).
#pragma once

#include "daemon/http/routes.hpp"
#include "daemon/http/server.hpp"
#include "daemon/http/sites.hpp"

#include <string>

namespace earshot::http {

struct RouterContext {
    const ServerOptions& options;
    bool auth_required; // a non-loopback listen address: the API token is needed
    std::string machine_hostname;
    const SiteRegistry& sites;
    const RouteTable& routes;
};

// Host check, the route's policy, CORS and method checks, then its handler.
// Never throws: every failure becomes a JSON error reply. Fills in req.access.
awaitable<Reply> route(const RouterContext& ctx, Request& req);

} // namespace earshot::http

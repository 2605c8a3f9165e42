// An HTTP module: one area of the API (the Playdar API, the native API,
// /sid streams, the site approval pages; later playlists, OpenSubsonic, a web
// page, metrics) that registers its routes with the server's route table.
// A module holds only the narrow interfaces it needs (backend.hpp), so adding
// one touches neither the router nor the other modules.
#pragma once

namespace earshot::http {

class RouteTable;

class Module {
public:
    virtual ~Module() = default;
    // Adds this module's routes. Called once, before the server accepts a
    // connection; handlers run on the server's io thread and may capture `this`
    // (the server keeps every module alive as long as its routes).
    virtual void add_routes(RouteTable& routes) = 0;
};

} // namespace earshot::http

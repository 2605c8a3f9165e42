// The daemon's standard HTTP modules, each over the narrow interfaces it
// needs (backend.hpp). The server registers them in this order; a new module
// (playlists, OpenSubsonic, a web page, metrics) is one more factory like these.
#pragma once

#include "daemon/http/backend.hpp"
#include "daemon/http/module.hpp"
#include "daemon/http/sites.hpp"

#include <memory>
#include <string>

namespace earshot::core {
class EventBus;
}

namespace earshot::http {

// /api/?method=stat|resolve|get_results|get_results_long|cancel (Playdar, with JSONP).
std::unique_ptr<Module> playdar_module(ResolverAccess& library, std::string machine_hostname);
// /api/v1/...: status, search, results, tracks, errors, scan, health, peers, pins.
std::unique_ptr<Module> native_module(LibraryControl& library, PeerControl& peers, PinControl& pins,
                                      ResolverAccess& search);
// /sid/<sid> with Range.
std::unique_ptr<Module> stream_module(StreamSource& streams);
// GET /api/v1/events: the daemon's events as Server-Sent Events.
std::unique_ptr<Module> events_module(EventSource& events);
// The same over the daemon's event bus (daemon/core/event_bus.hpp).
std::unique_ptr<Module> events_module(core::EventBus& bus);
// /auth_1/, /auth_2/ and /api/v1/sites: approving web sites.
std::unique_ptr<Module> site_module(SiteRegistry& sites, Approvals& approvals, std::string library_name);

} // namespace earshot::http

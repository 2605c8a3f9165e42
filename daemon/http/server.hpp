// The daemon's HTTP front door: the Playdar-compatible API (/api/?method=...),
// sid streaming with Range (/sid/<sid>) and the native JSON API (/api/v1/...).
//
// Threading: everything runs on the io_context the Server was built with, and
// that io_context must be run by one thread (the services and the Resolver are
// not synchronised). start()/stop() may be called from any thread.
#pragma once

#include "daemon/http/backend.hpp"
#include "daemon/http/module.hpp"
#include "proto/asio.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace earshot::core {
class Blocking;
}

namespace earshot::http {

struct ServerOptions {
    asio::ip::tcp::endpoint listen;
    // Required (non-empty) when `listen` is not a loopback address: every request
    // except /sid/... must then carry it (`auth=` parameter or `Authorization: Bearer`).
    // On a loopback address no token is asked for, even if one is set.
    std::string token;
    // Where approved web sites and their tokens are kept (DATA/sites.json);
    // empty keeps them in memory only.
    std::filesystem::path sites_file;
    // Where sites.json is written; none: at once, on the io thread (tests).
    core::Blocking* blocking = nullptr;
    // A connection with no request in progress is closed after this long.
    std::chrono::seconds idle_timeout{60};
    // A single write that makes no progress for this long ends the connection
    // (a paused player stops reading; it reconnects with Range when it resumes).
    std::chrono::seconds write_timeout{300};
    // Request header and body bounds; larger requests get 431/413.
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_body_bytes = 64 * 1024;
    // Connections beyond this are closed as soon as they are accepted.
    std::size_t max_connections = 512;
};

class Server {
public:
    // Binds and listens at once; throws std::system_error ("cannot listen on
    // 127.0.0.1:60210: Address already in use") if that fails, and
    // std::invalid_argument if a non-loopback address has no token.
    // The parts must outlive every coroutine the server spawns, i.e. until the
    // io_context has stopped running (or was destroyed).
    // Serves the standard modules (modules.hpp) over `parts`, then `extra`
    // ones (their routes must not repeat a pattern: std::invalid_argument).
    Server(asio::io_context& io, StandardParts parts, ServerOptions options,
           std::vector<std::unique_ptr<Module>> extra = {});
    Server(asio::io_context& io, Backend& backend, ServerOptions options,
           std::vector<std::unique_ptr<Module>> extra = {})
        : Server(io, backend.parts(), std::move(options), std::move(extra)) {}
    ~Server(); // calls stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // The bound address (useful with port 0).
    asio::ip::tcp::endpoint local_endpoint() const;
    // Starts accepting connections.
    void start();
    // Closes the listening socket and every open connection. Requests waiting in
    // a long poll notice when their wait ends and then drop their reply.
    void stop();

    struct State; // shared with the connection coroutines, which may outlive *this

private:
    std::shared_ptr<State> state_;
};

} // namespace earshot::http

// How the daemon writes an endpoint, in logs, the API and the roster.
#pragma once

#include "proto/asio.hpp"

#include <string>

namespace earshot::core {

// "host:port", "[v6]:port". Built with append: GCC 12 at -O3 misreads
// "[" + std::string as an overlapping copy (docs/toolchain-notes.md).
inline std::string format_endpoint(const asio::ip::tcp::endpoint& ep) {
    std::string out;
    const auto host = ep.address().to_string();
    if (ep.address().is_v6())
        out.append("[").append(host).append("]");
    else
        out.append(host);
    out.append(":").append(std::to_string(ep.port()));
    return out;
}

} // namespace earshot::core

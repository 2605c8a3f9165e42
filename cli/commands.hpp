// The `earshot` commands. Each returns the process exit code; failures to reach
// or understand the daemon surface as client:: exceptions, mapped in main.
#pragma once

#include "cli/client.hpp"

#include <optional>
#include <string>
#include <vector>

namespace earshot::cli {

namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int error = 1;
inline constexpr int usage = 2;
inline constexpr int not_found = 3;
} // namespace exit_code

// A command-line mistake found after parsing (exit code 2).
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct QueryOptions {
    std::vector<std::string> words; // free text, e.g. "Artist - Title"
    std::string artist, track, album;
    std::optional<double> duration;
    unsigned timeout_ms = 3000; // how long the daemon may wait for sources
};

struct SearchOptions {
    QueryOptions query;
    std::size_t limit = 10;
    bool json = false;
};

struct PlayOptions {
    QueryOptions query;
    std::string sid;
    bool print_only = false;
};

struct PeerOptions {
    std::string role; // "device" or "friend"
    std::string peer_id, name, address;
    std::vector<std::string> shared; // friends: folders they may see; empty = all
    bool json = false;
};

struct PinOptions {
    QueryOptions query;
    std::string sid;
};

int run_peer_add(client::Client& api, const PeerOptions& options);
int run_peer_remove(client::Client& api, const PeerOptions& options);
int run_peer_list(client::Client& api, const PeerOptions& options);
int run_pin(client::Client& api, const PinOptions& options);
int run_unpin(client::Client& api, const std::string& sid);
int run_pins(client::Client& api, bool json);

// Web sites allowed to use the Playdar API and /sid from a browser.
struct SiteOptions {
    std::string origin, name;
    bool json = false;
};
// Prints only the token on stdout (TOKEN=$(earshot sites allow ...)); the rest goes to stderr.
int run_site_allow(client::Client& api, const SiteOptions& options);
int run_site_list(client::Client& api, bool json);
// `which` is an origin or a token.
int run_site_revoke(client::Client& api, const std::string& which);

struct EventsOptions {
    bool follow = false;     // keep printing new events until interrupted
    bool json = false;       // one JSON object per line: {"id", "event", "data"}
    std::uint64_t since = 0; // only events after this id
};
int run_events(client::Client& api, const EventsOptions& options);

int run_status(client::Client& api, bool json);
int run_id(client::Client& api);
int run_scan(client::Client& api, bool wait);
int run_search(client::Client& api, const SearchOptions& options);
int run_play(client::Client& api, const PlayOptions& options);
int run_errors(client::Client& api, bool json);

// The target for GET /api/v1/search from a query (throws UsageError if empty).
std::string search_target(const QueryOptions& q, std::size_t limit);

} // namespace earshot::cli

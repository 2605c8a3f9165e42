// earshot: the command-line client of earshotd's HTTP API.
#include "cli/client.hpp"
#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

#include <array>
#include <fmt/format.h>

#include <cstdlib>

using namespace earshot;
using earshot::cli::exit_code::error;
using earshot::cli::exit_code::ok;
using earshot::cli::exit_code::usage;

namespace {

void add_query_options(CLI::App& cmd, cli::QueryOptions& q) {
    cmd.add_option("query", q.words, "what to look for, e.g. \"Artist - Title\"");
    cmd.add_option("--artist", q.artist, "artist name");
    cmd.add_option("--track,--title", q.track, "track title");
    cmd.add_option("--album", q.album, "album title");
    cmd.add_option("--duration", q.duration, "track length in seconds (helps pick the right version)")
        ->check(CLI::Range(0.0, 1e6));
    cmd.add_option("--timeout", q.timeout_ms, "how long the daemon may wait for slow sources, in ms")
        ->check(CLI::Range(0u, 30000u))
        ->capture_default_str();
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"earshot: search, play and manage the music that earshotd serves"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "earshot " EARSHOT_VERSION);
    std::string api_url(client::default_api);
    std::string token;
    app.add_option("--api", api_url, "earshotd's HTTP API")->envname("EARSHOT_API")->capture_default_str();
    app.add_option("--token", token, "API token (needed when earshotd listens beyond loopback)")->envname("EARSHOT_TOKEN");

    bool status_json = false;
    auto* status = app.add_subcommand("status", "what the daemon has and is doing");
    status->add_flag("--json", status_json, "print the raw status JSON");

    bool no_wait = false;
    auto* scan = app.add_subcommand("scan", "rescan the library folders and show progress");
    scan->add_flag("--no-wait", no_wait, "start the scan and return at once");

    cli::EventsOptions events_options;
    auto* events = app.add_subcommand("events", "what the daemon did: scans, links, pairings, pins (held events; --follow for new ones)");
    events->add_flag("--follow,-f", events_options.follow, "keep printing events as they happen");
    events->add_flag("--json", events_options.json, "one JSON object per line");
    events->add_option("--since", events_options.since, "only events after this id");

    cli::SearchOptions search_options;
    auto* search = app.add_subcommand("search", "find tracks: earshot search \"Artist - Title\"");
    search->alias("resolve");
    add_query_options(*search, search_options.query);
    search->add_option("--limit", search_options.limit, "show at most this many results")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000}))
        ->capture_default_str();
    search->add_flag("--json", search_options.json, "print the raw result JSON");

    cli::PlayOptions play_options;
    auto* play = app.add_subcommand(
        "play", "play the best match with $EARSHOT_PLAYER or mpv (or print its URL when neither is there)");
    add_query_options(*play, play_options.query);
    play->add_option("--sid", play_options.sid, "play this stream id instead of searching");
    play->add_flag("--print", play_options.print_only, "only print the stream URL");

    auto* id = app.add_subcommand("id", "this daemon's peer id, to give to your other devices and friends");

    bool errors_json = false;
    auto* errors = app.add_subcommand("errors", "files that could not be indexed, and why");
    errors->add_flag("--json", errors_json, "print the raw JSON");

    // device|friend add|remove|list share one shape; only friends get --share.
    struct PeerCommand {
        CLI::App* group;
        CLI::App *add, *remove, *list;
        cli::PeerOptions options;
    };
    std::array<PeerCommand, 2> peer_commands{};
    for (std::size_t i = 0; i < 2; ++i) {
        auto& pc = peer_commands[i];
        const std::string role = i == 0 ? "device" : "friend";
        pc.options.role = role;
        pc.group = app.add_subcommand(role, i == 0 ? "your own devices: they see your whole library"
                                                   : "friends: they see the folders you share with them");
        pc.group->require_subcommand(1);
        pc.add = pc.group->add_subcommand("add", "pair with a " + role + " (it must add this daemon too)");
        pc.add->add_option("peer_id", pc.options.peer_id, "its peer id (earshot id on that machine)")->required();
        pc.add->add_option("--address", pc.options.address, "HOST:PORT of its peer port, if LAN discovery cannot find it");
        pc.add->add_option("--name", pc.options.name, "what to call it in results");
        if (i == 1) pc.add->add_option("--share", pc.options.shared, "a library folder it may see (repeatable; default: all)");
        pc.remove = pc.group->add_subcommand("remove", "unpair a " + role);
        pc.remove->add_option("peer_id", pc.options.peer_id, "its peer id")->required();
        pc.list = pc.group->add_subcommand("list", "paired " + role + "s: online state, address, last seen, latency");
        pc.list->add_flag("--json", pc.options.json, "print the raw JSON");
    }

    cli::PinOptions pin_options;
    auto* pin = app.add_subcommand("pin", "keep complete copies of remote tracks (a track, album, artist or query)");
    add_query_options(*pin, pin_options.query);
    pin->add_option("--sid", pin_options.sid, "pin this stream id");
    std::string unpin_sid;
    auto* unpin = app.add_subcommand("unpin", "let a pinned track be evicted again");
    unpin->add_option("sid", unpin_sid, "its stream id (see: earshot pins)")->required();
    bool pins_json = false;
    auto* pins = app.add_subcommand("pins", "pinned tracks and their download progress");
    pins->add_flag("--json", pins_json, "print the raw JSON");

    cli::SiteOptions site_options;
    auto* sites = app.add_subcommand("sites", "web sites allowed to use earshot from a browser (Playdar clients)");
    sites->require_subcommand(1);
    auto* site_allow = sites->add_subcommand("allow", "allow a web site and print its token");
    site_allow->add_option("origin", site_options.origin, "the site's origin, e.g. https://example.org")->required();
    site_allow->add_option("--name", site_options.name, "what to call it");
    auto* site_list = sites->add_subcommand("list", "allowed web sites");
    site_list->add_flag("--json", site_options.json, "print the raw JSON (with tokens)");
    std::string revoke_site;
    auto* site_revoke = sites->add_subcommand("revoke", "take a site's permission back");
    site_revoke->add_option("site", revoke_site, "its origin or its token")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? ok : usage;
    }

    std::string shown_url = api_url;
    try {
        client::Client api(api_url, token);
        shown_url = api.base().text;
        if (status->parsed()) return cli::run_status(api, status_json);
        if (scan->parsed()) return cli::run_scan(api, !no_wait);
        if (events->parsed()) return cli::run_events(api, events_options);
        if (search->parsed()) return cli::run_search(api, search_options);
        if (play->parsed()) return cli::run_play(api, play_options);
        if (errors->parsed()) return cli::run_errors(api, errors_json);
        if (id->parsed()) return cli::run_id(api);
        for (const auto& pc : peer_commands) {
            if (pc.add->parsed()) return cli::run_peer_add(api, pc.options);
            if (pc.remove->parsed()) return cli::run_peer_remove(api, pc.options);
            if (pc.list->parsed()) return cli::run_peer_list(api, pc.options);
        }
        if (pin->parsed()) return cli::run_pin(api, pin_options);
        if (unpin->parsed()) return cli::run_unpin(api, unpin_sid);
        if (pins->parsed()) return cli::run_pins(api, pins_json);
        if (site_allow->parsed()) return cli::run_site_allow(api, site_options);
        if (site_list->parsed()) return cli::run_site_list(api, site_options.json);
        if (site_revoke->parsed()) return cli::run_site_revoke(api, revoke_site);
        return usage;
    } catch (const cli::UsageError& e) {
        fmt::print(stderr, "earshot: {}\n", e.what());
        return usage;
    } catch (const std::invalid_argument& e) { // a malformed --api URL
        fmt::print(stderr, "earshot: {}\n", e.what());
        return usage;
    } catch (const client::ConnectError& e) {
        fmt::print(stderr,
                   "earshot: cannot reach earshotd at {} ({}) — is it running? Start it with: earshotd --library DIR\n",
                   shown_url, e.what());
        return error;
    } catch (const client::ApiError& e) {
        if (e.status() == 401)
            fmt::print(stderr, "earshot: earshotd at {} wants an API token: pass --token or set EARSHOT_TOKEN ({})\n",
                       shown_url, e.what());
        else fmt::print(stderr, "earshot: {} (HTTP {})\n", e.what(), e.status());
        return error;
    } catch (const std::exception& e) {
        fmt::print(stderr, "earshot: {}\n", e.what());
        return error;
    }
}

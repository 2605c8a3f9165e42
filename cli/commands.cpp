#include "cli/commands.hpp"

#include "cli/terminal.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <thread>

namespace earshot::cli {

using nlohmann::json;

namespace {

// Reads a field the daemon may not send (older/newer daemons), with a default.
template <class T>
T field(const json& j, const char* name, T fallback) {
    if (!j.is_object()) return fallback;
    const auto it = j.find(name);
    if (it == j.end() || it->is_null()) return fallback;
    try {
        return it->get<T>();
    } catch (const json::exception&) {
        return fallback;
    }
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
    return out;
}

std::string describe(const QueryOptions& q) {
    if (!q.words.empty()) return "\"" + join(q.words) + "\"";
    std::string out = q.artist.empty() ? q.track : q.artist + " - " + q.track;
    if (!q.album.empty()) out += " (" + q.album + ")";
    return "\"" + out + "\"";
}

// A short description of the scan state, shared by `status` and `scan`.
struct ScanView {
    std::string label;
    double fraction = -1;
    std::string detail;
};

ScanView scan_view(const json& status) {
    const auto scan = field<json>(status, "scan", json::object());
    const auto phase = field<std::string>(scan, "phase", "idle");
    const auto files_done = field<std::uint64_t>(scan, "files_done", 0);
    const auto files_total = field<std::uint64_t>(scan, "files_total", 0);
    const auto fp_done = field<std::uint64_t>(scan, "fingerprints_done", 0);
    auto fp_total = field<std::uint64_t>(scan, "fingerprints_total", 0);
    if (fp_total == 0) fp_total = field<std::uint64_t>(status, "tracks", 0);

    ScanView v;
    // Running but not yet in a phase: the daemon accepted the request.
    v.label = phase == "idle" ? "starting" : phase;
    if (phase == "metadata") {
        if (files_total > 0) v.fraction = static_cast<double>(files_done) / static_cast<double>(files_total);
        v.detail = fmt::format("{}/{} files", files_done, files_total);
    } else if (phase == "fingerprints" || phase == "hashing") {
        // The second pass: content ids, and fingerprints unless they are off.
        if (fp_total > 0) v.fraction = static_cast<double>(fp_done) / static_cast<double>(fp_total);
        v.detail = fmt::format("{}/{} files {}", fp_done, fp_total, phase == "hashing" ? "hashed" : "fingerprinted");
    } else if (phase == "walking") {
        v.detail = fmt::format("{} files found", files_total);
    }
    return v;
}

bool scan_running(const json& status) { return field<bool>(field<json>(status, "scan", json::object()), "running", false); }

std::string find_on_path(std::string_view program) {
    const char* path = std::getenv("PATH");
    if (!path) return {};
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty()) continue;
        const auto candidate = std::filesystem::path(dir) / program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return {};
}

std::vector<std::string> split_spaces(std::string_view s) {
    std::vector<std::string> out;
    std::istringstream in{std::string(s)};
    std::string word;
    while (in >> word) out.push_back(word);
    return out;
}

// Replaces this process with the player; returns only if exec failed.
int exec_player(std::vector<std::string> argv, const std::string& url) {
    argv.push_back(url);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    ::execvp(args[0], args.data());
    fmt::print(stderr, "earshot: cannot run player '{}': {}\n", argv[0], std::strerror(errno));
    return exit_code::error;
}

} // namespace

std::string search_target(const QueryOptions& q, std::size_t limit) {
    const auto text = join(q.words);
    if (text.empty() && q.track.empty())
        throw UsageError("say what to look for: \"Artist - Title\", or --track (with --artist, --album)");
    std::vector<std::pair<std::string, std::string>> params{
        {"q", text}, {"artist", q.artist}, {"track", q.track}, {"album", q.album},
        {"timeout", std::to_string(q.timeout_ms)},
    };
    if (q.duration) params.emplace_back("duration", fmt::format("{}", *q.duration));
    if (limit > 0) params.emplace_back("limit", std::to_string(limit));
    return "/api/v1/search?" + client::query_string(params);
}

// ---- pairing ----

namespace {

json post_form_json(client::Client& api, std::string_view target,
                    const std::vector<std::pair<std::string, std::string>>& params) {
    const auto res = api.post_form(target, client::query_string(params));
    if (!res.ok()) throw client::ApiError(res.status, res.error_message());
    return res.json();
}

std::string ago(std::int64_t unix_ms) {
    if (unix_ms <= 0) return "never";
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    const auto s = std::max<std::int64_t>(0, (now - unix_ms) / 1000);
    if (s < 60) return "just now";
    if (s < 3600) return fmt::format("{} min ago", s / 60);
    if (s < 86400) return fmt::format("{} h ago", s / 3600);
    return fmt::format("{} days ago", s / 86400);
}

} // namespace

int run_peer_add(client::Client& api, const PeerOptions& o) {
    std::vector<std::pair<std::string, std::string>> params{
        {"peer_id", o.peer_id}, {"role", o.role}, {"name", o.name}, {"address", o.address}};
    for (const auto& folder : o.shared) params.emplace_back("shared", folder);
    const auto p = post_form_json(api, "/api/v1/peers", params);
    fmt::print("added {} {} ({})\n", o.role, field<std::string>(p, "name", ""), field<std::string>(p, "peer_id", ""));
    fmt::print("The link comes up once {} has added this daemon too: earshot {} add {}\n",
               field<std::string>(p, "name", "it"), o.role == "device" ? "device" : "friend",
               field<std::string>(api.get_json("/api/v1/status"), "peer_id", "<this peer id>"));
    return exit_code::ok;
}

int run_peer_remove(client::Client& api, const PeerOptions& o) {
    const auto res = api.post_form("/api/v1/peers/remove", client::query_string({{"peer_id", o.peer_id}}));
    if (res.status == 404) {
        fmt::print(stderr, "earshot: {} is not paired\n", o.peer_id);
        return exit_code::not_found;
    }
    if (!res.ok()) throw client::ApiError(res.status, res.error_message());
    fmt::print("removed {}\n", o.peer_id);
    return exit_code::ok;
}

// How the link was found (configured, lan, last-known, inbound); offline:
// when the next address is tried, or that there is none to try yet.
std::string reached_via(const json& p, bool online) {
    if (online) return field<std::string>(p, "found_via", "-");
    std::optional<std::int64_t> soonest;
    for (const auto& c : field<json>(p, "candidates", json::array())) {
        const auto wait = field<std::int64_t>(c, "next_try_in_ms", 0);
        if (!soonest || wait < *soonest) soonest = wait;
    }
    if (!soonest) return "looking";
    return *soonest <= 0 ? "dialling" : fmt::format("retry {}s", (*soonest + 999) / 1000);
}

int run_peer_list(client::Client& api, const PeerOptions& o) {
    const auto body = api.get_json("/api/v1/peers");
    auto mine = json::array();
    for (const auto& p : field<json>(body, "peers", json::array()))
        if (field<std::string>(p, "role", "") == o.role) mine.push_back(p);
    if (o.json) {
        fmt::print("{}\n", mine.dump(2, ' ', false, json::error_handler_t::replace));
        return exit_code::ok;
    }
    if (mine.empty()) {
        fmt::print(stderr, "no {}s paired yet (earshot {} add PEER_ID)\n", o.role, o.role);
        return exit_code::ok;
    }
    Table table({{"NAME", 20}, {"STATE", 8}, {"ADDRESS", 24}, {"VIA", 12}, {"LAST SEEN", 12}, {"LATENCY", 0, true},
                 {"SHARED", 24}, {"PEER ID", 0}});
    for (const auto& p : mine) {
        const bool online = field<bool>(p, "online", false);
        std::string address = field<std::string>(p, "connected_address", "");
        if (address.empty()) address = field<std::string>(p, "address", "");
        if (address.empty()) address = field<std::string>(p, "last_address", "");
        const auto latency = p.contains("latency_ms") && p["latency_ms"].is_number()
                                 ? fmt::format("{:.1f} ms", p["latency_ms"].get<double>())
                                 : std::string("-");
        std::string shared = "everything";
        if (p.contains("shared") && p["shared"].is_array()) {
            shared.clear();
            for (const auto& f : p["shared"]) shared += (shared.empty() ? "" : ", ") + f.get<std::string>();
        }
        table.add({field<std::string>(p, "name", ""), online ? "online" : "offline", address.empty() ? "-" : address,
                   reached_via(p, online), online ? "now" : ago(field<std::int64_t>(p, "last_seen_ms", 0)), latency,
                   o.role == "device" ? "everything" : shared, field<std::string>(p, "peer_id", "")});
    }
    fmt::print("{}", table.render());
    return exit_code::ok;
}

// ---- sites ----

int run_site_allow(client::Client& api, const SiteOptions& o) {
    const auto s = post_form_json(api, "/api/v1/sites", {{"origin", o.origin}, {"name", o.name}});
    const auto origin = field<std::string>(s, "origin", o.origin);
    fmt::print(stderr, "allowed {}; give it this token (it sends it as auth=TOKEN), revoke with: earshot sites revoke {}\n",
               origin, origin);
    fmt::print("{}\n", field<std::string>(s, "token", ""));
    return exit_code::ok;
}

int run_site_list(client::Client& api, bool as_json) {
    const auto sites = field<json>(api.get_json("/api/v1/sites"), "sites", json::array());
    if (as_json) {
        fmt::print("{}\n", sites.dump(2, ' ', false, json::error_handler_t::replace));
        return exit_code::ok;
    }
    if (sites.empty()) {
        fmt::print(stderr, "no web sites allowed (earshot sites allow https://example.org)\n");
        return exit_code::ok;
    }
    Table table({{"ORIGIN", 0}, {"NAME", 30}, {"ALLOWED", 0}});
    for (const auto& s : sites)
        table.add({field<std::string>(s, "origin", ""), field<std::string>(s, "name", ""),
                   ago(field<std::int64_t>(s, "created_ms", 0))});
    fmt::print("{}", table.render());
    return exit_code::ok;
}

int run_site_revoke(client::Client& api, const std::string& which) {
    const auto res = api.post_form("/api/v1/sites/revoke", client::query_string({{"site", which}}));
    if (res.status == 404) {
        fmt::print(stderr, "earshot: no allowed site has origin or token {}\n", which);
        return exit_code::not_found;
    }
    if (!res.ok()) throw client::ApiError(res.status, res.error_message());
    fmt::print("revoked {}\n", which);
    return exit_code::ok;
}

// ---- pins ----

int run_pin(client::Client& api, const PinOptions& o) {
    std::vector<std::pair<std::string, std::string>> params;
    if (!o.sid.empty()) {
        params.emplace_back("sid", o.sid);
    } else {
        const auto text = join(o.query.words);
        if (text.empty() && o.query.artist.empty() && o.query.track.empty() && o.query.album.empty())
            throw UsageError("what should be pinned? give a query, --artist/--album/--track, or --sid");
        params = {{"q", text}, {"artist", o.query.artist}, {"track", o.query.track}, {"album", o.query.album}};
    }
    api.set_timeout(std::chrono::seconds(60));
    const auto body = post_form_json(api, "/api/v1/pins", params);
    const auto pinned = field<json>(body, "pinned", json::array());
    for (const auto& s : field<json>(body, "skipped", json::array()))
        fmt::print(stderr, "skipped {}: {}\n", field<std::string>(s, "sid", ""), field<std::string>(s, "reason", ""));
    if (pinned.empty()) {
        fmt::print(stderr, "earshot: nothing to pin\n");
        return exit_code::not_found;
    }
    fmt::print("pinned {} track(s); downloading (see: earshot pins)\n", pinned.size());
    return exit_code::ok;
}

int run_unpin(client::Client& api, const std::string& sid) {
    const auto res = api.post_form("/api/v1/pins/remove", client::query_string({{"sid", sid}}));
    if (res.status == 404) {
        fmt::print(stderr, "earshot: {} is not pinned\n", sid);
        return exit_code::not_found;
    }
    if (!res.ok()) throw client::ApiError(res.status, res.error_message());
    fmt::print("unpinned {}\n", sid);
    return exit_code::ok;
}

int run_pins(client::Client& api, bool as_json) {
    const auto pins = field<json>(api.get_json("/api/v1/pins"), "pins", json::array());
    if (as_json) {
        fmt::print("{}\n", pins.dump(2, ' ', false, json::error_handler_t::replace));
        return exit_code::ok;
    }
    if (pins.empty()) {
        fmt::print(stderr, "nothing pinned (earshot pin \"Artist - Title\")\n");
        return exit_code::ok;
    }
    Table table({{"ARTIST", 24}, {"TITLE", 32}, {"ALBUM", 24}, {"PROGRESS", 0, true}, {"SID", 0}});
    for (const auto& p : pins) {
        const auto held = field<std::uint64_t>(p, "chunks_held", 0), total = field<std::uint64_t>(p, "chunks_total", 1);
        table.add({field<std::string>(p, "artist", ""), field<std::string>(p, "track", ""),
                   field<std::string>(p, "album", ""),
                   field<bool>(p, "complete", false) ? std::string("complete")
                                                     : fmt::format("{:.0f}%", 100.0 * static_cast<double>(held) /
                                                                                  static_cast<double>(std::max<std::uint64_t>(total, 1))),
                   field<std::string>(p, "sid", "")});
    }
    fmt::print("{}", table.render());
    return exit_code::ok;
}

int run_status(client::Client& api, bool as_json) {
    const auto status = api.get_json("/api/v1/status");
    if (as_json) {
        fmt::print("{}\n", status.dump(2, ' ', false, json::error_handler_t::replace));
        return exit_code::ok;
    }
    fmt::print("earshotd \"{}\" {} at {}\n", field<std::string>(status, "name", "?"),
               field<std::string>(status, "version", "?"), api.base().text);
    fmt::print("peer id: {}\n", field<std::string>(status, "peer_id", "?"));
    fmt::print("tracks:  {}\n", field<std::uint64_t>(status, "tracks", 0));
    fmt::print("peers:   {} of {} paired online (peer port {})\n", field<std::uint64_t>(status, "peers_online", 0),
               field<std::uint64_t>(status, "peers_paired", 0), field<std::uint64_t>(status, "peer_port", 0));
    if (const auto dht = status.find("dht"); dht != status.end() && dht->is_object()) {
        if (!field<bool>(*dht, "running", false)) {
            fmt::print("dht:     off\n");
        } else {
            std::string where;
            if (const auto eps = dht->find("endpoints"); eps != dht->end() && eps->is_array())
                for (const auto& e : *eps)
                    where += (where.empty() ? "" : ", ") + field<std::string>(e, "address", "?") + " (" +
                             field<std::string>(e, "kind", "?") + ")";
            fmt::print("dht:     {} nodes, port {}; reachable: {}; published: {}\n",
                       field<std::uint64_t>(*dht, "nodes", 0), field<std::uint64_t>(*dht, "port", 0),
                       field<std::string>(*dht, "reachable", "?"), where.empty() ? "nothing yet" : where);
        }
    }
    const auto view = scan_view(status);
    if (scan_running(status)) {
        std::string line = "scanning, " + view.label;
        if (view.fraction >= 0) line += fmt::format(" {:.0f}%", view.fraction * 100);
        if (!view.detail.empty()) line += " (" + view.detail + ")";
        fmt::print("scan:    {}\n", line);
    } else {
        fmt::print("scan:    idle\n");
    }
    const auto scan = field<json>(status, "scan", json::object());
    const auto errors = field<std::uint64_t>(scan, "errors", 0);
    if (errors > 0) fmt::print("errors:  {} file(s) could not be indexed (see: earshot errors)\n", errors);
    else fmt::print("errors:  none\n");
    return exit_code::ok;
}

int run_id(client::Client& api) {
    const auto status = api.get_json("/api/v1/status");
    const auto id = field<std::string>(status, "peer_id", "");
    if (id.empty()) throw client::ProtocolError("the daemon did not say its peer id");
    fmt::print("{}\n", id);
    return exit_code::ok;
}

namespace {

std::uint64_t event_id(const client::ServerEvent& e) {
    std::uint64_t id = 0;
    std::from_chars(e.id.data(), e.id.data() + e.id.size(), id);
    return id;
}

// The id of the newest event the daemon holds (0 if none); nullopt when the
// daemon has no event channel (one from before it).
std::optional<std::uint64_t> newest_event(client::Client& api) {
    std::uint64_t newest = 0;
    try {
        api.follow_events("/api/v1/events?timeout=0", [&](const client::ServerEvent& e) {
            newest = std::max(newest, event_id(e));
            return true;
        });
    } catch (const client::ApiError& e) {
        if (e.status() == 404) return std::nullopt;
        throw;
    }
    return newest;
}

// "12:03:04" in local time.
std::string clock_time(std::int64_t unix_ms) {
    const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm local{};
    localtime_r(&t, &local);
    std::array<char, 16> buf{};
    std::strftime(buf.data(), buf.size(), "%H:%M:%S", &local);
    return buf.data();
}

void print_event(const client::ServerEvent& e, bool as_json) {
    json data = json::parse(e.data, nullptr, false);
    if (as_json) {
        fmt::print("{}\n", json{{"id", event_id(e)}, {"event", e.kind}, {"data", data}}.dump(-1, ' ', false,
                                                                                             json::error_handler_t::replace));
    } else {
        std::string fields;
        if (data.is_object())
            for (const auto& [key, value] : data.items()) {
                if (key == "time_ms") continue;
                fields += " " + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
            }
        else
            fields = " " + e.data;
        const auto when = data.is_object() ? field<std::int64_t>(data, "time_ms", 0) : 0;
        fmt::print("{} {}{}\n", when > 0 ? clock_time(when) : std::string("--:--:--"), e.kind, fields);
    }
    std::fflush(stdout);
}

} // namespace

int run_events(client::Client& api, const EventsOptions& o) {
    const auto target = "/api/v1/events?since=" + std::to_string(o.since) + (o.follow ? "" : "&timeout=0");
    api.follow_events(target, [&](const client::ServerEvent& e) {
        print_event(e, o.json);
        return true;
    });
    return exit_code::ok;
}

int run_scan(client::Client& api, bool wait) {
    // Where the channel stands before the scan, so following starts right
    // after it and cannot miss the scan's end.
    const auto start = wait ? newest_event(api) : std::nullopt;
    const auto res = api.request(client::bhttp::verb::post, "/api/v1/scan");
    if (res.status == 409) {
        fmt::print(stderr, "earshot: a scan is already running{}\n", wait ? "; following it" : "");
        if (!wait) return exit_code::ok;
    } else if (!res.ok()) {
        throw client::ApiError(res.status, res.error_message());
    } else if (!wait) {
        fmt::print(stderr, "scan started\n");
        return exit_code::ok;
    }

    ProgressLine progress(stderr_is_tty());
    json status;
    if (start) {
        // The progress the daemon publishes, as it publishes it.
        const auto tracks = field<std::uint64_t>(api.get_json("/api/v1/status"), "tracks", 0);
        api.follow_events("/api/v1/events?since=" + std::to_string(*start), [&](const client::ServerEvent& e) {
            if (e.kind == "scan_finished") return false;
            if (e.kind == "missed") return scan_running(api.get_json("/api/v1/status")); // its end may be gone
            auto data = json::parse(e.data, nullptr, false);
            if (e.kind != "scan_progress" || !data.is_object()) return true;
            const auto view = scan_view({{"scan", std::move(data)}, {"tracks", tracks}});
            progress.update(view.label, view.fraction, view.detail);
            return true;
        });
        status = api.get_json("/api/v1/status");
    } else {
        // A daemon without the event channel: ask until it is done.
        for (;;) {
            status = api.get_json("/api/v1/status");
            if (!scan_running(status)) break;
            const auto view = scan_view(status);
            progress.update(view.label, view.fraction, view.detail);
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    progress.finish();
    const auto errors = field<std::uint64_t>(field<json>(status, "scan", json::object()), "errors", 0);
    fmt::print(stderr, "scan finished: {} tracks, {} error(s){}\n", field<std::uint64_t>(status, "tracks", 0), errors,
               errors > 0 ? " (see: earshot errors)" : "");
    return exit_code::ok;
}

int run_search(client::Client& api, const SearchOptions& options) {
    const auto target = search_target(options.query, options.limit);
    api.set_timeout(std::chrono::milliseconds(options.query.timeout_ms) + std::chrono::seconds(10));
    const auto body = api.get_json(target);
    const auto results = field<json>(body, "results", json::array());
    if (options.json) {
        fmt::print("{}\n", body.dump(2, ' ', false, json::error_handler_t::replace));
        return results.empty() ? exit_code::not_found : exit_code::ok;
    }
    if (results.empty()) {
        fmt::print(stderr, "earshot: nothing found for {}\n", describe(options.query));
        return exit_code::not_found;
    }
    Table table({{"SCORE", 0, true},
                 {"ARTIST", 28},
                 {"TITLE", 36},
                 {"ALBUM", 28},
                 {"TIME", 0, true},
                 {"FORMAT", 12},
                 {"SOURCE", 16},
                 {"SID", 0}});
    for (const auto& r : results) {
        table.add({fmt::format("{:.2f}", field<double>(r, "score", 0)), field<std::string>(r, "artist", ""),
                   field<std::string>(r, "track", ""), field<std::string>(r, "album", ""),
                   format_duration(field<double>(r, "duration", 0)),
                   format_kind(field<std::string>(r, "mimetype", ""), field<unsigned>(r, "bitrate", 0)),
                   [&] {
                       std::string sources;
                       for (const auto& s : field<json>(r, "sources", json::array()))
                           if (s.is_string()) sources += (sources.empty() ? "" : ", ") + s.get<std::string>();
                       return sources.empty() ? field<std::string>(r, "source", "") : sources;
                   }(),
                   field<std::string>(r, "sid", "")});
    }
    fmt::print("{}", table.render());
    return exit_code::ok;
}

int run_play(client::Client& api, const PlayOptions& options) {
    std::string url, title;
    if (!options.sid.empty()) {
        const auto res = api.get("/api/v1/tracks/" + client::url_encode(options.sid));
        if (res.status == 404) {
            fmt::print(stderr, "earshot: no track with sid {}\n", options.sid);
            return exit_code::not_found;
        }
        if (!res.ok()) throw client::ApiError(res.status, res.error_message());
        const auto track = res.json();
        url = api.base().text + "/sid/" + client::url_encode(options.sid);
        title = field<std::string>(track, "artist", "") + " - " + field<std::string>(track, "title", field<std::string>(track, "track", ""));
    } else {
        api.set_timeout(std::chrono::milliseconds(options.query.timeout_ms) + std::chrono::seconds(10));
        const auto body = api.get_json(search_target(options.query, 0));
        const auto results = field<json>(body, "results", json::array());
        if (results.empty()) {
            fmt::print(stderr, "earshot: nothing found for {}\n", describe(options.query));
            return exit_code::not_found;
        }
        // The daemon ranks results; still pick by score so a reordering there cannot pick a worse one.
        const auto best = std::max_element(results.begin(), results.end(), [](const json& a, const json& b) {
            return field<double>(a, "score", 0) < field<double>(b, "score", 0);
        });
        url = field<std::string>(*best, "url", "");
        if (url.empty()) url = api.base().text + "/sid/" + field<std::string>(*best, "sid", "");
        title = field<std::string>(*best, "artist", "") + " - " + field<std::string>(*best, "track", "");
    }

    if (options.print_only) {
        fmt::print("{}\n", url);
        return exit_code::ok;
    }
    std::vector<std::string> player;
    if (const char* env = std::getenv("EARSHOT_PLAYER"); env && *env) player = split_spaces(env);
    else if (const auto mpv = find_on_path("mpv"); !mpv.empty()) player = {mpv};
    if (player.empty()) {
        fmt::print(stderr, "earshot: no player found (set EARSHOT_PLAYER or install mpv); the stream is at:\n");
        fmt::print("{}\n", url);
        return exit_code::ok;
    }
    fmt::print(stderr, "playing {} ({})\n", title, url);
    return exec_player(std::move(player), url);
}

int run_errors(client::Client& api, bool as_json) {
    const auto failures = api.get_json("/api/v1/errors");
    if (as_json) {
        fmt::print("{}\n", failures.dump(2, ' ', false, json::error_handler_t::replace));
        return exit_code::ok;
    }
    if (!failures.is_array() || failures.empty()) {
        fmt::print("no files failed to index\n");
        return exit_code::ok;
    }
    Table table({{"PATH", 0}, {"REASON", 0}});
    for (const auto& f : failures) table.add({field<std::string>(f, "path", ""), field<std::string>(f, "reason", "")});
    fmt::print("{}", table.render());
    return exit_code::ok;
}

} // namespace earshot::cli

#include "daemon/settings.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>

namespace earshot::daemon {
namespace {

constexpr std::array<std::string_view, 7> log_levels{"trace", "debug", "info", "warn", "error", "critical", "off"};

// The one declaration of every setting. Defaults live in Config's member
// initialisers; default_text is given only where the default is worked out
// at start-up (data folder, host name, core count) or is "none".
const std::vector<Setting>& table() {
    static const std::vector<Setting> rows{
        {"--library", "library", "DIR", "none", "a music folder to index; repeat for several", &Config::libraries},
        {"--data", "data", "DIR", "`$XDG_DATA_HOME/earshot` (`~/.local/share/earshot`)",
         "index (LMDB), identity key (0600), API token, approved web sites (`sites.json`, 0600)", &Config::data_dir},
        {"--http", "http", "ADDR:PORT", "", "HTTP API address (Playdar's port)", &Config::http},
        {"--listen", "listen", "ADDR:PORT", "",
         "peer port (TCP) for own devices and friends; strangers are refused inside the handshake", &Config::listen},
        {"--cache-size", "cache-size", "MIB", "",
         "disk kept for chunks streamed from peers (least recently used go first; pins do not count; at least 32, "
         "what one stream's read-ahead needs)",
         &Config::cache_mb},
        {"--no-discovery", "discovery", "", "", "do not announce this daemon on the LAN nor listen for announcements",
         Switch{&Config::discovery, false}},
        {"--discovery-port", "discovery-port", "PORT", "",
         "UDP port of the signed LAN announcements (`proto/DISCOVERY.md`)", &Config::discovery_port, {}, 1, 65535},
        {"--no-dht", "dht", "", "",
         "do not join the mainline DHT (paired peers are then found only by address, LAN and last link)",
         Switch{&Config::dht, false}},
        {"--dht-listen", "dht-listen", "ADDR:PORT", "",
         "UDP port of the DHT (`proto/DHT.md`); libtorrent holds its TCP side too, so it cannot be the peer port",
         &Config::dht_listen},
        {"--dht-bootstrap", "dht-bootstrap", "HOST:PORT", "the public mainline routers",
         "a DHT node to join through; repeat for several", &Config::dht_bootstrap},
        {"--dht-allow-local", "dht-allow-local", "", "",
         "accept many DHT nodes on one address and private ranges (for private test DHTs)",
         Switch{&Config::dht_allow_local, true}},
        {"--no-port-mapping", "port-mapping", "", "",
         "do not ask the router (UPnP-IGD, NAT-PMP) to forward the peer and DHT ports", Switch{&Config::port_mapping, false}},
        {"--name", "name", "NAME", "host name", "how this library is called in results (`source`) and shown to peers",
         &Config::name},
        {"--config", "", "FILE", "none", "TOML file with these keys (flags win; an unknown key is an error)",
         &Config::config_file},
        {"--log-level", "log-level", "LEVEL", "", "`trace` `debug` `info` `warn` `error` `critical` `off`",
         &Config::log_level, log_levels},
        {"--token", "token", "TOKEN", "generated",
         "required on a non-loopback `--http`; if unset one is generated into `DATA/api-token` (0600)",
         &Config::token},
        {"--threads", "threads", "N", "one per core", "scan workers", &Config::threads, {}, 0,
         std::numeric_limits<unsigned>::max()},
        {"--no-fingerprints", "fingerprints", "", "", "skip the Chromaprint pass",
         Switch{&Config::fingerprints, false}},
        {"--no-watch", "watch", "", "", "do not watch the folders with inotify", Switch{&Config::watch, false}},
        {"--oneshot", "", "", "", "scan once, print the status as JSON, exit", Switch{&Config::oneshot, true}},
    };
    return rows;
}

template <class... F>
struct Overload : F... {
    using F::operator()...;
};
template <class... F>
Overload(F...) -> Overload<F...>;

// A TOML basic string: quotes, backslashes and control characters escaped.
std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto u = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out.push_back('\\');
            out.push_back(ch);
        } else if (ch == '\n') {
            out.append("\\n");
        } else if (ch == '\t') {
            out.append("\\t");
        } else if (u < 0x20 || u == 0x7f) {
            std::array<char, 8> buf{};
            std::snprintf(buf.data(), buf.size(), "\\u%04x", u);
            out.append(buf.data());
        } else {
            out.push_back(ch);
        }
    }
    out.push_back('"');
    return out;
}

std::string code(std::string_view s) {
    std::string out = "`";
    out.append(s).append("`");
    return out;
}

} // namespace

std::string default_text(const Setting& s) {
    if (!s.default_text.empty()) return std::string(s.default_text);
    const Config defaults;
    return std::visit(Overload{
                          [&](std::string Config::*m) { return code(defaults.*m); },
                          [&](std::filesystem::path Config::*m) { return code((defaults.*m).string()); },
                          [&](std::vector<std::string> Config::*) { return std::string("none"); },
                          [&](Switch) { return std::string("off"); },
                          [&](auto m) { return code(std::to_string(defaults.*m)); },
                      },
                      s.bind);
}

namespace {

[[noreturn]] void fail(const std::string& source, const toml::source_region& where, std::string_view what) {
    std::string msg = source;
    msg.append(": line ").append(std::to_string(where.begin.line)).append(": ").append(what);
    throw std::invalid_argument(msg);
}

std::uint64_t integer_in_range(const Setting& s, const toml::node& node, const std::string& source) {
    const auto* v = node.as_integer();
    if (!v) fail(source, node.source(), std::string(s.key) + ": expected an integer");
    const auto n = v->get();
    if (n < 0 || static_cast<std::uint64_t>(n) < s.min || static_cast<std::uint64_t>(n) > s.max)
        fail(source, node.source(),
             std::string(s.key) + ": " + std::to_string(n) + " is out of range (" + std::to_string(s.min) + " to " +
                 std::to_string(s.max) + ")");
    return static_cast<std::uint64_t>(n);
}

std::string string_value(const Setting& s, const toml::node& node, const std::string& source) {
    const auto* v = node.as_string();
    if (!v) fail(source, node.source(), std::string(s.key) + ": expected a string");
    std::string out = v->get();
    if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(), out) == s.choices.end()) {
        std::string allowed;
        for (const auto c : s.choices) allowed.append(allowed.empty() ? "" : ", ").append(c);
        fail(source, node.source(), std::string(s.key) + ": '" + out + "' is not one of " + allowed);
    }
    return out;
}

void apply(const Setting& s, const toml::node& node, const std::string& source, Config& c) {
    std::visit(Overload{
                   [&](std::string Config::*m) { c.*m = string_value(s, node, source); },
                   [&](std::filesystem::path Config::*m) { c.*m = string_value(s, node, source); },
                   [&](std::vector<std::string> Config::*m) {
                       // A list, or one folder as a plain string.
                       std::vector<std::string> list;
                       if (const auto* arr = node.as_array()) {
                           for (const auto& item : *arr) list.push_back(string_value(s, item, source));
                       } else {
                           list.push_back(string_value(s, node, source));
                       }
                       c.*m = std::move(list);
                   },
                   [&](Switch sw) {
                       const auto* v = node.as_boolean();
                       if (!v) fail(source, node.source(), std::string(s.key) + ": expected true or false");
                       c.*(sw.member) = v->get();
                   },
                   [&](auto m) {
                       using T = std::remove_reference_t<decltype(c.*m)>;
                       c.*m = static_cast<T>(integer_in_range(s, node, source));
                   },
               },
               s.bind);
}

} // namespace

std::span<const Setting> settings() { return table(); }

std::string settings_markdown() {
    std::string out = "| flag | TOML key | default | meaning |\n|---|---|---|---|\n";
    for (const auto& s : table()) {
        std::string flag(s.flag);
        if (!s.value_name.empty()) flag.append(" ").append(s.value_name);
        out.append("| ").append(code(flag));
        out.append(" | ").append(s.key.empty() ? std::string("(flag only)") : code(s.key));
        out.append(" | ").append(default_text(s));
        out.append(" | ").append(s.meaning).append(" |\n");
    }
    return out;
}

std::string config_toml(const Config& c) {
    std::string out = "# earshotd's effective settings (earshotd --print-config); earshotd --config FILE reads them.\n";
    for (const auto& s : table()) {
        if (s.key.empty()) continue;
        const auto value = std::visit(
            Overload{
                [&](std::string Config::*m) { return toml_string(c.*m); },
                [&](std::filesystem::path Config::*m) { return toml_string((c.*m).string()); },
                [&](std::vector<std::string> Config::*m) {
                    std::string list = "[";
                    for (const auto& item : c.*m) list.append(list.size() > 1 ? ", " : "").append(toml_string(item));
                    return list.append("]");
                },
                [&](Switch sw) { return std::string(c.*(sw.member) ? "true" : "false"); },
                [&](auto m) { return std::to_string(c.*m); },
            },
            s.bind);
        out.append(s.key).append(" = ").append(value).append("\n");
    }
    return out;
}

void apply_toml(std::string_view document, const std::string& source, Config& c,
                const std::function<bool(const Setting&)>& skip) {
    toml::table t;
    try {
        t = toml::parse(document, source);
    } catch (const toml::parse_error& e) {
        fail(source, e.source(), e.description());
    }
    // Every key is checked before any is applied, so a typo is reported
    // even when a flag overrides the setting it was meant to be.
    const auto& rows = table();
    for (const auto& [key, node] : t) {
        const auto row = std::find_if(rows.begin(), rows.end(),
                                      [&](const Setting& s) { return !s.key.empty() && s.key == key.str(); });
        if (row == rows.end()) fail(source, key.source(), "unknown key '" + std::string(key.str()) + "'");
    }
    for (const auto& s : table()) {
        if (s.key.empty() || skip(s)) continue;
        if (const auto* node = t.get(s.key)) apply(s, *node, source, c);
    }
}

} // namespace earshot::daemon

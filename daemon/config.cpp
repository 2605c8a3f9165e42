#include "daemon/config.hpp"

#include "daemon/core/version.hpp"

#include <CLI/CLI.hpp>
#include <toml++/toml.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <iostream>

namespace earshot::daemon {

std::filesystem::path default_data_dir() {
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "earshot";
    if (const char* home = std::getenv("HOME"); home && *home)
        return std::filesystem::path(home) / ".local" / "share" / "earshot";
    return std::filesystem::current_path() / ".earshot";
}

namespace {

std::string host_name() {
    std::array<char, 256> buf{};
    if (::gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "earshot";
    return buf.data();
}

// Applies the TOML file's values to whatever the command line left unset.
void apply_file(const std::filesystem::path& file, Config& c, const CLI::App& app) {
    toml::table t;
    try {
        t = toml::parse_file(file.string());
    } catch (const toml::parse_error& e) {
        throw CLI::ValidationError("--config", file.string() + ": " + std::string(e.description()) + " at line " +
                                                   std::to_string(e.source().begin.line));
    }
    auto unset = [&](const char* flag) { return app.count(flag) == 0; };
    if (unset("--library"))
        if (auto* arr = t["library"].as_array())
            for (auto& v : *arr)
                if (auto s = v.value<std::string>()) c.libraries.push_back(*s);
    if (unset("--library"))
        if (auto s = t["library"].value<std::string>()) c.libraries.push_back(*s);
    if (unset("--data"))
        if (auto s = t["data"].value<std::string>()) c.data_dir = *s;
    if (unset("--http"))
        if (auto s = t["http"].value<std::string>()) c.http = *s;
    if (unset("--listen"))
        if (auto s = t["listen"].value<std::string>()) c.listen = *s;
    if (unset("--cache-size"))
        if (auto v = t["cache-size"].value<std::int64_t>(); v && *v >= 0) c.cache_mb = static_cast<std::uint64_t>(*v);
    if (unset("--no-discovery"))
        if (auto v = t["discovery"].value<bool>()) c.discovery = *v;
    if (unset("--discovery-port"))
        if (auto v = t["discovery-port"].value<std::int64_t>(); v && *v > 0 && *v < 65536)
            c.discovery_port = static_cast<std::uint16_t>(*v);
    if (unset("--name"))
        if (auto s = t["name"].value<std::string>()) c.name = *s;
    if (unset("--log-level"))
        if (auto s = t["log-level"].value<std::string>()) c.log_level = *s;
    if (unset("--token"))
        if (auto s = t["token"].value<std::string>()) c.token = *s;
    if (unset("--threads"))
        if (auto v = t["threads"].value<std::int64_t>(); v && *v >= 0) c.threads = static_cast<unsigned>(*v);
    if (unset("--no-fingerprints"))
        if (auto v = t["fingerprints"].value<bool>()) c.fingerprints = *v;
    if (unset("--no-watch"))
        if (auto v = t["watch"].value<bool>()) c.watch = *v;
}

} // namespace

std::optional<Config> parse_config(int argc, char** argv, int& exit_code) {
    Config c;
    std::string config_file;
    bool no_fp = false, no_watch = false, no_discovery = false;
    CLI::App app{"earshotd — indexes your music, resolves \"who can play this track?\", and streams it"};
    app.add_option("--library", c.libraries, "Music folder to index (repeatable)");
    app.add_option("--data", c.data_dir, "Folder for the index, keys and state (default $XDG_DATA_HOME/earshot)");
    app.add_option("--http", c.http, "HTTP API address ADDR:PORT (default 127.0.0.1:60210)");
    app.add_option("--listen", c.listen, "Peer port ADDR:PORT for own devices and friends (default 0.0.0.0:60211)");
    app.add_option("--cache-size", c.cache_mb, "MiB of remote chunks kept for replay and seeking (default 2048)");
    app.add_flag("--no-discovery", no_discovery, "Do not announce or look for peers on the LAN");
    app.add_option("--discovery-port", c.discovery_port, "UDP port of LAN announcements (default 60212)");
    app.add_option("--name", c.name, "How this library is called in results (default: host name)");
    app.add_option("--config", config_file, "TOML file with the same settings (flags win)");
    app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_option("--token", c.token, "API token required off loopback (generated into the data folder if unset)");
    app.add_option("--threads", c.threads, "Scan worker threads (default: one per core)");
    app.add_flag("--no-fingerprints", no_fp, "Skip the Chromaprint pass");
    app.add_flag("--no-watch", no_watch, "Do not watch library folders for changes");
    app.add_flag("--oneshot", c.oneshot, "Scan once, print a summary and exit");
    app.set_version_flag("--version", "earshotd " + std::string(core::version));
    try {
        app.parse(argc, argv);
        if (!config_file.empty()) apply_file(config_file, c, app);
    } catch (const CLI::ParseError& e) {
        exit_code = app.exit(e);
        return std::nullopt;
    }
    if (no_fp) c.fingerprints = false;
    if (no_watch) c.watch = false;
    if (no_discovery) c.discovery = false;
    if (c.data_dir.empty()) c.data_dir = default_data_dir();
    if (c.name.empty()) c.name = host_name();
    for (auto& lib : c.libraries) {
        std::error_code ec;
        auto abs = std::filesystem::absolute(lib, ec);
        lib = (ec ? std::filesystem::path(lib) : abs.lexically_normal()).string();
        while (lib.size() > 1 && lib.back() == '/') lib.pop_back();
    }
    return c;
}

} // namespace earshot::daemon

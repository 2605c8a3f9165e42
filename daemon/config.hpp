// earshotd's settings: command-line flags, optionally a TOML file with the
// same names. Flags given on the command line win over the file. Which
// flags and keys exist, their defaults' descriptions and their meaning are
// declared once, in daemon/settings.cpp; this is the struct they fill.
#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace earshot::daemon {

struct Config {
    std::vector<std::string> libraries; // absolute folder paths
    std::filesystem::path data_dir;
    std::string http = "127.0.0.1:60210";
    std::string listen = "0.0.0.0:60211";  // peer port (TCP); strangers are refused in the handshake
    std::uint64_t cache_mb = 2048;         // bound for cached remote chunks (pinned ones do not count)
    bool discovery = true;                 // LAN multicast announcements
    std::uint16_t discovery_port = 60212;
    bool dht = true;                         // the mainline DHT: paired peers find each other anywhere
    std::string dht_listen = "0.0.0.0:60213"; // UDP (libtorrent also holds its TCP side)
    std::vector<std::string> dht_bootstrap;  // empty: the public mainline routers
    bool dht_allow_local = false;            // private test DHTs on loopback or a LAN
    bool port_mapping = true;                // UPnP-IGD / NAT-PMP for the peer and DHT ports
    std::string name;      // defaults to the host name
    std::string log_level = "info";
    std::string token;     // HTTP API token; required (and generated if empty) off loopback
    unsigned threads = 0;  // scan workers; 0: one per core
    bool fingerprints = true;
    bool watch = true;
    bool oneshot = false;  // scan, print a summary and exit (scripts, benchmarks)
    std::filesystem::path config_file; // the --config file read, if any
};

// Parses argv (and the --config file it names). Returns nullopt when the
// program should exit with `exit_code` (help, version, --print-config or
// --print-settings-markdown shown, or an error printed).
std::optional<Config> parse_config(int argc, char** argv, int& exit_code);
// The same for arguments without the program name, printing to `out` and
// `err` (tests).
std::optional<Config> parse_config(std::span<const std::string> args, int& exit_code, std::ostream& out,
                                   std::ostream& err);

std::filesystem::path default_data_dir();

} // namespace earshot::daemon

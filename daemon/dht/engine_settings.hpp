// libtorrent as a DHT-only engine: the settings every session earshot runs
// shares, the daemon's (dht::Node) and the test tools' (earshot-test-dht,
// test_private_dht), so a test DHT behaves as the daemon's engine does.
// Callers add what is theirs: the alert mask, port-binding rules, queues.
// Included only where libtorrent's headers may be (node.cpp, the tools).
#pragma once

#include <libtorrent/settings_pack.hpp>

#include <string>

namespace earshot::dht {

struct EngineSettings {
    std::string listen;    // literal "IP:PORT[,IP:PORT...]" (libtorrent resolves no names here)
    std::string bootstrap; // "host:port,..."; empty: none
    // Many nodes on one address and private ranges (a private test DHT).
    bool allow_local = false;
    bool port_mapping = false; // UPnP-IGD and NAT-PMP
};

inline libtorrent::settings_pack engine_settings(const EngineSettings& e) {
    namespace lt = libtorrent;
    lt::settings_pack s;
    s.set_bool(lt::settings_pack::enable_dht, true);
    s.set_str(lt::settings_pack::listen_interfaces, e.listen);
    s.set_str(lt::settings_pack::dht_bootstrap_nodes, e.bootstrap);
    s.set_bool(lt::settings_pack::enable_lsd, false);
    s.set_bool(lt::settings_pack::enable_upnp, e.port_mapping);
    s.set_bool(lt::settings_pack::enable_natpmp, e.port_mapping);
    // No BitTorrent peers: the DHT is all it runs.
    s.set_bool(lt::settings_pack::enable_incoming_tcp, false);
    s.set_bool(lt::settings_pack::enable_outgoing_tcp, false);
    s.set_bool(lt::settings_pack::enable_incoming_utp, false);
    s.set_bool(lt::settings_pack::enable_outgoing_utp, false);
    // No torrents, so no disk I/O: one thread each instead of the defaults.
    s.set_int(lt::settings_pack::aio_threads, 1);
    s.set_int(lt::settings_pack::hashing_threads, 1);
    // By default a routing table keeps one node per IP (and per /24 per
    // bucket): on one host, or one LAN, that is one node.
    s.set_bool(lt::settings_pack::dht_restrict_routing_ips, !e.allow_local);
    s.set_bool(lt::settings_pack::dht_restrict_search_ips, !e.allow_local);
    if (e.allow_local) {
        // The rate limits are per source IP, and a private DHT's nodes share
        // one: the default 5 packets/s would soon get it blocked for
        // dht_block_timeout (5 minutes), and the default upload limit
        // (8000 B/s) would drop answers during a burst of lookups.
        s.set_int(lt::settings_pack::dht_block_ratelimit, 1'000'000);
        s.set_int(lt::settings_pack::dht_upload_rate_limit, 16 * 1024 * 1024);
        // Node ids tied to the node's public address (BEP 42) mean nothing
        // on loopback or private ranges.
        s.set_bool(lt::settings_pack::dht_ignore_dark_internet, false);
        s.set_bool(lt::settings_pack::dht_enforce_node_id, false);
        s.set_bool(lt::settings_pack::dht_prefer_verified_node_ids, false);
    }
    return s;
}

} // namespace earshot::dht

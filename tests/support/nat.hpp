// A home network behind a consumer router, in three network namespaces:
//
//   home 192.168.77.2 --LAN-- 192.168.77.1 router 45.77.0.1 --WAN-- 45.77.0.2 wan
//                                                                    10.99.0.2 (DHT nodes)
//
// The router forwards, masquerades what leaves on WAN (nftables) and runs
// miniupnpd (UPnP-IGD and NAT-PMP) for the LAN, with the ruleset
// miniupnpd-nftables expects (docs/toolchain-notes.md, "NAT in network
// namespaces"). Its forward chain lets in from the WAN only replies and
// what miniupnpd mapped, as a home router does. The WAN is a public-looking
// /24 because miniupnpd refuses to map behind a private WAN address; the
// namespaces have no route to anything else, so nothing leaves them.
//
// 10.99.0.2 is a second address in `wan` for a private DHT: libtorrent
// treats a public node address by BEP 42's rules (random node ids count as
// unverified), and 8 nodes on 45.77.0.2 never filled their routing tables,
// while on a private address they did in 0.2 s. The router routes to it
// through the laptop's link, so home's DHT traffic is masqueraded like the
// rest and the nodes see home as 45.77.0.1.
//
// Needs root, `ip`, `nft` and `miniupnpd` (Debian: iproute2, nftables,
// miniupnpd-nftables); throws NetnsUnavailable when one is missing.
#pragma once

#include "tests/support/netns.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <memory>
#include <string>
#include <vector>

namespace earshot::test {

class NatRouter {
public:
    enum Where { home = 0, router = 1, wan = 2 };

    static constexpr const char* home_address = "192.168.77.2";
    static constexpr const char* router_lan_address = "192.168.77.1";
    static constexpr const char* router_wan_address = "45.77.0.1";
    static constexpr const char* wan_address = "45.77.0.2";
    static constexpr const char* dht_address = "10.99.0.2";

    // Makes the namespaces, the ruleset, and starts miniupnpd; returns once
    // miniupnpd listens. Cleans up what it made if anything fails.
    NatRouter();
    ~NatRouter();
    NatRouter(const NatRouter&) = delete;
    NatRouter& operator=(const NatRouter&) = delete;

    const std::string& name(Where w) const;
    // `ip netns exec <ns> argv...`.
    std::vector<std::string> exec(Where w, const std::vector<std::string>& argv) const;
    // Refuses new TCP connections to `port` in `wan` (the laptop's own
    // firewall), so a link between home and the laptop can only be one the
    // laptop dialled, through the router.
    void firewall_wan_port(unsigned short port);

    // For failure messages: miniupnpd's output and the router's ruleset
    // (which shows the DNAT rules miniupnpd added).
    std::string miniupnpd_log() const;
    std::string router_ruleset() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

} // namespace earshot::test

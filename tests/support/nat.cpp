#include "tests/support/nat.hpp"

#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

namespace earshot::test {
namespace {

void must(const std::vector<std::string>& argv) {
    const auto r = run_program(argv);
    if (r.exit_code == 0) return;
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    throw std::runtime_error(cmd + ": exit " + std::to_string(r.exit_code) + ": " + r.err + r.out);
}

bool has_program(const std::string& name) {
    try {
        return run_program({"sh", "-c", "command -v " + name}).exit_code == 0;
    } catch (const std::exception&) {
        return false;
    }
}

// miniupnpd-nftables' chains (the names are compiled into it), plus a home
// router's policy: from the LAN anything goes out, from the WAN only
// replies and what miniupnpd's chain accepts for its DNAT rules.
constexpr const char* ruleset = R"(table inet filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "LAN" oifname "WAN" accept
        jump miniupnpd
    }
    chain miniupnpd {
    }
    chain prerouting {
        type nat hook prerouting priority -100; policy accept;
        jump prerouting_miniupnpd
    }
    chain postrouting {
        type nat hook postrouting priority 100; policy accept;
        jump postrouting_miniupnpd
        oifname "WAN" masquerade
    }
    chain prerouting_miniupnpd {
    }
    chain postrouting_miniupnpd {
    }
}
)";

} // namespace

struct NatRouter::Impl {
    std::array<std::string, 3> ns;
    std::array<bool, 3> made{false, false, false};
    TempDir dir{"earshot-nat"};
    std::optional<Process> miniupnpd;

    ~Impl() {
        miniupnpd.reset(); // SIGTERM: it removes its rules, then the namespace goes anyway
        // Deleting a namespace takes its veth ends, their peers and its nft tables along.
        for (std::size_t i = 0; i < ns.size(); ++i)
            if (made[i]) run_program({"ip", "netns", "del", ns[i]});
    }

    std::vector<std::string> exec(Where w, const std::vector<std::string>& argv) const {
        std::vector<std::string> out{"ip", "netns", "exec", ns[w]};
        out.insert(out.end(), argv.begin(), argv.end());
        return out;
    }
    void ip(Where w, const std::vector<std::string>& args) {
        std::vector<std::string> argv{"ip", "-n", ns[w]};
        argv.insert(argv.end(), args.begin(), args.end());
        must(argv);
    }

    void wait_running(const std::vector<std::pair<Where, std::string>>& links) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (const auto& [w, dev] : links)
            while (run_program({"ip", "-n", ns[w], "-o", "link", "show", "dev", dev}).out.find("state UP") ==
                   std::string::npos) {
                if (std::chrono::steady_clock::now() > deadline)
                    throw std::runtime_error(dev + " in " + ns[w] + " did not come up");
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
    }

    void build() {
        // Each veth end is created in its namespace, so fixed names (LAN,
        // WAN, eth0) cannot collide with another test's.
        must({"ip", "link", "add", "LAN", "netns", ns[router], "type", "veth", "peer", "name", "eth0", "netns",
              ns[home]});
        must({"ip", "link", "add", "WAN", "netns", ns[router], "type", "veth", "peer", "name", "eth0", "netns",
              ns[wan]});
        ip(router, {"addr", "add", std::string(router_lan_address) + "/24", "dev", "LAN"});
        ip(router, {"addr", "add", std::string(router_wan_address) + "/24", "dev", "WAN"});
        ip(home, {"addr", "add", std::string(home_address) + "/24", "dev", "eth0"});
        ip(wan, {"addr", "add", std::string(wan_address) + "/24", "dev", "eth0"});
        ip(wan, {"addr", "add", std::string(dht_address) + "/24", "dev", "eth0"});
        ip(router, {"link", "set", "LAN", "up"});
        ip(router, {"link", "set", "WAN", "up"});
        ip(home, {"link", "set", "eth0", "up"});
        ip(wan, {"link", "set", "eth0", "up"});
        // A veth end reports its carrier a moment after `up` (the kernel's
        // link watch). libtorrent expands 0.0.0.0 only to interfaces that
        // run at start: a daemon started at once listened on 127.0.0.1
        // alone, sent nothing and mapped nothing for 60 s.
        wait_running({{router, "LAN"}, {router, "WAN"}, {home, "eth0"}, {wan, "eth0"}});
        // Home's default route also carries SSDP's multicast (239.255.255.250).
        ip(home, {"route", "add", "default", "via", router_lan_address});
        ip(router, {"route", "add", "10.99.0.0/24", "via", wan_address, "dev", "WAN"});
        must(exec(router, {"sysctl", "-qw", "net.ipv4.ip_forward=1"}));

        const auto rules = dir / "router.nft";
        std::ofstream(rules) << ruleset;
        must(exec(router, {"nft", "-f", rules.string()}));

        const auto conf = dir / "miniupnpd.conf";
        std::ofstream(conf) << "ext_ifname=WAN\n"
                               "listening_ip=LAN\n"
                               "port=0\n" // any free port for its HTTP (SOAP) side; SSDP tells clients
                               "enable_upnp=yes\n"
                               "enable_natpmp=yes\n"
                               "secure_mode=yes\n"
                               "uuid=3b8a8a6c-5c1f-4a3e-9b55-0c0ffee00077\n"
                            << "lease_file=" << (dir / "leases").string() << "\n"
                            << "allow 1024-65535 192.168.77.0/24 1024-65535\n"
                               "deny 0-65535 0.0.0.0/0 0-65535\n";
        // -d: foreground, log to stderr; -P: not the system's pid file.
        const auto argv = exec(router, {"miniupnpd", "-f", conf.string(), "-d", "-4", "-P", (dir / "pid").string()});
        miniupnpd.emplace(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()), dir / "miniupnpd.log");
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (miniupnpd->log_text().find("Listening for NAT-PMP") == std::string::npos) {
            if (!miniupnpd->running() || std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("miniupnpd did not start:\n" + miniupnpd->log_text());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
};

NatRouter::NatRouter() : impl_(std::make_unique<Impl>()) {
    if (::geteuid() != 0) throw NetnsUnavailable("not root");
    for (const auto* tool : {"ip", "nft", "miniupnpd"})
        if (!has_program(tool))
            throw NetnsUnavailable(std::string("no `") + tool +
                                   "` (Debian: iproute2, nftables, miniupnpd-nftables; contrib/install-deps.sh)");
    remove_orphan_namespaces();
    static std::atomic<int> counter{0};
    const auto prefix = "earshot-" + std::to_string(::getpid()) + "-nat" + std::to_string(counter++) + "-";
    const std::array<const char*, 3> names{"home", "router", "wan"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        impl_->ns[i] = prefix + names[i];
        const auto r = run_program({"ip", "netns", "add", impl_->ns[i]});
        if (r.exit_code != 0) throw NetnsUnavailable("ip netns add: " + r.err);
        impl_->made[i] = true;
        must({"ip", "-n", impl_->ns[i], "link", "set", "lo", "up"});
    }
    impl_->build(); // a throw here destroys impl_, which deletes what was made
}

NatRouter::~NatRouter() = default;

const std::string& NatRouter::name(Where w) const { return impl_->ns[w]; }

std::vector<std::string> NatRouter::exec(Where w, const std::vector<std::string>& argv) const {
    return impl_->exec(w, argv);
}

void NatRouter::firewall_wan_port(unsigned short port) {
    const auto rules = impl_->dir / "wan.nft";
    std::ofstream(rules) << "table inet laptop {\n"
                            "    chain input {\n"
                            "        type filter hook input priority 0; policy accept;\n"
                            "        tcp dport "
                         << port << " ct state new reject with tcp reset\n"
                                    "    }\n"
                                    "}\n";
    must(impl_->exec(wan, {"nft", "-f", rules.string()}));
}

std::string NatRouter::miniupnpd_log() const { return impl_->miniupnpd ? impl_->miniupnpd->log_text() : ""; }

std::string NatRouter::router_ruleset() const {
    return run_program(impl_->exec(router, {"nft", "list", "ruleset"})).out;
}

} // namespace earshot::test

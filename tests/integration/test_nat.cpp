// The "mapped port" rung of the NAT ladder (issue 8), end to end: home runs
// behind a masquerading router with miniupnpd (tests/support/nat.hpp), a
// laptop sits on the WAN side, and the two are paired by peer id alone
// through a private DHT whose nodes live in the WAN namespace. Home's
// libtorrent maps the peer port over UPnP-IGD/NAT-PMP and publishes the
// router's address with it (kind `mapped`); the laptop finds that record,
// dials the router and streams byte-exact. The laptop refuses incoming
// connections (its own firewall), so the link can only be the one it dialled
// through the mapping, not home dialling out. The control: with
// --no-port-mapping on home, the laptop still finds the record but nothing
// answers at the router's address, and no link forms.
//
// Needs root, `ip`, `nft` and `miniupnpd`; exits 77 (skipped) without them.
// Every daemon, DHT node and HTTP call runs inside the test's namespaces.
#define BOOST_TEST_MODULE nat
#include <boost/test/unit_test.hpp>

#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/nat.hpp"
#include "tests/support/private_dht.hpp"
#include "tests/support/temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>

using namespace earshot;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using Net = test::NatRouter;
using test::eventually;

namespace {

// Each daemon has its namespace to itself, so both use the default ports.
constexpr const char* http_port = "60210";
constexpr unsigned short peer_port = 60211;

using Clock = std::chrono::steady_clock;
long long ms_since(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string tail(const std::string& text, std::size_t n = 4000) {
    return text.substr(text.size() > n ? text.size() - n : 0);
}

struct HttpResult {
    int status = 0;
    std::string body;
};

// One earshotd in one namespace, on the private DHT, with no LAN discovery
// (so only the DHT can tell where a paired id lives).
struct Node {
    const Net& net;
    Net::Where where;
    std::unique_ptr<test::Process> process;

    Node(const Net& n, Net::Where w, const std::string& name, const fs::path& data, const fs::path& library,
         const test::PrivateDht& dht, std::vector<std::string> extra)
        : net(n), where(w) {
        fs::create_directories(data);
        fs::create_directories(library);
        std::vector<std::string> args{test::earshotd_path(), "--http", std::string("127.0.0.1:") + http_port,
                                      "--data", data.string(), "--library", library.string(), "--name", name,
                                      "--log-level", "debug", "--no-discovery", "--dht-allow-local"};
        // Two nodes to join through (PrivateDht::bootstrap says why not one or all).
        for (std::size_t i = 0; i < 2; ++i) args.insert(args.end(), {"--dht-bootstrap", dht.nodes().at(i)});
        args.insert(args.end(), extra.begin(), extra.end());
        const auto argv = net.exec(where, args);
        // `ip netns exec` execs in place: this pid is earshotd's.
        process = std::make_unique<test::Process>(argv[0], std::vector<std::string>(argv.begin() + 1, argv.end()),
                                                  data / "earshotd.log");
        const bool up = eventually([&] { return !process->running() || call("GET", "/api/v1/health").status == 200; }, 30s);
        if (!up || !process->running())
            throw std::runtime_error("earshotd in " + net.name(where) + " did not start:\n" + process->log_text());
    }

    // curl inside the namespace; `extra` goes before the URL.
    HttpResult call(const std::string& method, const std::string& path, std::vector<std::string> extra = {}) const {
        std::vector<std::string> argv{"curl", "-s", "-S", "--max-time", "60", "-X", method, "-w", "\n%{http_code}"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(std::string("http://127.0.0.1:") + http_port + path);
        const auto r = test::run_program(net.exec(where, argv));
        HttpResult out;
        const auto nl = r.out.rfind('\n');
        if (r.exit_code != 0 || nl == std::string::npos) return out;
        out.status = std::atoi(r.out.c_str() + nl + 1);
        out.body = r.out.substr(0, nl);
        return out;
    }
    json get_json(const std::string& path) const {
        const auto r = call("GET", path);
        BOOST_TEST_REQUIRE(r.status == 200, path << ": " << r.status << " " << r.body);
        return json::parse(r.body);
    }
    json status() const { return get_json("/api/v1/status"); }
    json dht() const { return status()["dht"]; }
    std::string peer_id() const { return status()["peer_id"].get<std::string>(); }
    // The only paired peer's entry in GET /api/v1/peers.
    json peer() const {
        const auto peers = get_json("/api/v1/peers")["peers"];
        return peers.empty() ? json{} : peers[0];
    }
    bool peer_online() const {
        const auto p = peer();
        return p.is_object() && p["online"].get<bool>();
    }
    // Pairs by id only, as a user who typed `earshot device add ID`.
    void pair_by_id(const Node& other, const std::string& name) const {
        const auto r = call("POST", "/api/v1/peers",
                            {"--data-urlencode", "peer_id=" + other.peer_id(), "--data-urlencode", "role=device",
                             "--data-urlencode", "name=" + name});
        BOOST_TEST_REQUIRE(r.status / 100 == 2, r.status << " " << r.body);
    }
    void wait_scan_idle() const {
        BOOST_TEST_REQUIRE(eventually([&] {
            const auto s = status();
            return !s["scan"]["running"].get<bool>() && s["scan"]["scans_completed"].get<int>() >= 1;
        }, 60s));
    }
    // A search as test::search_all runs it: start, then poll until finished.
    json search(const std::string& artist, const std::string& track) const {
        const auto started = call("GET", "/api/v1/search", {"-G", "--data-urlencode", "artist=" + artist,
                                                            "--data-urlencode", "track=" + track, "--data-urlencode",
                                                            "timeout=5000"});
        BOOST_TEST_REQUIRE(started.status == 200, started.body);
        auto body = json::parse(started.body);
        const auto qid = body["qid"].get<std::string>();
        eventually([&] {
            body = get_json("/api/v1/results/" + qid);
            return body["finished"].get<bool>();
        }, 10s);
        return body;
    }
    std::string state() const {
        return "peers " + get_json("/api/v1/peers").dump() + "\ndht " + dht().dump() + "\nlog tail:\n" +
               tail(process->log_text());
    }
};

bool has_endpoint(const json& dht, const std::string& kind, const std::string& address) {
    for (const auto& e : dht["endpoints"])
        if (e["kind"] == kind && e["address"] == address) return true;
    return false;
}

const std::string router_peer_endpoint = std::string(Net::router_wan_address) + ":" + std::to_string(peer_port);

// Home (holding one track) behind the router, the laptop (empty library) on
// the WAN, the DHT's nodes beside the laptop. Not yet paired.
struct Testbed {
    std::unique_ptr<Net> net;
    test::TempDir tmp{"earshot-nat"};
    std::optional<test::PrivateDht> dht;
    fs::path track = tmp / "home-music" / "behind.flac";
    std::optional<Node> home, laptop;

    Testbed(std::unique_ptr<Net> n, bool home_maps_ports) : net(std::move(n)) {
        // The laptop refuses incoming links (as on a café network): only its
        // dial to home, through the router, can link the two.
        net->firewall_wan_port(peer_port);
        dht.emplace(8, 30s, test::DhtPlace{net->exec(Net::wan, {}), Net::dht_address});
        BOOST_TEST_MESSAGE("private DHT in " << net->name(Net::wan) << " ready after " << dht->time_to_ready().count()
                                             << " ms: " << dht->bootstrap());
        fs::create_directories(tmp / "home-music");
        test::make_audio(track, {.artist = "Hidden Host", .title = "Behind The Router", .album = "Masquerade",
                                 .seed = 23});
        std::vector<std::string> home_extra;
        if (!home_maps_ports) home_extra.push_back("--no-port-mapping");
        home.emplace(*net, Net::home, "home", tmp / "home", tmp / "home-music", *dht, home_extra);
        // No router on the laptop's side to ask.
        laptop.emplace(*net, Net::wan, "laptop", tmp / "laptop", tmp / "laptop-music", *dht,
                       std::vector<std::string>{"--no-port-mapping"});
        home->wait_scan_idle();
    }

    // Home first: it publishes a record for each paired peer, and a lookup
    // that finds nothing backs off for 30 s (the laptop's, had it paired
    // first: linked 30.2 s after pairing instead of within the first lookup).
    void pair() const {
        home->pair_by_id(*laptop, "laptop");
        BOOST_TEST_REQUIRE(eventually([&] { return home->dht()["presence"]["puts_stored"].get<int>() >= 1; }, 30s),
                           home->state());
        laptop->pair_by_id(*home, "home");
    }

    std::string state() const {
        return "laptop: " + laptop->state() + "\n\nhome: " + home->state() + "\n\nminiupnpd:\n" +
               tail(net->miniupnpd_log()) + "\nrouter ruleset:\n" + net->router_ruleset();
    }
};

// Exits with 77 (skipped: SKIP_RETURN_CODE in tests/netns.cmake) when this
// machine cannot build the topology.
std::unique_ptr<Net> make_net() {
    try {
        return std::make_unique<Net>();
    } catch (const test::NetnsUnavailable& e) {
        std::cout << "SKIP: NAT namespaces unavailable here: " << e.what() << std::endl;
        std::exit(77);
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(home_behind_a_upnp_router_is_reached_through_its_mapped_port) {
    const auto t0 = Clock::now();
    Testbed t(make_net(), true);

    // Home learns its mapping and the router's address, and publishes both.
    json dht;
    const bool mapped = eventually([&] {
        dht = t.home->dht();
        return has_endpoint(dht, "mapped", router_peer_endpoint);
    }, 60s);
    BOOST_TEST_REQUIRE(mapped, "home never published " << router_peer_endpoint << " as mapped:\n" << t.state());
    BOOST_TEST_MESSAGE("home published " << router_peer_endpoint << " (mapped) " << ms_since(t0)
                                         << " ms after the test started; dht " << dht["endpoints"].dump());
    BOOST_TEST(dht["reachable"] == "mapped", dht.dump());
    // miniupnpd really holds the mapping: its DNAT rule to home's peer port.
    BOOST_TEST(t.net->router_ruleset().find(std::string("dnat ip to ") + Net::home_address + ":" +
                                            std::to_string(peer_port)) != std::string::npos,
               t.net->router_ruleset());

    const auto paired = Clock::now();
    t.pair();
    const bool linked = eventually([&] { return t.laptop->peer_online() && t.home->peer_online(); }, 90s);
    BOOST_TEST_REQUIRE(linked, "not linked:\n" << t.state());
    BOOST_TEST_MESSAGE("linked " << ms_since(paired) << " ms after pairing by id");
    const auto entry = t.laptop->peer();
    BOOST_TEST(entry["found_via"] == "dht", entry.dump());
    BOOST_TEST(entry["connected_address"] == router_peer_endpoint, entry.dump());

    const auto body = t.laptop->search("Hidden Host", "Behind The Router");
    std::string sid;
    for (const auto& r : body["results"])
        if (r["source"] == "home") sid = r["sid"].get<std::string>();
    BOOST_TEST_REQUIRE(!sid.empty(), body.dump());
    const auto out = t.tmp / "streamed.out";
    const auto got = t.laptop->call("GET", "/sid/" + sid, {"-o", out.string()});
    BOOST_TEST(got.status == 200);
    BOOST_TEST((read_file(out) == read_file(t.track)));
}

BOOST_AUTO_TEST_CASE(without_port_mapping_the_record_is_found_but_no_link_forms) {
    Testbed t(make_net(), false);

    // Home knows its external address (DHT nodes tell it) but has no mapping.
    json dht;
    BOOST_TEST_REQUIRE(eventually([&] {
        dht = t.home->dht();
        return has_endpoint(dht, "observed", router_peer_endpoint);
    }, 60s), t.state());
    BOOST_TEST(!has_endpoint(dht, "mapped", router_peer_endpoint), dht.dump());
    BOOST_TEST(dht["reachable"] == "lan only", dht.dump());

    t.pair();
    // The laptop finds home's record and so its addresses...
    json entry;
    BOOST_TEST_REQUIRE(eventually([&] {
        entry = t.laptop->peer();
        return entry.is_object() && t.laptop->dht()["presence"]["lookups_found"].get<int>() >= 1 &&
               !entry["candidates"].empty();
    }, 60s), t.state());
    BOOST_TEST(entry["candidates"].dump().find(router_peer_endpoint) != std::string::npos, entry.dump());
    // ...but nothing at the router forwards to home, and home cannot dial in
    // to the laptop: no link within several times what the mapped case took.
    BOOST_TEST(!eventually([&] { return t.laptop->peer_online() || t.home->peer_online(); }, 30s), t.state());
}

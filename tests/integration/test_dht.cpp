// Paired by peer id alone: real earshotd processes find each other through a
// private mainline DHT of local libtorrent nodes (test::PrivateDht), link,
// resolve and stream; a restart on another port is found again; a stranger
// who knows an id learns nothing; and what the DHT nodes received holds no
// key, id, name or content id. Nothing here reaches beyond loopback.
#define BOOST_TEST_MODULE dht
#include <boost/test/unit_test.hpp>

#include "proto/peer_id.hpp"
#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/private_dht.hpp"
#include "tests/support/temp_dir.hpp"

#include <fstream>
#include <optional>

using namespace earshot;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using test::eventually;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string peer_id(test::Daemon& d) { return d.status()["peer_id"].get<std::string>(); }

// Pairs by id only: no address, as a user who typed `earshot device add ID`.
void pair_by_id(test::Daemon& from, test::Daemon& to, const std::string& role, const std::string& name) {
    const auto r = from.api().post_form(
        "/api/v1/peers", client::query_string({{"peer_id", peer_id(to)}, {"role", role}, {"name", name}}));
    BOOST_TEST_REQUIRE(r.ok(), r.body);
}

std::optional<json> peer_entry(test::Daemon& d, const std::string& name) {
    // Named: a range-for over a member of a temporary would dangle.
    const auto body = d.api().get_json("/api/v1/peers");
    for (const auto& p : body["peers"])
        if (p["name"] == name) return p;
    return std::nullopt;
}

bool online(test::Daemon& d, const std::string& name) {
    const auto p = peer_entry(d, name);
    return p && (*p)["online"].get<bool>();
}

// A daemon on the private DHT, with its own DHT port and no LAN discovery
// (so nothing but the DHT can tell where a peer id lives).
std::vector<std::string> on_dht(const test::PrivateDht& dht, std::vector<std::string> args) {
    // Two nodes to join through, as PrivateDht::bootstrap() advises: a
    // bootstrap node never enters libtorrent's routing table.
    for (std::size_t i = 0; i < 2; ++i) args.insert(args.end(), {"--dht-bootstrap", dht.nodes().at(i)});
    args.push_back("--dht-allow-local");
    return args;
}

// What each side knows, for a failure message.
std::string state_of(test::Daemon& d) {
    auto s = d.status();
    std::string log = d.process().log_text();
    if (log.size() > 3000) log = log.substr(log.size() - 3000);
    return "peers " + d.api().get_json("/api/v1/peers").dump() + "\ndht " + s["dht"].dump() + "\nlog tail:\n" + log;
}

struct Pair {
    test::TempDir tmp;
    test::PrivateDht dht{20};
    fs::path home_music = tmp / "home-music";
    fs::path track = home_music / "far.flac";
    std::unique_ptr<test::Daemon> home, laptop;

    Pair() {
        fs::create_directories(home_music);
        test::make_audio(track, {.artist = "Distant Shore", .title = "Far Away Song", .album = "Elsewhere", .seed = 7});
        home = std::make_unique<test::Daemon>(tmp / "home",
                                              on_dht(dht, {"--library", home_music.string(), "--name", "home"}));
        laptop = std::make_unique<test::Daemon>(tmp / "laptop", on_dht(dht, {"--name", "laptop"}));
        home->wait_scan_idle();
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(paired_by_id_alone_they_find_each_other_resolve_and_stream) {
    Pair p;
    pair_by_id(*p.laptop, *p.home, "device", "home");
    pair_by_id(*p.home, *p.laptop, "device", "laptop");
    const auto t0 = std::chrono::steady_clock::now();
    const bool linked = eventually([&] { return online(*p.laptop, "home") && online(*p.home, "laptop"); }, 60s);
    BOOST_TEST_REQUIRE(linked, "laptop: " << state_of(*p.laptop) << "\nhome: " << state_of(*p.home));
    BOOST_TEST_MESSAGE("linked by id alone after "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
                       << " ms");
    // Neither side was given an address: one of them found the other in the DHT.
    const auto via_laptop = (*peer_entry(*p.laptop, "home"))["found_via"];
    const auto via_home = (*peer_entry(*p.home, "laptop"))["found_via"];
    BOOST_TEST((via_laptop == "dht" || via_home == "dht"), via_laptop.dump() + " / " + via_home.dump());

    const auto body = test::search_all(*p.laptop, "Distant Shore", "Far Away Song");
    std::optional<json> hit;
    for (const auto& r : body["results"])
        if (r["source"] == "home") hit = r;
    BOOST_TEST_REQUIRE(hit.has_value(), body.dump());
    const auto got = p.laptop->api().get("/sid/" + (*hit)["sid"].get<std::string>());
    BOOST_TEST(got.status == 200u);
    BOOST_TEST((got.body == read_file(p.track)));

    // The status's counters are a snapshot a few seconds old at most.
    json status;
    BOOST_TEST(eventually([&] {
        status = p.laptop->status()["dht"];
        return status["nodes"].get<int>() > 0 && status["packets_out"].get<int>() > 0;
    }, 10s), status.dump());
    BOOST_TEST(status["running"].get<bool>());
    BOOST_TEST(status["presence"]["puts_stored"].get<int>() >= 1, status.dump());
    BOOST_TEST(status["reachable"] == "lan only"); // loopback: nothing public, nothing mapped

    // What the user reads: `earshot status` and the VIA column.
    const auto cli_status = test::run_program({test::earshot_cli_path(), "--api", p.laptop->url(), "status"});
    BOOST_TEST(cli_status.exit_code == 0, cli_status.err);
    BOOST_TEST(cli_status.out.find("reachable: lan only; published: " + p.laptop->peer_address() + " (lan)") !=
                   std::string::npos,
               cli_status.out);
    const bool laptop_found_it = via_laptop == "dht";
    auto& finder = laptop_found_it ? *p.laptop : *p.home;
    const auto list = test::run_program({test::earshot_cli_path(), "--api", finder.url(), "device", "list"});
    BOOST_TEST(list.exit_code == 0, list.err);
    BOOST_TEST(list.out.find("dht") != std::string::npos, list.out);
}

BOOST_AUTO_TEST_CASE(a_peer_that_restarts_on_another_port_is_found_again) {
    Pair p;
    pair_by_id(*p.laptop, *p.home, "device", "home");
    pair_by_id(*p.home, *p.laptop, "device", "laptop");
    BOOST_TEST_REQUIRE(eventually([&] { return online(*p.laptop, "home"); }, 60s));

    // The laptop moves: same identity, new peer port, new DHT port.
    const auto old_port = p.laptop->peer_port();
    p.laptop->stop();
    p.laptop.reset();
    BOOST_TEST_REQUIRE(eventually([&] { return !online(*p.home, "laptop"); }, 60s));
    p.laptop = std::make_unique<test::Daemon>(p.tmp / "laptop", on_dht(p.dht, {"--name", "laptop"}));
    BOOST_TEST_REQUIRE(p.laptop->peer_port() != old_port);
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(eventually([&] { return online(*p.home, "laptop") && online(*p.laptop, "home"); }, 90s));
    BOOST_TEST_MESSAGE("linked again after "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
                       << " ms");
}

BOOST_AUTO_TEST_CASE(a_stranger_who_knows_an_id_learns_no_address_and_gets_no_link) {
    Pair p;
    // The honest pair links, so home is in the DHT and reachable.
    pair_by_id(*p.laptop, *p.home, "device", "home");
    pair_by_id(*p.home, *p.laptop, "device", "laptop");
    BOOST_TEST_REQUIRE(eventually([&] { return online(*p.laptop, "home"); }, 60s));

    // The stranger pairs home's id on its side only: home never paired it.
    test::Daemon stranger(p.tmp / "stranger", on_dht(p.dht, {"--name", "stranger"}));
    pair_by_id(stranger, *p.home, "device", "home");
    const auto stranger_status = stranger.status();
    // Give its lookups the time the honest pair needed, several times over.
    BOOST_TEST(!eventually([&] { return online(stranger, "home"); }, 20s));
    const auto entry = *peer_entry(stranger, "home");
    BOOST_TEST(entry["candidates"].empty(), entry.dump());
    BOOST_TEST((entry["found_via"].is_null()), entry.dump());
    BOOST_TEST(stranger.status()["dht"]["presence"]["lookups"].get<int>() >= 1);
    BOOST_TEST(stranger.status()["dht"]["presence"]["lookups_found"].get<int>() == 0);
    // And home never heard from it over the peer port either.
    BOOST_TEST(p.home->process().log_text().find(stranger_status["peer_id"].get<std::string>()) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(dht_nodes_see_no_key_id_name_or_content_id) {
    Pair p;
    pair_by_id(*p.laptop, *p.home, "device", "home");
    pair_by_id(*p.home, *p.laptop, "device", "laptop");
    BOOST_TEST_REQUIRE(eventually([&] { return online(*p.laptop, "home") && online(*p.home, "laptop"); }, 60s));
    const auto body = test::search_all(*p.laptop, "Distant Shore", "Far Away Song");
    std::string sid;
    for (const auto& r : body["results"])
        if (r["source"] == "home") sid = r["sid"];
    BOOST_TEST_REQUIRE(!sid.empty());

    // Every packet the private nodes received from the daemons.
    const auto packets = p.dht.packets();
    BOOST_TEST_REQUIRE(p.dht.dropped() == 0u); // else "never seen" proves nothing
    std::size_t from_daemons = 0;
    for (const auto& pkt : packets)
        if (p.dht.nodes().end() == std::find(p.dht.nodes().begin(), p.dht.nodes().end(), pkt.remote)) ++from_daemons;
    BOOST_TEST_REQUIRE(from_daemons > 10u);
    BOOST_TEST_MESSAGE(packets.size() << " packets received by the private DHT's nodes, " << from_daemons
                                      << " of them from the daemons");

    const auto bytes = [](std::string_view text) { return proto::Bytes(text.begin(), text.end()); };
    std::vector<std::pair<std::string, proto::Bytes>> secrets;
    for (auto* d : {p.home.get(), p.laptop.get()}) {
        const auto id = peer_id(*d);
        const auto key = std::get<proto::PublicKey>(proto::parse_peer_id(id));
        secrets.emplace_back("identity key of " + id, proto::Bytes(key.begin(), key.end()));
        secrets.emplace_back("peer id text " + id, bytes(id));
        const auto name = d->status()["name"].get<std::string>();
        secrets.emplace_back("name " + name, bytes(name));
    }
    const auto content = proto::from_hex(sid); // the sid is the content id
    BOOST_TEST_REQUIRE(content.has_value());
    secrets.emplace_back("content id", proto::Bytes(content->begin(), content->end()));
    secrets.emplace_back("content id in hex", bytes(sid));
    secrets.emplace_back("track title", bytes("Far Away Song"));
    secrets.emplace_back("artist", bytes("Distant Shore"));
    for (const auto& [what, needle] : secrets) BOOST_TEST(!p.dht.received(needle), what << " seen by a DHT node");
}

BOOST_AUTO_TEST_CASE(a_restart_rejoins_from_its_saved_routing_table) {
    Pair p;
    BOOST_TEST_REQUIRE(eventually([&] { return p.laptop->status()["dht"]["nodes"].get<int>() > 0; }, 20s));
    p.laptop->stop();
    p.laptop.reset();
    BOOST_TEST(fs::file_size(p.tmp / "laptop" / "dht-state") > 0u);
    // Its only bootstrap node is dead: what it knows it knows from DATA/dht-state.
    p.laptop = std::make_unique<test::Daemon>(
        p.tmp / "laptop", std::vector<std::string>{"--name", "laptop", "--dht-bootstrap", "127.0.0.1:1", "--dht-allow-local"});
    json status;
    const auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST_REQUIRE(eventually([&] {
        status = p.laptop->status()["dht"];
        return status["nodes"].get<int>() > 0;
    }, 20s), status.dump());
    BOOST_TEST_MESSAGE("rejoined from the saved routing table after "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count()
                       << " ms");
    // And it is a working member: it finds home by id.
    pair_by_id(*p.laptop, *p.home, "device", "home");
    pair_by_id(*p.home, *p.laptop, "device", "laptop");
    BOOST_TEST(eventually([&] { return online(*p.laptop, "home") && online(*p.home, "laptop"); }, 60s));
}

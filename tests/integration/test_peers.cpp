// Own devices and friends, end to end: real earshotd processes on loopback,
// each with its own data folder and library, linked over the encrypted peer
// protocol. Nothing here is mocked.
#define BOOST_TEST_MODULE peers
#include <boost/test/unit_test.hpp>

#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/temp_dir.hpp"

#include <sys/stat.h>

#include <fstream>
#include <map>
#include <optional>
#include <thread>

using namespace earshot;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

using test::eventually;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string peer_id(test::Daemon& d) { return d.status()["peer_id"].get<std::string>(); }

void pair(test::Daemon& from, test::Daemon& to, const std::string& role, const std::string& name,
          const std::vector<std::string>& shared = {}) {
    std::vector<std::pair<std::string, std::string>> form{
        {"peer_id", peer_id(to)}, {"role", role}, {"name", name}, {"address", to.peer_address()}};
    for (const auto& f : shared) form.emplace_back("shared", f);
    const auto r = from.api().post_form("/api/v1/peers", client::query_string(form));
    BOOST_TEST_REQUIRE(r.ok(), r.body);
}

// The server's own word that it refused `who` inside the handshake.
bool refused_by(test::Daemon& server, test::Daemon& who) {
    const auto needle = "refused: peer " + peer_id(who) + " is not paired";
    return eventually([&] { return server.process().log_text().find(needle) != std::string::npos; }, 20s);
}

bool online(test::Daemon& d, const std::string& name) {
    const auto body = d.api().get_json("/api/v1/peers");
    for (const auto& p : body["peers"])
        if (p["name"] == name) return p["online"].get<bool>();
    return false;
}

json search(test::Daemon& d, const std::string& artist, const std::string& track) {
    return test::search_all(d, artist, track);
}

// The result for these exact bytes, if the search found them.
std::optional<json> result_for(const json& body, const std::string& sid) {
    for (const auto& r : body["results"])
        if (r["sid"] == sid) return r;
    return std::nullopt;
}

std::string sid_of_file(test::Daemon& d, const std::string& artist, const std::string& track) {
    const auto body = search(d, artist, track);
    for (const auto& r : body["results"])
        if (r["score"].get<double>() >= 0.99 && r["source"] == d.status()["name"]) return r["sid"];
    return {};
}

std::vector<std::string> sources_of(const json& r) {
    std::vector<std::string> out;
    for (const auto& s : r["sources"]) out.push_back(s.get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
}

// Three machines: the user's laptop and home server (own devices), and a
// friend, who is paired with the server (sharing only its "shared" folder
// with them) and with the laptop.
struct Cluster {
    test::TempDir tmp{"earshot-peers"};
    fs::path server_lib = tmp / "server-music", friend_lib = tmp / "friend-music", laptop_lib = tmp / "laptop-music";
    fs::path glass, hidden, solo, long_track;
    std::optional<test::Daemon> server, laptop, friend_;

    Cluster() {
        for (const auto& d : {server_lib / "shared", server_lib / "private", friend_lib, laptop_lib})
            fs::create_directories(d);
        glass = server_lib / "shared" / "glass.flac";
        test::make_audio(glass, {.artist = "Aurora Lane", .title = "Glass Harbor", .album = "Tides", .seed = 3, .seconds = 12});
        // The friend holds the very same bytes.
        fs::copy_file(glass, friend_lib / "glass-copy.flac");
        hidden = server_lib / "private" / "hidden.mp3";
        test::make_audio(hidden, {.artist = "Secret Band", .title = "Hidden Track", .seed = 4, .seconds = 6});
        solo = server_lib / "shared" / "solo.mp3";
        test::make_audio(solo, {.artist = "Only Server", .title = "Solo Piece", .seed = 5, .seconds = 10});
        long_track = server_lib / "shared" / "long.flac";
        test::make_audio(long_track, {.artist = "Marathon", .title = "Long Song", .seed = 6, .seconds = 90});
        fs::copy_file(long_track, friend_lib / "long-copy.flac");
        test::make_audio(friend_lib / "own.ogg", {.artist = "Friend Artist", .title = "Friend Song", .seed = 7, .seconds = 6});
        // One recording in three encodings on three machines, tagged with
        // its MusicBrainz recording id (as Picard does).
        const std::vector<std::string> mbid{"MUSICBRAINZ_TRACKID=0b9f7e0a-3a3c-4c5e-9d7e-5f1c2b3a4d5e"};
        test::make_audio(server_lib / "shared" / "take.flac",
                         {.artist = "Take Artist", .title = "Alternate Take", .extra_metadata = mbid, .seed = 9});
        test::make_audio(friend_lib / "take.ogg",
                         {.artist = "Take Artist", .title = "Alternate Take", .extra_metadata = mbid, .seed = 9});
        test::make_audio(laptop_lib / "take.opus",
                         {.artist = "Take Artist", .title = "Alternate Take", .extra_metadata = mbid, .seed = 9});
        test::make_audio(laptop_lib / "home.mp3", {.artist = "Local Band", .title = "Home Song", .seed = 8, .seconds = 6});

        server.emplace(tmp / "server", std::vector<std::string>{"--library", server_lib.string(), "--name", "server"});
        friend_.emplace(tmp / "friend", std::vector<std::string>{"--library", friend_lib.string(), "--name", "friend"});
        laptop.emplace(tmp / "laptop", std::vector<std::string>{"--library", laptop_lib.string(), "--name", "laptop"});
        for (auto* d : {&*server, &*friend_, &*laptop}) d->wait_scan_idle();
    }

    void pair_all() {
        pair(*laptop, *server, "device", "server");
        pair(*server, *laptop, "device", "laptop");
        pair(*server, *friend_, "friend", "friend", {(server_lib / "shared").string()});
        pair(*friend_, *server, "friend", "server");
        pair(*laptop, *friend_, "friend", "friend");
        pair(*friend_, *laptop, "friend", "laptop");
        BOOST_TEST_REQUIRE(eventually([&] {
            return online(*laptop, "server") && online(*laptop, "friend") && online(*server, "friend") &&
                   online(*friend_, "server") && online(*friend_, "laptop") && online(*server, "laptop");
        }));
    }
};

} // namespace

BOOST_AUTO_TEST_CASE(a_link_needs_both_sides_to_pair) {
    Cluster c;
    pair(*c.laptop, *c.server, "device", "server");
    // The server has not added the laptop: its handshake refuses it, and the
    // laptop learns nothing from the server.
    BOOST_TEST_REQUIRE(refused_by(*c.server, *c.laptop));
    BOOST_TEST(!online(*c.laptop, "server"));
    BOOST_TEST(search(*c.laptop, "Aurora Lane", "Glass Harbor")["results"].empty());

    pair(*c.server, *c.laptop, "device", "laptop");
    BOOST_TEST(eventually([&] { return online(*c.laptop, "server") && online(*c.server, "laptop"); }));
    const auto peers = c.laptop->api().get_json("/api/v1/peers")["peers"];
    BOOST_TEST_REQUIRE(peers.size() == 1u);
    BOOST_TEST(peers[0]["role"] == "device");
    BOOST_TEST(eventually([&] {
        return c.laptop->api().get_json("/api/v1/peers")["peers"][0]["latency_ms"].is_number();
    }, 15s));

    // CLI: list shows it online and how it was reached; removing drops the
    // link on both ends.
    auto out = test::run_program({test::earshot_cli_path(), "--api", c.laptop->url(), "device", "list"});
    BOOST_TEST(out.exit_code == 0);
    BOOST_TEST(out.out.find("online") != std::string::npos);
    const auto via = c.laptop->api().get_json("/api/v1/peers")["peers"][0]["found_via"];
    BOOST_TEST_REQUIRE(via.is_string(), via.dump());
    BOOST_TEST(out.out.find(" " + via.get<std::string>() + " ") != std::string::npos, out.out);
    out = test::run_program({test::earshot_cli_path(), "--api", c.laptop->url(), "device", "remove", peer_id(*c.server)});
    BOOST_TEST(out.exit_code == 0, out.err);
    BOOST_TEST(eventually([&] { return !online(*c.server, "laptop"); }));
    BOOST_TEST(c.laptop->api().get_json("/api/v1/peers")["peers"].empty());
}

BOOST_AUTO_TEST_CASE(bad_pairing_requests_are_refused_with_reasons) {
    Cluster c;
    auto add = [&](std::vector<std::pair<std::string, std::string>> form) {
        return c.laptop->api().post_form("/api/v1/peers", client::query_string(form));
    };
    auto id = peer_id(*c.server);
    id[3] = id[3] == 'A' ? 'B' : 'A'; // one typo
    BOOST_TEST(add({{"peer_id", id}, {"role", "device"}}).status == 400u);
    BOOST_TEST(add({{"peer_id", peer_id(*c.laptop)}, {"role", "device"}}).status == 400u);
    BOOST_TEST(add({{"peer_id", peer_id(*c.server)}, {"role", "boss"}}).status == 400u);
    BOOST_TEST(add({{"peer_id", peer_id(*c.server)}, {"role", "friend"}, {"shared", "/etc"}}).status == 400u);
    BOOST_TEST(add({{"peer_id", peer_id(*c.server)}, {"role", "device"}, {"address", "nowhere"}}).status == 400u);
    BOOST_TEST(c.laptop->api().get_json("/api/v1/peers")["peers"].empty());
    // The roster is private.
    pair(*c.laptop, *c.server, "device", "server");
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat((c.tmp / "laptop" / "peers.json").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 077) == 0u);
}

BOOST_AUTO_TEST_CASE(queries_fan_out_and_one_recording_shows_every_source) {
    Cluster c;
    c.pair_all();
    const auto sid = sid_of_file(*c.server, "Aurora Lane", "Glass Harbor");
    BOOST_TEST_REQUIRE(!sid.empty());

    // From the laptop: the server's and the friend's copies are one result
    // (same bytes, same sid) with both sources.
    const auto body = search(*c.laptop, "aurora lane", "glass harbour");
    const auto r = result_for(body, sid);
    BOOST_TEST_REQUIRE(r.has_value(), body.dump());
    BOOST_TEST(r->at("score").get<double>() >= 0.9);
    BOOST_TEST((sources_of(*r) == std::vector<std::string>{"friend", "server"}));
    BOOST_TEST(!body["solved"].get<bool>()); // a typo is not a certain match...
    BOOST_TEST(search(*c.laptop, "Aurora Lane", "Glass Harbor")["solved"].get<bool>()); // ...the exact names are

    // Playdar's resolve/get_results sees the remote results in the same qid.
    auto qid = c.laptop->api().get_json("/api/?" + client::query_string({{"method", "resolve"}, {"artist", "Friend Artist"},
                                                                        {"track", "Friend Song"}}))["qid"].get<std::string>();
    BOOST_TEST(eventually([&] {
        const auto res = c.laptop->api().get_json("/api/?" + client::query_string({{"method", "get_results"}, {"qid", qid}}));
        return !res["results"].empty() && res["results"][0]["source"] == "friend" && res["solved"].get<bool>();
    }, 10s));

    // Own devices see everything, the server's private folder included.
    BOOST_TEST(!sid_of_file(*c.server, "Secret Band", "Hidden Track").empty());
    const auto hidden = search(*c.laptop, "Secret Band", "Hidden Track");
    BOOST_TEST_REQUIRE(!hidden["results"].empty());
    BOOST_TEST(hidden["results"][0]["source"] == "server");
}

BOOST_AUTO_TEST_CASE(encodings_of_one_recording_on_different_peers_share_its_recording_id) {
    Cluster c;
    c.pair_all();
    const auto body = search(*c.laptop, "Take Artist", "Alternate Take");
    std::map<std::string, std::string> recording_by_source;
    for (const auto& r : body["results"])
        if (r["score"].get<double>() >= 0.99) recording_by_source[r["source"].get<std::string>()] = r["recording"];
    BOOST_TEST_REQUIRE(recording_by_source.size() == 3u, body.dump());
    BOOST_TEST(recording_by_source["server"] == recording_by_source["laptop"]);
    BOOST_TEST(recording_by_source["friend"] == recording_by_source["laptop"]);
    // Tracks without a shared id keep the peer's own id, marked as that
    // peer's (its first 7 id characters), so two peers' private ids never
    // merge: compared with what each daemon says of its own track.
    const auto own_recording = [&](test::Daemon& d, const std::string& artist, const std::string& track) {
        const auto found = search(d, artist, track); // (kept: a range-for does not extend a temporary's life)
        for (const auto& r : found["results"])
            if (r["source"] == d.status()["name"] && r["score"].get<double>() >= 0.99) return r["recording"].get<std::string>();
        return std::string();
    };
    const auto seen_from_laptop = [&](const std::string& artist, const std::string& track, const std::string& source) {
        const auto found = search(*c.laptop, artist, track);
        for (const auto& r : found["results"])
            if (r["source"] == source && r["score"].get<double>() >= 0.99) return r["recording"].get<std::string>();
        return std::string();
    };
    const auto solo_on_server = own_recording(*c.server, "Only Server", "Solo Piece");
    const auto song_on_friend = own_recording(*c.friend_, "Friend Artist", "Friend Song");
    const auto home = own_recording(*c.laptop, "Local Band", "Home Song");
    BOOST_TEST_REQUIRE(!solo_on_server.empty());
    BOOST_TEST_REQUIRE(!song_on_friend.empty());
    BOOST_TEST_REQUIRE(!home.empty());
    const auto solo = seen_from_laptop("Only Server", "Solo Piece", "server");
    const auto friend_song = seen_from_laptop("Friend Artist", "Friend Song", "friend");
    BOOST_TEST(solo == peer_id(*c.server).substr(0, 7) + ":" + solo_on_server);
    BOOST_TEST(friend_song == peer_id(*c.friend_).substr(0, 7) + ":" + song_on_friend);
    BOOST_TEST(home != solo);
    BOOST_TEST(friend_song != solo);
    // And the recording shared by MusicBrainz id is the laptop's own one.
    BOOST_TEST(recording_by_source["laptop"] == own_recording(*c.laptop, "Take Artist", "Alternate Take"));
}

BOOST_AUTO_TEST_CASE(friends_see_only_what_is_shared_and_strangers_nothing) {
    Cluster c;
    c.pair_all();
    const auto hidden_sid = sid_of_file(*c.server, "Secret Band", "Hidden Track");
    const auto solo_sid = sid_of_file(*c.server, "Only Server", "Solo Piece");
    BOOST_TEST_REQUIRE(!hidden_sid.empty());

    // The friend finds the shared folder's tracks, not the private one's...
    BOOST_TEST(result_for(search(*c.friend_, "Only Server", "Solo Piece"), solo_sid).has_value());
    BOOST_TEST(!result_for(search(*c.friend_, "Secret Band", "Hidden Track"), hidden_sid).has_value());
    // ...and cannot fetch it even knowing its sid.
    BOOST_TEST(c.friend_->api().get("/sid/" + hidden_sid).status == 404u);
    BOOST_TEST(c.friend_->api().get("/sid/" + solo_sid).body == read_file(c.solo));

    // A stranger who pairs one-sidedly (claiming to be the server's own
    // device, with the server's real peer address) dials the server, and the
    // server refuses it in the handshake: no link on either side, no
    // results, no bytes, while the honest friend, asking the same things at
    // the same time, has all three.
    test::Daemon stranger(c.tmp / "stranger", {"--name", "stranger"});
    const auto server_events = c.server->last_event_id();
    pair(stranger, *c.server, "device", "server");
    BOOST_TEST_REQUIRE(refused_by(*c.server, stranger));
    BOOST_TEST(!online(stranger, "server"));
    const auto server_peers = c.server->api().get_json("/api/v1/peers");
    for (const auto& p : server_peers["peers"]) BOOST_TEST(p["peer_id"] != peer_id(stranger));
    for (const auto& e : c.server->events(server_events))
        BOOST_TEST((e.kind != "link_up" || e.data["peer_id"] != peer_id(stranger)), e.data.dump());
    BOOST_TEST(search(stranger, "Only Server", "Solo Piece")["results"].empty());
    BOOST_TEST(result_for(search(*c.friend_, "Only Server", "Solo Piece"), solo_sid).has_value());
    // Knowing the sid is no way in: the stranger's daemon has no source for it.
    BOOST_TEST(stranger.api().get("/sid/" + solo_sid).status == 404u);
    BOOST_TEST(c.friend_->api().get("/sid/" + solo_sid).body == read_file(c.solo));
    // It keeps trying and keeps being refused; the server is none the worse.
    BOOST_TEST(online(*c.server, "friend"));
}

BOOST_AUTO_TEST_CASE(remote_streams_are_byte_exact_with_range_and_seek) {
    Cluster c;
    c.pair_all();
    const auto sid = sid_of_file(*c.server, "Only Server", "Solo Piece");
    BOOST_TEST_REQUIRE(!sid.empty());
    const auto original = read_file(c.solo);
    // The laptop must have seen the result to know its type; a search does that.
    BOOST_TEST(result_for(search(*c.laptop, "Only Server", "Solo Piece"), sid).has_value());

    const auto whole = c.laptop->api().get("/sid/" + sid);
    BOOST_TEST(whole.status == 200u);
    BOOST_TEST(whole.header("Content-Type") == "audio/mpeg");
    BOOST_TEST((whole.body == original));

    const std::uint64_t from = 70'000, to = 140'000; // crosses a chunk boundary
    const auto part = c.laptop->api().get("/sid/" + sid, {{"Range", "bytes=" + std::to_string(from) + "-" + std::to_string(to)}});
    BOOST_TEST(part.status == 206u);
    BOOST_TEST((part.body == original.substr(from, to - from + 1)));
    const auto tail = c.laptop->api().get("/sid/" + sid, {{"Range", "bytes=-1000"}});
    BOOST_TEST((tail.body == original.substr(original.size() - 1000)));

    // A real player's view: ffmpeg decodes the whole remote stream, seeking in it.
    const auto url = c.laptop->url() + "/sid/" + sid;
    auto decode = test::run_program({"ffmpeg", "-v", "error", "-nostdin", "-ss", "5", "-i", url, "-f", "null", "-"});
    BOOST_TEST(decode.exit_code == 0, decode.err);
    BOOST_TEST(decode.err.empty(), decode.err);
}

BOOST_AUTO_TEST_CASE(a_bit_rotted_copy_is_never_served_and_gets_reindexed) {
    Cluster c;
    c.pair_all();
    const auto glass_sid = sid_of_file(*c.server, "Aurora Lane", "Glass Harbor");
    const auto solo_sid = sid_of_file(*c.server, "Only Server", "Solo Piece");
    const auto glass = read_file(c.glass), solo = read_file(c.solo);

    // Flip bytes in the middle of the server's copies, size and mtime kept.
    for (const auto& f : {c.glass, c.solo}) {
        struct stat st {};
        BOOST_TEST_REQUIRE(::stat(f.c_str(), &st) == 0);
        {
            std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
            io.seekp(static_cast<std::streamoff>(fs::file_size(f) / 2));
            io.write("\xde\xad\xbe\xef", 4);
        }
        const timespec times[2] = {st.st_atim, st.st_mtim};
        BOOST_TEST_REQUIRE(::utimensat(AT_FDCWD, f.c_str(), times, 0) == 0);
    }
    BOOST_TEST(result_for(search(*c.laptop, "Aurora Lane", "Glass Harbor"), glass_sid).has_value());
    BOOST_TEST(result_for(search(*c.laptop, "Only Server", "Solo Piece"), solo_sid).has_value());

    // The friend's good copy makes up for the server's bad one: exact bytes.
    const auto got = c.laptop->api().get("/sid/" + glass_sid);
    BOOST_TEST((got.body == glass));

    // No good copy left: the stream stops short instead of carrying wrong
    // bytes; whatever arrived is a prefix of the true content.
    std::optional<client::Response> broken;
    try {
        broken = c.laptop->api().get("/sid/" + solo_sid);
    } catch (const std::exception&) {
        // the connection was cut mid-body: exactly what a player should see
    }
    if (broken) {
        BOOST_TEST((broken->status != 200u || broken->body.size() < solo.size()));
        BOOST_TEST((solo.compare(0, broken->body.size(), broken->body) == 0));
    }

    // The server noticed and re-indexed its changed files: new content ids.
    BOOST_TEST(eventually([&] {
        const auto s = sid_of_file(*c.server, "Only Server", "Solo Piece");
        return !s.empty() && s != solo_sid;
    }));
}

BOOST_AUTO_TEST_CASE(a_peer_killed_mid_stream_is_replaced_by_another_source) {
    Cluster c;
    c.pair_all();
    const auto sid = sid_of_file(*c.server, "Marathon", "Long Song");
    const auto original = read_file(c.long_track);
    BOOST_TEST_REQUIRE(result_for(search(*c.laptop, "Marathon", "Long Song"), sid).has_value());
    BOOST_TEST_REQUIRE(original.size() > 2'000'000u);

    // A slow reader (curl at 1 MB/s) keeps the stream open while the server dies.
    const auto out = c.tmp / "long.out";
    test::Process curl("curl", {"-s", "--limit-rate", "1M", "-o", out.string(), c.laptop->url() + "/sid/" + sid},
                       c.tmp / "curl.log");
    BOOST_TEST_REQUIRE(eventually([&] { return fs::exists(out) && fs::file_size(out) > 200'000; }, 20s));
    c.server->process().kill9();
    // The kill came mid-stream, or this test proves nothing.
    BOOST_TEST_REQUIRE(fs::file_size(out) < original.size());
    BOOST_TEST(curl.wait(60s) == 0);
    BOOST_TEST((read_file(out) == original));
}

BOOST_AUTO_TEST_CASE(cache_and_pins_play_with_every_peer_offline) {
    Cluster c;
    c.pair_all();
    const auto glass_sid = sid_of_file(*c.server, "Aurora Lane", "Glass Harbor");
    const auto solo_sid = sid_of_file(*c.server, "Only Server", "Solo Piece");
    const auto glass = read_file(c.glass), solo = read_file(c.solo);
    BOOST_TEST_REQUIRE(result_for(search(*c.laptop, "Only Server", "Solo Piece"), solo_sid).has_value());

    // Pinned by query through the CLI; streamed once (cached) for the other.
    auto out = test::run_program({test::earshot_cli_path(), "--api", c.laptop->url(), "pin", "Aurora Lane - Glass Harbor"});
    BOOST_TEST(out.exit_code == 0, out.err);
    BOOST_TEST(eventually([&] {
        const auto body = c.laptop->api().get_json("/api/v1/pins");
        for (const auto& p : body["pins"])
            if (p["sid"] == glass_sid) return p["complete"].get<bool>();
        return false;
    }));
    BOOST_TEST((c.laptop->api().get("/sid/" + solo_sid).body == solo));

    c.server->stop();
    c.friend_->stop();
    BOOST_TEST(eventually([&] { return !online(*c.laptop, "server") && !online(*c.laptop, "friend"); }));
    BOOST_TEST((c.laptop->api().get("/sid/" + glass_sid).body == glass));
    BOOST_TEST((c.laptop->api().get("/sid/" + solo_sid, {{"Range", "bytes=1000-"}}).body == solo.substr(1000)));

    // On the train: what was pinned is found, not only played by a known sid.
    const auto found = search(*c.laptop, "Aurora Lane", "Glass Harbor");
    const auto pinned = result_for(found, glass_sid);
    BOOST_TEST_REQUIRE(pinned.has_value(), found.dump());
    BOOST_TEST((*pinned)["source"] == "pinned");
    BOOST_TEST((*pinned)["score"].get<double>() >= 0.99);
    // Merely cached is not kept, so it is not offered.
    BOOST_TEST(!result_for(search(*c.laptop, "Only Server", "Solo Piece"), solo_sid).has_value());

    // Another own device (a phone, with home and friend offline) finds the
    // laptop's pin and streams it from the laptop.
    const auto phone_lib = c.tmp / "phone-music";
    fs::create_directories(phone_lib);
    test::Daemon phone(c.tmp / "phone", {"--library", phone_lib.string(), "--name", "phone"});
    pair(phone, *c.laptop, "device", "laptop");
    pair(*c.laptop, phone, "device", "phone");
    BOOST_TEST_REQUIRE(eventually([&] { return online(phone, "laptop"); }));
    const auto on_phone = result_for(search(phone, "Aurora Lane", "Glass Harbor"), glass_sid);
    BOOST_TEST_REQUIRE(on_phone.has_value());
    BOOST_TEST((*on_phone)["source"] == "laptop");
    BOOST_TEST((phone.api().get("/sid/" + glass_sid).body == glass));
    phone.stop();

    out = test::run_program({test::earshot_cli_path(), "--api", c.laptop->url(), "pins"});
    BOOST_TEST(out.out.find("complete") != std::string::npos, out.out);

    // Pins survive a restart of the laptop's daemon, still with nobody online.
    c.laptop->stop();
    c.laptop.emplace(c.tmp / "laptop", std::vector<std::string>{"--library", c.laptop_lib.string(), "--name", "laptop"});
    BOOST_TEST((c.laptop->api().get("/sid/" + glass_sid).body == glass));
    BOOST_TEST(result_for(search(*c.laptop, "Aurora Lane", "Glass Harbor"), glass_sid).has_value());
    out = test::run_program({test::earshot_cli_path(), "--api", c.laptop->url(), "unpin", glass_sid});
    BOOST_TEST(out.exit_code == 0, out.err);
    BOOST_TEST(c.laptop->api().get_json("/api/v1/pins")["pins"].empty());
}

BOOST_AUTO_TEST_CASE(paired_devices_on_one_lan_find_each_other_without_addresses) {
    test::TempDir tmp{"earshot-lan"};
    // A private announcement port, so other daemons on this machine stay out of it.
    const auto group_port = std::to_string(test::free_port());
    test::Daemon a(tmp / "a", {"--name", "desk", "--discovery-port", group_port});
    test::Daemon b(tmp / "b", {"--name", "den", "--discovery-port", group_port});
    for (auto [from, to, name] : {std::tuple{&a, &b, "den"}, std::tuple{&b, &a, "desk"}}) {
        const auto r = from->api().post_form(
            "/api/v1/peers", client::query_string({{"peer_id", peer_id(*to)}, {"role", "device"}, {"name", name}}));
        BOOST_TEST_REQUIRE(r.ok(), r.body);
    }
    BOOST_TEST(eventually([&] { return online(a, "den") && online(b, "desk"); }));
}

BOOST_AUTO_TEST_CASE(an_artist_name_with_commas_crosses_the_wire_whole) {
    test::TempDir tmp("earshot-artists");
    const auto home_lib = tmp / "home-music", laptop_lib = tmp / "laptop-music";
    fs::create_directories(home_lib);
    fs::create_directories(laptop_lib);
    test::make_audio(home_lib / "helpless.flac",
                     {.artist = "Crosby, Stills, Nash & Young", .title = "Helpless", .seed = 11, .seconds = 4});
    test::Daemon home(tmp / "home", {"--library", home_lib.string(), "--name", "home"});
    test::Daemon laptop(tmp / "laptop", {"--library", laptop_lib.string(), "--name", "laptop"});
    home.wait_scan_idle();
    pair(laptop, home, "device", "home");
    pair(home, laptop, "device", "laptop");
    BOOST_TEST_REQUIRE(eventually([&] { return online(laptop, "home"); }));
    const auto body = search(laptop, "Crosby, Stills, Nash & Young", "Helpless");
    BOOST_TEST_REQUIRE(!body["results"].empty(), body.dump());
    const auto& r = body["results"][0];
    BOOST_TEST(r["source"] == "home");
    BOOST_TEST(r["artist"] == "Crosby, Stills, Nash & Young");
    // Scored by the laptop against one artist, not "Crosby" + "Stills" + "Nash & Young".
    BOOST_TEST(r["score"].get<double>() >= 0.99, r.dump());
}

namespace {

test::ProgramOutput cli(test::Daemon& d, std::vector<std::string> args) {
    args.insert(args.begin(), {test::earshot_cli_path(), "--api", d.url()});
    return test::run_program(args);
}

// A result from `source` that matches exactly, if the search found one.
std::optional<json> exact_from(const json& body, const std::string& source) {
    for (const auto& r : body["results"])
        if (r["source"] == source && r["score"].get<double>() >= 0.99) return r;
    return std::nullopt;
}

json peer_entry(test::Daemon& d, const std::string& name) {
    const auto body = d.api().get_json("/api/v1/peers");
    for (const auto& p : body["peers"])
        if (p["name"] == name) return p;
    return json();
}

} // namespace

// The README's friends section through the CLI: `friend add --share` on
// one side, `friend add` without --share (everything) on the other, `friend
// list`, `friend remove`. The friend sees the shared folder only.
BOOST_AUTO_TEST_CASE(friend_cli_shares_one_folder_lists_and_removes) {
    test::TempDir tmp("earshot-friend-cli");
    const auto home_lib = tmp / "home-music", alice_lib = tmp / "alice-music";
    test::make_audio(home_lib / "shared" / "open.mp3", {.artist = "Open Artist", .title = "Open Song", .seed = 21, .seconds = 5});
    test::make_audio(home_lib / "private" / "closed.mp3", {.artist = "Closed Artist", .title = "Closed Song", .seed = 22, .seconds = 5});
    test::make_audio(alice_lib / "alice.ogg", {.artist = "Alice Artist", .title = "Alice Song", .seed = 23, .seconds = 5});
    test::Daemon home(tmp / "home", {"--library", home_lib.string(), "--name", "home"});
    test::Daemon alice(tmp / "alice", {"--library", alice_lib.string(), "--name", "alice"});
    home.wait_scan_idle();
    alice.wait_scan_idle();
    BOOST_TEST_REQUIRE(exact_from(search(home, "Closed Artist", "Closed Song"), "home").has_value());

    auto out = cli(home, {"friend", "add", peer_id(alice), "--name", "alice", "--address", alice.peer_address(), "--share",
                          (home_lib / "shared").string()});
    BOOST_TEST_REQUIRE(out.exit_code == 0, out.err);
    out = cli(alice, {"friend", "add", peer_id(home), "--name", "home", "--address", home.peer_address()});
    BOOST_TEST_REQUIRE(out.exit_code == 0, out.err);
    BOOST_TEST_REQUIRE(eventually([&] { return online(home, "alice") && online(alice, "home"); }));

    // Alice finds the shared folder's song, not the private one's.
    // (Waited for: under load, a search sent just after both ends report the
    // link online has come back without home's answer; not diagnosed yet,
    // possibly the two links dialled at once being settled.)
    std::optional<json> open;
    const bool found_open = eventually([&] { return (open = exact_from(search(alice, "Open Artist", "Open Song"), "home")).has_value(); }, 20s);
    BOOST_TEST_REQUIRE(found_open, "ALICE'S LOG\n" << alice.process().log_text());
    BOOST_TEST(!exact_from(search(alice, "Closed Artist", "Closed Song"), "home").has_value());
    BOOST_TEST((alice.api().get("/sid/" + (*open)["sid"].get<std::string>()).body == read_file(home_lib / "shared" / "open.mp3")));
    // Added without --share, Alice shares everything with home.
    BOOST_TEST(exact_from(search(home, "Alice Artist", "Alice Song"), "alice").has_value());

    // friend list: the JSON names the shared folder; the table says online.
    out = cli(home, {"friend", "list", "--json"});
    BOOST_TEST_REQUIRE(out.exit_code == 0, out.err);
    const auto listed = json::parse(out.out);
    BOOST_TEST_REQUIRE(listed.size() == 1u, out.out);
    BOOST_TEST(listed[0]["name"] == "alice");
    BOOST_TEST(listed[0]["role"] == "friend");
    BOOST_TEST(listed[0]["online"] == true);
    BOOST_TEST((listed[0]["shared"] == json::array({(home_lib / "shared").string()})), out.out);
    out = cli(home, {"friend", "list"});
    BOOST_TEST(out.out.find("alice") != std::string::npos, out.out);
    BOOST_TEST(out.out.find("online") != std::string::npos, out.out);
    BOOST_TEST(out.out.find("everything") == std::string::npos, out.out); // a folder, not all
    // Devices are another list.
    BOOST_TEST(json::parse(cli(home, {"device", "list", "--json"}).out).empty());

    // friend remove: the link drops at once on both ends and Alice finds nothing of home's.
    out = cli(home, {"friend", "remove", peer_id(alice)});
    BOOST_TEST(out.exit_code == 0, out.err);
    BOOST_TEST(eventually([&] { return !online(alice, "home") && !online(home, "alice"); }));
    BOOST_TEST(!exact_from(search(alice, "Open Artist", "Open Song"), "home").has_value());
    BOOST_TEST(json::parse(cli(home, {"friend", "list", "--json"}).out).empty());
    BOOST_TEST(cli(home, {"friend", "remove", peer_id(alice)}).exit_code == 3); // not paired any more: nothing found
}

// "The same file held by both ... streams from both at once": one stream,
// both holders asked for chunks, the bytes exact.
BOOST_AUTO_TEST_CASE(one_track_streams_from_two_holders_at_once) {
    Cluster c;
    c.pair_all();
    const auto sid = sid_of_file(*c.server, "Marathon", "Long Song");
    const auto original = read_file(c.long_track);
    const auto found = result_for(search(*c.laptop, "Marathon", "Long Song"), sid);
    BOOST_TEST_REQUIRE(found.has_value());
    BOOST_TEST_REQUIRE((sources_of(*found) == std::vector<std::string>{"friend", "server"}));
    const auto fetched = [&](const std::string& name) {
        const auto p = peer_entry(*c.laptop, name);
        BOOST_TEST_REQUIRE(p.contains("bytes_fetched"), p.dump());
        return p["bytes_fetched"].get<std::uint64_t>();
    };
    const auto server_before = fetched("server"), friend_before = fetched("friend");

    const auto got = c.laptop->api().get("/sid/" + sid);
    BOOST_TEST(got.status == 200u);
    BOOST_TEST((got.body == original));
    const auto from_server = fetched("server") - server_before, from_friend = fetched("friend") - friend_before;
    BOOST_TEST_MESSAGE("from server " << from_server << " bytes, from friend " << from_friend);
    BOOST_TEST(from_server > 0u);
    BOOST_TEST(from_friend > 0u);
    BOOST_TEST(from_server + from_friend >= original.size());
}

namespace {

// Disk really used under `dir` (allocated blocks: the cache punches holes).
std::uintmax_t allocated_bytes(const fs::path& dir) {
    std::uintmax_t total = 0;
    std::error_code ec; // entries may go while we look (eviction)
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        struct stat st {};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += static_cast<std::uintmax_t>(st.st_blocks) * 512;
    }
    return total;
}

} // namespace

// --cache-size: streaming more than the bound keeps the cache within it
// (least recently used chunks go), and what was streamed last replays from
// the cache with its holder offline.
BOOST_AUTO_TEST_CASE(the_cache_stays_within_cache_size) {
    test::TempDir tmp("earshot-cache-size");
    const auto home_lib = tmp / "home-music";
    fs::create_directories(home_lib);
    // Four 12 MiB WAV files of noise (nothing compresses): 48 MiB > the 32 MiB bound.
    const int parts = 4;
    for (int i = 1; i <= parts; ++i)
        test::run_ffmpeg({"-f", "lavfi", "-i", "anoisesrc=d=71:c=white:r=44100:a=0.3:seed=" + std::to_string(i), "-ac", "2",
                          "-c:a", "pcm_s16le", "-fflags", "+bitexact", "-flags", "+bitexact",
                          (home_lib / ("Noise - Part " + std::to_string(i) + ".wav")).string()});
    const std::uint64_t bound = 32ull << 20; // the smallest --cache-size the daemon takes
    test::Daemon home(tmp / "home", {"--library", home_lib.string(), "--name", "home"});
    test::Daemon laptop(tmp / "laptop", {"--name", "laptop", "--cache-size", "32"});
    home.wait_scan_idle();
    pair(laptop, home, "device", "home");
    pair(home, laptop, "device", "laptop");
    BOOST_TEST_REQUIRE(eventually([&] { return online(laptop, "home"); }));

    std::uint64_t streamed = 0;
    std::string last_sid, last_bytes;
    for (int i = 1; i <= parts; ++i) {
        const auto r = exact_from(search(laptop, "Noise", "Part " + std::to_string(i)), "home");
        BOOST_TEST_REQUIRE(r.has_value());
        last_sid = (*r)["sid"].get<std::string>();
        const auto got = laptop.api().get("/sid/" + last_sid);
        last_bytes = read_file(home_lib / ("Noise - Part " + std::to_string(i) + ".wav"));
        BOOST_TEST_REQUIRE((got.body == last_bytes));
        streamed += got.body.size();
    }
    BOOST_TEST_REQUIRE(streamed > bound + (8ull << 20));
    const auto cache = laptop.data() / "cache";
    // At most one chunk (64 KiB) over the bound, plus each content's small
    // bookkeeping files.
    const std::uint64_t slack = (64u << 10) + parts * (64u << 10);
    BOOST_TEST(eventually([&] { return allocated_bytes(cache) <= bound + slack; }, 10s),
               allocated_bytes(cache) << " bytes in the cache after streaming " << streamed);
    BOOST_TEST_MESSAGE("cache: " << allocated_bytes(cache) << " bytes on disk after streaming " << streamed);
    // It does cache, up to its bound: not within it by keeping nothing.
    BOOST_TEST(allocated_bytes(cache) > bound / 2);
    home.stop();
    BOOST_TEST_REQUIRE(eventually([&] { return !online(laptop, "home"); }));
    BOOST_TEST((laptop.api().get("/sid/" + last_sid).body == last_bytes));
}

// The daemon's services in-process: each on its own without HTTP (the
// library, what peers may see of it, the pairing rules), then the whole
// daemon — two Apps in this process, paired over real TCP on loopback —
// resolving and streaming each other's tracks, with the HTTP API checked
// over a real connection too.
#define BOOST_TEST_MODULE app
#include <boost/test/unit_test.hpp>

#include "cli/client.hpp"
#include "daemon/app.hpp"
#include "daemon/library/tracks.hpp"
#include "tests/support/audio.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <sodium.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

using namespace earshot;
namespace fs = std::filesystem;

namespace {

// Runs `fn` on the io thread and returns its result: services are used
// from the thread that runs their io_context, as in earshotd.
template <class Fn>
auto on_io(asio::io_context& io, Fn fn) {
    // Not handed to post() as a packaged_task: Asio takes one as a completion
    // token and retrieves its future itself. Shared, because the io thread is
    // still inside task() when get() here returns.
    auto task = std::make_shared<std::packaged_task<decltype(fn())()>>(std::move(fn));
    auto done = task->get_future();
    asio::post(io, [task] { (*task)(); });
    return done.get();
}

template <class T>
T await_on_io(asio::io_context& io, awaitable<T> a) {
    return asio::co_spawn(io, std::move(a), asio::use_future).get();
}

std::string file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// An io_context run by a thread of its own for the life of the fixture.
struct IoThread {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::thread thread{[this] { io.run(); }};
    // Stops the loop, as earshotd's main does before its App is destroyed.
    void finish() {
        work.reset();
        io.stop();
        if (thread.joinable()) thread.join();
    }
    ~IoThread() { finish(); }
};

// A library of three tracks: two by one artist under rock/, one under jazz/.
struct LibraryFiles {
    test::TempDir dir{"earshot-app"};
    fs::path root = dir / "music";
    fs::path rock1 = root / "rock" / "one.flac";
    fs::path rock2 = root / "rock" / "two.ogg";
    fs::path jazz = root / "jazz" / "three.mp3";
    LibraryFiles() {
        fs::create_directories(root / "rock");
        fs::create_directories(root / "jazz");
        test::make_audio(rock1, {.artist = "Crosby, Stills, Nash & Young", .title = "Ohio", .album = "Singles", .seed = 1});
        test::make_audio(rock2, {.artist = "Crosby, Stills, Nash & Young", .title = "Helplessly Hoping", .seed = 2});
        test::make_audio(jazz, {.artist = "Ornette Coleman", .title = "Lonely Woman", .seed = 3});
    }
};

std::optional<index::Track> track_at(const library::Library& lib, const fs::path& path) {
    return lib.store().read([&](const index::ReadTxn& r) -> std::optional<index::Track> {
        std::optional<index::Track> found;
        r.for_each_track([&](const index::Track& t) {
            if (t.path == path.string()) found = t;
        });
        return found;
    });
}

resolver::Query query(std::string artist, std::string track) {
    resolver::Query q;
    q.artist = std::move(artist);
    q.track = std::move(track);
    return q;
}

} // namespace

BOOST_AUTO_TEST_SUITE(services)

BOOST_AUTO_TEST_CASE(library_indexes_and_describes_without_http) {
    BOOST_REQUIRE(sodium_init() >= 0);
    LibraryFiles files;
    std::ofstream(files.root / "jazz" / "broken.flac") << "not audio at all";
    IoThread t;
    core::EventBus events(t.io.get_executor());
    core::Blocking blocking(2);
    library::Library lib(t.io, blocking, files.dir / "index", events, {"home", {files.root.string()}, 1, true, false});
    on_io(t.io, [&] { lib.start(false); });
    lib.scanner().wait_idle();

    const auto status = on_io(t.io, [&] { return lib.status(); });
    BOOST_TEST(status["tracks"] == 3);
    BOOST_TEST(status["name"] == "home");
    BOOST_TEST(status["scan"]["errors"] == 1);
    const auto failures = await_on_io(t.io, lib.failures());
    BOOST_REQUIRE_EQUAL(failures.size(), 1u);
    BOOST_TEST(failures[0]["path"].get<std::string>().ends_with("broken.flac"));

    // One track, three views of it, from the one mapping: the result the
    // resolver shows, the entry a peer is sent, the details the API gives.
    const auto ohio = track_at(lib, files.rock1);
    BOOST_REQUIRE(ohio && ohio->has_content());
    const auto sid = library::sid_of(*ohio);
    BOOST_TEST(sid == proto::to_hex(ohio->content));
    const auto result = library::result_of(*ohio, "home", 0.9);
    const auto entry = library::entry_of(*ohio, 0.9);
    const auto details = await_on_io(t.io, lib.track_details(sid));
    BOOST_REQUIRE(details);
    BOOST_TEST(result.sid == sid);
    BOOST_TEST(result.artist == "Crosby, Stills, Nash & Young");
    BOOST_TEST(entry.artists == std::vector<std::string>{"Crosby, Stills, Nash & Young"});
    BOOST_TEST(entry.content_id == ohio->content);
    BOOST_TEST(result.recording == library::recording_of(*ohio));
    BOOST_TEST((*details)["recording"] == result.recording);
    BOOST_TEST((*details)["track"] == "Ohio");
    BOOST_TEST((*details)["size"] == fs::file_size(files.rock1));
    BOOST_TEST(lib.playable_track(sid).has_value());
    BOOST_TEST(!await_on_io(t.io, lib.track_details(std::string(64, '0'))).has_value());

    // A file whose bytes changed is no longer served under the old sid.
    std::ofstream(files.rock1, std::ios::app) << "appended";
    BOOST_TEST(!lib.playable_track(sid).has_value());
    lib.scanner().wait_idle(); // the rescan that asked for
    on_io(t.io, [&] { lib.stop(); });
}

BOOST_AUTO_TEST_CASE(what_a_friend_and_an_own_device_may_see) {
    BOOST_REQUIRE(sodium_init() >= 0);
    LibraryFiles files;
    IoThread t;
    core::EventBus events(t.io.get_executor());
    core::Blocking blocking(2);
    library::Library lib(t.io, blocking, files.dir / "index", events, {"home", {files.root.string()}, 1, false, false});
    on_io(t.io, [&] { lib.start(false); });
    lib.scanner().wait_idle();
    stream::ChunkCache cache(files.dir / "cache", {});
    stream::PinSource pins(cache, "pinned");
    peers::ServedLibrary served(lib, blocking, cache, pins);

    peers::PeerRecord device;
    device.role = peers::Role::device;
    peers::PeerRecord friend_;
    friend_.role = peers::Role::friend_;
    friend_.shared = std::vector<std::string>{(files.root / "jazz").string()};

    resolver::Query everything;
    everything.text = "Crosby Ornette Ohio Lonely Helplessly";
    const auto for_device = served.search_now(device, everything);
    const auto for_friend = served.search_now(friend_, everything);
    BOOST_TEST(for_device.size() == 3u);
    BOOST_REQUIRE_EQUAL(for_friend.size(), 1u);
    BOOST_TEST(for_friend[0].track == "Lonely Woman");

    const auto ohio = track_at(lib, files.rock1);
    const auto lonely = track_at(lib, files.jazz);
    BOOST_REQUIRE(ohio && lonely);
    BOOST_TEST(served.content_now(device, ohio->content).has_value());
    BOOST_TEST(!served.content_now(friend_, ohio->content).has_value()); // outside the shared folder
    const auto shared = served.content_now(friend_, lonely->content);
    BOOST_REQUIRE(shared);
    BOOST_TEST(shared->path == files.jazz.string());
    BOOST_TEST(shared->size == fs::file_size(files.jazz));
    on_io(t.io, [&] { lib.stop(); });
}

BOOST_AUTO_TEST_CASE(pairing_rules_without_http) {
    BOOST_REQUIRE(sodium_init() >= 0);
    test::TempDir dir("earshot-pairing");
    IoThread t;
    core::EventBus events(t.io.get_executor());
    core::Blocking blocking(1);
    fs::create_directories(dir / "other");
    fs::create_directories(dir / "third");
    const auto me = peers::Identity::load_or_create(dir.path());
    const auto other = peers::Identity::load_or_create(dir / "other");
    resolver::Resolver resolver(t.io.get_executor(), {});
    stream::ChunkCache cache(dir / "cache", {});
    stream::PinSource pins(cache, "pinned");
    library::Library lib(t.io, blocking, dir / "lib-index", events, {"home", {"/music"}, 1, false, false});
    peers::ServedLibrary served(lib, blocking, cache, pins);
    peers::PeerServiceOptions options;
    options.manager.name = "home";
    options.libraries = {"/music"};
    peers::PeerService service(t.io, me, dir / "peers.json", served, blocking, events, resolver, options, {});

    auto rejects = [&](http::PeerSpec spec, std::string_view why) {
        try {
            on_io(t.io, [&] { return service.add_peer(spec); });
            BOOST_ERROR("accepted: " << spec.peer_id << " " << spec.name);
        } catch (const std::invalid_argument& e) {
            BOOST_TEST(std::string(e.what()).find(why) != std::string::npos, e.what() << " lacks " << why);
        }
    };
    const auto id = other.peer_id();
    rejects({"not-an-id", "device", "laptop", "", std::nullopt}, "peer id");
    rejects({me.peer_id(), "device", "laptop", "", std::nullopt}, "own peer id");
    rejects({id, "stranger", "laptop", "", std::nullopt}, "role");
    rejects({id, "device", "home", "", std::nullopt}, "own name");
    rejects({id, "device", "pinned", "", std::nullopt}, "pinned tracks");
    rejects({id, "device", "laptop", "nowhere", std::nullopt}, "");
    rejects({id, "device", "laptop", "", std::vector<std::string>{"/music/jazz"}}, "--share is for friends");
    rejects({id, "friend", "alice", "", std::vector<std::string>{"/elsewhere"}}, "not a library folder");
    rejects({id, "friend", "alice", "", std::vector<std::string>{"/musical"}}, "not a library folder");
    BOOST_TEST(service.roster().list().empty());

    const auto added = on_io(t.io, [&] {
        return service.add_peer({id, "friend", "alice", "127.0.0.1:1", std::vector<std::string>{"/music/jazz/"}});
    });
    BOOST_TEST(added["name"] == "alice");
    BOOST_REQUIRE_EQUAL(service.roster().list().size(), 1u);
    BOOST_TEST(*service.roster().list()[0].shared == std::vector<std::string>{"/music/jazz"});
    // Another peer may not take a name in use.
    const auto third = peers::Identity::load_or_create(dir / "third");
    rejects({third.peer_id(), "device", "alice", "", std::nullopt}, "already used");
    // The pairing survives a restart of the service (the roster file).
    peers::PeerService again(t.io, me, dir / "peers.json", served, blocking, events, resolver, options, {});
    BOOST_TEST(again.roster().list().size() == 1u);
    BOOST_TEST(on_io(t.io, [&] { return service.remove_peer(id); }));
    BOOST_TEST(!on_io(t.io, [&] { return service.remove_peer(id); }));
    BOOST_TEST(service.roster().list().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(whole_daemon)

// Two daemons in this process on one io thread, as two earshotd would run
// on two machines: paired as own devices over real TCP on loopback.
BOOST_AUTO_TEST_CASE(two_daemons_in_process_resolve_and_stream_each_other) {
    BOOST_REQUIRE(sodium_init() >= 0);
    test::TempDir dir("earshot-apps");
    const auto home_music = dir / "home-music", laptop_music = dir / "laptop-music";
    fs::create_directories(home_music);
    fs::create_directories(laptop_music);
    const auto only_home = home_music / "only-home.flac";
    test::make_audio(only_home, {.artist = "Crosby, Stills, Nash & Young", .title = "Ohio", .seed = 7, .seconds = 20});
    test::make_audio(laptop_music / "only-laptop.ogg", {.artist = "Ornette Coleman", .title = "Lonely Woman", .seed = 8});

    auto config = [&](std::string name, const fs::path& music) {
        daemon::Config c;
        c.name = std::move(name);
        c.libraries = {music.string()};
        c.data_dir = dir / (c.name + "-data");
        c.http = "127.0.0.1:0";
        c.listen = "127.0.0.1:0";
        c.discovery = false;
        c.dht = false; // nothing in a test reaches the internet
        c.port_mapping = false;
        c.threads = 1;
        return c;
    };
    IoThread t;
    auto home = on_io(t.io, [&] { return std::make_unique<daemon::App>(t.io, config("home", home_music)); });
    auto laptop = on_io(t.io, [&] { return std::make_unique<daemon::App>(t.io, config("laptop", laptop_music)); });
    on_io(t.io, [&] {
        home->start();
        laptop->start();
    });
    home->library().scanner().wait_idle();
    laptop->library().scanner().wait_idle();

    // The HTTP API is the real server on a real port.
    client::Client api("http://" + home->http_endpoint().address().to_string() + ":" +
                    std::to_string(home->http_endpoint().port()));
    const auto status = api.get_json("/api/v1/status");
    BOOST_TEST(status["tracks"] == 1);
    BOOST_TEST(status["peer_id"] == home->identity().peer_id());
    BOOST_TEST(status["peers_paired"] == 0);

    // Pair both ways, as `earshot device add ID --address` would.
    const auto home_port = on_io(t.io, [&] { return home->peers().manager().local_endpoint().port(); });
    const auto laptop_port = on_io(t.io, [&] { return laptop->peers().manager().local_endpoint().port(); });
    on_io(t.io, [&] {
        home->peers().add_peer({laptop->identity().peer_id(), "device", "laptop",
                                "127.0.0.1:" + std::to_string(laptop_port), std::nullopt});
        return laptop->peers().add_peer({home->identity().peer_id(), "device", "home",
                                         "127.0.0.1:" + std::to_string(home_port), std::nullopt});
    });
    BOOST_REQUIRE(test::eventually([&] {
        return on_io(t.io, [&] { return laptop->peers().manager().links().size() == 1 &&
                                        home->peers().manager().links().size() == 1; });
    }));
    BOOST_TEST(api.get_json("/api/v1/status")["peers_online"] == 1);

    // The laptop resolves a track only home holds, under home's name, and
    // keeps the artist whole (a list on the wire, not a joined string).
    std::optional<resolver::Result> found;
    BOOST_REQUIRE(test::eventually([&] {
        const auto snap = await_on_io(t.io, [&]() -> awaitable<std::optional<resolver::QuerySnapshot>> {
            auto& r = laptop->resolver();
            const auto qid = r.start(query("Crosby Stills Nash and Young", "Ohio"));
            auto answer = co_await r.wait(qid, std::chrono::milliseconds(3000));
            co_return answer;
        }());
        if (!snap) return false;
        for (const auto& r : snap->results)
            if (r.source == "home") found = r;
        return found.has_value();
    }));
    BOOST_TEST(found->artist == "Crosby, Stills, Nash & Young");
    BOOST_TEST(found->size == fs::file_size(only_home));

    // And streams it, every byte verified against its content id.
    const auto bytes = await_on_io(t.io, [&]() -> awaitable<std::string> {
        auto source = co_await laptop->streams().open_stream(found->sid);
        if (!source) co_return std::string("no stream");
        std::string out(source->size(), '\0');
        std::size_t at = 0;
        while (at < out.size()) {
            auto span = std::span(reinterpret_cast<std::uint8_t*>(out.data()) + at, out.size() - at);
            const auto n = co_await source->read(at, span);
            if (n == 0) break;
            at += n;
        }
        out.resize(at);
        co_return out;
    }());
    BOOST_TEST(bytes == file_bytes(only_home));

    // The channel told of the link, typed.
    const auto seen = await_on_io(t.io, laptop->events().next(0, std::chrono::milliseconds(0)));
    BOOST_TEST(std::any_of(seen.records.begin(), seen.records.end(), [](const auto& r) {
        return std::string(core::events::kind_of(r.event)) == "link_up";
    }));

    // The CLI reads the same channel: the events held, then a scan followed
    // through its progress events to its end.
    const char* cli = std::getenv("EARSHOT_CLI");
    BOOST_REQUIRE_MESSAGE(cli, "EARSHOT_CLI is not set (run through ctest)");
    const auto url = "http://127.0.0.1:" + std::to_string(laptop->http_endpoint().port());
    const auto listed = test::run_program({cli, "--api", url, "events", "--json"});
    BOOST_TEST(listed.exit_code == 0, listed.err);
    std::istringstream lines(listed.out);
    std::set<std::string> kinds;
    std::uint64_t last_id = 0;
    for (std::string line; std::getline(lines, line);) {
        const auto j = nlohmann::json::parse(line);
        BOOST_TEST(j["id"].get<std::uint64_t>() > last_id); // in order, each once
        last_id = j["id"].get<std::uint64_t>();
        kinds.insert(j["event"].get<std::string>());
    }
    BOOST_TEST(kinds.contains("link_up"));
    BOOST_TEST(kinds.contains("scan_finished"));
    BOOST_TEST(kinds.contains("peer_paired"));
    const auto scanned = test::run_program({cli, "--api", url, "scan"});
    BOOST_TEST(scanned.exit_code == 0, scanned.err);
    BOOST_TEST(scanned.err.find("scan finished: 1 tracks") != std::string::npos, scanned.err);
    const auto after = await_on_io(t.io, laptop->events().next(last_id, std::chrono::milliseconds(0)));
    BOOST_TEST(std::any_of(after.records.begin(), after.records.end(), [](const auto& r) {
        return std::string(core::events::kind_of(r.event)) == "scan_finished";
    }));

    on_io(t.io, [&] {
        home->stop();
        laptop->stop();
    });
    t.finish(); // then the Apps go, the loop no longer running (as in earshotd)
}

BOOST_AUTO_TEST_SUITE_END()

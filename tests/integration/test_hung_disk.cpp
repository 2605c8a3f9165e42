// A library folder on a mount whose reads of one file hang (a FUSE
// pass-through, tests/support/hanging_fs.py, that sleeps in read): while a
// player waits on that file, the API answers, another track streams, and a
// paired daemon streams another track from this one. Then the read returns
// and the waiting player gets its bytes, exact.
#define BOOST_TEST_MODULE hung_disk
#include <boost/test/unit_test.hpp>

#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/hanging_mount.hpp"
#include "tests/support/temp_dir.hpp"

#include <fstream>
#include <iostream>

using namespace earshot;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using test::eventually;

// CTest reports this exit code as "skipped" (SKIP_RETURN_CODE in the .cmake).
constexpr int skip = 77;

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string peer_id(test::Daemon& d) { return d.status()["peer_id"].get<std::string>(); }

void pair(test::Daemon& from, test::Daemon& to, const std::string& name) {
    const auto r = from.api().post_form(
        "/api/v1/peers",
        client::query_string({{"peer_id", peer_id(to)}, {"role", "device"}, {"name", name}, {"address", to.peer_address()}}));
    BOOST_TEST_REQUIRE(r.ok(), r.body);
}

std::string local_sid(test::Daemon& d, const std::string& artist, const std::string& track) {
    const auto body = d.api().get_json("/api/v1/search?" + client::query_string({{"artist", artist}, {"track", track}}));
    for (const auto& r : body["results"])
        if (r["score"].get<double>() >= 0.99) return r["sid"];
    return {};
}

} // namespace

BOOST_AUTO_TEST_CASE(one_hung_file_delays_only_its_own_reader) {
    if (!test::HangingMount::available()) {
        std::cout << "SKIP: no /dev/fuse or fusermount3 (install fuse3 and python3-fusepy)\n";
        std::exit(skip);
    }
    test::TempDir tmp("earshot-hung");
    fs::create_directories(tmp / "fs" / "source");
    test::make_audio(tmp / "fs" / "source" / "hang.mp3", {.artist = "Stalled", .title = "Forever", .seed = 1, .seconds = 20});
    test::make_audio(tmp / "fs" / "source" / "ok.mp3", {.artist = "Healthy", .title = "Flowing", .seed = 2, .seconds = 20});
    test::HangingMount disk(tmp / "fs", "hang.mp3", fs::path(EARSHOT_SOURCE_DIR) / "tests/support/hanging_fs.py");
    if (!eventually([&] { return disk.mounted(); }, 10s)) {
        std::cout << "SKIP: the FUSE mount did not come up:\n" << disk.fs_process->log_text() << "\n";
        std::exit(skip);
    }

    test::Daemon home(tmp / "home", {"--library", disk.mount.string(), "--name", "home", "--no-discovery", "--no-watch"});
    test::Daemon laptop(tmp / "laptop", {"--name", "laptop", "--no-discovery"});
    home.wait_scan_idle();
    pair(home, laptop, "laptop");
    pair(laptop, home, "home");
    const auto hung_sid = local_sid(home, "Stalled", "Forever");
    const auto ok_sid = local_sid(home, "Healthy", "Flowing");
    BOOST_TEST_REQUIRE(hung_sid.size() == 64u);
    BOOST_TEST_REQUIRE(ok_sid.size() == 64u);
    BOOST_TEST_REQUIRE(eventually([&] { return home.api().get_json("/api/v1/peers")["peers"][0]["online"].get<bool>(); }));

    // A player starts on the file whose reads now hang.
    disk.arm();
    const auto hung_out = tmp / "hung.out";
    test::Process player("/usr/bin/curl", {"-s", "-o", hung_out.string(), home.url() + "/sid/" + hung_sid},
                         tmp / "player.log");
    BOOST_TEST_REQUIRE(eventually([&] { return disk.hanging(); }, 10s));

    // Meanwhile: every answer comes within a client timeout far below the hang.
    home.api().set_timeout(3s);
    laptop.api().set_timeout(10s);
    BOOST_TEST(home.status()["tracks"].get<int>() == 2);
    BOOST_TEST(local_sid(home, "Healthy", "Flowing") == ok_sid);
    const auto expected = read_file(tmp / "fs" / "source" / "ok.mp3");
    const auto local = home.api().get("/sid/" + ok_sid);
    BOOST_TEST(local.status == 200u);
    BOOST_TEST((local.body == expected), "another local track streams, byte for byte");
    const auto remote = laptop.api().get("/sid/" + ok_sid);
    BOOST_TEST(remote.status == 200u);
    BOOST_TEST((remote.body == expected), "the paired laptop streams another track from home");
    BOOST_TEST(player.running(), "the hung read is still hanging");
    BOOST_TEST(!fs::exists(disk.control / "release"));

    // The disk wakes up: the waiting player gets the whole file.
    disk.release();
    BOOST_TEST(player.wait(30s) == 0);
    BOOST_TEST((read_file(hung_out) == read_file(tmp / "fs" / "source" / "hang.mp3")));
}

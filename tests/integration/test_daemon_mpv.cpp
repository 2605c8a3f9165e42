// mpv, a real player, plays and seeks an earshotd stream. Needs mpv: without
// it the test says so and exits 77, which CTest reports as skipped.
#define BOOST_TEST_MODULE daemon_mpv
#include <boost/test/unit_test.hpp>

#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/temp_dir.hpp"

#include <cstdlib>
#include <iostream>

using namespace earshot;

BOOST_AUTO_TEST_CASE(mpv_plays_and_seeks_a_stream) {
    const auto found = test::run_program({"sh", "-c", "command -v mpv"});
    if (found.exit_code != 0) {
        std::cout << "SKIP: mpv is not installed (contrib/install-deps.sh installs it)" << std::endl;
        std::exit(77);
    }
    test::TempDir tmp("earshot-mpv");
    const auto music = tmp / "music";
    test::make_audio(music / "karma.flac", {.artist = "Radiohead", .title = "Karma Police", .seed = 1, .seconds = 20});
    test::Daemon d(tmp / "data", {"--library", music.string()});
    d.wait_scan_idle();
    const auto r = d.api().get_json("/api/v1/search?artist=Radiohead&track=Karma%20Police");
    BOOST_TEST_REQUIRE(!r["results"].empty());
    const std::string url = d.url() + "/sid/" + r["results"][0]["sid"].get<std::string>();
    // Seek 10 s in, play 3 s. mpv exits 0 only if it played.
    const auto played = test::run_program({"mpv", "--no-config", "--no-video", "--ao=null", "--msg-level=all=v",
                                           "--start=10", "--length=3", url});
    BOOST_TEST(played.exit_code == 0, played.out << played.err);
    // It played to the end of what it was asked for.
    BOOST_TEST(played.out.find("Exiting... (End of file)") != std::string::npos, played.out);
    // A URL with nothing behind it is an error for mpv: the check above can fail.
    const auto missing = test::run_program({"mpv", "--no-config", "--no-video", "--ao=null", "--length=1",
                                            d.url() + "/sid/" + std::string(64, '0')});
    BOOST_TEST(missing.exit_code != 0);
}

// HTTP search latency of a real earshotd in three states, each beside the
// idle figure measured in the same run:
//   idle      nothing else going on
//   hung file a player is stuck on a file whose reads hang (the library is
//             on a FUSE mount, tests/support/hanging_fs.py)
//   flood     a paired peer sends queries as fast as its link takes them
//             (and reads every answer promptly)
// Each state: N searches, one at a time, on one keep-alive connection;
// p50 / p99 / max and the p99's ratio to idle (goal: <= 2x).
//
// Usage: build/bench/http_p99_bench [N=2000]   (EARSHOTD=... overrides
// build/daemon/earshotd; needs /dev/fuse, fusermount3, python3-fusepy, ffmpeg)
#include "daemon/peers/channel.hpp"
#include "daemon/peers/identity.hpp"
#include "tests/support/audio.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/hanging_mount.hpp"
#include "tests/support/temp_dir.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

using namespace earshot;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Figures {
    double p50 = 0, p99 = 0, max = 0;
};

Figures measure(client::Client& api, std::size_t n) {
    std::vector<double> ms;
    ms.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        // Different queries, so nothing is answered from a warm path only.
        const auto target = "/api/v1/search?" + client::query_string({{"artist", "Artist " + std::to_string(i % 20)},
                                                                      {"track", "Title " + std::to_string(i % 37)},
                                                                      {"timeout", "0"}});
        const auto t0 = Clock::now();
        const auto r = api.get(target);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!r.ok()) throw std::runtime_error("search failed: " + r.error_message());
    }
    std::sort(ms.begin(), ms.end());
    return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 99 / 100)], ms.back()};
}

bool wait_for(const std::function<bool()>& ok, std::chrono::seconds limit) {
    const auto until = Clock::now() + limit;
    while (Clock::now() < until) {
        if (ok()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return ok();
}

// A paired peer asking as fast as its link takes queries, on its own thread.
class Flood {
public:
    Flood(asio::ip::tcp::endpoint server, const peers::Identity& me) {
        asio::co_spawn(io_, run(server, me), [this](std::exception_ptr e) {
            if (e) failed_ = true;
        });
        thread_ = std::thread([this] { io_.run(); });
    }
    ~Flood() {
        stop_ = true;
        io_.stop();
        thread_.join();
    }
    std::uint64_t sent() const { return sent_; }
    std::uint64_t answered() const { return answered_; }
    bool failed() const { return failed_; }

private:
    awaitable<void> run(asio::ip::tcp::endpoint server, const peers::Identity& me) {
        asio::ip::tcp::socket socket(io_);
        co_await socket.async_connect(server, use_awaitable);
        std::shared_ptr<peers::Channel> ch = co_await peers::Channel::connect(
            std::move(socket), me, [](const proto::PublicKey&) { return true; }, 5s);
        proto::Message hello = proto::Hello{1, "flood/1", "flood", 0};
        co_await ch->send(hello);
        asio::co_spawn(io_, [this, ch]() -> awaitable<void> {
            while (auto m = co_await ch->receive())
                if (std::holds_alternative<proto::Results>(*m) || std::holds_alternative<proto::Error>(*m)) ++answered_;
        }, asio::detached);
        for (std::uint64_t i = 1; !stop_; ++i) {
            proto::Message q = proto::Query{i, "Artist " + std::to_string(i % 20), "Title", "", "", std::nullopt};
            co_await ch->send(q);
            ++sent_;
        }
    }

    asio::io_context io_;
    std::thread thread_;
    std::atomic<bool> stop_{false}, failed_{false};
    std::atomic<std::uint64_t> sent_{0}, answered_{0};
};

void row(const char* what, const Figures& f, const Figures& idle) {
    fmt::print("{:<34} {:>8.3f} {:>8.3f} {:>8.3f} {:>10.2f}\n", what, f.p50, f.p99, f.max, f.p99 / idle.p99);
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 2000;
    if (!std::getenv("EARSHOTD")) setenv("EARSHOTD", "build/daemon/earshotd", 1);
    if (!test::HangingMount::available()) {
        fmt::print(stderr, "needs /dev/fuse and fusermount3 (contrib/install-deps.sh)\n");
        return 1;
    }
    test::TempDir tmp("earshot-p99");
    fs::create_directories(tmp / "fs" / "source");
    test::make_audio(tmp / "fs" / "source" / "hang.mp3", {.artist = "Stalled", .title = "Forever", .seed = 1, .seconds = 20});
    for (int i = 0; i < 20; ++i)
        test::make_audio(tmp / "fs" / "source" / fmt::format("t{}.mp3", i),
                         {.artist = "Artist " + std::to_string(i), .title = "Title " + std::to_string(i), .seed = 10 + i, .seconds = 2});
    test::HangingMount disk(tmp / "fs", "hang.mp3", fs::path(EARSHOT_SOURCE_DIR) / "tests/support/hanging_fs.py");
    if (!wait_for([&] { return disk.mounted(); }, 10s)) {
        fmt::print(stderr, "the FUSE mount did not come up:\n{}\n", disk.fs_process->log_text());
        return 1;
    }
    test::Daemon home(tmp / "home", {"--library", disk.mount.string(), "--name", "home", "--no-discovery", "--no-watch"});
    home.wait_scan_idle();
    std::string hung_sid;
    const auto found = home.api().get_json("/api/v1/search?artist=Stalled&track=Forever&timeout=3000");
    for (const auto& r : found["results"]) // (not over a temporary's member: it would dangle)
        if (r["score"].get<double>() >= 0.99) hung_sid = r["sid"].get<std::string>();
    if (hung_sid.empty())
        throw std::runtime_error("the hung file was not found: " + found.dump());
    const auto flood_id = peers::Identity::from_seed(std::array<std::uint8_t, 32>{42});
    const auto paired = home.api().post_form(
        "/api/v1/peers", client::query_string({{"peer_id", flood_id.peer_id()}, {"role", "device"}, {"name", "flood"}}));
    if (!paired.ok()) throw std::runtime_error(paired.error_message());

    fmt::print("{} searches per state over one keep-alive connection, {} tracks, 2 cores\n\n", n,
               home.status()["tracks"].get<int>());
    fmt::print("{:<34} {:>8} {:>8} {:>8} {:>10}\n", "state", "p50 ms", "p99 ms", "max ms", "p99 / idle");
    measure(home.api(), n / 10); // warm up
    const auto idle = measure(home.api(), n);
    row("idle (reference)", idle, idle);

    disk.arm();
    test::Process player("/usr/bin/curl", {"-s", "-o", "/dev/null", home.url() + "/sid/" + hung_sid}, tmp / "player.log");
    if (!wait_for([&] { return disk.hanging(); }, 10s))
        throw std::runtime_error("the read did not hang; player: " + player.log_text());
    const auto hung = measure(home.api(), n);
    row("a player stuck on a hung file", hung, idle);
    disk.release();
    player.wait(30s);

    const auto idle2 = measure(home.api(), n);
    row("idle again (reference)", idle2, idle2);
    {
        Flood flood(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), home.peer_port()), flood_id);
        if (!wait_for([&] { return flood.answered() > 200; }, 20s))
            throw std::runtime_error("the flooding peer got no answers");
        const auto before = flood.answered();
        const auto flooded = measure(home.api(), n);
        row("a paired peer flooding queries", flooded, idle2);
        fmt::print("\nflooding peer: {} queries sent, {} answered ({} during the measurement)\n", flood.sent(),
                   flood.answered(), flood.answered() - before);
    }
    return 0;
}

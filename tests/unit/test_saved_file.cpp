// core::SavedFile: the io thread hands a file's newest content to the pool
// and goes on; writes land in order, coalesce, and a failed one is reported
// to whoever awaits it, beside the honest case.
#define BOOST_TEST_MODULE saved_file
#include <boost/test/unit_test.hpp>

#include "daemon/core/saved_file.hpp"
#include "tests/support/run_io.hpp"
#include "tests/support/temp_dir.hpp"

#include <sys/stat.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>

using namespace earshot;
using namespace std::chrono_literals;
using test::run_io;

namespace {

std::string contents(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Holds the pool's only thread until released: a disk that hangs.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void wait() {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return open; });
    }
    void release() {
        {
            std::lock_guard lock(m);
            open = true;
        }
        cv.notify_all();
    }
};

// A file on a pool of one thread, which hang() holds until gate.release().
struct OnePool {
    test::TempDir dir;
    const std::filesystem::path file = dir / "state.json";
    asio::io_context io;
    core::Blocking blocking{1};
    Gate gate;
    core::SavedFile saved{io.get_executor(), &blocking, file};
    void hang() {
        auto stuck = [this] { gate.wait(); };
        asio::co_spawn(io, blocking.run(std::move(stuck)), asio::detached);
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(saves_do_not_wait_for_the_disk_and_the_newest_content_wins, OnePool) {
    run_io(io, [&]() -> awaitable<void> {
        hang(); // save() must still return at once
        saved.save("one\n");
        saved.save("two\n");
        saved.save("three\n");
        BOOST_TEST(!std::filesystem::exists(file)); // nothing written while the disk hangs
        asio::steady_timer timer(io, 20ms);
        co_await timer.async_wait(use_awaitable); // the io thread runs meanwhile
        BOOST_TEST(!std::filesystem::exists(file));
        gate.release();
        co_await saved.saved();
        BOOST_TEST(contents(file) == "three\n");
        struct stat st {};
        BOOST_REQUIRE(::stat(file.c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 0777) == 0600u);
        saved.save("four\n");
        co_await saved.saved();
        BOOST_TEST(contents(file) == "four\n");
    });
}

BOOST_FIXTURE_TEST_CASE(a_write_still_on_the_pool_never_lands_over_the_one_made_at_shutdown, OnePool) {
    run_io(io, [&]() -> awaitable<void> {
        hang();
        saved.save("older\n"); // queued behind the stuck job
        asio::steady_timer timer(io, 10ms);
        co_await timer.async_wait(use_awaitable);
        saved.save_now("final\n");
        BOOST_TEST(contents(file) == "final\n");
        gate.release();
        auto after_the_older_write = [] {}; // the pool's one thread runs jobs in order
        co_await blocking.run(std::move(after_the_older_write));
        BOOST_TEST(contents(file) == "final\n");
    });
}

BOOST_AUTO_TEST_CASE(a_failed_write_reaches_the_waiter_and_a_later_one_heals_it) {
    const test::TempDir dir;
    const auto file = dir / "missing-folder" / "state.json"; // the folder is not there: the write fails
    asio::io_context io;
    core::Blocking blocking(1);
    run_io(io, [&]() -> awaitable<void> {
        core::SavedFile saved(io.get_executor(), &blocking, file);
        saved.save("lost\n");
        bool threw = false;
        try {
            co_await saved.saved();
        } catch (const std::exception&) {
            threw = true;
        }
        BOOST_TEST(threw);
        std::filesystem::create_directories(file.parent_path());
        saved.save("kept\n");
        co_await saved.saved(); // does not throw: the newer content is on the disk
        BOOST_TEST(contents(file) == "kept\n");
    });
}

BOOST_AUTO_TEST_CASE(without_a_pool_a_save_writes_at_once_and_throws_at_once) {
    const test::TempDir dir;
    asio::io_context io;
    core::SavedFile saved(io.get_executor(), nullptr, dir / "state.json");
    saved.save("now\n");
    BOOST_TEST(contents(dir / "state.json") == "now\n");
    core::SavedFile nowhere(io.get_executor(), nullptr, dir / "no" / "state.json");
    BOOST_CHECK_THROW(nowhere.save("x"), std::exception);
}

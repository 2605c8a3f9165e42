// core::Blocking: jobs run off the io thread, results and exceptions come
// back on it, and a job that hangs holds up nobody else.
#define BOOST_TEST_MODULE blocking
#include <boost/test/unit_test.hpp>

#include "daemon/core/blocking.hpp"
#include "tests/support/run_io.hpp"

#include <atomic>
#include <stdexcept>
#include <thread>

using namespace earshot;
using namespace std::chrono_literals;
using test::run_io;

BOOST_AUTO_TEST_CASE(jobs_run_on_the_pool_and_resume_on_the_io_thread) {
    asio::io_context io;
    core::Blocking blocking(2);
    const auto io_thread = std::this_thread::get_id();
    run_io(io, [&]() -> awaitable<void> {
        const auto job_thread = co_await blocking.run([] { return std::this_thread::get_id(); });
        BOOST_TEST((job_thread != io_thread));
        BOOST_TEST((std::this_thread::get_id() == io_thread));
        const auto value = co_await blocking.run([] { return std::string(1000, 'x'); });
        BOOST_TEST(value.size() == 1000u);
        int side = 0;
        co_await blocking.run([&] { side = 7; });
        BOOST_TEST(side == 7);
        BOOST_TEST((std::this_thread::get_id() == io_thread));
    });
}

BOOST_AUTO_TEST_CASE(a_job_that_throws_rethrows_in_the_caller) {
    asio::io_context io;
    core::Blocking blocking(1);
    bool caught = false, caught_void = false;
    run_io(io, [&]() -> awaitable<void> {
        try {
            co_await blocking.run([]() -> int { throw std::runtime_error("disk on fire"); });
        } catch (const std::runtime_error& e) {
            caught = std::string(e.what()) == "disk on fire";
        }
        try {
            co_await blocking.run([] { throw std::invalid_argument("void job"); });
        } catch (const std::invalid_argument&) {
            caught_void = true;
        }
    });
    BOOST_TEST(caught);
    BOOST_TEST(caught_void);
}

BOOST_AUTO_TEST_CASE(a_hung_job_delays_only_who_waits_for_it) {
    asio::io_context io;
    core::Blocking blocking(2);
    std::atomic<bool> released = false, hung_done = false;
    int timer_ticks = 0;
    bool other_done = false;
    // The hung job: like a read from a stalled network mount.
    asio::co_spawn(io, [&]() -> awaitable<void> {
        co_await blocking.run([&released] {
            while (!released) std::this_thread::sleep_for(1ms);
        });
        hung_done = true;
    }, asio::detached);
    run_io(io, [&]() -> awaitable<void> {
        // Other jobs still run, and the io thread keeps its timers.
        for (int i = 0; i < 20; ++i) co_await blocking.run([] { return 1; });
        other_done = true;
        asio::steady_timer t(io);
        for (int i = 0; i < 3; ++i) {
            t.expires_after(5ms);
            co_await t.async_wait(use_awaitable);
            ++timer_ticks;
        }
        BOOST_TEST(!hung_done);
        released = true;
    });
    BOOST_TEST(other_done);
    BOOST_TEST(timer_ticks == 3);
    BOOST_TEST(hung_done); // io.run() returned only once the hung job came back
}

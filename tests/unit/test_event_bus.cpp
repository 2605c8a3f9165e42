// The event channel: order, resumption, a bounded ring that tells a slow
// reader what it missed, and publishers on other threads waking a reader.
#define BOOST_TEST_MODULE event_bus
#include <boost/test/unit_test.hpp>

#include "daemon/core/event_bus.hpp"

#include <thread>

using namespace earshot;
using namespace std::chrono_literals;
namespace ev = core::events;

namespace {

core::events::Event link_up(const std::string& name) { return ev::LinkUp{"ID-" + name, name, "127.0.0.1:1"}; }

std::string name_of(const core::EventRecord& r) { return std::get<ev::LinkUp>(r.event).name; }

} // namespace

BOOST_AUTO_TEST_CASE(events_come_in_order_and_resume_after_a_sequence_number) {
    asio::io_context io;
    core::EventBus bus(io.get_executor());
    BOOST_TEST(bus.last_seq() == 0u);
    BOOST_TEST(bus.publish(link_up("a")) == 1u);
    BOOST_TEST(bus.publish(ev::PinProgress{"ab", 3, 10, false}) == 2u);
    BOOST_TEST(bus.publish(link_up("c")) == 3u);
    const auto all = bus.since(0);
    BOOST_TEST(all.missed == 0u);
    BOOST_TEST_REQUIRE(all.records.size() == 3u);
    BOOST_TEST(all.records[0].seq == 1u);
    BOOST_TEST(std::string(ev::kind_of(all.records[1].event)) == "pin_progress");
    BOOST_TEST(ev::fields_of(all.records[1].event)["chunks_held"] == 3);
    BOOST_TEST(all.records[0].unix_ms > 0);
    const auto after = bus.since(2);
    BOOST_TEST_REQUIRE(after.records.size() == 1u);
    BOOST_TEST(name_of(after.records[0]) == "c");
    BOOST_TEST(bus.since(3).records.empty());
    // A reader from before a restart (a number we never gave) gets nothing old, not an error.
    BOOST_TEST(bus.since(1000).records.empty());
    BOOST_TEST(bus.since(1000).missed == 0u);
}

BOOST_AUTO_TEST_CASE(a_reader_that_falls_behind_the_ring_is_told_how_much_it_missed) {
    asio::io_context io;
    core::EventBus bus(io.get_executor(), 4);
    for (int i = 0; i < 10; ++i) bus.publish(link_up(std::to_string(i)));
    const auto batch = bus.since(0);
    BOOST_TEST(batch.missed == 6u);
    BOOST_TEST_REQUIRE(batch.records.size() == 4u);
    BOOST_TEST(batch.records.front().seq == 7u);
    BOOST_TEST(name_of(batch.records.back()) == "9");
    BOOST_TEST(bus.since(6).missed == 0u); // exactly at the edge: nothing lost
    BOOST_TEST(bus.since(5).missed == 1u);
}

BOOST_AUTO_TEST_CASE(a_waiting_reader_is_woken_by_a_publisher_on_another_thread) {
    asio::io_context io;
    core::EventBus bus(io.get_executor());
    std::optional<core::EventBatch> got;
    asio::co_spawn(io, bus.next(0, 10s), [&](std::exception_ptr, core::EventBatch b) { got = std::move(b); });
    std::thread publisher([&] {
        std::this_thread::sleep_for(50ms); // let the reader park first; the test holds without it too
        bus.publish(ev::ScanFinished{1, 2.0, 3.0});
    });
    const auto started = std::chrono::steady_clock::now();
    while (!got && std::chrono::steady_clock::now() - started < 10s) io.run_for(10ms);
    publisher.join();
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST_REQUIRE(got->records.size() == 1u);
    BOOST_TEST(std::string(ev::kind_of(got->records[0].event)) == "scan_finished");
    // Woken by the event, not by the 10 s deadline.
    BOOST_TEST((std::chrono::steady_clock::now() - started < 5s));
}

BOOST_AUTO_TEST_CASE(a_wait_with_nothing_new_ends_empty_at_its_deadline) {
    asio::io_context io;
    core::EventBus bus(io.get_executor());
    bus.publish(link_up("a"));
    std::optional<core::EventBatch> got;
    asio::co_spawn(io, bus.next(1, 100ms), [&](std::exception_ptr, core::EventBatch b) { got = std::move(b); });
    io.run_for(5s);
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST(got->records.empty());
    BOOST_TEST(got->missed == 0u);
}

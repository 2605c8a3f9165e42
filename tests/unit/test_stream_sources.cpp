// SourceBook, the swarm's policy for whom to ask and how long to wait: plain
// calls with made-up times, no sockets.
#define BOOST_TEST_MODULE stream_sources
#include <boost/test/unit_test.hpp>

#include "daemon/stream/sources.hpp"
#include "proto/content_id.hpp"

#include <array>

using namespace earshot;
using namespace std::chrono_literals;
using stream::SourceBook;
using Outcome = SourceBook::Outcome;

namespace {

SourceBook::Key key(std::uint8_t n) {
    SourceBook::Key k{};
    k[0] = n;
    return k;
}

const SourceBook::Key a = key(1), b = key(2), c = key(3);
const std::array<SourceBook::Key, 2> ab{a, b};
const auto t0 = SourceBook::Clock::time_point{} + 1000s;

// `n` chunks from k, `gap` apart, inside one request.
void deliver(SourceBook& book, const SourceBook::Key& k, int n, std::chrono::milliseconds gap,
             SourceBook::Clock::time_point& now) {
    book.requested(k, now);
    for (int i = 0; i < n; ++i) {
        now += gap;
        book.delivered(k, proto::chunk_size, now);
    }
    book.finished(k, Outcome::complete, true, now);
}

} // namespace

BOOST_AUTO_TEST_CASE(claimers_are_asked_first) {
    SourceBook book;
    BOOST_TEST((book.pick(ab, t0) == a)); // no claims: the first linked
    book.claimed(b);
    BOOST_TEST((book.pick(ab, t0) == b));
    // Excluding the claimer (a hedge) falls back to the other.
    const std::array<SourceBook::Key, 1> not_b{b};
    BOOST_TEST((book.pick(ab, t0, not_b) == a));
}

BOOST_AUTO_TEST_CASE(an_unmeasured_peer_takes_two_requests_then_the_next_peer_is_asked) {
    SourceBook book;
    book.claimed(a);
    book.requested(a, t0);
    BOOST_TEST((book.pick(ab, t0) == a));
    book.requested(a, t0);
    BOOST_TEST((book.pick(ab, t0) == b));
    book.requested(b, t0);
    book.requested(b, t0);
    BOOST_TEST(!book.pick(ab, t0).has_value()); // everyone busy
}

BOOST_AUTO_TEST_CASE(rate_sets_how_many_requests_a_peer_gets) {
    SourceBook book;
    auto now = t0;
    deliver(book, a, 32, 10ms, now); // 64 KiB per 10 ms: about 6.5 MB/s
    const auto* s = book.find(a);
    BOOST_TEST_REQUIRE(s != nullptr);
    BOOST_TEST(s->bytes_per_second > 5e6);
    BOOST_TEST(s->bytes_per_second < 8e6);
    int taken = 0;
    const std::array<SourceBook::Key, 1> only_a{a};
    while (book.pick(only_a, now)) {
        book.requested(a, now);
        ++taken;
    }
    BOOST_TEST(taken == 6); // 6.5 MB/s serves six 1 MiB requests a second

    SourceBook slow;
    auto later = t0;
    deliver(slow, b, 8, 500ms, later); // 128 KiB/s
    const std::array<SourceBook::Key, 1> only_b{b};
    slow.requested(b, later);
    BOOST_TEST(!slow.pick(only_b, later).has_value()); // one request at a time
}

BOOST_AUTO_TEST_CASE(deadlines_follow_the_measured_rate_within_bounds) {
    SourceBook book;
    auto now = t0;
    BOOST_TEST((book.deadline(a, std::nullopt) == SourceBook::min_deadline)); // unmeasured: the floor
    deliver(book, a, 16, 1ms, now);                                            // very fast
    BOOST_TEST((book.deadline(a, 1.0) == SourceBook::min_deadline));
    BOOST_TEST((book.hedge_after(a, 1.0) == SourceBook::min_hedge));
    deliver(book, b, 8, 1000ms, now); // 64 KiB/s: a chunk a second
    BOOST_TEST((book.deadline(b, 250.0) == 8 * 1000ms + 4 * 250ms));
    BOOST_TEST((book.hedge_after(b, 250.0) == SourceBook::max_hedge));
    deliver(book, c, 4, 5000ms, now); // slower still: capped
    BOOST_TEST((book.deadline(c, std::nullopt) == SourceBook::max_deadline));
    BOOST_TEST((book.hedge_after(a, 1.0) < book.deadline(a, 1.0)));
}

BOOST_AUTO_TEST_CASE(a_silent_peer_is_demoted_then_left_alone_for_a_while) {
    SourceBook book;
    book.claimed(a);
    auto now = t0;
    book.requested(a, now);
    now += 3s;
    book.finished(a, Outcome::timed_out, false, now);
    // Demoted: still possible, but the other peer is preferred despite the claim...
    BOOST_TEST(book.possible(a, now));
    BOOST_TEST((book.pick(ab, now) == b));
    // ...and it is asked when nobody else can be.
    const std::array<SourceBook::Key, 1> only_a{a};
    BOOST_TEST((book.pick(only_a, now) == a));
    book.requested(a, now);
    now += 3s;
    book.finished(a, Outcome::timed_out, false, now);
    BOOST_TEST(!book.possible(a, now));
    BOOST_TEST(!book.pick(only_a, now).has_value());
    now += SourceBook::bench_time;
    BOOST_TEST(book.possible(a, now)); // it may have recovered: tried again
    // A chunk clears its record.
    book.requested(a, now);
    book.delivered(a, proto::chunk_size, now + 10ms);
    BOOST_TEST(book.find(a)->strikes == 0);
}

BOOST_AUTO_TEST_CASE(a_timeout_after_some_chunks_is_no_strike) {
    SourceBook book;
    auto now = t0;
    book.requested(a, now);
    book.delivered(a, proto::chunk_size, now + 10ms);
    book.finished(a, Outcome::timed_out, true, now + 4s);
    BOOST_TEST(book.find(a)->strikes == 0);
    BOOST_TEST((book.pick(ab, now + 4s) == a));
}

BOOST_AUTO_TEST_CASE(lacking_and_lying_peers_are_never_asked_again) {
    SourceBook book;
    book.requested(a, t0);
    book.finished(a, Outcome::lacks, false, t0);
    book.requested(b, t0);
    book.finished(b, Outcome::bad, true, t0);
    const auto much_later = t0 + 24h;
    BOOST_TEST(!book.possible(a, much_later));
    BOOST_TEST(!book.possible(b, much_later));
    BOOST_TEST(!book.pick(ab, much_later).has_value());
    BOOST_TEST(book.possible(c, much_later)); // never heard of: worth a try
    // A failed link says nothing about the peer.
    book.requested(c, t0);
    book.finished(c, Outcome::failed, false, t0);
    BOOST_TEST(book.possible(c, t0));
    BOOST_TEST(book.find(c)->strikes == 0);
}

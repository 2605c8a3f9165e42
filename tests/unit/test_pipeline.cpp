#define BOOST_TEST_MODULE resolver pipeline
#include <boost/test/unit_test.hpp>

#include "resolver/pipeline.hpp"

#include <boost/asio/redirect_error.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using namespace earshot;
using namespace earshot::resolver;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

Result result(std::string sid, double score, std::uint32_t quality = 0) {
    Result r;
    r.sid = std::move(sid);
    r.score = score;
    r.quality = quality;
    r.artist = "Artist";
    r.track = "Track";
    return r;
}

Query query() {
    Query q;
    q.artist = "Artist";
    q.track = "Track";
    return q;
}

// What a fake source saw, readable after its coroutine is gone.
struct Observed {
    bool started = false, stopped = false, completed = false;
    int emitted = 0;
};

// Emits batches on a schedule, honouring (or, if told to, ignoring) stop
// requests; optionally throws at the end.
class ScriptedSource : public Source {
public:
    struct Step {
        std::chrono::milliseconds after;
        std::vector<Result> batch;
    };
    ScriptedSource(std::string name, std::vector<Step> steps, bool throws = false, bool ignores_stop = false)
        : name_(std::move(name)), steps_(std::move(steps)), throws_(throws), ignores_stop_(ignores_stop) {}

    std::string name() const override { return name_; }

    awaitable<void> resolve(Query, Emit emit, std::stop_token stop) override {
        auto seen = seen_;
        seen->started = true;
        asio::steady_timer timer(co_await asio::this_coro::executor);
        std::stop_callback on_stop(stop, [&] {
            seen->stopped = true;
            if (!ignores_stop_) timer.cancel();
        });
        for (const Step& step : steps_) {
            if (step.after > 0ms) {
                timer.expires_after(step.after);
                boost::system::error_code ec;
                co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
                if (stop.stop_requested() && !ignores_stop_) co_return;
            }
            emit(step.batch);
            ++seen->emitted;
        }
        if (throws_) throw std::runtime_error("boom");
        seen->completed = true;
    }

    std::shared_ptr<Observed> seen() const { return seen_; }

private:
    std::string name_;
    std::vector<Step> steps_;
    bool throws_, ignores_stop_;
    std::shared_ptr<Observed> seen_ = std::make_shared<Observed>();
};

awaitable<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor, d);
    co_await t.async_wait(use_awaitable);
}

// Runs a test coroutine on a fresh io_context, rethrowing its failures.
template <class F>
void run(F body) {
    asio::io_context io;
    std::exception_ptr failure;
    asio::co_spawn(io, body(io), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
}

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::vector<std::string> sids(const QuerySnapshot& s) {
    std::vector<std::string> out;
    for (const auto& r : s.results) out.push_back(r.sid);
    return out;
}

awaitable<void> collect(awaitable<std::optional<QuerySnapshot>> w, std::optional<QuerySnapshot>& into, bool& done) {
    into = co_await std::move(w);
    done = true;
}

} // namespace

BOOST_AUTO_TEST_CASE(results_arrive_progressively_until_solved) {
    auto fast = std::make_shared<ScriptedSource>("fast", std::vector<ScriptedSource::Step>{{0ms, {result("a", 0.8)}}});
    auto slow = std::make_shared<ScriptedSource>("slow", std::vector<ScriptedSource::Step>{{150ms, {result("b", 1.0)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{fast, 1.0, 2000ms}, {slow, 1.0, 2000ms}});
        const auto t0 = Clock::now();
        const std::string qid = r.start(query());
        BOOST_TEST(qid.size() == 36u); // a UUID
        co_await sleep(40ms);
        auto early = r.snapshot(qid);
        BOOST_TEST_REQUIRE(early.has_value());
        BOOST_TEST(sids(*early) == std::vector<std::string>{"a"});
        BOOST_TEST(early->results.front().source == "fast");
        BOOST_TEST(!early->solved);
        BOOST_TEST(!early->finished);

        auto done = co_await r.wait(qid, 5000ms);
        BOOST_TEST_REQUIRE(done.has_value());
        BOOST_TEST(done->solved);
        BOOST_TEST(done->finished);
        BOOST_TEST((sids(*done) == std::vector<std::string>{"b", "a"}));
        BOOST_TEST(done->qid == qid);
        BOOST_TEST(done->query.artist == "Artist");
        BOOST_TEST(ms_since(t0) >= 140.0);
        BOOST_TEST(ms_since(t0) < 2000.0); // woken by the result, not the timeout
        BOOST_TEST(done->errors.empty());
    });
    BOOST_TEST(fast->seen()->completed);
    BOOST_TEST(slow->seen()->completed);
}

BOOST_AUTO_TEST_CASE(wait_returns_when_solved_even_if_sources_still_run) {
    auto exact = std::make_shared<ScriptedSource>("local", std::vector<ScriptedSource::Step>{{10ms, {result("x", 1.0)}}});
    auto slow = std::make_shared<ScriptedSource>("peer", std::vector<ScriptedSource::Step>{{3000ms, {result("y", 0.9)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{exact, 1.0, 5000ms}, {slow, 0.9, 5000ms}});
        const auto t0 = Clock::now();
        const std::string qid = r.start(query());
        auto s = co_await r.wait(qid, 5000ms);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST(s->solved);
        BOOST_TEST(!s->finished);
        BOOST_TEST(ms_since(t0) < 1000.0);
        BOOST_TEST(r.cancel(qid));
    });
    BOOST_TEST(slow->seen()->stopped);
    BOOST_TEST(!slow->seen()->completed);
}

BOOST_AUTO_TEST_CASE(wait_times_out) {
    auto slow = std::make_shared<ScriptedSource>("slow", std::vector<ScriptedSource::Step>{{5000ms, {result("late", 1.0)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{slow, 1.0, 10000ms}});
        const std::string qid = r.start(query());
        const auto t0 = Clock::now();
        auto s = co_await r.wait(qid, 120ms);
        const double took = ms_since(t0);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST(!s->solved);
        BOOST_TEST(!s->finished);
        BOOST_TEST(s->results.empty());
        BOOST_TEST(took >= 110.0);
        BOOST_TEST(took < 2000.0);
        // A zero timeout answers at once.
        auto now = co_await r.wait(qid, 0ms);
        BOOST_TEST(now.has_value());
        r.cancel(qid);
    });
}

BOOST_AUTO_TEST_CASE(source_over_budget_is_abandoned_but_keeps_what_it_sent) {
    auto hang = std::make_shared<ScriptedSource>(
        "hang", std::vector<ScriptedSource::Step>{{0ms, {result("early", 0.5)}}, {10000ms, {result("never", 1.0)}}});
    auto fast = std::make_shared<ScriptedSource>("fast", std::vector<ScriptedSource::Step>{{0ms, {result("f", 0.7)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{hang, 1.0, 150ms}, {fast, 1.0, 2000ms}});
        const auto t0 = Clock::now();
        const std::string qid = r.start(query());
        auto s = co_await r.wait(qid, 5000ms);
        const double took = ms_since(t0);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST(s->finished);
        BOOST_TEST(!s->solved);
        BOOST_TEST((sids(*s) == std::vector<std::string>{"f", "early"}));
        BOOST_TEST_REQUIRE(s->errors.size() == 1u);
        BOOST_TEST(s->errors.front() == "hang: no answer within 150 ms");
        BOOST_TEST(took >= 140.0);
        BOOST_TEST(took < 3000.0);
        co_await sleep(20ms); // let the stopped coroutine unwind
    });
    BOOST_TEST(hang->seen()->stopped);
    BOOST_TEST(!hang->seen()->completed);
    BOOST_TEST(hang->seen()->emitted == 1);
}

BOOST_AUTO_TEST_CASE(a_throwing_source_fails_alone) {
    auto thrower = std::make_shared<ScriptedSource>("bad", std::vector<ScriptedSource::Step>{{5ms, {result("t", 0.6)}}}, true);
    auto good = std::make_shared<ScriptedSource>("good", std::vector<ScriptedSource::Step>{{20ms, {result("g", 0.95)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{thrower, 1.0, 2000ms}, {good, 1.0, 2000ms}});
        const std::string qid = r.start(query());
        auto s = co_await r.wait(qid, 5000ms);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST(s->finished);
        BOOST_TEST((sids(*s) == std::vector<std::string>{"g", "t"}));
        BOOST_TEST_REQUIRE(s->errors.size() == 1u);
        BOOST_TEST(s->errors.front() == "bad: boom");
    });
}

BOOST_AUTO_TEST_CASE(cancel_stops_running_sources) {
    auto slow = std::make_shared<ScriptedSource>("slow", std::vector<ScriptedSource::Step>{{300ms, {result("late", 1.0)}}});
    // A source that keeps going after stop: its late batch must be dropped.
    // It is due well after the cancel, so "returns at once" is an order of
    // events (the wait is back before that batch), not a stopwatch reading.
    auto persistent = std::make_shared<ScriptedSource>(
        "persistent", std::vector<ScriptedSource::Step>{{1000ms, {result("ignored", 1.0)}}}, false, true);
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{slow, 1.0, 5000ms}, {persistent, 1.0, 5000ms}});
        const std::string qid = r.start(query());
        co_await sleep(30ms);
        BOOST_TEST(r.cancel(qid));
        auto s = co_await r.wait(qid, 5000ms); // finished: returns at once
        BOOST_TEST(persistent->seen()->emitted == 0, "the wait outlasted the persistent source's late batch");
        BOOST_TEST(!slow->seen()->completed);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST(s->finished);
        BOOST_TEST(!s->solved);
        // Until the persistent source's batch has come (and been dropped).
        const auto t0 = Clock::now();
        while (persistent->seen()->emitted == 0 && ms_since(t0) < 10'000.0) co_await sleep(5ms);
        BOOST_TEST_REQUIRE(persistent->seen()->emitted == 1);
        auto later = r.snapshot(qid);
        BOOST_TEST_REQUIRE(later.has_value());
        BOOST_TEST(later->results.empty());
        BOOST_TEST(later->errors.empty()); // cancelling is not a failure
    });
    BOOST_TEST(slow->seen()->stopped);
    BOOST_TEST(slow->seen()->emitted == 0);
    BOOST_TEST(!slow->seen()->completed);
    BOOST_TEST(persistent->seen()->stopped);
    BOOST_TEST(persistent->seen()->emitted == 1); // it did emit; the resolver dropped it
}

BOOST_AUTO_TEST_CASE(unknown_qid) {
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {});
        BOOST_TEST(!r.snapshot("no-such-query").has_value());
        BOOST_TEST(!r.cancel("no-such-query"));
        // "At once" as an order of events: back before a timer set to half
        // the wait's timeout fires (a wait that sat out its timeout would not be).
        // Shared: the cancelled handler runs after this frame moved on.
        auto half_timeout_passed = std::make_shared<bool>(false);
        auto half = std::make_shared<asio::steady_timer>(io, 1000ms);
        half->async_wait([half_timeout_passed, half](boost::system::error_code ec) { *half_timeout_passed = !ec; });
        auto s = co_await r.wait("no-such-query", 2000ms);
        BOOST_TEST(!s.has_value());
        BOOST_TEST(!*half_timeout_passed);
        half->cancel();
        // With no sources a query finishes at once, unsolved.
        const std::string qid = r.start(query());
        auto e = co_await r.wait(qid, 2000ms);
        BOOST_TEST_REQUIRE(e.has_value());
        BOOST_TEST(e->finished);
        BOOST_TEST(e->results.empty());
    });
}

BOOST_AUTO_TEST_CASE(weights_dedupe_and_order) {
    auto local = std::make_shared<ScriptedSource>(
        "local", std::vector<ScriptedSource::Step>{{0ms, {result("s1", 0.9, 100), result("s2", 0.9, 300), result("", 1.0)}}});
    auto peer = std::make_shared<ScriptedSource>(
        "peer", std::vector<ScriptedSource::Step>{{5ms, {result("s1", 1.0, 500), result("s3", 1.0)}}});
    auto boosted = std::make_shared<ScriptedSource>("boost", std::vector<ScriptedSource::Step>{{5ms, {result("s4", 0.8)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{local, 1.0, 1000ms}, {peer, 0.5, 1000ms}, {boosted, 2.0, 1000ms}});
        const std::string qid = r.start(query());
        auto s = co_await r.wait(qid, 2000ms);
        co_await sleep(20ms);
        s = r.snapshot(qid);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST(s->finished);
        // s4: 0.8 x 2 clamped to 1.0; s2 and s1 tie at 0.9, higher quality first;
        // s1 from the peer (1.0 x 0.5) lost to the local 0.9; s3 is 0.5; no empty sid.
        BOOST_TEST((sids(*s) == std::vector<std::string>{"s4", "s2", "s1", "s3"}));
        BOOST_TEST(s->results[0].score == 1.0);
        BOOST_TEST(s->results[2].source == "local");
        BOOST_TEST(s->results[3].score == 0.5);
        BOOST_TEST(s->results[3].source == "peer");
        BOOST_TEST(s->solved);
    });
}

BOOST_AUTO_TEST_CASE(restart_replaces_and_table_is_bounded) {
    auto slow = std::make_shared<ScriptedSource>("slow", std::vector<ScriptedSource::Step>{{2000ms, {result("z", 1.0)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        ResolverOptions options;
        options.max_queries = 3;
        Resolver r(io.get_executor(), {{slow, 1.0, 5000ms}}, options);
        BOOST_TEST(r.start(query(), "fixed-qid") == "fixed-qid");
        co_await sleep(10ms);
        Query other = query();
        other.track = "Other";
        BOOST_TEST(r.start(other, "fixed-qid") == "fixed-qid"); // restart: old sources stop
        co_await sleep(10ms);
        BOOST_TEST(slow->seen()->stopped);
        BOOST_TEST(r.size() == 1u);
        BOOST_TEST(r.snapshot("fixed-qid")->query.track == "Other");

        std::vector<std::string> qids;
        for (int i = 0; i < 5; ++i) {
            qids.push_back(r.start(query()));
            co_await sleep(2ms); // distinct ages
        }
        BOOST_TEST(r.size() == 3u);
        BOOST_TEST(!r.snapshot("fixed-qid").has_value());
        BOOST_TEST(!r.snapshot(qids[0]).has_value());
        BOOST_TEST(!r.snapshot(qids[1]).has_value());
        for (int i = 2; i < 5; ++i) BOOST_TEST(r.snapshot(qids[static_cast<std::size_t>(i)]).has_value());
        for (const auto& id : qids) r.cancel(id);
    });
}

BOOST_AUTO_TEST_CASE(bad_input_is_rejected) {
    asio::io_context io;
    Resolver r(io.get_executor(), {});
    BOOST_CHECK_THROW(r.start(Query{}), std::invalid_argument);
    BOOST_CHECK_THROW(r.start(query(), "has space"), std::invalid_argument);
    BOOST_CHECK_THROW(r.start(query(), std::string(129, 'a')), std::invalid_argument);
    Query huge = query();
    huge.track = std::string(5000, 'x');
    BOOST_CHECK_THROW(r.start(huge), std::invalid_argument);
    BOOST_CHECK_THROW(r.add_source(SourceSpec{}), std::invalid_argument);
    BOOST_TEST(r.size() == 0u);
}

BOOST_AUTO_TEST_CASE(sources_can_be_added_and_removed) {
    auto a = std::make_shared<ScriptedSource>("a", std::vector<ScriptedSource::Step>{{0ms, {result("from-a", 0.5)}}});
    auto b = std::make_shared<ScriptedSource>("b", std::vector<ScriptedSource::Step>{{0ms, {result("from-b", 0.5)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {{a, 1.0, 1000ms}});
        r.add_source({b, 1.0, 1000ms});
        const std::string first = r.start(query());
        auto s = co_await r.wait(first, 2000ms);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST(s->results.size() == 2u);
        BOOST_TEST(r.remove_source("a"));
        BOOST_TEST(!r.remove_source("a"));
        const std::string second = r.start(query());
        s = co_await r.wait(second, 2000ms);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST((sids(*s) == std::vector<std::string>{"from-b"}));
    });
}

// Two peers may call themselves the same; each is its own source, known by
// its key, and adding under a key again replaces that source only.
namespace {
// A peer's source: shown by its name, known by its peer's key.
class KeyedSource : public ScriptedSource {
public:
    KeyedSource(std::string key, std::string name, std::string sid)
        : ScriptedSource(std::move(name), {{0ms, {result(sid, 0.5)}}}), key_(std::move(key)) {}
    std::string key() const override { return key_; }

private:
    std::string key_;
};
} // namespace

BOOST_AUTO_TEST_CASE(sources_are_kept_by_key_not_by_name) {
    auto one = std::make_shared<KeyedSource>("peer:one", "laptop", "from-one");
    auto two = std::make_shared<KeyedSource>("peer:two", "laptop", "from-two");
    auto two_again = std::make_shared<KeyedSource>("peer:two", "renamed", "from-two-again");
    run([&](asio::io_context& io) -> awaitable<void> {
        Resolver r(io.get_executor(), {});
        r.add_source({one, 1.0, 1000ms});
        r.add_source({two, 1.0, 1000ms});
        auto s = co_await r.wait(r.start(query()), 2000ms);
        BOOST_TEST_REQUIRE(s.has_value());
        auto got = sids(*s);
        std::sort(got.begin(), got.end());
        BOOST_TEST((got == std::vector<std::string>{"from-one", "from-two"}));
        r.add_source({two_again, 1.0, 1000ms}); // the same peer, linked again under a new name
        BOOST_TEST(!r.remove_source("laptop"));             // names are not keys
        BOOST_TEST(r.remove_source("peer:one"));
        s = co_await r.wait(r.start(query()), 2000ms);
        BOOST_TEST_REQUIRE(s.has_value());
        BOOST_TEST((sids(*s) == std::vector<std::string>{"from-two-again"}));
    });
}

BOOST_AUTO_TEST_CASE(destroying_the_resolver_wakes_waiters) {
    auto slow = std::make_shared<ScriptedSource>("slow", std::vector<ScriptedSource::Step>{{3000ms, {result("z", 1.0)}}});
    run([&](asio::io_context& io) -> awaitable<void> {
        auto r = std::make_unique<Resolver>(io.get_executor(), std::vector<SourceSpec>{{slow, 1.0, 5000ms}});
        const std::string qid = r->start(query());
        bool woke = false;
        std::optional<QuerySnapshot> got = QuerySnapshot{};
        auto waiting = r->wait(qid, 5000ms); // the awaitable outlives the Resolver
        asio::co_spawn(io, collect(std::move(waiting), got, woke), asio::detached);
        co_await sleep(30ms);
        const auto t0 = Clock::now();
        r.reset();
        while (!woke && ms_since(t0) < 2000.0) co_await sleep(5ms);
        BOOST_TEST(woke);
        BOOST_TEST(!got.has_value());
        BOOST_TEST(ms_since(t0) < 500.0);
    });
    BOOST_TEST(slow->seen()->stopped);
}

#include "resolver/pipeline.hpp"

#include <boost/asio/redirect_error.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

namespace earshot::resolver {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t max_qid_length = 128;
constexpr std::size_t max_field_length = 4096;

// One source working on one query.
struct Run {
    std::string name;
    double weight = 1.0;
    std::stop_source stop;
    std::unique_ptr<asio::steady_timer> budget;
    bool done = false;
};

struct QueryState {
    std::string qid;
    Query query;
    Clock::time_point touched;
    std::vector<Run> runs;
    std::size_t running = 0;
    std::vector<Result> results;
    std::vector<std::string> errors;
    std::size_t max_results = 0;
    bool solved = false;
    bool finished = false;
    // Timers of the wait()s parked on this query: cancelling one wakes it.
    std::vector<asio::steady_timer*> waiters;

    void notify() {
        for (auto* t : waiters) t->cancel();
    }

    void add(std::size_t i, std::vector<Result> batch) {
        Run& run = runs[i];
        if (run.done) return; // stopped: late answers are not wanted
        for (Result& r : batch) {
            const double s = std::isfinite(r.score) ? r.score : 0.0;
            r.score = std::clamp(s * run.weight, 0.0, 1.0);
            if (r.source.empty()) r.source = run.name;
        }
        merge_results(results, std::move(batch));
        if (results.size() > max_results) results.resize(max_results);
        solved = !results.empty() && results.front().score >= solved_score;
        notify();
    }

    void finish(std::size_t i, std::string error, bool stop_source) {
        Run& run = runs[i];
        if (run.done) return;
        run.done = true;
        if (run.budget) run.budget->cancel();
        if (stop_source) run.stop.request_stop();
        if (!error.empty()) errors.push_back(fmt::format("{}: {}", run.name, error));
        if (--running == 0) finished = true;
        notify();
    }

    void stop_all() {
        for (Run& run : runs) {
            if (run.done) continue;
            run.done = true;
            if (run.budget) run.budget->cancel();
            run.stop.request_stop();
        }
        running = 0;
        finished = true;
        notify();
    }

    QuerySnapshot snapshot() const {
        return QuerySnapshot{qid, query, solved, finished, results, errors};
    }
};

// Removes a parked wait()'s timer from its query however the wait ends,
// including its coroutine frame being destroyed with the io_context.
struct WaiterGuard {
    std::shared_ptr<QueryState> state;
    asio::steady_timer* timer;
    WaiterGuard(std::shared_ptr<QueryState> s, asio::steady_timer* t) : state(std::move(s)), timer(t) {
        state->waiters.push_back(timer);
    }
    WaiterGuard(const WaiterGuard&) = delete;
    WaiterGuard& operator=(const WaiterGuard&) = delete;
    ~WaiterGuard() { std::erase(state->waiters, timer); }
};

bool valid_qid(std::string_view qid) {
    return qid.size() <= max_qid_length && std::all_of(qid.begin(), qid.end(), [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == ':';
           });
}

// The state is held weakly: a source that ignores its stop request must not
// keep a forgotten query alive.
awaitable<void> run_source(std::weak_ptr<QueryState> weak, std::size_t i, std::shared_ptr<Source> source, Query q,
                           std::stop_token stop) {
    Emit emit = [weak, i](std::vector<Result> batch) {
        if (auto st = weak.lock()) st->add(i, std::move(batch));
    };
    std::string error;
    try {
        co_await source->resolve(std::move(q), std::move(emit), std::move(stop));
    } catch (const std::exception& e) {
        error = *e.what() ? e.what() : "failed";
    } catch (...) {
        error = "failed with an unknown exception";
    }
    if (auto st = weak.lock()) st->finish(i, std::move(error), false);
}

} // namespace

void merge_results(std::vector<Result>& into, std::vector<Result> batch) {
    for (Result& r : batch) {
        if (r.sid.empty()) continue; // nothing to play
        auto same = std::find_if(into.begin(), into.end(), [&](const Result& x) { return x.sid == r.sid; });
        if (r.sources.empty() && !r.source.empty()) r.sources.push_back(r.source);
        if (same == into.end()) {
            into.push_back(std::move(r));
            continue;
        }
        // One sid is one set of bytes: its holders add up, the best match names it.
        auto sources = std::move(same->sources);
        for (auto& s : r.sources)
            if (std::find(sources.begin(), sources.end(), s) == sources.end()) sources.push_back(std::move(s));
        if (r.score > same->score || (r.score == same->score && r.quality > same->quality)) *same = std::move(r);
        same->sources = std::move(sources);
    }
    std::stable_sort(into.begin(), into.end(), [](const Result& a, const Result& b) {
        return a.score > b.score || (a.score == b.score && a.quality > b.quality);
    });
}

struct Resolver::Impl {
    asio::any_io_executor ex;
    std::vector<SourceSpec> sources;
    ResolverOptions options;
    std::unordered_map<std::string, std::shared_ptr<QueryState>> queries;
    std::mt19937_64 rng{std::random_device{}()};
    bool closed = false;

    std::string new_qid() {
        for (;;) {
            const std::uint64_t a = rng(), b = rng();
            // RFC 4122 version 4 layout.
            std::string qid = fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF,
                                          a & 0xFFF, 0x8000 | ((b >> 48) & 0x3FFF), b & 0xFFFFFFFFFFFFull);
            if (!queries.contains(qid)) return qid;
        }
    }

    void forget(std::unordered_map<std::string, std::shared_ptr<QueryState>>::iterator it) {
        auto st = it->second;
        queries.erase(it);
        st->stop_all(); // wakes its waiters, which then find the qid gone
    }

    // Keeps the table bounded: drops queries idle past the ttl, then the
    // least recently used ones beyond max_queries - 1 (making room for one).
    void evict(Clock::time_point now) {
        for (auto it = queries.begin(); it != queries.end();) {
            auto next = std::next(it);
            if (now - it->second->touched > options.ttl) forget(it);
            it = next;
        }
        while (!queries.empty() && queries.size() >= options.max_queries) {
            auto oldest = std::min_element(queries.begin(), queries.end(), [](const auto& a, const auto& b) {
                return a.second->touched < b.second->touched;
            });
            forget(oldest);
        }
    }
};

Resolver::Resolver(asio::any_io_executor ex, std::vector<SourceSpec> sources, ResolverOptions options)
    : impl_(std::make_shared<Impl>()) {
    impl_->ex = std::move(ex);
    impl_->options = options;
    if (impl_->options.max_queries == 0) impl_->options.max_queries = 1;
    for (auto& s : sources) add_source(std::move(s));
}

Resolver::~Resolver() {
    impl_->closed = true;
    auto queries = std::move(impl_->queries);
    impl_->queries.clear();
    for (auto& [qid, st] : queries) st->stop_all();
}

void Resolver::add_source(SourceSpec spec) {
    if (!spec.source) throw std::invalid_argument("resolver source is null");
    if (!std::isfinite(spec.weight) || spec.weight < 0)
        throw std::invalid_argument("resolver source weight must be >= 0");
    remove_source(spec.source->key());
    impl_->sources.push_back(std::move(spec));
}

bool Resolver::remove_source(std::string_view key) {
    return std::erase_if(impl_->sources, [&](const SourceSpec& s) { return s.source->key() == key; }) > 0;
}

std::string Resolver::start(Query q, std::string qid) {
    if (q.empty()) throw std::invalid_argument("empty query: give artist and track, or text");
    for (const std::string* f : {&q.artist, &q.track, &q.album, &q.text})
        if (f->size() > max_field_length) throw std::invalid_argument("query field longer than 4096 bytes");
    if (!valid_qid(qid)) throw std::invalid_argument("qid must be at most 128 letters, digits or -_.:");

    Impl& impl = *impl_;
    const auto now = Clock::now();
    if (auto it = impl.queries.find(qid); !qid.empty() && it != impl.queries.end()) impl.forget(it);
    impl.evict(now);
    if (qid.empty()) qid = impl.new_qid();

    auto st = std::make_shared<QueryState>();
    st->qid = qid;
    st->query = q;
    st->touched = now;
    st->max_results = std::max<std::size_t>(1, impl.options.max_results_per_query);
    st->runs.resize(impl.sources.size());
    st->running = impl.sources.size();
    st->finished = st->running == 0;
    impl.queries.emplace(qid, st);

    // Everything is in place before any source runs, in case one answers at once.
    const std::weak_ptr<QueryState> weak = st;
    for (std::size_t i = 0; i < impl.sources.size(); ++i) {
        const SourceSpec& spec = impl.sources[i];
        Run& run = st->runs[i];
        run.name = spec.source->name();
        run.weight = spec.weight;
        run.budget = std::make_unique<asio::steady_timer>(impl.ex, spec.budget);
        run.budget->async_wait([weak, i, ms = spec.budget.count()](const boost::system::error_code& ec) {
            if (ec) return; // cancelled: the source finished first
            if (auto s = weak.lock()) s->finish(i, fmt::format("no answer within {} ms", ms), true);
        });
    }
    for (std::size_t i = 0; i < impl.sources.size(); ++i) {
        asio::co_spawn(impl.ex, run_source(weak, i, impl.sources[i].source, q, st->runs[i].stop.get_token()),
                       asio::detached);
    }
    return qid;
}

std::optional<QuerySnapshot> Resolver::snapshot(std::string_view qid) const {
    auto it = impl_->queries.find(std::string(qid));
    if (it == impl_->queries.end()) return std::nullopt;
    it->second->touched = Clock::now();
    return it->second->snapshot();
}

awaitable<std::optional<QuerySnapshot>> Resolver::wait(std::string qid, std::chrono::milliseconds timeout) {
    return wait_for(impl_, std::move(qid), timeout);
}

awaitable<std::optional<QuerySnapshot>> Resolver::wait_for(std::shared_ptr<Impl> impl, std::string qid,
                                                           std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + std::max(timeout, std::chrono::milliseconds(0));
    asio::steady_timer timer(impl->ex);
    for (;;) {
        if (impl->closed) co_return std::nullopt;
        auto it = impl->queries.find(qid);
        if (it == impl->queries.end()) co_return std::nullopt;
        std::shared_ptr<QueryState> st = it->second;
        const auto now = Clock::now();
        st->touched = now;
        if (st->solved || st->finished || now >= deadline) co_return st->snapshot();
        timer.expires_at(deadline);
        WaiterGuard guard(st, &timer);
        boost::system::error_code ec; // operation_aborted: something changed; otherwise the deadline
        co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
}

bool Resolver::cancel(std::string_view qid) {
    auto it = impl_->queries.find(std::string(qid));
    if (it == impl_->queries.end()) return false;
    it->second->touched = Clock::now();
    it->second->stop_all();
    return true;
}

std::size_t Resolver::size() const { return impl_->queries.size(); }

} // namespace earshot::resolver

// The query pipeline: one query fans out to every source (the local
// catalogue now, own devices and friends later), each with a weight and a
// time budget; results merge progressively into a snapshot that clients poll
// (Playdar's get_results) or wait on.
#pragma once

#include "proto/asio.hpp"
#include "resolver/query.hpp"

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::resolver {

using Emit = std::function<void(std::vector<Result>)>;

class Source {
public:
    virtual ~Source() = default;
    // Shown with each result (`source`); several sources may share one.
    virtual std::string name() const = 0;
    // What identifies the source in the resolver (a peer's id, say), for
    // replacing and removing it.
    virtual std::string key() const { return name(); }
    // Resolve q; call emit() with batches of results as they become
    // available; return when done. `stop` is requested when the query is
    // cancelled, restarted or evicted, or the source's budget runs out: a
    // source waiting on I/O registers a std::stop_callback that cancels it
    // (the callback runs on the resolver's executor, which is the source's
    // too). Batches emitted after that are dropped. emit() must be called on
    // the resolver's executor. Exceptions are reported in the snapshot's
    // `errors` and end only this source's part.
    virtual awaitable<void> resolve(Query q, Emit emit, std::stop_token stop) = 0;
};

struct SourceSpec {
    std::shared_ptr<Source> source;
    double weight = 1.0; // scales the source's scores: 1.0 for the local library, less for remote copies
    std::chrono::milliseconds budget{2000};
};

struct QuerySnapshot {
    std::string qid;
    Query query;
    bool solved = false;   // a result scores >= solved_score
    bool finished = false; // every source answered, failed, ran out of time, or the query was cancelled
    std::vector<Result> results; // best first, one per sid
    std::vector<std::string> errors; // "source: what went wrong", for sources that failed or timed out
};

struct ResolverOptions {
    std::size_t max_queries = 1000;              // oldest queries are forgotten past this
    std::chrono::minutes ttl{10};                // queries untouched this long are forgotten
    std::size_t max_results_per_query = 500;     // the weakest results are dropped past this
};

// Lives on one executor: every method must be called from it (single
// threaded; no locks). Sources run as coroutines on the same executor.
class Resolver {
public:
    Resolver(asio::any_io_executor ex, std::vector<SourceSpec> sources, ResolverOptions options = {});
    // Stops every running source; pending wait()s complete with nullopt.
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Sources added or removed apply to queries started afterwards. Adding
    // a source under a key already present replaces that source.
    void add_source(SourceSpec spec);
    bool remove_source(std::string_view key);

    // Starts resolving q and returns its qid: a random UUID when none is
    // given; an existing qid restarts (its old sources are stopped). Throws
    // std::invalid_argument for an empty query or a malformed qid (over 128
    // characters, or other than letters, digits and "-_.:").
    std::string start(Query q, std::string qid = {});
    std::optional<QuerySnapshot> snapshot(std::string_view qid) const;
    // Completes when the query is solved, finished, or `timeout` has passed,
    // with the snapshot at that moment; nullopt for an unknown qid (or one
    // forgotten meanwhile). Never polls: changes wake waiters.
    awaitable<std::optional<QuerySnapshot>> wait(std::string qid, std::chrono::milliseconds timeout);
    // Stops the sources still running for qid and marks it finished; its
    // results stay readable. False for an unknown qid.
    bool cancel(std::string_view qid);
    std::size_t size() const; // queries held

private:
    struct Impl;
    // A static coroutine holding the shared state, not `this`: a wait may
    // outlive the Resolver object (it then completes with nullopt).
    static awaitable<std::optional<QuerySnapshot>> wait_for(std::shared_ptr<Impl> impl, std::string qid,
                                                            std::chrono::milliseconds timeout);
    std::shared_ptr<Impl> impl_;
};

// Orders results best first (score, then quality) and keeps one per sid;
// the pipeline's merge rule, usable by anyone combining result lists.
void merge_results(std::vector<Result>& into, std::vector<Result> batch);

} // namespace earshot::resolver

// Links against peers that misbehave, on real loopback connections, each
// beside an honest peer (a PeerManager serving the same file):
//  - a lying peer (a hand-written peer that speaks the protocol but flips
//    bytes in every chunk it sends; its leaf layer is genuine, so only
//    per-chunk verification can catch it);
//  - a silent peer (claims the content, answers pings, ignores chunk
//    requests) and a slow one (a chunk every 100 ms): the stream is late
//    by a few seconds at most, and the slow peer still does what it can;
//  - a peer that never answers a query: the pipeline does not wait for it,
//    and cancelling the query sends it a Cancel;
//  - a peer flooding queries: it is told "overloaded", keeps its link, and
//    another peer's queries are answered meanwhile.
#define BOOST_TEST_MODULE peer_links
#include <boost/test/unit_test.hpp>

#include "daemon/peers/manager.hpp"
#include "daemon/peers/peer_source.hpp"
#include "daemon/stream/swarm.hpp"
#include "proto/content_id.hpp"
#include "tests/support/seed.hpp"
#include "tests/support/temp_dir.hpp"

#include <sodium.h>

#include <fstream>

using namespace earshot;
using namespace std::chrono_literals;
using asio::ip::tcp;

namespace {

struct Content {
    std::string path;
    proto::Bytes bytes;
    proto::ContentTree tree;
};

Content make_content(const std::filesystem::path& path, std::size_t size) {
    Content c{path.string(), proto::Bytes(size), {}};
    randombytes_buf(c.bytes.data(), c.bytes.size());
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(c.bytes.data()),
                                                static_cast<std::streamsize>(c.bytes.size()));
    c.tree = proto::content_tree(c.bytes);
    return c;
}

// Serves one file to anyone linked, answers no queries.
class OneFile final : public peers::Offering {
public:
    explicit OneFile(const Content& c) : c_(c) {}
    awaitable<std::vector<proto::ResultEntry>> search(peers::PeerRecord, resolver::Query) override {
        co_return std::vector<proto::ResultEntry>{};
    }
    awaitable<std::optional<peers::ServedContent>> content(peers::PeerRecord, proto::Hash id) override {
        if (id != c_.tree.root) co_return std::nullopt;
        co_return peers::ServedContent{c_.path, c_.bytes.size(),
                                       std::make_shared<const std::vector<proto::Hash>>(c_.tree.leaves), {}};
    }
    void content_changed(const std::string&) override {}

private:
    const Content& c_;
};

enum class Behaviour {
    lies,         // corrupts every chunk it sends
    silent,       // never answers a chunk request
    slow,         // sends a chunk every 100 ms
    bad_layer,    // sends a leaf layer that does not match the content id, then genuine chunks
    double_hello, // breaks the protocol: a second Hello
    advisory,     // says "overloaded" for the connection as a whole, then serves honestly
};

// A peer that follows the protocol, except as its behaviour says.
struct Rogue {
    Rogue(asio::io_context& io, const peers::Identity& me, const Content& c, Behaviour b)
        : acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)), me(me), c(c), behaviour(b) {}
    tcp::acceptor acceptor;
    const peers::Identity& me;
    const Content& c;
    Behaviour behaviour;
    std::size_t chunk_requests = 0, chunks_sent = 0;
    std::size_t queries = 0, cancels = 0; // it never answers a query
    std::vector<proto::Error> errors;     // what our side told it
    bool closed_cleanly = false;          // our side ended with a close record
    std::string failure;                  // ...or the channel failed thus

    awaitable<void> serve_one() {
        try {
            co_await serve();
            closed_cleanly = true;
        } catch (const std::exception& e) {
            failure = e.what();
        }
    }

    awaitable<void> serve() {
        auto socket = co_await acceptor.async_accept(use_awaitable);
        auto ch = co_await peers::Channel::accept(std::move(socket), me, [](const proto::PublicKey&) { return true; }, 5s);
        proto::Message hello = proto::Hello{1, "liar/1", "liar", proto::capability::serve_chunks};
        co_await ch->send(hello);
        if (behaviour == Behaviour::double_hello) co_await ch->send(hello);
        if (behaviour == Behaviour::advisory) {
            proto::Message notice = proto::Error{proto::ErrorCode::overloaded, 0, "busy; send less"};
            co_await ch->send(notice);
        }
        while (auto m = co_await ch->receive()) {
            if (auto* e = std::get_if<proto::Error>(&*m)) errors.push_back(*e);
            if (auto* ping = std::get_if<proto::Ping>(&*m)) {
                proto::Message pong = proto::Pong{ping->nonce};
                co_await ch->send(pong);
            } else if (std::holds_alternative<proto::Query>(*m)) {
                ++queries;
            } else if (std::holds_alternative<proto::Cancel>(*m)) {
                ++cancels;
            } else if (auto* req = std::get_if<proto::ChunkRequest>(&*m)) {
                ++chunk_requests;
                if (behaviour == Behaviour::silent) continue;
                auto layer = c.tree.leaves;
                if (behaviour == Behaviour::bad_layer) layer[layer.size() / 2][0] ^= 0x01;
                for (auto& l : proto::split_leaves(req->request_id, c.tree.root, c.bytes.size(), layer)) {
                    proto::Message leaves{std::move(l)};
                    co_await ch->send(leaves);
                }
                const auto total = proto::chunk_count(c.bytes.size());
                for (auto i = req->first_chunk; i < std::min<std::uint64_t>(total, req->first_chunk + req->count); ++i) {
                    const auto at = i * proto::chunk_size;
                    proto::Bytes data(c.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                      c.bytes.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(at + proto::chunk_size, c.bytes.size())));
                    if (behaviour == Behaviour::lies) data[data.size() / 2] ^= 0x5a;
                    if (behaviour == Behaviour::slow) {
                        asio::steady_timer pause(acceptor.get_executor(), 100ms);
                        co_await pause.async_wait(use_awaitable);
                    }
                    proto::Message chunk = proto::ChunkData{req->request_id, c.tree.root, i, std::move(data)};
                    co_await ch->send(chunk);
                    ++chunks_sent;
                }
            }
        }
    }
};

std::string address_of(const tcp::endpoint& ep) { return "127.0.0.1:" + std::to_string(ep.port()); }

peers::PeerRecord device(const peers::Identity& id, const std::string& name, const std::string& address) {
    peers::PeerRecord r;
    r.key = id.public_key();
    r.name = name;
    r.address = address;
    return r;
}

peers::ManagerOptions loopback_options(std::string name) {
    peers::ManagerOptions o;
    o.listen = tcp::endpoint(asio::ip::address_v4::loopback(), 0);
    o.name = std::move(name);
    o.first_backoff = 100ms;
    return o;
}

// Runs the io_context until `done` or the deadline.
template <class Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::seconds limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(20ms);
    return done();
}

struct Setup {
    explicit Setup(Behaviour b = Behaviour::lies) : liar(io, liar_id, content, b) {}
    test::TempDir tmp{"earshot-swarm"};
    asio::io_context io;
    peers::Identity client_id = peers::Identity::from_seed(test::seed_of(1));
    peers::Identity honest_id = peers::Identity::from_seed(test::seed_of(2));
    peers::Identity liar_id = peers::Identity::from_seed(test::seed_of(3));
    Content content = make_content(tmp / "file.bin", 40 * proto::chunk_size + 1234);
    OneFile library{content};
    Rogue liar;
    peers::Roster honest_roster{tmp / "honest-peers.json"};
    peers::Roster client_roster{tmp / "client-peers.json"};
    core::Blocking blocking{2};
    std::optional<peers::PeerManager> honest, client;
    stream::ChunkCache cache{tmp / "cache", {}};

    // The honest peer serves the file to the client and to `also` (peers
    // that dial it by hand).
    void start_honest(std::initializer_list<const peers::Identity*> also = {}) {
        honest_roster.upsert(device(client_id, "client", ""));
        for (const auto* id : also) honest_roster.upsert(device(*id, "hand-written", ""));
        honest.emplace(io, honest_id, honest_roster, library, blocking, loopback_options("honest"));
        honest->start();
        client_roster.upsert(device(honest_id, "honest", address_of(honest->local_endpoint())));
    }

    void start(bool with_honest, bool wait_for_links = true) {
        asio::co_spawn(io, liar.serve_one(), asio::detached);
        if (with_honest) start_honest();
        client_roster.upsert(device(liar_id, "liar", address_of(liar.acceptor.local_endpoint())));
        client.emplace(io, client_id, client_roster, library, blocking, loopback_options("client"));
        client->start();
        const std::size_t want = with_honest ? 2 : 1;
        if (wait_for_links) BOOST_TEST_REQUIRE(run_until(io, [&] { return client->links().size() == want; }));
    }
};

struct Fetched {
    bool done = false;
    std::exception_ptr error;
    proto::Bytes bytes;
};

// What a failed read said; empty when it did not fail.
std::string failure_text(const Fetched& f) {
    if (!f.error) return {};
    try {
        std::rethrow_exception(f.error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "a failure that is not a std::exception";
    }
}

std::shared_ptr<stream::Swarm> make_swarm(Setup& s) {
    return std::make_shared<stream::Swarm>(s.io.get_executor(), *s.client, s.cache, s.blocking, s.content.tree.root);
}

void fetch_all(Setup& s, Fetched& out, std::shared_ptr<stream::Swarm> swarm = nullptr) {
    if (!swarm) swarm = make_swarm(s);
    asio::co_spawn(
        s.io,
        [&out, swarm]() -> awaitable<void> {
            const auto size = co_await swarm->open();
            for (std::uint64_t i = 0; i < proto::chunk_count(size); ++i) {
                auto chunk = co_await swarm->chunk(i);
                out.bytes.insert(out.bytes.end(), chunk.begin(), chunk.end());
            }
        },
        [&out](std::exception_ptr e) {
            out.done = true;
            out.error = e;
        });
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return out.done; }, 60s));
}

} // namespace

BOOST_AUTO_TEST_CASE(a_lying_peer_is_dropped_and_the_honest_one_supplies_every_chunk) {
    Setup s;
    s.start(true);
    Fetched got;
    fetch_all(s, got);
    BOOST_TEST(!got.error);
    BOOST_TEST((got.bytes == s.content.bytes));
    // The liar was asked (requests are spread over both) and caught.
    BOOST_TEST(s.liar.chunk_requests >= 1u);
    for (std::uint64_t i = 0; i < proto::chunk_count(s.content.bytes.size()); ++i) {
        const auto cached = s.cache.get(s.content.tree.root, i);
        BOOST_TEST_REQUIRE(cached.has_value());
        BOOST_TEST(proto::leaf_hash(*cached) == s.content.tree.leaves[i]);
    }
}

BOOST_AUTO_TEST_CASE(with_only_a_lying_peer_reads_fail_and_nothing_is_cached) {
    Setup s;
    s.start(false);
    Fetched got;
    fetch_all(s, got);
    const auto failure = failure_text(got);
    BOOST_TEST_REQUIRE(!failure.empty());
    BOOST_TEST(failure.find("failed verification") != std::string::npos, failure);
    BOOST_TEST(got.bytes.empty());
    for (std::uint64_t i = 0; i < proto::chunk_count(s.content.bytes.size()); ++i)
        BOOST_TEST(!s.cache.has(s.content.tree.root, i));
}

BOOST_AUTO_TEST_CASE(a_peer_that_never_answers_does_not_hold_up_results_and_gets_the_cancel) {
    Setup s;
    s.start(false);
    // A local source with the answer, and the silent peer.
    struct Local final : resolver::Source {
        std::string name() const override { return "local"; }
        awaitable<void> resolve(resolver::Query, resolver::Emit emit, std::stop_token) override {
            resolver::Result r;
            r.sid = "aa";
            r.artist = "A";
            r.track = "T";
            r.source = "local";
            r.score = 1.0;
            emit({r});
            co_return;
        }
    };
    auto link = s.client->links().front();
    resolver::Resolver resolver(s.io.get_executor(),
                                {{std::make_shared<Local>(), 1.0, 1000ms},
                                 {std::make_shared<peers::PeerSource>(link, link->key(), "liar", nullptr), 1.0, 30000ms}});
    const auto qid = resolver.start(resolver::Query{"A", "T", "", "", std::nullopt});
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return s.liar.queries == 1u; }, 5s));
    const auto snap = resolver.snapshot(qid);
    BOOST_TEST_REQUIRE(snap.has_value());
    BOOST_TEST(snap->solved);     // the local answer is there at once...
    BOOST_TEST(!snap->finished);  // ...while the peer is still "thinking"
    BOOST_TEST(resolver.cancel(qid));
    BOOST_TEST(run_until(s.io, [&] { return s.liar.cancels == 1u; }, 5s));
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A hand-written peer dialling `server` as `me`, past its Hello.
awaitable<std::shared_ptr<peers::Channel>> dial_as(asio::io_context& io, tcp::endpoint server, const peers::Identity& me) {
    tcp::socket socket(io);
    co_await socket.async_connect(server, use_awaitable);
    std::shared_ptr<peers::Channel> ch =
        co_await peers::Channel::connect(std::move(socket), me, [](const proto::PublicKey&) { return true; }, 5s);
    proto::Message hello = proto::Hello{1, "hand-written/1", "hand-written", 0};
    co_await ch->send(hello);
    co_return ch;
}

void run_for(asio::io_context& io, std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) io.run_for(10ms);
}

} // namespace

// Both sides dialling at once replace one link with another; a query that
// meets the gap waits for the new link instead of reporting the peer offline.
// Beside it, a peer with no link at all is reported offline within a second.
BOOST_AUTO_TEST_CASE(a_peer_source_waits_for_the_link_that_replaces_its_old_one) {
    Setup s;
    s.start(true);
    const auto honest_link = s.client->link(s.honest_id.public_key());
    BOOST_TEST_REQUIRE(honest_link);
    std::shared_ptr<peers::Link> current; // between links
    core::Event changed(s.io.get_executor());
    const auto key = s.honest_id.public_key();
    const auto owner = std::make_shared<const int>(0);
    auto waiting = std::make_shared<peers::PeerSource>(
        peers::PeerSource::Links{[&] { return current; }, &changed, owner}, key, "honest", nullptr);
    auto gone = std::make_shared<peers::PeerSource>(
        peers::PeerSource::Links{[] { return std::shared_ptr<peers::Link>(); }, &changed, owner},
        s.liar_id.public_key(), "gone", nullptr);
    // And one whose owner (the peer service) goes away while it waits: it
    // ends without looking again.
    auto stopping_owner = std::make_shared<const int>(0);
    int looked_up_after_stop = 0;
    bool stopped = false;
    auto stopping = std::make_shared<peers::PeerSource>(
        peers::PeerSource::Links{[&] {
                                     if (stopped) ++looked_up_after_stop;
                                     return std::shared_ptr<peers::Link>();
                                 },
                                 &changed, stopping_owner},
        s.client_id.public_key(), "stopping", nullptr);
    resolver::Resolver resolver(s.io.get_executor(),
                                {{waiting, 1.0, 5000ms}, {gone, 1.0, 5000ms}, {stopping, 1.0, 5000ms}});
    const auto started = std::chrono::steady_clock::now();
    const auto qid = resolver.start(resolver::Query{"A", "T", "", "", std::nullopt});
    run_for(s.io, 300ms);
    BOOST_TEST(!resolver.snapshot(qid)->finished);
    stopped = true;
    stopping_owner.reset();
    current = honest_link; // the new link is up
    changed.notify();
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return resolver.snapshot(qid)->finished; }, 5s));
    const auto snap = resolver.snapshot(qid);
    BOOST_TEST_REQUIRE(snap->errors.size() == 2u); // the peer with no link, and the one whose owner went
    std::vector<std::string> errors = snap->errors;
    std::sort(errors.begin(), errors.end());
    BOOST_TEST(errors[0] == "gone: offline");
    BOOST_TEST(errors[1] == "stopping: offline");
    BOOST_TEST(looked_up_after_stop == 0);
    BOOST_TEST(seconds_since(started) < 3.0);
}


BOOST_AUTO_TEST_CASE(a_silent_claimer_costs_the_stream_seconds_and_the_honest_peer_supplies_it) {
    Setup s(Behaviour::silent);
    s.start(true);
    auto swarm = make_swarm(s);
    // The silent peer claimed the content, so it is asked first.
    swarm->claimed_by(s.liar_id.public_key());
    const auto began = std::chrono::steady_clock::now();
    Fetched got;
    fetch_all(s, got, swarm);
    const double took = seconds_since(began);
    BOOST_TEST(!got.error);
    BOOST_TEST((got.bytes == s.content.bytes));
    BOOST_TEST(s.liar.chunk_requests >= 1u);
    // A request to a silent peer used to hold the reader for 15 s.
    BOOST_TEST(took < 8.0, "took " << took << " s");
    const auto* honest = swarm->sources().find(s.honest_id.public_key());
    BOOST_TEST_REQUIRE(honest != nullptr);
    BOOST_TEST(honest->chunks >= proto::chunk_count(s.content.bytes.size()));
}

BOOST_AUTO_TEST_CASE(with_only_a_silent_peer_reads_fail_within_seconds) {
    Setup s(Behaviour::silent);
    s.start(false);
    const auto began = std::chrono::steady_clock::now();
    Fetched got;
    fetch_all(s, got);
    const double took = seconds_since(began);
    const auto failure = failure_text(got);
    BOOST_TEST_REQUIRE(!failure.empty());
    BOOST_TEST(failure.find("no answer within") != std::string::npos, failure);
    BOOST_TEST(s.liar.chunk_requests >= 2u); // asked again once before it was given up
    BOOST_TEST(took < 15.0, "took " << took << " s");
}

BOOST_AUTO_TEST_CASE(a_slow_peer_keeps_doing_what_it_can_beside_a_fast_one) {
    Setup s(Behaviour::slow);
    s.start(true);
    auto swarm = make_swarm(s);
    swarm->claimed_by(s.liar_id.public_key()); // asked first, so it surely gets work
    Fetched got;
    fetch_all(s, got, swarm);
    BOOST_TEST(!got.error);
    BOOST_TEST((got.bytes == s.content.bytes));
    const auto* slow = swarm->sources().find(s.liar_id.public_key());
    const auto* fast = swarm->sources().find(s.honest_id.public_key());
    BOOST_TEST_REQUIRE(slow != nullptr);
    BOOST_TEST_REQUIRE(fast != nullptr);
    BOOST_TEST(s.liar.chunks_sent >= 1u);
    BOOST_TEST(slow->chunks >= 1u);
    BOOST_TEST(!slow->bad);
    BOOST_TEST(!slow->lacks);
    BOOST_TEST(slow->strikes == 0);
    BOOST_TEST(fast->chunks > slow->chunks); // the fast one carried the stream
}

BOOST_AUTO_TEST_CASE(a_flooding_peer_is_told_overloaded_keeps_its_link_and_others_are_answered) {
    Setup s;
    const auto flood_id = peers::Identity::from_seed(test::seed_of(4));
    s.start_honest({&flood_id});
    s.client.emplace(s.io, s.client_id, s.client_roster, s.library, s.blocking, loopback_options("client"));
    s.client->start();
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return s.client->links().size() == 1u; }));

    struct Counts {
        std::size_t sent = 0, answered = 0, overloaded = 0;
        bool closed = false;
    } counts;
    const auto server = s.honest->local_endpoint();
    asio::co_spawn(s.io, [&]() -> awaitable<void> {
        auto ch = co_await dial_as(s.io, server, flood_id);
        asio::co_spawn(s.io, [&counts, channel = ch]() -> awaitable<void> {
            // Reads everything promptly: this peer is fast, just greedy.
            while (auto m = co_await channel->receive()) {
                if (auto* r = std::get_if<proto::Results>(&*m); r && r->final) ++counts.answered;
                if (auto* e = std::get_if<proto::Error>(&*m); e && e->code == proto::ErrorCode::overloaded) {
                    ++counts.answered;
                    ++counts.overloaded;
                }
            }
            counts.closed = true;
        }, asio::detached);
        // As fast as the link takes them: more than the 4096 messages the
        // link used to queue before it dropped a peer as "not reading".
        for (std::uint64_t i = 1; i <= 6000 && !counts.closed; ++i) {
            proto::Message q = proto::Query{i, "artist", "track " + std::to_string(i), "", "", std::nullopt};
            co_await ch->send(q);
            ++counts.sent;
        }
        while (!counts.closed && counts.answered < counts.sent) {
            asio::steady_timer t(s.io, 20ms);
            co_await t.async_wait(use_awaitable);
        }
        if (!counts.closed) co_await ch->close();
    }, asio::detached);
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return counts.answered >= 500u; }));

    // Mid-flood, another peer asks and is answered.
    bool answered = false;
    std::exception_ptr failure;
    const auto asked = std::chrono::steady_clock::now();
    auto link = s.client->links().front();
    asio::co_spawn(s.io, link->query(resolver::Query{"artist", "track", "", "", std::nullopt},
                                     [](std::vector<proto::ResultEntry>) {}, std::stop_token{}),
                   [&](std::exception_ptr e) {
                       answered = true;
                       failure = e;
                   });
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return answered; }, 10s));
    BOOST_TEST(!failure);
    BOOST_TEST(seconds_since(asked) < 2.0);
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return counts.answered == 6000u || counts.closed; }, 90s));
    BOOST_TEST(!counts.closed);                    // not dropped as "not reading"
    BOOST_TEST(counts.answered == counts.sent);    // every query got its answer...
    BOOST_TEST(counts.overloaded > 0u);    // ...most of them "slow down"
    BOOST_TEST(s.honest->links().size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_peer_that_breaks_the_protocol_is_told_why_and_the_link_closes_cleanly) {
    Setup s(Behaviour::double_hello);
    s.start(false, false);
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return s.liar.closed_cleanly || !s.liar.failure.empty(); }));
    BOOST_TEST(s.liar.failure.empty(), s.liar.failure); // a close record, not a cut connection
    BOOST_TEST(s.liar.closed_cleanly);
    BOOST_TEST_REQUIRE(s.liar.errors.size() == 1u);
    BOOST_TEST((s.liar.errors[0].code == proto::ErrorCode::bad_request));
    BOOST_TEST(s.liar.errors[0].ref_id == 0u);
    BOOST_TEST(s.liar.errors[0].message.find("a second Hello") != std::string::npos, s.liar.errors[0].message);
}

BOOST_AUTO_TEST_CASE(an_advisory_error_for_the_whole_link_does_not_close_it) {
    Setup s(Behaviour::advisory);
    s.start(false);
    Fetched got;
    fetch_all(s, got);
    BOOST_TEST(!got.error);
    BOOST_TEST((got.bytes == s.content.bytes));
    BOOST_TEST(s.client->links().size() == 1u);
    BOOST_TEST(s.liar.failure.empty(), s.liar.failure);
    BOOST_TEST(!s.liar.closed_cleanly);
}

BOOST_AUTO_TEST_CASE(a_leaf_layer_that_does_not_match_fails_the_read_and_keeps_the_link) {
    Setup s(Behaviour::bad_layer);
    s.start(false);
    Fetched got;
    fetch_all(s, got);
    const auto failure = failure_text(got);
    BOOST_TEST_REQUIRE(!failure.empty());
    BOOST_TEST(failure.find("leaf layer that does not match") != std::string::npos, failure);
    // Its genuine chunks came after the layer was refused: dropped, not a
    // protocol error that would end the link.
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return s.liar.chunks_sent >= 8u; }, 10s));
    run_for(s.io, 300ms);
    BOOST_TEST(s.client->links().size() == 1u);
    BOOST_TEST(s.liar.errors.empty());
    BOOST_TEST(s.liar.failure.empty(), s.liar.failure);
    BOOST_TEST(!s.liar.closed_cleanly);
    BOOST_TEST(s.liar.chunk_requests == 1u); // not asked again for that content
    for (std::uint64_t i = 0; i < proto::chunk_count(s.content.bytes.size()); ++i)
        BOOST_TEST(!s.cache.has(s.content.tree.root, i));
}

BOOST_AUTO_TEST_CASE(a_chunk_request_past_the_end_is_answered) {
    Setup s;
    const auto asker_id = peers::Identity::from_seed(test::seed_of(5));
    s.start_honest({&asker_id});
    std::vector<proto::Message> answers;
    bool done = false;
    const auto server = s.honest->local_endpoint();
    asio::co_spawn(s.io, [&]() -> awaitable<void> {
        auto ch = co_await dial_as(s.io, server, asker_id);
        const auto total = proto::chunk_count(s.content.bytes.size());
        proto::Message past = proto::ChunkRequest{7, s.content.tree.root, total + 100, 4};
        co_await ch->send(past);
        proto::Message at_end = proto::ChunkRequest{8, s.content.tree.root, total, 1};
        co_await ch->send(at_end);
        while (auto m = co_await ch->receive()) {
            if (std::holds_alternative<proto::Hello>(*m) || std::holds_alternative<proto::Ping>(*m)) continue;
            answers.push_back(std::move(*m));
            if (answers.size() == 3) break;
        }
        done = true;
    }, asio::detached);
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return done; }, 10s));
    BOOST_TEST_REQUIRE(answers.size() == 3u);
    // The layer first (it tells the size), then an Error for each request.
    const auto* leaves = std::get_if<proto::Leaves>(&answers[0]);
    BOOST_TEST_REQUIRE(leaves != nullptr);
    BOOST_TEST(leaves->size == s.content.bytes.size());
    for (std::size_t i = 1; i < 3; ++i) {
        const auto* e = std::get_if<proto::Error>(&answers[i]);
        BOOST_TEST_REQUIRE(e != nullptr);
        BOOST_TEST((e->code == proto::ErrorCode::bad_request));
        BOOST_TEST(e->ref_id == 6u + i);
    }
}

// Links against peers that misbehave, on real loopback connections:
//  - verified multi-source fetching with an honest peer (a PeerManager
//    serving a file) and a lying one (a hand-written peer that speaks the
//    protocol but flips bytes in every chunk it sends; its leaf layer is
//    genuine, so only per-chunk verification can catch it);
//  - a peer that never answers a query: the pipeline does not wait for it,
//    and cancelling the query sends it a Cancel.
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
class OneFile final : public peers::Library {
public:
    explicit OneFile(const Content& c) : c_(c) {}
    awaitable<std::vector<proto::ResultEntry>> search(peers::PeerRecord, resolver::Query) override {
        co_return std::vector<proto::ResultEntry>{};
    }
    awaitable<std::optional<peers::ServedContent>> content(peers::PeerRecord, proto::Hash id) override {
        if (id != c_.tree.root) co_return std::nullopt;
        co_return peers::ServedContent{c_.path, c_.bytes.size(),
                                       std::make_shared<const std::vector<proto::Hash>>(c_.tree.leaves)};
    }
    void content_changed(const std::string&) override {}

private:
    const Content& c_;
};

// A peer that follows the protocol but corrupts every chunk it sends.
struct Liar {
    Liar(asio::io_context& io, const peers::Identity& me, const Content& c)
        : acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)), me(me), c(c) {}
    tcp::acceptor acceptor;
    const peers::Identity& me;
    const Content& c;
    std::size_t chunk_requests = 0;
    std::size_t queries = 0, cancels = 0; // it never answers a query

    awaitable<void> serve_one() {
        auto socket = co_await acceptor.async_accept(use_awaitable);
        auto ch = co_await peers::Channel::accept(std::move(socket), me, [](const proto::PublicKey&) { return true; }, 5s);
        proto::Message hello = proto::Hello{1, "liar/1", "liar", proto::capability::serve_chunks};
        co_await ch->send(hello);
        while (auto m = co_await ch->receive()) {
            if (auto* ping = std::get_if<proto::Ping>(&*m)) {
                proto::Message pong = proto::Pong{ping->nonce};
                co_await ch->send(pong);
            } else if (std::holds_alternative<proto::Query>(*m)) {
                ++queries;
            } else if (std::holds_alternative<proto::Cancel>(*m)) {
                ++cancels;
            } else if (auto* req = std::get_if<proto::ChunkRequest>(&*m)) {
                ++chunk_requests;
                for (auto& l : proto::split_leaves(req->request_id, c.tree.root, c.bytes.size(), c.tree.leaves)) {
                    proto::Message leaves{std::move(l)};
                    co_await ch->send(leaves);
                }
                const auto total = proto::chunk_count(c.bytes.size());
                for (auto i = req->first_chunk; i < std::min<std::uint64_t>(total, req->first_chunk + req->count); ++i) {
                    const auto at = i * proto::chunk_size;
                    proto::Bytes data(c.bytes.begin() + static_cast<std::ptrdiff_t>(at),
                                      c.bytes.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(at + proto::chunk_size, c.bytes.size())));
                    data[data.size() / 2] ^= 0x5a;
                    proto::Message chunk = proto::ChunkData{req->request_id, c.tree.root, i, std::move(data)};
                    co_await ch->send(chunk);
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
    test::TempDir tmp{"earshot-swarm"};
    asio::io_context io;
    peers::Identity client_id = peers::Identity::from_seed(test::seed_of(1));
    peers::Identity honest_id = peers::Identity::from_seed(test::seed_of(2));
    peers::Identity liar_id = peers::Identity::from_seed(test::seed_of(3));
    Content content = make_content(tmp / "file.bin", 40 * proto::chunk_size + 1234);
    OneFile library{content};
    Liar liar{io, liar_id, content};
    peers::Roster honest_roster{tmp / "honest-peers.json"};
    peers::Roster client_roster{tmp / "client-peers.json"};
    core::Blocking blocking{2};
    std::optional<peers::PeerManager> honest, client;
    stream::ChunkCache cache{tmp / "cache", {}};

    void start(bool with_honest) {
        asio::co_spawn(io, liar.serve_one(), asio::detached);
        if (with_honest) {
            honest_roster.upsert(device(client_id, "client", ""));
            honest.emplace(io, honest_id, honest_roster, library, blocking, loopback_options("honest"));
            honest->start();
            client_roster.upsert(device(honest_id, "honest", address_of(honest->local_endpoint())));
        }
        client_roster.upsert(device(liar_id, "liar", address_of(liar.acceptor.local_endpoint())));
        client.emplace(io, client_id, client_roster, library, blocking, loopback_options("client"));
        client->start();
        const std::size_t want = with_honest ? 2 : 1;
        BOOST_TEST_REQUIRE(run_until(io, [&] { return client->links().size() == want; }));
    }
};

struct Fetched {
    bool done = false;
    std::exception_ptr error;
    proto::Bytes bytes;
};

void fetch_all(Setup& s, Fetched& out) {
    auto swarm = std::make_shared<stream::Swarm>(s.io.get_executor(), *s.client, s.cache, s.blocking, s.content.tree.root);
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
    BOOST_TEST_REQUIRE(static_cast<bool>(got.error));
    try {
        std::rethrow_exception(got.error);
    } catch (const std::exception& e) {
        BOOST_TEST(std::string(e.what()).find("failed verification") != std::string::npos, e.what());
    }
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
                                 {std::make_shared<peers::PeerSource>(link, "liar", nullptr), 1.0, 30000ms}});
    const auto qid = resolver.start(resolver::Query{"A", "T", "", "", std::nullopt});
    BOOST_TEST_REQUIRE(run_until(s.io, [&] { return s.liar.queries == 1u; }, 5s));
    const auto snap = resolver.snapshot(qid);
    BOOST_TEST_REQUIRE(snap.has_value());
    BOOST_TEST(snap->solved);     // the local answer is there at once...
    BOOST_TEST(!snap->finished);  // ...while the peer is still "thinking"
    BOOST_TEST(resolver.cancel(qid));
    BOOST_TEST(run_until(s.io, [&] { return s.liar.cancels == 1u; }, 5s));
}

// One live link to a paired peer: the encrypted channel plus everything
// that runs over it. Both directions are served at once:
//  - as a client we send Query and ChunkRequest and route the answers back
//    to the coroutine that asked (query(), fetch());
//  - as a server we answer the peer's Query and ChunkRequest from the
//    library, strictly within what that peer may see (peers::Offering).
// One coroutine reads, one writes (sends never overlap), one pings, and one
// per request being answered; all on the daemon's io_context, so the link
// needs no locks. What may block (the library's index and file reads, chunk
// hashing) runs on the blocking pool, awaited: a file that hangs delays the
// answer to the request that needs it, never this link's pings or its other
// requests, nor other links.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/core/event.hpp"
#include "daemon/peers/channel.hpp"
#include "daemon/peers/roster.hpp"
#include "resolver/query.hpp"

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <variant>
#include <vector>

namespace earshot::peers {

// The content a peer asked for, as far as it may see it: a file of the
// library (read and checked against its indexed leaves chunk by chunk), or
// verified chunks held elsewhere (the chunk cache, for own devices).
struct ServedContent {
    std::string path; // empty when read_chunk serves it
    std::uint64_t size = 0;
    std::shared_ptr<const std::vector<proto::Hash>> leaves; // the indexed (or verified) leaf layer
    // Chunk i, already verified, or nullopt if not held; called on the
    // blocking pool.
    std::function<std::optional<proto::Bytes>(std::uint64_t)> read_chunk;
};

// What the daemon offers its peers: a search and the files behind content
// ids, each within what that peer may see (not the library itself:
// library::Library is that). Implemented by peers::ServedLibrary over the
// index; every call is made on the io_context, and the awaitable ones do
// their index reads and stat() calls off it.
class Offering {
public:
    virtual ~Offering() = default;
    // The best matches for q among the files `who` may see (hashed tracks only:
    // a peer can fetch nothing else).
    virtual awaitable<std::vector<proto::ResultEntry>> search(PeerRecord who, resolver::Query q) = 0;
    // The file behind a content id, if `who` may see one that is still the
    // indexed bytes as far as its stamp tells.
    virtual awaitable<std::optional<ServedContent>> content(PeerRecord who, proto::Hash id) = 0;
    // Bytes read from `path` no longer match its index entry: rescan it.
    virtual void content_changed(const std::string& path) = 0;
};

// A content's complete leaf layer, verified against its id.
struct LeafLayer {
    std::uint64_t size = 0;
    std::vector<proto::Hash> leaves;
};

// Chunks of one content from one peer, each handed over as it arrives
// (unverified against the leaf layer: the caller does that, it knows which
// source to blame).
struct FetchResult {
    std::optional<std::string> error; // set if the peer refused or the link failed
    proto::ErrorCode code = proto::ErrorCode::internal;
    std::size_t chunks = 0;           // how many on_chunk() calls were made
    bool timed_out = false;           // cut: no chunk came within the timeout
    bool layer_rejected = false;      // the peer's leaf layer did not match the content id
};

struct LinkStats {
    std::optional<double> latency_ms; // last ping round trip
    std::int64_t connected_ms = 0;    // unix ms
    std::uint64_t bytes_served = 0, bytes_fetched = 0;
};

class Link : public std::enable_shared_from_this<Link> {
public:
    Link(asio::any_io_executor ex, std::unique_ptr<Channel> channel, PeerRecord record, Offering& library,
         core::Blocking& blocking, std::string our_name, std::string remote_address, bool we_dialled);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // Runs the link: Hello both ways, then serves and routes until either
    // side closes or it fails. Returns (never throws) once the link is gone;
    // every pending query()/fetch() has completed by then.
    awaitable<void> run();
    // Called once, when the peer's Hello arrived (the link is usable).
    void on_ready(std::function<void()> f) { on_ready_ = std::move(f); }
    // Ends the link (clean close record); run() returns soon after.
    void close(std::string why);

    const PeerRecord& record() const { return record_; }
    void update_record(PeerRecord r) { record_ = std::move(r); }
    const proto::PublicKey& key() const { return record_.key; }
    const std::string& remote_address() const { return remote_address_; }
    bool we_dialled() const { return we_dialled_; }
    // Hello arrived and the link is not closing.
    bool ready() const { return hello_.has_value() && !closing_; }
    std::string hello_name() const { return hello_ ? hello_->name : std::string(); }
    const LinkStats& stats() const { return stats_; }

    // Asks the peer; on_entries gets each Results batch. Completes when the
    // peer's final Results came, `stop` was requested (a Cancel is sent), or
    // the link died (then throws std::runtime_error).
    awaitable<void> query(resolver::Query q, std::function<void(std::vector<proto::ResultEntry>)> on_entries,
                          std::stop_token stop);

    // The verified leaf layer of a content id on this link, fetched with the
    // first chunk request for it (nullptr before, or if the peer's layer did
    // not match the id: then the fetch failed).
    std::shared_ptr<const LeafLayer> leaves(const proto::Hash& content) const;

    // Requests chunks first..first+count-1; on_chunk(index, bytes) is called
    // for each as it arrives. Completes when all that exist arrived, the
    // peer refused, the link died, or `timeout` passed without a chunk (of
    // this request or any other on the link) and the peer proved it is
    // there (it answered a Ping sent then): a busy peer or a path that is
    // down does not cut requests, a peer that ignores them does.
    awaitable<FetchResult> fetch(proto::Hash content, std::uint64_t first, std::uint32_t count,
                                 std::function<void(std::uint64_t, proto::Bytes)> on_chunk,
                                 std::chrono::milliseconds timeout);

private:
    struct PendingQuery;
    struct PendingFetch;
    using Outgoing = proto::Message;

    awaitable<void> read_loop();
    awaitable<void> write_loop();
    awaitable<void> ping_loop();
    void enqueue(Outgoing item);
    void handle(proto::Message m);
    void on_query(const proto::Query&);
    awaitable<void> answer_query(proto::Query q);
    void on_chunk_request(const proto::ChunkRequest&);
    void on_results(proto::Results);
    void on_chunk_data(proto::ChunkData);
    void on_leaves(proto::Leaves);
    void on_error(const proto::Error&);
    awaitable<void> serve(proto::ChunkRequest req);
    awaitable<void> serve_held(const proto::ChunkRequest& req, const ServedContent& content, std::uint64_t total);
    // Whether the peer may ask another query now (a token bucket per link).
    bool query_allowed();
    void ping();
    void fail_pending(const std::string& why);
    std::uint64_t next_id() { return ++last_id_; }
    void touch();

    std::unique_ptr<Channel> channel_;
    PeerRecord record_;
    Offering& library_;
    core::Blocking& blocking_;
    std::string our_name_;
    std::string remote_address_;
    bool we_dialled_;
    asio::any_io_executor ex_;

    std::optional<proto::Hello> hello_;
    std::function<void()> on_ready_;
    bool closing_ = false;
    bool writer_done_ = false;
    std::string close_reason_;
    std::optional<proto::Error> farewell_; // sent before our close record (a protocol violation)
    std::deque<Outgoing> outgoing_;
    core::Event outgoing_ready_;
    // Answers being prepared for the peer, and the chunks they queued that
    // the writer has not sent yet: a request reads ahead only this far.
    std::size_t serving_ = 0, queries_answering_ = 0, queued_chunks_ = 0;
    core::Event chunk_sent_;
    core::Event outgoing_drained_; // the writer brought the queue below read_pause_at
    double query_tokens_;
    std::chrono::steady_clock::time_point query_tokens_at_;
    std::chrono::steady_clock::time_point throttled_until_{}; // a flooding peer is not read before this
    core::Event state_changed_; // the Hello came, the writer ended, or the link is going down (requests have their own)
    std::chrono::steady_clock::time_point last_heard_;
    std::chrono::steady_clock::time_point last_chunk_at_{}; // the last ChunkData of any of our requests

    std::uint64_t last_id_ = 0;
    std::map<std::uint64_t, std::shared_ptr<PendingQuery>> queries_;
    std::map<std::uint64_t, std::shared_ptr<PendingFetch>> fetches_;
    std::map<proto::Hash, std::shared_ptr<const LeafLayer>> verified_leaves_;
    std::map<proto::Hash, LeafLayer> assembling_;
    std::set<proto::Hash> rejected_layers_; // layers that did not match their id: never asked again here
    std::map<proto::Hash, bool> leaves_sent_; // server side: layers already sent on this link
    std::map<std::uint64_t, std::chrono::steady_clock::time_point> pings_;
    LinkStats stats_;
};

} // namespace earshot::peers

// Fetching one content id from every linked peer that holds it, and serving
// nothing that is not verified. The leaf layer comes from the first peer
// that answers and is checked against the content id; every chunk is then
// checked against its leaf before it enters the cache, and only the cache
// feeds readers. A peer whose chunk or layer fails is penalised: it gets
// nothing more to do for this content, and its chunks are fetched from the
// others. When no linked peer can supply a chunk the read fails, so a
// player sees an error, never wrong bytes.
//
// Read-ahead: a reader asking for chunk i makes the swarm request the
// window i..i+w. w starts at 512 KiB and doubles (to 16 MiB) each time a
// reader had to wait, so a slow or distant link gets a deeper pipeline and a
// fast one stays shallow. A seek simply starts a new window where it lands.
//
// Whom to ask, how long to wait and when to ask a second peer for a chunk a
// reader waits on is SourceBook's policy (sources.hpp): claimers first,
// deadlines from each peer's measured rate and round trip, hedged requests,
// and a peer that stays silent benched after a few seconds.
//
// Threads: the swarm lives on the io thread (where the link decrypts what
// arrives); each chunk's verification and cache write run on the blocking
// pool, so decrypting the next chunk and hashing and writing this one use
// both cores, and a slow disk delays only this content's readers.
#pragma once

#include "daemon/core/blocking.hpp"
#include "daemon/core/event.hpp"
#include "daemon/http/backend.hpp"
#include "daemon/peers/manager.hpp"
#include "daemon/stream/chunk_cache.hpp"
#include "daemon/stream/sources.hpp"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace earshot::stream {

class Swarm : public std::enable_shared_from_this<Swarm> {
public:
    Swarm(asio::any_io_executor ex, peers::PeerManager& peers, ChunkCache& cache, core::Blocking& blocking,
          proto::Hash id);

    const proto::Hash& id() const { return id_; }
    // The size, once known (from the cache or the first peer's leaf layer).
    std::optional<std::uint64_t> size() const;
    // Learns the size and leaf layer (from the cache or a peer) if not known
    // yet; throws std::runtime_error if no peer can supply it in time.
    awaitable<std::uint64_t> open();
    // A verified chunk, fetching it (and the window after it) if needed.
    // Throws std::runtime_error when no source can supply a verified copy.
    awaitable<proto::Bytes> chunk(std::uint64_t index);
    // Requests every chunk not held (pins). Returns when all are cached, or
    // throws like chunk().
    awaitable<void> fetch_all(std::function<void(std::uint64_t done, std::uint64_t total)> progress);

    // This peer returned the content in its Results: it is asked first.
    void claimed_by(const proto::PublicKey& key) { book_.claimed(key); }
    // What the swarm knows of each peer it asked (for status and tests).
    const SourceBook& sources() const { return book_; }

    // How long a read waits for a source to (re)appear before it fails.
    static constexpr std::chrono::seconds source_wait{20};

private:
    void pump(std::uint64_t from, std::uint64_t count);
    // Asks another peer for the chunks from `index` when every peer asked
    // for it has been silent too long; returns when to look again.
    std::chrono::steady_clock::duration hedge(std::uint64_t index);
    std::shared_ptr<peers::Link> pick_source(std::span<const proto::PublicKey> exclude = {});
    void start_run(std::shared_ptr<peers::Link> link, std::uint64_t first, std::uint64_t end);
    awaitable<void> fetch_run(std::shared_ptr<peers::Link> link, std::uint64_t first, std::uint32_t count);
    bool accept_leaves(const std::shared_ptr<peers::Link>& link);
    bool any_source_possible() const;
    bool held(std::uint64_t index) const;
    void remember_fresh(std::uint64_t index, proto::Bytes data);
    [[noreturn]] void fail(std::uint64_t index) const;

    struct Run;
    struct ToStore {
        std::shared_ptr<Run> run;
        std::uint64_t index = 0;
        proto::Bytes data;
        bool stored = false;
    };
    void queue_store(std::shared_ptr<Run> run, std::uint64_t index, proto::Bytes data);
    void start_storing();
    awaitable<void> drain_stores();
    awaitable<std::optional<proto::Bytes>> cached(std::uint64_t index);
    // Reads the cached chunks after `index` ahead of the reader, several at a
    // time, so a replay hashes on every core while the io thread sends.
    void read_ahead(std::uint64_t index);
    awaitable<void> read_ahead_run(std::uint64_t first, std::uint64_t count);

    asio::any_io_executor ex_;
    peers::PeerManager& peers_;
    ChunkCache& cache_;
    core::Blocking& blocking_;
    proto::Hash id_;
    std::optional<std::uint64_t> size_;
    std::shared_ptr<const peers::LeafLayer> leaves_;
    SourceBook book_;
    // Chunks asked for and not stored yet, with the peers asked (more than
    // one when a request was hedged).
    std::map<std::uint64_t, std::vector<proto::PublicKey>> in_flight_;
    // Chunks fetched and verified but not read yet, so a sequential reader
    // gets them without a disk round trip and a second hash.
    std::map<std::uint64_t, proto::Bytes> fresh_;
    std::set<std::uint64_t> reading_ahead_; // cached chunks being read into fresh_
    std::vector<ToStore> to_store_; // verified and written by drain_stores(), in batches
    bool layer_unsaved_ = false;    // the layer arrived; drain_stores() writes it before any chunk
    bool store_running_ = false;
    std::uint64_t window_ = 8;
    std::string last_error_;
    core::Event progress_;
};

// The bytes of a remote sid for the HTTP layer.
class RemoteStream final : public http::ByteSource {
public:
    RemoteStream(std::shared_ptr<Swarm> swarm, std::uint64_t size, std::string mimetype)
        : swarm_(std::move(swarm)), size_(size), mimetype_(std::move(mimetype)) {}
    std::uint64_t size() const override { return size_; }
    std::string mimetype() const override { return mimetype_; }
    awaitable<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) override;

private:
    std::shared_ptr<Swarm> swarm_;
    std::uint64_t size_;
    std::string mimetype_;
};

} // namespace earshot::stream

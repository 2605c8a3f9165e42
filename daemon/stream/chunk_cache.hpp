// Verified chunks of remote content, kept on disk so replay and seeking
// back cost nothing, bounded by size with least-recently-used eviction;
// pinned content is kept whole, never evicted and outside the bound.
//
// Layout: DIR/<content hex>/ holds
//   data      a sparse file, chunk i at i * 64 KiB, written and read past the
//             page cache (O_DIRECT, core/direct_io.hpp) where the filesystem
//             allows: the cache keeps no second copy in memory;
//   leaves    the content size + verified leaf layer (written once, atomically);
//   used      one u64 last-use stamp per chunk, updated in place (8 bytes a use);
//   pin.json  for pinned content: {"size", "meta"} (replaced atomically).
// Which chunks are present is read back from the data file's extents
// (SEEK_DATA/SEEK_HOLE) and eviction punches holes, so there is no presence
// bitmap to keep consistent with the bytes, nothing is rewritten per chunk,
// and evicted space really returns to the filesystem.
//
// Crash safety: every chunk is verified against its leaf on each get(), so
// bookkeeping that a crash left stale can only cost a refetch, never hand a
// player wrong bytes: a chunk half-written at the moment of a kill -9 looks
// present after a restart, fails verification on its first get() and is
// dropped; a lost `used` stamp (power loss) only makes that chunk look old,
// i.e. changes which chunk is evicted first. The leaf layer itself is checked
// against the content id (proto::root_from_leaves) when it is read back.
#pragma once

#include "daemon/core/direct_io.hpp"
#include "proto/bytes.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <span>
#include <tuple>
#include <utility>
#include <vector>

namespace earshot::core {
class Fd;
}

namespace earshot::stream {

struct CacheOptions {
    // Bound for UNPINNED chunk bytes. The chunk used last is never evicted,
    // so a bound below one chunk (e.g. 0) still lets a just-fetched chunk be
    // read back once; at most that one chunk exceeds the bound.
    std::uint64_t max_bytes = 2ull << 30;
    // Chunks past the page cache (O_DIRECT) where the filesystem takes it;
    // false: always through it (what a filesystem that refuses gets anyway).
    bool direct_io = true;
};

struct PinInfo {
    proto::Hash content{};
    std::uint64_t size = 0;
    std::uint64_t chunks_held = 0;
    std::uint64_t chunks_total = 0;
    nlohmann::json meta;
    bool complete() const { return chunks_held == chunks_total; }
};

class ChunkCache {
public:
    // Creates dir (0700) and reads back what an earlier run left there:
    // layers, chunks (by the data files' extents), pins and LRU order.
    // Unpinned content of which no chunk is left is removed.
    ChunkCache(std::filesystem::path dir, CacheOptions options);
    ~ChunkCache();
    ChunkCache(const ChunkCache&) = delete;
    ChunkCache& operator=(const ChunkCache&) = delete;

    // The size and complete leaf layer of a content, already verified by the
    // caller against its id. Needed before any chunk of it is put. A layer
    // already known is kept (the id fixes it); throws std::invalid_argument
    // if the number of leaves does not fit the size.
    void put_leaves(const proto::Hash& content, std::uint64_t size, std::span<const proto::Hash> leaves);
    std::optional<std::pair<std::uint64_t, std::vector<proto::Hash>>> leaves(const proto::Hash& content) const;

    // Stores a chunk. Throws std::invalid_argument without a layer for the
    // content, for an index past the end, or for bytes that do not match
    // their leaf or length (checked again here: the cache only ever holds
    // verified bytes). A full disk loses the cache entry (logged), not the call.
    void put(const proto::Hash& content, std::uint64_t chunk, proto::ByteView data);
    // Several chunks of one content, each checked and kept as put() would;
    // runs of neighbouring chunks (how a stream's arrive) are written with
    // one system call each. Per chunk: whether it was taken (false where put()
    // would throw).
    struct ChunkRef {
        std::uint64_t index = 0;
        proto::ByteView data;
    };
    std::vector<bool> put_many(const proto::Hash& content, std::span<const ChunkRef> chunks);
    // The chunk, verified again against its leaf; nullopt if missing, and
    // nullopt + dropped if the bytes on disk went bad. Counts as a use.
    std::optional<proto::Bytes> get(const proto::Hash& content, std::uint64_t chunk);
    // Chunks first .. first + count - 1 (cut at the end of the content), as
    // get() each; neighbouring present chunks are read with one system call.
    std::vector<std::optional<proto::Bytes>> get_many(const proto::Hash& content, std::uint64_t first,
                                                      std::uint64_t count);
    // Whether the chunk is believed present (not re-verified: get() does that).
    bool has(const proto::Hash& content, std::uint64_t chunk) const;

    // Pins keep every chunk of the content past eviction and outside the
    // bound; meta is the caller's free JSON, kept with the pin. Pinning needs
    // no layer yet, and keeps chunks already cached. When the layer is known
    // its size (verified) wins over `size`. Pinning again replaces meta.
    void pin(const proto::Hash& content, std::uint64_t size, nlohmann::json meta);
    // Turns the content's chunks into ordinary LRU entries, in the order of
    // their last use; false if it was not pinned.
    bool unpin(const proto::Hash& content);
    bool pinned(const proto::Hash& content) const;
    // The meta of this content's pin; nullopt when it is not pinned.
    std::optional<nlohmann::json> pin_meta(const proto::Hash& content) const;
    std::vector<PinInfo> pins() const;

    std::uint64_t unpinned_bytes() const;
    std::uint64_t pinned_bytes() const;

private:
    struct Entry;
    // (last-use stamp, content, chunk): the set's first element is the least
    // recently used unpinned chunk.
    using LruKey = std::tuple<std::uint64_t, proto::Hash, std::uint64_t>;

    // The leaf a chunk of `length` bytes must hash to; throws like put().
    proto::Hash expected_leaf(const proto::Hash& content, std::uint64_t chunk, std::size_t length) const;
    Entry* find(const proto::Hash& content) const;
    Entry& entry(const proto::Hash& content);
    void load(const std::filesystem::path& sub, const proto::Hash& id);
    void adopt_layer(Entry& e, std::uint64_t size, std::vector<proto::Hash> leaves);
    void scan_extents(Entry& e);
    void account(const proto::Hash& content, Entry& e, std::int64_t sign);
    void touch(const proto::Hash& content, Entry& e, std::uint64_t chunk);
    void forget(const proto::Hash& content, Entry& e, std::uint64_t chunk);
    void evict(const proto::Hash* keep_content, std::uint64_t keep_chunk);
    void save_pin(const Entry& e) const;
    // The content's files, open (kept open for the contents used last):
    // `data` buffered, `direct` the same file with O_DIRECT (null where the
    // filesystem refuses it), and `used`. data and used may be failed Fds
    // when the disk refuses.
    struct Files {
        std::shared_ptr<const core::Fd> data, direct, used;
    };
    Files files(Entry& e);
    // Chunk transfers of the data file: a run of neighbouring chunks in one
    // direct request where every piece is aligned and the filesystem takes
    // O_DIRECT, else chunk by chunk through the page cache (a single chunk
    // is a run of one). write_run: written[i] (errno in error[i]) for each i
    // in `run`; read_run: ok[i] for out[i] = chunk first + i.
    void write_run(const Files& f, std::span<const ChunkRef> chunks, std::span<const std::size_t> run,
                   std::vector<bool>& written, std::vector<int>& error);
    void read_run(const Files& f, std::uint64_t first, std::span<proto::Bytes> out, std::span<const std::size_t> run,
                  std::vector<bool>& ok);
    bool direct_usable(const Files& f) const;
    // After a failed direct open or transfer: EINVAL means the filesystem
    // refuses O_DIRECT, so every later transfer is buffered (logged once).
    void note_direct_failure(const char* what);
    // put_many's body: per chunk, why it was refused (empty when taken).
    std::vector<std::string> store(const proto::Hash& content, std::span<const ChunkRef> chunks);

    std::filesystem::path dir_;
    CacheOptions options_;
    // The cache is called from the blocking pool's threads (and, for the
    // cheap in-memory questions, from the io thread): the mutex guards every
    // member below. Hashing happens outside it.
    mutable std::mutex mutex_;
    std::map<proto::Hash, std::unique_ptr<Entry>> entries_;
    std::set<LruKey> lru_;
    std::uint64_t next_stamp_ = 1;
    std::uint64_t opened_uses_ = 0;
    std::uint64_t unpinned_bytes_ = 0, pinned_bytes_ = 0;

    // Set when O_DIRECT is off (CacheOptions::direct_io) or once it is
    // refused (EINVAL), at open or on a transfer: from then on every transfer
    // is buffered. Read and written without mutex_.
    std::atomic<bool> direct_refused_{false};
    core::DirectBuffers bounce_;
};

} // namespace earshot::stream

// The on-disk index: one LMDB environment in the data directory. Every write
// is one LMDB transaction, so kill -9 or power loss leaves either the state
// before or after a batch, never a half-written track.
#pragma once

#include "daemon/index/track.hpp"

#include <lmdb.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <vector>

namespace earshot::index {

class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Store;

// A read-only snapshot. Cheap to open; many may be open at once on any thread.
class ReadTxn {
public:
    std::optional<Track> track(TrackId) const;
    std::optional<TrackId> track_id_by_path(std::string_view path) const;
    std::vector<TrackId> tracks_with_content(const proto::Hash&) const;
    std::optional<std::vector<proto::Hash>> leaves(const proto::Hash&) const;
    std::optional<Failure> failure(std::string_view path) const;
    std::vector<std::uint32_t> fingerprint(TrackId) const;
    // Tracks sharing fingerprint terms with `terms`, with how many they share, most first.
    std::vector<std::pair<TrackId, std::uint32_t>> fingerprint_candidates(std::span<const std::uint32_t> terms,
                                                                          std::uint32_t min_shared) const;
    void for_each_track(const std::function<void(const Track&)>&) const;
    void for_each_failure(const std::function<void(const Failure&)>&) const;
    std::size_t track_count() const;
    std::size_t failure_count() const;

protected:
    friend class Store;
    ReadTxn(const Store& store, MDB_txn* txn) : store_(&store), txn_(txn) {}
    const Store* store_;
    MDB_txn* txn_;
};

// A write transaction; all of its changes commit together or not at all.
class WriteTxn : public ReadTxn {
public:
    // Inserts or replaces a track; assigns t.id (and a fresh recording id
    // when t.recording is 0) before writing.
    void put_track(Track& t);
    // Removes a track with its path entry, content entry, fingerprint and
    // terms, and the leaf layer once no track holds that content any more.
    void erase_track(TrackId);
    void put_leaves(const proto::Hash& content, std::span<const proto::Hash> leaves);
    void put_failure(const Failure&);
    void erase_failure(std::string_view path);
    void put_fingerprint(TrackId, std::span<const std::uint32_t> fp, std::span<const std::uint32_t> terms);

private:
    friend class Store;
    WriteTxn(const Store& store, MDB_txn* txn) : ReadTxn(store, txn) {}
    void erase_fingerprint(TrackId);
    // Removes id from the content index, and the leaf layer with the last holder.
    void drop_content(const proto::Hash& content, TrackId id);
    std::uint64_t next_counter(std::string_view name);
};

class Store {
public:
    static constexpr std::size_t default_map_size = std::size_t{256} << 20;
    // The map grows (doubling) whenever it fills; the initial size only
    // matters to tests that want to see it grow.
    explicit Store(const std::filesystem::path& dir, std::size_t initial_map_size = default_map_size);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Runs fn in a read snapshot.
    template <class Fn>
    auto read(Fn&& fn) const {
        std::shared_lock lock(resize_mutex_);
        auto txn = begin(true);
        ReadTxn r(*this, txn.get());
        return fn(static_cast<const ReadTxn&>(r));
    }

    // Runs fn in a write transaction and commits it. When the map is full the
    // transaction is rolled back, the map doubled, and fn run again, so fn
    // must only touch the database (and state it can recompute).
    void write(const std::function<void(WriteTxn&)>& fn);

    std::uint64_t map_size() const;

    // Unmaps the index pages this process has touched (a bulk read at start-up
    // or during a scan touches every track record). They stay in the page
    // cache and fault back in on the next read; the daemon just stops
    // carrying the whole index in its resident set for months.
    void release_mapped_pages() const;

private:
    friend class ReadTxn;
    friend class WriteTxn;
    struct TxnAbort {
        void operator()(MDB_txn* t) const { mdb_txn_abort(t); }
    };
    using TxnPtr = std::unique_ptr<MDB_txn, TxnAbort>;
    TxnPtr begin(bool read_only) const;
    void grow();

    std::string data_file_; // " /abs/path/data.mdb", as /proc/self/maps ends its line
    MDB_env* env_ = nullptr;
    MDB_dbi meta_{}, tracks_{}, paths_{}, content_{}, leaves_{}, failures_{}, fingerprints_{}, terms_{};
    // LMDB may only resize its map while no transaction of this process is
    // open: readers hold this shared, a resize holds it exclusively.
    mutable std::shared_mutex resize_mutex_;
    std::mutex write_mutex_;
};

} // namespace earshot::index

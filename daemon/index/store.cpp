#include "daemon/index/store.hpp"

#include <sodium.h>
#include <sys/mman.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <type_traits>
#include <unordered_map>

namespace earshot::index {
namespace {

constexpr std::uint32_t schema_version = 1;
// A fingerprint term held by this many tracks says nothing about any one of
// them (silence, a test tone); skipping it bounds the cost of a lookup.
constexpr std::size_t max_term_postings = 2000;

struct MapFull {};

void check(int rc, std::string_view what) {
    if (rc == MDB_MAP_FULL) throw MapFull{};
    if (rc != MDB_SUCCESS) throw StoreError(std::string(what) + ": " + mdb_strerror(rc));
}

// MDB_val points into its argument: it must outlive the MDB_val. Passing a
// temporary straight into an LMDB call is fine; keeping the result is not.
template <class T>
    requires std::is_trivially_copyable_v<T>
MDB_val val_of(const T& v) {
    return {sizeof(T), const_cast<T*>(&v)};
}
template <class T>
    requires std::is_trivially_copyable_v<T>
MDB_val val_of(const T&& v) = delete; // would dangle

MDB_val val_of(proto::ByteView b) { return {b.size(), const_cast<std::uint8_t*>(b.data())}; }

proto::ByteView view(const MDB_val& v) { return {static_cast<const std::uint8_t*>(v.mv_data), v.mv_size}; }

template <class T>
T scalar(const MDB_val& v) {
    if (v.mv_size != sizeof(T)) throw StoreError("corrupt index: unexpected value size");
    T out;
    std::memcpy(&out, v.mv_data, sizeof(T));
    return out;
}

// Paths can be longer than LMDB's 511-byte key limit, so they are keyed by a
// 128-bit hash; the record itself keeps the full path and is compared on lookup.
using PathKey = std::array<std::uint8_t, 16>;
PathKey path_key(std::string_view path) {
    PathKey k;
    crypto_generichash(k.data(), k.size(), reinterpret_cast<const unsigned char*>(path.data()), path.size(), nullptr, 0);
    return k;
}

struct CursorClose {
    void operator()(MDB_cursor* c) const { mdb_cursor_close(c); }
};
using CursorPtr = std::unique_ptr<MDB_cursor, CursorClose>;

CursorPtr open_cursor(MDB_txn* txn, MDB_dbi dbi) {
    MDB_cursor* c = nullptr;
    check(mdb_cursor_open(txn, dbi, &c), "open cursor");
    return CursorPtr(c);
}

std::optional<MDB_val> get(MDB_txn* txn, MDB_dbi dbi, MDB_val key) {
    MDB_val data;
    const int rc = mdb_get(txn, dbi, &key, &data);
    if (rc == MDB_NOTFOUND) return std::nullopt;
    check(rc, "read");
    return data;
}

void del(MDB_txn* txn, MDB_dbi dbi, MDB_val key, MDB_val* data = nullptr) {
    const int rc = mdb_del(txn, dbi, &key, data);
    if (rc != MDB_NOTFOUND) check(rc, "delete");
}

} // namespace

Store::Store(const std::filesystem::path& dir, std::size_t initial_map_size) {
    std::filesystem::create_directories(dir);
    data_file_ = " " + std::filesystem::weakly_canonical(dir / "data.mdb").string();
    check(mdb_env_create(&env_), "mdb_env_create");
    try {
        check(mdb_env_set_maxdbs(env_, 16), "mdb_env_set_maxdbs");
        check(mdb_env_set_mapsize(env_, initial_map_size), "mdb_env_set_mapsize");
        // NOTLS: read snapshots are not tied to a thread, so a coroutine or a
        // worker may hold one while another thread opens its own.
        check(mdb_env_open(env_, dir.c_str(), MDB_NOTLS, 0600), "open index at " + dir.string());
        // An existing index may already be bigger than the initial map.
        MDB_envinfo info;
        mdb_env_info(env_, &info);
        if (info.me_mapsize < initial_map_size) check(mdb_env_set_mapsize(env_, initial_map_size), "mapsize");

        auto txn = begin(false);
        auto open = [&](const char* name, unsigned flags) {
            MDB_dbi dbi;
            check(mdb_dbi_open(txn.get(), name, flags | MDB_CREATE, &dbi), std::string("open table ") + name);
            return dbi;
        };
        meta_ = open("meta", 0);
        tracks_ = open("tracks", MDB_INTEGERKEY);
        paths_ = open("paths", 0);
        content_ = open("content", MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP);
        leaves_ = open("leaves", 0);
        failures_ = open("failures", 0);
        fingerprints_ = open("fingerprints", MDB_INTEGERKEY);
        terms_ = open("fpterms", MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP);

        const std::string_view schema_key = "schema";
        if (auto v = get(txn.get(), meta_, val_of(proto::as_bytes(schema_key)))) {
            if (const auto found = scalar<std::uint32_t>(*v); found != schema_version)
                throw StoreError("index at " + dir.string() + " has schema " + std::to_string(found) +
                                 ", this earshotd understands " + std::to_string(schema_version));
        } else {
            MDB_val key = val_of(proto::as_bytes(schema_key)), data = val_of(schema_version);
            check(mdb_put(txn.get(), meta_, &key, &data, 0), "write schema");
        }
        check(mdb_txn_commit(txn.release()), "commit");
    } catch (...) {
        mdb_env_close(env_);
        throw;
    }
}

Store::~Store() { mdb_env_close(env_); }

Store::TxnPtr Store::begin(bool read_only) const {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(env_, nullptr, read_only ? MDB_RDONLY : 0, &txn);
    if (rc == MDB_MAP_RESIZED) {
        // Another process grew the map (a second tool reading the index).
        check(mdb_env_set_mapsize(env_, 0), "adopt new map size");
        rc = mdb_txn_begin(env_, nullptr, read_only ? MDB_RDONLY : 0, &txn);
    }
    check(rc, "begin transaction");
    return TxnPtr(txn);
}

std::uint64_t Store::map_size() const {
    MDB_envinfo info;
    mdb_env_info(env_, &info);
    return info.me_mapsize;
}

void Store::release_mapped_pages() const {
    // LMDB does not say where it mapped the file (me_mapaddr is only set for
    // MDB_FIXEDMAP), so find the mapping of data.mdb in /proc/self/maps. The
    // map is read-only and shared (no MDB_WRITEMAP): dropping its pages loses
    // nothing, the file is their only copy and they are re-read on demand.
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        if (!line.ends_with(data_file_)) continue;
        std::uintptr_t start = 0, end = 0;
        if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &start, &end) != 2 || end <= start) continue;
        ::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
    }
}

void Store::grow() {
    std::unique_lock lock(resize_mutex_);
    check(mdb_env_set_mapsize(env_, map_size() * 2), "grow index map");
}

void Store::write(const std::function<void(WriteTxn&)>& fn) {
    std::lock_guard writer(write_mutex_);
    for (;;) {
        try {
            std::shared_lock lock(resize_mutex_);
            auto txn = begin(false);
            WriteTxn w(*this, txn.get());
            fn(w);
            check(mdb_txn_commit(txn.release()), "commit");
            return;
        } catch (const MapFull&) {
            // The transaction has been aborted (or its commit failed, which
            // also frees it); grow outside any transaction and replay.
        }
        grow();
    }
}

// ---- reads ----

std::optional<Track> ReadTxn::track(TrackId id) const {
    auto v = get(txn_, store_->tracks_, val_of(id));
    if (!v) return std::nullopt;
    return decode_track(view(*v));
}

std::optional<TrackId> ReadTxn::track_id_by_path(std::string_view path) const {
    const auto key = path_key(path);
    auto v = get(txn_, store_->paths_, val_of(key));
    if (!v) return std::nullopt;
    const auto id = scalar<TrackId>(*v);
    // Guard against the (astronomically unlikely) hash collision.
    auto t = track(id);
    if (!t || t->path != path) return std::nullopt;
    return id;
}

std::vector<TrackId> ReadTxn::tracks_with_content(const proto::Hash& content) const {
    std::vector<TrackId> out;
    auto cur = open_cursor(txn_, store_->content_);
    MDB_val key = val_of(content), data;
    for (int rc = mdb_cursor_get(cur.get(), &key, &data, MDB_SET); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur.get(), &key, &data, MDB_NEXT_DUP))
        out.push_back(scalar<TrackId>(data));
    return out;
}

std::optional<std::vector<proto::Hash>> ReadTxn::leaves(const proto::Hash& content) const {
    auto v = get(txn_, store_->leaves_, val_of(content));
    if (!v) return std::nullopt;
    if (v->mv_size % sizeof(proto::Hash) != 0) throw StoreError("corrupt index: bad leaf layer");
    std::vector<proto::Hash> out(v->mv_size / sizeof(proto::Hash));
    std::memcpy(out.data(), v->mv_data, v->mv_size);
    return out;
}

std::optional<Failure> ReadTxn::failure(std::string_view path) const {
    const auto key = path_key(path);
    auto v = get(txn_, store_->failures_, val_of(key));
    if (!v) return std::nullopt;
    auto f = decode_failure(view(*v));
    if (f.path != path) return std::nullopt;
    return f;
}

namespace {
// A fingerprint record is [u32 term count][terms][fingerprint items], so the
// terms that index a track can be removed without recomputing them.
struct FingerprintRecord {
    std::vector<std::uint32_t> terms, fp;
};

std::optional<FingerprintRecord> fingerprint_record(MDB_txn* txn, MDB_dbi dbi, TrackId id) {
    auto v = get(txn, dbi, val_of(id));
    if (!v) return std::nullopt;
    const auto words = v->mv_size / sizeof(std::uint32_t);
    std::vector<std::uint32_t> all(words);
    std::memcpy(all.data(), v->mv_data, words * sizeof(std::uint32_t));
    if (all.empty() || all[0] > words - 1) throw StoreError("corrupt index: bad fingerprint record");
    FingerprintRecord r;
    r.terms.assign(all.begin() + 1, all.begin() + 1 + all[0]);
    r.fp.assign(all.begin() + 1 + all[0], all.end());
    return r;
}
} // namespace

std::vector<std::uint32_t> ReadTxn::fingerprint(TrackId id) const {
    auto r = fingerprint_record(txn_, store_->fingerprints_, id);
    return r ? std::move(r->fp) : std::vector<std::uint32_t>{};
}

std::vector<std::pair<TrackId, std::uint32_t>> ReadTxn::fingerprint_candidates(std::span<const std::uint32_t> terms,
                                                                               std::uint32_t min_shared) const {
    std::unordered_map<TrackId, std::uint32_t> shared;
    auto cur = open_cursor(txn_, store_->terms_);
    for (std::uint32_t term : terms) {
        MDB_val key = val_of(term), data;
        if (mdb_cursor_get(cur.get(), &key, &data, MDB_SET) != MDB_SUCCESS) continue;
        std::size_t count = 0;
        check(mdb_cursor_count(cur.get(), &count), "count postings");
        if (count > max_term_postings) continue;
        // DUPFIXED lets LMDB hand over a page of ids at a time.
        for (int rc = mdb_cursor_get(cur.get(), &key, &data, MDB_GET_MULTIPLE); rc == MDB_SUCCESS;
             rc = mdb_cursor_get(cur.get(), &key, &data, MDB_NEXT_MULTIPLE)) {
            const auto n = data.mv_size / sizeof(TrackId);
            for (std::size_t i = 0; i < n; ++i) {
                TrackId id;
                std::memcpy(&id, static_cast<const std::uint8_t*>(data.mv_data) + i * sizeof(TrackId), sizeof id);
                ++shared[id];
            }
        }
    }
    std::vector<std::pair<TrackId, std::uint32_t>> out;
    for (auto [id, n] : shared)
        if (n >= min_shared) out.emplace_back(id, n);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
    return out;
}

void ReadTxn::for_each_track(const std::function<void(const Track&)>& fn) const {
    auto cur = open_cursor(txn_, store_->tracks_);
    MDB_val key, data;
    for (int rc = mdb_cursor_get(cur.get(), &key, &data, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur.get(), &key, &data, MDB_NEXT))
        fn(decode_track(view(data)));
}

void ReadTxn::for_each_failure(const std::function<void(const Failure&)>& fn) const {
    auto cur = open_cursor(txn_, store_->failures_);
    MDB_val key, data;
    for (int rc = mdb_cursor_get(cur.get(), &key, &data, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cur.get(), &key, &data, MDB_NEXT))
        fn(decode_failure(view(data)));
}

namespace {
std::size_t entries(MDB_txn* txn, MDB_dbi dbi) {
    MDB_stat st;
    check(mdb_stat(txn, dbi, &st), "stat");
    return st.ms_entries;
}
} // namespace

std::size_t ReadTxn::track_count() const { return entries(txn_, store_->tracks_); }
std::size_t ReadTxn::failure_count() const { return entries(txn_, store_->failures_); }

// ---- writes ----

std::uint64_t WriteTxn::next_counter(std::string_view name) {
    MDB_val key = val_of(proto::as_bytes(name));
    std::uint64_t next = 1;
    if (auto v = get(txn_, store_->meta_, key)) next = scalar<std::uint64_t>(*v);
    const std::uint64_t after = next + 1;
    MDB_val data = val_of(after);
    check(mdb_put(txn_, store_->meta_, &key, &data, 0), "write counter");
    return next;
}

void WriteTxn::put_track(Track& t) {
    if (t.id == 0) t.id = next_counter("next_track");
    if (t.recording == 0) t.recording = next_counter("next_recording");
    if (auto old = track(t.id)) {
        if (old->path != t.path) {
            const auto old_key = path_key(old->path);
            del(txn_, store_->paths_, val_of(old_key));
        }
        if (old->content != t.content) drop_content(old->content, t.id);
    }
    const auto record = encode(t);
    MDB_val key = val_of(t.id), data = val_of(record);
    check(mdb_put(txn_, store_->tracks_, &key, &data, 0), "write track");
    const auto path_hash = path_key(t.path);
    MDB_val pkey = val_of(path_hash), pdata = val_of(t.id);
    check(mdb_put(txn_, store_->paths_, &pkey, &pdata, 0), "write path");
    if (!t.has_content()) return; // not hashed yet: nothing to find it by
    MDB_val ckey = val_of(t.content), cdata = val_of(t.id);
    const int rc = mdb_put(txn_, store_->content_, &ckey, &cdata, MDB_NODUPDATA);
    if (rc != MDB_KEYEXIST) check(rc, "write content");
}

void WriteTxn::drop_content(const proto::Hash& content, TrackId id) {
    if (content == proto::Hash{}) return;
    MDB_val idv = val_of(id);
    del(txn_, store_->content_, val_of(content), &idv);
    if (tracks_with_content(content).empty()) del(txn_, store_->leaves_, val_of(content));
}

void WriteTxn::erase_track(TrackId id) {
    auto t = track(id);
    if (!t) return;
    if (track_id_by_path(t->path) == id) {
        const auto key = path_key(t->path);
        del(txn_, store_->paths_, val_of(key));
    }
    drop_content(t->content, id);
    erase_fingerprint(id);
    del(txn_, store_->tracks_, val_of(id));
}

void WriteTxn::put_leaves(const proto::Hash& content, std::span<const proto::Hash> leaves) {
    MDB_val key = val_of(content);
    MDB_val data{leaves.size_bytes(), const_cast<proto::Hash*>(leaves.data())};
    check(mdb_put(txn_, store_->leaves_, &key, &data, 0), "write leaves");
}

void WriteTxn::put_failure(const Failure& f) {
    const auto record = encode(f);
    const auto path_hash = path_key(f.path);
    MDB_val key = val_of(path_hash), data = val_of(record);
    check(mdb_put(txn_, store_->failures_, &key, &data, 0), "write failure");
}

void WriteTxn::erase_failure(std::string_view path) {
    const auto key = path_key(path);
    del(txn_, store_->failures_, val_of(key));
}

void WriteTxn::erase_fingerprint(TrackId id) {
    auto old = fingerprint_record(txn_, store_->fingerprints_, id);
    if (!old) return;
    for (auto term : old->terms) {
        MDB_val tk = val_of(term), tv = val_of(id);
        del(txn_, store_->terms_, tk, &tv);
    }
    del(txn_, store_->fingerprints_, val_of(id));
}

void WriteTxn::put_fingerprint(TrackId id, std::span<const std::uint32_t> fp, std::span<const std::uint32_t> terms) {
    erase_fingerprint(id);
    std::vector<std::uint32_t> record;
    record.reserve(1 + terms.size() + fp.size());
    record.push_back(static_cast<std::uint32_t>(terms.size()));
    record.insert(record.end(), terms.begin(), terms.end());
    record.insert(record.end(), fp.begin(), fp.end());
    MDB_val key = val_of(id);
    MDB_val data{record.size() * sizeof(std::uint32_t), record.data()};
    check(mdb_put(txn_, store_->fingerprints_, &key, &data, 0), "write fingerprint");
    for (auto term : terms) {
        MDB_val tk = val_of(term), tv = val_of(id);
        const int rc = mdb_put(txn_, store_->terms_, &tk, &tv, MDB_NODUPDATA);
        if (rc != MDB_KEYEXIST) check(rc, "write fingerprint term");
    }
}

} // namespace earshot::index

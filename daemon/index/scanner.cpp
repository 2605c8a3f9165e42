#include "daemon/index/scanner.hpp"

#include "daemon/index/walk.hpp"
#include "daemon/media/fingerprint.hpp"
#include "daemon/media/fingerprint_match.hpp"
#include "daemon/media/tags.hpp"
#include "proto/content_id.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace earshot::index {
namespace {

using Clock = std::chrono::steady_clock;
// Commit at least this often so progress survives a crash and shows up in
// search quickly, but not per file: each commit is an fsync.
constexpr auto commit_interval = std::chrono::milliseconds(250);
constexpr std::size_t commit_batch = 512;
constexpr std::size_t max_compared_candidates = 16;

// Runs produce(i) for every i in [0, n) on `threads` workers and hands the
// results to commit() on the calling thread in batches. The caller's thread
// is the only one that writes, so workers never wait on LMDB's writer lock.
template <class Result, class Produce, class Commit>
void parallel_batches(std::size_t n, unsigned threads, const std::atomic<bool>& stop, Produce produce, Commit commit) {
    std::mutex m;
    std::condition_variable ready;
    std::vector<Result> done;
    std::atomic<std::size_t> next{0};
    std::size_t finished_workers = 0;
    {
        std::vector<std::jthread> workers;
        for (unsigned t = 0; t < threads; ++t)
            workers.emplace_back([&] {
                for (std::size_t i; !stop && (i = next++) < n;) {
                    Result r = produce(i);
                    std::lock_guard lock(m);
                    done.push_back(std::move(r));
                    if (done.size() >= commit_batch) ready.notify_one();
                }
                std::lock_guard lock(m);
                ++finished_workers;
                ready.notify_one();
            });
        for (;;) {
            std::vector<Result> batch;
            bool last = false;
            {
                std::unique_lock lock(m);
                ready.wait_for(lock, commit_interval, [&] { return done.size() >= commit_batch || finished_workers == threads; });
                batch.swap(done);
                last = finished_workers == threads;
            }
            if (!batch.empty()) commit(batch);
            if (last) break;
        }
    }
}

std::string file_name(std::string_view path) {
    const auto slash = path.rfind('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Tagless files still deserve a name: "Artist - Title.ext" or just the stem.
void fill_from_file_name(Track& t) {
    if (!t.tags.title.empty()) return;
    std::string stem = file_name(t.path);
    if (auto dot = stem.rfind('.'); dot != std::string::npos && dot > 0) stem.resize(dot);
    if (auto dash = stem.find(" - "); dash != std::string::npos && t.tags.artists.empty()) {
        t.tags.artists.push_back(stem.substr(0, dash));
        stem = stem.substr(dash + 3);
    }
    t.tags.title = stem;
}

std::string read_error(const std::string& path) {
    return std::string("cannot read: ") + std::strerror(errno) + " (" + file_name(path) + ")";
}

// Hashes the whole file into its content tree.
std::optional<proto::ContentTree> hash_file(const std::string& path, std::string& error) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = read_error(path);
        return std::nullopt;
    }
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    proto::ContentHasher hasher;
    std::vector<std::uint8_t> buf(1 << 20);
    for (;;) {
        const auto n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            error = read_error(path);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        hasher.update(proto::ByteView(buf.data(), static_cast<std::size_t>(n)));
    }
    ::close(fd);
    return std::move(hasher).finish();
}

struct MetadataResult {
    FoundFile file;
    std::optional<Track> track;
    std::optional<proto::ContentTree> tree; // only when hashing decided identity
    std::string error;
};

struct Indexed {
    TrackId id;
    FileStamp stamp;
    proto::Hash content;
};

struct HashKey {
    std::size_t operator()(const proto::Hash& h) const {
        std::size_t v;
        std::memcpy(&v, h.data(), sizeof v);
        return v;
    }
};

struct InodeKey {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& k) const { return k.first * 0x9E3779B97F4A7C15ull ^ k.second; }
};

// What the metadata pass knows of the tracks that were not found again, so
// it can tell a moved file from a new one.
struct Vanished {
    std::unordered_map<std::pair<std::uint64_t, std::uint64_t>, TrackId, InodeKey> by_inode; // same filesystem: rename
    std::unordered_multimap<proto::Hash, TrackId, HashKey> by_content;                       // copied, then deleted
    std::unordered_set<std::uint64_t> sizes;
    std::unordered_map<TrackId, FileStamp> stamps;
};

// Reads tags only: the metadata pass must be fast so that a new library is
// searchable at once. The file is hashed here only when its size matches a
// vanished track's, because then the content id decides whether it moved.
MetadataResult read_metadata(const FoundFile& f, const Vanished& vanished, bool is_new_path) {
    MetadataResult r{f, std::nullopt, std::nullopt, {}};
    try {
        auto info = media::read_media_info(f.path);
        Track t;
        t.path = f.path;
        t.stamp = f.stamp;
        t.format = std::move(info.format);
        t.mimetype = std::move(info.mimetype);
        t.tags = std::move(info.tags);
        t.audio = info.audio;
        fill_from_file_name(t);
        const bool renamed = vanished.by_inode.contains({f.stamp.device, f.stamp.inode});
        if (is_new_path && !renamed && vanished.sizes.contains(f.stamp.size)) {
            r.tree = hash_file(f.path, r.error);
            if (!r.tree) return r;
        }
        r.track = std::move(t);
    } catch (const media::MediaError& e) {
        r.error = e.what();
    } catch (const std::exception& e) {
        r.error = std::string("unexpected error: ") + e.what();
    }
    return r;
}

} // namespace

Scanner::Scanner(Store& store, ScannerOptions options, IndexObserver& observer)
    : store_(store), options_(std::move(options)), observer_(observer) {
    if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
    thread_ = std::jthread([this] { run(); });
}

Scanner::~Scanner() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stop_ = true;
    wake_.notify_all();
}

bool Scanner::request(std::vector<std::string> scopes) {
    std::lock_guard lock(mutex_);
    if (scopes.empty()) {
        if (full_queued_ || full_running_) return false;
        full_queued_ = true;
        queued_.clear();
    } else if (!full_queued_) {
        queued_.insert(queued_.end(), scopes.begin(), scopes.end());
    }
    wake_.notify_all();
    return true;
}

bool Scanner::recheck(const std::string& path) {
    bool known = false;
    store_.write([&](WriteTxn& w) {
        const auto id = w.track_id_by_path(path);
        auto t = id ? w.track(*id) : std::nullopt;
        if (!t) return;
        t->stamp.mtime_ns = -1; // no file has it: the next scan reads this one again
        w.put_track(*t);
        known = true;
    });
    if (!known) return false;
    const auto slash = path.rfind('/');
    request({path.substr(0, slash == std::string::npos ? 0 : slash)});
    return true;
}

ScanStatus Scanner::status() const {
    ScanStatus s;
    std::lock_guard lock(mutex_);
    s.running = busy_ || full_queued_ || !queued_.empty();
    s.phase = phase_;
    s.files_done = files_done_;
    s.files_total = files_total_;
    s.fingerprints_done = fps_done_;
    s.fingerprints_total = fps_total_;
    s.scans_completed = scans_completed_;
    s.last_metadata_ms = last_metadata_ms_;
    s.last_content_ms = last_content_ms_;
    return s;
}

void Scanner::wait_idle() {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return stopping_ || (!busy_ && !full_queued_ && queued_.empty()); });
}

void Scanner::set_phase(std::string phase) {
    {
        std::lock_guard lock(mutex_);
        phase_ = std::move(phase);
    }
    observer_.scan_phase(status());
}

void Scanner::run() {
    for (;;) {
        std::vector<std::string> scopes;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || full_queued_ || !queued_.empty(); });
            if (stopping_) break;
            full_running_ = full_queued_;
            scopes = full_queued_ ? options_.roots : std::move(queued_);
            queued_.clear();
            full_queued_ = false;
            busy_ = true;
        }
        try {
            scan(scopes);
        } catch (const std::exception& e) {
            // The index is transactional: a failed scan leaves it as the
            // last committed batch left it, and the next scan continues.
            spdlog::error("scan failed: {}", e.what());
        }
        {
            std::lock_guard lock(mutex_);
            busy_ = false;
            full_running_ = false;
            phase_ = "idle";
            ++scans_completed_;
        }
        observer_.scan_phase(status());
        idle_.notify_all();
        // A big scan's temporary maps and the index pages it walked should
        // not stay resident for the months the daemon then idles.
        ::malloc_trim(0);
        store_.release_mapped_pages();
    }
    std::lock_guard lock(mutex_);
    busy_ = false;
    idle_.notify_all();
}

void Scanner::scan(const std::vector<std::string>& scopes) {
    using ms = std::chrono::duration<double, std::milli>;
    const auto started = Clock::now();
    metadata_pass(scopes);
    if (stop_) return;
    const auto metadata_done = Clock::now();
    content_pass();
    const auto finished = Clock::now();
    {
        std::lock_guard lock(mutex_);
        last_metadata_ms_ = ms(metadata_done - started).count();
        last_content_ms_ = ms(finished - metadata_done).count();
    }
    spdlog::info("scan finished in {:.1f} s (metadata {:.1f} s, content {:.1f} s)", ms(finished - started).count() / 1000,
                 ms(metadata_done - started).count() / 1000, ms(finished - metadata_done).count() / 1000);
}

void Scanner::metadata_pass(const std::vector<std::string>& requested) {
    set_phase("walking");
    files_done_ = 0;
    files_total_ = 0;

    // A library folder that is missing, or empty while the index holds
    // tracks under it, is taken as unmounted: none of its tracks are removed.
    std::unordered_map<std::string, std::size_t> indexed_per_root;
    std::unordered_map<std::string, Indexed> indexed;     // tracks under the requested scopes
    std::unordered_map<std::string, FileStamp> failed;    // failures under the requested scopes
    auto in_scope = [&](std::string_view path) {
        return std::any_of(requested.begin(), requested.end(), [&](const std::string& s) { return path_within(path, s); });
    };
    store_.read([&](const ReadTxn& r) {
        r.for_each_track([&](const Track& t) {
            for (const auto& root : options_.roots)
                if (path_within(t.path, root)) ++indexed_per_root[root];
            if (in_scope(t.path)) indexed.emplace(t.path, Indexed{t.id, t.stamp, t.content});
        });
        r.for_each_failure([&](const Failure& f) {
            if (in_scope(f.path)) failed.emplace(f.path, f.stamp);
        });
        return 0;
    });

    std::vector<std::string> unavailable;
    for (const auto& root : options_.roots) {
        std::error_code ec;
        const bool exists = std::filesystem::is_directory(root, ec);
        const bool empty = exists && std::filesystem::is_empty(root, ec);
        if (!exists || (empty && indexed_per_root[root] > 0)) {
            spdlog::warn("library folder {} is {}; keeping its {} indexed tracks", root,
                         exists ? "empty (unmounted?)" : "missing", indexed_per_root[root]);
            unavailable.push_back(root);
        }
    }
    auto available = [&](std::string_view path) {
        return std::none_of(unavailable.begin(), unavailable.end(), [&](const std::string& u) { return path_within(path, u); });
    };

    WalkResult walked;
    std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
    for (const auto& scope : requested)
        if (available(scope) && std::filesystem::exists(scope)) walk(scope, media::looks_like_audio, walked, seen);
    files_total_ = walked.files.size();

    std::vector<FoundFile> work;
    std::vector<bool> new_path;
    for (auto& f : walked.files) {
        if (auto it = indexed.find(f.path); it != indexed.end()) {
            const bool unchanged = it->second.stamp == f.stamp;
            indexed.erase(it);
            if (unchanged) continue;
        } else if (auto ft = failed.find(f.path); ft != failed.end()) {
            const bool unchanged = ft->second == f.stamp;
            failed.erase(ft);
            if (unchanged) continue;
        } else {
            new_path.resize(work.size() + 1);
            new_path.back() = true;
            work.push_back(std::move(f));
            continue;
        }
        new_path.resize(work.size() + 1);
        work.push_back(std::move(f));
    }
    files_done_ = files_total_ - work.size();

    // Whatever was indexed under an available scope and not found again has
    // moved or gone. Moves are recognised by content id while the new files
    // are read; the rest is removed at the end.
    Vanished vanished;
    for (const auto& [path, entry] : indexed) {
        if (!available(path)) continue;
        vanished.by_inode.emplace(std::pair{entry.stamp.device, entry.stamp.inode}, entry.id);
        if (entry.content != proto::Hash{}) vanished.by_content.emplace(entry.content, entry.id);
        vanished.sizes.insert(entry.stamp.size);
        vanished.stamps.emplace(entry.id, entry.stamp);
    }
    std::unordered_set<TrackId> moved;

    set_phase("metadata");
    spdlog::info("scan: {} files found, {} new or changed, {} gone or moved, {} ignored", files_total_.load(),
                 work.size(), vanished.stamps.size(), walked.ignored);

    parallel_batches<MetadataResult>(
        work.size(), options_.threads, stop_, [&](std::size_t i) { return read_metadata(work[i], vanished, new_path[i]); },
        [&](std::vector<MetadataResult>& batch) {
            std::vector<Track> updated;
            std::vector<TrackId> removed, moved_now;
            store_.write([&](WriteTxn& w) {
                updated.clear();
                removed.clear();
                moved_now.clear();
                for (auto& r : batch) {
                    auto existing = w.track_id_by_path(r.file.path);
                    if (!r.track) {
                        if (existing) {
                            w.erase_track(*existing);
                            removed.push_back(*existing);
                        }
                        w.put_failure({r.file.path, r.file.stamp, r.error});
                        continue;
                    }
                    w.erase_failure(r.file.path);
                    Track t = *r.track;
                    auto unclaimed = [&](TrackId id) {
                        return !moved.contains(id) && std::find(moved_now.begin(), moved_now.end(), id) == moved_now.end();
                    };
                    std::optional<Track> previous;
                    bool same_bytes = false;
                    if (existing) {
                        previous = w.track(*existing);
                    } else if (auto it = vanished.by_inode.find({t.stamp.device, t.stamp.inode});
                               it != vanished.by_inode.end() && unclaimed(it->second) &&
                               vanished.stamps.at(it->second).size == t.stamp.size) {
                        // Renamed within its filesystem: same inode, same size.
                        previous = w.track(it->second);
                        same_bytes = previous && previous->stamp.mtime_ns == t.stamp.mtime_ns;
                    } else if (r.tree) {
                        // Copied elsewhere and the original deleted: same content id.
                        auto range = vanished.by_content.equal_range(r.tree->root);
                        for (auto c = range.first; c != range.second && !previous; ++c)
                            if (unclaimed(c->second)) previous = w.track(c->second);
                        same_bytes = previous.has_value();
                    }
                    if (previous && !existing) moved_now.push_back(previous->id);
                    if (previous) {
                        t.id = previous->id;
                        t.recording = previous->recording;
                        if (same_bytes) {
                            // Same bytes: keep the content id and the fingerprint.
                            t.content = previous->content;
                            t.fingerprint = previous->fingerprint;
                            t.fingerprint_error = previous->fingerprint_error;
                        } else {
                            // Changed in place: the content pass re-hashes and re-fingerprints
                            // it, and its recording is decided again.
                            t.recording = 0;
                        }
                    }
                    if (r.tree && !same_bytes) {
                        t.content = r.tree->root;
                        w.put_track(t);
                        w.put_leaves(t.content, r.tree->leaves);
                    } else {
                        w.put_track(t);
                    }
                    updated.push_back(std::move(t));
                }
            });
            moved.insert(moved_now.begin(), moved_now.end());
            for (const auto& t : updated) observer_.track_updated(t);
            for (auto id : removed) observer_.track_removed(id);
            files_done_ += batch.size();
        });
    if (stop_) return;

    std::vector<TrackId> gone;
    for (const auto& [id, stamp] : vanished.stamps)
        if (!moved.contains(id)) gone.push_back(id);
    std::vector<std::string> stale_failures;
    for (const auto& [path, stamp] : failed)
        if (available(path)) stale_failures.push_back(path);
    if (!gone.empty() || !stale_failures.empty() || !walked.failures.empty()) {
        store_.write([&](WriteTxn& w) {
            for (auto id : gone) w.erase_track(id);
            for (const auto& p : stale_failures) w.erase_failure(p);
            for (const auto& f : walked.failures) w.put_failure(f);
        });
        for (auto id : gone) observer_.track_removed(id);
    }
    if (!gone.empty() || !moved.empty())
        spdlog::info("scan: {} tracks removed, {} moved", gone.size(), moved.size());
}

void Scanner::content_pass() {
    struct Pending {
        TrackId id;
        std::string path;
        FileStamp stamp;
        bool hash, fingerprint;
    };
    std::vector<Pending> pending;
    store_.read([&](const ReadTxn& r) {
        r.for_each_track([&](const Track& t) {
            const bool hash = !t.has_content();
            const bool fingerprint = options_.fingerprints && t.fingerprint == FingerprintState::pending;
            if (hash || fingerprint) pending.push_back({t.id, t.path, t.stamp, hash, fingerprint});
        });
        return 0;
    });
    fps_total_ = pending.size();
    fps_done_ = 0;
    if (pending.empty()) return;
    set_phase(options_.fingerprints ? "fingerprints" : "hashing");

    // One read of each file serves both: hashing pulls it into the page
    // cache, and the decoder then reads its first two minutes from there.
    struct ContentResult {
        const Pending* job;
        std::optional<proto::ContentTree> tree;
        std::optional<media::Fingerprint> fp;
        std::string hash_error, fp_error;
    };
    parallel_batches<ContentResult>(
        pending.size(), options_.threads, stop_,
        [&](std::size_t i) {
            ContentResult r{&pending[i], std::nullopt, std::nullopt, {}, {}};
            if (r.job->hash) {
                r.tree = hash_file(r.job->path, r.hash_error);
                if (!r.tree) return r;
            }
            if (r.job->fingerprint) {
                try {
                    r.fp = media::compute_fingerprint(r.job->path, options_.fingerprint_seconds);
                } catch (const std::exception& e) {
                    r.fp_error = e.what();
                }
            }
            return r;
        },
        [&](std::vector<ContentResult>& batch) {
            std::vector<Track> updated;
            store_.write([&](WriteTxn& w) {
                updated.clear();
                for (auto& r : batch) {
                    auto t = w.track(r.job->id);
                    // Removed or changed again meanwhile: the next scan has it.
                    if (!t || t->path != r.job->path || !(t->stamp == r.job->stamp)) continue;
                    if (r.job->hash) {
                        if (!r.tree) continue; // unreadable now; it stays unhashed and is retried
                        if (r.tree->size != t->stamp.size) continue; // changed while being read
                        t->content = r.tree->root;
                        w.put_leaves(t->content, r.tree->leaves);
                    }
                    if (r.job->fingerprint) {
                        if (!r.fp) {
                            t->fingerprint = FingerprintState::failed;
                            t->fingerprint_error = r.fp_error;
                        } else {
                            if (auto other = same_recording_as(w, *t, *r.fp)) t->recording = *other;
                            w.put_fingerprint(t->id, r.fp->raw, media::fingerprint_terms(r.fp->raw));
                            t->fingerprint = FingerprintState::done;
                            t->fingerprint_error.clear();
                        }
                    }
                    w.put_track(*t);
                    updated.push_back(std::move(*t));
                }
            });
            for (const auto& t : updated) observer_.track_updated(t);
            fps_done_ += batch.size();
        });
}

std::optional<RecordingId> Scanner::same_recording_as(const WriteTxn& w, const Track& t, const media::Fingerprint& fp) {
    const auto terms = media::fingerprint_terms(fp.raw);
    std::size_t compared = 0;
    for (auto [candidate, shared] : w.fingerprint_candidates(terms, media::kMinSharedTerms)) {
        if (candidate == t.id) continue;
        if (++compared > max_compared_candidates) break;
        auto other = w.track(candidate);
        if (!other) continue;
        const media::Fingerprint theirs{w.fingerprint(candidate), other->audio.duration_ms / 1000.0};
        if (media::same_recording(fp, theirs)) return other->recording;
    }
    return std::nullopt;
}

} // namespace earshot::index

// Keeps the index in step with the library folders. A scan walks the
// folders, re-reads the tags of only the files whose (size, mtime, inode)
// changed, recognises moves (by inode, or by content id when a file of the
// same size vanished), removes what is gone (unless its folder is missing or
// unmounted); then a content pass hashes and fingerprints what is new. Workers use every core; one
// thread owns all writes, committing in small batches so a crash loses at
// most the batch in flight and the next scan picks up from there.
#pragma once

#include "daemon/index/store.hpp"
#include "daemon/media/fingerprint.hpp"

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace earshot::index {

struct ScanStatus;

// Told about every change a scan commits, from the scan thread, after the
// commit, so in-memory views (the resolver's catalogue) follow the index.
class IndexObserver {
public:
    virtual ~IndexObserver() = default;
    virtual void track_updated(const Track&) = 0;
    virtual void track_removed(TrackId) = 0;
    // A scan entered a phase, or ended (phase "idle"); from the scan thread.
    virtual void scan_phase(const ScanStatus&) {}
};

struct ScannerOptions {
    std::vector<std::string> roots; // absolute library folders
    unsigned threads = 0;           // 0: one per core
    bool fingerprints = true;
    double fingerprint_seconds = 120;
};

struct ScanStatus {
    bool running = false;
    std::string phase = "idle"; // idle | walking | metadata | fingerprints (hashing, with fingerprints off)
    std::uint64_t files_done = 0, files_total = 0;
    std::uint64_t fingerprints_done = 0, fingerprints_total = 0;
    std::uint64_t scans_completed = 0;
    // Durations of the last completed scan: walking plus reading tags, and
    // hashing plus fingerprinting.
    double last_metadata_ms = 0, last_content_ms = 0;
};

class Scanner {
public:
    Scanner(Store& store, ScannerOptions options, IndexObserver& observer);
    ~Scanner();
    Scanner(const Scanner&) = delete;
    Scanner& operator=(const Scanner&) = delete;

    // Queues a scan of these folders (every library folder when empty).
    // Returns false if a full scan is already running or queued.
    bool request(std::vector<std::string> scopes = {});
    // The bytes of `path` were found not to match its index entry although
    // its stamp (size, mtime, inode) did, e.g. bit rot or an in-place edit
    // that restored the mtime. Forgets the stamp so the file is read again,
    // and queues a scan of its folder. False if the path is not indexed.
    bool recheck(const std::string& path);
    ScanStatus status() const;
    // Blocks until no scan is running or queued (tests, benchmarks, --once).
    void wait_idle();
    const ScannerOptions& options() const { return options_; }

private:
    void run();
    void scan(const std::vector<std::string>& scopes);
    void metadata_pass(const std::vector<std::string>& scopes);
    // Hashes what the metadata pass did not (content ids) and fingerprints
    // what is new, reading each file once for both.
    void content_pass();
    static std::optional<RecordingId> same_recording_as(const WriteTxn& w, const Track& t, const media::Fingerprint& fp);
    void set_phase(std::string phase);

    Store& store_;
    ScannerOptions options_;
    IndexObserver& observer_;

    mutable std::mutex mutex_;
    std::condition_variable wake_, idle_;
    std::vector<std::string> queued_;
    bool full_queued_ = false, full_running_ = false, busy_ = false, stopping_ = false;
    std::string phase_ = "idle";
    std::uint64_t scans_completed_ = 0;
    double last_metadata_ms_ = 0, last_content_ms_ = 0;
    std::atomic<std::uint64_t> files_done_{0}, files_total_{0}, fps_done_{0}, fps_total_{0};
    std::atomic<bool> stop_{false};
    std::jthread thread_;
};

} // namespace earshot::index

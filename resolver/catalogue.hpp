// An in-memory text index over a library's recordings: answers a Query with
// the best-scoring keys without looking at every entry.
//
// Layout, chosen for 100k+ entries in a daemon that must stay small:
// - each entry's normalised fields live in one arena string (no per-entry
//   std::string), addressed by a 24-byte slot;
// - every distinct normalised word of the artists and title has a sorted
//   posting vector of uint32 slot ids;
// - a query word the vocabulary lacks is looked up again in every spelling
//   one edit away ("polise" → "police"): a few hundred hash lookups for a
//   typo'd word, no memory for a typo index.
// A search gathers the entries that share (or nearly share) the query's
// words, weighs them by word rarity, and re-scores only the best
// `max_candidates` of them with score().
#pragma once

#include "resolver/query.hpp"
#include "resolver/score.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace earshot::resolver {

struct CatalogueEntry {
    std::uint64_t key = 0; // the owner's id for the recording (a track id)
    Candidate candidate;
};

struct Match {
    std::uint64_t key = 0;
    double score = 0;
};

struct CatalogueOptions {
    std::size_t max_candidates = 200; // entries re-scored exactly per search
    // ...and only those with at least this fraction of the best entry's
    // word evidence (rarity-weighted shared words): an entry sharing half of
    // what the best one shares with the query is not going to win.
    double min_evidence_ratio = 0.5;
    double min_score = 0.3;           // weaker matches are not returned
};

// What the index holds, for metrics and the memory budget.
struct CatalogueStats {
    std::size_t entries = 0;
    std::size_t words = 0;       // distinct words with at least one entry
    std::size_t postings = 0;    // (word, entry) pairs
    std::size_t arena_bytes = 0; // normalised text, including garbage awaiting compaction
    std::size_t approx_bytes = 0; // estimated heap use of the whole structure
};

// Thread-safe: any number of concurrent searches, writers take turns.
class Catalogue {
public:
    explicit Catalogue(CatalogueOptions options = {});
    ~Catalogue();
    Catalogue(const Catalogue&) = delete;
    Catalogue& operator=(const Catalogue&) = delete;

    // Adds the entry, or replaces the one with the same key.
    void upsert(CatalogueEntry entry);
    void upsert(std::uint64_t key, const PreparedCandidate& prepared);
    // Removes the entry; false if the key is unknown.
    bool erase(std::uint64_t key);
    std::size_t size() const;
    // Pre-sizes the tables for n entries (a bulk load after startup).
    void reserve(std::size_t n);
    // Returns spare capacity after a bulk load.
    void shrink_to_fit();

    // The best matches, best first (ties by key), each scoring >= min_score.
    std::vector<Match> search(const Query& query, std::size_t limit = 20) const;
    std::vector<Match> search(const PreparedQuery& query, std::size_t limit = 20) const;

    CatalogueStats stats() const;

private:
    struct Slot {
        std::uint64_t key = 0;
        std::uint32_t offset = 0;
        std::uint32_t length = 0; // 0: a free slot
        float duration_s = 0;
    };
    struct Scratch;
    class ScratchLease;

    CandidateView view_of(const Slot&) const;
    void insert_locked(std::uint64_t key, const PreparedCandidate& p);
    void remove_locked(std::uint32_t id);
    void maintain_locked();
    void compact_arena_locked();
    void rebuild_words_locked();
    std::span<const std::uint32_t> postings(std::uint32_t word) const;
    void add_posting(std::uint32_t word, std::uint32_t id);
    void remove_posting(std::uint32_t word, std::uint32_t id);
    void expand_word(std::string_view word, std::vector<std::pair<std::uint32_t, double>>& out) const;
    ScratchLease lease_scratch() const;

    // Distinct words, stored in one arena and found through a hash set of
    // their ids (~50 bytes a word, against ~100 for a map of std::string).
    class Vocabulary {
    public:
        Vocabulary();
        Vocabulary(const Vocabulary&) = delete;
        Vocabulary& operator=(const Vocabulary&) = delete;
        std::optional<std::uint32_t> find(std::string_view word) const;
        std::pair<std::uint32_t, bool> intern(std::string_view word); // id, created
        std::string_view text(std::uint32_t id) const {
            return std::string_view(arena_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
        }
        std::size_t size() const { return offsets_.size() - 1; }
        std::size_t bytes() const;
        void clear();

    private:
        struct Hash {
            using is_transparent = void;
            const Vocabulary* v;
            std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
            std::size_t operator()(std::uint32_t id) const { return (*this)(v->text(id)); }
        };
        struct Equal {
            using is_transparent = void;
            const Vocabulary* v;
            bool operator()(std::uint32_t a, std::uint32_t b) const { return a == b; }
            bool operator()(std::string_view a, std::uint32_t b) const { return a == v->text(b); }
            bool operator()(std::uint32_t a, std::string_view b) const { return v->text(a) == b; }
        };
        std::string arena_;
        std::vector<std::uint32_t> offsets_{0}; // word i is arena_[offsets_[i], offsets_[i + 1])
        std::unordered_set<std::uint32_t, Hash, Equal> ids_;
    };

    CatalogueOptions options_;
    mutable std::shared_mutex mutex_;

    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::unordered_map<std::uint64_t, std::uint32_t> ids_;
    std::string arena_;
    std::size_t garbage_ = 0; // arena bytes of replaced or erased entries

    Vocabulary words_;
    // Postings by word id. Most words of a real library occur once, so a
    // lone slot id is stored in place; longer lists (sorted slot ids) live in
    // `lists_`, referenced as list index | list_flag.
    static constexpr std::uint32_t list_flag = 0x80000000u;
    static constexpr std::uint32_t no_posting = 0xFFFFFFFFu;
    std::vector<std::uint32_t> heads_;
    std::vector<std::vector<std::uint32_t>> lists_;
    std::size_t empty_words_ = 0; // words whose postings emptied
    std::size_t postings_count_ = 0;

    // Per-search accumulators (one per concurrent search), reused.
    mutable std::mutex scratch_mutex_;
    mutable std::vector<std::unique_ptr<Scratch>> scratch_pool_;
};

} // namespace earshot::resolver

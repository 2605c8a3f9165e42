#include "resolver/catalogue.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace earshot::resolver {
namespace {

constexpr std::size_t max_expansions = 12;   // typo neighbours followed per query word
constexpr double typo_weight = 0.8;          // a near word counts less than the word itself
constexpr std::size_t min_common_df = 5000;  // a word is "common" past max(this, entries / 10)...
constexpr std::size_t common_df_divisor = 10; // ...and is skipped once rarer words found candidates

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Entries' normalised fields, packed: kind byte, then artist, names, title,
// version and album separated by NULs (normalised text never holds a NUL).
void append_blob(std::string& arena, const PreparedCandidate& p) {
    arena.push_back(static_cast<char>(p.kind));
    for (const std::string* f : {&p.artist, &p.names, &p.title, &p.version}) {
        arena += *f;
        arena.push_back('\0');
    }
    arena += p.album;
}

std::size_t blob_size(const PreparedCandidate& p) {
    return 1 + p.artist.size() + p.names.size() + p.title.size() + p.version.size() + p.album.size() + 4;
}

// The words an entry is found by: its artists' and its title's.
void entry_words(const CandidateView& v, std::vector<std::string_view>& out) {
    out.clear();
    auto add = [&](std::string_view s) { for_each_word(s, [&](std::string_view w) { out.push_back(w); }); };
    add(v.artist);
    for_each_name(v, add);
    add(v.title);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
}

// Defensive, for callers preparing candidates themselves: a NUL would break
// the blob framing (normalise() never emits one).
void scrub(std::string& s) { std::erase(s, '\0'); }

} // namespace

// Accumulators indexed by slot id, reset through `touched` after each search
// so that a search costs what it touches, not the catalogue's size.
struct Catalogue::Scratch {
    std::vector<float> acc;
    std::vector<std::uint32_t> mark;
    std::vector<std::uint32_t> touched;
    std::uint32_t stamp = 0;

    void fit(std::size_t n) {
        if (acc.size() < n) {
            acc.resize(n, 0.0f);
            mark.resize(n, 0);
        }
    }
    std::uint32_t next_stamp() {
        if (++stamp == 0) {
            std::fill(mark.begin(), mark.end(), 0);
            stamp = 1;
        }
        return stamp;
    }
    void reset() {
        for (auto id : touched) acc[id] = 0.0f;
        touched.clear();
    }
};

class Catalogue::ScratchLease {
public:
    ScratchLease(const Catalogue& owner, std::unique_ptr<Scratch> s) : owner_(owner), scratch_(std::move(s)) {}
    ScratchLease(const ScratchLease&) = delete;
    ScratchLease& operator=(const ScratchLease&) = delete;
    ~ScratchLease() {
        scratch_->reset();
        std::lock_guard lock(owner_.scratch_mutex_);
        owner_.scratch_pool_.push_back(std::move(scratch_));
    }
    Scratch& operator*() const { return *scratch_; }
    Scratch* operator->() const { return scratch_.get(); }

private:
    const Catalogue& owner_;
    std::unique_ptr<Scratch> scratch_;
};

Catalogue::Vocabulary::Vocabulary() : ids_(0, Hash{this}, Equal{this}) {}

std::optional<std::uint32_t> Catalogue::Vocabulary::find(std::string_view word) const {
    auto it = ids_.find(word);
    if (it == ids_.end()) return std::nullopt;
    return *it;
}

std::pair<std::uint32_t, bool> Catalogue::Vocabulary::intern(std::string_view word) {
    if (auto found = find(word)) return {*found, false};
    const auto id = static_cast<std::uint32_t>(size());
    arena_ += word; // the text must be in place before the set hashes the id
    offsets_.push_back(static_cast<std::uint32_t>(arena_.size()));
    ids_.insert(id);
    return {id, true};
}

std::size_t Catalogue::Vocabulary::bytes() const {
    // A set node (id, next pointer, cached hash, allocator overhead) and a bucket per word.
    return arena_.capacity() + offsets_.capacity() * sizeof(std::uint32_t) + ids_.size() * 32 +
           ids_.bucket_count() * sizeof(void*);
}

void Catalogue::Vocabulary::clear() {
    ids_ = decltype(ids_)(0, Hash{this}, Equal{this});
    arena_ = std::string();
    offsets_ = {0};
}

Catalogue::Catalogue(CatalogueOptions options) : options_(options) {}
Catalogue::~Catalogue() = default;

Catalogue::ScratchLease Catalogue::lease_scratch() const {
    std::unique_ptr<Scratch> s;
    {
        std::lock_guard lock(scratch_mutex_);
        if (!scratch_pool_.empty()) {
            s = std::move(scratch_pool_.back());
            scratch_pool_.pop_back();
        }
    }
    if (!s) s = std::make_unique<Scratch>();
    return ScratchLease(*this, std::move(s));
}

CandidateView Catalogue::view_of(const Slot& slot) const {
    std::string_view blob(arena_.data() + slot.offset, slot.length);
    CandidateView v;
    v.kind = static_cast<VersionKind>(blob.front());
    blob.remove_prefix(1);
    std::string_view* fields[] = {&v.artist, &v.names, &v.title, &v.version};
    for (std::string_view* f : fields) {
        const std::size_t nul = blob.find('\0');
        *f = blob.substr(0, nul);
        blob.remove_prefix(nul + 1);
    }
    v.album = blob;
    v.duration_s = slot.duration_s;
    return v;
}

std::span<const std::uint32_t> Catalogue::postings(std::uint32_t word) const {
    const std::uint32_t& head = heads_[word];
    if (head == no_posting) return {};
    if (head & list_flag) return lists_[head & ~list_flag];
    return {&head, 1};
}

void Catalogue::add_posting(std::uint32_t word, std::uint32_t id) {
    std::uint32_t& head = heads_[word];
    if (head == no_posting) {
        head = id;
    } else if (!(head & list_flag)) {
        if (head == id) return;
        lists_.push_back(head < id ? std::vector<std::uint32_t>{head, id} : std::vector<std::uint32_t>{id, head});
        head = static_cast<std::uint32_t>(lists_.size() - 1) | list_flag;
    } else {
        auto& list = lists_[head & ~list_flag];
        // Ids mostly arrive in increasing order: appending is the common case.
        if (list.empty() || list.back() < id) list.push_back(id);
        else if (auto pos = std::lower_bound(list.begin(), list.end(), id); *pos != id) list.insert(pos, id);
        else return;
    }
    ++postings_count_;
}

void Catalogue::remove_posting(std::uint32_t word, std::uint32_t id) {
    std::uint32_t& head = heads_[word];
    if (head == no_posting) return;
    if (!(head & list_flag)) {
        if (head != id) return;
        head = no_posting;
    } else {
        auto& list = lists_[head & ~list_flag];
        auto pos = std::lower_bound(list.begin(), list.end(), id);
        if (pos == list.end() || *pos != id) return;
        list.erase(pos);
        if (list.empty()) list.shrink_to_fit(); // the (empty) list slot is reclaimed by the next rebuild
    }
    --postings_count_;
    if (postings(word).empty()) ++empty_words_;
}

void Catalogue::upsert(CatalogueEntry entry) {
    // Normalising is the expensive part: do it before taking the lock.
    const PreparedCandidate p = prepare(entry.candidate);
    upsert(entry.key, p);
}

void Catalogue::upsert(std::uint64_t key, const PreparedCandidate& prepared) {
    PreparedCandidate p = prepared;
    for (std::string* f : {&p.artist, &p.names, &p.title, &p.version, &p.album}) scrub(*f);
    std::unique_lock lock(mutex_);
    insert_locked(key, p);
}

void Catalogue::insert_locked(std::uint64_t key, const PreparedCandidate& p) {
    // Slot ids share their word with list_flag; refuse before changing anything.
    if (free_slots_.empty() && slots_.size() >= list_flag - 1 && !ids_.contains(key))
        throw std::length_error("catalogue is full");
    std::uint32_t id = 0;
    if (auto it = ids_.find(key); it != ids_.end()) {
        id = it->second;
        remove_locked(id);
    } else if (!free_slots_.empty()) {
        id = free_slots_.back();
        free_slots_.pop_back();
        ids_.emplace(key, id);
    } else {
        id = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
        ids_.emplace(key, id);
    }
    if (arena_.size() + blob_size(p) > UINT32_MAX) compact_arena_locked();
    Slot& slot = slots_[id];
    slot.key = key;
    slot.offset = static_cast<std::uint32_t>(arena_.size());
    append_blob(arena_, p);
    slot.length = static_cast<std::uint32_t>(arena_.size() - slot.offset);
    slot.duration_s = static_cast<float>(p.duration_s);

    std::vector<std::string_view> words;
    entry_words(view(p), words);
    for (std::string_view w : words) {
        const auto [wid, created] = words_.intern(w);
        if (created) heads_.push_back(no_posting);
        else if (postings(wid).empty()) --empty_words_; // an emptied word comes back
        add_posting(wid, id);
    }
    maintain_locked();
}

void Catalogue::remove_locked(std::uint32_t id) {
    Slot& slot = slots_[id];
    std::vector<std::string_view> words;
    entry_words(view_of(slot), words);
    for (std::string_view w : words)
        if (auto wid = words_.find(w)) remove_posting(*wid, id);
    garbage_ += slot.length;
    slot.length = 0;
    slot.offset = 0;
}

bool Catalogue::erase(std::uint64_t key) {
    std::unique_lock lock(mutex_);
    auto it = ids_.find(key);
    if (it == ids_.end()) return false;
    const std::uint32_t id = it->second;
    remove_locked(id);
    ids_.erase(it);
    slots_[id].key = 0;
    free_slots_.push_back(id);
    maintain_locked();
    return true;
}

void Catalogue::maintain_locked() {
    // Replaced and erased entries leave garbage behind; reclaim it once it
    // is half of what is held, so the cost is amortised over the writes.
    if (garbage_ > (1u << 16) && garbage_ * 2 > arena_.size()) compact_arena_locked();
    if (empty_words_ > 4096 && empty_words_ * 2 > words_.size()) rebuild_words_locked();
}

void Catalogue::compact_arena_locked() {
    std::string fresh;
    fresh.reserve(arena_.size() - garbage_);
    for (Slot& slot : slots_) {
        if (slot.length == 0) continue;
        const auto offset = static_cast<std::uint32_t>(fresh.size());
        fresh.append(arena_, slot.offset, slot.length);
        slot.offset = offset;
    }
    arena_ = std::move(fresh);
    garbage_ = 0;
}

void Catalogue::rebuild_words_locked() {
    // Renumber the live entries densely and rebuild every table from their
    // stored text, releasing the memory dead words and free slots held.
    std::vector<Slot> live;
    live.reserve(ids_.size());
    std::string arena;
    arena.reserve(arena_.size() - garbage_);
    for (const Slot& slot : slots_) {
        if (slot.length == 0) continue;
        Slot moved = slot;
        moved.offset = static_cast<std::uint32_t>(arena.size());
        arena.append(arena_, slot.offset, slot.length);
        ids_[slot.key] = static_cast<std::uint32_t>(live.size());
        live.push_back(moved);
    }
    slots_ = std::move(live);
    arena_ = std::move(arena);
    garbage_ = 0;
    free_slots_ = decltype(free_slots_)();
    ids_.rehash(0);
    words_.clear();
    heads_ = decltype(heads_)();
    lists_ = decltype(lists_)();
    empty_words_ = 0;
    postings_count_ = 0;
    std::vector<std::string_view> words;
    for (std::uint32_t id = 0; id < slots_.size(); ++id) {
        entry_words(view_of(slots_[id]), words);
        for (std::string_view w : words) {
            const auto [wid, created] = words_.intern(w);
            if (created) heads_.push_back(no_posting);
            add_posting(wid, id); // ids ascend: lists stay sorted
        }
    }
    heads_.shrink_to_fit();
    lists_.shrink_to_fit();
    std::lock_guard scratch_lock(scratch_mutex_); // sized for the old slot count
    scratch_pool_.clear();
}

std::size_t Catalogue::size() const {
    std::shared_lock lock(mutex_);
    return ids_.size();
}

void Catalogue::reserve(std::size_t n) {
    std::unique_lock lock(mutex_);
    slots_.reserve(n);
    ids_.reserve(n);
    arena_.reserve(n * 48);
}

void Catalogue::shrink_to_fit() {
    std::unique_lock lock(mutex_);
    if (garbage_ > 0) compact_arena_locked();
    slots_.shrink_to_fit();
    arena_.shrink_to_fit();
    heads_.shrink_to_fit();
    lists_.shrink_to_fit();
    for (auto& list : lists_) list.shrink_to_fit();
    std::lock_guard scratch_lock(scratch_mutex_);
    scratch_pool_.clear();
}

CatalogueStats Catalogue::stats() const {
    std::shared_lock lock(mutex_);
    CatalogueStats s;
    s.entries = ids_.size();
    s.words = words_.size() - empty_words_;
    s.postings = postings_count_;
    s.arena_bytes = arena_.size();
    std::size_t bytes = slots_.capacity() * sizeof(Slot) + free_slots_.capacity() * 4 + arena_.capacity();
    // unordered_map: a node (value, next pointer, cached hash, allocator overhead) and a bucket per element.
    bytes += ids_.size() * 40 + ids_.bucket_count() * sizeof(void*);
    bytes += words_.bytes() + heads_.capacity() * sizeof(std::uint32_t);
    for (const auto& list : lists_) bytes += sizeof(list) + list.capacity() * sizeof(std::uint32_t);
    {
        std::lock_guard scratch_lock(scratch_mutex_);
        for (const auto& sc : scratch_pool_)
            bytes += (sc->acc.capacity() + sc->mark.capacity() + sc->touched.capacity()) * 4;
    }
    s.approx_bytes = bytes;
    return s;
}

void Catalogue::expand_word(std::string_view word, std::vector<std::pair<std::uint32_t, double>>& out) const {
    out.clear();
    if (auto wid = words_.find(word); wid && !postings(*wid).empty()) {
        // A word the library knows is taken as typed: following its
        // neighbours too ("band" → "bend", "bond", "hand", ...) would flood
        // the candidates, and a real typo is rarely another real word.
        out.emplace_back(*wid, 1.0);
        return;
    }
    // An unknown word may be a typo: look up every spelling one edit away
    // (deletion, adjacent transposition, substitution, insertion). This
    // costs a few hundred hash lookups, only for words the library does not
    // have, and no memory at all, where an index of the vocabulary's
    // misspellings would cost ~80 bytes per distinct word.
    std::vector<std::size_t> cps; // code point boundaries
    for (std::size_t i = 0; i < word.size(); ++i)
        if (!is_continuation(word[i])) cps.push_back(i);
    const std::size_t n = cps.size();
    if (n < 4) return; // short words only ever match exactly
    cps.push_back(word.size());
    std::vector<std::string_view> alphabet;
    static constexpr std::string_view ascii = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (std::size_t i = 0; i < ascii.size(); ++i) alphabet.push_back(ascii.substr(i, 1));
    for (std::size_t i = 0; i < n; ++i) { // the word's own letters: doubled or swapped non-Latin letters
        const std::string_view cp = word.substr(cps[i], cps[i + 1] - cps[i]);
        if (cp.size() > 1 && std::find(alphabet.begin(), alphabet.end(), cp) == alphabet.end()) alphabet.push_back(cp);
    }
    std::vector<std::uint32_t> near;
    std::string probe;
    auto look = [&] {
        if (auto wid = words_.find(probe); wid && !postings(*wid).empty()) near.push_back(*wid);
    };
    for (std::size_t i = 0; i < n; ++i) {
        const std::string_view head = word.substr(0, cps[i]), tail = word.substr(cps[i + 1]);
        const std::string_view cp = word.substr(cps[i], cps[i + 1] - cps[i]);
        probe.assign(head).append(tail); // deletion
        look();
        if (i + 1 < n) { // transposition with the next code point
            const std::string_view next = word.substr(cps[i + 1], cps[i + 2] - cps[i + 1]);
            probe.assign(head).append(next).append(cp).append(word.substr(cps[i + 2]));
            look();
        }
        for (std::string_view a : alphabet) {
            if (a == cp) continue;
            probe.assign(head).append(a).append(tail); // substitution
            look();
        }
    }
    for (std::size_t i = 0; i <= n; ++i) {
        for (std::string_view a : alphabet) {
            probe.assign(word.substr(0, cps[i])).append(a).append(word.substr(cps[i])); // insertion
            look();
        }
    }
    std::sort(near.begin(), near.end());
    near.erase(std::unique(near.begin(), near.end()), near.end());
    for (std::uint32_t wid : near) {
        const double sim = word_similarity(word, words_.text(wid));
        if (sim > 0.0) out.emplace_back(wid, sim);
    }
    // Closest first; among equally close, the commoner word is the likelier intent.
    std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
        if (a.second != b.second) return a.second > b.second;
        const std::size_t da = postings(a.first).size(), db = postings(b.first).size();
        return da != db ? da > db : a.first < b.first;
    });
    if (out.size() > max_expansions) out.resize(max_expansions);
}

std::vector<Match> Catalogue::search(const Query& query, std::size_t limit) const {
    return search(PreparedQuery(query), limit);
}

std::vector<Match> Catalogue::search(const PreparedQuery& query, std::size_t limit) const {
    std::vector<Match> matches;
    if (limit == 0 || query.words().empty()) return matches;
    std::shared_lock lock(mutex_);
    const std::size_t n = ids_.size();
    if (n == 0) return matches;

    // 1. Each query word, with its near spellings found through the typo table.
    struct Term {
        std::vector<std::pair<std::uint32_t, double>> words;
        std::size_t df = 0;
    };
    std::vector<Term> terms(query.words().size());
    for (std::size_t i = 0; i < terms.size(); ++i) {
        expand_word(query.words()[i], terms[i].words);
        for (const auto& [wid, sim] : terms[i].words) terms[i].df += postings(wid).size();
    }
    // Rare words first: they pick the candidates; common ones only re-weigh.
    std::sort(terms.begin(), terms.end(), [](const Term& a, const Term& b) { return a.df < b.df; });
    const std::size_t common_df = std::max(min_common_df, n / common_df_divisor);

    // 2. Accumulate idf-weighted evidence per entry.
    ScratchLease scratch = lease_scratch();
    scratch->fit(slots_.size());
    for (const Term& t : terms) {
        if (t.df == 0) continue;
        if (t.df > common_df && !scratch->touched.empty()) continue;
        const std::uint32_t stamp = scratch->next_stamp();
        for (const auto& [wid, sim] : t.words) { // best spelling first: an entry counts it once
            const auto list = postings(wid);
            const double idf = std::log(1.0 + static_cast<double>(n) / static_cast<double>(list.size()));
            const auto w = static_cast<float>(idf * (sim < 1.0 ? sim * typo_weight : 1.0));
            for (std::uint32_t id : list) {
                if (scratch->mark[id] == stamp) continue;
                scratch->mark[id] = stamp;
                if (scratch->acc[id] == 0.0f) scratch->touched.push_back(id);
                scratch->acc[id] += w;
            }
        }
    }

    // 3. Re-score the strongest candidates exactly.
    const auto& acc = scratch->acc;
    float best = 0.0f;
    for (std::uint32_t id : scratch->touched) best = std::max(best, acc[id]);
    const auto floor = static_cast<float>(best * options_.min_evidence_ratio);
    std::vector<std::uint32_t> chosen;
    for (std::uint32_t id : scratch->touched)
        if (acc[id] >= floor) chosen.push_back(id);
    auto stronger = [&](std::uint32_t a, std::uint32_t b) { return acc[a] > acc[b] || (acc[a] == acc[b] && a < b); };
    if (chosen.size() > options_.max_candidates) {
        const auto cut = chosen.begin() + static_cast<std::ptrdiff_t>(options_.max_candidates);
        std::nth_element(chosen.begin(), cut, chosen.end(), stronger);
        chosen.resize(options_.max_candidates);
    }
    for (std::uint32_t id : chosen) {
        const Slot& slot = slots_[id];
        const double s = query.score(view_of(slot));
        if (s >= options_.min_score) matches.push_back(Match{slot.key, s});
    }
    std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) {
        return a.score > b.score || (a.score == b.score && a.key < b.key);
    });
    if (matches.size() > limit) matches.resize(limit);
    return matches;
}

} // namespace earshot::resolver

// resolve_bench: how the catalogue index behaves at library scale.
//
// For each size (default 10k and 100k entries) it generates a realistic
// library (artists of 1-3 pseudo-words, titles of 1-6 words, featuring
// credits, version suffixes, joined and short names), builds a Catalogue,
// and runs a mix of queries (exact, typo'd, free text, title only, misses).
// It prints build time, memory (RSS delta and bytes per entry), latency
// percentiles and top-1 accuracy, and, as the reference the index must beat,
// the cost of scanning every entry with the same scorer.
//
// usage: resolve_bench [queries=20000] [sizes=10000,100000] [scan_queries=20] [vocabulary=4000]
#include "resolver/catalogue.hpp"
#include "resolver/score.hpp"

#include <fmt/format.h>
#include <malloc.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace earshot::resolver;
using Clock = std::chrono::steady_clock;

namespace {

// CPU time of this thread: unlike wall time it does not count the time the
// scheduler gave other processes on a shared machine.
double thread_cpu_us() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

long rss_kib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return 0;
}

class Library {
public:
    Library(std::size_t n, unsigned seed, std::size_t vocabulary) : rng_(seed) {
        make_vocabulary(vocabulary);
        const std::size_t artist_count = std::max<std::size_t>(10, n / 12);
        for (std::size_t i = 0; i < artist_count; ++i) artists_.push_back(make_artist());
        for (std::size_t i = 0; i < n; ++i) {
            const std::string& artist = artists_[skewed(artists_.size())];
            std::string title = phrase(1 + static_cast<int>(pick({30, 30, 20, 10, 6, 4})));
            const unsigned roll = rng_() % 100;
            if (roll < 5) title += " (feat. " + artists_[rng_() % artists_.size()] + ")";
            else if (roll < 12) title += suffixes[rng_() % std::size(suffixes)];
            entries.push_back(CatalogueEntry{
                i + 1, Candidate{{artist}, phrase(1 + static_cast<int>(rng_() % 3)), std::move(title),
                                 90.0 + static_cast<double>(rng_() % 390)}});
        }
    }

    std::vector<CatalogueEntry> entries;

    std::string miss_phrase(int words) {
        static constexpr const char* odd[] = {"zx", "qv", "wj", "xq", "jz", "vw"};
        std::string s;
        for (int i = 0; i < words; ++i) {
            if (!s.empty()) s.push_back(' ');
            for (int k = 0; k < 3; ++k) s += odd[rng_() % std::size(odd)];
        }
        return s;
    }
    std::mt19937& rng() { return rng_; }

private:
    static constexpr const char* syllables[] = {"ka", "lo", "mi", "ren", "tas", "vo", "shu", "ber", "gin", "da",
                                                "pe", "ru", "zan", "kol", "fi", "mar", "ne", "sol", "tri", "ob",
                                                "ul", "yen", "qua", "bri", "stor", "el", "han", "dro", "ix", "pla",
                                                "mö", "sé", "ña", "to", "wen", "ca", "lu", "dé", "gor", "ash"};
    static constexpr const char* suffixes[] = {" (Remastered 2011)", " [Live]", " - Radio Edit", " - 2011 Remaster",
                                               " (Single Version)", " (Acoustic)", " (Remix)", " [Explicit]"};

    void make_vocabulary(std::size_t n) {
        std::set<std::string> seen;
        while (seen.size() < n) {
            std::string w;
            const int k = 1 + static_cast<int>(pick({10, 55, 35}));
            for (int i = 0; i < k; ++i) w += syllables[rng_() % std::size(syllables)];
            seen.insert(std::move(w));
        }
        words_.assign(seen.begin(), seen.end());
    }
    std::size_t pick(std::initializer_list<int> weights) {
        int total = 0;
        for (int w : weights) total += w;
        int r = static_cast<int>(rng_() % static_cast<unsigned>(total));
        std::size_t i = 0;
        for (int w : weights) {
            if (r < w) return i;
            r -= w;
            ++i;
        }
        return 0;
    }
    // A few artists own many tracks, most own a handful, as in real libraries.
    std::size_t skewed(std::size_t n) {
        const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        return std::min(n - 1, static_cast<std::size_t>(static_cast<double>(n) * u * u));
    }
    std::string word() {
        std::string w = words_[rng_() % words_.size()];
        if (static_cast<unsigned char>(w[0]) < 0x80) w[0] = static_cast<char>(w[0] - 'a' + 'A');
        return w;
    }
    std::string phrase(int n) {
        std::string s;
        for (int i = 0; i < n; ++i) {
            if (!s.empty()) s.push_back(' ');
            s += word();
        }
        return s;
    }
    std::string make_artist() {
        const unsigned roll = rng_() % 100;
        if (roll < 2) { // short names: "Ka", "Vo3", "!!"
            static constexpr const char* shorts[] = {"!!", "!!!", "Xo", "U7", "Ka", "B-52", "M4", "Öl"};
            return std::string(shorts[rng_() % std::size(shorts)]) + (roll == 0 ? "" : std::to_string(rng_() % 100));
        }
        if (roll < 8) return "The " + phrase(1 + static_cast<int>(rng_() % 2));
        if (roll < 11) return phrase(1) + " & " + phrase(1 + static_cast<int>(rng_() % 2));
        return phrase(1 + static_cast<int>(pick({40, 45, 15})));
    }

    std::mt19937 rng_;
    std::vector<std::string> words_, artists_;
};

std::string typo(std::string s, std::mt19937& rng) {
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i + 5 <= s.size(); ++i)
        if ((i == 0 || s[i - 1] == ' ') && std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i),
                                                       s.begin() + static_cast<std::ptrdiff_t>(i + 5),
                                                       [](char c) { return c >= 'a' && c <= 'z'; }))
            starts.push_back(i);
    if (starts.empty()) return s;
    const std::size_t at = starts[rng() % starts.size()] + 1 + rng() % 3;
    if (rng() % 2) std::swap(s[at], s[at + 1]);
    else s[at] = static_cast<char>('a' + rng() % 26);
    return s;
}

enum class Kind { exact, typo, text, title_only, miss };
constexpr const char* kind_names[] = {"exact", "typo", "free text", "title only", "miss"};

struct TestQuery {
    Kind kind;
    Query query;
    std::uint64_t target = 0;
};

std::vector<TestQuery> make_queries(Library& lib, std::size_t n) {
    std::vector<TestQuery> out;
    auto& rng = lib.rng();
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned roll = rng() % 100;
        const CatalogueEntry& e = lib.entries[rng() % lib.entries.size()];
        const Candidate& c = e.candidate;
        TestQuery t{Kind::exact, {}, e.key};
        if (roll < 40) {
            t.query.artist = c.artists.front();
            t.query.track = c.title;
            if (roll % 2) t.query.duration_s = c.duration_s;
        } else if (roll < 60) {
            t.kind = Kind::typo;
            t.query.artist = roll % 2 ? typo(c.artists.front(), rng) : c.artists.front();
            t.query.track = typo(c.title, rng);
        } else if (roll < 80) {
            t.kind = Kind::text;
            const std::string& a = c.artists.front();
            t.query.text = roll % 3 == 0 ? a + " " + c.title : roll % 3 == 1 ? c.title + " - " + a : a + " - " + c.title;
        } else if (roll < 90) {
            t.kind = Kind::title_only;
            t.query.text = c.title;
        } else {
            t.kind = Kind::miss;
            t.target = 0;
            t.query.artist = lib.miss_phrase(1);
            t.query.track = lib.miss_phrase(2);
        }
        out.push_back(std::move(t));
    }
    return out;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void run(std::size_t size, std::size_t query_count, std::size_t scan_count, std::size_t vocabulary) {
    Library lib(size, static_cast<unsigned>(size), vocabulary);
    const auto queries = make_queries(lib, query_count);
    malloc_trim(0);
    const long rss_before = rss_kib();

    auto catalogue = std::make_unique<Catalogue>();
    const auto b0 = Clock::now();
    catalogue->reserve(size);
    for (const auto& e : lib.entries) catalogue->upsert(e);
    catalogue->shrink_to_fit();
    const double build_ms = std::chrono::duration<double, std::milli>(Clock::now() - b0).count();
    malloc_trim(0);
    const long rss_after = rss_kib();
    const CatalogueStats stats = catalogue->stats();

    // Queries, one at a time, timed individually.
    std::vector<double> all, cpu;
    std::vector<std::vector<double>> by_kind(5), cpu_by_kind(5);
    std::vector<int> hits(5, 0), counted(5, 0), solved_hits(5, 0);
    all.reserve(queries.size());
    for (const auto& t : queries) {
        const auto t0 = Clock::now();
        const double c0 = thread_cpu_us();
        const auto matches = catalogue->search(t.query, 20);
        cpu.push_back(thread_cpu_us() - c0);
        const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
        all.push_back(us);
        const auto k = static_cast<std::size_t>(t.kind);
        by_kind[k].push_back(us);
        cpu_by_kind[k].push_back(cpu.back());
        ++counted[k];
        if (t.kind == Kind::miss) {
            if (matches.empty() || matches.front().score < 0.5) ++hits[k];
            continue;
        }
        // Top-1: the target holds the best score (identical twins tie).
        for (const auto& m : matches) {
            if (m.score < matches.front().score) break;
            if (m.key == t.target) {
                ++hits[k];
                if (m.score >= solved_score) ++solved_hits[k];
                break;
            }
        }
    }

    malloc_trim(0);
    const long rss_queried = rss_kib();

    // The baseline: score every entry for a few queries.
    std::vector<PreparedCandidate> prepared;
    prepared.reserve(lib.entries.size());
    for (const auto& e : lib.entries) prepared.push_back(prepare(e.candidate));
    double raw_scan_ms = 0, prepared_scan_ms = 0;
    const std::size_t scans = std::min(scan_count, queries.size());
    for (std::size_t i = 0; i < scans; ++i) {
        const Query& q = queries[i].query;
        auto t0 = Clock::now();
        double best = 0;
        for (const auto& e : lib.entries) best = std::max(best, score(q, e.candidate));
        raw_scan_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        t0 = Clock::now();
        const PreparedQuery pq(q);
        double best2 = 0;
        for (const auto& p : prepared) best2 = std::max(best2, pq.score(view(p)));
        prepared_scan_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (best != best2) fmt::print("  (scan mismatch {} vs {})\n", best, best2);
    }
    raw_scan_ms /= static_cast<double>(std::max<std::size_t>(1, scans));
    prepared_scan_ms /= static_cast<double>(std::max<std::size_t>(1, scans));

    const double p50 = percentile(all, 0.50), p99 = percentile(all, 0.99);
    fmt::print("== {} entries ==\n", size);
    fmt::print("build: {:.0f} ms ({:.1f} us/entry)   words {}   postings {}   arena {} KiB\n", build_ms,
               build_ms * 1000.0 / static_cast<double>(size), stats.words, stats.postings, stats.arena_bytes / 1024);
    fmt::print("memory: RSS +{:.1f} MiB = {:.0f} bytes/entry (estimate from sizes: {:.0f} bytes/entry)\n",
               static_cast<double>(rss_after - rss_before) / 1024.0,
               static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(size),
               static_cast<double>(stats.approx_bytes) / static_cast<double>(size));
    fmt::print("        after the queries (per-search scratch included): RSS +{:.1f} MiB = {:.0f} bytes/entry\n",
               static_cast<double>(rss_queried - rss_before) / 1024.0,
               static_cast<double>(rss_queried - rss_before) * 1024.0 / static_cast<double>(size));
    fmt::print("queries: {}   wall p50 {:.0f} us   p90 {:.0f} us   p99 {:.0f} us   max {:.0f} us\n", all.size(), p50,
               percentile(all, 0.90), p99, percentile(all, 1.0));
    fmt::print("         thread CPU p50 {:.0f} us   p90 {:.0f} us   p99 {:.0f} us   max {:.0f} us\n",
               percentile(cpu, 0.50), percentile(cpu, 0.90), percentile(cpu, 0.99), percentile(cpu, 1.0));
    for (std::size_t k = 0; k < 5; ++k) {
        if (counted[k] == 0) continue;
        fmt::print("  {:<10} n={:<6} wall p50 {:>4.0f} us  p99 {:>5.0f} us  cpu p99 {:>5.0f} us  {} {:.1f}%{}\n",
                   kind_names[k], counted[k], percentile(by_kind[k], 0.5), percentile(by_kind[k], 0.99),
                   percentile(cpu_by_kind[k], 0.99),
                   k == static_cast<std::size_t>(Kind::miss) ? "no match >= 0.5:" : "top-1:",
                   100.0 * hits[k] / counted[k],
                   k == static_cast<std::size_t>(Kind::exact)
                       ? fmt::format("  solved {:.1f}%", 100.0 * solved_hits[k] / counted[k])
                       : "");
    }
    fmt::print("baseline, scan of every entry ({} queries): score() on raw tags {:.1f} ms/query, "
               "on pre-normalised entries {:.1f} ms/query\n",
               scans, raw_scan_ms, prepared_scan_ms);
    double mean = 0;
    for (double v : all) mean += v;
    mean /= static_cast<double>(std::max<std::size_t>(1, all.size()));
    fmt::print("index: mean {:.0f} us/query = {:.0f}x faster than the raw scan, {:.0f}x faster than the "
               "pre-normalised scan\n\n",
               mean, raw_scan_ms * 1000.0 / mean, prepared_scan_ms * 1000.0 / mean);
}

} // namespace

int main(int argc, char** argv) {
    const std::size_t queries = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
    std::vector<std::size_t> sizes = {10'000, 100'000};
    if (argc > 2) {
        sizes.clear();
        std::stringstream ss(argv[2]);
        std::string part;
        while (std::getline(ss, part, ',')) sizes.push_back(std::strtoull(part.c_str(), nullptr, 10));
    }
    const std::size_t scans = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 20;
    const std::size_t vocabulary = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 4000;
    fmt::print("resolve_bench: {} queries per size, vocabulary of {} pseudo-words\n\n", queries, vocabulary);
    for (std::size_t size : sizes) run(size, queries, scans, vocabulary);
    return 0;
}

#define BOOST_TEST_MODULE resolver catalogue
#include <boost/test/unit_test.hpp>

#include "resolver/catalogue.hpp"

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace earshot::resolver;

namespace {

// Deterministic pseudo-words ("kalomi", "ventash", ...) so that generated
// libraries share vocabulary the way real ones do.
class Generator {
public:
    explicit Generator(unsigned seed, std::size_t vocabulary = 3000) : rng_(seed) {
        static constexpr const char* syllables[] = {"ka", "lo", "mi", "ren", "tas", "vo", "shu", "ber", "gin", "da",
                                                    "pe", "ru", "zan", "kol", "fi", "mar", "ne", "sol", "tri", "ob",
                                                    "ul", "yen", "qua", "bri", "stor", "el", "han", "dro", "ix", "pla"};
        while (words_.size() < vocabulary) {
            std::string w;
            const int n = 1 + static_cast<int>(rng_() % 3);
            for (int i = 0; i < n; ++i) w += syllables[rng_() % std::size(syllables)];
            if (w.size() >= 3 && std::find(words_.begin(), words_.end(), w) == words_.end()) words_.push_back(w);
        }
    }
    std::string phrase(int lo, int hi) {
        std::string s;
        const int n = lo + static_cast<int>(rng_() % static_cast<unsigned>(hi - lo + 1));
        for (int i = 0; i < n; ++i) {
            if (!s.empty()) s.push_back(' ');
            std::string w = words_[rng_() % words_.size()];
            w[0] = static_cast<char>(w[0] - 'a' + 'A');
            s += w;
        }
        return s;
    }
    std::mt19937& rng() { return rng_; }

private:
    std::mt19937 rng_;
    std::vector<std::string> words_;
};

Query q(std::string artist, std::string track) {
    Query x;
    x.artist = std::move(artist);
    x.track = std::move(track);
    return x;
}

Query text(std::string t) {
    Query x;
    x.text = std::move(t);
    return x;
}

CatalogueEntry entry(std::uint64_t key, std::vector<std::string> artists, std::string title, double duration = 0,
                     std::string album = {}) {
    return CatalogueEntry{key, Candidate{std::move(artists), std::move(album), std::move(title), duration}};
}

std::vector<CatalogueEntry> generated(std::size_t n, unsigned seed = 7) {
    Generator g(seed);
    std::vector<std::string> artists;
    for (std::size_t i = 0; i < n / 15 + 1; ++i) artists.push_back(g.phrase(1, 3));
    artists.push_back("Radiohead"); // the planted artist has other songs too
    std::vector<CatalogueEntry> out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(entry(i + 1, {artists[g.rng()() % artists.size()]}, g.phrase(1, 5),
                            120.0 + static_cast<double>(g.rng()() % 300), g.phrase(1, 3)));
    }
    return out;
}

enum Planted : std::uint64_t {
    karma_police = 1'000'001,
    karma_police_live,
    karma_police_moby,
    halo,
    one_u2,
    one_metallica,
    one_ub40,
    heart_of_hearts,
    hoppipolla,
    let_it_be,
    love_the_way,
    otis,
    roundabout,
    los_angeles,
};

void plant(Catalogue& c) {
    c.upsert(entry(karma_police, {"Radiohead"}, "Karma Police", 264, "OK Computer"));
    c.upsert(entry(karma_police_live, {"Radiohead"}, "Karma Police (Live)", 270, "I Might Be Wrong"));
    c.upsert(entry(karma_police_moby, {"Moby"}, "Karma Police", 250, "Covers"));
    c.upsert(entry(halo, {"Beyoncé"}, "Halo", 261));
    c.upsert(entry(one_u2, {"U2"}, "One", 276));
    c.upsert(entry(one_metallica, {"Metallica"}, "One", 447));
    c.upsert(entry(one_ub40, {"UB40"}, "One", 200));
    c.upsert(entry(heart_of_hearts, {"!!!"}, "Heart of Hearts", 300));
    c.upsert(entry(hoppipolla, {"Sigur Rós"}, "Hoppípolla", 268));
    c.upsert(entry(let_it_be, {"The Beatles"}, "Let It Be (Remastered 2009)", 243));
    c.upsert(entry(love_the_way, {"Eminem feat. Rihanna"}, "Love the Way You Lie", 263));
    c.upsert(entry(otis, {"Jay-Z & Kanye West"}, "Otis", 178));
    c.upsert(entry(roundabout, {"Yes"}, "Roundabout", 510));
    c.upsert(entry(los_angeles, {"X"}, "Los Angeles", 147));
}

std::uint64_t top(const std::vector<Match>& m) { return m.empty() ? 0 : m.front().key; }

double score_of(const std::vector<Match>& m, std::uint64_t key) {
    for (const auto& x : m)
        if (x.key == key) return x.score;
    return -1;
}

// One misplaced letter in the longest word.
std::string typo(std::string s, std::mt19937& rng) {
    std::size_t best = 0, best_len = 0, start = 0;
    for (std::size_t i = 0; i <= s.size(); ++i) {
        if (i == s.size() || s[i] == ' ') {
            if (i - start > best_len) {
                best = start;
                best_len = i - start;
            }
            start = i + 1;
        }
    }
    if (best_len < 5) return s;
    const std::size_t pos = best + 1 + rng() % (best_len - 2);
    std::swap(s[pos], s[pos + 1]); // a transposition, the commonest typo
    return s;
}

struct Fixture {
    Catalogue c;
    std::vector<CatalogueEntry> bulk = generated(10'000);
    Fixture() {
        c.reserve(bulk.size() + 20);
        for (const auto& e : bulk) c.upsert(e);
        plant(c);
    }
};

} // namespace

BOOST_FIXTURE_TEST_CASE(planted_targets_rank_first, Fixture) {
    BOOST_TEST(c.size() == 10'000u + 14u);

    auto r = c.search(q("Radiohead", "Karma Police"));
    BOOST_TEST(top(r) == karma_police);
    BOOST_TEST(r.front().score == 1.0);
    BOOST_TEST(score_of(r, karma_police_live) >= solved_score); // solved, but ranked below
    BOOST_TEST(score_of(r, karma_police_live) < 1.0);
    BOOST_TEST(score_of(r, karma_police_moby) <= 0.5);           // the artist floor

    BOOST_TEST(top(c.search(q("Radiohaed", "Karma Polise"))) == karma_police);
    BOOST_TEST(top(c.search(q("radiohead", "karma police"))) == karma_police);
    BOOST_TEST(top(c.search(text("radiohead karma police"))) == karma_police);
    BOOST_TEST(top(c.search(text("Karma Police - Radiohead"))) == karma_police);
    BOOST_TEST(top(c.search(text("Radiohead - Karma Police"))) == karma_police);
    BOOST_TEST(top(c.search(text("karma police live radiohead"))) == karma_police_live);
    r = c.search(text("karma police"));
    BOOST_TEST(score_of(r, karma_police) >= 0.6);
    BOOST_TEST(score_of(r, karma_police) < solved_score); // which artist's? unsolved

    r = c.search(q("Beyonce", "Halo"));
    BOOST_TEST(top(r) == halo);
    BOOST_TEST(r.front().score == 1.0);
    BOOST_TEST(top(c.search(q("BEYONCÉ", "halo"))) == halo);

    r = c.search(q("U2", "One"));
    BOOST_TEST(top(r) == one_u2);
    BOOST_TEST(r.front().score == 1.0);
    BOOST_TEST(score_of(r, one_metallica) <= 0.5);
    BOOST_TEST(score_of(r, one_ub40) <= 0.5);
    BOOST_TEST(top(c.search(q("Metallica", "One"))) == one_metallica);
    BOOST_TEST(top(c.search(text("u2 one"))) == one_u2);

    BOOST_TEST(top(c.search(q("!!!", "Heart of Hearts"))) == heart_of_hearts);
    BOOST_TEST(top(c.search(q("Sigur Ros", "Hoppipolla"))) == hoppipolla);
    r = c.search(q("Beatles", "Let It Be"));
    BOOST_TEST(top(r) == let_it_be);
    BOOST_TEST(r.front().score >= solved_score);
    BOOST_TEST(r.front().score < 1.0);
    r = c.search(q("Eminem", "Love the Way You Lie (feat. Rihanna)"));
    BOOST_TEST(top(r) == love_the_way);
    BOOST_TEST(r.front().score == 1.0);
    r = c.search(q("Jay-Z", "Otis"));
    BOOST_TEST(top(r) == otis);
    BOOST_TEST(r.front().score >= solved_score);
    BOOST_TEST(top(c.search(q("Yes", "Roundabout"))) == roundabout);
    BOOST_TEST(top(c.search(q("X", "Los Angeles"))) == los_angeles);

    // A query that matches nothing returns nothing.
    BOOST_TEST(c.search(q("Qwxzy Vbnmk", "Plokij Uhygt")).empty());
    BOOST_TEST(c.search(Query{}).empty());
}

BOOST_FIXTURE_TEST_CASE(generated_entries_are_found_exactly_and_through_typos, Fixture) {
    std::mt19937 rng(42);
    int exact_ok = 0, typo_ok = 0, text_ok = 0, tries = 0;
    for (int i = 0; i < 300; ++i) {
        const CatalogueEntry& e = bulk[rng() % bulk.size()];
        const auto& cand = e.candidate;
        ++tries;
        // Exact: the entry, or an identical twin the generator made, scores 1.0 first.
        auto r = c.search(q(cand.artists.front(), cand.title));
        if (!r.empty() && r.front().score == 1.0 && score_of(r, e.key) == 1.0) ++exact_ok;
        r = c.search(q(typo(cand.artists.front(), rng), typo(cand.title, rng)));
        if (!r.empty() && score_of(r, e.key) == r.front().score) ++typo_ok;
        r = c.search(text(cand.artists.front() + " " + cand.title));
        if (!r.empty() && score_of(r, e.key) == r.front().score) ++text_ok;
    }
    BOOST_TEST(exact_ok == tries);
    BOOST_TEST(typo_ok >= tries * 95 / 100, typo_ok << "/" << tries);
    BOOST_TEST(text_ok >= tries * 95 / 100, text_ok << "/" << tries);
}

BOOST_AUTO_TEST_CASE(candidate_count_is_bounded) {
    // 300 songs by one artist: with 5 candidates re-scored, at most 5 come back.
    Catalogue c(CatalogueOptions{5, 0.0});
    for (std::uint64_t i = 1; i <= 300; ++i) c.upsert(entry(i, {"Some Artist"}, "Song " + std::to_string(i)));
    BOOST_TEST(c.search(text("some artist"), 100).size() == 5u);
    Catalogue wide(CatalogueOptions{1000, 0.0});
    for (std::uint64_t i = 1; i <= 300; ++i) wide.upsert(entry(i, {"Some Artist"}, "Song " + std::to_string(i)));
    BOOST_TEST(wide.search(text("some artist"), 1000).size() == 300u);
    // The limit applies too.
    BOOST_TEST(wide.search(text("some artist"), 7).size() == 7u);
}

BOOST_FIXTURE_TEST_CASE(erase_and_upsert, Fixture) {
    BOOST_TEST(c.erase(karma_police));
    BOOST_TEST(!c.erase(karma_police));
    BOOST_TEST(c.size() == 10'013u);
    auto r = c.search(q("Radiohead", "Karma Police"));
    BOOST_TEST(score_of(r, karma_police) < 0);
    BOOST_TEST(top(r) == karma_police_live); // the next best

    // Replacing an entry re-indexes it under its new words only.
    c.upsert(entry(halo, {"Beyoncé"}, "Crazy in Love", 236));
    BOOST_TEST(c.size() == 10'013u);
    BOOST_TEST(score_of(c.search(q("Beyonce", "Halo")), halo) < 0);
    r = c.search(q("Beyonce", "Crazy in Love"));
    BOOST_TEST(top(r) == halo);
    BOOST_TEST(r.front().score == 1.0);

    c.upsert(entry(karma_police, {"Radiohead"}, "Karma Police", 264));
    BOOST_TEST(top(c.search(q("Radiohead", "Karma Police"))) == karma_police);

    // Erasing most of the catalogue (compaction, vocabulary rebuild) keeps the rest searchable.
    const auto before = c.stats();
    for (std::size_t i = 0; i < bulk.size(); i += 1) {
        if (i % 10 != 0) BOOST_TEST_REQUIRE(c.erase(bulk[i].key));
    }
    const auto after = c.stats();
    BOOST_TEST(after.entries == c.size());
    BOOST_TEST(after.words < before.words);
    BOOST_TEST(after.postings < before.postings);
    BOOST_TEST(after.arena_bytes < before.arena_bytes); // compacted
    for (std::size_t i = 0; i < bulk.size(); i += 97) {
        const auto& e = bulk[i];
        r = c.search(q(e.candidate.artists.front(), e.candidate.title));
        if (i % 10 == 0) BOOST_TEST(score_of(r, e.key) == 1.0);
        else BOOST_TEST(score_of(r, e.key) < 0);
    }
    BOOST_TEST(top(c.search(q("U2", "One"))) == one_u2);
    BOOST_TEST(top(c.search(q("Radiohaed", "Karma Polise"))) == karma_police);
    // Keys are reused safely after erase.
    c.upsert(entry(bulk[1].key, {"Brand New"}, "Fresh Track"));
    BOOST_TEST(top(c.search(q("Brand New", "Fresh Track"))) == bulk[1].key);
}

BOOST_AUTO_TEST_CASE(vocabulary_is_rebuilt_after_mass_erase) {
    // Every entry has its own words; erasing nearly all leaves a vocabulary
    // of dead words that must be reclaimed, with the survivors still found.
    Catalogue c;
    auto name = [](std::uint64_t i) {
        std::string w;
        for (std::uint64_t v = i; w.size() < 6; v /= 26) w.push_back(static_cast<char>('a' + v % 26));
        return w;
    };
    for (std::uint64_t i = 0; i < 12'000; ++i) c.upsert(entry(i + 1, {"Artist " + name(i)}, "Title " + name(i) + "x"));
    const auto full = c.stats();
    BOOST_TEST(full.words >= 24'000u);
    for (std::uint64_t i = 0; i < 12'000; ++i)
        if (i % 100 != 0) BOOST_TEST_REQUIRE(c.erase(i + 1));
    const auto after = c.stats();
    BOOST_TEST(after.entries == 120u);
    BOOST_TEST(after.words <= 2u + 2u * 120u);
    BOOST_TEST(after.approx_bytes < full.approx_bytes / 4);
    for (std::uint64_t i = 0; i < 12'000; i += 100) {
        auto r = c.search(q("Artist " + name(i), "Title " + name(i) + "x"));
        BOOST_TEST_REQUIRE(!r.empty());
        BOOST_TEST(r.front().key == i + 1);
        BOOST_TEST(r.front().score == 1.0);
    }
}

BOOST_FIXTURE_TEST_CASE(concurrent_searches_while_writing, Fixture) {
    std::atomic<bool> stop{false};
    std::atomic<int> searches{0}, wrong{0};
    auto reader = [&] {
        while (!stop.load()) {
            auto r = c.search(q("Radiohead", "Karma Police"));
            if (top(r) != karma_police || r.front().score != 1.0) ++wrong;
            r = c.search(q("U2", "One"));
            if (top(r) != one_u2) ++wrong;
            searches += 2;
        }
    };
    std::thread r1(reader), r2(reader);
    Generator g(99);
    for (int i = 0; i < 3000; ++i) { // churn: replace, add and erase generated entries
        const std::uint64_t key = 1 + g.rng()() % 12'000;
        if (i % 3 == 2) c.erase(key);
        else c.upsert(entry(key, {g.phrase(1, 2)}, g.phrase(1, 4)));
    }
    stop = true;
    r1.join();
    r2.join();
    BOOST_TEST(wrong.load() == 0);
    BOOST_TEST(searches.load() > 0);
    BOOST_TEST(top(c.search(q("Radiohead", "Karma Police"))) == karma_police);
}

BOOST_FIXTURE_TEST_CASE(memory_is_compact, Fixture) {
    c.shrink_to_fit();
    const auto s = c.stats();
    BOOST_TEST(s.entries == c.size());
    BOOST_TEST(s.postings >= s.entries); // every entry is findable by at least one word
    const double per_entry = static_cast<double>(s.approx_bytes) / static_cast<double>(s.entries);
    BOOST_TEST_MESSAGE("catalogue: " << s.entries << " entries, " << s.words << " words, " << s.postings
                                     << " postings, ~" << per_entry << " bytes/entry");
    BOOST_TEST(per_entry < 300.0);
}

#define BOOST_TEST_MODULE resolver scoring
#include <boost/test/unit_test.hpp>

#include "resolver/score.hpp"

#include <algorithm>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace earshot::resolver;

namespace {

Query q(std::string artist, std::string track, std::optional<double> duration = std::nullopt, std::string album = {}) {
    Query x;
    x.artist = std::move(artist);
    x.track = std::move(track);
    x.album = std::move(album);
    x.duration_s = duration;
    return x;
}

Query text(std::string t) {
    Query x;
    x.text = std::move(t);
    return x;
}

Candidate c(std::vector<std::string> artists, std::string title, double duration = 0, std::string album = {}) {
    return Candidate{std::move(artists), std::move(album), std::move(title), duration};
}

std::string describe(const Query& x, const Candidate& y) {
    std::ostringstream o;
    o << "query{" << x.artist << " | " << x.track << " | " << x.text << " | " << x.album << "} vs {";
    for (const auto& a : y.artists) o << a << ";";
    o << " | " << y.title << " | " << y.album << " | " << y.duration_s << "}";
    return o.str();
}

enum class Expect { exact, solved_not_exact, solved, found, weak, floor, miss };

struct Row {
    Query query;
    Candidate candidate;
    Expect expect;
};

void check(const Row& r) {
    const double s = score(r.query, r.candidate);
    const std::string what = describe(r.query, r.candidate) + " scored " + std::to_string(s);
    BOOST_TEST_REQUIRE((s >= 0.0 && s <= 1.0), what);
    switch (r.expect) {
    case Expect::exact: BOOST_TEST(s == 1.0, what); break;
    case Expect::solved_not_exact: BOOST_TEST((s >= solved_score && s < 1.0), what); break;
    case Expect::solved: BOOST_TEST(s >= solved_score, what); break;
    case Expect::found: BOOST_TEST((s >= 0.6 && s < solved_score), what); break;   // right track, unsure
    case Expect::weak: BOOST_TEST((s > 0.0 && s < 0.6), what); break;
    case Expect::floor: BOOST_TEST(s <= 0.5, what); break;                            // other artist
    case Expect::miss: BOOST_TEST(s < 0.3, what); break;                              // not worth listing
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(edit_distance_table) {
    BOOST_TEST(edit_distance("kitten", "sitting") == 3u);
    BOOST_TEST(edit_distance("", "abc") == 3u);
    BOOST_TEST(edit_distance("abc", "") == 3u);
    BOOST_TEST(edit_distance("same", "same") == 0u);
    BOOST_TEST(edit_distance("radiohead", "radiohaed") == 1u); // a transposition is one edit
    BOOST_TEST(edit_distance("café", "cafe") == 1u);            // code points, not bytes
    BOOST_TEST(edit_distance("坂本", "坂木") == 1u);
    BOOST_TEST(similarity("a", "a") == 1.0);
    BOOST_TEST(similarity("abcd", "abce") == 0.75);
    BOOST_TEST(similarity("", "abc") == 0.0);
    BOOST_TEST(word_similarity("police", "polise") > 0.8);
    BOOST_TEST(word_similarity("pop", "top") == 0.0);            // short words must be equal
    BOOST_TEST(word_similarity("karma", "kraam") == 0.0);        // two edits in a short word
    BOOST_TEST(word_similarity("symphonie", "symfonie") > 0.7);   // two edits in a long word
}

namespace {
// The textbook optimal-string-alignment table, as the reference for the
// library's faster implementation.
std::size_t reference_osa(const std::u32string& a, const std::u32string& b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}
} // namespace

BOOST_AUTO_TEST_CASE(edit_distance_matches_the_reference) {
    std::mt19937 rng(5);
    const std::u32string alphabets[] = {U"ab", U"abc ", U"abcdefghijklmnopqrstuvwxyz", U"aé坂 "};
    for (int round = 0; round < 4000; ++round) {
        const std::u32string& alpha = alphabets[static_cast<std::size_t>(round) % std::size(alphabets)];
        auto make = [&] {
            std::u32string s;
            const std::size_t n = rng() % (round % 5 == 0 ? 140 : 70);
            for (std::size_t i = 0; i < n; ++i) s.push_back(alpha[rng() % alpha.size()]);
            return s;
        };
        const std::u32string a = make(), b = make();
        auto utf8 = [](const std::u32string& s) {
            std::string out;
            for (char32_t c : s) {
                if (c < 0x80) out.push_back(static_cast<char>(c));
                else if (c < 0x800) { out.push_back(static_cast<char>(0xC0 | (c >> 6))); out.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
                else { out.push_back(static_cast<char>(0xE0 | (c >> 12))); out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F))); out.push_back(static_cast<char>(0x80 | (c & 0x3F))); }
            }
            return out;
        };
        const std::size_t want = reference_osa(a, b);
        BOOST_TEST_REQUIRE(edit_distance(utf8(a), utf8(b)) == want, "round " << round);
        BOOST_TEST_REQUIRE(edit_distance(utf8(b), utf8(a)) == want, "round " << round);
    }
}

BOOST_AUTO_TEST_CASE(score_table) {
    using E = Expect;
    const std::vector<Row> rows = {
        // exact and normalised-exact
        {q("Radiohead", "Karma Police"), c({"Radiohead"}, "Karma Police"), E::exact},
        {q("radiohead", "KARMA POLICE"), c({"Radiohead"}, "Karma Police"), E::exact},
        {q("  Radiohead ", "Karma   Police"), c({"Radiohead"}, "Karma Police"), E::exact},
        {q("Beyonce", "Halo"), c({"Beyoncé"}, "Halo"), E::exact},
        {q("Beyoncé", "Halo"), c({"BEYONCE"}, "Halo"), E::exact},
        {q("Sigur Ros", "Hoppipolla"), c({"Sigur Rós"}, "Hoppípolla"), E::exact},
        {q("Motorhead", "Ace of Spades"), c({"Motörhead"}, "Ace Of Spades"), E::exact},
        {q("Bjork", "Joga"), c({"Björk"}, "Jóga"), E::exact},
        {q("Guns N Roses", "Sweet Child O Mine"), c({"Guns N' Roses"}, "Sweet Child o' Mine"), E::exact},
        {q("Queen", "Dont Stop Me Now"), c({"Queen"}, "Don’t Stop Me Now"), E::exact},
        {q("REM", "Losing My Religion"), c({"R.E.M."}, "Losing My Religion"), E::exact},
        {q("Simon and Garfunkel", "The Boxer"), c({"Simon & Garfunkel"}, "The Boxer"), E::exact},
        // "The"
        {q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be"), E::exact},
        {q("The Beatles", "Let It Be"), c({"Beatles, The"}, "Let It Be"), E::exact},
        {q("The Beatles", "Let It Be"), c({"Beatles"}, "Let It Be"), E::exact},
        // featuring credits, in the artist or the title
        {q("Eminem", "Love the Way You Lie (feat. Rihanna)"), c({"Eminem feat. Rihanna"}, "Love the Way You Lie"), E::exact},
        {q("Eminem feat. Rihanna", "Love the Way You Lie"), c({"Eminem"}, "Love the Way You Lie (feat. Rihanna)"), E::exact},
        {q("Eminem ft. Rihanna", "Love the Way You Lie"), c({"Eminem", "Rihanna"}, "Love the Way You Lie"), E::exact},
        {q("Eminem", "Love the Way You Lie"), c({"Eminem feat. Rihanna"}, "Love the Way You Lie"), E::solved_not_exact},
        {q("Eminem", "Love the Way You Lie"), c({"Eminem"}, "Love the Way You Lie (ft. Rihanna)"), E::solved_not_exact},
        {q("Eminem feat. Rihanna", "Love the Way You Lie"), c({"Eminem"}, "Love the Way You Lie"), E::solved_not_exact},
        // joined artists: the first-listed artist alone still matches
        {q("Jay-Z", "Otis"), c({"Jay-Z & Kanye West"}, "Otis"), E::solved_not_exact},
        {q("Jay-Z", "Otis"), c({"Jay-Z and Kanye West"}, "Otis"), E::solved_not_exact},
        {q("Jay-Z", "Otis"), c({"Jay-Z, Kanye West"}, "Otis"), E::solved_not_exact},
        {q("Jay-Z & Kanye West", "Otis"), c({"Jay-Z"}, "Otis"), E::solved_not_exact},
        {q("Kanye West", "Otis"), c({"Jay-Z & Kanye West"}, "Otis"), E::found}, // credited, but second
        {q("Rihanna", "Love the Way You Lie"), c({"Eminem feat. Rihanna"}, "Love the Way You Lie"), E::found},
        // version suffixes: stripped equality is solved, not exact
        {q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be (Remastered 2009)"), E::solved_not_exact},
        {q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be - 2009 Remaster"), E::solved_not_exact},
        {q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be - Radio Edit"), E::solved_not_exact},
        {q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be (Single Version)"), E::solved_not_exact},
        {q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be [Live]"), E::solved_not_exact},
        {q("Beatles", "Let It Be (Remastered 2009)"), c({"The Beatles"}, "Let It Be"), E::solved_not_exact},
        {q("Beatles", "Let It Be (Remastered 2009)"), c({"The Beatles"}, "Let It Be - 2009 Remaster"), E::solved_not_exact},
        {q("Beatles", "Let It Be (Remastered 2009)"), c({"The Beatles"}, "Let It Be (Remastered 2009)"), E::exact},
        {q("Beatles", "Let It Be (Live)"), c({"The Beatles"}, "Let It Be [Live]"), E::exact},
        {q("Beatles", "Let It Be (Live)"), c({"The Beatles"}, "Let It Be"), E::found}, // asked for live, got studio
        {q("Beatles", "Let It Be (Live)"), c({"The Beatles"}, "Let It Be (Remix)"), E::found},
        // typos
        {q("Radiohaed", "Karma Police"), c({"Radiohead"}, "Karma Police"), E::found},
        {q("Radiohead", "Karma Polise"), c({"Radiohead"}, "Karma Police"), E::found},
        {q("Radiohaed", "Karma Polise"), c({"Radiohead"}, "Karma Police"), E::found},
        {q("Beyonse", "Hallo"), c({"Beyoncé"}, "Halo"), E::found},
        {q("Radiohead", "Police Karma"), c({"Radiohead"}, "Karma Police"), E::found},
        // short names
        {q("U2", "One"), c({"U2"}, "One"), E::exact},
        {q("u2", "one"), c({"U2"}, "ONE"), E::exact},
        {q("Yes", "Roundabout"), c({"Yes"}, "Roundabout"), E::exact},
        {q("X", "Los Angeles"), c({"X"}, "Los Angeles"), E::exact},
        {q("!!!", "Heart of Hearts"), c({"!!!"}, "Heart of Hearts"), E::exact},
        {q("Sunn O)))", "Aghartha"), c({"Sunn O)))"}, "Aghartha"), E::exact},
        {q("Band", "???"), c({"Band"}, "???"), E::exact},
        // the artist floor: a same-titled song by someone else is never solved
        {q("U2", "One"), c({"UB40"}, "One"), E::floor},
        {q("U2", "One"), c({"Metallica"}, "One"), E::floor},
        {q("Yes", "Roundabout"), c({"Yet"}, "Roundabout"), E::floor},
        {q("!!!", "Heart of Hearts"), c({"???"}, "Heart of Hearts"), E::floor},
        {q("Radiohead", "Creep"), c({"Stone Temple Pilots"}, "Creep"), E::floor},
        {q("Radiohead", "Creep"), c({"Radiohead"}, "Creep"), E::exact},
        {q("Radiohead", "Karma Police"), c({"Moby"}, "Karma Police"), E::floor},
        // different song, same artist
        {q("Radiohead", "Karma Police"), c({"Radiohead"}, "Airbag"), E::miss},
        // no artist given: found, never solved
        {q("", "Karma Police"), c({"Radiohead"}, "Karma Police"), E::found},
        // free text
        {text("Radiohead - Karma Police"), c({"Radiohead"}, "Karma Police"), E::exact},
        {text("Karma Police - Radiohead"), c({"Radiohead"}, "Karma Police"), E::solved_not_exact},
        {text("Radiohead \xE2\x80\x93 Karma Police"), c({"Radiohead"}, "Karma Police"), E::exact},
        {text("radiohead karma police"), c({"Radiohead"}, "Karma Police"), E::solved_not_exact},
        {text("karma police radiohead"), c({"Radiohead"}, "Karma Police"), E::solved_not_exact},
        {text("the beatles let it be"), c({"The Beatles"}, "Let It Be"), E::solved_not_exact},
        {text("karma police"), c({"Radiohead"}, "Karma Police"), E::found},
        {text("radiohead karma polise"), c({"Radiohead"}, "Karma Police"), E::found},
        {text("radiohead airbag"), c({"Radiohead"}, "Karma Police"), E::weak},
        {text("radiohead"), c({"Radiohead"}, "Karma Police"), E::found},
        {text("u2 one"), c({"U2"}, "One"), E::solved_not_exact},
        // duration breaks ties and penalises mismatches slightly
        {q("Radiohead", "Karma Police", 264), c({"Radiohead"}, "Karma Police", 264), E::exact},
        {q("Radiohead", "Karma Police", 264), c({"Radiohead"}, "Karma Police", 265.5), E::exact},
        {q("Radiohead", "Karma Police", 264), c({"Radiohead"}, "Karma Police", 270), E::solved_not_exact},
        {q("Radiohead", "Karma Police", 264), c({"Radiohead"}, "Karma Police", 330), E::found},
        {q("Radiohead", "Karma Police", 264), c({"Radiohead"}, "Karma Police", 0), E::exact}, // unknown length
        // album orders otherwise equal matches
        {q("Radiohead", "Karma Police", {}, "OK Computer"), c({"Radiohead"}, "Karma Police", 0, "OK Computer"), E::exact},
        {q("Radiohead", "Karma Police", {}, "OK Computer"), c({"Radiohead"}, "Karma Police", 0, "OK Computer (Remastered)"), E::exact},
        {q("Radiohead", "Karma Police", {}, "OK Computer"), c({"Radiohead"}, "Karma Police", 0, "Best Of"), E::solved_not_exact},
        {q("Radiohead", "Karma Police", {}, "OK Computer"), c({"Radiohead"}, "Karma Police"), E::solved_not_exact},
        // non-Latin scripts
        {q("Кино", "Группа крови"), c({"КИНО"}, "Группа Крови"), E::exact},
        {q("坂本龍一", "戦場のメリークリスマス"), c({"坂本龍一"}, "戦場のメリークリスマス"), E::exact},
        {q("坂本龍一", "戦場のメリークリスマス"), c({"久石譲"}, "戦場のメリークリスマス"), E::floor},
    };
    for (const auto& r : rows) check(r);
}

namespace {
// a must outrank b for query x.
void ranks_above(const Query& x, const Candidate& a, const Candidate& b) {
    const double sa = score(x, a), sb = score(x, b);
    BOOST_TEST(sa > sb, describe(x, a) << " = " << sa << " should beat " << describe(x, b) << " = " << sb);
}
} // namespace

BOOST_AUTO_TEST_CASE(ranking_table) {
    // Plain beats versions; benign versions beat other performances.
    ranks_above(q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be"), c({"The Beatles"}, "Let It Be (Live)"));
    ranks_above(q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be"), c({"The Beatles"}, "Let It Be (Remastered)"));
    ranks_above(q("Beatles", "Let It Be"), c({"The Beatles"}, "Let It Be (Remastered)"), c({"The Beatles"}, "Let It Be (Live)"));
    ranks_above(q("Beatles", "Let It Be (Live)"), c({"The Beatles"}, "Let It Be (Live)"), c({"The Beatles"}, "Let It Be"));
    ranks_above(q("Beatles", "Let It Be (Live)"), c({"The Beatles"}, "Let It Be (Live at the BBC)"), c({"The Beatles"}, "Let It Be (Remix)"));
    // The right artist, even misspelt, beats another artist's song of the same name.
    ranks_above(q("Radiohaed", "Karma Police"), c({"Radiohead"}, "Karma Police"), c({"Moby"}, "Karma Police"));
    ranks_above(q("Radiohed", "Creep"), c({"Radiohead"}, "Creep"), c({"TLC"}, "Creep"));
    ranks_above(q("Radiohaed", "Karma Polise"), c({"Radiohead"}, "Karma Police"), c({"Moby"}, "Karma Police"));
    ranks_above(q("U2", "One"), c({"U2"}, "One"), c({"UB40"}, "One"));
    ranks_above(q("U2", "One"), c({"U2"}, "One (Live)"), c({"Metallica"}, "One"));
    // A typo'd title still prefers the near title over the artist's other songs.
    ranks_above(q("Radiohead", "Karma Polise"), c({"Radiohead"}, "Karma Police"), c({"Radiohead"}, "Airbag"));
    ranks_above(q("Radiohead", "Karma Polise"), c({"Radiohead"}, "Karma Police"), c({"Radiohead"}, "Polyethylene"));
    // Duration breaks ties between otherwise equal candidates.
    ranks_above(q("Beatles", "Let It Be", 243), c({"The Beatles"}, "Let It Be", 243), c({"The Beatles"}, "Let It Be", 230));
    ranks_above(q("Beatles", "Let It Be", 243), c({"The Beatles"}, "Let It Be", 250), c({"The Beatles"}, "Let It Be", 400));
    // Featuring credits that match beat ones that do not.
    ranks_above(q("Eminem", "Love the Way You Lie (feat. Rihanna)"), c({"Eminem feat. Rihanna"}, "Love the Way You Lie"),
                c({"Eminem"}, "Love the Way You Lie"));
    ranks_above(q("Jay-Z", "Otis"), c({"Jay-Z"}, "Otis"), c({"Jay-Z & Kanye West"}, "Otis"));
    // The main artist beats a featured one.
    ranks_above(q("Rihanna", "Love the Way You Lie"), c({"Rihanna"}, "Love the Way You Lie"),
                c({"Eminem feat. Rihanna"}, "Love the Way You Lie"));
    // Album breaks ties.
    ranks_above(q("Radiohead", "Creep", {}, "Pablo Honey"), c({"Radiohead"}, "Creep", 0, "Pablo Honey"),
                c({"Radiohead"}, "Creep", 0, "Greatest Hits"));
    // Free text: both orders find the track over a same-titled song by someone else.
    ranks_above(text("Karma Police - Radiohead"), c({"Radiohead"}, "Karma Police"), c({"Moby"}, "Karma Police"));
    ranks_above(text("radiohead karma police"), c({"Radiohead"}, "Karma Police"), c({"Moby"}, "Karma Police"));
    ranks_above(text("karma police"), c({"Radiohead"}, "Karma Police"), c({"Radiohead"}, "Karma Police (Live)"));
    ranks_above(text("karma police live"), c({"Radiohead"}, "Karma Police (Live)"), c({"Radiohead"}, "Karma Police"));
}

BOOST_AUTO_TEST_CASE(exact_is_strictly_best) {
    // Whatever else matches, nothing outscores an exact match, and only exact is 1.0.
    const Query x = q("The Beatles", "Let It Be", 243, "Let It Be");
    const Candidate exact = c({"The Beatles"}, "Let It Be", 243, "Let It Be");
    BOOST_TEST(score(x, exact) == 1.0);
    for (const Candidate& other : {c({"The Beatles"}, "Let It Be (Remastered)", 243, "Let It Be"),
                                   c({"The Beatles feat. Billy Preston"}, "Let It Be", 243, "Let It Be"),
                                   c({"The Beatles"}, "Let It Be", 250, "Let It Be"),
                                   c({"The Beatles"}, "Let It Be", 243, "1"), c({"The Beatls"}, "Let It Be", 243, "Let It Be"),
                                   c({"The Beatles"}, "Let It Bee", 243, "Let It Be")}) {
        BOOST_TEST(score(x, other) < 1.0, describe(x, other));
    }
}

BOOST_AUTO_TEST_CASE(scores_stay_in_range_for_any_input) {
    std::mt19937 rng(99);
    const std::vector<std::string> bits = {"a", "The ", " feat. ", "(", ")", "[Live]", " - ", "é", "\xFF", "坂", "&", "!!!", " ", "x", "Remastered", "\xE2\x80\x93"};
    auto random_string = [&] {
        std::string s;
        const int n = static_cast<int>(rng() % 10);
        for (int i = 0; i < n; ++i) s += bits[rng() % bits.size()];
        return s;
    };
    for (int i = 0; i < 2000; ++i) {
        Query x;
        x.artist = random_string();
        x.track = rng() % 3 == 0 ? std::string() : random_string();
        x.text = random_string();
        if (rng() % 2) x.duration_s = static_cast<double>(rng() % 600);
        const Candidate y = c({random_string(), random_string()}, random_string(), static_cast<double>(rng() % 600), random_string());
        const double s = score(x, y);
        BOOST_TEST_REQUIRE((s >= 0.0 && s <= 1.0), describe(x, y));
    }
}

BOOST_AUTO_TEST_CASE(huge_fields_are_bounded) {
    // A 200 kB tag still matches itself exactly, and comparisons run on a
    // bounded prefix, not on quadratic tables of the full strings.
    std::string huge;
    for (int i = 0; huge.size() < 200'000; ++i) huge += "word" + std::to_string(i) + " ";
    const Candidate big = c({"Artist"}, huge, 0, huge);
    BOOST_TEST(score(q("Artist", huge), big) == 1.0);
    const PreparedCandidate p = prepare(big);
    BOOST_TEST(p.title.size() <= 512u);
    BOOST_TEST(p.album.size() <= 512u);
    std::string other = huge;
    other[3] = 'x';
    BOOST_TEST(score(q("Artist", other), big) < 1.0);
}

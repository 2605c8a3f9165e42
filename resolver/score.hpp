// The one scoring function: how well a candidate recording answers a query,
// in [0, 1]. The local catalogue, and later peers, all rank with it, so a
// score means the same thing whichever source produced it.
//
// Scale: 1.0 is an exact match after normalisation (case, diacritics,
// punctuation, "The", featuring credits). Anything >= solved_score (0.99)
// is the right recording: an equal title whose only difference is a version
// suffix ("Song" vs "Song (Remastered 2011)") lands there, strictly below
// 1.0, so an exact title ranks first. Typos, a missing artist or another
// version give lower scores; a poorly matching artist caps the score at 0.5
// so that another artist's song of the same name never looks solved.
#pragma once

#include "resolver/normalise.hpp"
#include "resolver/query.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::resolver {

// A recording as its tags describe it (raw strings).
struct Candidate {
    std::vector<std::string> artists; // artist tags in order; the first is the main artist
    std::string album;
    std::string title;
    double duration_s = 0; // 0 = unknown
};

// Everything score() compares, normalised once.
struct PreparedCandidate {
    std::string artist;  // first artist tag without featuring credits: "beatles", "simon and garfunkel"
    std::string names;   // every credited name, '\n'-separated, main first; empty when that is just `artist`
    std::string title;   // title base
    std::string version; // normalised version suffixes
    VersionKind kind = VersionKind::none;
    std::string album; // album base (its version suffixes dropped)
    double duration_s = 0;
};

// A non-owning PreparedCandidate, as the catalogue stores it.
struct CandidateView {
    std::string_view artist, names, title, version;
    VersionKind kind = VersionKind::none;
    std::string_view album;
    double duration_s = 0;
};

PreparedCandidate prepare(const Candidate&);
CandidateView view(const PreparedCandidate&);

// The credited names of a view, main artist first.
template <class F>
void for_each_name(const CandidateView& c, F&& f) {
    if (c.names.empty()) {
        if (!c.artist.empty()) f(c.artist);
        return;
    }
    std::string_view rest = c.names;
    while (!rest.empty()) {
        const std::size_t nl = rest.find('\n');
        const std::string_view name = rest.substr(0, nl);
        if (!name.empty()) f(name);
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
}

// A query analysed once, then scored against many candidates.
class PreparedQuery {
public:
    explicit PreparedQuery(const Query&);

    double score(const CandidateView&) const;

    // The distinct normalised words a candidate index should look up.
    const std::vector<std::string>& words() const { return words_; }

private:
    // One way of reading the query as fields: the query itself when it names
    // a track, or each side of "A - B" free text.
    struct Reading {
        PreparedCandidate fields;
        double weight = 1.0;
    };
    double score_reading(const Reading&, const CandidateView&) const;
    double score_text(const CandidateView&) const;
    double duration_factor(double candidate_s) const;

    std::vector<Reading> readings_;
    std::vector<std::string> text_words_; // free-text words matched against all fields
    std::vector<std::string> words_;
    std::string album_;
    std::optional<double> duration_s_;
};

// score(PreparedQuery(q), view(prepare(c))): for one-off comparisons.
double score(const Query&, const Candidate&);

// Optimal-string-alignment edit distance (insertions, deletions,
// substitutions, adjacent transpositions) over code points.
std::size_t edit_distance(std::string_view a, std::string_view b);

// 1 - edit distance / longer length over code points: 1 only when equal.
double similarity(std::string_view a, std::string_view b);

// Similarity of two single words, or 0 unless they are equal or one small
// typo apart (one edit; two for words of 8+ code points). Words shorter than
// four code points must be equal: "pop" and "top" are different words.
double word_similarity(std::string_view a, std::string_view b);

// Number of code points in valid UTF-8.
std::size_t code_points(std::string_view s);

} // namespace earshot::resolver

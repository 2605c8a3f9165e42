// Text normalisation shared by every side of a match: the query, the local
// catalogue and (later) peers all fold strings through these functions, so
// two spellings of one name meet at the same normalised form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::resolver {

// Folds case, Latin diacritics (Latin-1 Supplement, Latin Extended-A/B,
// ß→ss, æ→ae, ø→o, œ→oe, ł→l, ...), curly quotes, dashes, punctuation and
// whitespace. Greek and Cyrillic are lower-cased; other scripts pass through.
// Apostrophes vanish ("Don't" → "dont"), acronym dots join ("R.E.M." → "rem"),
// "&" reads as "and". Bytes that are not valid UTF-8 act as separators.
// The result is lower-case words separated by single spaces. A string that
// folds to nothing ("!!!", "???") falls back to its raw lower-cased form so
// that it still has a name to match on.
std::string normalise(std::string_view utf8);

// normalise() plus the artist conventions: a leading "The " and a trailing
// ", The" are dropped ("The Beatles", "Beatles, The" → "beatles").
std::string normalise_artist(std::string_view utf8);

// How far a version suffix takes a title from the plain recording.
enum class VersionKind : std::uint8_t {
    none,     // no version suffix
    benign,   // same recording, other packaging: remaster, radio edit, single version, explicit
    distinct, // another performance or mix: live, remix, acoustic, demo, instrumental
};

struct NormalisedTitle {
    std::string base;    // "song"
    std::string version; // "live", "remastered 2011", "" when none
    VersionKind kind = VersionKind::none;
    std::vector<std::string> featuring; // normalised names credited in the title ("Song (feat. X)")
};

// Splits a title into its base and version suffixes: trailing bracket groups
// that name a version ("(Remastered 2011)", "[Live]", "(Single Version)"),
// dash suffixes that do ("- Radio Edit", "- 2011 Remaster"), and featuring
// credits ("(feat. X)", "ft. X"). Brackets that name no version stay part of
// the title, and nothing is stripped if it would leave the title empty.
NormalisedTitle normalise_title(std::string_view utf8);

// Every name credited in an artist string, normalised, main artist first:
// "A feat. B & C" → {"a", "b", "c"}. Splits on feat./ft./featuring/with/vs,
// "&", "and", "x", ",", ";" and " / "; never returns an empty list for a
// non-blank input.
std::vector<std::string> split_artists(std::string_view utf8);

// Artist tags as one line for display: "A, B" (the tags themselves, not
// normalised).
std::string join_artists(const std::vector<std::string>& artists);

// The artist string without its featuring credits, normalised as an artist:
// "The Artist feat. X" → "artist". Joins ("Simon & Garfunkel") stay.
std::string normalise_artist_full(std::string_view utf8);

// Classifies the words of a normalised version string.
VersionKind classify_version(std::string_view normalised);

// Calls f(std::string_view) for each space-separated word of a normalised string.
template <class F>
void for_each_word(std::string_view normalised, F&& f) {
    std::size_t i = 0;
    while (i < normalised.size()) {
        while (i < normalised.size() && normalised[i] == ' ') ++i;
        std::size_t j = i;
        while (j < normalised.size() && normalised[j] != ' ') ++j;
        if (j > i) f(normalised.substr(i, j - i));
        i = j;
    }
}

} // namespace earshot::resolver

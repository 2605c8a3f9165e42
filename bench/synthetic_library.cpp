#include "bench/synthetic_library.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace earshot::bench {

namespace {
constexpr const char* syllables[] = {"ka", "lo", "mi", "ra", "ne", "to", "su", "vi", "an", "el", "or", "da",
                                     "be", "qu", "zo", "fi", "ha", "ju", "pe", "ly", "ce", "mo", "ri", "sa"};
}

SyntheticLibrary::SyntheticLibrary(std::uint32_t seed) : rng_(seed) {
    std::uniform_int_distribution<int> syl(0, static_cast<int>(std::size(syllables)) - 1), len(1, 4);
    for (int i = 0; i < 4000; ++i) {
        std::string w;
        for (int n = len(rng_); n > 0; --n) w += syllables[syl(rng_)];
        vocabulary_.push_back(std::move(w));
    }
    // Artists repeat across many tracks, as in a real library.
    std::uniform_int_distribution<int> artist_words(1, 3);
    for (int i = 0; i < 3000; ++i) {
        std::string a = words(artist_words(rng_));
        a[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(a[0])));
        if (i % 50 == 0) a = "The " + a;
        if (i % 200 == 0) a = a.substr(0, 2); // very short names: "U2", "Yes"
        artists_.push_back(std::move(a));
    }
}

std::string SyntheticLibrary::word() {
    // Zipf-like: low indices are much more common.
    std::uniform_real_distribution<double> u(0, 1);
    const auto i = static_cast<std::size_t>(std::pow(u(rng_), 2.5) * static_cast<double>(vocabulary_.size()));
    return vocabulary_[std::min(i, vocabulary_.size() - 1)];
}

std::string SyntheticLibrary::words(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        if (i) out += ' ';
        out += word();
    }
    return out;
}

SyntheticTrack SyntheticLibrary::next() {
    std::uniform_int_distribution<std::size_t> artist(0, artists_.size() - 1);
    std::uniform_int_distribution<int> title_words(1, 6), pct(0, 99);
    std::uniform_real_distribution<double> dur(90, 420);
    SyntheticTrack t;
    t.artist = artists_[artist(rng_)];
    t.album = words(2);
    t.title = words(title_words(rng_));
    t.title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t.title[0])));
    const int roll = pct(rng_);
    if (roll < 5) t.title += " (feat. " + artists_[artist(rng_)] + ")";
    else if (roll < 9) t.title += " (Remastered 2011)";
    else if (roll < 11) t.title += " - Live";
    t.duration_s = dur(rng_);
    return t;
}

std::string SyntheticLibrary::typo(std::string s) {
    if (s.size() < 4) return s;
    std::uniform_int_distribution<std::size_t> pos(1, s.size() - 2);
    std::swap(s[pos(rng_)], s[pos(rng_)]);
    return s;
}

std::string SyntheticLibrary::sloppy_free_text(const SyntheticTrack& t) {
    std::uniform_int_distribution<int> kind(0, 3);
    switch (kind(rng_)) {
    case 0: return t.artist + " - " + t.title;
    case 1: return typo(t.artist) + " " + typo(t.title);
    case 2: return t.title + " - " + t.artist;
    default: {
        std::string s = t.artist + " " + t.title;
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }
    }
}

} // namespace earshot::bench

// Realistic-looking track names for benchmarks at 10k-100k tracks: artists
// of one to three words, titles of one to six, drawn from a few thousand
// pseudo-words, with featuring credits, version suffixes and a few very
// short names, so the index sees the skew real libraries have.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace earshot::bench {

struct SyntheticTrack {
    std::string artist, album, title;
    double duration_s = 0;
};

class SyntheticLibrary {
public:
    explicit SyntheticLibrary(std::uint32_t seed = 42);
    SyntheticTrack next();
    // A query a user might type for `t`: exact, typo'd, free text, or lower-cased.
    std::string sloppy_free_text(const SyntheticTrack& t);

private:
    std::string word();
    std::string words(int n);
    std::string typo(std::string s);
    std::mt19937 rng_;
    std::vector<std::string> vocabulary_;
    std::vector<std::string> artists_;
};

} // namespace earshot::bench

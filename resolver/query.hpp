// What a resolver is asked and what it answers, independent of where the
// answer comes from (the local index now, peers later).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace earshot::resolver {

struct Query {
    std::string artist, track, album;
    std::string text; // free text ("artist - title", or any words); used when track is empty
    std::optional<double> duration_s;

    bool empty() const { return artist.empty() && track.empty() && album.empty() && text.empty(); }
};

struct Result {
    std::string sid; // opaque stream id: /sid/<sid>
    std::string artist, track, album;
    std::string source; // the library or peer name that can play it (the best-scoring one)
    std::vector<std::string> sources; // every library or peer that holds these exact bytes
    std::uint64_t size = 0;
    std::uint32_t bitrate_kbps = 0;
    double duration_s = 0;
    std::string mimetype;
    double score = 0;       // [0, 1]; >= solved_score means the query is solved
    std::string recording;  // same value for every encoding of one recording
    std::uint32_t quality = 0; // orders encodings of one recording; higher first
};

inline constexpr double solved_score = 0.99;

} // namespace earshot::resolver

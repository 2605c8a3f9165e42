// main() for running a libFuzzer entry point without libFuzzer (g++, or any
// build without -fsanitize=fuzzer): replays every file of a corpus directory
// given as argv[1], then a fixed number (100000) of deterministic inputs — random
// bytes, valid frames, and valid frames with a few bytes mutated, inserted,
// deleted or truncated. Deterministic so a failure reproduces; small enough to
// run as a CTest smoke test. Optional argv[2]: number of generated inputs.
#include "proto/content_id.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

using namespace earshot::proto;

namespace {

Hash some_hash(std::uint8_t seed) {
    Hash h;
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint8_t>(seed * 13 + i);
    return h;
}

// Valid encodings of every message type: the starting points for mutation.
std::vector<Bytes> seeds() {
    ResultEntry e{some_hash(1), 4'000'000, {"Artist", "Other, Artist"}, "Track", "Album", "audio/mpeg", 320, 200'000, 0.5, "rec", 3};
    std::vector<Message> ms{
        Hello{1, "earshot/0.1.0", "laptop", capability::search},
        Query{1, "artist", "track", "album", "", 200.5},
        Query{2, "", "", "", "text", std::nullopt},
        Results{1, {e, e}, false},
        Results{1, {}, true},
        Cancel{1},
        ChunkRequest{1, some_hash(2), 10, 4},
        ChunkData{1, some_hash(2), 10, Bytes(300, 0x42)},
        Leaves{1, some_hash(2), 3 * chunk_size, 0, {some_hash(3), some_hash(4), some_hash(5)}},
        HaveMap{some_hash(2), 20 * chunk_size, {0xFF, 0x0F, 0x0A}},
        Ping{7},
        Pong{7},
        Error{ErrorCode::not_permitted, 1, "no"},
        Error{ErrorCode::internal, 0, "disk on fire"},
    };
    std::vector<Bytes> out;
    Bytes all;
    for (const auto& m : ms) {
        out.push_back(encode_frame(m));
        all.insert(all.end(), out.back().begin(), out.back().end());
        // The second view of the target: type byte + bare payload.
        Bytes bare{static_cast<std::uint8_t>(message_type(m))};
        const auto p = encode(m);
        bare.insert(bare.end(), p.begin(), p.end());
        out.push_back(std::move(bare));
    }
    out.push_back(std::move(all));
    return out;
}

void run(const Bytes& input) { LLVMFuzzerTestOneInput(input.data(), input.size()); }

} // namespace

int main(int argc, char** argv) {
    std::size_t corpus_files = 0;
    if (argc > 1) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[1])) {
            if (!entry.is_regular_file()) continue;
            std::ifstream f(entry.path(), std::ios::binary);
            const Bytes input{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
            run(input);
            ++corpus_files;
        }
    }
    const std::size_t generated = argc > 2 ? std::stoul(argv[2]) : 100000;

    const auto base = seeds();
    for (const auto& s : base) run(s);
    std::mt19937_64 rng(0xEA55407);
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    for (std::size_t i = 0; i < generated; ++i) {
        Bytes input;
        if (i % 8 == 0) {
            input.resize(pick(256));
            for (auto& b : input) b = static_cast<std::uint8_t>(rng());
        } else {
            input = base[pick(base.size())];
            const std::size_t edits = 1 + pick(4);
            for (std::size_t k = 0; k < edits && !input.empty(); ++k) {
                const std::size_t at = pick(input.size());
                switch (pick(5)) {
                case 0: input[at] = static_cast<std::uint8_t>(rng()); break;
                case 1: input[at] ^= static_cast<std::uint8_t>(1u << pick(8)); break;
                case 2: input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), static_cast<std::uint8_t>(rng())); break;
                case 3: input.erase(input.begin() + static_cast<std::ptrdiff_t>(at)); break;
                case 4: input.resize(at); break;
                }
            }
        }
        run(input);
    }
    std::printf("%s: %zu corpus files, %zu seeds, %zu generated inputs, no failure\n", std::filesystem::path(argv[0]).filename().c_str(), corpus_files,
                base.size(), generated);
    return 0;
}

#include "daemon/media/fingerprint_match.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace earshot::media {
namespace {

// Calibration (tests/support/audio.cpp's generator: a seeded melody over a bass line and pink
// noise, 35 s; 5 recordings, each as FLAC, MP3 128k and 64k, Opus 64k and 24k, AAC 128k, Vorbis q3;
// plus re-rips delayed by 20/40/62/100/500 ms and "close relatives" of one recording):
//   same recording, any two encodings (111 pairs):      similarity 0.961 .. 1.000, 70 .. 117 shared terms
//   same recording, shifted re-rip (45 pairs):          similarity 0.845 .. 0.989, 42 .. 100 shared terms
//     (62 ms = half a Chromaprint hop is the worst case: every item straddles two frames)
//   same music over another noise floor (-26 dB):       similarity 0.852 .. 0.980
//   unrelated recordings (966 pairs):                   similarity 0.121 .. 0.180, 0 .. 1 shared terms
//   same melody, other bass line / transposed a semitone / 4% faster / half the notes changed:
//                                                       similarity 0.392 .. 0.542
//   a fifth of the notes changed (an alternative take): similarity 0.667 .. 0.755
// The threshold (0.80, header) sits midway between the weakest same-recording case (shifted
// re-rip, 0.845) and the strongest different-recording case (0.755). The score is AcoustID's
// 1 - 2*BER; AcoustID merges *tracks* at 0.70-0.75, a coarser notion than ours (it accepts
// alternative takes), so ours is stricter. Real encodings of one master score >= 0.95.

// Terms come from ~15 s (120 items) starting ~2 s in: the very start is where fade-ins, encoder
// priming and differing pregaps live. Short fingerprints use everything they have.
constexpr std::size_t kTermSkip = 16;
constexpr std::size_t kTermWindow = 120;
// The top 20 bits are the first ten of Chromaprint's sixteen 2-bit classifiers; measured per bit,
// they flip least under lossy coding and sub-frame time shifts (1-10% vs up to 14% for the rest).
constexpr std::uint32_t kTermMask = 0xFFFFF000u;
// Chromaprint's item for digital silence: every silent intro shares it, so it finds nothing.
constexpr std::uint32_t kSilenceItem = 627964279u;

// Bit errors between a[i] and b[i] over n items.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("popcnt", "default")))
#endif
std::uint64_t bit_errors(const std::uint32_t* a, const std::uint32_t* b, std::size_t n) {
    std::uint64_t errors = 0;
    for (std::size_t i = 0; i < n; ++i) errors += static_cast<unsigned>(std::popcount(a[i] ^ b[i]));
    return errors;
}

} // namespace

std::vector<std::uint32_t> fingerprint_terms(std::span<const std::uint32_t> fp) {
    const std::size_t start = fp.size() > kTermSkip + kTermWindow / 2 ? kTermSkip : 0;
    const std::size_t end = std::min(fp.size(), start + kTermWindow);
    std::vector<std::uint32_t> terms;
    terms.reserve(end - start);
    for (std::size_t i = start; i < end; ++i)
        if (fp[i] != kSilenceItem) terms.push_back(fp[i] & kTermMask);
    std::sort(terms.begin(), terms.end());
    terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
    return terms;
}

double fingerprint_similarity(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b) {
    if (a.empty() || b.empty()) return 0;
    const auto na = static_cast<std::ptrdiff_t>(a.size()), nb = static_cast<std::ptrdiff_t>(b.size());
    const std::ptrdiff_t min_overlap = std::max<std::ptrdiff_t>(1, std::min(na, nb) / 2);
    double best = 1.0;
    for (std::ptrdiff_t off = -kMaxAlignment; off <= kMaxAlignment; ++off) {
        // Compare a[i] with b[i + off].
        const std::ptrdiff_t i0 = std::max<std::ptrdiff_t>(0, -off);
        const std::ptrdiff_t i1 = std::min(na, nb - off);
        const std::ptrdiff_t n = i1 - i0;
        if (n < min_overlap) continue;
        const auto errors = bit_errors(a.data() + i0, b.data() + i0 + off, static_cast<std::size_t>(n));
        best = std::min(best, static_cast<double>(errors) / (32.0 * static_cast<double>(n)));
    }
    return std::clamp(1.0 - 2.0 * best, 0.0, 1.0);
}

bool same_recording(const Fingerprint& a, const Fingerprint& b) {
    if (std::abs(a.duration_s - b.duration_s) > kMaxDurationDifferenceS) return false;
    return fingerprint_similarity(a.raw, b.raw) >= kSameRecordingThreshold;
}

} // namespace earshot::media

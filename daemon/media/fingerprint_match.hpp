// Deciding whether two fingerprints are the same recording (FLAC vs MP3 vs Opus of one master),
// and the index terms that find candidates without comparing against every track.
#pragma once

#include "daemon/media/fingerprint.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace earshot::media {

// Terms for an inverted index: a small sorted, de-duplicated set of uint32 values taken from a
// window of items near (not at) the start of the fingerprint, keeping only the bits that survive
// lossy encoding best. Encodings of one recording share many terms; unrelated recordings rarely
// share more than one. Query the index with these terms and verify candidates that share at
// least kMinSharedTerms of them with same_recording().
std::vector<std::uint32_t> fingerprint_terms(std::span<const std::uint32_t> fp);
inline constexpr std::size_t kMinSharedTerms = 2;

// AcoustID-style comparison: slides one fingerprint against the other by up to ±kMaxAlignment
// items (±~10 s), takes the alignment with the lowest bit error rate over the overlapping items,
// and maps it to [0, 1]: 1 = identical, ~0 = unrelated (a bit error rate of 50%).
inline constexpr int kMaxAlignment = 80;
double fingerprint_similarity(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b);

// Similarity at or above which two fingerprints count as one recording (calibrated: see the .cpp).
inline constexpr double kSameRecordingThreshold = 0.80;
inline constexpr double kMaxDurationDifferenceS = 7.0;

// The index's decision: similarity >= kSameRecordingThreshold and durations within
// kMaxDurationDifferenceS.
bool same_recording(const Fingerprint& a, const Fingerprint& b);

} // namespace earshot::media

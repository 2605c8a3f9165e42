#include "daemon/stream/sources.hpp"

#include "proto/content_id.hpp"

#include <algorithm>
#include <tuple>

namespace earshot::stream {
namespace {

using Seconds = std::chrono::duration<double>;

// The request size the swarm uses (16 chunks), for turning a rate into a
// number of requests.
constexpr double request_bytes = 16.0 * proto::chunk_size;
// Before a peer delivered anything: a modest guess (2 MiB/s), so the first
// deadlines are not cut on a slow link and not absurd on a fast one.
constexpr double guessed_bytes_per_second = 2.0 * 1024 * 1024;
// Requests a peer gets before it has been measured.
constexpr std::size_t unmeasured_capacity = 2;
// Weight of the newest sample in the rate estimate, and a sample's extent.
constexpr double rate_weight = 0.5;
constexpr std::size_t sample_bytes_target = 1 << 20;
constexpr double sample_seconds_target = 1.0;

std::chrono::milliseconds clamp_ms(double seconds, std::chrono::milliseconds lo, std::chrono::milliseconds hi) {
    const auto ms = std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
    return std::clamp(ms, lo, hi);
}

} // namespace

void SourceBook::requested(const Key& k, Clock::time_point now) {
    auto& s = states_[k];
    if (s.in_flight++ == 0) {
        s.busy_since = now;
        // Idle time is not slowness: a new sample starts with the work.
        s.sample_since = now;
        s.sample_bytes = 0;
    }
}

void SourceBook::delivered(const Key& k, std::size_t bytes, Clock::time_point now) {
    auto& s = states_[k];
    ++s.chunks;
    s.strikes = 0;
    if (s.in_flight > 0) {
        // With requests outstanding, what arrives over a stretch of time is
        // how fast this peer serves us.
        s.sample_bytes += bytes;
        const double span = Seconds(now - s.sample_since).count();
        if (s.sample_bytes >= sample_bytes_target || span >= sample_seconds_target) {
            const double rate = static_cast<double>(s.sample_bytes) / std::max(span, 50e-6);
            s.bytes_per_second = s.bytes_per_second == 0 ? rate : (1 - rate_weight) * s.bytes_per_second + rate_weight * rate;
            s.sample_since = now;
            s.sample_bytes = 0;
        }
    }
    s.last_arrival = now;
}

void SourceBook::finished(const Key& k, Outcome outcome, bool delivered_any, Clock::time_point now) {
    auto& s = states_[k];
    if (s.in_flight > 0) --s.in_flight;
    switch (outcome) {
    case Outcome::complete:
    case Outcome::failed:
        break;
    case Outcome::timed_out:
        if (!delivered_any) {
            ++s.strikes;
            // The first silence only demotes the peer; the second in a row
            // takes it out of the running for a while.
            s.benched_until = now + (s.strikes >= 2 ? std::chrono::duration_cast<Clock::duration>(bench_time)
                                                    : std::chrono::duration_cast<Clock::duration>(bench_time / 3));
        }
        break;
    case Outcome::lacks:
        s.lacks = true;
        break;
    case Outcome::bad:
        s.bad = true;
        break;
    }
}

const SourceBook::State* SourceBook::find(const Key& k) const {
    const auto it = states_.find(k);
    return it == states_.end() ? nullptr : &it->second;
}

bool SourceBook::possible(const Key& k, Clock::time_point now) const {
    const auto* s = find(k);
    if (!s) return true;
    return !s->lacks && !s->bad && !(s->strikes >= 2 && now < s->benched_until);
}

double SourceBook::chunk_seconds(const State& s) const {
    const double rate = s.bytes_per_second > 0 ? s.bytes_per_second : guessed_bytes_per_second;
    return static_cast<double>(proto::chunk_size) / rate;
}

std::size_t SourceBook::capacity(const State& s) const {
    if (s.bytes_per_second <= 0) return unmeasured_capacity;
    // As many 1 MiB requests as this peer serves in about a second.
    const auto n = static_cast<std::size_t>(s.bytes_per_second / request_bytes);
    return std::clamp<std::size_t>(n, 1, max_requests_per_source);
}

std::optional<SourceBook::Key> SourceBook::pick(std::span<const Key> linked, Clock::time_point now,
                                                std::span<const Key> exclude) const {
    // Best first: not benched, claimed, then the soonest a new request of
    // ours would be done at this peer's rate.
    using Rank = std::tuple<bool, bool, double, std::size_t>;
    std::optional<Key> best;
    Rank best_rank{};
    const State fresh{};
    for (const auto& k : linked) {
        if (std::find(exclude.begin(), exclude.end(), k) != exclude.end() || !possible(k, now)) continue;
        const auto* found = find(k);
        const State& s = found ? *found : fresh;
        if (s.in_flight >= capacity(s)) continue;
        const Rank rank{benched(s, now), !s.claimed, static_cast<double>(s.in_flight + 1) * chunk_seconds(s),
                        s.in_flight};
        if (!best || rank < best_rank) {
            best = k;
            best_rank = rank;
        }
    }
    return best;
}

double SourceBook::seconds_between_chunks(const Key& k) const {
    const auto* found = find(k);
    const State& s = found ? *found : State{};
    // Concurrent requests to one peer interleave, so each sees its chunks
    // that many times further apart.
    return static_cast<double>(std::max<std::size_t>(1, s.in_flight)) * chunk_seconds(s);
}

std::chrono::milliseconds SourceBook::deadline(const Key& k, std::optional<double> rtt_ms) const {
    return clamp_ms(4 * rtt_ms.value_or(0) / 1000.0 + 8 * seconds_between_chunks(k), min_deadline, max_deadline);
}

std::chrono::milliseconds SourceBook::hedge_after(const Key& k, std::optional<double> rtt_ms) const {
    return clamp_ms(2 * rtt_ms.value_or(0) / 1000.0 + 4 * seconds_between_chunks(k), min_hedge, max_hedge);
}

} // namespace earshot::stream

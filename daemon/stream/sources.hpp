// Which peer a swarm asks for the next run of chunks, how long it waits for
// it, and when it asks a second one: the policy, with no sockets and no
// clock of its own (every call is told the time), so it is tested plainly.
//
//  - Peers that claimed the content (returned it in their Results) are
//    asked first; others only when no claimer can take the request.
//  - Each peer's delivery rate is measured over its deliveries while it had
//    requests outstanding. A request is cut when no
//    chunk came for a deadline derived from that rate and the link's ping
//    round trip; a reader waiting on a chunk asks a second peer (a hedge)
//    after a shorter delay, while the first may still answer.
//  - A peer gets as many requests at once as its rate can serve within
//    about a second, so a slow peer keeps doing what it can without being
//    the one the reader waits on.
//  - A peer whose request timed out without a single chunk is benched: it
//    gets new requests only when nobody else can take them; a second such
//    timeout in a row makes it unusable for a while, so a peer that never
//    answers costs a stream a few seconds, once.
//  - A peer that says it lacks the content, or sent bytes that failed
//    verification, is never asked again for this content.
#pragma once

#include "proto/peer_id.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>

namespace earshot::stream {

class SourceBook {
public:
    using Clock = std::chrono::steady_clock;
    using Key = proto::PublicKey;

    enum class Outcome {
        complete,  // the request was answered (all its chunks came)
        timed_out, // no chunk within the deadline
        lacks,     // the peer does not hold the content
        bad,       // bytes or layer failed verification
        failed,    // the link failed or the peer refused for another reason
    };

    struct State {
        bool claimed = false;
        bool lacks = false, bad = false;
        std::size_t in_flight = 0;   // requests outstanding
        std::uint64_t chunks = 0;    // verified chunks delivered
        int strikes = 0;             // consecutive requests timed out without a chunk
        Clock::time_point benched_until{};
        double bytes_per_second = 0; // 0: not measured yet
        Clock::time_point last_arrival{};
        Clock::time_point busy_since{};
        // The rate is sampled over 1 MiB or 1 s of deliveries, whichever
        // comes first: chunks arrive in bursts (TCP windows), so the gap
        // between two of them says little.
        Clock::time_point sample_since{};
        std::size_t sample_bytes = 0;
    };

    static constexpr std::size_t max_requests_per_source = 8;
    static constexpr std::chrono::milliseconds min_deadline{3000}, max_deadline{10000};
    static constexpr std::chrono::milliseconds min_hedge{300}, max_hedge{2000};
    // After a second timeout in a row the peer is left alone this long.
    static constexpr std::chrono::seconds bench_time{30};

    void claimed(const Key& k) { states_[k].claimed = true; }
    void requested(const Key& k, Clock::time_point now);
    void delivered(const Key& k, std::size_t bytes, Clock::time_point now);
    void finished(const Key& k, Outcome outcome, bool delivered_any, Clock::time_point now);

    // The peer to ask next among `linked`, not one of `exclude`; nullopt
    // when none can take a request now.
    std::optional<Key> pick(std::span<const Key> linked, Clock::time_point now,
                            std::span<const Key> exclude = {}) const;
    // Whether asking this peer can still help (it may be busy right now).
    bool possible(const Key& k, Clock::time_point now) const;
    // How long a request to `k` may go without a chunk before it is cut.
    std::chrono::milliseconds deadline(const Key& k, std::optional<double> rtt_ms) const;
    // How long a reader waits on a chunk asked of `k` before asking another.
    std::chrono::milliseconds hedge_after(const Key& k, std::optional<double> rtt_ms) const;

    const State* find(const Key& k) const;

private:
    std::size_t capacity(const State& s) const;
    bool benched(const State& s, Clock::time_point now) const { return s.strikes > 0 && now < s.benched_until; }
    // Seconds one chunk takes from this peer, by its measured rate, or a
    // modest guess before it has delivered anything.
    double chunk_seconds(const State& s) const;
    // The gap a request to `k` sees between its chunks, by that estimate.
    double seconds_between_chunks(const Key& k) const;

    std::map<Key, State> states_;
};

} // namespace earshot::stream

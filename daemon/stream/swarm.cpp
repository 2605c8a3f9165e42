#include "daemon/stream/swarm.hpp"

#include "proto/content_id.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace earshot::stream {
namespace {
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint32_t chunks_per_request = 16;   // 1 MiB: long enough to stream, short enough to spread
constexpr std::uint64_t max_window = 256;          // 16 MiB
// How long a reader parks before it looks again (a hedge may be due sooner).
constexpr auto reader_poll = 1s;
// Cached chunks read (and verified) ahead of a reader: 4 MiB, in runs of
// 1 MiB, each one disk request (a direct read costs a device round trip
// whatever its length) and one pool job. Up to four runs in flight keep both
// cores hashing while the io thread sends; a seek wastes at most the
// window. (bench/README.md: replay went from 1.04x with 8 single-chunk reads
// ahead to 1.6x.)
constexpr std::uint64_t cache_read_ahead = 64;
constexpr std::uint64_t cache_read_run = 16;

std::string short_hex(const proto::Hash& h) { return proto::to_hex(h).substr(0, 12); }
} // namespace

// One request's chunks on their way into the cache.
struct Swarm::Run {
    proto::PublicKey key{};
    bool delivered = false;                // at least one chunk arrived
    std::optional<std::uint64_t> rejected; // the first chunk that failed verification
    std::size_t storing = 0;               // chunks being verified and written on the pool
};

Swarm::Swarm(asio::any_io_executor ex, peers::PeerManager& peers, ChunkCache& cache, core::Blocking& blocking,
             proto::Hash id)
    : ex_(ex), peers_(peers), cache_(cache), blocking_(blocking), id_(id), progress_(ex) {
    if (auto known = cache_.leaves(id_)) {
        size_ = known->first;
        leaves_ = std::make_shared<const peers::LeafLayer>(peers::LeafLayer{known->first, std::move(known->second)});
    }
}

std::optional<std::uint64_t> Swarm::size() const { return size_; }

awaitable<std::uint64_t> Swarm::open() {
    if (!size_) co_await chunk(0);
    co_return *size_;
}

bool Swarm::accept_leaves(const std::shared_ptr<peers::Link>& link) {
    if (leaves_) return true;
    auto layer = link->leaves(id_); // the link checked it against the content id
    if (!layer) return false;
    leaves_ = layer;
    size_ = layer->size;
    // Written on the pool (a file and an fsync), ahead of the chunks that
    // need it there.
    layer_unsaved_ = true;
    start_storing();
    return true;
}

std::shared_ptr<peers::Link> Swarm::pick_source(std::span<const proto::PublicKey> exclude) {
    const auto links = peers_.links();
    std::vector<proto::PublicKey> keys;
    keys.reserve(links.size());
    for (const auto& l : links) keys.push_back(l->key());
    const auto chosen = book_.pick(keys, Clock::now(), exclude);
    if (!chosen) return nullptr;
    for (const auto& l : links)
        if (l->key() == *chosen) return l;
    return nullptr;
}

bool Swarm::any_source_possible() const {
    const auto now = Clock::now();
    for (const auto& link : peers_.links())
        if (book_.possible(link->key(), now)) return true;
    return false;
}

bool Swarm::held(std::uint64_t index) const { return fresh_.contains(index) || cache_.has(id_, index); }

void Swarm::start_run(std::shared_ptr<peers::Link> link, std::uint64_t first, std::uint64_t end) {
    for (std::uint64_t c = first; c < end; ++c) in_flight_[c].push_back(link->key());
    book_.requested(link->key(), Clock::now());
    asio::co_spawn(ex_, fetch_run(std::move(link), first, static_cast<std::uint32_t>(end - first)), asio::detached);
}

void Swarm::pump(std::uint64_t from, std::uint64_t count) {
    std::uint64_t end = from + count;
    if (leaves_) end = std::min<std::uint64_t>(end, leaves_->leaves.size());
    // Until the layer is known, one request: it brings the layer, and we do
    // not ask several peers for chunks that may not exist.
    if (!leaves_) {
        if (!in_flight_.empty()) return;
        end = std::min(end, from + chunks_per_request);
    }
    std::uint64_t i = from;
    while (i < end) {
        const auto wanted = [&](std::uint64_t c) { return !in_flight_.contains(c) && !held(c); };
        if (!wanted(i)) {
            ++i;
            continue;
        }
        std::uint64_t run = i + 1;
        while (run < end && run - i < chunks_per_request && wanted(run)) ++run;
        auto link = pick_source();
        if (!link) return;
        start_run(std::move(link), i, run);
        i = run;
        if (!leaves_) return;
    }
}

Clock::duration Swarm::hedge(std::uint64_t index) {
    const auto it = in_flight_.find(index);
    if (it == in_flight_.end()) return Clock::duration::zero();
    const auto now = Clock::now();
    const std::vector<proto::PublicKey> asked = it->second;
    // Due when every peer asked has gone without progress for its hedge delay.
    Clock::time_point due = Clock::time_point::min();
    for (const auto& key : asked) {
        const auto* st = book_.find(key);
        auto link = peers_.link(key);
        const auto rtt = link ? link->stats().latency_ms : std::nullopt;
        const auto since = st ? std::max(st->last_arrival, st->busy_since) : now;
        due = std::max(due, since + book_.hedge_after(key, rtt));
    }
    if (now < due) return due - now;
    auto other = pick_source(asked);
    if (!other) return reader_poll;
    std::uint64_t end = index + 1;
    const auto total = leaves_ ? leaves_->leaves.size() : index + 1;
    const auto asked_of_other = [&](std::uint64_t c) {
        const auto f = in_flight_.find(c);
        return f != in_flight_.end() && std::find(f->second.begin(), f->second.end(), other->key()) != f->second.end();
    };
    while (end < total && end - index < chunks_per_request && !held(end) && !asked_of_other(end)) ++end;
    spdlog::debug("swarm {}: chunk {} is late; asking {} as well", short_hex(id_), index, other->record().name);
    start_run(std::move(other), index, end);
    return reader_poll;
}

awaitable<void> Swarm::fetch_run(std::shared_ptr<peers::Link> link, std::uint64_t first, std::uint32_t count) {
    auto self = shared_from_this();
    const auto key = link->key();
    const std::string name = link->record().name;
    auto run = std::make_shared<Run>();
    run->key = key;
    const auto result = co_await link->fetch(
        id_, first, count,
        [&](std::uint64_t i, proto::Bytes data) {
            book_.delivered(key, data.size(), Clock::now());
            run->delivered = true;
            if (run->rejected) return;
            if (!accept_leaves(link)) {
                run->rejected = i;
                return;
            }
            if (held(i)) return; // a hedged copy that lost the race
            queue_store(run, i, std::move(data));
        },
        book_.deadline(key, link->stats().latency_ms));
    accept_leaves(link); // a request past the end brings only the layer
    while (run->storing > 0) co_await progress_.wait_for(1s);
    for (std::uint64_t c = first; c < first + count; ++c) {
        auto it = in_flight_.find(c);
        if (it == in_flight_.end()) continue;
        if (auto k = std::find(it->second.begin(), it->second.end(), key); k != it->second.end()) it->second.erase(k);
        if (it->second.empty()) in_flight_.erase(it);
    }
    auto outcome = SourceBook::Outcome::complete;
    if (result.layer_rejected) {
        outcome = SourceBook::Outcome::bad;
        last_error_ = "peer " + name + " sent a leaf layer that does not match the content id";
    } else if (run->rejected) {
        outcome = SourceBook::Outcome::bad;
        last_error_ = "peer " + name + " sent a chunk that failed verification";
        spdlog::warn("peer {}: chunk {} of {} failed verification; not using this peer for it any more", name,
                     *run->rejected, short_hex(id_));
    } else if (result.error) {
        outcome = result.code == proto::ErrorCode::unknown_content ? SourceBook::Outcome::lacks
                  : result.timed_out                               ? SourceBook::Outcome::timed_out
                                                                   : SourceBook::Outcome::failed;
        last_error_ = "peer " + name + ": " + *result.error;
        spdlog::info("peer {}: fetching {} chunks {}..{}: {}", name, short_hex(id_), first, first + count - 1,
                     *result.error);
    }
    book_.finished(key, outcome, run->delivered, Clock::now());
    progress_.notify();
}

void Swarm::queue_store(std::shared_ptr<Run> run, std::uint64_t index, proto::Bytes data) {
    ++run->storing;
    to_store_.push_back(ToStore{std::move(run), index, std::move(data), false});
    start_storing();
}

void Swarm::start_storing() {
    if (store_running_) return;
    store_running_ = true;
    asio::co_spawn(ex_, drain_stores(), asio::detached);
}

awaitable<void> Swarm::drain_stores() {
    auto self = shared_from_this();
    // One pool job per burst of chunks, not per chunk: what arrives while a
    // batch is hashed and written waits for the next one, so the io thread
    // decrypts while a pool thread hashes, without a thread wakeup (two
    // context switches) per 64 KiB.
    while (!to_store_.empty() || layer_unsaved_) {
        std::vector<ToStore> batch;
        batch.swap(to_store_);
        const auto layer = std::exchange(layer_unsaved_, false) ? leaves_ : nullptr;
        // The cache checks length and leaf before it stores a byte: one hash
        // per chunk, and a refusal there blames the peer that sent it.
        auto job = [this, layer, known = leaves_, batch = std::move(batch)]() mutable {
            bool layer_kept = true;
            if (layer) {
                try {
                    cache_.put_leaves(id_, layer->size, layer->leaves);
                } catch (const std::exception& e) {
                    // A disk that refuses the layer costs the cache, not the
                    // stream: the chunks are checked here instead and handed on.
                    spdlog::warn("swarm {}: cannot keep the leaf layer in the cache: {}", short_hex(id_), e.what());
                    layer_kept = false;
                }
            }
            if (!layer_kept) {
                for (auto& c : batch)
                    c.stored = c.index < known->leaves.size() && proto::leaf_hash(c.data) == known->leaves[c.index];
                return std::move(batch);
            }
            std::vector<ChunkCache::ChunkRef> refs;
            refs.reserve(batch.size());
            for (const auto& c : batch) refs.push_back({c.index, c.data});
            const auto taken = cache_.put_many(id_, refs);
            for (std::size_t i = 0; i < batch.size(); ++i) batch[i].stored = taken[i];
            return std::move(batch);
        };
        auto done = co_await blocking_.run(std::move(job));
        for (auto& c : done) {
            if (c.stored) {
                remember_fresh(c.index, std::move(c.data));
                in_flight_.erase(c.index);
            } else if (!c.run->rejected) {
                c.run->rejected = c.index;
            }
            --c.run->storing;
        }
        progress_.notify();
    }
    store_running_ = false;
}

void Swarm::read_ahead(std::uint64_t index) {
    if (!leaves_) return;
    const auto total = leaves_->leaves.size();
    const auto covered = [&](std::uint64_t i) { return fresh_.contains(i) || reading_ahead_.contains(i); };
    const auto end = std::min<std::uint64_t>(index + cache_read_ahead, total);
    for (auto i = index; i < end; ++i) {
        if (covered(i) || !cache_.has(id_, i)) continue;
        // A run of neighbouring cached chunks, one disk request: it may reach
        // past the window, so the next run starts only once half of it is
        // read, not one chunk at a time.
        auto j = i;
        while (j < total && j - i < cache_read_run && !covered(j) && cache_.has(id_, j)) reading_ahead_.insert(j++);
        asio::co_spawn(ex_, read_ahead_run(i, j - i), asio::detached);
        i = j - 1;
    }
}

awaitable<void> Swarm::read_ahead_run(std::uint64_t first, std::uint64_t count) {
    auto self = shared_from_this();
    std::vector<std::optional<proto::Bytes>> chunks;
    try {
        auto job = [this, first, count] { return cache_.get_many(id_, first, count); };
        chunks = co_await blocking_.run(std::move(job));
    } catch (const std::exception& e) {
        spdlog::debug("swarm {}: reading chunks {}+{} ahead: {}", short_hex(id_), first, count, e.what());
    }
    for (std::uint64_t k = 0; k < count; ++k) {
        reading_ahead_.erase(first + k);
        if (k < chunks.size() && chunks[k]) remember_fresh(first + k, std::move(*chunks[k]));
    }
    progress_.notify();
}

awaitable<std::optional<proto::Bytes>> Swarm::cached(std::uint64_t index) {
    if (!cache_.has(id_, index)) co_return std::nullopt;
    auto job = [this, index] { return cache_.get(id_, index); };
    auto bytes = co_await blocking_.run(std::move(job));
    co_return bytes;
}

void Swarm::remember_fresh(std::uint64_t index, proto::Bytes data) {
    // Bounded by the read-ahead window; what falls out is read back from the
    // cache (and verified again) if a reader still wants it.
    while (fresh_.size() >= max_window) fresh_.erase(fresh_.begin());
    fresh_.emplace(index, std::move(data));
}

void Swarm::fail(std::uint64_t index) const {
    throw std::runtime_error("chunk " + std::to_string(index) + " of " + short_hex(id_) +
                             " is not available from any peer" + (last_error_.empty() ? "" : " (" + last_error_ + ")"));
}

awaitable<proto::Bytes> Swarm::chunk(std::uint64_t index) {
    auto self = shared_from_this();
    bool waited = false;
    std::optional<Clock::time_point> sourceless_since;
    for (;;) {
        if (leaves_) {
            if (index >= leaves_->leaves.size()) throw std::out_of_range("chunk index past the end");
            if (auto fresh = fresh_.find(index); fresh != fresh_.end()) {
                // Verified moments ago on its way into the cache: no need to
                // read it back and hash it again.
                auto bytes = std::move(fresh->second);
                fresh_.erase(fresh);
                if (waited) window_ = std::min(window_ * 2, max_window);
                read_ahead(index + 1);
                pump(index + 1, window_);
                co_return bytes;
            }
            if (reading_ahead_.contains(index)) {
                co_await progress_.wait_for(reader_poll);
                continue;
            }
            auto bytes = co_await cached(index);
            if (bytes) {
                if (waited) window_ = std::min(window_ * 2, max_window);
                read_ahead(index + 1);
                pump(index + 1, window_);
                co_return std::move(*bytes);
            }
        }
        if (!in_flight_.contains(index)) pump(index, window_);
        if (in_flight_.contains(index)) {
            sourceless_since.reset();
            waited = true;
            const auto next_look = std::clamp<Clock::duration>(hedge(index), 20ms, reader_poll);
            co_await progress_.wait_for(next_look);
            continue;
        }
        // Nobody to ask. Linked peers that lack the content or lied about it
        // will not change their minds; a dropped link may come back.
        if (!peers_.links().empty() && !any_source_possible()) fail(index);
        if (!sourceless_since) sourceless_since = Clock::now();
        if (Clock::now() - *sourceless_since > source_wait) fail(index);
        co_await peers_.links_changed().wait_for(1s);
    }
}

awaitable<void> Swarm::fetch_all(std::function<void(std::uint64_t, std::uint64_t)> progress) {
    auto self = shared_from_this();
    const auto total = proto::chunk_count(co_await open());
    window_ = max_window;
    for (std::uint64_t i = 0; i < total; ++i) {
        if (!cache_.has(id_, i)) co_await chunk(i);
        if (progress) progress(i + 1, total);
    }
}

awaitable<std::size_t> RemoteStream::read(std::uint64_t offset, std::span<std::uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size() && offset + done < size_) {
        const auto pos = offset + done;
        proto::Bytes data;
        try {
            data = co_await swarm_->chunk(pos / proto::chunk_size);
        } catch (const std::exception& e) {
            if (done > 0) break; // hand over the good bytes; the next read reports it
            throw std::system_error(EIO, std::generic_category(), e.what());
        }
        const auto within = static_cast<std::size_t>(pos % proto::chunk_size);
        if (within >= data.size()) break;
        const auto n = std::min(out.size() - done, data.size() - within);
        std::memcpy(out.data() + done, data.data() + within, n);
        done += n;
    }
    co_return done;
}

} // namespace earshot::stream

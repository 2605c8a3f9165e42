#include "daemon/stream/swarm.hpp"

#include "proto/content_id.hpp"

#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>
#include <system_error>

namespace earshot::stream {
namespace {
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::uint32_t chunks_per_request = 16;   // 1 MiB: long enough to stream, short enough to spread
constexpr std::size_t max_requests_per_source = 8;
constexpr std::uint64_t max_window = 256;          // 16 MiB
constexpr auto request_timeout = 15s;

std::string short_hex(const proto::Hash& h) { return proto::to_hex(h).substr(0, 12); }
} // namespace

// One request's chunks on their way into the cache.
struct Swarm::Run {
    proto::PublicKey key{};
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
    cache_.put_leaves(id_, layer->size, layer->leaves);
    return true;
}

std::shared_ptr<peers::Link> Swarm::pick_source() {
    std::shared_ptr<peers::Link> best;
    std::size_t best_load = max_requests_per_source;
    for (auto& link : peers_.links()) {
        const auto& st = sources_[link->key()];
        if (st.lacks || st.bad || st.in_flight >= best_load) continue;
        best = link;
        best_load = st.in_flight;
    }
    return best;
}

bool Swarm::any_source_possible() const {
    for (const auto& link : peers_.links()) {
        auto it = sources_.find(link->key());
        if (it == sources_.end() || (!it->second.lacks && !it->second.bad)) return true;
    }
    return false;
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
        const auto wanted = [&](std::uint64_t c) { return !in_flight_.contains(c) && !cache_.has(id_, c); };
        if (!wanted(i)) {
            ++i;
            continue;
        }
        std::uint64_t run = i + 1;
        while (run < end && run - i < chunks_per_request && wanted(run)) ++run;
        auto link = pick_source();
        if (!link) return;
        for (std::uint64_t c = i; c < run; ++c) in_flight_.insert(c);
        ++sources_[link->key()].in_flight;
        asio::co_spawn(ex_, fetch_run(link, i, static_cast<std::uint32_t>(run - i)), asio::detached);
        i = run;
        if (!leaves_) return;
    }
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
            if (run->rejected) return;
            if (!accept_leaves(link)) {
                run->rejected = i;
                return;
            }
            ++run->storing;
            asio::co_spawn(ex_, store(run, i, std::move(data)), asio::detached);
        },
        std::chrono::duration_cast<std::chrono::milliseconds>(request_timeout));
    accept_leaves(link); // a request past the end brings only the layer
    while (run->storing > 0) co_await progress_.wait_for(1s);
    auto& st = sources_[key];
    --st.in_flight;
    for (std::uint64_t c = first; c < first + count; ++c) in_flight_.erase(c);
    if (run->rejected) {
        st.bad = true;
        last_error_ = "peer " + name + " sent a chunk that failed verification";
        spdlog::warn("peer {}: chunk {} of {} failed verification; not using this peer for it any more", name,
                     *run->rejected, short_hex(id_));
    } else if (result.error) {
        if (result.code == proto::ErrorCode::unknown_content) st.lacks = true;
        last_error_ = "peer " + name + ": " + *result.error;
        spdlog::info("peer {}: fetching {} chunks {}..{}: {}", name, short_hex(id_), first, first + count - 1,
                     *result.error);
    }
    progress_.notify();
}

awaitable<void> Swarm::store(std::shared_ptr<Run> run, std::uint64_t index, proto::Bytes data) {
    auto self = shared_from_this();
    // The cache checks length and leaf before it stores a byte: one hash
    // per chunk, and a refusal there blames this peer.
    auto job = [this, index, data = std::move(data)]() mutable -> std::optional<proto::Bytes> {
        try {
            cache_.put(id_, index, data);
        } catch (const std::invalid_argument&) {
            return std::nullopt;
        }
        return std::move(data);
    };
    auto stored = co_await blocking_.run(std::move(job));
    if (stored) {
        remember_fresh(index, std::move(*stored));
        in_flight_.erase(index);
        ++sources_[run->key].chunks;
    } else if (!run->rejected) {
        run->rejected = index;
    }
    --run->storing;
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
                pump(index + 1, window_);
                co_return bytes;
            }
            auto bytes = co_await cached(index);
            if (bytes) {
                if (waited) window_ = std::min(window_ * 2, max_window);
                pump(index + 1, window_);
                co_return std::move(*bytes);
            }
        }
        if (!in_flight_.contains(index)) pump(index, window_);
        if (in_flight_.contains(index)) {
            sourceless_since.reset();
            waited = true;
            co_await progress_.wait_for(request_timeout);
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

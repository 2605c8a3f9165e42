#include "daemon/peers/link.hpp"

#include "daemon/core/file_io.hpp"
#include "daemon/core/version.hpp"
#include "proto/content_id.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>

namespace earshot::peers {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto ping_interval = 10s;
// A peer that sends nothing (not even Pong) this long is gone, whatever TCP thinks.
constexpr auto silence_limit = 45s;
// The peer's Hello must follow the handshake within this (PEER_PROTOCOL.md §7).
constexpr auto hello_limit = 10s;
// How long a closing link waits for the peer's close record.
constexpr auto close_grace = 3s;
// Chunk requests being answered per link before we answer "overloaded".
constexpr std::size_t max_serving = 32;
// Chunks read ahead per link for the writer (1 MiB): enough to keep the
// disk and the cipher busy at once, little enough that a request does not
// hold the file in memory.
constexpr std::size_t max_queued_chunks = 16;
constexpr std::uint64_t chunks_per_read_job = 4;
// Queries a peer may ask: a burst of 32, then 16 a second, at most 4 being
// answered at once. Past that it gets "overloaded" for the query it sent,
// and everyone else's searches and streams keep their speed.
constexpr double query_burst = 32;
constexpr double queries_per_second = 16;
constexpr std::size_t max_queries_answering = 4;
constexpr auto refusal_pause = 2ms; // so at most 500 refusals a second
// Messages queued for a peer that does not read them: past this the link is
// dropped rather than let a stalled peer grow our memory without bound.
constexpr std::size_t max_queued_messages = 4096;
// Messages queued for the peer past which we stop reading from it until the
// writer catches up: a peer that asks faster than we answer is slowed by TCP
// (its own send buffer fills) instead of growing our queue, and a peer that
// reads promptly is never taken for one that does not.
constexpr std::size_t read_pause_at = 256;
// Messages a link handles before it lets other work on the io thread run.
constexpr std::uint64_t yield_every = 8;
// Largest content whose leaf layer we assemble (8 MiB of hashes): far above
// any audio file, far below what a lying peer could make us hold.
constexpr std::uint64_t max_content_size = 16ull << 30;

std::string short_id(const proto::PublicKey& key) { return proto::format_peer_id(key).substr(0, 7); }


} // namespace

// Each pending request has its own wakeup: an answer wakes the coroutine
// waiting for it, not every request in flight on the link (thousands, when
// many searches wait on a peer that is slow to answer).
struct Link::PendingQuery {
    explicit PendingQuery(asio::any_io_executor ex) : changed(std::move(ex)) {}
    core::Event changed;
    std::function<void(std::vector<proto::ResultEntry>)> on_entries;
    bool done = false;
    std::optional<std::string> error;
};

struct Link::PendingFetch {
    explicit PendingFetch(asio::any_io_executor ex) : changed(std::move(ex)) {}
    core::Event changed;
    proto::Hash content{};
    std::uint64_t first = 0;
    std::uint32_t count = 0;
    std::function<void(std::uint64_t, proto::Bytes)> on_chunk;
    std::size_t received = 0;
    bool done = false;
    std::optional<std::string> error;
    proto::ErrorCode code = proto::ErrorCode::internal;
    bool timed_out = false;
    Clock::time_point last_progress = Clock::now();
};

Link::Link(asio::any_io_executor ex, std::unique_ptr<Channel> channel, PeerRecord record, Offering& library,
           core::Blocking& blocking, std::string our_name, std::string remote_address, bool we_dialled)
    : channel_(std::move(channel)),
      record_(std::move(record)),
      library_(library),
      blocking_(blocking),
      our_name_(std::move(our_name)),
      remote_address_(std::move(remote_address)),
      we_dialled_(we_dialled),
      ex_(ex),
      outgoing_ready_(ex),
      chunk_sent_(ex),
      outgoing_drained_(ex),
      query_tokens_(query_burst),
      query_tokens_at_(Clock::now()),
      state_changed_(ex),
      last_heard_(Clock::now()) {}

Link::~Link() = default;

awaitable<void> Link::run() {
    auto self = shared_from_this();
    stats_.connected_ms = unix_ms_now();
    last_heard_ = Clock::now();
    proto::Message hello = proto::Hello{proto::peer_protocol_version, "earshot/" + std::string(core::version), our_name_,
                                        proto::capability::search | proto::capability::serve_chunks};
    enqueue(std::move(hello));

    asio::co_spawn(ex_, [self]() -> awaitable<void> {
        co_await self->write_loop();
        self->writer_done_ = true;
        self->state_changed_.notify();
    }, asio::detached);
    asio::co_spawn(ex_, [self]() -> awaitable<void> { co_await self->ping_loop(); }, asio::detached);

    try {
        co_await read_loop();
    } catch (const ProtocolViolation& e) {
        // Tell the peer why before the close record (PEER_PROTOCOL.md §5.11).
        if (close_reason_.empty()) close_reason_ = e.what();
        farewell_ = proto::Error{proto::ErrorCode::bad_request, 0, e.what()};
    } catch (const ChannelError& e) {
        if (close_reason_.empty()) close_reason_ = e.what();
    } catch (const std::exception& e) {
        if (close_reason_.empty()) close_reason_ = std::string("internal error: ") + e.what();
    }
    closing_ = true;
    fail_pending("link to " + short_id(key()) + " closed: " + close_reason_);
    outgoing_ready_.notify();
    // The writer sends our close record and ends; do not let it hang on a
    // peer that stopped reading.
    const auto deadline = Clock::now() + close_grace;
    while (!writer_done_ && Clock::now() < deadline) co_await state_changed_.wait_until(deadline);
    if (!writer_done_) {
        channel_->abort("closing");
        while (!writer_done_) co_await state_changed_.wait_for(100ms);
    }
    spdlog::info("peer {} ({}): link closed: {}", record_.name, short_id(key()), close_reason_);
}

void Link::close(std::string why) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = std::move(why);
    outgoing_ready_.notify();
    outgoing_drained_.notify();
    state_changed_.notify();
    // The reader ends when the peer answers our close record with its own;
    // if it does not within the grace period, cut the connection.
    auto self = shared_from_this();
    asio::co_spawn(ex_, [self]() -> awaitable<void> {
        asio::steady_timer t(self->ex_, close_grace);
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(use_awaitable, ec));
        self->channel_->abort(self->close_reason_);
    }, asio::detached);
}

void Link::touch() {
    last_heard_ = Clock::now();
}

void Link::enqueue(Outgoing item) {
    if (closing_) return;
    if (outgoing_.size() >= max_queued_messages) {
        close("the peer is not reading what we send");
        return;
    }
    outgoing_.push_back(std::move(item));
    outgoing_ready_.notify();
}

awaitable<void> Link::read_loop() {
    for (std::uint64_t handled = 0;; ++handled) {
        while (outgoing_.size() >= read_pause_at && !closing_) co_await outgoing_drained_.wait_for(1s);
        // A record holds many small frames, and receive() hands them over
        // without suspending: let the rest of the io thread (HTTP, other
        // links) run between every few, or one chatty peer holds it.
        if (handled % yield_every == yield_every - 1) co_await asio::post(ex_, use_awaitable);
        if (throttled_until_ > Clock::now() && !closing_) {
            asio::steady_timer pause(ex_, throttled_until_);
            boost::system::error_code ec;
            co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
        }
        auto m = co_await channel_->receive();
        if (!m) {
            if (close_reason_.empty()) close_reason_ = "the peer closed the link";
            co_return;
        }
        touch();
        if (!hello_) {
            auto* hello = std::get_if<proto::Hello>(&*m);
            if (!hello) throw ProtocolViolation("the first message was not Hello");
            hello_ = std::move(*hello);
            spdlog::info("peer {} ({}, \"{}\", {}) linked via {}", record_.name, short_id(key()), hello_->name,
                         hello_->daemon_version, remote_address_);
            state_changed_.notify();
            // A link already being closed (say, replaced by a second one) is
            // never announced as up, even if the peer's Hello still arrives.
            if (on_ready_ && !closing_) on_ready_();
            continue;
        }
        handle(std::move(*m));
    }
}

awaitable<void> Link::write_loop() {
    try {
        while (true) {
            while (outgoing_.empty() && !closing_) co_await outgoing_ready_.wait_for(1h);
            if (closing_) break;
            Outgoing item = std::move(outgoing_.front());
            outgoing_.pop_front();
            if (outgoing_.size() + 1 == read_pause_at) outgoing_drained_.notify();
            const bool chunk = std::holds_alternative<proto::ChunkData>(item);
            co_await channel_->send(item);
            if (chunk) {
                --queued_chunks_;
                chunk_sent_.notify();
            }
        }
        if (farewell_) {
            const proto::Message bye = *farewell_;
            co_await channel_->send(bye);
        }
        co_await channel_->close();
    } catch (const ChannelError& e) {
        if (close_reason_.empty()) close_reason_ = e.what();
        closing_ = true;
        channel_->abort(close_reason_); // the reader may still be parked on the socket
    }
}

awaitable<void> Link::ping_loop() {
    auto self = shared_from_this();
    const auto started = Clock::now();
    auto next_ping = started; // the first right away: latency is known from the start
    while (!closing_) {
        // Woken by every answer too; only the deadlines matter here. The
        // silence limit is checked when it falls due, not at the next ping.
        auto wake = std::min(next_ping, last_heard_ + silence_limit);
        if (!hello_) wake = std::min(wake, started + hello_limit);
        co_await state_changed_.wait_until(wake);
        const auto now = Clock::now();
        if (closing_) continue;
        if (!hello_ && now - started >= hello_limit) {
            close("no Hello within 10 s");
            break;
        }
        if (now - last_heard_ >= silence_limit) {
            close("the peer was silent for 45 s");
            break;
        }
        if (now < next_ping) continue;
        next_ping = now + ping_interval;
        ping();
    }
}

void Link::ping() {
    std::uint64_t nonce = 0;
    randombytes_buf(&nonce, sizeof nonce);
    pings_.clear(); // one ping in flight; a lost Pong only costs a latency sample
    pings_[nonce] = Clock::now();
    enqueue(proto::Message{proto::Ping{nonce}});
}

void Link::handle(proto::Message m) {
    std::visit(
        [&](auto& msg) {
            using T = std::decay_t<decltype(msg)>;
            if constexpr (std::is_same_v<T, proto::Query>) on_query(msg);
            else if constexpr (std::is_same_v<T, proto::ChunkRequest>) on_chunk_request(msg);
            else if constexpr (std::is_same_v<T, proto::Results>) on_results(std::move(msg));
            else if constexpr (std::is_same_v<T, proto::ChunkData>) on_chunk_data(std::move(msg));
            else if constexpr (std::is_same_v<T, proto::Leaves>) on_leaves(std::move(msg));
            else if constexpr (std::is_same_v<T, proto::Error>) on_error(msg);
            else if constexpr (std::is_same_v<T, proto::Ping>) enqueue(proto::Message{proto::Pong{msg.nonce}});
            else if constexpr (std::is_same_v<T, proto::Pong>) {
                if (auto it = pings_.find(msg.nonce); it != pings_.end()) {
                    stats_.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - it->second).count();
                    pings_.erase(it);
                }
                for (auto& [id, f] : fetches_) f->changed.notify(); // a fetch past its deadline waits for this probe
            } else if constexpr (std::is_same_v<T, proto::Hello>) {
                throw ProtocolViolation("a second Hello");
            }
            // Cancel: queries are answered at once, so there is nothing to stop.
            // HaveMap: we fetch from peers holding whole files; partial holders are not asked yet.
        },
        m);
}

// ---- serving the peer ----

bool Link::query_allowed() {
    const auto now = Clock::now();
    query_tokens_ = std::min(query_burst, query_tokens_ + queries_per_second *
                                                          std::chrono::duration<double>(now - query_tokens_at_).count());
    query_tokens_at_ = now;
    if (query_tokens_ < 1 || queries_answering_ >= max_queries_answering) return false;
    query_tokens_ -= 1;
    return true;
}

void Link::on_query(const proto::Query& q) {
    if (!query_allowed()) {
        enqueue(proto::Message{proto::Error{proto::ErrorCode::overloaded, q.query_id, "too many queries; slow down"}});
        // And read nothing more from this peer for a moment: refusing a
        // query costs us about what sending it cost the peer, so a flood
        // waits in its own socket buffer instead of taking the io thread
        // (at most refusals_per_second refusals a second).
        throttled_until_ = Clock::now() + refusal_pause;
        return;
    }
    ++queries_answering_;
    auto self = shared_from_this();
    asio::co_spawn(ex_, [self, q]() -> awaitable<void> {
        try {
            co_await self->answer_query(q);
        } catch (const std::exception& e) {
            spdlog::warn("peer {}: answering a query failed: {}", self->record_.name, e.what());
            proto::Message err = proto::Error{proto::ErrorCode::internal, q.query_id, "search failed"};
            self->enqueue(std::move(err));
        }
        --self->queries_answering_;
    }, asio::detached);
}

awaitable<void> Link::answer_query(proto::Query q) {
    resolver::Query query{q.artist, q.track, q.album, q.text, q.duration_s};
    std::vector<proto::ResultEntry> entries;
    if (!query.empty()) {
        auto who = record_;
        auto found = co_await library_.search(std::move(who), std::move(query));
        entries = std::move(found);
    }
    std::size_t at = 0;
    do {
        proto::Results r;
        r.query_id = q.query_id;
        const auto n = std::min(proto::max_results_per_frame, entries.size() - at);
        r.entries.assign(std::make_move_iterator(entries.begin() + static_cast<std::ptrdiff_t>(at)),
                         std::make_move_iterator(entries.begin() + static_cast<std::ptrdiff_t>(at + n)));
        at += n;
        r.final = at == entries.size();
        enqueue(proto::Message{std::move(r)});
    } while (at < entries.size());
}

void Link::on_chunk_request(const proto::ChunkRequest& req) {
    if (serving_ >= max_serving) {
        enqueue(proto::Message{proto::Error{proto::ErrorCode::overloaded, req.request_id, "too many requests queued"}});
        return;
    }
    ++serving_;
    auto self = shared_from_this();
    asio::co_spawn(ex_, [self, req]() -> awaitable<void> {
        try {
            co_await self->serve(req);
        } catch (const std::exception& e) {
            spdlog::warn("peer {}: serving {}: {}", self->record_.name, proto::to_hex(req.content_id), e.what());
            proto::Message err = proto::Error{proto::ErrorCode::internal, req.request_id, "cannot read the file"};
            self->enqueue(std::move(err));
        }
        --self->serving_;
    }, asio::detached);
}

awaitable<void> Link::serve(proto::ChunkRequest req) {
    auto who = record_;
    auto found = co_await library_.content(std::move(who), req.content_id);
    if (!found) {
        enqueue(proto::Message{proto::Error{proto::ErrorCode::unknown_content, req.request_id, "not held here"}});
        co_return;
    }
    const ServedContent content = std::move(*found);
    const auto leaves = content.leaves;
    const std::uint64_t size = content.size;
    const std::uint64_t total = proto::chunk_count(size);
    if (!leaves_sent_[req.content_id]) {
        // Queued before any chunk of it, by this request or a later one.
        leaves_sent_[req.content_id] = true;
        for (auto& segment : proto::split_leaves(req.request_id, req.content_id, size, *leaves))
            enqueue(proto::Message{std::move(segment)});
    }
    const auto refuse = [&](std::string why) {
        enqueue(proto::Message{proto::Error{proto::ErrorCode::unknown_content, req.request_id, std::move(why)}});
    };
    if (req.first_chunk >= total) {
        // Every request gets an answer (PEER_PROTOCOL.md §5.6): the layer
        // above tells the size, this says there is nothing more to wait for.
        enqueue(proto::Message{proto::Error{proto::ErrorCode::bad_request, req.request_id,
                                            "past the end: the content has " + std::to_string(total) + " chunks"}});
        co_return;
    }
    if (content.read_chunk) {
        co_await serve_held(req, content, total);
        co_return;
    }
    auto open_job = [path = content.path] { return std::make_shared<const core::Fd>(path, O_RDONLY); };
    const auto fd = co_await blocking_.run(std::move(open_job));
    if (!*fd) {
        library_.content_changed(content.path);
        refuse("the file is gone");
        co_return;
    }
    const std::uint64_t end = std::min(total, req.first_chunk + req.count);
    for (std::uint64_t i = req.first_chunk; i < end && !closing_;) {
        while (queued_chunks_ >= max_queued_chunks && !closing_) co_await chunk_sent_.wait_for(1s);
        if (closing_) break;
        // A few chunks per pool job (as many as the writer has room for, up
        // to 4): fewer thread wakeups per MB than one job per chunk.
        const auto n = std::min<std::uint64_t>({end - i, max_queued_chunks - queued_chunks_, chunks_per_read_job});
        // Every chunk is checked against the index before it leaves: a file
        // that rotted or was rewritten in place (mtime kept) is caught here,
        // reported, and rescanned, and the peer fetches elsewhere.
        auto read_job = [fd, leaves, first = i, n, size] {
            std::vector<proto::Bytes> out;
            for (std::uint64_t c = first; c < first + n; ++c) {
                const std::uint64_t offset = c * proto::chunk_size;
                proto::Bytes data(static_cast<std::size_t>(std::min<std::uint64_t>(proto::chunk_size, size - offset)));
                if (!core::read_at(fd->get(), data, offset) || proto::leaf_hash(data) != (*leaves)[c]) break;
                out.push_back(std::move(data));
            }
            return out;
        };
        auto chunks = co_await blocking_.run(std::move(read_job));
        for (auto& data : chunks) {
            stats_.bytes_served += data.size();
            ++queued_chunks_;
            enqueue(proto::Message{proto::ChunkData{req.request_id, req.content_id, i++, std::move(data)}});
        }
        if (chunks.size() < n) {
            spdlog::warn("peer {}: chunk {} of {} no longer matches the index; not serving it, rescanning the file",
                         record_.name, i, content.path);
            library_.content_changed(content.path);
            refuse("the file changed on disk since it was indexed");
            co_return;
        }
    }
}

awaitable<void> Link::serve_held(const proto::ChunkRequest& req, const ServedContent& content, std::uint64_t total) {
    const std::uint64_t end = std::min(total, req.first_chunk + req.count);
    for (std::uint64_t i = req.first_chunk; i < end && !closing_; ++i) {
        while (queued_chunks_ >= max_queued_chunks && !closing_) co_await chunk_sent_.wait_for(1s);
        if (closing_) break;
        auto read_job = [read = content.read_chunk, i] { return read(i); };
        auto data = co_await blocking_.run(std::move(read_job));
        if (!data) {
            enqueue(proto::Message{proto::Error{proto::ErrorCode::unknown_content, req.request_id,
                                                "chunk " + std::to_string(i) + " is not held here"}});
            co_return;
        }
        stats_.bytes_served += data->size();
        ++queued_chunks_;
        enqueue(proto::Message{proto::ChunkData{req.request_id, req.content_id, i, std::move(*data)}});
    }
}

// ---- routing answers to our requests ----

void Link::on_results(proto::Results r) {
    auto it = queries_.find(r.query_id);
    if (it == queries_.end()) return; // cancelled, or late
    auto pending = it->second;
    if (!r.entries.empty() && pending->on_entries) pending->on_entries(std::move(r.entries));
    if (r.final) pending->done = true;
    pending->changed.notify();
}

void Link::on_leaves(proto::Leaves l) {
    if (verified_leaves_.contains(l.content_id) || rejected_layers_.contains(l.content_id)) return;
    // Only layers we asked for: a peer cannot make us buffer hashes unasked.
    const bool asked = std::any_of(fetches_.begin(), fetches_.end(),
                                   [&](const auto& f) { return f.second->content == l.content_id; });
    if (!asked) return;
    if (l.size > max_content_size) throw ProtocolViolation("a leaf layer for a content over 16 GiB");
    auto& a = assembling_[l.content_id];
    if (l.first_leaf == 0) a = LeafLayer{l.size, {}};
    if (l.size != a.size || l.first_leaf != a.leaves.size())
        throw ProtocolViolation("Leaves segments out of order");
    a.leaves.insert(a.leaves.end(), l.leaves.begin(), l.leaves.end());
    if (a.leaves.size() < proto::chunk_count(a.size)) return;
    const bool good = proto::root_from_leaves(a.leaves, a.size) == l.content_id;
    if (good) {
        verified_leaves_[l.content_id] = std::make_shared<const LeafLayer>(std::move(a));
    } else {
        spdlog::warn("peer {}: its leaf layer for {} does not match the content id", record_.name,
                     proto::to_hex(l.content_id));
        // Its chunks of this content may still be on their way: they are
        // dropped, not taken for a protocol error, and nothing more of it is
        // asked on this link.
        rejected_layers_.insert(l.content_id);
    }
    assembling_.erase(l.content_id);
    for (auto& [id, f] : fetches_) {
        if (f->content != l.content_id || f->done) continue;
        if (!good) {
            f->error = "the peer's leaf layer does not match the content id";
            f->done = true;
            continue;
        }
        const auto total = verified_leaves_[l.content_id]->leaves.size();
        const std::uint64_t expected = f->first >= total ? 0 : std::min<std::uint64_t>(f->count, total - f->first);
        if (f->received >= expected) f->done = true;
    }
    for (auto& [id, f] : fetches_)
        if (f->content == l.content_id) f->changed.notify();
}

void Link::on_chunk_data(proto::ChunkData cd) {
    auto it = fetches_.find(cd.request_id);
    if (it == fetches_.end()) return; // timed out meanwhile
    auto f = it->second;
    if (cd.content_id != f->content || cd.chunk_index < f->first || cd.chunk_index >= f->first + f->count)
        throw ProtocolViolation("ChunkData outside the request it answers");
    if (rejected_layers_.contains(f->content)) return;
    auto layer = verified_leaves_.find(f->content);
    if (layer == verified_leaves_.end())
        throw ProtocolViolation("ChunkData before the content's leaf layer");
    stats_.bytes_fetched += cd.data.size();
    ++f->received;
    f->last_progress = last_chunk_at_ = Clock::now();
    if (f->on_chunk) f->on_chunk(cd.chunk_index, std::move(cd.data));
    const auto total = layer->second->leaves.size();
    const std::uint64_t expected = f->first >= total ? 0 : std::min<std::uint64_t>(f->count, total - f->first);
    if (f->received >= expected) f->done = true;
    f->changed.notify();
}

void Link::on_error(const proto::Error& e) {
    if (e.ref_id == 0) {
        spdlog::warn("peer {}: {}: {}", record_.name, proto::to_string(e.code), e.message);
        // Only bad_request says the peer is closing (we broke the protocol,
        // as it sees it); "overloaded" and the rest are news, not an end.
        if (e.code == proto::ErrorCode::bad_request)
            close("the peer reported " + std::string(proto::to_string(e.code)) + ": " + e.message);
        return;
    }
    if (auto q = queries_.find(e.ref_id); q != queries_.end()) {
        q->second->error = std::string(proto::to_string(e.code)) + ": " + e.message;
        q->second->changed.notify();
    } else if (auto f = fetches_.find(e.ref_id); f != fetches_.end()) {
        f->second->error = std::string(proto::to_string(e.code)) + ": " + e.message;
        f->second->code = e.code;
        f->second->done = true;
        f->second->changed.notify();
    }
}

void Link::fail_pending(const std::string& why) {
    for (auto& [id, q] : queries_)
        if (!q->done && !q->error) q->error = why;
    for (auto& [id, f] : fetches_)
        if (!f->done) {
            f->error = why;
            f->done = true;
        }
    for (auto& [id, q] : queries_) q->changed.notify();
    for (auto& [id, f] : fetches_) f->changed.notify();
    state_changed_.notify();
}

std::shared_ptr<const LeafLayer> Link::leaves(const proto::Hash& content) const {
    auto it = verified_leaves_.find(content);
    return it == verified_leaves_.end() ? nullptr : it->second;
}

awaitable<void> Link::query(resolver::Query q, std::function<void(std::vector<proto::ResultEntry>)> on_entries,
                            std::stop_token stop) {
    auto self = shared_from_this();
    if (!ready()) throw std::runtime_error("not linked");
    const auto id = next_id();
    auto pending = std::make_shared<PendingQuery>(ex_);
    pending->on_entries = std::move(on_entries);
    queries_[id] = pending;
    proto::Message wire = proto::Query{id, q.artist, q.track, q.album, q.text, q.duration_s};
    enqueue(std::move(wire));
    {
        std::stop_callback wake(stop, [pending] { pending->changed.notify(); });
        while (!pending->done && !pending->error && !stop.stop_requested())
            co_await pending->changed.wait_for(1h);
    }
    queries_.erase(id);
    if (pending->done) co_return;
    if (stop.stop_requested()) {
        if (!closing_) enqueue(proto::Message{proto::Cancel{id}});
        co_return;
    }
    throw std::runtime_error(*pending->error);
}

awaitable<FetchResult> Link::fetch(proto::Hash content, std::uint64_t first, std::uint32_t count,
                                   std::function<void(std::uint64_t, proto::Bytes)> on_chunk,
                                   std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    if (!ready()) co_return FetchResult{"not linked", proto::ErrorCode::internal, 0};
    if (rejected_layers_.contains(content))
        co_return FetchResult{"the peer's leaf layer does not match the content id", proto::ErrorCode::internal, 0,
                              false, true};
    const auto id = next_id();
    auto f = std::make_shared<PendingFetch>(ex_);
    f->content = content;
    f->first = first;
    f->count = count;
    f->on_chunk = std::move(on_chunk);
    fetches_[id] = f;
    proto::Message wire = proto::ChunkRequest{id, content, first, count};
    enqueue(std::move(wire));
    if (auto layer = leaves(content); layer && first >= layer->leaves.size()) f->done = true;
    std::optional<Clock::time_point> probed;
    while (!f->done) {
        const auto now = Clock::now();
        // Requests to one peer are served in turn: one queued behind others
        // makes no progress of its own while the peer works through them.
        // Only a peer that sends us no chunk at all is past a deadline.
        const auto deadline = std::max(f->last_progress, last_chunk_at_) + timeout;
        if (now < deadline) {
            probed.reset();
            co_await f->changed.wait_until(deadline);
            continue;
        }
        // Past the deadline. If the peer answers a Ping meanwhile it is
        // ignoring this request: cut it, the caller asks elsewhere. If we
        // hear nothing at all the path is down (an outage, a NAT rebooting);
        // the request stays, TCP delivers it late or the link's silence
        // limit ends it.
        if (!probed) {
            probed = now;
            ping();
        }
        if (last_heard_ > *probed) {
            f->error = "no answer within " + std::to_string(timeout.count()) + " ms";
            f->timed_out = true;
            break;
        }
        co_await f->changed.wait_for(250ms);
    }
    fetches_.erase(id);
    co_return FetchResult{f->error, f->code, f->received, f->timed_out, rejected_layers_.contains(content)};
}

} // namespace earshot::peers

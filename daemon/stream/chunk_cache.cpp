#include "daemon/stream/chunk_cache.hpp"

#include "daemon/core/file_io.hpp"
#include "daemon/core/private_file.hpp"
#include "proto/content_id.hpp"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace earshot::stream {
namespace {

constexpr std::string_view leaves_magic = "earshot-leaves-v1\n";
constexpr std::size_t stamp_bytes = 8;

std::uint64_t chunk_length(std::uint64_t size, std::uint64_t chunk) {
    const std::uint64_t offset = chunk * proto::chunk_size;
    return offset >= size ? 0 : std::min<std::uint64_t>(proto::chunk_size, size - offset);
}

off_t chunk_offset(std::uint64_t chunk) { return static_cast<off_t>(chunk * proto::chunk_size); }

// A stream touches its content's files for every chunk, so the descriptors
// of the few contents used last stay open; a cache that has seen thousands
// of contents must not hold thousands of descriptors.
constexpr std::size_t open_contents = 8;
// Neighbouring chunks written with one system call: 1 MiB.
constexpr std::size_t max_run_chunks = 16;
using core::Fd;
using core::read_at;
using core::write_at;

std::optional<proto::Bytes> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    return proto::Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void make_private_dir(const std::filesystem::path& p) {
    std::filesystem::create_directories(p);
    std::filesystem::permissions(p, std::filesystem::perms::owner_all);
}

} // namespace

struct ChunkCache::Entry {
    std::filesystem::path dir;
    std::uint64_t size = 0;
    std::vector<proto::Hash> leaves; // empty until the layer is known
    std::vector<bool> present;       // sized with the layer
    std::vector<std::uint64_t> stamps;
    std::uint64_t held = 0;       // chunks present
    std::uint64_t held_bytes = 0; // their bytes
    bool pinned = false;
    nlohmann::json meta = nlohmann::json::object();
    // Open while this content is among the `open_contents` used last. Shared,
    // so a read or write running outside the lock keeps its descriptor.
    std::shared_ptr<const Fd> data_fd, direct_fd, used_fd;
    std::uint64_t opened_use = 0; // when they were last handed out

    bool has_layer() const { return !leaves.empty(); }
    std::filesystem::path data() const { return dir / "data"; }
    std::filesystem::path used() const { return dir / "used"; }
};

ChunkCache::ChunkCache(std::filesystem::path dir, CacheOptions options)
    : dir_(std::move(dir)), options_(options), direct_refused_(!options.direct_io),
      bounce_(proto::chunk_size, 4 * max_run_chunks) {
    make_private_dir(dir_);
    // Listed first: load() may remove directories.
    std::vector<std::pair<std::filesystem::path, proto::Hash>> subs;
    for (const auto& sub : std::filesystem::directory_iterator(dir_))
        if (const auto id = proto::hash_from_hex(sub.path().filename().string()); id && sub.is_directory())
            subs.emplace_back(sub.path(), *id);
    for (const auto& [sub, id] : subs) {
        try {
            load(sub, id);
        } catch (const std::exception& ex) {
            // One damaged entry must not keep the daemon from starting.
            spdlog::warn("chunk cache: skipping {}: {}", sub.string(), ex.what());
        }
    }
    evict(nullptr, 0); // the bound may have shrunk since the last run
    spdlog::debug("chunk cache: {} contents, {} bytes cached, {} bytes pinned", entries_.size(), unpinned_bytes_,
                  pinned_bytes_);
}

ChunkCache::~ChunkCache() = default;

void ChunkCache::load(const std::filesystem::path& sub, const proto::Hash& id) {
    std::error_code ec;
    // Temporaries of an atomic replace interrupted by a crash.
    std::filesystem::remove(sub / "leaves.tmp", ec);
    std::filesystem::remove(sub / "pin.json.tmp", ec);

    auto e = std::make_unique<Entry>();
    e->dir = sub;
    if (auto pin = read_file(sub / "pin.json")) {
        try {
            const auto j = nlohmann::json::parse(pin->begin(), pin->end());
            e->size = j.at("size").get<std::uint64_t>();
            e->meta = j.value("meta", nlohmann::json::object());
            e->pinned = true;
        } catch (const std::exception& ex) {
            spdlog::warn("chunk cache: {} is damaged ({}); treating it as unpinned", (sub / "pin.json").string(),
                         ex.what());
        }
    }
    if (auto blob = read_file(sub / "leaves")) {
        try {
            proto::ByteReader r(*blob);
            const auto magic = r.raw(leaves_magic.size());
            if (!std::equal(magic.begin(), magic.end(), leaves_magic.begin(), leaves_magic.end()))
                throw proto::DecodeError("bad magic");
            const auto size = r.u64le();
            if (r.remaining() != proto::chunk_count(size) * sizeof(proto::Hash)) throw proto::DecodeError("bad length");
            std::vector<proto::Hash> leaves;
            leaves.reserve(r.remaining() / sizeof(proto::Hash));
            while (!r.done()) leaves.push_back(r.hash());
            // The id names the layer: a layer that rotted on disk is useless.
            if (proto::root_from_leaves(leaves, size) != id) throw proto::DecodeError("does not match the content id");
            adopt_layer(*e, size, std::move(leaves));
        } catch (const std::exception& ex) {
            spdlog::warn("chunk cache: leaf layer {} is unusable ({}); dropped", (sub / "leaves").string(), ex.what());
            std::filesystem::remove(sub / "leaves", ec);
        }
    }
    // Unpinned content with nothing left in it is only a leaf layer; a
    // streamer fetches the layer again with its first chunk.
    if (!e->pinned && e->held_bytes == 0) {
        std::filesystem::remove_all(sub, ec);
        return;
    }
    account(id, *e, +1);
    entries_[id] = std::move(e);
}

void ChunkCache::adopt_layer(Entry& e, std::uint64_t size, std::vector<proto::Hash> leaves) {
    e.size = size;
    e.leaves = std::move(leaves);
    e.present.assign(e.leaves.size(), false);
    e.stamps.assign(e.leaves.size(), 0);
    e.held = 0;
    e.held_bytes = 0;
    if (size == 0) {
        // The empty content's one chunk is empty: held as soon as the layer is.
        e.present[0] = true;
        e.held = 1;
        return;
    }
    scan_extents(e);
    if (auto used = read_file(e.used())) {
        proto::ByteReader r(*used);
        for (std::size_t c = 0; c < e.stamps.size() && r.remaining() >= stamp_bytes; ++c) {
            e.stamps[c] = r.u64le();
            next_stamp_ = std::max(next_stamp_, e.stamps[c] + 1);
        }
    }
}

// Present chunks are the data file's extents. A chunk only partly written
// before a crash looks present too; get() verifies it and drops it.
void ChunkCache::scan_extents(Entry& e) {
    Fd fd(e.data(), O_RDONLY);
    if (!fd) return;
    off_t at = 0;
    for (;;) {
        const off_t data = ::lseek(fd.get(), at, SEEK_DATA);
        if (data < 0) break; // ENXIO: no data past `at`
        const off_t hole = ::lseek(fd.get(), data, SEEK_HOLE);
        if (hole < 0) break;
        for (auto c = static_cast<std::uint64_t>(data) / proto::chunk_size;
             c < e.present.size() && c * proto::chunk_size < static_cast<std::uint64_t>(hole); ++c) {
            if (!e.present[c]) {
                e.present[c] = true;
                ++e.held;
                e.held_bytes += chunk_length(e.size, c);
            }
        }
        at = hole;
    }
}

// Adds (+1) or removes (-1) the entry's chunks to or from the byte counts
// and, when unpinned, the LRU order; pin()/unpin()/put_leaves() move an
// entry between the two sides by removing it, changing it and adding it back.
void ChunkCache::account(const proto::Hash& content, Entry& e, std::int64_t sign) {
    auto& bytes = e.pinned ? pinned_bytes_ : unpinned_bytes_;
    if (sign > 0)
        bytes += e.held_bytes;
    else
        bytes -= e.held_bytes;
    if (e.pinned) return;
    for (std::uint64_t c = 0; c < e.present.size(); ++c) {
        if (!e.present[c] || chunk_length(e.size, c) == 0) continue;
        if (sign > 0)
            lru_.emplace(e.stamps[c], content, c);
        else
            lru_.erase({e.stamps[c], content, c});
    }
}

ChunkCache::Entry* ChunkCache::find(const proto::Hash& content) const {
    auto it = entries_.find(content);
    return it == entries_.end() ? nullptr : it->second.get();
}

ChunkCache::Entry& ChunkCache::entry(const proto::Hash& content) {
    if (auto* e = find(content)) return *e;
    auto e = std::make_unique<Entry>();
    e->dir = dir_ / proto::to_hex(content);
    make_private_dir(e->dir);
    auto& ref = *e;
    entries_[content] = std::move(e);
    return ref;
}

void ChunkCache::put_leaves(const proto::Hash& content, std::uint64_t size, std::span<const proto::Hash> leaves) {
    if (leaves.size() != proto::chunk_count(size))
        throw std::invalid_argument("chunk cache: leaf layer does not fit the size");
    std::lock_guard lock(mutex_);
    auto& e = entry(content);
    if (e.has_layer()) return;
    proto::ByteWriter w;
    w.raw(proto::as_bytes(leaves_magic));
    w.u64le(size);
    for (const auto& h : leaves) w.hash(h);
    const auto& blob = w.bytes();
    core::write_private_file(e.dir / "leaves",
                             std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size()));
    if (e.pinned && e.size != size)
        spdlog::warn("chunk cache: pin of {} said {} bytes, its leaf layer says {}", proto::to_hex(content), e.size,
                     size);
    account(content, e, -1);
    // Chunks a pin kept while the layer was unknown (or a layer file that
    // was dropped as damaged) are picked up again from the data file.
    adopt_layer(e, size, {leaves.begin(), leaves.end()});
    account(content, e, +1);
    if (e.pinned) save_pin(e);
    evict(nullptr, 0);
}

std::optional<std::pair<std::uint64_t, std::vector<proto::Hash>>> ChunkCache::leaves(const proto::Hash& content) const {
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    if (!e || !e->has_layer()) return std::nullopt;
    return std::pair{e->size, e->leaves};
}

void ChunkCache::touch(const proto::Hash& content, Entry& e, std::uint64_t chunk) {
    const bool listed = !e.pinned && chunk_length(e.size, chunk) > 0;
    if (listed) lru_.erase({e.stamps[chunk], content, chunk});
    e.stamps[chunk] = next_stamp_++;
    if (listed) lru_.emplace(e.stamps[chunk], content, chunk);
    // Eight bytes in place, not fsynced: a stamp lost to a power cut only
    // makes the chunk look older than it is.
    proto::ByteWriter w;
    w.u64le(e.stamps[chunk]);
    const auto fd = files(e).used;
    if (!*fd || !write_at(fd->get(), w.bytes(), static_cast<off_t>(chunk * stamp_bytes)))
        spdlog::debug("chunk cache: cannot record use of chunk {} in {}: {}", chunk, e.used().string(),
                      std::strerror(errno));
}

void ChunkCache::put(const proto::Hash& content, std::uint64_t chunk, proto::ByteView data) {
    const ChunkRef one{chunk, data};
    if (auto why = store(content, {&one, 1}).front(); !why.empty()) throw std::invalid_argument(why);
}

std::vector<bool> ChunkCache::put_many(const proto::Hash& content, std::span<const ChunkRef> chunks) {
    const auto refused = store(content, chunks);
    std::vector<bool> taken;
    taken.reserve(refused.size());
    for (const auto& why : refused) taken.push_back(why.empty());
    return taken;
}

std::vector<std::string> ChunkCache::store(const proto::Hash& content, std::span<const ChunkRef> chunks) {
    std::vector<std::string> refused(chunks.size());
    // Hashed outside the lock, so chunks arriving together verify in parallel.
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        try {
            if (proto::leaf_hash(chunks[i].data) != expected_leaf(content, chunks[i].index, chunks[i].data.size()))
                refused[i] = "chunk cache: chunk does not match its leaf";
        } catch (const std::invalid_argument& e) {
            refused[i] = e.what();
        }
    }
    std::vector<std::size_t> to_write;
    const Entry* writing = nullptr;
    Files f;
    {
        std::lock_guard lock(mutex_);
        auto* e = find(content); // a layer, once known, stays until the entry goes
        for (std::size_t i = 0; i < chunks.size(); ++i) {
            if (!refused[i].empty()) continue;
            if (!e || !e->has_layer())
                refused[i] = "chunk cache: no leaf layer for this content";
            else if (e->present[chunks[i].index])
                touch(content, *e, chunks[i].index);
            else
                to_write.push_back(i);
        }
        if (to_write.empty()) return refused;
        writing = e;
        f = files(*e);
    }
    // Written outside the lock too: other streams' chunks, and readers, need
    // not wait for these disk writes.
    std::vector<bool> written(chunks.size());
    std::vector<int> error(chunks.size());
    for (std::size_t a = 0; a < to_write.size();) {
        std::size_t b = a + 1;
        while (b < to_write.size() && b - a < max_run_chunks &&
               chunks[to_write[b]].index == chunks[to_write[b - 1]].index + 1)
            ++b;
        write_run(f, chunks, std::span(to_write).subspan(a, b - a), written, error);
        a = b;
    }
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    // Unpinned and dropped meanwhile: the bytes went to a file that is gone.
    if (e != writing) return refused;
    std::optional<std::uint64_t> newest;
    for (const auto i : to_write) {
        const auto chunk = chunks[i].index;
        const auto length = chunks[i].data.size();
        if (!written[i]) {
            // A full disk loses a cache entry, never a byte a player gets.
            spdlog::warn("chunk cache: cannot write {}: {}", e->data().string(), std::strerror(error[i]));
            if (*f.data && !e->present[chunk])
                ::fallocate(f.data->get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, chunk_offset(chunk),
                            static_cast<off_t>(length));
            continue;
        }
        if (!e->present[chunk]) { // else a put of the same chunk got here first
            e->present[chunk] = true;
            ++e->held;
            e->held_bytes += length;
            (e->pinned ? pinned_bytes_ : unpinned_bytes_) += length;
        }
        touch(content, *e, chunk);
        newest = chunk;
    }
    if (newest && !e->pinned) evict(&content, *newest);
    return refused;
}

ChunkCache::Files ChunkCache::files(Entry& e) {
    e.opened_use = ++opened_uses_;
    if (!e.data_fd || !e.used_fd) {
        auto data = std::make_shared<const Fd>(e.data(), O_RDWR | O_CREAT);
        auto used = std::make_shared<const Fd>(e.used(), O_RDWR | O_CREAT);
        if (!*data || !*used) return {std::move(data), nullptr, std::move(used)}; // not kept: the next call tries again
        e.data_fd = std::move(data);
        e.used_fd = std::move(used);
        e.direct_fd.reset();
        if (!direct_refused_) {
            auto direct = std::make_shared<const Fd>(e.data(), O_RDWR | O_DIRECT);
            if (*direct)
                e.direct_fd = std::move(direct);
            else
                note_direct_failure("files under");
        }
        // Over the bound: close the files of the content used longest ago.
        std::size_t open = 0;
        Entry* oldest = nullptr;
        for (auto& [id, other] : entries_) {
            if (!other->data_fd) continue;
            ++open;
            if (other.get() != &e && (!oldest || other->opened_use < oldest->opened_use)) oldest = other.get();
        }
        if (open > open_contents && oldest) {
            oldest->data_fd.reset();
            oldest->direct_fd.reset();
            oldest->used_fd.reset();
        }
    }
    return {e.data_fd, e.direct_fd, e.used_fd};
}

bool ChunkCache::direct_usable(const Files& f) const { return f.direct && !direct_refused_; }

void ChunkCache::note_direct_failure(const char* what) {
    if (errno == EINVAL && !direct_refused_.exchange(true))
        spdlog::info("chunk cache: {} {} refuse O_DIRECT; chunks go through the page cache", what, dir_.string());
}

void ChunkCache::write_run(const Files& f, std::span<const ChunkRef> chunks, std::span<const std::size_t> run,
                           std::vector<bool>& written, std::vector<int>& error) {
    const auto at = [&](std::size_t i) { return static_cast<std::uint64_t>(chunk_offset(chunks[i].index)); };
    if (direct_usable(f) &&
        std::all_of(run.begin(), run.end(), [&](std::size_t i) { return core::direct_fits(at(i), chunks[i].data.size()); })) {
        std::vector<std::span<const std::uint8_t>> pieces;
        for (const auto i : run) pieces.push_back(chunks[i].data);
        if (core::write_direct(f.direct->get(), bounce_, pieces, at(run.front()))) {
            for (const auto i : run) written[i] = true;
            return;
        }
        note_direct_failure("writes to");
        // Whatever failed, the buffered writes below say what the disk
        // thinks of each chunk.
    }
    for (const auto i : run) {
        written[i] = *f.data && write_at(f.data->get(), chunks[i].data, at(i));
        error[i] = errno;
    }
}

void ChunkCache::read_run(const Files& f, std::uint64_t first, std::span<proto::Bytes> out,
                          std::span<const std::size_t> run, std::vector<bool>& ok) {
    const auto at = [&](std::size_t i) { return static_cast<std::uint64_t>(chunk_offset(first + i)); };
    if (direct_usable(f) &&
        std::all_of(run.begin(), run.end(), [&](std::size_t i) { return core::direct_fits(at(i), out[i].size()); })) {
        std::vector<std::span<std::uint8_t>> pieces;
        for (const auto i : run) pieces.emplace_back(out[i]);
        if (core::read_direct(f.direct->get(), bounce_, pieces, at(run.front()))) {
            for (const auto i : run) ok[i] = true;
            return;
        }
        note_direct_failure("reads of");
        // A failed direct read is not yet a damaged chunk: the buffered
        // reads below decide.
    }
    for (const auto i : run) ok[i] = out[i].empty() || (*f.data && read_at(f.data->get(), out[i], at(i)));
}

proto::Hash ChunkCache::expected_leaf(const proto::Hash& content, std::uint64_t chunk, std::size_t length) const {
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    if (!e || !e->has_layer()) throw std::invalid_argument("chunk cache: no leaf layer for this content");
    if (chunk >= e->leaves.size()) throw std::invalid_argument("chunk cache: chunk index past the end");
    if (length != chunk_length(e->size, chunk)) throw std::invalid_argument("chunk cache: chunk does not match its leaf");
    return e->leaves[chunk];
}

std::optional<proto::Bytes> ChunkCache::get(const proto::Hash& content, std::uint64_t chunk) {
    auto one = get_many(content, chunk, 1);
    return one.empty() ? std::nullopt : std::move(one.front());
}

std::vector<std::optional<proto::Bytes>> ChunkCache::get_many(const proto::Hash& content, std::uint64_t first,
                                                              std::uint64_t count) {
    std::vector<proto::Bytes> data;
    std::vector<proto::Hash> leaf;
    std::vector<std::size_t> present; // offsets into data of the chunks to read
    Files f;
    {
        std::lock_guard lock(mutex_);
        auto* e = find(content);
        if (!e || first >= e->present.size()) return {};
        count = std::min<std::uint64_t>(count, e->present.size() - first);
        data.resize(count);
        leaf.resize(count);
        for (std::size_t i = 0; i < count; ++i) {
            if (!e->present[first + i]) continue;
            present.push_back(i);
            data[i].resize(chunk_length(e->size, first + i));
            leaf[i] = e->leaves[first + i];
        }
        if (present.empty()) return std::vector<std::optional<proto::Bytes>>(count);
        f = files(*e);
    }
    // Read and hashed outside the lock (see put).
    std::vector<bool> ok(count);
    for (std::size_t a = 0; a < present.size();) {
        std::size_t b = a + 1;
        while (b < present.size() && b - a < max_run_chunks && present[b] == present[b - 1] + 1) ++b;
        read_run(f, first, data, std::span(present).subspan(a, b - a), ok);
        a = b;
    }
    for (const auto i : present) ok[i] = ok[i] && proto::leaf_hash(data[i]) == leaf[i];
    std::vector<std::optional<proto::Bytes>> out(count);
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    if (!e || first + count > e->present.size()) return out;
    for (const auto i : present) {
        const auto chunk = first + i;
        if (!ok[i]) {
            spdlog::warn("chunk cache: chunk {} of {} is damaged on disk; dropped", chunk, proto::to_hex(content));
            forget(content, *e, chunk);
            continue;
        }
        touch(content, *e, chunk);
        out[i] = std::move(data[i]);
    }
    return out;
}

bool ChunkCache::has(const proto::Hash& content, std::uint64_t chunk) const {
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    return e && chunk < e->present.size() && e->present[chunk];
}

void ChunkCache::forget(const proto::Hash& content, Entry& e, std::uint64_t chunk) {
    if (!e.present[chunk]) return;
    const auto len = chunk_length(e.size, chunk);
    if (!e.pinned) lru_.erase({e.stamps[chunk], content, chunk});
    e.present[chunk] = false;
    --e.held;
    e.held_bytes -= len;
    (e.pinned ? pinned_bytes_ : unpinned_bytes_) -= len;
    // The empty content's chunk cannot rot (there are no bytes), so len is
    // 0 only for it; nothing to punch then. The hole is what makes the
    // chunk absent after a restart as well.
    if (len == 0) return;
    // Eviction reaches contents nobody is playing: their data file is opened
    // for the one punch, not kept open in place of a stream's.
    const auto fd = e.data_fd ? e.data_fd : std::make_shared<const Fd>(e.data(), O_RDWR);
    if (!*fd || ::fallocate(fd->get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, chunk_offset(chunk),
                           static_cast<off_t>(len)) != 0)
        spdlog::warn("chunk cache: cannot free chunk {} of {}: {}", chunk, e.data().string(), std::strerror(errno));
}

void ChunkCache::evict(const proto::Hash* keep_content, std::uint64_t keep_chunk) {
    while (unpinned_bytes_ > options_.max_bytes && !lru_.empty()) {
        const auto [stamp, content, chunk] = *lru_.begin();
        // The chunk just used is the newest, so first only when it is alone.
        if (keep_content && content == *keep_content && chunk == keep_chunk) break;
        // Unlisted first, so every turn makes progress whatever forget() finds.
        lru_.erase(lru_.begin());
        if (auto* e = find(content); e && !e->pinned && e->stamps[chunk] == stamp) forget(content, *e, chunk);
    }
}

void ChunkCache::save_pin(const Entry& e) const {
    core::write_private_file(e.dir / "pin.json", nlohmann::json{{"size", e.size}, {"meta", e.meta}}.dump() + "\n");
}

void ChunkCache::pin(const proto::Hash& content, std::uint64_t size, nlohmann::json meta) {
    std::lock_guard lock(mutex_);
    auto& e = entry(content);
    if (e.has_layer() && e.size != size)
        spdlog::warn("chunk cache: pin of {} says {} bytes, its leaf layer says {}; keeping the layer's",
                     proto::to_hex(content), size, e.size);
    Entry next;
    next.dir = e.dir;
    next.size = e.has_layer() ? e.size : size;
    next.meta = std::move(meta);
    save_pin(next); // first: if the disk refuses, nothing changed
    account(content, e, -1);
    e.size = next.size;
    e.meta = std::move(next.meta);
    e.pinned = true;
    account(content, e, +1);
}

bool ChunkCache::unpin(const proto::Hash& content) {
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    if (!e || !e->pinned) return false;
    std::filesystem::remove(e->dir / "pin.json"); // throws if it cannot: the pin stays
    account(content, *e, -1);
    e->pinned = false;
    e->meta = nlohmann::json::object();
    account(content, *e, +1);
    if (!e->has_layer()) {
        // Pinned, but nothing was ever fetched: nothing left to keep.
        std::error_code ec;
        std::filesystem::remove_all(e->dir, ec);
        entries_.erase(content);
    }
    evict(nullptr, 0);
    return true;
}

bool ChunkCache::pinned(const proto::Hash& content) const {
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    return e && e->pinned;
}

std::optional<nlohmann::json> ChunkCache::pin_meta(const proto::Hash& content) const {
    std::lock_guard lock(mutex_);
    auto* e = find(content);
    if (!e || !e->pinned) return std::nullopt;
    return e->meta;
}

std::vector<PinInfo> ChunkCache::pins() const {
    std::lock_guard lock(mutex_);
    std::vector<PinInfo> out;
    for (const auto& [id, e] : entries_)
        if (e->pinned) out.push_back(PinInfo{id, e->size, e->held, proto::chunk_count(e->size), e->meta});
    return out;
}

std::uint64_t ChunkCache::unpinned_bytes() const {
    std::lock_guard lock(mutex_);
    return unpinned_bytes_;
}

std::uint64_t ChunkCache::pinned_bytes() const {
    std::lock_guard lock(mutex_);
    return pinned_bytes_;
}

} // namespace earshot::stream

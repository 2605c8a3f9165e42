#define BOOST_TEST_MODULE chunk_cache
#include <boost/test/unit_test.hpp>

#include "daemon/stream/chunk_cache.hpp"
#include "proto/content_id.hpp"
#include "tests/support/temp_dir.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <fstream>
#include <stdexcept>

#include "daemon/core/file_io.hpp"

using namespace earshot;
using earshot::stream::CacheOptions;
using earshot::stream::ChunkCache;

namespace {

constexpr std::uint64_t cs = proto::chunk_size;

// Distinct pseudo-random bytes per seed, with the real tree over them.
struct Content {
    Content(std::uint64_t size, std::uint32_t seed) : bytes(size) {
        std::uint32_t x = seed * 2654435761u + 1;
        for (auto& b : bytes) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b = static_cast<std::uint8_t>(x);
        }
        tree = proto::content_tree(bytes);
    }
    const proto::Hash& id() const { return tree.root; }
    proto::ByteView chunk(std::uint64_t i) const {
        const auto off = i * cs;
        return proto::ByteView(bytes).subspan(off, std::min<std::uint64_t>(cs, bytes.size() - off));
    }
    proto::Bytes chunk_copy(std::uint64_t i) const { return {chunk(i).begin(), chunk(i).end()}; }
    std::uint64_t chunks() const { return tree.leaves.size(); }
    void layer(ChunkCache& c) const { c.put_leaves(id(), bytes.size(), tree.leaves); }
    void put(ChunkCache& c, std::uint64_t i) const { c.put(id(), i, chunk(i)); }
    void put_all(ChunkCache& c) const {
        layer(c);
        for (std::uint64_t i = 0; i < chunks(); ++i) put(c, i);
    }

    proto::Bytes bytes;
    proto::ContentTree tree;
};

std::filesystem::path data_file(const std::filesystem::path& dir, const Content& c) {
    return dir / proto::to_hex(c.id()) / "data";
}

void flip_byte(const std::filesystem::path& file, std::uint64_t offset) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    BOOST_REQUIRE(f);
    f.seekg(static_cast<std::streamoff>(offset));
    char b = 0;
    f.read(&b, 1);
    BOOST_REQUIRE(f);
    b = static_cast<char>(b ^ 0x40);
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&b, 1);
    BOOST_REQUIRE(f);
}

std::vector<std::uint64_t> held(const ChunkCache& cache, const Content& c) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t i = 0; i < c.chunks(); ++i)
        if (cache.has(c.id(), i)) out.push_back(i);
    return out;
}

using Held = std::vector<std::uint64_t>;

// The cache hands out exactly the chunk's bytes (false, not a crash, if it has none).
bool serves(ChunkCache& cache, const Content& c, std::uint64_t i) {
    const auto got = cache.get(c.id(), i);
    return got && *got == c.chunk_copy(i);
}

} // namespace

BOOST_AUTO_TEST_CASE(round_trip_including_short_last_chunk_and_empty_content) {
    test::TempDir tmp;
    const auto dir = tmp / "cache";
    ChunkCache cache(dir, {});
    struct stat st{};
    BOOST_REQUIRE_EQUAL(::stat(dir.c_str(), &st), 0);
    BOOST_TEST((st.st_mode & 0777) == 0700u);

    const Content a(3 * cs + 100, 1);
    BOOST_TEST(!cache.leaves(a.id()));
    a.layer(cache);
    const auto layer = cache.leaves(a.id());
    BOOST_REQUIRE(layer);
    BOOST_TEST(layer->first == a.bytes.size());
    BOOST_TEST(layer->second == a.tree.leaves);
    BOOST_TEST(held(cache, a).empty());
    BOOST_TEST(!cache.get(a.id(), 0));

    a.put(cache, 3); // out of order, the short one first
    a.put(cache, 1);
    BOOST_TEST(held(cache, a) == (Held{1, 3}));
    BOOST_TEST(cache.unpinned_bytes() == cs + 100);
    a.put(cache, 0);
    a.put(cache, 2);
    a.put(cache, 2); // again: no double counting
    BOOST_TEST(cache.unpinned_bytes() == a.bytes.size());
    BOOST_TEST(cache.pinned_bytes() == 0u);
    for (std::uint64_t i = 0; i < a.chunks(); ++i) {
        const auto got = cache.get(a.id(), i);
        BOOST_REQUIRE(got);
        BOOST_TEST(*got == a.chunk_copy(i));
    }
    BOOST_TEST(cache.get(a.id(), 3).value_or(proto::Bytes{}).size() == 100u);
    BOOST_TEST(!cache.get(a.id(), 4));
    BOOST_TEST(!cache.has(a.id(), 4));

    const Content empty(0, 2);
    BOOST_REQUIRE_EQUAL(empty.chunks(), 1u);
    empty.layer(cache);
    BOOST_TEST(cache.has(empty.id(), 0));
    empty.put(cache, 0);
    const auto e = cache.get(empty.id(), 0);
    BOOST_REQUIRE(e);
    BOOST_TEST(e->empty());
    BOOST_TEST(cache.unpinned_bytes() == a.bytes.size());
}

BOOST_AUTO_TEST_CASE(refuses_what_it_cannot_verify) {
    test::TempDir tmp;
    ChunkCache cache(tmp / "cache", {});
    const Content a(2 * cs + 10, 3);

    // No layer yet: nothing to verify the chunk against.
    BOOST_CHECK_THROW(a.put(cache, 0), std::invalid_argument);
    BOOST_TEST(!cache.has(a.id(), 0));
    // A layer that does not fit the size.
    BOOST_CHECK_THROW(cache.put_leaves(a.id(), a.bytes.size(), std::span(a.tree.leaves).first(2)),
                      std::invalid_argument);
    BOOST_TEST(!cache.leaves(a.id()));

    a.layer(cache);
    auto wrong = a.chunk_copy(0);
    wrong[500] ^= 1;
    BOOST_CHECK_THROW(cache.put(a.id(), 0, wrong), std::invalid_argument);
    auto shorter = a.chunk_copy(0);
    shorter.pop_back();
    BOOST_CHECK_THROW(cache.put(a.id(), 0, shorter), std::invalid_argument);
    auto longer = a.chunk_copy(2);
    longer.push_back(0);
    BOOST_CHECK_THROW(cache.put(a.id(), 2, longer), std::invalid_argument);
    BOOST_CHECK_THROW(cache.put(a.id(), 0, a.chunk(1)), std::invalid_argument); // right size, wrong place
    BOOST_CHECK_THROW(cache.put(a.id(), 3, a.chunk(2)), std::invalid_argument); // past the end
    BOOST_TEST(held(cache, a).empty());
    BOOST_TEST(cache.unpinned_bytes() == 0u);
    a.put(cache, 0);
    BOOST_TEST(held(cache, a) == (Held{0}));
}

BOOST_AUTO_TEST_CASE(evicts_least_recently_used_with_gets_refreshing) {
    test::TempDir tmp;
    ChunkCache cache(tmp / "cache", CacheOptions{4 * cs});
    const Content a(8 * cs, 4), b(3 * cs, 5);
    a.layer(cache);
    b.layer(cache);
    for (std::uint64_t i = 0; i < 4; ++i) a.put(cache, i);
    BOOST_TEST(cache.unpinned_bytes() == 4 * cs);
    BOOST_REQUIRE(cache.get(a.id(), 0)); // 0 is now the newest: 1 goes first
    a.put(cache, 4);
    BOOST_TEST(held(cache, a) == (Held{0, 2, 3, 4}));
    BOOST_TEST(cache.unpinned_bytes() == 4 * cs);
    BOOST_REQUIRE(cache.get(a.id(), 2));
    b.put(cache, 0); // order was 3, 0, 4, 2
    BOOST_TEST(held(cache, a) == (Held{0, 2, 4}));
    b.put(cache, 1);
    BOOST_TEST(held(cache, a) == (Held{2, 4}));
    BOOST_TEST(held(cache, b) == (Held{0, 1}));
    BOOST_TEST(!cache.get(a.id(), 0));
    BOOST_TEST(cache.unpinned_bytes() == 4 * cs);
    // Evicted chunks come back by being put again.
    a.put(cache, 0);
    BOOST_TEST(serves(cache, a, 0));
}

BOOST_AUTO_TEST_CASE(bound_below_one_chunk_keeps_only_the_last_one) {
    test::TempDir tmp;
    ChunkCache cache(tmp / "cache", CacheOptions{0});
    const Content a(3 * cs, 6);
    a.layer(cache);
    a.put(cache, 0);
    BOOST_TEST(held(cache, a) == (Held{0}));
    BOOST_TEST(serves(cache, a, 0));
    a.put(cache, 1);
    BOOST_TEST(held(cache, a) == (Held{1}));
    BOOST_TEST(cache.unpinned_bytes() == cs);
}

BOOST_AUTO_TEST_CASE(pins_survive_eviction_and_do_not_count) {
    test::TempDir tmp;
    ChunkCache cache(tmp / "cache", CacheOptions{2 * cs});
    const Content a(4 * cs, 7), b(5 * cs, 8);
    const nlohmann::json meta = {{"artist", "Ada"}, {"title", "Loops"}};

    // Pinned before anything is known but the size.
    cache.pin(a.id(), a.bytes.size(), meta);
    BOOST_TEST(cache.pinned(a.id()));
    BOOST_TEST(!cache.pinned(b.id()));
    auto pins = cache.pins();
    BOOST_REQUIRE_EQUAL(pins.size(), 1u);
    BOOST_TEST(pins[0].content == a.id());
    BOOST_TEST(pins[0].size == a.bytes.size());
    BOOST_TEST(pins[0].chunks_held == 0u);
    BOOST_TEST(pins[0].chunks_total == 4u);
    BOOST_TEST(!pins[0].complete());
    BOOST_TEST(pins[0].meta == meta);
    BOOST_TEST((cache.pin_meta(a.id()) == std::optional<nlohmann::json>(meta)));
    BOOST_TEST(!cache.pin_meta(b.id()).has_value());

    a.put_all(cache);
    BOOST_TEST(cache.pinned_bytes() == 4 * cs);
    BOOST_TEST(cache.unpinned_bytes() == 0u);
    b.put_all(cache); // pressure: only 2 of b fit
    BOOST_TEST(held(cache, a) == (Held{0, 1, 2, 3}));
    BOOST_TEST(held(cache, b) == (Held{3, 4}));
    BOOST_TEST(cache.unpinned_bytes() == 2 * cs);
    pins = cache.pins();
    BOOST_REQUIRE_EQUAL(pins.size(), 1u);
    BOOST_TEST(pins[0].complete());
    for (std::uint64_t i = 0; i < a.chunks(); ++i) BOOST_TEST(serves(cache, a, i));

    // Pinning what is partly cached keeps those chunks and moves them out of the bound.
    cache.pin(b.id(), b.bytes.size(), nlohmann::json::object());
    BOOST_TEST(held(cache, b) == (Held{3, 4}));
    BOOST_TEST(cache.pinned_bytes() == 6 * cs);
    BOOST_TEST(cache.unpinned_bytes() == 0u);
    b.put(cache, 0);
    b.put(cache, 1);
    b.put(cache, 2);
    BOOST_TEST(held(cache, b) == (Held{0, 1, 2, 3, 4}));
    BOOST_TEST(cache.unpinned_bytes() == 0u);
    BOOST_TEST(cache.pins().size() == 2u);
}

BOOST_AUTO_TEST_CASE(unpinned_content_becomes_ordinary_lru_entries) {
    test::TempDir tmp;
    ChunkCache cache(tmp / "cache", CacheOptions{2 * cs});
    const Content a(4 * cs, 9), b(2 * cs, 10);
    cache.pin(a.id(), a.bytes.size(), {{"title", "x"}});
    a.put_all(cache);
    b.put_all(cache);
    BOOST_REQUIRE(cache.get(a.id(), 0)); // uses: a1 < a2 < a3 < b0 < b1 < a0
    BOOST_TEST(cache.unpinned_bytes() == 2 * cs);

    BOOST_TEST(cache.unpin(a.id()));
    BOOST_TEST(!cache.unpin(a.id()));
    BOOST_TEST(!cache.pinned(a.id()));
    BOOST_TEST(!cache.pin_meta(a.id()).has_value());
    BOOST_TEST(cache.pins().empty());
    BOOST_TEST(cache.pinned_bytes() == 0u);
    BOOST_TEST(cache.unpinned_bytes() == 2 * cs);
    BOOST_TEST(held(cache, a) == (Held{0}));
    BOOST_TEST(held(cache, b) == (Held{1}));

    // A pin that never got a layer leaves nothing behind.
    const Content c(cs, 11);
    cache.pin(c.id(), c.bytes.size(), {});
    BOOST_TEST(cache.unpin(c.id()));
    BOOST_TEST(!std::filesystem::exists(tmp / "cache" / proto::to_hex(c.id())));
}

BOOST_AUTO_TEST_CASE(reopening_sees_chunks_layers_pins_and_lru_order) {
    test::TempDir tmp;
    const auto dir = tmp / "cache";
    const Content a(4 * cs, 12), b(3 * cs + 7, 13), c(2 * cs, 14), d(cs, 15);
    const nlohmann::json meta = {{"artist", "Björk"}, {"album", "Homogenic"}, {"n", 3}};
    {
        ChunkCache cache(dir, CacheOptions{4 * cs});
        a.put_all(cache);
        BOOST_REQUIRE(cache.get(a.id(), 0));
        BOOST_REQUIRE(cache.get(a.id(), 1)); // order now 2, 3, 0, 1
        cache.pin(b.id(), b.bytes.size(), meta);
        b.layer(cache);
        b.put(cache, 0);
        b.put(cache, 3);
        d.layer(cache); // a layer alone, nothing cached
    }
    {
        ChunkCache cache(dir, CacheOptions{4 * cs});
        BOOST_TEST(held(cache, a) == (Held{0, 1, 2, 3}));
        BOOST_REQUIRE(cache.leaves(a.id()));
        BOOST_TEST(cache.leaves(a.id())->second == a.tree.leaves);
        BOOST_TEST(cache.unpinned_bytes() == 4 * cs);
        BOOST_TEST(cache.pinned_bytes() == cs + 7);
        BOOST_TEST(cache.pinned(b.id()));
        const auto pins = cache.pins();
        BOOST_REQUIRE_EQUAL(pins.size(), 1u);
        BOOST_TEST(pins[0].meta == meta);
        BOOST_TEST(pins[0].size == b.bytes.size());
        BOOST_TEST(pins[0].chunks_held == 2u);
        BOOST_TEST(pins[0].chunks_total == 4u);
        BOOST_TEST(held(cache, b) == (Held{0, 3}));
        BOOST_TEST(serves(cache, b, 3));
        // Unpinned content with no chunk left is not kept.
        BOOST_TEST(!cache.leaves(d.id()));

        // The order of uses survived: 2 then 3 go first, not 0.
        c.put_all(cache);
        BOOST_TEST(held(cache, a) == (Held{0, 1}));
        BOOST_TEST(held(cache, c) == (Held{0, 1}));
        for (std::uint64_t i : {0, 1}) BOOST_TEST(serves(cache, a, i));
    }
    {
        // A smaller bound applies at once.
        ChunkCache cache(dir, CacheOptions{cs});
        BOOST_TEST(cache.unpinned_bytes() == cs);
        BOOST_TEST(held(cache, a) == (Held{1}));
        BOOST_TEST(held(cache, c).empty());
        BOOST_TEST(held(cache, b) == (Held{0, 3}));
        // put_leaves again after a restart is harmless.
        b.layer(cache);
        BOOST_TEST(held(cache, b) == (Held{0, 3}));
        b.put(cache, 1);
        b.put(cache, 2);
        BOOST_TEST(cache.pins().at(0).complete());
    }
    {
        ChunkCache cache(dir, CacheOptions{cs});
        BOOST_TEST(cache.pins().at(0).complete());
        for (std::uint64_t i = 0; i < b.chunks(); ++i) BOOST_TEST(serves(cache, b, i));
    }
}

BOOST_AUTO_TEST_CASE(rotten_bytes_on_disk_never_come_out) {
    test::TempDir tmp;
    const auto dir = tmp / "cache";
    const Content a(3 * cs, 16), p(2 * cs + 1, 17);
    {
        ChunkCache cache(dir, {});
        a.put_all(cache);
        cache.pin(p.id(), p.bytes.size(), {});
        p.put_all(cache);

        flip_byte(data_file(dir, a), cs + 10);
        BOOST_TEST(cache.has(a.id(), 1)); // believed present until read
        BOOST_TEST(!cache.get(a.id(), 1));
        BOOST_TEST(!cache.has(a.id(), 1));
        BOOST_TEST(!cache.get(a.id(), 1));
        BOOST_TEST(cache.unpinned_bytes() == 2 * cs);
        BOOST_TEST(serves(cache, a, 0));
        BOOST_TEST(serves(cache, a, 2));

        // A pinned copy rots the same way, and the pin says it is incomplete.
        flip_byte(data_file(dir, p), 2 * cs);
        BOOST_TEST(!cache.get(p.id(), 2));
        BOOST_TEST(!cache.pins().at(0).complete());
        BOOST_TEST(cache.pinned_bytes() == 2 * cs);
        p.put(cache, 2);
        BOOST_TEST(cache.pins().at(0).complete());

        a.put(cache, 1);
        BOOST_TEST(serves(cache, a, 1));
    }
    // Rot found only after a restart is caught the same way.
    {
        flip_byte(data_file(dir, a), 2 * cs + 5);
        ChunkCache cache(dir, {});
        BOOST_TEST(!cache.get(a.id(), 2));
        BOOST_TEST(!cache.has(a.id(), 2));
        BOOST_TEST(held(cache, a) == (Held{0, 1}));
    }
    {
        ChunkCache cache(dir, {});
        BOOST_TEST(held(cache, a) == (Held{0, 1})); // the dropped chunk stays dropped
    }
}

BOOST_AUTO_TEST_CASE(partial_write_after_crash_is_caught) {
    test::TempDir tmp;
    const auto dir = tmp / "cache";
    const Content a(3 * cs, 18);
    {
        ChunkCache cache(dir, {});
        a.layer(cache);
        a.put(cache, 0);
    }
    {
        // What a kill -9 inside pwrite leaves: part of chunk 2's bytes.
        std::fstream f(data_file(dir, a), std::ios::in | std::ios::out | std::ios::binary);
        BOOST_REQUIRE(f);
        f.seekp(static_cast<std::streamoff>(2 * cs));
        const auto part = a.chunk(2).first(1000);
        f.write(reinterpret_cast<const char*>(part.data()), static_cast<std::streamsize>(part.size()));
        BOOST_REQUIRE(f);
    }
    ChunkCache cache(dir, {});
    BOOST_TEST(!cache.get(a.id(), 2));
    BOOST_TEST(!cache.has(a.id(), 2));
    BOOST_TEST(held(cache, a) == (Held{0}));
    BOOST_TEST(cache.unpinned_bytes() == cs);
    a.put(cache, 2);
    BOOST_TEST(serves(cache, a, 2));
}

BOOST_AUTO_TEST_CASE(a_rotten_leaf_layer_is_dropped) {
    test::TempDir tmp;
    const auto dir = tmp / "cache";
    const Content a(2 * cs, 19);
    {
        ChunkCache cache(dir, {});
        a.put_all(cache);
    }
    flip_byte(dir / proto::to_hex(a.id()) / "leaves", 40);
    ChunkCache cache(dir, {});
    BOOST_TEST(!cache.leaves(a.id()));
    BOOST_TEST(held(cache, a).empty());
    BOOST_TEST(cache.unpinned_bytes() == 0u);
    BOOST_CHECK_THROW(a.put(cache, 0), std::invalid_argument);
    a.put_all(cache);
    BOOST_TEST(held(cache, a) == (Held{0, 1}));
}

BOOST_AUTO_TEST_CASE(runs_are_written_and_read_whole_and_judged_chunk_by_chunk) {
    for (const bool direct : {true, false}) {
        BOOST_TEST_CONTEXT("direct_io " << direct) {
            test::TempDir tmp;
            const auto dir = tmp / "cache";
            ChunkCache cache(dir, {.direct_io = direct});
            const Content a(5 * cs + 77, 40), b(cs, 41);
            a.layer(cache);
            // A stream's burst: neighbours, one impostor among them, the short
            // last chunk, and one past the end.
            const std::vector<ChunkCache::ChunkRef> burst{
                {0, a.chunk(0)}, {1, a.chunk(1)}, {2, b.chunk(0)}, {3, a.chunk(3)},
                {4, a.chunk(4)}, {5, a.chunk(5)}, {6, a.chunk(4)}};
            BOOST_TEST(cache.put_many(a.id(), burst) == (std::vector<bool>{true, true, false, true, true, true, false}));
            BOOST_TEST(held(cache, a) == (Held{0, 1, 3, 4, 5}));
            BOOST_TEST(cache.unpinned_bytes() == 4 * cs + 77);
            // Without a layer nothing is taken.
            const std::vector<ChunkCache::ChunkRef> stray{{0, b.chunk(0)}};
            BOOST_TEST(cache.put_many(b.id(), stray) == std::vector<bool>{false});

            auto got = cache.get_many(a.id(), 0, 10); // cut at the end of the content
            BOOST_REQUIRE(got.size() == 6u);
            for (std::uint64_t i = 0; i < 6; ++i) {
                BOOST_TEST_CONTEXT("chunk " << i) {
                    BOOST_TEST(got[i].has_value() == (i != 2));
                    if (got[i]) BOOST_TEST((*got[i] == a.chunk_copy(i)));
                }
            }
            // Rot inside a run costs that chunk only; its neighbours still come out.
            flip_byte(data_file(dir, a), 3 * cs + 9);
            got = cache.get_many(a.id(), 0, 6);
            BOOST_TEST(!got[3]);
            BOOST_TEST((got[1] && *got[1] == a.chunk_copy(1)));
            BOOST_TEST((got[4] && *got[4] == a.chunk_copy(4)));
            BOOST_TEST(held(cache, a) == (Held{0, 1, 4, 5}));
            BOOST_TEST(cache.get_many(a.id(), 6, 1).empty());
            a.put(cache, 3);
            BOOST_TEST(serves(cache, a, 3));
        }
    }
}

// Which of a file's pages the page cache holds.
std::size_t resident_pages(const std::filesystem::path& file) {
    const core::Fd fd(file, O_RDONLY);
    BOOST_REQUIRE(fd);
    struct stat st{};
    BOOST_REQUIRE(::fstat(fd.get(), &st) == 0);
    const auto length = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd.get(), 0);
    BOOST_REQUIRE(map != MAP_FAILED);
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> in((length + page - 1) / page);
    BOOST_REQUIRE(::mincore(map, length, in.data()) == 0);
    ::munmap(map, length);
    return static_cast<std::size_t>(std::count_if(in.begin(), in.end(), [](unsigned char v) { return v & 1; }));
}

BOOST_AUTO_TEST_CASE(chunks_bypass_the_page_cache_where_the_filesystem_allows) {
    test::TempDir tmp;
    struct statfs fs{};
    BOOST_REQUIRE(::statfs(tmp.path().c_str(), &fs) == 0);
    if (fs.f_type == TMPFS_MAGIC) {
        // tmpfs keeps every page in memory whatever the flags: nothing to see.
        BOOST_TEST_MESSAGE("temp dir is on tmpfs; page-cache residency not checked");
        return;
    }
    const Content a(8 * cs, 50);
    for (const bool direct : {true, false}) {
        BOOST_TEST_CONTEXT("direct_io " << direct) {
            const auto dir = tmp / (direct ? "direct" : "buffered");
            ChunkCache cache(dir, {.direct_io = direct});
            a.layer(cache);
            std::vector<ChunkCache::ChunkRef> all;
            for (std::uint64_t i = 0; i < a.chunks(); ++i) all.push_back({i, a.chunk(i)});
            BOOST_TEST(cache.put_many(a.id(), all) == std::vector<bool>(a.chunks(), true));
            for (const auto& got : cache.get_many(a.id(), 0, a.chunks())) BOOST_TEST(got.has_value());
            const auto resident = resident_pages(data_file(dir, a));
            const auto pages = 8 * cs / static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
            if (direct)
                BOOST_TEST(resident == 0u);
            else
                BOOST_TEST(resident == pages);
        }
    }
}

// Content ids: the root of a BLAKE2b hash tree over fixed-size chunks of a
// file. The id names exact bytes; the leaf layer lets a receiver verify each
// chunk on its own before serving it. Specified in proto/CONTENT_ID.md.
#pragma once

#include "proto/bytes.hpp"

#include <sodium.h>

namespace earshot::proto {

inline constexpr std::size_t chunk_size = 64 * 1024;

// Number of leaves for a file of `size` bytes; an empty file has one (empty) chunk.
constexpr std::uint64_t chunk_count(std::uint64_t size) {
    return size == 0 ? 1 : (size + chunk_size - 1) / chunk_size;
}

Hash leaf_hash(ByteView chunk);
// Recomputes the root from a complete leaf layer; throws std::invalid_argument
// if the number of leaves does not match chunk_count(size).
Hash root_from_leaves(std::span<const Hash> leaves, std::uint64_t size);

struct ContentTree {
    Hash root{};
    std::uint64_t size = 0;
    std::vector<Hash> leaves;
};

// Streams a file's bytes in any slicing and yields its tree. Chunks are
// hashed as they complete, so memory stays at one chunk plus the leaf layer.
class ContentHasher {
public:
    void update(ByteView data);
    ContentTree finish() &&;

private:
    void flush_chunk();
    std::vector<std::uint8_t> pending_;
    std::vector<Hash> leaves_;
    std::uint64_t size_ = 0;
};

inline ContentTree content_tree(ByteView whole) {
    ContentHasher h;
    h.update(whole);
    return std::move(h).finish();
}

} // namespace earshot::proto

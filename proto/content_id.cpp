#include "proto/content_id.hpp"

#include <stdexcept>

namespace earshot::proto {
namespace {

// BLAKE2b personalisation strings (exactly 16 bytes each, NUL-padded) keep a
// leaf, an inner node and the root from ever being confused for one another.
constexpr std::uint8_t leaf_personal[16] = {'e','a','r','s','h','o','t',':','l','e','a','f',':','v','1',0};
constexpr std::uint8_t node_personal[16] = {'e','a','r','s','h','o','t',':','n','o','d','e',':','v','1',0};
constexpr std::uint8_t root_personal[16] = {'e','a','r','s','h','o','t',':','r','o','o','t',':','v','1',0};

Hash personal_hash(const std::uint8_t (&personal)[16], std::initializer_list<ByteView> parts) {
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init_salt_personal(&st, nullptr, 0, 32, nullptr, personal);
    for (auto p : parts) crypto_generichash_blake2b_update(&st, p.data(), p.size());
    Hash out;
    crypto_generichash_blake2b_final(&st, out.data(), out.size());
    return out;
}

} // namespace

Hash leaf_hash(ByteView chunk) { return personal_hash(leaf_personal, {chunk}); }

Hash root_from_leaves(std::span<const Hash> leaves, std::uint64_t size) {
    if (leaves.size() != chunk_count(size))
        throw std::invalid_argument("leaf count does not match file size");
    // Pad to a power of two with the all-zero hash, which no BLAKE2b output
    // is expected to equal, then fold pairwise up to the top of the tree.
    std::size_t width = 1;
    while (width < leaves.size()) width <<= 1;
    std::vector<Hash> level(leaves.begin(), leaves.end());
    level.resize(width, Hash{});
    while (level.size() > 1) {
        for (std::size_t i = 0; i < level.size() / 2; ++i)
            level[i] = personal_hash(node_personal, {level[2 * i], level[2 * i + 1]});
        level.resize(level.size() / 2);
    }
    std::uint8_t size_le[8];
    for (int i = 0; i < 8; ++i) size_le[i] = static_cast<std::uint8_t>(size >> (8 * i));
    return personal_hash(root_personal, {ByteView(size_le), level.front()});
}

void ContentHasher::update(ByteView data) {
    size_ += data.size();
    while (!data.empty()) {
        // Whole chunks straight from the caller's buffer skip the copy.
        if (pending_.empty() && data.size() >= chunk_size) {
            leaves_.push_back(leaf_hash(data.first(chunk_size)));
            data = data.subspan(chunk_size);
            continue;
        }
        const auto take = std::min(chunk_size - pending_.size(), data.size());
        pending_.insert(pending_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
        data = data.subspan(take);
        if (pending_.size() == chunk_size) flush_chunk();
    }
}

void ContentHasher::flush_chunk() {
    leaves_.push_back(leaf_hash(pending_));
    pending_.clear();
}

ContentTree ContentHasher::finish() && {
    if (!pending_.empty() || leaves_.empty()) flush_chunk();
    ContentTree t;
    t.size = size_;
    t.root = root_from_leaves(leaves_, size_);
    t.leaves = std::move(leaves_);
    return t;
}

} // namespace earshot::proto

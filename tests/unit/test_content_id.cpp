#define BOOST_TEST_MODULE content_id
#include <boost/test/unit_test.hpp>

#include "proto/content_id.hpp"

using namespace earshot::proto;

namespace {

Bytes pattern(std::size_t n) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i % 251);
    return b;
}

struct Vector {
    std::size_t size;
    bool is_abc;
    std::size_t leaves;
    const char* root;
    const char* last_leaf;
};

// From proto/CONTENT_ID.md, produced by the independent Python reference.
const Vector vectors[] = {
    {0, false, 1, "b9da727df6e57890cb5a702ff2b3cf2950d7d668588395beed34cc315f763f61",
     "2b912a4ecd73c5b6c91ea902a040d9658e98bffd135a903cbcdb932791df09cd"},
    {3, true, 1, "1313ce0143ca933d6a109142ec725d9746f590b0eab6995b6b3dd0c3c356cbf4",
     "3576af20938a420c795b09161c11efef907598f415bc28650ae2660f8dba7884"},
    {65536, false, 1, "ff1382d6734f2fd968bd0cf04f48b64e749cd839f4fbcc87d9545f5e4f1a8c1c",
     "7196d42584eba34be7b4160a4b13d69c29d96d7dfbf1e0e3e4a9d5c76bc91bf0"},
    {65537, false, 2, "e25e582ed1ec4ea04a713564904e4fa4060e95663a43dda16b93d4eae1e03ea0",
     "75d412fba474961366c9bce3376c2ecfae0976bc2fda296ff88ef8044d296c58"},
    {3 * 65536 + 100, false, 4, "545a921b0419f5e937c0d7ac43a33f0061aac4d048879cccfdfb1614115b21a3",
     "4be1f6046505487af997e079992b4e726196fb11865b826d59704bf87f7e18a7"},
    {5 * 65536, false, 5, "c5d077fc5b4a0beeab24aa1992f12acbbf3c08de0569dc03e42f4964416260b3",
     "9ad500a566baf0eba75f558ce72febb54f17860d6a2be368de0a11177bf14836"},
};

Bytes input_of(const Vector& v) {
    if (v.is_abc) return {'a', 'b', 'c'};
    return pattern(v.size);
}

} // namespace

BOOST_AUTO_TEST_CASE(matches_reference_vectors) {
    for (const auto& v : vectors) {
        const auto data = input_of(v);
        const auto tree = content_tree(data);
        BOOST_TEST_CONTEXT("size " << v.size) {
            BOOST_TEST(tree.size == data.size());
            BOOST_TEST(tree.leaves.size() == v.leaves);
            BOOST_TEST(to_hex(tree.root) == v.root);
            BOOST_TEST(to_hex(tree.leaves.back()) == v.last_leaf);
            BOOST_TEST(chunk_count(data.size()) == v.leaves);
            BOOST_TEST(to_hex(root_from_leaves(tree.leaves, data.size())) == v.root);
        }
    }
}

BOOST_AUTO_TEST_CASE(slicing_does_not_change_the_id) {
    const auto data = pattern(3 * 65536 + 100);
    const auto whole = content_tree(data);
    for (std::size_t step : {1u, 7u, 4096u, 65535u, 65536u, 65537u, 200000u}) {
        ContentHasher h;
        for (std::size_t off = 0; off < data.size(); off += step)
            h.update(ByteView(data).subspan(off, std::min(step, data.size() - off)));
        const auto t = std::move(h).finish();
        BOOST_TEST(t.root == whole.root, "step " << step);
        BOOST_TEST(t.leaves == whole.leaves, "step " << step);
    }
}

BOOST_AUTO_TEST_CASE(size_is_bound_and_chunks_verify) {
    auto data = pattern(2 * 65536);
    const auto tree = content_tree(data);
    // Wrong size for the same leaves is rejected outright.
    BOOST_CHECK_THROW(root_from_leaves(tree.leaves, 65536), std::invalid_argument);
    // A flipped bit changes that chunk's leaf and the root, not the other leaf.
    data[70000] ^= 1;
    const auto flipped = content_tree(data);
    BOOST_TEST(flipped.root != tree.root);
    BOOST_TEST(flipped.leaves[0] == tree.leaves[0]);
    BOOST_TEST(flipped.leaves[1] != tree.leaves[1]);
    BOOST_TEST(leaf_hash(ByteView(data).subspan(65536)) == flipped.leaves[1]);
    // A truncated file never shares the id, even within the last chunk.
    data[70000] ^= 1;
    data.pop_back();
    BOOST_TEST(content_tree(data).root != tree.root);
}

#define BOOST_TEST_MODULE identity
#include <boost/test/unit_test.hpp>

#include "daemon/peers/identity.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/seed.hpp"

#include <sodium.h>

#include <fstream>

using namespace earshot;
namespace fs = std::filesystem;

namespace {
using test::seed_of;
} // namespace

BOOST_AUTO_TEST_CASE(peer_id_round_trips_and_reads_sloppy_input) {
    BOOST_REQUIRE(sodium_init() >= 0);
    for (std::uint8_t b : {0, 1, 0x7f, 0xff}) {
        const auto id = peers::Identity::from_seed(seed_of(b));
        const auto text = id.peer_id();
        BOOST_TEST(text.size() == 63u); // 56 characters in 8 groups of 7, 7 dashes
        BOOST_TEST(std::get<proto::PublicKey>(proto::parse_peer_id(text)) == id.public_key());
        // Lower case, no dashes, spaces instead: the same key.
        std::string sloppy;
        for (char c : text) sloppy.push_back(c == '-' ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        BOOST_TEST(std::get<proto::PublicKey>(proto::parse_peer_id(sloppy)) == id.public_key());
    }
}

BOOST_AUTO_TEST_CASE(every_single_typo_is_caught) {
    const auto text = peers::Identity::from_seed(seed_of(42)).peer_id();
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::size_t tried = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '-') continue;
        for (char c : alphabet) {
            if (c == text[i]) continue;
            auto typo = text;
            typo[i] = c;
            ++tried;
            BOOST_TEST(std::holds_alternative<std::string>(proto::parse_peer_id(typo)), typo);
        }
    }
    BOOST_TEST(tried == 56u * 31u);
    BOOST_TEST(std::get<std::string>(proto::parse_peer_id(text.substr(1))).find("56 characters") != std::string::npos);
    BOOST_TEST(std::holds_alternative<std::string>(proto::parse_peer_id(text + "A")));
    BOOST_TEST(std::holds_alternative<std::string>(proto::parse_peer_id("")));
}

BOOST_AUTO_TEST_CASE(identity_is_created_private_and_kept) {
    test::TempDir dir;
    const auto first = peers::Identity::load_or_create(dir.path());
    const auto file = dir / "identity.key";
    BOOST_TEST(((fs::status(file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write)));
    BOOST_TEST(peers::Identity::load_or_create(dir.path()).peer_id() == first.peer_id());
    // Made readable by others: loaded, and made private again.
    fs::permissions(file, fs::perms::group_read | fs::perms::others_read, fs::perm_options::add);
    BOOST_TEST(peers::Identity::load_or_create(dir.path()).peer_id() == first.peer_id());
    BOOST_TEST(((fs::status(file).permissions() & (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none));
    // Signatures verify against the public key and nothing else.
    const std::string msg = "where can I reach you";
    const auto sig = first.sign(proto::as_bytes(msg));
    BOOST_TEST(peers::Identity::verify(first.public_key(), proto::as_bytes(msg), sig));
    BOOST_TEST(!peers::Identity::verify(first.public_key(), proto::as_bytes("where can I reach them"), sig));
    // The Noise static identity is this key pair.
    BOOST_TEST(first.noise_identity().ed25519_public == first.public_key());
    // A damaged key file is an error, not a silent new identity.
    std::ofstream(file, std::ios::trunc) << "garbage\n";
    BOOST_CHECK_THROW(peers::Identity::load_or_create(dir.path()), std::runtime_error);
}

#define BOOST_TEST_MODULE identity
#include <boost/test/unit_test.hpp>

#include "daemon/peers/identity.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/seed.hpp"

#include <sodium.h>

#include <algorithm>
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

// The example of proto/PEER_ID.md, and its key file, byte for byte.
BOOST_AUTO_TEST_CASE(the_documented_example_and_key_file) {
    std::array<std::uint8_t, 32> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i);
    const auto id = peers::Identity::from_seed(seed);
    BOOST_TEST(proto::to_hex(id.public_key()) == "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
    const std::string text = "AOQQPP7-TZYIL4D-HLQ3UMO-OS6ATFM-T6JVRQT-OSQ2XY2-53SDGIE-SVGG4A3";
    BOOST_TEST(id.peer_id() == text);
    BOOST_TEST(std::get<proto::PublicKey>(proto::parse_peer_id("aoqqpp7 tzyil4d hlq3umo os6atfm t6jvrqt osq2xy2 53sdgie svgg4a3")) ==
               id.public_key());
    std::string zeros = text;
    std::replace(zeros.begin(), zeros.end(), 'O', '0');
    BOOST_TEST(std::get<proto::PublicKey>(proto::parse_peer_id(zeros)) == id.public_key());

    test::TempDir dir;
    std::ofstream(dir / "identity.key")
        << "earshot-identity-v1 ed25519-seed 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    fs::permissions(dir / "identity.key", fs::perms::owner_read | fs::perms::owner_write);
    BOOST_TEST(peers::Identity::load_or_create(dir.path()).peer_id() == text);
    // And a created one has that shape.
    test::TempDir fresh;
    peers::Identity::load_or_create(fresh.path());
    std::ifstream in(fresh / "identity.key");
    std::string line;
    std::getline(in, line);
    BOOST_TEST(line.rfind("earshot-identity-v1 ed25519-seed ", 0) == 0u);
    BOOST_TEST(line.size() == 33u + 64u);
}

#define BOOST_TEST_MODULE resolver normalisation
#include <boost/test/unit_test.hpp>

#include "resolver/normalise.hpp"

#include <random>
#include <string>
#include <vector>

using namespace earshot::resolver;

namespace {

// True when s is well-formed UTF-8 (no overlongs, surrogates or truncation).
bool valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        char32_t cp = 0, min = 0;
        if (b < 0x80) { ++i; continue; }
        if ((b & 0xE0) == 0xC0) { n = 2; cp = b & 0x1F; min = 0x80; }
        else if ((b & 0xF0) == 0xE0) { n = 3; cp = b & 0x0F; min = 0x800; }
        else if ((b & 0xF8) == 0xF0) { n = 4; cp = b & 0x07; min = 0x10000; }
        else return false;
        if (i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n;
    }
    return true;
}

bool tidy_spaces(std::string_view s) {
    return s.empty() || (s.front() != ' ' && s.back() != ' ' && s.find("  ") == std::string_view::npos);
}

} // namespace

BOOST_AUTO_TEST_CASE(normalise_table) {
    const std::vector<std::pair<std::string, std::string>> rows = {
        // case and whitespace
        {"Karma Police", "karma police"},
        {"KARMA   POLICE", "karma police"},
        {"  lots\tof \n space ", "lots of space"},
        // diacritics: Latin-1 Supplement, Latin Extended-A/B, decomposed input
        {"Beyoncé", "beyonce"},
        {"BEYONCÉ", "beyonce"},
        {"Sigur Rós", "sigur ros"},
        {"Motörhead", "motorhead"},
        {"Mötley Crüe", "motley crue"},
        {"Björk", "bjork"},
        {"Françoise Hardy", "francoise hardy"},
        {"Beyonce\xCC\x81", "beyonce"},   // e + combining acute
        {"Straße", "strasse"},
        {"Æther Ærøskøbing", "aether aeroskobing"},
        {"Røyksopp", "royksopp"},
        {"Œuvre cœur", "oeuvre coeur"},
        {"Łódź", "lodz"},
        {"Þór Ðrúm", "thor drum"},
        {"İstanbul", "istanbul"},
        {"Dvořák Šostakovič", "dvorak sostakovic"},
        {"Ĳsselmeer", "ijsselmeer"},
        {"Ǆemal Ǳ", "dzemal dz"},
        {"Ștefan Țară", "stefan tara"},
        {"Việt Nam Tiến Lên", "viet nam tien len"},
        {"µ-Ziq", "mu ziq"},
        // quotes, apostrophes, dashes, punctuation
        {"Don't Stop", "dont stop"},
        {"Don\xE2\x80\x99t Stop", "dont stop"},  // curly apostrophe
        {"\xE2\x80\x9CQuoted\xE2\x80\x9D", "quoted"},
        {"A\xE2\x80\x93" "B\xE2\x80\x94" "C", "a b c"}, // en and em dashes
        {"Guns N' Roses", "guns n roses"},
        {"AC/DC", "ac dc"},
        {"Hello, World!", "hello world"},
        {"R.E.M.", "rem"},
        {"U.S.A. for Africa", "usa for africa"},
        {"Mr.Brightside", "mr brightside"},
        {"J. Cole", "j cole"},
        {"Simon & Garfunkel", "simon and garfunkel"},
        {"Hall&Oates", "hall and oates"},
        {"Ｈｅｌｌｏ　Ｗｏｒｌｄ", "hello world"}, // full-width
        // other scripts: lower-cased where simple, otherwise intact
        {"КИНО", "кино"},
        {"Ёлка", "елка"},
        {"ΣΊΓΟΥΡΑ ΣΤΑ", "σιγουρα στα"},
        {"坂本龍一", "坂本龍一"},
        {"宇多田ヒカル「First Love」", "宇多田ヒカル first love"},
        {"방탄소년단", "방탄소년단"},
        // short and punctuation-only names
        {"U2", "u2"},
        {"X", "x"},
        {"Yes", "yes"},
        {"!!!", "!!!"},
        {"???", "???"},
        {"! ! !", "! ! !"},
        {"", ""},
        {"   ", ""},
        // invalid UTF-8: bad bytes separate, never corrupt
        {"ab\xFF" "cd", "ab cd"},
        {"Beyonc\xE9 Knowles", "beyonc knowles"}, // Latin-1 bytes, not UTF-8
        {"caf\xC3", "caf"},                        // truncated sequence
        {"a\xC0\xAF" "b", "a b"},                  // overlong "/"
        {"a\xED\xA0\x80" "b", "a b"},              // surrogate
    };
    for (const auto& [in, want] : rows) BOOST_TEST(normalise(in) == want, "normalise(\"" << in << "\")");
}

BOOST_AUTO_TEST_CASE(normalise_is_idempotent_and_both_sides_meet) {
    for (std::string s : {"Beyoncé", "The Beatles", "R.E.M.", "Don’t Stop Me Now", "Sigur Rós", "!!!", "坂本龍一"}) {
        const std::string once = normalise(s);
        BOOST_TEST(normalise(once) == once, s);
    }
    BOOST_TEST(normalise("Beyoncé") == normalise("BEYONCE"));
    BOOST_TEST(normalise("Motörhead") == normalise("motorhead"));
    BOOST_TEST(normalise("Don’t") == normalise("Dont"));
}

BOOST_AUTO_TEST_CASE(normalise_never_emits_invalid_utf8) {
    std::mt19937 rng(1234);
    const std::vector<std::string> pieces = {"a", "B", " ", "é", "\xC3", "\xA9", "\xFF", "\xE2\x80\x99", "\xF0\x9F\x8E\xB5",
                                             "坂", "\xED\xA0\x80", ".", "&", "!", "\xC0\xAF", "Ж", "\t", "'", std::string("\0", 1)};
    for (int round = 0; round < 3000; ++round) {
        std::string s;
        const int n = static_cast<int>(rng() % 24);
        for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
        if (round % 3 == 0) // raw random bytes too
            for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(rng() & 0xFF));
        for (const std::string& out : {normalise(s), normalise_artist(s), normalise_title(s).base, normalise_title(s).version}) {
            BOOST_TEST_REQUIRE(valid_utf8(out));
            BOOST_TEST_REQUIRE(tidy_spaces(out));
            BOOST_TEST_REQUIRE(out.find('\0') == std::string::npos);
        }
        for (const auto& name : split_artists(s)) {
            BOOST_TEST_REQUIRE(valid_utf8(name));
            BOOST_TEST_REQUIRE(!name.empty());
        }
    }
}

BOOST_AUTO_TEST_CASE(artist_names_drop_the) {
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"The Beatles", "beatles"},   {"Beatles, The", "beatles"}, {"THE BEATLES", "beatles"},
        {"Beatles", "beatles"},       {"The The", "the"},          {"The", "the"},
        {"Theatre of Tragedy", "theatre of tragedy"}, {"Them", "them"},
    };
    for (const auto& [in, want] : rows) BOOST_TEST(normalise_artist(in) == want, in);
}

BOOST_AUTO_TEST_CASE(split_artists_table) {
    using V = std::vector<std::string>;
    const std::vector<std::pair<std::string, V>> rows = {
        {"A feat. B & C", {"a", "b", "c"}},
        {"Eminem feat. Rihanna", {"eminem", "rihanna"}},
        {"Eminem ft. Rihanna", {"eminem", "rihanna"}},
        {"Eminem ft Rihanna", {"eminem", "rihanna"}},
        {"Eminem Featuring Rihanna", {"eminem", "rihanna"}},
        {"Eminem (feat. Rihanna)", {"eminem", "rihanna"}},
        {"Jay-Z & Kanye West", {"jay z", "kanye west"}},
        {"Simon and Garfunkel", {"simon", "garfunkel"}},
        {"Earth, Wind & Fire", {"earth", "wind", "fire"}},
        {"Skrillex x Diplo", {"skrillex", "diplo"}},
        {"Daft Punk vs. The Chemical Brothers", {"daft punk", "chemical brothers"}},
        {"Artist with Orchestra", {"artist", "orchestra"}},
        {"A; B / C", {"a", "b", "c"}},
        {"The Beatles", {"beatles"}},
        {"Beatles, The", {"beatles"}},
        {"AC/DC", {"ac dc"}},
        {"X Japan", {"x japan"}},
        {"Malcolm X", {"malcolm x"}},
        {"With Confidence", {"with confidence"}},
        {"Featherweight", {"featherweight"}},
        {"Andrew Bird", {"andrew bird"}},
        {"!!!", {"!!!"}},
        {"U2", {"u2"}},
        {"A & A", {"a"}},
        {"", {}},
    };
    for (const auto& [in, want] : rows) BOOST_TEST(split_artists(in) == want, in);
}

BOOST_AUTO_TEST_CASE(artist_without_featuring) {
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"The Artist feat. X", "artist"},
        {"Artist (ft. X)", "artist"},
        {"Artist Featuring X & Y", "artist"},
        {"Simon & Garfunkel", "simon and garfunkel"},
        {"Featherweight", "featherweight"},
        {"Beyoncé", "beyonce"},
    };
    for (const auto& [in, want] : rows) BOOST_TEST(normalise_artist_full(in) == want, in);
}

BOOST_AUTO_TEST_CASE(title_table) {
    using K = VersionKind;
    struct Row {
        std::string in, base, version;
        K kind;
        std::vector<std::string> featuring;
    };
    const std::vector<Row> rows = {
        {"Karma Police", "karma police", "", K::none, {}},
        {"Song (Remastered 2011)", "song", "remastered 2011", K::benign, {}},
        {"Song - 2011 Remaster", "song", "2011 remaster", K::benign, {}},
        {"Song \xE2\x80\x93 2011 Remaster", "song", "2011 remaster", K::benign, {}},
        {"Hey Jude - Remastered 2015", "hey jude", "remastered 2015", K::benign, {}},
        {"Song - Radio Edit", "song", "radio edit", K::benign, {}},
        {"Song (Single Version)", "song", "single version", K::benign, {}},
        {"Song (Album Version)", "song", "album version", K::benign, {}},
        {"Song [Explicit]", "song", "explicit", K::benign, {}},
        {"Song (Original Mix)", "song", "original mix", K::benign, {}},
        {"Song [Live]", "song", "live", K::distinct, {}},
        {"Song (Live at Wembley 1986)", "song", "live at wembley 1986", K::distinct, {}},
        {"Song - Live at Wembley", "song", "live at wembley", K::distinct, {}},
        {"Song (Acoustic Version)", "song", "acoustic version", K::distinct, {}},
        {"Song (Club Mix)", "song", "club mix", K::distinct, {}},
        {"Song (Spanish Version)", "song", "spanish version", K::distinct, {}},
        {"Song (Taylor's Version)", "song", "taylors version", K::distinct, {}},
        {"Song (Demo)", "song", "demo", K::distinct, {}},
        {"Song (Live) [Remastered]", "song", "live remastered", K::distinct, {}},
        {"Song (feat. X)", "song", "", K::none, {"x"}},
        {"Song [ft. X & Y]", "song", "", K::none, {"x", "y"}},
        {"Song (with X)", "song", "", K::none, {"x"}},
        {"Song feat. X", "song", "", K::none, {"x"}},
        {"Song ft. X (Remix)", "song", "remix", K::distinct, {"x"}},
        {"Song (feat. X) - Radio Edit", "song", "radio edit", K::benign, {"x"}},
        {"Song (feat. The X) [Live]", "song", "live", K::distinct, {"x"}},
        // brackets and dashes that name no version are part of the title
        {"Song (Part 2)", "song part 2", "", K::none, {}},
        {"(I Can't Get No) Satisfaction", "i cant get no satisfaction", "", K::none, {}},
        {"Song - Part Two", "song part two", "", K::none, {}},
        {"Dancing with Myself", "dancing with myself", "", K::none, {}},
        {"Live Forever", "live forever", "", K::none, {}},
        // never strip a title down to nothing
        {"(Live)", "live", "", K::none, {}},
        {"- Remastered", "remastered", "", K::none, {}},
        {"!!!", "!!!", "", K::none, {}},
        {"Song (Unbalanced", "song unbalanced", "", K::none, {}},
        {"Song Unbalanced)", "song unbalanced", "", K::none, {}},
    };
    for (const auto& r : rows) {
        const NormalisedTitle t = normalise_title(r.in);
        BOOST_TEST(t.base == r.base, r.in);
        BOOST_TEST(t.version == r.version, r.in);
        BOOST_TEST(static_cast<int>(t.kind) == static_cast<int>(r.kind), r.in);
        BOOST_TEST(t.featuring == r.featuring, r.in);
    }
}

BOOST_AUTO_TEST_CASE(classify_versions) {
    BOOST_TEST(static_cast<int>(classify_version("")) == static_cast<int>(VersionKind::none));
    BOOST_TEST(static_cast<int>(classify_version("remastered 2011")) == static_cast<int>(VersionKind::benign));
    BOOST_TEST(static_cast<int>(classify_version("radio edit")) == static_cast<int>(VersionKind::benign));
    BOOST_TEST(static_cast<int>(classify_version("extended edit")) == static_cast<int>(VersionKind::distinct));
    BOOST_TEST(static_cast<int>(classify_version("live")) == static_cast<int>(VersionKind::distinct));
}

#include "resolver/normalise.hpp"

#include <algorithm>
#include <array>
#include <optional>

namespace earshot::resolver {
namespace {

constexpr char32_t invalid_cp = 0xFFFFFFFF;

// Decodes the code point at s[i], strictly (no overlongs, surrogates or
// values past U+10FFFF). Returns invalid_cp and a length of 1 for a bad byte,
// so a caller can treat it as a separator and resynchronise on the next byte.
char32_t decode(std::string_view s, std::size_t i, std::size_t& len) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    len = 1;
    if (b0 < 0x80) return b0;
    std::size_t n = 0;
    char32_t cp = 0, min = 0;
    if ((b0 & 0xE0) == 0xC0) { n = 2; cp = b0 & 0x1F; min = 0x80; }
    else if ((b0 & 0xF0) == 0xE0) { n = 3; cp = b0 & 0x0F; min = 0x800; }
    else if ((b0 & 0xF8) == 0xF0) { n = 4; cp = b0 & 0x07; min = 0x10000; }
    else return invalid_cp;
    if (i + n > s.size()) return invalid_cp;
    for (std::size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80) return invalid_cp;
        cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid_cp;
    len = n;
    return cp;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

constexpr bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
constexpr bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_letter(char c) { return is_upper(c) || is_lower(c); }
constexpr char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// What U+00A0..U+024F fold to: ASCII letters, " " (a separator), "" (dropped:
// soft hyphen, a stray acute accent used as an apostrophe) or nullptr (kept
// as is: letters with no sensible Latin base). Generated from Unicode's
// compatibility decompositions, with the letters that have none (ß, æ, ø, œ,
// ł, đ, þ, ...) spelled the way people type them.
constexpr std::array<const char*, 0x250 - 0xA0> latin_fold = {
    /* U+00A0 */ " ", " ", " ", " ", " ", " ", " ", " ",
    /* U+00A8 */ " ", " ", "a", " ", " ", "", " ", " ",
    /* U+00B0 */ " ", " ", "2", "3", "", "mu", " ", " ",
    /* U+00B8 */ " ", "1", "o", " ", " ", " ", " ", " ",
    /* U+00C0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
    /* U+00C8 */ "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00D0 */ "d", "n", "o", "o", "o", "o", "o", " ",
    /* U+00D8 */ "o", "u", "u", "u", "u", "y", "th", "ss",
    /* U+00E0 */ "a", "a", "a", "a", "a", "a", "ae", "c",
    /* U+00E8 */ "e", "e", "e", "e", "i", "i", "i", "i",
    /* U+00F0 */ "d", "n", "o", "o", "o", "o", "o", " ",
    /* U+00F8 */ "o", "u", "u", "u", "u", "y", "th", "y",
    /* U+0100 */ "a", "a", "a", "a", "a", "a", "c", "c",
    /* U+0108 */ "c", "c", "c", "c", "c", "c", "d", "d",
    /* U+0110 */ "d", "d", "e", "e", "e", "e", "e", "e",
    /* U+0118 */ "e", "e", "e", "e", "g", "g", "g", "g",
    /* U+0120 */ "g", "g", "g", "g", "h", "h", "h", "h",
    /* U+0128 */ "i", "i", "i", "i", "i", "i", "i", "i",
    /* U+0130 */ "i", "i", "ij", "ij", "j", "j", "k", "k",
    /* U+0138 */ "k", "l", "l", "l", "l", "l", "l", "l",
    /* U+0140 */ "l", "l", "l", "n", "n", "n", "n", "n",
    /* U+0148 */ "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+0150 */ "o", "o", "oe", "oe", "r", "r", "r", "r",
    /* U+0158 */ "r", "r", "s", "s", "s", "s", "s", "s",
    /* U+0160 */ "s", "s", "t", "t", "t", "t", "t", "t",
    /* U+0168 */ "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+0170 */ "u", "u", "u", "u", "w", "w", "y", "y",
    /* U+0178 */ "y", "z", "z", "z", "z", "z", "z", "s",
    /* U+0180 */ "b", "b", "b", "b", nullptr, nullptr, nullptr, "c",
    /* U+0188 */ "c", nullptr, "d", "d", "d", nullptr, nullptr, nullptr,
    /* U+0190 */ nullptr, "f", "f", "g", nullptr, "hv", nullptr, "i",
    /* U+0198 */ "k", "k", "l", nullptr, nullptr, "n", "n", "o",
    /* U+01A0 */ "o", "o", "oi", "oi", "p", "p", "yr", nullptr,
    /* U+01A8 */ nullptr, nullptr, nullptr, "t", "t", "t", "t", "u",
    /* U+01B0 */ "u", nullptr, "v", "y", "y", "z", "z", nullptr,
    /* U+01B8 */ nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
    /* U+01C0 */ nullptr, nullptr, nullptr, nullptr, "dz", "dz", "dz", "lj",
    /* U+01C8 */ "lj", "lj", "nj", "nj", "nj", "a", "a", "i",
    /* U+01D0 */ "i", "o", "o", "u", "u", "u", "u", "u",
    /* U+01D8 */ "u", "u", "u", "u", "u", nullptr, "a", "a",
    /* U+01E0 */ "a", "a", "ae", "ae", "g", "g", "g", "g",
    /* U+01E8 */ "k", "k", "o", "o", "o", "o", nullptr, nullptr,
    /* U+01F0 */ "j", "dz", "dz", "dz", "g", "g", nullptr, nullptr,
    /* U+01F8 */ "n", "n", "a", "a", "ae", "ae", "o", "o",
    /* U+0200 */ "a", "a", "a", "a", "e", "e", "e", "e",
    /* U+0208 */ "i", "i", "i", "i", "o", "o", "o", "o",
    /* U+0210 */ "r", "r", "r", "r", "u", "u", "u", "u",
    /* U+0218 */ "s", "s", "t", "t", nullptr, nullptr, "h", "h",
    /* U+0220 */ "n", "d", "ou", "ou", "z", "z", "a", "a",
    /* U+0228 */ "e", "e", "o", "o", "o", "o", "o", "o",
    /* U+0230 */ "o", "o", "y", "y", "l", "n", "t", nullptr,
    /* U+0238 */ "db", "qp", "a", "c", "c", "l", "t", "s",
    /* U+0240 */ "z", nullptr, nullptr, "b", "u", nullptr, "e", "e",
    /* U+0248 */ "j", "j", "q", "q", "r", "r", "y", "y",
};

// U+1E00..U+1EFF, precomposed letters with diacritics, folded the same way.
constexpr std::array<const char*, 0x100> latin_additional_fold = {
    /* U+1E00 */ "a", "a", "b", "b", "b", "b", "b", "b",
    /* U+1E08 */ "c", "c", "d", "d", "d", "d", "d", "d",
    /* U+1E10 */ "d", "d", "d", "d", "e", "e", "e", "e",
    /* U+1E18 */ "e", "e", "e", "e", "e", "e", "f", "f",
    /* U+1E20 */ "g", "g", "h", "h", "h", "h", "h", "h",
    /* U+1E28 */ "h", "h", "h", "h", "i", "i", "i", "i",
    /* U+1E30 */ "k", "k", "k", "k", "k", "k", "l", "l",
    /* U+1E38 */ "l", "l", "l", "l", "l", "l", "m", "m",
    /* U+1E40 */ "m", "m", "m", "m", "n", "n", "n", "n",
    /* U+1E48 */ "n", "n", "n", "n", "o", "o", "o", "o",
    /* U+1E50 */ "o", "o", "o", "o", "p", "p", "p", "p",
    /* U+1E58 */ "r", "r", "r", "r", "r", "r", "r", "r",
    /* U+1E60 */ "s", "s", "s", "s", "s", "s", "s", "s",
    /* U+1E68 */ "s", "s", "t", "t", "t", "t", "t", "t",
    /* U+1E70 */ "t", "t", "u", "u", "u", "u", "u", "u",
    /* U+1E78 */ "u", "u", "u", "u", "v", "v", "v", "v",
    /* U+1E80 */ "w", "w", "w", "w", "w", "w", "w", "w",
    /* U+1E88 */ "w", "w", "x", "x", "x", "x", "y", "y",
    /* U+1E90 */ "z", "z", "z", "z", "z", "z", "h", "t",
    /* U+1E98 */ "w", "y", "a", "s", nullptr, nullptr, "ss", nullptr,
    /* U+1EA0 */ "a", "a", "a", "a", "a", "a", "a", "a",
    /* U+1EA8 */ "a", "a", "a", "a", "a", "a", "a", "a",
    /* U+1EB0 */ "a", "a", "a", "a", "a", "a", "a", "a",
    /* U+1EB8 */ "e", "e", "e", "e", "e", "e", "e", "e",
    /* U+1EC0 */ "e", "e", "e", "e", "e", "e", "e", "e",
    /* U+1EC8 */ "i", "i", "i", "i", "o", "o", "o", "o",
    /* U+1ED0 */ "o", "o", "o", "o", "o", "o", "o", "o",
    /* U+1ED8 */ "o", "o", "o", "o", "o", "o", "o", "o",
    /* U+1EE0 */ "o", "o", "o", "o", "u", "u", "u", "u",
    /* U+1EE8 */ "u", "u", "u", "u", "u", "u", "u", "u",
    /* U+1EF0 */ "u", "u", "y", "y", "y", "y", "y", "y",
    /* U+1EF8 */ "y", "y", nullptr, nullptr, nullptr, nullptr, nullptr, nullptr,
};

// Builds the normalised string: words of folded characters separated by
// exactly one space, no leading or trailing space.
class Folder {
public:
    void separator() {
        pending_space_ = !out_.empty();
        segment_ = 0;
    }
    void letter(char c) { // an ASCII lower-case letter or digit
        if (pending_space_) out_.push_back(' ');
        pending_space_ = false;
        out_.push_back(c);
        ++segment_;
        last_is_letter_ = is_lower(c);
    }
    void other(char32_t cp) { // any other kept code point
        if (pending_space_) out_.push_back(' ');
        pending_space_ = false;
        append_utf8(out_, cp);
        segment_ = 2; // never part of an acronym
        last_is_letter_ = false;
    }
    void word(std::string_view w) {
        for (char c : w) letter(c);
    }
    // A dot right after a lone letter and before another letter is an
    // acronym's ("R.E.M.", "U.S.A."): drop it so the letters join.
    bool swallow_dot(char next) {
        if (segment_ == 1 && last_is_letter_ && is_letter(next)) {
            segment_ = 0;
            return true;
        }
        return false;
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
    bool pending_space_ = false;
    int segment_ = 0; // characters since the word start or a swallowed acronym dot
    bool last_is_letter_ = false;
};

void fold_ascii(Folder& f, char c, char next) {
    if (is_upper(c)) return f.letter(to_lower(c));
    if (is_lower(c) || is_digit(c)) return f.letter(c);
    switch (c) {
    case '\'':
    case '`':
        return; // "Don't" and "Dont" are the same word
    case '&':
        f.separator();
        f.word("and");
        return f.separator();
    case '.':
        if (f.swallow_dot(next)) return;
        return f.separator();
    default:
        return f.separator();
    }
}

void fold(Folder& f, char32_t cp, char next) {
    if (cp < 0x80) return fold_ascii(f, static_cast<char>(cp), next);
    if (cp < 0xA0) return f.separator(); // C1 controls
    if (cp < 0x250) {
        const char* r = latin_fold[cp - 0xA0];
        if (r == nullptr) return f.other(cp);
        std::string_view rs(r);
        if (rs == " ") return f.separator();
        return f.word(rs);
    }
    if (cp >= 0x300 && cp <= 0x36F) return; // combining marks (decomposed input)
    if (cp >= 0x370 && cp <= 0x3FF) {       // Greek: lower-case, drop tonos
        if (cp >= 0x391 && cp <= 0x3A9) return f.other(cp + 0x20);
        switch (cp) {
        case 0x386: case 0x3AC: return f.other(0x3B1);
        case 0x388: case 0x3AD: return f.other(0x3B5);
        case 0x389: case 0x3AE: return f.other(0x3B7);
        case 0x38A: case 0x3AF: case 0x3CA: case 0x390: return f.other(0x3B9);
        case 0x38C: case 0x3CC: return f.other(0x3BF);
        case 0x38E: case 0x3CD: case 0x3CB: case 0x3B0: return f.other(0x3C5);
        case 0x38F: case 0x3CE: return f.other(0x3C9);
        case 0x3C2: return f.other(0x3C3); // final sigma
        case 0x37E: case 0x387: return f.separator(); // Greek question mark, ano teleia
        default: return f.other(cp);
        }
    }
    if (cp >= 0x400 && cp <= 0x4FF) { // Cyrillic: lower-case, ё → е as search engines do
        if (cp == 0x401 || cp == 0x451) return f.other(0x435);
        if (cp >= 0x410 && cp <= 0x42F) return f.other(cp + 0x20);
        if (cp >= 0x400 && cp <= 0x40F) return f.other(cp + 0x50);
        return f.other(cp);
    }
    if (cp >= 0x2000 && cp <= 0x206F) { // general punctuation
        switch (cp) {
        case 0x2018: case 0x2019: case 0x201B: case 0x2032: case 0x2035: // curly apostrophes, primes
        case 0x200B: case 0x200C: case 0x200D: case 0x2060:              // zero-width characters
            return;
        default:
            return f.separator(); // spaces, dashes, quotes, bullets, ellipsis
        }
    }
    if (cp == 0x2212 || cp == 0x301C) return f.separator(); // minus sign, wave dash
    if ((cp >= 0x3000 && cp <= 0x3004) || (cp >= 0x3008 && cp <= 0x3020)) return f.separator(); // CJK punctuation
    if (cp >= 0xFF01 && cp <= 0xFF5E) return fold_ascii(f, static_cast<char>(cp - 0xFEE0), next); // full-width ASCII
    if (cp == 0xFEFF || (cp >= 0xFE00 && cp <= 0xFE0F)) return;   // BOM, variation selectors
    if (cp >= 0x1E00 && cp <= 0x1EFF) { // Latin Extended Additional (Vietnamese, Welsh, ...)
        const char* r = latin_additional_fold[cp - 0x1E00];
        if (r != nullptr) return f.word(r);
    }
    return f.other(cp);
}

// Lower-cases ASCII, collapses whitespace, turns invalid bytes into
// separators and keeps everything else: the fallback name of a string that
// folds to nothing.
std::string raw_lower(std::string_view s) {
    std::string out;
    bool pending = false;
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t len = 1;
        const char32_t cp = decode(s, i, len);
        if (cp == invalid_cp || (cp < 0x80 && (is_space(static_cast<char>(cp)) || cp < 0x20 || cp == 0x7F))) {
            pending = !out.empty();
        } else {
            if (pending) out.push_back(' ');
            pending = false;
            if (cp < 0x80) out.push_back(to_lower(static_cast<char>(cp)));
            else out.append(s.substr(i, len));
        }
        i += len;
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return to_lower(x) == to_lower(y); });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// If s starts with a featuring keyword ("feat.", "ft", "featuring", and in
// brackets also "with"), returns what follows it.
std::optional<std::string_view> after_feat_keyword(std::string_view s, bool allow_with) {
    s = trim(s);
    for (std::string_view kw : {"featuring", "feat", "ft", "with"}) {
        if (kw == "with" && !allow_with) continue;
        if (!istarts_with(s, kw)) continue;
        std::string_view rest = s.substr(kw.size());
        if (!rest.empty() && rest.front() == '.') rest.remove_prefix(1);
        else if (!rest.empty() && !is_space(rest.front())) continue; // "Ftw", "Featherweight"
        return trim(rest);
    }
    return std::nullopt;
}

// Position of the first featuring keyword that starts a word after a space
// or an opening bracket ("Artist feat. X", "Artist (ft X)"), or npos.
std::size_t find_feat(std::string_view s) {
    for (std::size_t i = 1; i < s.size(); ++i) {
        const char prev = s[i - 1];
        if (!is_space(prev) && prev != '(' && prev != '[') continue;
        if (after_feat_keyword(s.substr(i), false)) return (prev == '(' || prev == '[') ? i - 1 : i;
    }
    return std::string_view::npos;
}

template <std::size_t N>
bool in(std::string_view w, const std::array<std::string_view, N>& set) {
    return std::find(set.begin(), set.end(), w) != set.end();
}

constexpr std::array<std::string_view, 29> distinct_words = {
    "live", "remix", "remixed", "rmx", "acoustic", "demo", "instrumental", "unplugged", "extended",
    "karaoke", "reprise", "rehearsal", "session", "sessions", "take", "dub", "vip", "bootleg", "cover",
    "orchestral", "acapella", "cappella", "alternate", "outtake", "rough", "club", "dance", "rework",
    "reworked"};
constexpr std::array<std::string_view, 19> benign_words = {
    "remaster", "remastered", "remasters", "remastering", "mono", "stereo", "explicit", "clean",
    "deluxe", "bonus", "anniversary", "expanded", "digital", "edition", "radio", "single", "uncensored",
    "censored", "lp"};
// Words before "version"/"edit"/"mix" that keep the suffix benign.
constexpr std::array<std::string_view, 14> benign_qualifiers = {
    "album", "single", "original", "lp", "stereo", "mono", "remastered", "remaster", "explicit",
    "clean", "radio", "uncensored", "censored", "short"};

bool is_version(std::string_view normalised) {
    bool yes = false;
    for_each_word(normalised, [&](std::string_view w) {
        yes = yes || in(w, distinct_words) || in(w, benign_words) || w == "version" || w == "edit" ||
              w == "mix";
    });
    return yes;
}

void append_unique(std::vector<std::string>& out, std::string name) {
    if (!name.empty() && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
}

// Peels version suffixes and featuring credits off the end of a title.
std::string_view strip_suffixes(std::string_view t, std::vector<std::string>& versions,
                                std::vector<std::string>& featuring) {
    for (;;) {
        t = trim(t);
        if (t.empty()) return t;
        const char last = t.back();
        if (last == ')' || last == ']' || last == '}') {
            const char open_ch = last == ')' ? '(' : last == ']' ? '[' : '{';
            int depth = 0;
            std::size_t open = std::string_view::npos;
            for (std::size_t i = t.size(); i-- > 0;) {
                if (t[i] == last) ++depth;
                else if (t[i] == open_ch && --depth == 0) {
                    open = i;
                    break;
                }
            }
            if (open == std::string_view::npos) return t;
            const std::string_view inner = t.substr(open + 1, t.size() - open - 2);
            const std::string_view before = trim(t.substr(0, open));
            if (before.empty()) return t;
            if (auto names = after_feat_keyword(inner, true)) {
                for (auto& n : split_artists(*names)) append_unique(featuring, std::move(n));
                t = before;
                continue;
            }
            std::string v = normalise(inner);
            if (!is_version(v)) return t;
            versions.insert(versions.begin(), std::move(v));
            t = before;
            continue;
        }
        // "Song - Radio Edit", "Song – 2011 Remaster": the last dash separator.
        std::size_t sep = std::string_view::npos, sep_len = 0;
        for (std::string_view d : {" - ", " \xE2\x80\x93 ", " \xE2\x80\x94 "}) {
            const std::size_t p = t.rfind(d);
            if (p != std::string_view::npos && (sep == std::string_view::npos || p > sep)) {
                sep = p;
                sep_len = d.size();
            }
        }
        if (sep == std::string_view::npos) return t;
        const std::string_view before = trim(t.substr(0, sep));
        const std::string_view suffix = t.substr(sep + sep_len);
        if (before.empty()) return t;
        if (auto names = after_feat_keyword(suffix, false)) {
            for (auto& n : split_artists(*names)) append_unique(featuring, std::move(n));
            t = before;
            continue;
        }
        std::string v = normalise(suffix);
        if (!is_version(v)) return t;
        versions.insert(versions.begin(), std::move(v));
        t = before;
    }
}

} // namespace

std::string normalise(std::string_view s) {
    Folder f;
    std::size_t i = 0;
    while (i < s.size()) {
        std::size_t len = 1;
        const char32_t cp = decode(s, i, len);
        const char next = i + len < s.size() ? s[i + len] : '\0';
        if (cp == invalid_cp) f.separator();
        else fold(f, cp, next);
        i += len;
    }
    std::string out = f.take();
    if (out.empty()) return raw_lower(s);
    return out;
}

std::string normalise_artist(std::string_view s) {
    s = trim(s);
    if (s.size() > 5 && iequals(s.substr(s.size() - 5), ", the")) s = trim(s.substr(0, s.size() - 5));
    std::string n = normalise(s);
    if (n.size() > 4 && n.starts_with("the ")) n.erase(0, 4);
    return n;
}

std::string normalise_artist_full(std::string_view s) {
    const std::size_t cut = find_feat(s);
    if (cut != std::string_view::npos) {
        std::string n = normalise_artist(s.substr(0, cut));
        if (!n.empty()) return n;
    }
    return normalise_artist(s);
}

std::string join_artists(const std::vector<std::string>& artists) {
    std::string out;
    for (const auto& a : artists) {
        if (!out.empty()) out.append(", ");
        out.append(a);
    }
    return out;
}

std::vector<std::string> split_artists(std::string_view s) {
    s = trim(s);
    // "Beatles, The" is one name in sort order, not "Beatles" and "The".
    if (s.size() > 5 && iequals(s.substr(s.size() - 5), ", the")) s = trim(s.substr(0, s.size() - 5));
    std::vector<std::string> names;
    std::size_t start = 0;
    auto cut = [&](std::size_t end, std::size_t resume) {
        if (end > start) append_unique(names, normalise_artist(s.substr(start, end - start)));
        start = resume;
    };
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (c == ',' || c == ';' || c == '&' || c == '(' || c == ')' || c == '[' || c == ']') {
            cut(i, i + 1);
            ++i;
            continue;
        }
        if (c == ' ' && i + 2 < s.size() && s[i + 1] == '/' && s[i + 2] == ' ') {
            cut(i, i + 3);
            i += 3;
            continue;
        }
        // A joining word must start after a space or a bracket; a name that
        // begins with one ("With Confidence", "X Japan") is left whole.
        const bool word_start = i > 0 && (is_space(s[i - 1]) || s[i - 1] == '(' || s[i - 1] == '[');
        const bool after_bracket = i > 0 && (s[i - 1] == '(' || s[i - 1] == '[');
        if (word_start && (i > start || after_bracket)) {
            const std::string_view rest = s.substr(i);
            if (auto after = after_feat_keyword(rest, true)) {
                const std::size_t resume = s.size() - after->size();
                cut(i, resume);
                i = resume;
                continue;
            }
            bool joined = false;
            for (std::string_view kw : {"and", "vs.", "vs", "x"}) {
                if (i > start && istarts_with(rest, kw) && rest.size() > kw.size() && is_space(rest[kw.size()]) &&
                    is_space(s[i - 1])) {
                    cut(i, i + kw.size());
                    i += kw.size();
                    joined = true;
                    break;
                }
            }
            if (joined) continue;
        }
        ++i;
    }
    cut(s.size(), s.size());
    if (names.empty()) {
        std::string whole = normalise_artist(s);
        if (!whole.empty()) names.push_back(std::move(whole));
    }
    return names;
}

VersionKind classify_version(std::string_view v) {
    bool distinct = false, any = false;
    std::string_view prev;
    for_each_word(v, [&](std::string_view w) {
        if (in(w, distinct_words)) {
            distinct = true;
        } else if (w == "version" || w == "edit" || w == "mix") {
            // "Album Version", "Radio Edit", "Original Mix" name the plain
            // recording; "Spanish Version", "Club Mix" name another one.
            if (!in(prev, benign_qualifiers)) distinct = true;
        } else if (in(w, benign_words)) {
            any = true;
        }
        any = true;
        prev = w;
    });
    if (!any) return VersionKind::none;
    return distinct ? VersionKind::distinct : VersionKind::benign;
}

NormalisedTitle normalise_title(std::string_view s) {
    NormalisedTitle t;
    std::vector<std::string> versions;
    std::string_view rest = strip_suffixes(s, versions, t.featuring);
    // An unbracketed credit: "Song feat. X", "Song ft X (Live)".
    const std::size_t f = find_feat(rest);
    if (f != std::string_view::npos && !trim(rest.substr(0, f)).empty()) {
        if (auto names = after_feat_keyword(rest.substr(f + (rest[f] == '(' || rest[f] == '[' ? 1 : 0)), false)) {
            for (auto& n : split_artists(*names)) append_unique(t.featuring, std::move(n));
        }
        rest = strip_suffixes(rest.substr(0, f), versions, t.featuring);
    }
    t.base = normalise(rest);
    for (const auto& v : versions) {
        if (v.empty()) continue;
        if (!t.version.empty()) t.version.push_back(' ');
        t.version += v;
    }
    t.kind = t.version.empty() ? VersionKind::none : classify_version(t.version);
    return t;
}

} // namespace earshot::resolver

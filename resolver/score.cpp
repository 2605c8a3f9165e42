#include "resolver/score.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace earshot::resolver {
namespace {

// Calibration. Multiplicative factors keep an exact match at exactly 1.0
// and let every small difference order candidates without erasing others.
constexpr double artist_floor = 0.75;      // below this artist similarity the match is another artist...
constexpr double artist_floor_cap = 0.5;   // ...and can score at most this
constexpr double main_artist_only = 0.998; // matched the first-listed of several joined artists
constexpr double secondary_artist = 0.95;  // matched a featured / second-listed artist only
constexpr double credits_differ = 0.998;   // same main artist, other featuring credits
constexpr double no_artist_given = 0.88;   // title-only queries are never solved: which artist?
constexpr double reordered_words = 0.95;   // same words in another order
constexpr double free_text_cap = 0.995;    // "artist title" typed as one string
constexpr double reversed_reading = 0.995; // "Title - Artist" instead of "Artist - Title"
constexpr double min_title_similarity = 0.3; // below this the title is another song's: score 0

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Normalised strings are valid UTF-8, so decoding need not validate.
std::u32string decode(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : 4;
        n = std::min(n, s.size() - i);
        char32_t cp = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
        for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        out.push_back(cp);
        i += n;
    }
    return out;
}

// Hyyrö's bit-vector form of the optimal-string-alignment distance (Myers'
// algorithm plus a transposition term), for an ASCII pattern of at most 64
// characters: one pass over the text with a handful of word operations per
// character, instead of the n x m table. Scoring a candidate compares
// several short strings, so this is where the search spends its time.
std::size_t osa_bits(std::string_view pattern, std::string_view text) {
    const std::size_t m = pattern.size();
    if (m == 0) return text.size();
    // Only the rows of characters that occur are ever read, so only those
    // are cleared: cheaper than zeroing all 128 for short words.
    std::array<std::uint64_t, 128> peq; // NOLINT(cppcoreguidelines-pro-type-member-init)
    for (char c : text) peq[static_cast<unsigned char>(c)] = 0;
    for (char c : pattern) peq[static_cast<unsigned char>(c)] = 0;
    for (std::size_t i = 0; i < m; ++i) peq[static_cast<unsigned char>(pattern[i])] |= std::uint64_t{1} << i;
    const std::uint64_t last = std::uint64_t{1} << (m - 1);
    std::uint64_t vp = ~std::uint64_t{0}, vn = 0, d0 = 0, pm_prev = 0;
    std::size_t d = m;
    for (char c : text) {
        const std::uint64_t pm = peq[static_cast<unsigned char>(c)];
        const std::uint64_t tr = (((~d0) & pm) << 1) & pm_prev;
        d0 = (((pm & vp) + vp) ^ vp) | pm | vn | tr;
        std::uint64_t hp = vn | ~(d0 | vp);
        std::uint64_t hn = vp & d0;
        if (hp & last) ++d;
        else if (hn & last) --d;
        hp = (hp << 1) | 1;
        hn <<= 1;
        vp = hn | ~(d0 | hp);
        vn = hp & d0;
        pm_prev = pm;
    }
    return d;
}

template <class C>
std::size_t osa(const C* a, std::size_t n, const C* b, std::size_t m) {
    if (n == 0) return m;
    if (m == 0) return n;
    // Three rows; short strings (all names and titles in practice) stay on the stack.
    constexpr std::size_t stack_cols = 96;
    std::array<std::uint32_t, 3 * stack_cols> stack{};
    std::vector<std::uint32_t> heap;
    std::uint32_t* base = stack.data();
    if (m + 1 > stack_cols) {
        heap.resize(3 * (m + 1));
        base = heap.data();
    }
    std::uint32_t* prev2 = base;
    std::uint32_t* prev = base + (m + 1);
    std::uint32_t* cur = base + 2 * (m + 1);
    for (std::size_t j = 0; j <= m; ++j) prev[j] = static_cast<std::uint32_t>(j);
    for (std::size_t i = 1; i <= n; ++i) {
        cur[0] = static_cast<std::uint32_t>(i);
        for (std::size_t j = 1; j <= m; ++j) {
            const std::uint32_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            std::uint32_t v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) v = std::min(v, prev2[j - 2] + 1);
            cur[j] = v;
        }
        std::uint32_t* t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

// Fraction (weighted by word length) of the words of `from` that appear, or
// nearly appear, among `to`.
template <class Words>
double coverage(std::string_view from, const Words& to_words) {
    double total = 0, matched = 0;
    for_each_word(from, [&](std::string_view w) {
        const double len = static_cast<double>(code_points(w));
        double best = 0;
        for (std::string_view t : to_words) {
            best = std::max(best, word_similarity(w, t));
            if (best == 1.0) break;
        }
        total += len;
        matched += len * best;
    });
    return total > 0 ? matched / total : 0.0;
}

constexpr std::size_t max_words = 32;
// A bounded list of words on the stack: scoring runs for every candidate of
// every search, and must not allocate.
class WordList {
public:
    void add(std::string_view w) {
        if (n_ < words_.size()) words_[n_++] = w;
    }
    void add_all(std::string_view normalised) {
        for_each_word(normalised, [&](std::string_view w) { add(w); });
    }
    const std::string_view* begin() const { return words_.data(); }
    const std::string_view* end() const { return words_.data() + n_; }

private:
    std::array<std::string_view, max_words> words_;
    std::size_t n_ = 0;
};

WordList words_of(std::string_view s) {
    WordList out;
    out.add_all(s);
    return out;
}

// Titles: the whole-string similarity, or (for reordered or partly matching
// words) how well the words cover each other both ways, a little less.
double title_similarity(std::string_view a, std::string_view b) {
    if (a == b) return 1.0;
    const double whole = similarity(a, b);
    if (whole >= reordered_words) return whole;
    const double words = (coverage(a, words_of(b)) + coverage(b, words_of(a))) / 2.0;
    return std::max(whole, words * reordered_words);
}

std::string_view main_name(const CandidateView& c) {
    std::string_view main;
    for_each_name(c, [&](std::string_view n) {
        if (main.empty()) main = n;
    });
    return main;
}

double artist_similarity(const CandidateView& q, const CandidateView& c) {
    double best = similarity(q.artist, c.artist);
    if (best == 1.0) return best;
    const std::string_view q_main = main_name(q), c_main = main_name(c);
    if (q_main != q.artist || c_main != c.artist) best = std::max(best, similarity(q_main, c_main) * main_artist_only);
    // Credited, but not first: "Jay-Z & Kanye West" asked as "Kanye West".
    bool first = true;
    for_each_name(c, [&](std::string_view n) {
        if (!std::exchange(first, false))
            best = std::max(best, std::max(similarity(q.artist, n), similarity(q_main, n)) * secondary_artist);
    });
    first = true;
    for_each_name(q, [&](std::string_view n) {
        if (!std::exchange(first, false))
            best = std::max(best, std::max(similarity(n, c.artist), similarity(n, c_main)) * secondary_artist);
    });
    return best;
}

bool same_names(const CandidateView& a, const CandidateView& b) {
    if (a.names == b.names) return true;
    std::size_t na = 0, nb = 0;
    bool all_found = true;
    for_each_name(a, [&](std::string_view n) {
        ++na;
        bool found = false;
        for_each_name(b, [&](std::string_view m) { found = found || m == n; });
        all_found = all_found && found;
    });
    for_each_name(b, [&](std::string_view) { ++nb; });
    return all_found && na == nb;
}

bool contains_word(std::string_view normalised, std::string_view w) {
    bool found = false;
    for_each_word(normalised, [&](std::string_view x) { found = found || x == w; });
    return found;
}

// A version suffix on one side only, or different ones on both, costs a
// little; a specific performance asked for but missing costs more.
double version_factor(std::string_view qv, VersionKind qk, std::string_view cv, VersionKind ck) {
    if (qv == cv) return 1.0;
    using K = VersionKind;
    if (qk != K::distinct) return ck == K::distinct ? 0.991 : 0.996;
    if (ck != K::distinct) return 0.95; // asked for "(Live)", found the studio recording
    bool shared = false;
    for_each_word(qv, [&](std::string_view w) { shared = shared || (contains_word(cv, w) && w != "version"); });
    return shared ? 0.992 : 0.93; // "Live" vs "Live at Wembley"; "Live" vs "Remix"
}

// "The", "feat" and friends carry no identity in free text.
bool is_filler(std::string_view w) { return w == "the" || w == "feat" || w == "ft" || w == "featuring"; }

void split_dash(std::string_view text, std::string_view& left, std::string_view& right) {
    for (std::string_view d : {" - ", " \xE2\x80\x93 ", " \xE2\x80\x94 ", " -- "}) {
        const std::size_t p = text.find(d);
        if (p == std::string_view::npos) continue;
        left = text.substr(0, p);
        right = text.substr(p + d.size());
        return;
    }
}

// Tags can be arbitrarily long; names and titles are not. Bounding the
// normalised fields bounds the cost of every comparison (both sides are
// clipped alike, so long equal strings still compare equal).
constexpr std::size_t max_field_bytes = 512;

void clip(std::string& s) {
    if (s.size() <= max_field_bytes) return;
    std::size_t end = max_field_bytes;
    while (end > 0 && is_continuation(s[end])) --end;
    s.resize(end);
    while (!s.empty() && s.back() == ' ') s.pop_back();
}

void add_words(std::vector<std::string>& out, std::string_view normalised) {
    for_each_word(normalised, [&](std::string_view w) {
        if (std::find(out.begin(), out.end(), w) == out.end()) out.emplace_back(w);
    });
}

PreparedCandidate prepare_fields(const std::vector<std::string_view>& artists, std::string_view title,
                                 std::string_view album, double duration_s) {
    PreparedCandidate p;
    std::vector<std::string> names;
    for (std::string_view a : artists) {
        if (p.artist.empty()) p.artist = normalise_artist_full(a);
        for (auto& n : split_artists(a))
            if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
    }
    NormalisedTitle t = normalise_title(title);
    for (auto& n : t.featuring)
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(std::move(n));
    if (!(names.empty() || (names.size() == 1 && names.front() == p.artist))) {
        for (const auto& n : names) {
            if (!p.names.empty()) p.names.push_back('\n');
            p.names += n;
        }
    }
    p.title = std::move(t.base);
    p.version = std::move(t.version);
    p.kind = t.kind;
    if (!album.empty()) p.album = normalise_title(album).base;
    p.duration_s = std::isfinite(duration_s) && duration_s > 0 ? duration_s : 0.0;
    for (std::string* f : {&p.artist, &p.names, &p.title, &p.version, &p.album}) clip(*f);
    return p;
}

} // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // A shared prefix and suffix never change the distance: drop them (at
    // code point boundaries), typically leaving a character or two.
    std::size_t prefix = 0;
    while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
    while (prefix > 0 && prefix < a.size() && is_continuation(a[prefix])) --prefix;
    while (prefix > 0 && prefix < b.size() && is_continuation(b[prefix])) --prefix;
    a.remove_prefix(prefix);
    b.remove_prefix(prefix);
    std::size_t suffix = 0;
    while (suffix < a.size() && suffix < b.size() && a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) ++suffix;
    while (suffix > 0 && is_continuation(a[a.size() - suffix])) --suffix;
    a.remove_suffix(suffix);
    b.remove_suffix(suffix);
    if (a.empty()) return code_points(b);
    if (b.empty()) return code_points(a);
    if (is_ascii(a) && is_ascii(b)) {
        if (a.size() > b.size()) std::swap(a, b);
        if (a.size() <= 64) return osa_bits(a, b);
        return osa(a.data(), a.size(), b.data(), b.size());
    }
    const std::u32string ua = decode(a), ub = decode(b);
    return osa(ua.data(), ua.size(), ub.data(), ub.size());
}

double similarity(std::string_view a, std::string_view b) {
    if (a == b) return 1.0;
    if (a.empty() || b.empty()) return 0.0;
    const std::size_t longer = std::max(code_points(a), code_points(b));
    const std::size_t d = std::max<std::size_t>(1, edit_distance(a, b));
    return 1.0 - static_cast<double>(std::min(d, longer)) / static_cast<double>(longer);
}

std::size_t code_points(std::string_view s) {
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

double word_similarity(std::string_view a, std::string_view b) {
    if (a == b) return 1.0;
    const std::size_t la = code_points(a), lb = code_points(b);
    const std::size_t shorter = std::min(la, lb), longer = std::max(la, lb);
    if (shorter < 4) return 0.0;
    const std::size_t max_d = longer >= 8 ? 2 : 1;
    if (longer - shorter > max_d) return 0.0;
    const std::size_t d = edit_distance(a, b);
    if (d > max_d) return 0.0;
    return 1.0 - static_cast<double>(d) / static_cast<double>(longer);
}

PreparedCandidate prepare(const Candidate& c) {
    std::vector<std::string_view> artists(c.artists.begin(), c.artists.end());
    return prepare_fields(artists, c.title, c.album, c.duration_s);
}

CandidateView view(const PreparedCandidate& p) {
    return CandidateView{p.artist, p.names, p.title, p.version, p.kind, p.album, p.duration_s};
}

PreparedQuery::PreparedQuery(const Query& q) {
    if (q.duration_s && *q.duration_s > 0 && std::isfinite(*q.duration_s)) duration_s_ = q.duration_s;
    if (!q.album.empty()) album_ = normalise_title(q.album).base;
    auto add_reading = [&](std::string_view artist, std::string_view title, double weight) {
        std::vector<std::string_view> artists;
        if (!artist.empty()) artists.push_back(artist);
        Reading r{prepare_fields(artists, title, {}, 0), weight};
        add_words(words_, r.fields.title);
        add_words(words_, r.fields.artist);
        for_each_name(view(r.fields), [&](std::string_view n) { add_words(words_, n); });
        readings_.push_back(std::move(r));
    };
    if (!q.track.empty()) {
        add_reading(q.artist, q.track, 1.0);
        return;
    }
    // Free text, or only an artist/album: match words against every field.
    std::string text = q.text;
    if (text.empty()) text = q.artist + " " + q.album;
    std::string_view left, right;
    split_dash(text, left, right);
    if (!left.empty() && !right.empty()) {
        add_reading(left, right, 1.0);
        add_reading(right, left, reversed_reading);
    }
    const std::string normalised = normalise(text);
    for_each_word(normalised, [&](std::string_view w) {
        if (std::find(text_words_.begin(), text_words_.end(), w) == text_words_.end()) text_words_.emplace_back(w);
    });
    for (const auto& w : text_words_)
        if (std::find(words_.begin(), words_.end(), w) == words_.end()) words_.push_back(w);
}

double PreparedQuery::duration_factor(double candidate_s) const {
    if (!duration_s_ || candidate_s <= 0) return 1.0;
    const double d = std::abs(*duration_s_ - candidate_s);
    if (d <= 2.0) return 1.0;                  // encoders and tags disagree by a second or two
    if (d <= 10.0) return 1.0 - 0.0005 * (d - 2.0); // mild: still solved, but ranks below a closer one
    return 0.996 - 0.026 * std::min(1.0, (d - 10.0) / 50.0); // another edit, likely: unsolved past ~22 s
}

double PreparedQuery::score_reading(const Reading& r, const CandidateView& c) const {
    const CandidateView q = view(r.fields);
    double s = title_similarity(q.title, c.title);
    if (s < min_title_similarity) return 0.0; // another song: skip the artist work
    if (!q.artist.empty()) {
        const double a = artist_similarity(q, c);
        s *= a;
        if (a < artist_floor) s = std::min(s, artist_floor_cap);
        if (!same_names(q, c)) s *= credits_differ;
    } else {
        s *= no_artist_given;
    }
    s *= version_factor(q.version, q.kind, c.version, c.kind);
    return s * r.weight;
}

double PreparedQuery::score_text(const CandidateView& c) const {
    if (text_words_.empty()) return 0.0;
    WordList cw = words_of(c.artist);
    for_each_name(c, [&](std::string_view n) { cw.add_all(n); });
    cw.add_all(c.title);
    cw.add_all(c.version);
    cw.add_all(c.album); // "radiohead ok computer"

    const bool all_filler =
        std::all_of(text_words_.begin(), text_words_.end(), [](const auto& w) { return is_filler(w); });
    double total = 0, matched = 0;
    for (const auto& w : text_words_) {
        if (!all_filler && is_filler(w)) continue;
        const double len = static_cast<double>(code_points(w));
        double best = 0;
        for (std::string_view t : cw) {
            best = std::max(best, word_similarity(w, t));
            if (best == 1.0) break;
        }
        total += len;
        matched += len * best;
    }
    const double precision = total > 0 ? matched / total : 0.0;
    if (precision == 0.0) return 0.0;
    WordList qw;
    for (const auto& w : text_words_) qw.add(w);
    const double title_cov = coverage(c.title, qw);
    const double artist_cov = std::max(coverage(c.artist, qw), coverage(main_name(c), qw));
    double s = precision * (0.6 + 0.4 * (0.7 * title_cov + 0.3 * artist_cov)) * free_text_cap;
    if (c.kind != VersionKind::none) {
        bool all_asked = true;
        for_each_word(c.version, [&](std::string_view w) {
            all_asked = all_asked && std::find(text_words_.begin(), text_words_.end(), w) != text_words_.end();
        });
        if (!all_asked) s *= version_factor({}, VersionKind::none, c.version, c.kind);
    }
    return s;
}

double PreparedQuery::score(const CandidateView& c) const {
    double s = 0.0;
    for (const auto& r : readings_) s = std::max(s, score_reading(r, c));
    if (!text_words_.empty() && s < 1.0) s = std::max(s, score_text(c));
    if (s <= 0.0) return 0.0;
    if (!album_.empty()) {
        // The album only orders otherwise equal matches (album vs compilation).
        if (c.album.empty()) s *= 0.998;
        else if (c.album != album_) s *= 0.99 + 0.01 * similarity(album_, c.album);
    }
    s *= duration_factor(c.duration_s);
    return std::clamp(s, 0.0, 1.0);
}

double score(const Query& q, const Candidate& c) {
    const PreparedCandidate p = prepare(c);
    return PreparedQuery(q).score(view(p));
}

} // namespace earshot::resolver

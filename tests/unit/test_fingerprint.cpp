#define BOOST_TEST_MODULE media_fingerprint
#include <boost/test/unit_test.hpp>

#include "daemon/media/fingerprint.hpp"
#include "daemon/media/fingerprint_match.hpp"
#include "tests/support/audio.hpp"
#include "tests/support/temp_dir.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <string>
#include <thread>
#include <vector>

using namespace earshot;
using media::compute_fingerprint;
using media::Fingerprint;
using media::FingerprintError;
namespace fs = std::filesystem;

namespace {

std::size_t shared_terms(const Fingerprint& a, const Fingerprint& b) {
    const auto ta = media::fingerprint_terms(a.raw), tb = media::fingerprint_terms(b.raw);
    std::vector<std::uint32_t> common;
    std::set_intersection(ta.begin(), ta.end(), tb.begin(), tb.end(), std::back_inserter(common));
    return common.size();
}

// One recording (seed 1) in five encodings, an unrelated one (seed 2) and a close relative of the
// first (same melody and rhythm, another bass line), made once for all test cases.
struct Library {
    test::TempDir dir{"earshot-fp"};
    std::map<std::string, fs::path> files;
    std::map<std::string, Fingerprint> fps;

    Library() {
        auto make = [&](const std::string& name, int seed, int variant) {
            const fs::path p = dir / name;
            test::make_audio(p, {.title = name, .seed = seed, .seconds = 20, .variant = variant});
            files[name] = p;
            fps[name] = compute_fingerprint(p);
        };
        for (const std::string ext : {".flac", ".mp3", ".opus", ".m4a", ".ogg"}) make("one" + ext, 1, 0);
        for (const std::string ext : {".flac", ".opus"}) make("two" + ext, 2, 0);
        for (const std::string ext : {".flac", ".mp3"}) make("one_variant" + ext, 1, 1);
    }
    static const Library& get() {
        static const Library library;
        return library;
    }
};

std::vector<std::string> names_with_prefix(const Library& lib, const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& [name, fp] : lib.fps)
        if (name.rfind(prefix + ".", 0) == 0) out.push_back(name);
    return out;
}

template <class F>
void expect_error(const fs::path& file, const std::string& prefix, F&& call) {
    try {
        call(file);
        BOOST_ERROR("no FingerprintError for " << file.filename());
    } catch (const FingerprintError& e) {
        const std::string what = e.what();
        BOOST_TEST_MESSAGE(file.filename() << ": " << what);
        BOOST_TEST(!what.empty());
        BOOST_TEST(what.rfind(prefix, 0) == 0, file.filename() << ": " << what);
    }
}

} // namespace

BOOST_AUTO_TEST_CASE(encodings_of_one_recording_are_the_same_recording) {
    const auto& lib = Library::get();
    const auto one = names_with_prefix(lib, "one");
    BOOST_REQUIRE_EQUAL(one.size(), 5u);
    for (std::size_t i = 0; i < one.size(); ++i) {
        const auto& a = lib.fps.at(one[i]);
        BOOST_TEST(a.raw.size() > 100u);
        BOOST_TEST(a.duration_s == 20.0, boost::test_tools::tolerance(0.1));
        for (std::size_t j = i + 1; j < one.size(); ++j) {
            const auto& b = lib.fps.at(one[j]);
            const double sim = media::fingerprint_similarity(a.raw, b.raw);
            BOOST_TEST_MESSAGE(one[i] << " vs " << one[j] << ": similarity " << sim << ", shared terms " << shared_terms(a, b));
            BOOST_TEST(media::same_recording(a, b), one[i] << " vs " << one[j] << " similarity " << sim);
            BOOST_TEST(shared_terms(a, b) >= media::kMinSharedTerms);
        }
    }
}

BOOST_AUTO_TEST_CASE(different_recordings_are_not) {
    const auto& lib = Library::get();
    for (const auto& a : names_with_prefix(lib, "one")) {
        for (const auto& other : {std::string("two"), std::string("one_variant")}) {
            for (const auto& b : names_with_prefix(lib, other)) {
                const auto& fa = lib.fps.at(a);
                const auto& fb = lib.fps.at(b);
                const double sim = media::fingerprint_similarity(fa.raw, fb.raw);
                BOOST_TEST_MESSAGE(a << " vs " << b << ": similarity " << sim << ", shared terms " << shared_terms(fa, fb));
                BOOST_TEST(!media::same_recording(fa, fb), a << " vs " << b << " similarity " << sim);
                BOOST_TEST(sim < media::kSameRecordingThreshold - 0.1);
                // Unrelated recordings must not even become index candidates.
                if (other == "two") BOOST_TEST(shared_terms(fa, fb) < media::kMinSharedTerms);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(similarity_basics) {
    const auto& lib = Library::get();
    const auto& a = lib.fps.at("one.flac").raw;
    const auto& b = lib.fps.at("one.opus").raw;
    BOOST_TEST(media::fingerprint_similarity(a, a) == 1.0);
    BOOST_TEST(media::fingerprint_similarity(a, {}) == 0.0);
    BOOST_TEST(media::fingerprint_similarity({}, {}) == 0.0);
    BOOST_TEST(media::fingerprint_similarity(a, b) == media::fingerprint_similarity(b, a));
    // A copy missing its first 40 items (5 s) is found by the alignment search...
    const std::vector<std::uint32_t> later(a.begin() + 40, a.end());
    BOOST_TEST(media::fingerprint_similarity(a, later) == 1.0);
    BOOST_TEST(media::fingerprint_similarity(later, a) == 1.0);
    // ...but the search is bounded (±kMaxAlignment items), it doesn't slide across everything.
    BOOST_REQUIRE(a.size() > static_cast<std::size_t>(media::kMaxAlignment) + 40);
    const std::vector<std::uint32_t> far(a.begin() + media::kMaxAlignment + 20, a.end());
    BOOST_TEST(media::fingerprint_similarity(a, far) < 0.5);

    // Terms are sorted, unique, and a small set.
    const auto terms = media::fingerprint_terms(a);
    BOOST_TEST(!terms.empty());
    BOOST_TEST(terms.size() <= 120u);
    BOOST_TEST(std::is_sorted(terms.begin(), terms.end()));
    BOOST_TEST((std::adjacent_find(terms.begin(), terms.end()) == terms.end()));
    BOOST_TEST(media::fingerprint_terms({}).empty());
}

BOOST_AUTO_TEST_CASE(durations_must_agree) {
    const auto& lib = Library::get();
    Fingerprint a = lib.fps.at("one.flac");
    Fingerprint b = a;
    b.duration_s = a.duration_s + 6.5;
    BOOST_TEST(media::same_recording(a, b));
    b.duration_s = a.duration_s + 7.5;
    BOOST_TEST(!media::same_recording(a, b));
}

BOOST_AUTO_TEST_CASE(decodes_only_up_to_max_seconds) {
    const auto& lib = Library::get();
    const auto& full = lib.fps.at("one.flac");
    const Fingerprint head = compute_fingerprint(lib.files.at("one.flac"), 10);
    BOOST_TEST(head.raw.size() < full.raw.size() * 2 / 3);
    BOOST_TEST(head.raw.size() > full.raw.size() / 3);
    // Same decoder, same start: the short fingerprint is the start of the long one.
    BOOST_TEST(std::equal(head.raw.begin(), head.raw.end(), full.raw.begin()));
    BOOST_TEST(head.duration_s == 20.0, boost::test_tools::tolerance(0.1)); // the container's, not the decoded part's
}

BOOST_AUTO_TEST_CASE(agrees_with_fpcalc) {
    const auto& lib = Library::get();
    for (const std::string name : {"one.flac", "one.mp3"}) {
        test::ProgramOutput r;
        try {
            r = test::run_program({"fpcalc", "-raw", lib.files.at(name).string()});
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("fpcalc not available, skipping: " << e.what());
            return;
        }
        // Debian's fpcalc 1.5.1 exits with 3 after reporting FFmpeg 5's end-of-file as an error; the output is complete.
        std::vector<std::uint32_t> theirs;
        std::istringstream lines(r.out);
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("FINGERPRINT=", 0) != 0) continue;
            std::istringstream items(line.substr(12));
            for (std::string item; std::getline(items, item, ',');) theirs.push_back(static_cast<std::uint32_t>(std::stoul(item)));
        }
        BOOST_REQUIRE_MESSAGE(!theirs.empty(), "fpcalc printed no fingerprint: " << r.err);
        const auto& ours = lib.fps.at(name).raw;
        const double sim = media::fingerprint_similarity(ours, theirs);
        BOOST_TEST_MESSAGE(name << ": fpcalc items " << theirs.size() << ", ours " << ours.size() << ", similarity " << sim);
        BOOST_TEST(sim >= 0.99);
    }
}

BOOST_AUTO_TEST_CASE(bad_files_give_fingerprint_errors) {
    test::TempDir dir("earshot-fp-bad");
    test::make_corrupt_variants(dir.path());
    auto fp = [](const fs::path& p) { return compute_fingerprint(p); };
    // The case the scanner records as "indexed, fingerprint failed": tags fine, audio garbage.
    expect_error(dir / "garbage_audio.flac", "decoder rejected audio", fp);
    expect_error(dir / "truncated.mp3", "corrupt or truncated", fp);
    expect_error(dir / "id3_only.mp3", "corrupt or truncated", fp);
    expect_error(dir / "zero.ogg", "empty file", fp);
    expect_error(dir / "notes.txt", "not a recognised audio file", fp);
    expect_error(dir / "missing.flac", "cannot read", fp);
    BOOST_REQUIRE(::mkfifo((dir / "pipe.flac").c_str(), 0600) == 0);
    expect_error(dir / "pipe.flac", "not a regular file", fp);
    for (const char* name : {"garbage.flac", "header_only.m4a"}) expect_error(dir / name, "", fp);

    // A FLAC cut off after 40% of its audio: STREAMINFO still promises all of it.
    const fs::path whole = dir / "whole.flac";
    test::make_audio(whole, {.seed = 11, .seconds = 12});
    std::ifstream in(whole, std::ios::binary);
    std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    std::ofstream(dir / "cut.flac", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() * 2 / 5));
    expect_error(dir / "cut.flac", "corrupt or truncated", fp);

    // Too little audio for a single fingerprint item.
    test::make_audio(dir / "blip.flac", {.seed = 12, .seconds = 1});
    expect_error(dir / "blip.flac", "audio too short", fp);
}

BOOST_AUTO_TEST_CASE(parallel_calls_match_serial_ones) {
    const auto& lib = Library::get();
    const std::vector<std::string> names = {"one.flac", "one.mp3", "two.opus", "one_variant.mp3"};
    std::vector<Fingerprint> results(names.size());
    {
        std::vector<std::jthread> threads;
        for (std::size_t t = 0; t < 2; ++t)
            threads.emplace_back([&, t] {
                for (std::size_t i = t; i < names.size(); i += 2) results[i] = compute_fingerprint(lib.files.at(names[i]));
            });
    }
    for (std::size_t i = 0; i < names.size(); ++i) BOOST_TEST(results[i].raw == lib.fps.at(names[i]).raw, names[i]);
}

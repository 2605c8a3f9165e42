#include "cli/terminal.hpp"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace earshot::cli {
namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

long long now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

} // namespace

std::size_t display_width(std::string_view utf8) {
    return static_cast<std::size_t>(std::count_if(utf8.begin(), utf8.end(), [](char c) { return !is_continuation(c); }));
}

std::string fit(std::string_view utf8, std::size_t width) {
    if (width == 0 || display_width(utf8) <= width) return std::string(utf8);
    // Keep width-1 code points, then the ellipsis.
    std::size_t points = 0, i = 0;
    for (; i < utf8.size(); ++i) {
        if (!is_continuation(utf8[i])) {
            if (points == width - 1) break;
            ++points;
        }
    }
    return std::string(utf8.substr(0, i)) + "…";
}

std::string format_duration(double seconds) {
    if (!(seconds > 0)) return "-";
    const auto total = static_cast<long long>(std::llround(seconds));
    const auto h = total / 3600, m = (total / 60) % 60, s = total % 60;
    return h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", total / 60, s);
}

std::string format_kind(std::string_view mimetype, unsigned bitrate_kbps) {
    std::string kind;
    const auto slash = mimetype.find('/');
    auto sub = std::string(slash == std::string_view::npos ? mimetype : mimetype.substr(slash + 1));
    sub = sub.substr(0, sub.find(';'));
    if (sub.starts_with("x-")) sub = sub.substr(2);
    if (sub == "mpeg" || sub == "mp3") kind = "MP3";
    else if (sub == "mp4" || sub == "m4a" || sub == "aac") kind = "M4A";
    else if (sub == "vorbis") kind = "OGG";
    else if (sub == "wave" || sub == "wav") kind = "WAV";
    else {
        kind = sub;
        std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    }
    // assign/append, not "= literal" or "literal + string": GCC 12 at -O3
    // reports a false -Wrestrict overlap in those (docs/toolchain-notes.md).
    if (kind.empty()) kind.assign(1, '?');
    if (bitrate_kbps > 0) kind += fmt::format(" {}k", bitrate_kbps);
    return kind;
}

namespace {

// A file name can hold escape sequences; never let one drive the terminal.
std::string printable(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
    return out;
}

} // namespace

std::string Table::render() const {
    std::vector<std::size_t> widths(columns_.size());
    std::vector<std::vector<std::string>> cells;
    cells.reserve(rows_.size());
    for (std::size_t c = 0; c < columns_.size(); ++c) widths[c] = display_width(columns_[c].title);
    for (const auto& row : rows_) {
        auto& out = cells.emplace_back();
        for (std::size_t c = 0; c < columns_.size(); ++c) {
            out.push_back(fit(printable(c < row.size() ? row[c] : ""), columns_[c].max_width));
            widths[c] = std::max(widths[c], display_width(out.back()));
        }
    }
    std::string text;
    const auto line = [&](const std::vector<std::string>& row) {
        std::string l;
        for (std::size_t c = 0; c < columns_.size(); ++c) {
            const auto pad = std::string(widths[c] - display_width(row[c]), ' ');
            if (c) l += "  ";
            l += columns_[c].right ? pad + row[c] : row[c] + pad;
        }
        while (!l.empty() && l.back() == ' ') l.pop_back();
        text += l + "\n";
    };
    std::vector<std::string> header;
    for (const auto& col : columns_) header.push_back(col.title);
    line(header);
    for (const auto& row : cells) line(row);
    return text;
}

bool stderr_is_tty() { return ::isatty(STDERR_FILENO) == 1; }

std::size_t terminal_columns() {
    winsize ws{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 80;
}

void ProgressLine::update(std::string_view label, double fraction, std::string_view detail) {
    if (!tty_) {
        // Plain lines: one per phase change, then every 2 s.
        const auto now = now_ms();
        if (label == last_label_ && last_plain_ms_ >= 0 && now - last_plain_ms_ < 2000) return;
        last_label_ = std::string(label);
        last_plain_ms_ = now;
        if (fraction >= 0) fmt::print(stderr, "scan: {} {:3.0f}% {}\n", label, fraction * 100, detail);
        else fmt::print(stderr, "scan: {} {}\n", label, detail);
        std::fflush(stderr);
        return;
    }
    const auto columns = terminal_columns();
    std::string text = fmt::format("{:<13}", label);
    if (fraction >= 0) {
        const auto clamped = std::clamp(fraction, 0.0, 1.0);
        const std::size_t bar = std::clamp<std::size_t>(columns / 3, 10, 40);
        const auto filled = static_cast<std::size_t>(std::floor(clamped * static_cast<double>(bar)));
        text += '[';
        text.append(filled, '#');
        text.append(bar - filled, '.');
        text += ']';
        text += fmt::format(" {:3.0f}%", clamped * 100);
    }
    text += " ";
    text += detail;
    // Never wrap: a wrapped line cannot be redrawn with '\r'.
    text = fit(text, columns - 1);
    fmt::print(stderr, "\r\033[K{}", text);
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressLine::finish() {
    if (tty_ && drawn_) {
        fmt::print(stderr, "\n");
        std::fflush(stderr);
    }
    drawn_ = false;
}

} // namespace earshot::cli

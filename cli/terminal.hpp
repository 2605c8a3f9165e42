// Text output for the CLI: aligned tables, m:ss durations, a progress line.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::cli {

// Columns a string takes on a terminal, counting UTF-8 code points (east
// Asian wide characters are counted as one; good enough for tables).
std::size_t display_width(std::string_view utf8);
// Cuts to at most `width` columns on a code-point boundary, ending in "…" when cut.
std::string fit(std::string_view utf8, std::size_t width);
// "3:07", "1:02:03"; "-" for 0 / unknown.
std::string format_duration(double seconds);
// "FLAC", "MP3 320k": the container from a mime type plus the bitrate.
std::string format_kind(std::string_view mimetype, unsigned bitrate_kbps);

class Table {
public:
    struct Column {
        std::string title;
        std::size_t max_width = 0; // 0: unlimited
        bool right = false;        // numbers align right
    };
    explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    std::string render() const; // header, then rows; trailing spaces trimmed

private:
    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

bool stderr_is_tty();
std::size_t terminal_columns(); // of stderr; 80 when unknown

// One line of progress on stderr: redrawn in place on a terminal, otherwise
// printed as plain lines at most every `plain_interval` (or when the text's
// label changes) so logs stay readable.
class ProgressLine {
public:
    explicit ProgressLine(bool tty) : tty_(tty) {}
    ~ProgressLine() { finish(); }
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

    // `label` is the phase; fraction < 0 means unknown (no bar).
    void update(std::string_view label, double fraction, std::string_view detail);
    void finish(); // ends the line on a terminal

private:
    bool tty_;
    bool drawn_ = false;
    std::string last_label_;
    long long last_plain_ms_ = -1;
};

} // namespace earshot::cli

// Walking library folders: follows symlinks once, detects loops by device
// and inode, and keeps raw file-name bytes (names need not be UTF-8).
#pragma once

#include "daemon/index/track.hpp"

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace earshot::index {

struct FoundFile {
    std::string path;
    FileStamp stamp;
};

struct WalkResult {
    std::vector<FoundFile> files;      // audio files by extension, each (device, inode) once
    std::vector<Failure> failures;     // unreadable folders, broken links, symlink loops
    std::size_t ignored = 0;           // non-audio files (cover.jpg, notes.txt, ...)
};

// Collects the audio files under `dir` (recursively) into `out`. `seen`
// holds (device, inode) of every directory and file already reached, so a
// second root or a symlink back into the tree adds nothing twice.
void walk(const std::string& dir, const std::function<bool(std::string_view)>& is_audio, WalkResult& out,
          std::set<std::pair<std::uint64_t, std::uint64_t>>& seen);

std::optional<FileStamp> stat_file(const std::string& path);

// Joins a directory and a name without normalising either (no UTF-8 round trip).
std::string join_path(std::string_view dir, std::string_view name);
// True if `path` is `dir` or lies below it.
bool path_within(std::string_view path, std::string_view dir);

} // namespace earshot::index

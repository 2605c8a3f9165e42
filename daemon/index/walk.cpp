#include "daemon/index/walk.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace earshot::index {
namespace {

FileStamp stamp_of(const struct stat& st) {
    return FileStamp{static_cast<std::uint64_t>(st.st_size),
                     static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                     static_cast<std::uint64_t>(st.st_ino), static_cast<std::uint64_t>(st.st_dev)};
}

struct DirClose {
    void operator()(DIR* d) const { closedir(d); }
};

std::string errno_reason(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

} // namespace

std::string join_path(std::string_view dir, std::string_view name) {
    std::string out(dir);
    if (out.empty() || out.back() != '/') out.push_back('/');
    out.append(name);
    return out;
}

bool path_within(std::string_view path, std::string_view dir) {
    while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
    if (!path.starts_with(dir)) return false;
    return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

std::optional<FileStamp> stat_file(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return stamp_of(st);
}

void walk(const std::string& dir, const std::function<bool(std::string_view)>& is_audio, WalkResult& out,
          std::set<std::pair<std::uint64_t, std::uint64_t>>& seen) {
    struct stat dst;
    if (::stat(dir.c_str(), &dst) != 0) {
        out.failures.push_back({dir, {}, errno_reason("cannot open folder")});
        return;
    }
    if (!seen.emplace(dst.st_dev, dst.st_ino).second) return;

    // Depth-first with an explicit stack: deep trees must not exhaust the call stack.
    std::vector<std::string> stack{dir};
    while (!stack.empty()) {
        const std::string current = std::move(stack.back());
        stack.pop_back();
        std::unique_ptr<DIR, DirClose> d(::opendir(current.c_str()));
        if (!d) {
            out.failures.push_back({current, {}, errno_reason("cannot read folder")});
            continue;
        }
        while (const dirent* e = ::readdir(d.get())) {
            const std::string_view name = e->d_name;
            if (name == "." || name == "..") continue;
            std::string path = join_path(current, name);
            struct stat lst, st;
            if (::lstat(path.c_str(), &lst) != 0) continue; // vanished while we looked
            const bool is_link = S_ISLNK(lst.st_mode);
            if (is_link) {
                if (::stat(path.c_str(), &st) != 0) {
                    if (errno == ELOOP)
                        out.failures.push_back({path, {}, "symbolic link loop"});
                    else if (is_audio(name))
                        out.failures.push_back({path, {}, errno_reason("broken symbolic link")});
                    continue;
                }
            } else {
                st = lst;
            }
            const auto key = std::pair<std::uint64_t, std::uint64_t>(st.st_dev, st.st_ino);
            if (S_ISDIR(st.st_mode)) {
                if (!seen.insert(key).second) {
                    // A link back to a folder already walked: a loop (or a
                    // second way into the same tree); follow it only once.
                    if (is_link) out.failures.push_back({path, {}, "symbolic link loop: folder already scanned"});
                    continue;
                }
                stack.push_back(std::move(path));
            } else if (S_ISREG(st.st_mode)) {
                if (!is_audio(name)) {
                    ++out.ignored;
                    continue;
                }
                if (!seen.insert(key).second) continue; // the same file reached twice is one track
                out.files.push_back({std::move(path), stamp_of(st)});
            }
        }
    }
}

} // namespace earshot::index

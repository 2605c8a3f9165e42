// File descriptors that close themselves, and whole-buffer positional I/O
// that survives EINTR and short transfers.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <span>

namespace earshot::core {

class Fd {
public:
    Fd(const std::filesystem::path& p, int flags) : fd_(::open(p.c_str(), flags | O_CLOEXEC, 0600)) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    explicit operator bool() const { return fd_ >= 0; }
    int get() const { return fd_; }

private:
    int fd_;
};

// Reads exactly out.size() bytes at `at`; false on error or end of file.
inline bool read_at(int fd, std::span<std::uint8_t> out, std::uint64_t at) {
    std::size_t done = 0;
    while (done < out.size()) {
        const auto n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(at + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// Writes all of `in` at `at`; false on error (errno says which).
inline bool write_at(int fd, std::span<const std::uint8_t> in, std::uint64_t at) {
    std::size_t done = 0;
    while (done < in.size()) {
        const auto n = ::pwrite(fd, in.data() + done, in.size() - done, static_cast<off_t>(at + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace earshot::core

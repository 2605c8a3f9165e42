#include "daemon/core/private_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace earshot::core {
namespace {
[[noreturn]] void fail(const std::string& what, const std::filesystem::path& file) {
    throw std::system_error(errno, std::generic_category(), what + " " + file.string());
}
} // namespace

void write_private_file(const std::filesystem::path& file, std::string_view content) {
    auto tmp = file;
    tmp += ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create", tmp);
    // O_CREAT's mode does not apply to a leftover temporary from a crash.
    if (::fchmod(fd, 0600) != 0) {
        ::close(fd);
        fail("cannot make private", tmp);
    }
    std::size_t done = 0;
    while (done < content.size()) {
        const auto n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            fail("cannot write", tmp);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        ::close(fd);
        fail("cannot flush", tmp);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), file.c_str()) != 0) fail("cannot replace", file);
}

} // namespace earshot::core

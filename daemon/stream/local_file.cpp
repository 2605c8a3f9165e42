#include "daemon/stream/local_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

namespace earshot::stream {

LocalFile::LocalFile(const std::string& path, std::string mimetype) : mimetype_(std::move(mimetype)) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "open");
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
        const int err = errno;
        ::close(fd_);
        throw std::system_error(err, std::generic_category(), "fstat");
    }
    // The size is fixed at open: a file growing meanwhile is served as it was.
    size_ = static_cast<std::uint64_t>(st.st_size);
}

LocalFile::~LocalFile() {
    if (fd_ >= 0) ::close(fd_);
}

awaitable<std::size_t> LocalFile::read(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (offset >= size_) co_return 0;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
    for (;;) {
        const auto n = ::pread(fd_, out.data(), want, static_cast<off_t>(offset));
        if (n >= 0) co_return static_cast<std::size_t>(n);
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "read");
    }
}

} // namespace earshot::stream

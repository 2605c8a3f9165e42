#include "daemon/stream/local_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <system_error>

namespace earshot::stream {

awaitable<std::unique_ptr<LocalFile>> LocalFile::open(core::Blocking& blocking, std::string path, std::string mimetype) {
    auto open_file = [path = std::move(path)] {
        auto opened = std::make_shared<const core::Fd>(path, O_RDONLY);
        if (!*opened) throw std::system_error(errno, std::generic_category(), "open");
        struct stat st;
        if (::fstat(opened->get(), &st) != 0) throw std::system_error(errno, std::generic_category(), "fstat");
        // The size is fixed at open: a file growing meanwhile is served as it was.
        return std::pair{std::move(opened), static_cast<std::uint64_t>(st.st_size)};
    };
    auto [fd, size] = co_await blocking.run(std::move(open_file));
    co_return std::make_unique<LocalFile>(blocking, std::move(fd), size, std::move(mimetype));
}

awaitable<std::size_t> LocalFile::read(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (offset >= size_) co_return 0;
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
    // `out` lives in the awaiting coroutine's frame, which the pending job
    // keeps alive until it has returned: pread may write straight into it.
    auto read_job = [fd = fd_, out = out.first(want), offset]() -> std::size_t {
        for (;;) {
            const auto n = ::pread(fd->get(), out.data(), out.size(), static_cast<off_t>(offset));
            if (n >= 0) return static_cast<std::size_t>(n);
            if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "read");
        }
    };
    const auto n = co_await blocking_.run(std::move(read_job));
    co_return n;
}

} // namespace earshot::stream

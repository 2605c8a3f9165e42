#include "daemon/core/dir_lock.hpp"

#include <sys/file.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

namespace earshot::core {

DirLock::DirLock(const std::filesystem::path& dir) : fd_(dir / "lock", O_RDWR | O_CREAT) {
    if (!fd_) throw std::system_error(errno, std::generic_category(), "cannot open " + (dir / "lock").string());
    if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        if (err != EWOULDBLOCK) throw std::system_error(err, std::generic_category(), "cannot lock " + dir.string());
        char pid[32] = {};
        const auto n = ::pread(fd_.get(), pid, sizeof pid - 1, 0);
        std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : std::string();
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        throw std::runtime_error("data folder " + dir.string() + " is in use by another earshotd" +
                                 (holder.empty() ? std::string() : " (pid " + holder + ")") +
                                 "; give this one its own --data");
    }
    const auto text = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_.get(), 0) == 0) write_at(fd_.get(), {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, 0);
}

} // namespace earshot::core

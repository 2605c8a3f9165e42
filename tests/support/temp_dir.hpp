#pragma once

#include <filesystem>
#include <string_view>

namespace earshot::test {

// A fresh directory under $TMPDIR, removed with everything in it on scope exit.
class TempDir {
public:
    explicit TempDir(std::string_view prefix = "earshot-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::filesystem::path& p) const { return path_ / p; }

private:
    std::filesystem::path path_;
};

} // namespace earshot::test

#include "tests/support/hanging_mount.hpp"

#include <fstream>

namespace earshot::test {

namespace fs = std::filesystem;

HangingMount::HangingMount(const fs::path& root, const std::string& name, const fs::path& script)
    : source(root / "source"), mount(root / "mnt"), control(root / "control") {
    fs::create_directories(mount);
    fs::create_directories(control);
    fs_process = std::make_unique<Process>(
        "/usr/bin/python3", std::vector<std::string>{script.string(), source.string(), mount.string(), name, control.string()},
        root / "fs.log");
}

HangingMount::~HangingMount() {
    release();
    run("/usr/bin/fusermount3", {"-u", mount.string()});
}

bool HangingMount::available() { return fs::exists("/dev/fuse") && fs::exists("/usr/bin/fusermount3"); }
bool HangingMount::mounted() const {
    std::error_code ec;
    return fs::directory_iterator(mount, ec) != fs::directory_iterator();
}
void HangingMount::arm() const { std::ofstream(control / "armed"); }
bool HangingMount::hanging() const { return fs::exists(control / "hanging"); }
void HangingMount::release() const { std::ofstream(control / "release"); }

} // namespace earshot::test

#!/usr/bin/python3
"""A read-only pass-through filesystem whose reads of one file hang.

    hanging_fs.py SOURCE MOUNTPOINT NAME CONTROL_DIR

Mirrors SOURCE at MOUNTPOINT (direct I/O, so every read reaches us, never the
page cache). While CONTROL_DIR/armed exists, a read of a file called NAME
writes CONTROL_DIR/hanging and then waits until CONTROL_DIR/release exists
(at most 120 s): a spun-down NAS, a stalled network mount. Every other read
is served at once, on its own FUSE thread. Runs in the foreground until
unmounted (fusermount3 -u MOUNTPOINT).
"""
import errno
import os
import sys
import time

import fusepy


class Hanging(fusepy.Operations):
    def __init__(self, source, name, control):
        self.source, self.name, self.control = source, name, control

    def _path(self, path):
        return os.path.join(self.source, path.lstrip("/"))

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        return {k: getattr(st, k) for k in ("st_mode", "st_size", "st_mtime", "st_ctime", "st_atime",
                                            "st_nlink", "st_uid", "st_gid", "st_ino")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def open(self, path, flags):
        if flags & (os.O_WRONLY | os.O_RDWR):
            raise fusepy.FuseOSError(errno.EROFS)
        return os.open(self._path(path), os.O_RDONLY)

    def read(self, path, size, offset, fh):
        if os.path.basename(path) == self.name and os.path.exists(os.path.join(self.control, "armed")):
            open(os.path.join(self.control, "hanging"), "w").close()
            deadline = time.monotonic() + 120
            while not os.path.exists(os.path.join(self.control, "release")) and time.monotonic() < deadline:
                time.sleep(0.05)
        return os.pread(fh, size, offset)

    def release(self, path, fh):
        os.close(fh)
        return 0


if __name__ == "__main__":
    source, mountpoint, name, control = sys.argv[1:5]
    fusepy.FUSE(Hanging(source, name, control), mountpoint, foreground=True, nothreads=False, ro=True,
                direct_io=True)

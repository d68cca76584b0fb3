"""The decision log: one JSON line per decision, appended and flushed per line, rotated by size (NAME -> NAME.1 ... NAME.KEEP)."""
from __future__ import annotations

import errno
import logging
import errno
import os
import stat
import threading
from pathlib import Path

DEFAULT_MAX_BYTES = 100 << 20
DEFAULT_KEEP = 5

log = logging.getLogger("regcode.serve")


class DecisionLog:
    """Append-only: each line goes to the kernel in one write(2) on an O_APPEND descriptor, so a crash of the
    server loses at most the line being written, and a reader never sees two lines interleaved. With `fsync`,
    each line also reaches the disk before the reply is sent (survives a power cut; costs a disk flush per decision).
    Before each line, the path is checked to still name the open file (one stat(2)): a log moved away (logrotate
    without copytruncate) or deleted is reopened at its path, so no line goes to a file that is no longer the log."""

    def __init__(self, path, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP, fsync: bool = False):
        self.path = Path(path)
        self.max_bytes = max(1, int(max_bytes))
        self.keep = max(0, int(keep))
        self.fsync = fsync
        self.lines = 0
        self.rotations = 0
        self.reopens = 0
        self._lock = threading.Lock()
        self._fd = -1
        self._id = None              # (st_dev, st_ino) of the open file
        self._size = 0
        self._regular = True
        self._partial = False        # the last write stopped mid-line
        self._open()

    def _open(self) -> None:
        # O_NONBLOCK: a FIFO with no reader would hold the open (the start, or a reopen) forever; it fails with
        # ENXIO instead, and one with a reader is refused below. Nothing else opened here blocks either way.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), 0o640)
        st = os.fstat(fd)
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "a named pipe is no decision log (a line a reader misses is lost); name a regular file",
                          str(self.path))
        os.set_blocking(fd, True)
        self._fd, self._size, self._id = fd, st.st_size, (st.st_dev, st.st_ino)
        self._regular = stat.S_ISREG(st.st_mode)     # a device (/dev/null) is never rotated: it would be renamed
        if self._size and self._regular:
            self._end_last_line()

    def _end_last_line(self) -> None:
        # a crash mid-write left a partial last line: end it, so the next line is whole (replay reports the partial one)
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                self._size += os.write(self._fd, b"\n")

    def _moved(self) -> bool:
        """Whether the path no longer names the open file (moved away, deleted, replaced)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != self._id

    def _reopen_if_moved(self) -> bool:
        # The new file is opened before the old descriptor is closed: if it cannot be (its folder gone, not
        # writable), the OSError is the caller's and the decision is not answered; the next line tries again.
        if self._fd >= 0 and not self._moved():
            return False
        old, self._partial = self._fd, False       # a partial line was the old file's: the new one starts clean
        self._open()
        if old >= 0:
            os.close(old)
        self.reopens += 1
        log.info("decision log %s reopened: the path no longer named the open file (moved or deleted)", self.path)
        return True

    def reopen(self) -> bool:
        """Reopen the log at its path if the path no longer names the open file (SIGHUP, after a logrotate).
        True when it was reopened; OSError when it had to be and could not be."""
        with self._lock:
            return self._reopen_if_moved()

    def check(self) -> None:
        """Whether a line could be written now (/health, while the last write failed): OSError if not. The path is
        opened again if it no longer names the open file; a partial line left by the failed write is ended (a real
        write); otherwise a regular file's file system must have room for a line (statvfs), and a device is written
        an empty line, which every reader of the log skips; a rotation due is done. Nothing else is written."""
        with self._lock:
            self._reopen_if_moved()
            if self._partial or not self._regular:
                self._size += os.write(self._fd, b"\n")
                self._partial = False
                return
            if self._size >= self.max_bytes:      # the next line rotates the log first: that is what is tried
                self._rotate()
            st = os.fstatvfs(self._fd)
            if st.f_blocks and st.f_bavail * st.f_frsize < 64 * 1024:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def write(self, line) -> None:
        """Append one line: UTF-8 bytes as the worker wrote them (text is encoded). OSError when the line could
        not be written whole (a full disk, EIO, a rotation refused): the caller must not answer the decision."""
        data = (line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n"
        with self._lock:
            self._reopen_if_moved()
            if self._partial:      # a write that failed mid-line left part of a line: end it, so this one is whole
                data = b"\n" + data
            if self._size and self._size + len(data) > self.max_bytes and self._regular:
                self._rotate()
            view = memoryview(data)
            try:
                while view:                  # a regular file takes it whole; loop for the pathological case
                    written = os.write(self._fd, view)
                    view = view[written:]
                    self._size += written
            except OSError:
                if len(view) < len(data):    # some of it went: the log now ends mid-line
                    self._partial = True
                raise
            self._partial = False
            self.lines += 1
            if self.fsync:
                os.fsync(self._fd)

    def _rotate(self) -> None:
        # The names move first, the old descriptor still open: if a rename or the new file's open fails, the
        # log stays as it was, appended to, and the failure is the caller's (the decision is not answered).
        if self.keep == 0:
            os.unlink(self.path)
        else:
            oldest = self.path.with_name(f"{self.path.name}.{self.keep}")
            if oldest.exists():
                oldest.unlink()
            for n in range(self.keep - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    older.rename(self.path.with_name(f"{self.path.name}.{n + 1}"))
            self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        old = self._fd
        self._open()
        os.close(old)
        self.rotations += 1

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def files(self) -> list:
        """The log's files, oldest first: NAME.KEEP ... NAME.1, NAME (what `regcode replay` reads in order)."""
        out = [self.path.with_name(f"{self.path.name}.{n}") for n in range(self.keep, 0, -1)]
        return [p for p in out if p.exists()] + [self.path]

"""The decision log: one JSON line per decision, appended and flushed per line, rotated by size (NAME -> NAME.1 ... NAME.KEEP)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

DEFAULT_MAX_BYTES = 100 << 20
DEFAULT_KEEP = 5


class DecisionLog:
    """Append-only: each line goes to the kernel in one write(2) on an O_APPEND descriptor, so a crash of the
    server loses at most the line being written, and a reader never sees two lines interleaved. With `fsync`,
    each line also reaches the disk before the reply is sent (survives a power cut; costs a disk flush per decision)."""

    def __init__(self, path, max_bytes: int = DEFAULT_MAX_BYTES, keep: int = DEFAULT_KEEP, fsync: bool = False):
        self.path = Path(path)
        self.max_bytes = max(1, int(max_bytes))
        self.keep = max(0, int(keep))
        self.fsync = fsync
        self.lines = 0
        self.rotations = 0
        self._lock = threading.Lock()
        self._fd = -1
        self._size = 0
        self._open()

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
        self._size = os.fstat(self._fd).st_size
        if self._size:
            self._end_last_line()

    def _end_last_line(self) -> None:
        # a crash mid-write left a partial last line: end it, so the next line is whole (replay reports the partial one)
        with open(self.path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                self._size += os.write(self._fd, b"\n")

    def write(self, line) -> None:
        """Append one line: UTF-8 bytes as the worker wrote them (text is encoded)."""
        data = (line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n"
        with self._lock:
            if self._size and self._size + len(data) > self.max_bytes:
                self._rotate()
            view = memoryview(data)
            while view:                      # a regular file takes it whole; loop for the pathological case
                written = os.write(self._fd, view)
                view = view[written:]
            self._size += len(data)
            self.lines += 1
            if self.fsync:
                os.fsync(self._fd)

    def _rotate(self) -> None:
        os.close(self._fd)
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
        self.rotations += 1
        self._open()

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def files(self) -> list:
        """The log's files, oldest first: NAME.KEEP ... NAME.1, NAME (what `regcode replay` reads in order)."""
        out = [self.path.with_name(f"{self.path.name}.{n}") for n in range(self.keep, 0, -1)]
        return [p for p in out if p.exists()] + [self.path]

"""Files written whole or not at all: the temp-file naming every writer shares (with its owner's pid), and the
removal of what a killed run left behind."""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path


def umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_prefix(final: Path) -> str:
    """`.NAME.PID.`: a temp file beside `final` names its owner, so a later run knows whose it is."""
    return f".{final.name}.{os.getpid()}."


def _temp_name(final: Path) -> re.Pattern:
    """`.NAME.PID.RANDOM.tmp`: the naming of the temp files (mkstemp with temp_prefix and suffix .tmp)."""
    return re.compile(rf"^\.{re.escape(final.name)}\.(\d+)\.[A-Za-z0-9_]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # someone else's process
        return True
    return True


def spill_prefix() -> str:
    """`regcode-batch-PID-`: the folder a batch's workers write their chunks to names its owner, too."""
    return f"regcode-batch-{os.getpid()}-"


_SPILL = re.compile(r"^regcode-batch-(\d+)-[A-Za-z0-9_]+$")
_CHUNK = re.compile(r"^chunk-[A-Za-z0-9_]+\.jsonl$")


def _orphans(folder, pattern: re.Pattern) -> list:
    """The names in `folder` of `pattern`'s naming (its first group a pid) whose owning process is gone, sorted."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in sorted(names):
        match = pattern.match(name)
        if match is not None and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            found.append(name)
    return found


def remove_stale_spill_folders(parent) -> list:
    """Remove the chunk folders (spill_prefix) a killed batch left in `parent` (the temp folder): only
    folders of this naming, this user's, whose owning process is gone. Returns their names."""
    removed = []
    for name in _orphans(parent, _SPILL):
        where = os.path.join(parent, name)
        try:
            st = os.lstat(where)
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                continue
            entries = os.listdir(where)
            # ours holds chunk files and nothing else: a folder holding anything else is left whole
            if not all(_CHUNK.match(e) and stat.S_ISREG(os.lstat(os.path.join(where, e)).st_mode) for e in entries):
                continue
            for entry in entries:
                os.unlink(os.path.join(where, entry))
            os.rmdir(where)
            removed.append(name)
        except OSError:
            pass
    return removed


def remove_stale_temp_files(path) -> list:
    """Remove the temp files a killed run left beside `path` (SIGKILL gives no chance to clean up):
    only files of this naming whose owning process is gone. Returns their names."""
    final = Path(path)
    folder = final.parent or Path(".")
    removed = []
    for name in _orphans(folder, _temp_name(final)):
        try:
            os.unlink(folder / name)
            removed.append(name)
        except OSError:
            pass
    return removed

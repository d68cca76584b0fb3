"""The compiled-policy cache: a second `regcode eval` skips load, validate, compile and code generation.

An entry is keyed by everything the compiled form depends on, read as raw bytes (nothing is parsed
to compute it, beyond each manifest's `extends`): every policy file of the version folder and of each
version it extends, the SHA-256 of every other file there (the law's source text, which validation
checks against text.yaml's `source.sha256`), where each folder is (as named and as resolved, with its
root) and where each link leads, the engine's own source and schemas (so any change of regcode), and
the Python version. Change one byte of any of them and the key changes, so a stale policy is never
served; old entries are simply not used again (and pruned when the cache grows past MAX_ENTRIES).
An entry is read back only when it is a regular file of this user's holding the version asked for.

Entries are pickles of regcode's own compiled objects, written by this user only: the folder is
created 0700 and is not used when another user owns it or can write to it, and every entry is
written atomically (a crash leaves no half file). REGCODE_CACHE_DIR sets the folder;
REGCODE_NO_CACHE=1 turns the cache off.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Optional

MAX_ENTRIES = 64
SUFFIXES = (".yaml", ".yml", ".json")
FORMAT = 1          # bump when what an entry holds changes shape


def cache_dir() -> Optional[Path]:
    """The cache folder, created if need be, or None when the cache is off or the folder is not safe."""
    if os.environ.get("REGCODE_NO_CACHE"):
        return None
    base = os.environ.get("REGCODE_CACHE_DIR")
    if base:
        folder = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        folder = (Path(xdg) if xdg else Path.home() / ".cache") / "regcode"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = folder.stat()
    except OSError:
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None      # someone else could plant an entry: do without the cache
    return folder


@lru_cache(maxsize=None)
def _engine_digest() -> str:
    """The engine's own code and schemas: a changed engine never reads an entry an older one wrote."""
    from . import __file__ as engine_init
    digest = hashlib.sha256(f"{FORMAT}:{sys.version}".encode())
    engine = Path(engine_init).resolve().parent
    schemas = engine.parent / "schemas"
    for folder, pattern in ((engine, "*.py"), (schemas, "*")):
        for path in sorted(folder.glob(pattern)) if folder.is_dir() else []:
            if path.is_file():
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _chain(catalog, directory: Path) -> Optional[list]:
    """[(version folder, the root it is loaded with)]: the folder and those it extends, from the manifests'
    `extends` alone, found as the compile finds them (Catalog._root_of, Catalog._base_loader); None when unsure."""
    from .compile import MAX_EXTENDS
    from .errors import IssueCollector
    from .load import VERSION_NAME, inside, read_document
    current = Path(directory)
    chain = [(current, catalog._root_of(current))]
    for _ in range(MAX_EXTENDS + 1):
        doc = read_document(current / "policy.yaml", str(current / "policy.yaml"), IssueCollector())
        data = doc.data if doc is not None and isinstance(doc.data, dict) else None
        if data is None:
            return None
        name = data.get("extends")
        if not name:
            return chain
        if not isinstance(name, str):
            return None
        policy_id, version = name.split("@", 1) if "@" in name else (current.parent.name, name)
        if not VERSION_NAME.match(version) or not VERSION_NAME.match(policy_id):
            return None
        for root in [current.parent.parent] + list(catalog.roots):
            candidate = root / policy_id / version
            if (candidate / "policy.yaml").is_file() and inside(root, candidate):
                current = candidate
                chain.append((current, root))
                break
        else:
            return None
    return None


def _regular_bytes(path: Path, limit: int) -> Optional[bytes]:
    """The bytes of a regular file (a link followed), or None when what was opened is something else or holds more
    than `limit`. Opened non-blocking and looked at on the descriptor: a file swapped for a FIFO is never waited on."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        data = fh.read(limit + 1)
    return None if len(data) > limit else data


def _other_file(path: Path, info) -> bytes:
    """What the key holds of a file that is no policy file (the law's source text that validate hashes, a note): the
    SHA-256 of its bytes, or for what is not read as a file (a folder, a FIFO, a device, a file larger than a source
    text may be) its kind and size, or why it cannot be read. The name and size alone (with its time, which `touch -r`
    puts back) let a changed source text be served as checked."""
    from ._text import MAX_SOURCE_BYTES
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SOURCE_BYTES:
        size = "" if stat.S_ISDIR(info.st_mode) else f" size {info.st_size}"
        return f"kind {stat.S_IFMT(info.st_mode):o}{size}".encode()
    try:
        data = _regular_bytes(path, MAX_SOURCE_BYTES)
    except OSError as exc:
        return f"unreadable {exc.errno}".encode()
    return b"not a file" if data is None else hashlib.sha256(data).digest()


def key_for(catalog, directory: Path) -> Optional[str]:
    """The entry's name: every byte the compiled version depends on, and where each file is; None when it cannot be told.

    A version folder is named as given and as resolved, with the root it is loaded with, and a link anywhere in it
    by where it leads: the compile refuses what leaves the root (load.outside_root), so the same bytes reached
    through a link out must not find the entry a compile of the real folder stored."""
    from .load import MAX_FILE_BYTES, MAX_FILES
    chain = _chain(catalog, directory)
    if chain is None:
        return None
    digest = hashlib.sha256(_engine_digest().encode())
    # the places a compiled version holds (a declaration's file, named in a run's error) are written as load shows
    # a file: relative to the working folder when inside it; compiled elsewhere, they would name the file otherwise
    digest.update(b"\5" + os.fsencode(os.getcwd()))
    count = 0
    others = 0
    for folder, root in chain:
        digest.update(b"\1" + b"\0".join(os.fsencode(p) for p in (os.path.abspath(folder), str(folder.resolve()), os.path.abspath(root))))
        for path in sorted(folder.rglob("*")):
            name = os.fsencode(str(path.relative_to(folder)))
            policy_file = path.suffix in SUFFIXES
            try:
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    digest.update(b"\4" + name + b"\0" + os.fsencode(os.path.realpath(path)) + b"\0")
                    info = os.stat(path)
            except OSError as exc:
                if policy_file:
                    return None     # not cached: loading says what is wrong
                digest.update(b"\3" + name + f"\0missing {exc.errno}\0".encode())
                continue
            if policy_file:
                count += 1
                if count > MAX_FILES or info.st_size > MAX_FILE_BYTES or not stat.S_ISREG(info.st_mode):
                    return None     # not cached: loading says what is wrong (a FIFO would block a read here)
                try:
                    data = _regular_bytes(path, MAX_FILE_BYTES)
                except OSError:
                    return None
                if data is None:
                    return None
                digest.update(b"\2" + name + b"\0" + data + b"\0")
                continue
            others += 1
            if others > 10 * MAX_FILES:
                return None
            digest.update(b"\3" + name + b"\0" + _other_file(path, info) + b"\0")
    return digest.hexdigest()[:40]


def _mine(info) -> bool:
    """Written by this user, and by no one else since: the only entries trusted."""
    return not hasattr(os, "getuid") or (info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _expected(directory: Path) -> tuple:
    """(id, version, folder) of the version a folder holds: validate requires the manifest to say the same."""
    named = Path(directory).resolve()
    return named.parent.name, named.name, str(named)


def load(folder: Path, key: str, directory: Optional[Path] = None):
    """The entry stored under `key`, or None. Only a regular file of this user's is opened: the name is
    looked at without following a link (a FIFO put there would block the open and every command with it),
    opened non-blocking and without following a link, and what was opened is looked at again (it may have
    been swapped in between). An entry holds its key and, when `directory` is given, must be that folder's
    version: anything else is a miss, compiled again and overwritten."""
    path = folder / f"{key}.pickle"
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or not _mine(info):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or not _mine(info):
                return None
            entry = pickle.load(fh)
    except Exception:       # a damaged entry is not an error: compile again and overwrite it
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    if directory is not None:
        from .compile import CompiledPolicy
        policy = entry.get("policy")
        if not isinstance(policy, CompiledPolicy) or (policy.id, policy.version, entry.get("directory")) != _expected(directory):
            return None
    return entry


def store(folder: Path, key: str, entry: dict) -> None:
    entry = dict(entry, key=key)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as out:
            pickle.dump(entry, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{key}.pickle")
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass
        return
    _prune(folder)


def _prune(folder: Path) -> None:
    try:
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in entries[:-MAX_ENTRIES]:
        try:
            old.unlink()
        except OSError:
            pass


def compiled(catalog, directory: Path, compile_now: Callable):
    """The compiled version from the cache, or `compile_now()` stored for next time (with its Python
    program's generated code, so that is skipped too)."""
    folder = cache_dir()
    key = key_for(catalog, directory) if folder is not None else None
    if key is not None:
        entry = load(folder, key, directory)
        if entry is not None:
            policy = entry["policy"]
            policy.directory = str(directory)
            if entry.get("python") is not None:
                from ._python import Program
                policy.backends["python"] = Program.restore(policy, entry["python"])
            return policy
    policy = compile_now()
    if key is not None:
        from .evaluate import program_for
        program = program_for(policy, "python")
        backends, policy.backends = policy.backends, {}
        try:
            store(folder, key, {"policy": policy, "python": program.frozen(), "directory": _expected(directory)[2]})
        finally:
            policy.backends = backends
    return policy

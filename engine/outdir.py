"""An output folder regcode owns: a manifest of what it wrote, so a rebuild removes what it no longer writes, and nothing else."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Optional

from ._files import remove_stale_temp_files, temp_prefix, umask as _umask
from .errors import Issue, Location, PolicyError

MAX_LISTED = 5
MAX_MANIFEST_BYTES = 16 << 20     # a manifest lists a site's files: a few KiB; past this it is not ours


class OutputError(PolicyError):
    """An output folder cannot be used: not a folder, not ours, not writable."""


class Written(list):
    """The files written (sorted paths), with what the previous build wrote and this one did not:
    `removed`, and `kept` (changed since it was written, so left alone)."""

    def __init__(self):
        super().__init__()
        self.removed: list = []
        self.kept: list = []


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe(rel: str) -> bool:
    """A manifest entry names a file inside the folder: relative, no `..`, no backslash tricks."""
    parts = PurePosixPath(rel).parts
    return (bool(parts) and not rel.startswith("/") and "\\" not in rel and ".." not in parts and ":" not in parts[0]
            and not any(ord(ch) < 32 or ch == "\x7f" for ch in rel))


def read_manifest(out: Path, name: str, kind: str) -> Optional[dict]:
    """{relative path: sha256} of the previous build, or None when `out` holds no manifest of `kind`
    (none, unreadable, or not regcode's: then nothing is removed)."""
    path = out / name
    if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_MANIFEST_BYTES:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) and data.get("kind") == kind else None
    if not isinstance(files, dict):
        return None
    return {rel: digest for rel, digest in files.items() if isinstance(rel, str) and isinstance(digest, str) and _safe(rel)}


def _listing(paths, more: int = 0) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    rest = len(paths) - MAX_LISTED + more
    return shown + (f" and {rest} more" if rest > 0 else "")


def claim(out: Path, name: str, kind: str, files: dict, force: bool, what: str) -> dict:
    """The previous build's manifest, after checking that writing `files` into `out` loses nothing of
    the user's: a folder that is not empty must hold regcode's manifest, and no file this build
    writes may be one the previous build did not write. `force` writes anyway (and removes nothing
    the manifest does not list)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError([Issue("output.not_a_folder", f"`{out}` exists and is not a folder", Location(str(out)),
                                 f"name a folder for the {what}")])
    previous = read_manifest(out, name, kind) if out.is_dir() else None
    if force:
        _refuse_links(out, files, what)
        return previous or {}
    if previous is None and out.is_dir():
        try:
            present = sorted(p.name for p in out.iterdir())
        except OSError as exc:
            raise OutputError([Issue("output.io", f"cannot list {out}: {exc.strerror or exc}", Location(str(out)),
                                     "give a folder you can read and write")]) from None
        if present:
            raise OutputError([Issue("output.not_ours", f"`{out}` is not empty ({_listing(present)}) and holds no {name}: it "
                                     f"was not written by this regcode, and the {what} would mix with what is there",
                                     Location(str(out)), "name an empty or new folder, or pass --force to write into it "
                                     "anyway (once, for a folder a regcode without manifests wrote); nothing already "
                                     "there is removed")])
    _refuse_links(out, files, what)
    foreign = sorted(rel for rel in files if rel not in (previous or {}) and (out / rel).exists())
    if foreign:
        raise OutputError([Issue("output.not_ours", f"the {what} would overwrite {_listing(foreign)} in `{out}`, which the "
                                 f"previous build did not write", Location(str(out)),
                                 "move them away, or pass --force to overwrite them")])
    return previous or {}


def _refuse_links(out: Path, files: dict, what: str) -> None:
    """Every file is written inside `out`: a folder on the way that is a link (or leads out) would have
    the build write where it points, so it is refused, --force or not. The file itself may be a link:
    it is replaced, never written through."""
    root = os.path.realpath(out)
    through = set()
    for rel in files:
        folder = out
        for part in PurePosixPath(rel).parts[:-1]:
            folder = folder / part
            if folder.is_symlink() or (folder.exists() and not os.path.realpath(folder).startswith(root + os.sep)):
                through.add(str(folder.relative_to(out)))
                break
    if through:
        raise OutputError([Issue("output.link", f"`{_listing(sorted(through))}` in `{out}` is a link: the {what} would be "
                                 "written where it points, outside the folder", Location(str(out)),
                                 "replace the link by a folder, or name another folder")])


def write_owned(out: Path, name: str, kind: str, files: dict, previous: dict, what: str) -> Written:
    """Write `files` ({relative path: text}) under `out`; remove what `previous` lists and this build does
    not write (unless changed since: kept, and said); then the new manifest, last, atomically."""
    out = Path(out)
    manifest = {}
    done = Written()

    def failed(path, exc) -> OutputError:
        return OutputError([Issue("output.io", f"cannot write {path}: {exc.strerror or exc}", Location(str(out)),
                                  f"give the {what} a folder you can write to")])
    try:
        for rel, content in sorted(files.items()):
            data = (content if content.endswith("\n") else content + "\n").encode("utf-8")
            path = out / rel
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _replace(path, data)
            except OSError as exc:
                raise failed(path, exc) from None
            manifest[rel] = _digest(data)
            done.append(path)
    except BaseException:      # stopped half-way (a failed write, Ctrl-C): what is written stays ours for the next build
        _write_manifest(out, name, kind, {**previous, **manifest}, what)
        raise
    root = os.path.realpath(out)
    for rel in sorted(set(previous) - set(files)):
        path = out / rel
        if not os.path.realpath(path).startswith(root + os.sep) or not path.is_file() or path.is_symlink():
            continue                       # gone already, or not a plain file inside the folder: not touched
        try:
            same = _digest(path.read_bytes()) == previous[rel]
            if same:
                path.unlink()
                done.removed.append(path)
                _prune(out, path.parent)
            else:
                done.kept.append(path)
        except OSError:
            done.kept.append(path)
    _write_manifest(out, name, kind, manifest, what)
    return done


def _write_manifest(out: Path, name: str, kind: str, manifest: dict, what: str) -> None:
    body = json.dumps({"kind": kind, "note": f"written by regcode: the files of this {what}; the next build removes "
                       "those it no longer writes", "files": manifest}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    try:
        _replace(out / name, body.encode("utf-8"))
    except OSError as exc:
        raise OutputError([Issue("output.io", f"cannot write {out / name}: {exc.strerror or exc}", Location(str(out)),
                                 f"give the {what} a folder you can write to")]) from None


def _replace(path: Path, data: bytes) -> None:
    """Write a new file and rename it over `path`: a link or a FIFO of that name is replaced, never
    written through (a FIFO would block), and a reader never sees half a page."""
    remove_stale_temp_files(path)          # a killed build's, beside this file
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _prune(out: Path, folder: Path) -> None:
    """Remove the folders a removed file leaves empty, up to `out` (a removed version's folder)."""
    out = Path(out)
    while folder != out and out in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent

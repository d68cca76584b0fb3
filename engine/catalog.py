"""Where policies live: discover versions under policy roots, pick the one in force on a date, compile once."""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from typing import TYPE_CHECKING

from .errors import Issue, IssueCollector, Location, NoSuchBase, PolicyError, SchemaError, did_you_mean, nearest
from ._dates import is_date
from .load import VERSION_NAME, escape, inside, json_type, link_loop, load_version, outside_issue, read_document

if TYPE_CHECKING:   # validate and compile are imported when something is compiled (not on a cache hit)
    from .compile import CompiledPolicy
    from .validate import ValidatedVersion


class SelectionError(PolicyError):
    """No policy or version fits what was asked (an unknown name, no version in force on the date)."""

def shipped_root() -> Path:
    """The policies that come with regcode (package data in an installed copy)."""
    return Path(__file__).resolve().parent.parent / "policies"


def manifests(folder: Path, depth: int = 2) -> list:
    """FOLDER/*/*/policy.yaml (depth 2) or FOLDER/*/policy.yaml (depth 1), sorted, as Path.glob lists them but
    never failing on an entry that goes while it is listed (a process of /proc that ends: pathlib's glob let
    FileNotFoundError out) or on a folder it may not read: those are passed over as they are found. A version
    folder that is a loop of links (`toy/loop -> loop`), or whose policy.yaml is a link to nothing or a loop, is
    listed: reading its manifest says what it is (load.io), where passing over it would drop a version unsaid."""
    level = [Path(folder)]
    for step in range(depth):
        below = []
        for parent in level:
            try:
                with os.scandir(parent) as entries:
                    below.extend(Path(e.path) for e in entries if _is_dir(e) or (step == depth - 1 and link_loop(e.path)))
            except OSError:
                continue
        level = below
    return sorted(p / "policy.yaml" for p in level if os.path.lexists(p / "policy.yaml") or link_loop(p))


def policy_loops(root: Path) -> list:
    """The entries of a policy root that are loops of links (`loop -> loop`), sorted: the catalog passes over them as
    it passes over any entry that is no folder, and `validate --policy-root` says each (a version folder that loops is
    listed by manifests(), and said when its manifest is read)."""
    try:
        with os.scandir(root) as entries:
            return sorted(Path(e.path) for e in entries if e.is_symlink() and link_loop(e.path))
    except OSError:
        return []


def _is_dir(entry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def version_manifests(root: Path) -> tuple:
    """([manifest], [link]): the manifests (POLICY/VERSION/policy.yaml) of a root's version folders, sorted, and the
    version folders passed over. A folder is a policy only when it holds a version folder of its own: one whose
    every version is a link leading out of the root is none (`--policy-root /proc` listed a process id as a policy,
    through /proc/PID/cwd, for a process running in a version folder). A link out beside a version of its own, or a
    policy folder that is itself a link out, is kept, and reported (load.outside_root) rather than passed over."""
    found = manifests(root)

    def own(manifest: Path) -> bool:
        part = escape(root, manifest.parent)
        return part is None or part == Path(os.path.abspath(manifest.parent.parent))
    policies = {m.parent.parent for m in found if own(m)}
    return [m for m in found if m.parent.parent in policies], [m.parent for m in found if m.parent.parent not in policies]


@dataclass(frozen=True)
class VersionInfo:
    policy_id: str
    version: str
    directory: Path
    title: str
    effective_from: str
    effective_to: Optional[str]
    extends: Optional[str]
    where: Location = field(default=Location(), compare=False)    # the manifest's effective_from

    def in_force(self, as_of: str) -> bool:
        return self.effective_from <= as_of and (self.effective_to is None or as_of <= self.effective_to)

    @property
    def window(self) -> str:
        return f"{self.effective_from} .. {self.effective_to or 'open'}"


@dataclass(frozen=True)
class BrokenVersion:
    """A version folder whose manifest cannot be read (or that leaves its root): it is reported,
    and it hides a version of the same name in a later root instead of letting that one stand in."""

    policy_id: str
    version: str
    directory: Path
    issues: tuple


def inside_any(path: str, roots: list) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class Catalog:
    """Policy roots searched in order (a user's root first, the shipped one last)."""

    def __init__(self, roots: Optional[list] = None):
        self.user_roots = [Path(r) for r in (roots or [])]
        self.roots = self.user_roots + ([shipped_root()] if shipped_root().is_dir() else [])
        self._compiled: dict = {}
        self._index: Optional[dict] = None
        self._broken: dict = {}

    @classmethod
    def of(cls, compiled: dict, roots: Optional[list] = None) -> "Catalog":
        """A catalog serving exactly these compiled versions ({VersionInfo: CompiledPolicy}); it selects without
        reading a file. `regcode serve` swaps one in on reload, keeping a version's last good compile when its
        files no longer compile."""
        cat = cls(roots)
        cat._compiled = dict(compiled)
        cat._index = {}
        for info in sorted(compiled, key=lambda i: (i.policy_id, i.version)):
            cat._index.setdefault(info.policy_id, {})[info.version] = info
        return cat

    # -- discovery ------------------------------------------------------------------------
    def index(self) -> dict:
        """policy id -> {version: VersionInfo}; a user's root hides a shipped version of the same name,
        also when its manifest is broken (see `broken()`)."""
        if self._index is None:
            found: dict = {}
            for root in self.roots:
                for manifest in version_manifests(root)[0]:
                    entry = self._info(root, manifest.parent)
                    seen = found.setdefault(entry.policy_id, {})
                    if entry.version not in seen:
                        seen[entry.version] = entry
            self._broken = {pid: sorted((e for e in versions.values() if isinstance(e, BrokenVersion)), key=lambda e: e.version)
                            for pid, versions in found.items()}
            self._broken = {pid: entries for pid, entries in self._broken.items() if entries}
            self._index = {pid: {v: e for v, e in versions.items() if isinstance(e, VersionInfo)} for pid, versions in found.items()}
            self._index = {pid: versions for pid, versions in self._index.items() if versions or pid in self._broken}
        return self._index

    def broken(self, policy_id: Optional[str] = None) -> list:
        """The version folders whose manifest could not be read, with why (all of them, or one policy's)."""
        self.index()
        if policy_id is not None:
            return list(self._broken.get(policy_id, []))
        return [e for pid in sorted(self._broken) for e in self._broken[pid]]

    @staticmethod
    def _info(root: Path, directory: Path):
        manifest = directory / "policy.yaml"
        shown = str(manifest)
        issues = IssueCollector()
        part = escape(root, manifest)
        if part is not None:    # the manifest, or the version folder itself, is a link out: name that link
            return BrokenVersion(directory.parent.name, directory.name, directory, (outside_issue(root, part),))
        doc = read_document(manifest, shown, issues)
        data = doc.data if doc is not None and isinstance(doc.data, dict) else None
        if data is not None and isinstance(data.get("effective_from"), str) and is_date(data["effective_from"]) \
                and (data.get("effective_to") is None or is_date(data.get("effective_to"))):
            return VersionInfo(directory.parent.name, directory.name, directory, str(data.get("title", "")),
                               data["effective_from"], data.get("effective_to"), data.get("extends"),
                               doc.location(("effective_from",)))
        if not issues:
            where = doc.location(("effective_from",)) if doc is not None else Location(shown)
            hint = "run `regcode validate` on the folder for every problem"
            if data is not None and "effective_from" not in data:     # a misspelt key is the likely cause: point at it
                near = difflib.get_close_matches("effective_from", [k for k in data if isinstance(k, str)], n=1, cutoff=0.7)
                if near:
                    where, hint = doc.location((near[0],)), f"did you mean `effective_from` for `{near[0]}`?"
            issues.add("load.manifest", "the manifest does not say when the version is in force (effective_from, "
                       "effective_to as YYYY-MM-DD)" if data is not None else f"the manifest is {json_type(doc.data) if doc else 'empty'}, "
                       "not a mapping", where, hint)
        return BrokenVersion(directory.parent.name, directory.name, directory, tuple(issues.issues))

    def policy_ids(self) -> list:
        return sorted(self.index())

    def user_policy_ids(self) -> list:
        """The policies with a version in a --policy-root folder (not only shipped)."""
        roots = [os.path.abspath(r) for r in self.user_roots]
        return sorted(pid for pid, versions in self.index().items()
                      if any(inside_any(os.path.abspath(v.directory), roots) for v in versions.values()))

    def versions(self, policy_id: str) -> list:
        return sorted(self.index().get(policy_id, {}).values(), key=lambda v: (v.effective_from, v.version))

    def refuse_broken(self, policy_id: str, version: Optional[str] = None) -> None:
        """A broken version could be the one in force on any date: choosing without it would pick
        the wrong version silently, so a policy with a broken version is not chosen from by date
        (a forced version is refused only when it is the broken one)."""
        broken = [b for b in self.broken(policy_id) if version is None or b.version == version]
        if broken:
            issues = [i for b in broken for i in b.issues]
            for b in broken:
                link = next((i.location.file for i in b.issues if i.code == "load.outside_root"), None)
                if link is not None:     # the problem is the link, not a line of the manifest (which is not read)
                    why = f"`{link}` is a link leading outside the policy root, which regcode does not follow"
                    hint = "replace the link by a copy of what it points to, or remove it from the policy root"
                else:
                    why = f"for the problem in {b.directory.name}/policy.yaml see its own line"
                    hint = "fix it (`regcode validate DIR` lists every problem) or move it out of the policy root"
                issues.append(Issue("select.broken_version", f"{policy_id}@{b.version} cannot be read ({why}), so no "
                                    f"version of {policy_id} is chosen from {b.directory.parent.parent}", Location(str(b.directory)),
                                    hint))
            raise SelectionError(issues)

    def every_version(self) -> list:
        """Every version of every policy, compiled: what a command given no selection works on. A broken
        version is refused (as `refuse_broken` does), not passed over: the user asked for all of them."""
        issues = []
        for policy_id in self.policy_ids():
            try:
                self.refuse_broken(policy_id)
            except SelectionError as exc:
                issues.extend(exc.issues)
        if issues:
            raise SelectionError(issues)
        return [self.compiled(v) for pid in self.policy_ids() for v in self.versions(pid)]

    def entries(self, policy_id: Optional[str] = None) -> list:
        """Every version folder of every policy (or of one), readable or not (VersionInfo or BrokenVersion),
        by policy and version: what a command that writes what it can (`schema --out`, `site`) works through."""
        ids = [policy_id] if policy_id is not None else self.policy_ids()
        found = [e for pid in ids for e in list(self.versions(pid)) + self.broken(pid)]
        return sorted(found, key=lambda e: (e.policy_id, e.version))

    def compile_each(self, entries) -> tuple:
        """([compiled versions], [(entry, issues)] of those that do not compile): every entry (a VersionInfo,
        a BrokenVersion or a version folder) is tried, so one broken version costs its own output only.
        A broken manifest's issues are `refuse_broken`'s (its problem and `select.broken_version`)."""
        good, failed = [], []
        for entry in entries:
            try:
                if isinstance(entry, BrokenVersion):
                    self.refuse_broken(entry.policy_id, entry.version)
                good.append(self.compiled(entry) if isinstance(entry, VersionInfo) else self.compile_dir(Path(entry)))
            except PolicyError as exc:
                failed.append((entry, list(exc.issues)))
        return good, failed

    def same_start(self, directory: Path) -> list:
        """Issues for the versions that take effect on the same day as the one in `directory` (choosing by
        date cannot tell them apart: `choose` takes the later name): each at the later one's effective_from,
        naming the other's.
        A folder outside the roots is looked at with its own root after the user's."""
        directory = Path(directory)
        policy_id = Path(os.path.abspath(directory)).parent.name
        mine = lambda v: os.path.samefile(v.directory, directory)    # noqa: E731
        cat = self
        if not any(mine(v) for v in self.versions(policy_id)):
            cat = type(self)(self.user_roots + [Path(os.path.abspath(directory)).parent.parent])
        versions = cat.versions(policy_id)
        return [_same_start(policy_id, a, b) for i, a in enumerate(versions) for b in versions[i + 1:]
                if a.effective_from == b.effective_from and (mine(a) or mine(b))]

    # -- choosing ------------------------------------------------------------------------
    def policy_id(self, requested: Optional[str]) -> str:
        ids = self.policy_ids()
        if requested:
            if requested not in ids:
                raise SelectionError([Issue("select.unknown_policy", f"no policy `{requested}`; known: {', '.join(ids) or 'none'}",
                                            Location(), did_you_mean(requested, ids) or "see `regcode policies`")])
            return requested
        if len(ids) == 1:
            return ids[0]
        # A drafter's own folder (--policy-root) of one policy is the policy meant: the shipped ones beside it are
        # not another candidate to name every time.
        own = self.user_policy_ids()
        if len(own) == 1:
            return own[0]
        raise SelectionError([Issue("select.which_policy", f"{len(ids)} policies are known ({', '.join(ids)}); name one",
                                    Location(), "add --policy NAME")])

    def select(self, policy_id: str, as_of: str, version: Optional[str] = None) -> CompiledPolicy:
        """The version in force on `as_of` (or the one forced), compiled."""
        return self.compiled(self.choose(policy_id, as_of, version))

    def choose(self, policy_id: str, as_of: str, version: Optional[str] = None) -> VersionInfo:
        """Which version applies, from the manifests alone (nothing compiled): the forced one, or the
        one in force on `as_of`. Raises SelectionError naming the versions and their windows."""
        self.refuse_broken(policy_id, version)
        versions = self.versions(policy_id)
        if version is not None:
            match = [v for v in versions if v.version == version]
            if not match:
                raise SelectionError([Issue("select.unknown_version", f"{policy_id} has no version `{version}`; versions: "
                                            + ", ".join(v.version for v in versions), Location(),
                                            did_you_mean(version, [v.version for v in versions])
                                            or "a version in a folder of your own needs --policy-root DIR")])
            return match[0]
        live = [v for v in versions if v.in_force(as_of)]
        if not live:
            listing = "; ".join(f"{v.version} ({v.window})" for v in versions)
            raise SelectionError([Issue("select.no_version_in_force", f"no version of {policy_id} is in force on {as_of}; versions: {listing}",
                                        Location(), "evaluate a date inside a window (--as-of), or force one with --policy-version")])
        return live[-1]   # the most recent start wins when windows overlap

    def chosen_windows(self, policy_id: str) -> dict:
        """version -> [(first day, last day or None for open, the version chosen the day after or None)]: the days on
        which `choose` takes each version by date, from the manifests. Where declared windows overlap the latest start
        wins, so a version an extending one takes over from is chosen only until the day before (and a version whose
        whole window another covers on no day: an empty list)."""
        versions = self.versions(policy_id)
        cuts = sorted({v.effective_from for v in versions} | {d for d in (_day_after(v.effective_to) for v in versions) if d})
        pieces = []     # [first day, last day or None, the version chosen or None]
        for k, first in enumerate(cuts):
            live = [v for v in versions if v.in_force(first)]
            chosen = live[-1].version if live else None
            last = _day_before(cuts[k + 1]) if k + 1 < len(cuts) else None
            if pieces and pieces[-1][2] == chosen:
                pieces[-1][1] = last
            else:
                pieces.append([first, last, chosen])
        out: dict = {v.version: [] for v in versions}
        for k, (first, last, chosen) in enumerate(pieces):
            if chosen is not None:
                after = pieces[k + 1][2] if k + 1 < len(pieces) else None
                out[chosen].append((first, last, after))
        return out

    def in_force_text(self, policy_id: str, version: str) -> str:
        """`2017-05-01 .. 2019-12-31 (then @2020)`: the days a date selects the version (chosen_windows), each stretch
        with the version that takes over after it; its declared window as written when selection gives just that."""
        info = self.index()[policy_id][version]
        windows = self.chosen_windows(policy_id)[version]
        if [w[:2] for w in windows] == [(info.effective_from, info.effective_to)]:
            return info.window
        if not windows:
            return f"chosen on no day ({info.window} declared; see the note)"
        return ", ".join(f"{first} .. {last or 'open'}" + (f" (then @{after})" if after else "") for first, last, after in windows)

    def overlap_notes(self, policy_id: str) -> list:
        """(earlier version, later version, a sentence) for each two versions whose declared windows overlap: on which
        days, and which version a date there selects (the later start; on the same start, the later name)."""
        versions = self.versions(policy_id)
        notes = []
        for i, a in enumerate(versions):
            for b in versions[i + 1:]:     # b starts on or after a (versions are sorted by start, then name)
                if a.effective_to is not None and a.effective_to < b.effective_from:
                    continue
                ends = [e for e in (a.effective_to, b.effective_to) if e is not None]
                until = min(ends) if ends else None
                why = "the later start" if b.effective_from > a.effective_from else "on the same start, the later name"
                notes.append((a.version, b.version, f"{policy_id}@{a.version} ({a.window}) and @{b.version} ({b.window}) overlap "
                              f"from {b.effective_from}" + (f" to {until}" if until else " on")
                              + f": a date there selects @{b.version}, {why}"))
        return notes

    def compiled(self, info: VersionInfo) -> CompiledPolicy:
        policy = self._compiled.get(info)     # VersionInfo is frozen: hashing it costs no file-system call
        if policy is None:
            policy = self._compiled[info] = self.compile_dir(info.directory)
        return policy

    def _ref_hint(self, ref: str) -> str:
        """How to write a reference, with a version the catalog has: the named policy's own (`stall-hygiene` ->
        `stall-hygiene@1 or stall-hygiene@2`), else the nearest known policy's, else the form alone: never a
        policy the name has nothing to do with."""
        ids = self.policy_ids()
        pid = ref if ref in ids else nearest(ref, ids)
        versions = [v.version for v in self.versions(pid)] if pid else []
        if not versions:
            return "write POLICY@VERSION; `regcode policies` lists them"
        return "write " + " or ".join(f"{pid}@{v}" for v in versions[-2:]) + "; `regcode policies` lists them"

    def by_ref(self, ref: str) -> CompiledPolicy:
        """`id@version` (or a version folder's path) -> compiled policy."""
        path = Path(ref)
        if os.path.lexists(path / "policy.yaml"):
            return self.compile_dir(path)
        if "@" not in ref:
            raise SelectionError([Issue("select.ref", f"`{ref}` is neither POLICY@VERSION nor a version folder", Location(),
                                        self._ref_hint(ref))])
        policy_id, version = ref.split("@", 1)
        self.policy_id(policy_id)
        return self.select(policy_id, "0000-00-00", version)

    # -- loading -------------------------------------------------------------------------
    def load_validated(self, directory: Path) -> ValidatedVersion:
        from .validate import validate_version
        root = self._root_of(directory)
        return validate_version(load_version(directory, root))

    def _root_of(self, directory: Path) -> Path:
        for root in self.roots:
            if inside(root, directory):
                return root
        return Path(directory).parent.parent

    def compile_dir(self, directory: Path) -> CompiledPolicy:
        """Compiled, from the on-disk cache when nothing it depends on changed (engine/cache.py)."""
        from .cache import compiled
        from .compile import compile_version
        from .reports import report_issues, reports_of
        directory = Path(directory)
        try:
            policy = compiled(self, directory, lambda: compile_version(self.load_validated(directory), self._base_loader))
        except PolicyError as exc:      # its declarations stood: what is wrong with its `reports:` is said too
            more = report_issues(exc.partial, self) if getattr(exc, "partial", None) is not None else []
            if more:
                failed = type(exc)(list(exc.issues) + more)
                failed.partial = exc.partial      # (for its test cases: cli/validate.py)
                raise failed from None
            raise
        reports_of(policy, self)    # its `reports:` too: every command gives one version the same verdict
        return policy

    def _base_loader(self, child: ValidatedVersion, name: str) -> ValidatedVersion:
        policy_id, version = (name.split("@", 1) if "@" in name else (child.source.policy_id, name))
        if not VERSION_NAME.match(version) or not VERSION_NAME.match(policy_id):
            raise LookupError(f"`{name}` is not a version name")
        own_root = child.source.directory.parent.parent
        for root in [own_root] + self.roots:
            candidate = root / policy_id / version
            if (candidate / "policy.yaml").is_file() and inside(root, candidate):
                from .validate import validate_version
                base = validate_version(load_version(candidate, root))
                if base.carried:    # a base with problems (a rule set aside, a bad date) is no base to build on
                    raise SchemaError(base.carried)
                return base
        roots = list(dict.fromkeys([own_root] + self.roots))     # each root once
        raise NoSuchBase(f"no version `{version}` of `{policy_id}` under {', '.join(map(str, roots))}",
                         _base_hint(child, name, policy_id, roots))


def _day_after(day: Optional[str]) -> Optional[str]:
    """The ISO day after `day`, or None for none (open) or past the calendar."""
    if day is None or day >= "9999-12-31":
        return None
    import datetime as _dt
    return (_dt.date.fromisoformat(day) + _dt.timedelta(days=1)).isoformat()


def _day_before(day: str) -> str:
    import datetime as _dt
    return (_dt.date.fromisoformat(day) - _dt.timedelta(days=1)).isoformat()


def _base_hint(child: ValidatedVersion, name: str, policy_id: str, roots: list) -> str:
    """What `extends: NAME` could name instead: a version of the same policy (written as NAME is, with or
    without the id); another policy's only when no policy has that id. Never the version itself."""
    def versions_of(pid: str) -> list:
        own = {child.source.version} if pid == child.source.policy_id else set()
        return sorted({m.parent.name for root in roots for m in manifests(Path(root) / pid, 1)
                       if VERSION_NAME.match(m.parent.name) and inside(root, m.parent)} - own)
    versions = versions_of(policy_id)
    if versions:
        names = [f"{policy_id}@{v}" for v in versions] if "@" in name else versions
        return did_you_mean(name, names) or f"the versions of `{policy_id}`: " + ", ".join(f"`{n}`" for n in names)
    ids = sorted({m.parent.parent.name for root in roots for m in manifests(root)})
    if policy_id in ids:
        return f"`{policy_id}` has no other version to extend"
    others = [f"{pid}@{v}" for pid in ids for v in versions_of(pid)]
    return did_you_mean(name, others) or f"no policy is called `{policy_id}`; policies: {', '.join(ids) or 'none'}"


def _same_start(policy_id: str, earlier: VersionInfo, later: VersionInfo) -> Issue:
    return Issue("select.same_effective_from", f"{policy_id}@{later.version} and {policy_id}@{earlier.version} ({earlier.where}) "
                 f"both take effect on {later.effective_from}: choosing by date cannot tell them apart, and takes "
                 f"{policy_id}@{later.version} for its name alone", later.where,
                 "a version's effective_from is the day it takes effect: give each version its own, or move a draft out of the policy root")


# ---- selection checks done once, before any case is read (manifests only: nothing compiled) ----
def check_selection(cat: Catalog, policy_name: Optional[str], version: Optional[str], dates=()) -> str:
    """The policy id to use; fails early (once, not per record) for an unknown policy or version, a broken
    version, or a date no version covers."""
    policy_id = cat.policy_id(policy_name)
    cat.refuse_broken(policy_id, version)
    if version is not None:
        cat.choose(policy_id, "0000-00-00", version)
        return policy_id
    for day in dates:
        cat.choose(policy_id, day)
    return policy_id


def candidates(cat: Catalog, policy_id: str, version: Optional[str] = None) -> list:
    """The versions a case of a batch could be judged by: every one of the policy, or the forced one."""
    return [info for info in cat.versions(policy_id) if version is None or info.version == version]


def check_compiles(cat: Catalog, policy_id: str, version: Optional[str] = None) -> None:
    """Compile, before any case is read, every version a case could be judged by (or the forced one): a broken
    one is one error with every problem, not the same problem once per record."""
    from .errors import CompileError
    issues: list = []
    for info in candidates(cat, policy_id, version):
        try:
            cat.compiled(info)
        except CompileError as exc:
            issues.extend(exc.issues)
    if issues:
        raise CompileError(issues)

"""The policy versions being served: every version under the roots compiled once; a reload keeps a broken version's last good compile."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..engine import Catalog, CompiledPolicy, Document, Issue, Location, PolicyError, VersionInfo, check_case, evaluate


@dataclass(frozen=True)
class Served:
    info: VersionInfo
    policy: CompiledPolicy
    status: str        # new | unchanged | changed | kept (its files fail now; the last good compile serves)


@dataclass
class Loaded:
    """One load of the roots: what serves, and what failed (and why)."""

    catalog: Catalog
    served: dict                                   # (policy id, version) -> Served
    failed: dict = field(default_factory=dict)     # (policy id, version) -> [Issue]
    removed: list = field(default_factory=list)    # (policy id, version) no longer under any root

    @property
    def ok(self) -> bool:
        return not self.failed

    def issues(self) -> list:
        return [i for key in sorted(self.failed) for i in self.failed[key]]

    def report(self) -> dict:
        """What the reload endpoint and the log say: each version with its status, content hash and errors."""
        versions = []
        for key in sorted(set(self.served) | set(self.failed)):
            s = self.served.get(key)
            entry = {"id": key[0], "version": key[1], "status": s.status if s else "failed",
                     "content_hash": s.policy.content_hash if s else None}
            if key in self.failed:
                entry["errors"] = [i.as_dict() for i in self.failed[key]]
            versions.append(entry)
        return {"ok": self.ok, "versions": versions, "removed": [f"{p}@{v}" for p, v in sorted(self.removed)]}

    def summary(self) -> str:
        counts: dict = {}
        for s in self.served.values():
            counts[s.status] = counts.get(s.status, 0) + 1
        parts = [f"{n} {status}" for status, n in sorted(counts.items())]
        if self.failed:
            parts.append(f"{len(self.failed)} failed ({', '.join(f'{p}@{v}' for p, v in sorted(self.failed))})")
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        n = len(self.served)
        return f"{n} policy version{'' if n == 1 else 's'} serving: " + ", ".join(parts)


def load(roots: list, previous: Optional[Loaded] = None) -> Loaded:
    """Compile every version under `roots` (and the shipped policies). With `previous` (a reload), a version
    that fails now keeps its previous compile; without it, failures are only reported."""
    fresh = Catalog(list(roots))
    old = previous.served if previous else {}
    served, failed, removed = {}, {}, []
    for policy_id in fresh.policy_ids():
        for info in fresh.versions(policy_id):
            key = (info.policy_id, info.version)
            try:
                policy = fresh.compiled(info)
            except PolicyError as exc:
                failed[key] = list(exc.issues)
                if key in old:
                    served[key] = Served(old[key].info, old[key].policy, "kept")
                continue
            if key in old and old[key].policy.content_hash == policy.content_hash:
                served[key] = Served(info, old[key].policy, "unchanged")   # the same content: keep the built evaluator
            else:
                served[key] = Served(info, policy, "new" if key not in old else "changed")
    for broken in fresh.broken():            # a manifest that does not read is a failed version, never passed over
        key = (broken.policy_id, broken.version)
        failed[key] = list(broken.issues)
        if key in old:
            served[key] = Served(old[key].info, old[key].policy, "kept")
    for key, before in old.items():
        if key in served or key in failed:
            continue
        manifest = Path(before.info.directory) / "policy.yaml"
        if manifest.is_file():   # still there, but its manifest no longer reads as a version
            failed[key] = _unreadable(fresh, before.info)
            served[key] = Served(before.info, before.policy, "kept")
        else:
            removed.append(key)
    catalog = Catalog.of({s.info: s.policy for s in served.values()}, list(roots))
    return Loaded(catalog, served, failed, removed)


def _unreadable(cat: Catalog, info: VersionInfo) -> list:
    try:
        cat.compile_dir(info.directory)
    except PolicyError as exc:
        return list(exc.issues)
    return [Issue("load.manifest", "policy.yaml no longer declares a version (effective_from is missing or not a date)",
                  Location(str(Path(info.directory) / "policy.yaml")), "restore effective_from: YYYY-MM-DD")]


def warm(loaded: Loaded, backend: str) -> None:
    """Build each new or changed version's evaluator now, in the server, so that forked workers inherit it instead
    of each building it on its first request (about 0.3 s for the Shanghai policy). The python backend only:
    durable-rules' C core holds state that must not be shared across a fork (engine/batch.py keeps the same rule)."""
    if backend != "python":
        return
    for served in loaded.served.values():
        if served.status not in ("new", "changed"):
            continue
        policy = served.policy
        try:   # an empty case: it builds the validators and the program; what it decides does not matter
            check_case(policy, Document("<warm-up>", {}))
        except Exception:
            pass
        try:
            evaluate(policy, {}, policy.effective_from, backend=backend, checked=True)
        except Exception:   # a warm-up only saves time; a real request reports whatever this hit
            pass

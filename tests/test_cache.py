"""The compiled-policy cache: a second compile is read back, one changed byte anywhere is a new compile,
an unsafe folder or a damaged entry is never trusted, and results do not depend on the cache."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from regcode.engine import Catalog, evaluate, to_dict
from regcode.engine import cache as cache_module
from regcode.engine import compile as compile_module

from conftest import TEST_POLICIES

CASE = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "浦东新区", "employees": 12}}


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("REGCODE_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "policies" / "toy" / "1"
    shutil.copytree(TEST_POLICIES / "toy" / "1", target)
    return tmp_path / "policies"


def _compiles(monkeypatch) -> list:
    calls = []
    real = compile_module.compile_version

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)
    monkeypatch.setattr(compile_module, "compile_version", counting)
    return calls


def _out(policy) -> str:
    return json.dumps(to_dict(evaluate(policy, CASE, CASE["as_of"])), sort_keys=True, ensure_ascii=False)


def test_a_second_catalog_reads_the_compiled_version_back(root, monkeypatch):
    calls = _compiles(monkeypatch)
    first = Catalog([root]).by_ref("toy@1")
    second = Catalog([root]).by_ref("toy@1")
    assert len(calls) == 1, "the second catalog should have used the cache"
    assert second.content_hash == first.content_hash and _out(second) == _out(first)
    assert "python" in second.backends, "the Python program's bytecode comes back with it"


@pytest.mark.parametrize("edit", ["parameter", "rules file", "new file", "removed file"])
def test_any_change_to_a_policy_file_is_a_new_compile(root, monkeypatch, edit):
    calls = _compiles(monkeypatch)
    before = _out(Catalog([root]).by_ref("toy@1"))
    folder = root / "toy" / "1"
    if edit == "parameter":       # one byte: base_fee 100 -> 900
        path = folder / "parameters.yaml"
        text = path.read_text(encoding="utf-8")
        assert "value: 100" in text
        path.write_text(text.replace("value: 100", "value: 900", 1), encoding="utf-8")
    elif edit == "rules file":
        path = folder / "rules" / "fees.yaml"
        path.write_bytes(path.read_bytes() + b"\n")
    elif edit == "new file":
        (folder / "rules" / "extra.yaml").write_text("apiVersion: regcode/v1\nkind: Rules\nrules: []\n", encoding="utf-8")
    else:
        (folder / "tests" / "cases.yaml").unlink()
    after = Catalog([root]).by_ref("toy@1")
    assert len(calls) == 2, "a changed policy must never be served from the cache"
    if edit == "parameter":
        assert _out(after) != before and to_dict(evaluate(after, CASE, CASE["as_of"]))["decisions"]["fee"] > 800


def test_a_change_in_the_version_extended_is_a_new_compile(root, tmp_path, monkeypatch):
    calls = _compiles(monkeypatch)
    child = root / "toy" / "2"
    child.mkdir()
    (child / "policy.yaml").write_text(
        "apiVersion: regcode/v1\nkind: Policy\nid: toy\nversion: '2'\ntitle: t\nsource: {issuer: x, date: '2020-01-01'}\n"
        "effective_from: '2021-01-01'\nextends: '1'\n", encoding="utf-8")
    Catalog([root]).by_ref("toy@2")
    base = root / "toy" / "1" / "parameters.yaml"
    base.write_text(base.read_text(encoding="utf-8").replace("value: 100", "value: 900", 1), encoding="utf-8")
    Catalog([root]).by_ref("toy@2")
    assert len(calls) == 2


def test_a_folder_others_can_write_to_is_not_used(root, tmp_path, monkeypatch):
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    os.chmod(folder, 0o777)
    monkeypatch.setenv("REGCODE_CACHE_DIR", str(folder))
    assert cache_module.cache_dir() is None
    calls = _compiles(monkeypatch)
    Catalog([root]).by_ref("toy@1")
    Catalog([root]).by_ref("toy@1")
    assert len(calls) == 2 and not list(folder.iterdir())


def test_a_damaged_entry_is_compiled_again(root, tmp_path, monkeypatch):
    calls = _compiles(monkeypatch)
    Catalog([root]).by_ref("toy@1")
    for entry in (tmp_path / "cache").glob("*.pickle"):
        entry.write_bytes(entry.read_bytes()[:100])
    policy = Catalog([root]).by_ref("toy@1")
    assert len(calls) == 2 and _out(policy)


def test_the_cache_can_be_turned_off(root, monkeypatch):
    monkeypatch.setenv("REGCODE_NO_CACHE", "1")
    calls = _compiles(monkeypatch)
    Catalog([root]).by_ref("toy@1")
    Catalog([root]).by_ref("toy@1")
    assert len(calls) == 2


# ---- an entry is read only when it is what was stored ------------------------------------------------------
def _bounded(call, fifo=None, seconds: float = 30.0):
    """`call()` in a thread, waited on at most `seconds`: a load that blocks fails the test instead of hanging
    it (the FIFO is then opened for writing and closed, which ends the blocked read)."""
    import threading
    done = []
    worker = threading.Thread(target=lambda: done.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        if fifo is not None:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(seconds)
        pytest.fail(f"blocked for more than {seconds:.0f} s on a cache entry that is not a file")
    return done[0]


def _make_fifo(entry):
    entry.unlink()
    os.mkfifo(entry, 0o600)


def _make_link(entry):
    moved = entry.with_name("elsewhere.bin")
    entry.rename(moved)
    entry.symlink_to(moved)


@pytest.mark.parametrize("swap", [_make_fifo, _make_link], ids=["a FIFO", "a link to the entry"])
def test_an_entry_that_is_not_a_regular_file_is_a_fresh_compile(root, tmp_path, monkeypatch, swap):
    calls = _compiles(monkeypatch)
    Catalog([root]).by_ref("toy@1")
    (entry,) = (tmp_path / "cache").glob("*.pickle")
    swap(entry)
    policy = _bounded(lambda: Catalog([root]).by_ref("toy@1"), entry if entry.is_fifo() else None)
    assert len(calls) == 2 and _out(policy)
    assert entry.is_file() and not entry.is_symlink(), "the fresh compile is stored in its place"


def test_an_entry_holding_another_version_is_a_miss(root, tmp_path, monkeypatch):
    """An entry names its key; one rewritten to hold another version under this key is not served (the
    policy's id, version and folder are checked against what was asked for)."""
    import pickle
    child = root / "toy" / "2"
    shutil.copytree(root / "toy" / "1", child)
    manifest = child / "policy.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('version: "1"', 'version: "2"'), encoding="utf-8")
    folder = tmp_path / "cache"
    key_1 = cache_module.key_for(Catalog([root]), root / "toy" / "1")
    key_2 = cache_module.key_for(Catalog([root]), child)
    Catalog([root]).by_ref("toy@1")
    Catalog([root]).by_ref("toy@2")
    with open(folder / f"{key_2}.pickle", "rb") as fh:
        entry = pickle.load(fh)
    entry["key"] = key_1
    with open(folder / f"{key_1}.pickle", "wb") as fh:
        pickle.dump(entry, fh)
    calls = _compiles(monkeypatch)
    policy = Catalog([root]).by_ref("toy@1")
    assert (policy.id, policy.version) == ("toy", "1") and len(calls) == 1


# ---- the verdict never depends on the cache ----------------------------------------------------------------
LAW = "第一条　为规范流动餐车经营许可，制定本办法。\n第二条　申请人应当符合下列条件。\n"


def _with_source_text(version, text: str = LAW, name: str = "law.txt"):
    """The toy version's text.yaml names a source file, with its SHA-256 (validate checks it: schema.sha256)."""
    import hashlib
    (version / "source").mkdir(exist_ok=True)
    (version / "source" / name).write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    path = version / "text.yaml"
    old = 'source: {note: "fictional text of the toy policy", language: zh-Hans}'
    assert old in path.read_text(encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace(old, f"source: {{file: source/law.txt, sha256: {digest}, language: zh-Hans}}"),
                    encoding="utf-8")


def _swapped(text: str) -> str:
    """Two characters of three UTF-8 bytes each swapped: the same size, another SHA-256."""
    i = text.index("规")
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _keep_time(path, change):
    """`change()` with the modification times of `path` and of its folder put back (as `touch -r` would)."""
    before, folder = os.lstat(path), os.stat(path.parent)
    change()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)
    os.utime(path.parent, ns=(folder.st_atime_ns, folder.st_mtime_ns))


def _source_edited_in_place(root, version, tmp_path):
    law = version / "source" / "law.txt"
    _keep_time(law, lambda: law.write_bytes(_swapped(LAW).encode("utf-8")))


def _source_link_pointed_elsewhere(root, version, tmp_path):
    law = version / "source" / "law.txt"

    def relink():
        law.unlink()
        law.symlink_to("law-b.txt")     # as long a name as law-a.txt: the link's own size is the same
    _keep_time(law, relink)


def _rules_file_linked_out(root, version, tmp_path):
    rules = version / "rules" / "fees.yaml"
    outside = tmp_path / "fees-outside.yaml"
    outside.write_bytes(rules.read_bytes())

    def relink():
        rules.unlink()
        rules.symlink_to(outside)
    _keep_time(rules, relink)


def _version_through_a_link_out(root, version, tmp_path):
    other = tmp_path / "other-root" / "toy"
    other.mkdir(parents=True)
    (other / "1").symlink_to(version, target_is_directory=True)
    return ["show", str(other / "1")]


@pytest.mark.parametrize("edit", [_source_edited_in_place, _source_link_pointed_elsewhere, _rules_file_linked_out,
                                  _version_through_a_link_out],
                         ids=["source text changed in place, same size and time", "source text's link pointed at another file",
                              "a rules file replaced by a link leaving the root, same bytes and times",
                              "the version folder named through a link leaving its root"])
def test_the_verdict_does_not_depend_on_the_cache(root, tmp_path, edit):
    """Every byte the compile reads (the law's source text too) and where each file is are in the key: a version
    that fails without the cache fails with it, with the same problems."""
    import re
    from click.testing import CliRunner
    from regcode.cli.main import regcode
    version = root / "toy" / "1"
    _with_source_text(version)
    if edit is _source_link_pointed_elsewhere:      # law.txt -> law-a.txt; law-b.txt beside it, another text
        (version / "source" / "law.txt").rename(version / "source" / "law-a.txt")
        (version / "source" / "law.txt").symlink_to("law-a.txt")
        (version / "source" / "law-b.txt").write_bytes(_swapped(LAW).encode("utf-8"))

    def verdict(args, **env):
        result = CliRunner().invoke(regcode, args, env=env)
        return result.exit_code, sorted(re.findall(r": ([a-z]+\.[a-z0-9_]+): ", result.output))

    assert verdict(["validate", "--policy-root", str(root)]) == (0, [])        # compiled, and stored in the cache
    args = edit(root, version, tmp_path) or ["validate", "--policy-root", str(root)]
    without = verdict(args, REGCODE_NO_CACHE="1")
    assert without[0] == 1 and without[1], "the edit is one the compile refuses"
    assert verdict(args) == without


def test_the_places_a_compiled_version_names_are_as_the_working_folder_shows_them(root, tmp_path, monkeypatch):
    """A compiled version holds places (a decision's declaration, named in an eval.conflict): written relative to
    the working folder when inside it. Compiled in one folder and read in another, they would name the file as
    the first did, so that the same command gave other bytes by where an earlier one ran: the key holds the folder."""
    monkeypatch.chdir(root.parent)          # inside: places relative to tmp_path
    inside = Catalog([root.resolve()]).by_ref("toy@1")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)            # outside the policy folder: places absolute
    calls = _compiles(monkeypatch)
    outside = Catalog([root.resolve()]).by_ref("toy@1")
    assert len(calls) == 1, "read in another working folder, the version is compiled again"
    assert not inside.decisions["eligible"].location.file.startswith("/")
    assert outside.decisions["eligible"].location.file == str(root.resolve() / "toy" / "1" / "decisions.yaml")
    calls.clear()
    again = Catalog([root.resolve()]).by_ref("toy@1")       # and in that folder again, from the cache
    assert calls == [] and again.decisions["eligible"].location.file == outside.decisions["eligible"].location.file

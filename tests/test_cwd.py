"""What `regcode site` and `regcode schema --out` write does not depend on the folder they are run from: the same
inputs give the same bytes (a reported bug: the site's test and rule locations and the editor settings' paths were
relative to the working folder)."""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import shipped_root

from conftest import TEST_POLICIES

SHIPPED = shipped_root() / "shanghai-post-license" / "2017"


def written(folder) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def root(tmp_path):
    """A policy root of its own, with a folder above it and one inside it to run from."""
    root = tmp_path / "up" / "p"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    return root


def run_from(monkeypatch, folder, *args):
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(regcode, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_the_site_is_the_same_from_any_working_folder(root, tmp_path, monkeypatch):
    builds = {}
    for name, cwd in {"above": tmp_path, "root": root, "inside": root / "toy", "elsewhere": "/"}.items():
        run_from(monkeypatch, cwd, "site", "--policy-root", root, "--out", tmp_path / f"site-{name}")
        builds[name] = written(tmp_path / f"site-{name}")
    first = builds.pop("above")
    for name, build in builds.items():
        assert sorted(build) == sorted(first), name
        assert [f for f in first if build[f] != first[f]] == [], name
    cases = first["toy/1/cases.html"].decode("utf-8")
    assert "toy/1/tests/" in cases and str(root) not in cases and "up/p/" not in cases
    assert "toy/1/rules/" in first["toy/1/index.html"].decode("utf-8")


def test_the_site_names_a_test_file_below_its_policy_root(root, tmp_path, monkeypatch):
    run_from(monkeypatch, tmp_path, "site", "--policy-root", root, "--out", tmp_path / "site")
    cases = (tmp_path / "site" / "toy" / "1" / "cases.html").read_text(encoding="utf-8")
    test_file = next((root / "toy" / "1" / "tests").glob("*.yaml")).name
    assert f'class="meta">toy/1/tests/{test_file}:' in cases


def test_the_editor_settings_are_the_same_from_any_working_folder(root, tmp_path, monkeypatch):
    out = tmp_path / "schemas"
    seen = []
    for cwd in (tmp_path, root / "toy", "/"):
        run_from(monkeypatch, cwd, "schema", "--policy-root", root, "--out", out)
        seen.append(written(out))
    assert seen[0] == seen[1] == seen[2]
    mapping = json.loads(seen[0]["yaml-language-server.settings.json"])["yaml.schemas"]
    # yaml-language-server resolves a relative schema path from the editor's workspace, which regcode does not know:
    # the schema is named by its absolute path, the version's files by a glob of its folder's absolute path
    toy = (root / "toy" / "1").resolve().as_posix()
    assert mapping[(out / "toy@1.schema.json").resolve().as_posix()] == [f"{toy}/**/*.yaml", f"{toy}/**/*.yml"]
    assert all(key.startswith("/") for key in mapping)


def test_the_editor_settings_relative_to_a_workspace_are_the_same_on_any_machine_and_from_any_folder(tmp_path, monkeypatch):
    """`--workspace DIR` (the folder the editor opens): the settings name each schema and version folder by its path in
    DIR, so the same bytes come out of two checkouts at different places and from any working folder, the workspace
    given absolute or relative; the default names them absolutely, as above. A version folder outside the workspace (the
    shipped policies, here) is left out of the mapping and said."""
    checkouts = [tmp_path / "alice" / "ws", tmp_path / "bob" / "deeper" / "work space"]
    builds = []
    for ws in checkouts:
        shutil.copytree(TEST_POLICIES / "toy", ws / "policies" / "toy")
        for cwd, workspace in ((ws, "."), (ws / "policies" / "toy", "../.."), ("/", ws)):
            result = run_from(monkeypatch, cwd, "schema", "--policy-root", ws / "policies", "--workspace", workspace,
                              "--out", ws / ".regcode" / "schemas")
            assert f"note: {SHIPPED.resolve()}" in result.stderr and "outside the workspace" in result.stderr
            builds.append(written(ws / ".regcode" / "schemas"))
    assert all(build == builds[0] for build in builds)
    mapping = json.loads(builds[0]["yaml-language-server.settings.json"])["yaml.schemas"]
    assert mapping == {"./.regcode/schemas/toy/1.schema.json": ["policies/toy/1/**/*.yaml", "policies/toy/1/**/*.yml"]}
    assert "toy/1.schema.json" in builds[0] and "toy/1.case.schema.json" in builds[0]

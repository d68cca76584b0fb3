"""Reloading the service's policies: a version that fails keeps its last good compile and says why; a good change swaps in."""
from __future__ import annotations

from servekit import CASES, ONE_PARAMETER, YAML, one_parameter_version as write_version, serving


def ratio_served(client) -> float:
    reply = client.post("/v1/evaluate", params={"explain": "none"}, content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML)
    assert reply.status_code == 200, reply.text
    assert reply.json()["policy"]["version"] == "2017-b"
    return reply.json()["decisions"]["inspection_sampling_ratio_min"]


def versions(client) -> dict:
    return {(p["id"], p["version"]): p for p in client.get("/v1/policies").json()["policies"]}


def test_reload_swaps_in_a_changed_version(tmp_path):
    folder = write_version(tmp_path, 0.3)
    with serving(workers=1, policy_roots=[str(tmp_path)], enable_admin=True) as c:
        assert ratio_served(c) == 0.3
        before = versions(c)[("shanghai-post-license", "2017-b")]["content_hash"]
        (folder / "parameters.yaml").write_text(ONE_PARAMETER.format(ratio=0.4), encoding="utf-8")
        reply = c.post("/v1/admin/reload")
        assert reply.status_code == 200, reply.text
        status = {(v["id"], v["version"]): v["status"] for v in reply.json()["versions"]}
        assert status == {("shanghai-post-license", "2017"): "unchanged", ("shanghai-post-license", "2017-b"): "changed"}
        assert ratio_served(c) == 0.4
        assert versions(c)[("shanghai-post-license", "2017-b")]["content_hash"] != before


def test_a_version_that_fails_on_reload_keeps_serving_its_last_good_compile(tmp_path):
    folder = write_version(tmp_path, 0.3)
    with serving(workers=1, policy_roots=[str(tmp_path)], enable_admin=True) as c:
        good = versions(c)[("shanghai-post-license", "2017-b")]["content_hash"]
        (folder / "parameters.yaml").write_text(ONE_PARAMETER.format(ratio=0.4).replace("    value:", "    valeu:"), encoding="utf-8")
        reply = c.post("/v1/admin/reload")
        assert reply.status_code == 422 and reply.headers["content-type"] == "application/problem+json"
        problem = reply.json()
        assert problem["ok"] is False and "keeps serving its last good compile" in problem["title"]
        assert any(e["location"]["file"].endswith("parameters.yaml") and e["location"]["line"] for e in problem["errors"])
        assert "valeu" in problem["detail"]
        kept = {(v["id"], v["version"]): v for v in problem["versions"]}[("shanghai-post-license", "2017-b")]
        assert kept["status"] == "kept" and kept["content_hash"] == good and kept["errors"]
        assert ratio_served(c) == 0.3                     # the old compile serves on
        assert versions(c)[("shanghai-post-license", "2017-b")]["status"] == "kept"
        health = c.get("/health")                          # alive, but not serving what its files say
        # still a 200: every version serves (the kept one its last good compile), so a probe keeps it in rotation
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert c.head("/health").status_code == 200
        assert health.json()["kept"] == ["shanghai-post-license@2017-b"]
        # a manifest that breaks too: still kept
        (folder / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\n", encoding="utf-8")
        assert c.post("/v1/admin/reload").status_code == 422
        assert ratio_served(c) == 0.3
        # fixed: the new content serves
        write_version(tmp_path, 0.5)
        assert c.post("/v1/admin/reload").status_code == 200
        assert ratio_served(c) == 0.5
        assert c.get("/health").json()["status"] == "ok" and "kept" not in c.get("/health").json()


def test_a_removed_version_stops_serving_on_reload(tmp_path):
    folder = write_version(tmp_path, 0.3)
    with serving(workers=1, policy_roots=[str(tmp_path)], enable_admin=True) as c:
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
        reply = c.post("/v1/admin/reload")
        assert reply.status_code == 200 and reply.json()["removed"] == ["shanghai-post-license@2017-b"]
        assert list(versions(c)) == [("shanghai-post-license", "2017")]
        data = c.post("/v1/evaluate", params={"explain": "none"}, content=(CASES / "aa-clean.yaml").read_bytes(), headers=YAML).json()
        assert data["policy"]["version"] == "2017" and data["decisions"]["inspection_sampling_ratio_min"] == 0.2


def test_the_document_is_rebuilt_for_the_versions_a_reload_serves(tmp_path):
    """/openapi.json types an evaluation's decisions from the versions served: a reload that serves a version
    declaring one more decision gives a document that has it (built once per load, not once per process)."""
    folder = write_version(tmp_path, 0.3)
    with serving(workers=1, policy_roots=[str(tmp_path)], enable_admin=True) as c:
        decisions = lambda: c.get("/openapi.json").json()["components"]["schemas"]["Evaluation"]["properties"]["decisions"]["properties"]  # noqa: E731
        assert "follow_up_due" not in decisions()
        (folder / "decisions.yaml").write_text("apiVersion: regcode/v1\nkind: Decisions\ndecisions:\n"
                                               "  follow_up_due: {title: 回访日, type: date, combine: min, default: null}\n",
                                               encoding="utf-8")
        reply = c.post("/v1/admin/reload")
        assert reply.status_code == 200, reply.text
        assert decisions()["follow_up_due"] == {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "title": "回访日"}

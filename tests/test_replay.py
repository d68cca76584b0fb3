"""`regcode replay` on logs the service wrote: after a one-parameter change it reports exactly the affected decisions;
lines it cannot replay are reported with their place and the rest are replayed; rotated logs are read in order."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine import Catalog, dump_json
from regcode.cli.replay import rotated
from regcode.engine.replay import replay, to_text as replay_text
from regcode.service.decisionlog import DecisionLog

from conftest import generator
from servekit import JSONL, one_parameter_version, serving


def cli(*args):
    return CliRunner().invoke(regcode, list(args))


def decide_all(log, cases, **settings):
    with serving(workers=2, decision_log=str(log), **settings) as c:
        reply = c.post("/v1/evaluate/batch", params={"explain": "none"}, content="\n".join(map(dump_json, cases)).encode(), headers=JSONL)
        assert reply.status_code == 200 and reply.json()["failed"] == 0
        return reply.json()["results"]


def test_replay_after_a_one_parameter_change_reports_exactly_the_affected_decisions(tmp_path):
    log = tmp_path / "decisions.log"
    results = decide_all(log, list(generator.generate(60, seed=21)))
    # the parameter is the credit-mode sampling share: the decisions it touches are those in credit mode
    credit = {r["decision_id"] for r in results if r["decisions"]["supervision_mode"] == "credit"}
    assert credit and len(credit) < len(results)
    root = tmp_path / "policies"
    one_parameter_version(root, 0.3)

    report = replay(Catalog([root]), [str(log)])
    assert (report["read"], report["replayed"], report["skipped"]) == (60, 60, [])
    assert [a["version"] for a in report["against"]] == ["2017-b"]
    assert {c["decision_id"] for c in report["changed"]} == credit
    assert report["unchanged"] == 60 - len(credit)
    for change in report["changed"]:
        assert change["policy"]["old"]["version"] == "2017" and change["policy"]["new"]["version"] == "2017-b"
        assert change["diffs"] == [{"decision": "inspection_sampling_ratio_min", "old": 0.2, "new": 0.3,
                                    "rules": ["inspections-credit-twenty-percent"]}]
    assert report["changes"] == [{"decision": "inspection_sampling_ratio_min", "old": 0.2, "new": 0.3, "count": len(credit),
                                  "rules": ["inspections-credit-twenty-percent"], "decision_ids": [c["decision_id"] for c in report["changed"]]}]

    text = cli("replay", str(log), "--policy-root", str(root))
    assert text.exit_code == 0
    assert "60 changed" not in text.stdout and f"{len(credit)} changed, {60 - len(credit)} unchanged" in text.stdout
    assert f"inspection_sampling_ratio_min: 0.2 -> 0.3  in {len(credit)} decision(s)  [now by: inspections-credit-twenty-percent]" in text.stdout
    assert json.loads(cli("replay", str(log), "--policy-root", str(root), "--format", "json").stdout) == report
    assert cli("replay", str(log), "--policy-root", str(root), "--fail-on-change").exit_code == 1
    same = replay(Catalog([root]), [str(log)], version="2017")     # forcing the logged version changes nothing
    assert same["changed"] == [] and same["unchanged"] == 60


def test_lines_that_cannot_be_replayed_are_reported_in_place_and_the_rest_replayed(tmp_path):
    log = tmp_path / "decisions.log"
    decide_all(log, list(generator.generate(3, seed=2)))
    lines = log.read_text(encoding="utf-8").splitlines()
    tampered = json.loads(lines[1])
    tampered["input"]["enterprise"]["name"] = "changed after the fact"
    private = json.loads(lines[2])
    del private["input"]
    log.write_text("\n".join([lines[0], dump_json(tampered), dump_json(private), lines[0][:40]]) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert (report["read"], report["replayed"], report["unchanged"]) == (4, 1, 1)
    assert [(s["source"], s["errors"][0]["code"]) for s in report["skipped"]] == [
        (f"{log}:2", "replay.hash"), (f"{log}:3", "replay.no_input"), (f"{log}:4", "replay.syntax")]
    result = cli("replay", str(log))
    assert result.exit_code == 1 and f"{log}:4:" in result.stdout and ": replay.syntax: invalid JSON: " in result.stdout


def test_a_log_written_without_inputs_is_one_error_naming_the_servers_option(tmp_path):
    """Nothing replayed is nothing checked: exit 1, with or without --fail-on-change, said once with the fix."""
    log = tmp_path / "decisions.log"
    decide_all(log, list(generator.generate(2, seed=4)), log_input=False)
    for flags in ((), ("--fail-on-change",)):
        result = cli("replay", str(log), *flags)
        assert result.exit_code == 1 and result.stdout == "", result.output
        assert result.stderr.splitlines() == [
            f"{log}: replay.nothing_replayed: nothing to replay in {log}: all 2 logged decisions were logged without "
            "their input (only the hash, input_sha256), so there is nothing to evaluate again (the server ran with "
            "--decision-log-input none, which keeps only the hash of each input; run it with --decision-log-input full "
            "(the default) for a log that can be replayed)"]
    machine = cli("replay", str(log), "--format", "json")
    assert machine.exit_code == 1 and [e["code"] for e in json.loads(machine.stderr)["errors"]] == ["replay.nothing_replayed"]


def test_a_line_without_its_input_beside_replayed_ones_is_reported_and_no_failure(tmp_path, two_lines):
    log = tmp_path / "decisions.log"
    private = {k: v for k, v in two_lines[0].items() if k != "input"}
    log.write_text(dump_json(private) + "\n" + dump_json(two_lines[1]) + "\n", encoding="utf-8")
    result = cli("replay", str(log))
    assert result.exit_code == 0 and "replayed 1 of 2" in result.stdout and f"{log}:1: replay.no_input" in result.stdout
    assert result.stderr == ""


def test_a_log_none_of_whose_lines_could_be_replayed_fails_with_the_report_and_why(tmp_path, two_lines):
    log = tmp_path / "decisions.log"
    private = {k: v for k, v in two_lines[0].items() if k != "input"}
    late = {**two_lines[1], "as_of": "2030-01-01"}     # no version in force
    log.write_text(dump_json(private) + "\n" + dump_json(late) + "\n", encoding="utf-8")
    result = cli("replay", str(log), "--fail-on-change")
    assert result.exit_code == 1 and "replayed 0 of 2" in result.stdout
    assert f"{log}:1: replay.no_input" in result.stdout and f"{log}:2: select.no_version_in_force" in result.stdout
    assert result.stderr.splitlines() == [
        f"{log}: replay.nothing_replayed: not one of the 2 logged decisions of {log} could be replayed (1 replay.no_input, "
        "1 select.no_version_in_force) (for the lines logged without their input: the server ran with --decision-log-input "
        "none, which keeps only the hash of each input; run it with --decision-log-input full (the default) for a log "
        "that can be replayed)"]


def test_rotated_logs_are_replayed_oldest_first(tmp_path):
    log = tmp_path / "decisions.log"
    results = decide_all(log, list(generator.generate(12, seed=9)), log_max_bytes=6000, log_keep=20)
    files = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("decisions.log"))
    assert len(files) > 2
    report = json.loads(cli("replay", str(log), "--with-rotated", "--format", "json").stdout)
    assert report["replayed"] == 12 and report["files"] == sorted(str(tmp_path / name) for name in files)
    read = rotated(str(log))         # the order they are read in
    assert read[-1] == str(log) and read[0].endswith(f".{len(files) - 1}")
    ordered = [json.loads(line)["decision_id"] for f in read for line in open(f, encoding="utf-8")]
    assert ordered == [r["decision_id"] for r in results]


def test_decision_log_rotates_by_size_and_keeps_at_most_n_files(tmp_path):
    path = tmp_path / "d.log"
    log = DecisionLog(path, max_bytes=100, keep=3)
    size = rotations = 0
    for n in range(40):
        line = dump_json({"n": n, "pad": "x" * 20})
        log.write(line)
        if size and size + len(line) + 1 > 100:     # the rule: a line that would overflow starts a new file
            rotations, size = rotations + 1, 0
        size += len(line) + 1
    log.close()
    assert log.rotations == rotations and rotations > 3
    kept = [path.with_name("d.log.3"), path.with_name("d.log.2"), path.with_name("d.log.1"), path]
    assert all(p.exists() for p in kept) and not path.with_name("d.log.4").exists()
    numbers = [json.loads(line)["n"] for p in kept for line in p.read_text(encoding="utf-8").splitlines()]
    assert numbers == list(range(40 - len(numbers), 40))      # whole lines, in order, the newest kept
    assert all(p.stat().st_size <= 100 for p in kept)


def test_a_partial_last_line_left_by_a_crash_is_ended_before_the_next_line(tmp_path):
    path = tmp_path / "d.log"
    path.write_bytes(b'{"n":1}\n{"n":2,"half')
    log = DecisionLog(path)
    log.write(dump_json({"n": 3}))
    log.close()
    assert path.read_bytes() == b'{"n":1}\n{"n":2,"half\n{"n":3}\n'


def test_decision_log_takes_the_workers_bytes_as_they_are_and_text_encoded(tmp_path):
    path = tmp_path / "d.log"
    log = DecisionLog(path)
    log.write(dump_json({"n": "一"}).encode("utf-8"))    # what a worker sends
    log.write(dump_json({"n": "二"}))
    log.close()
    assert path.read_bytes() == '{"n":"一"}\n{"n":"二"}\n'.encode("utf-8")


def test_a_line_past_the_length_bound_is_refused_without_stopping_the_replay(tmp_path, monkeypatch):
    from regcode.engine import replay as replay_module

    log = tmp_path / "decisions.log"
    decide_all(log, list(generator.generate(2, seed=6)))
    first, second = log.read_text(encoding="utf-8").splitlines()
    log.write_text("\n".join([first, "x" * 5000, second]) + "\n", encoding="utf-8")
    monkeypatch.setattr(replay_module, "MAX_LINE_BYTES", 4000)
    report = replay(Catalog(), [str(log)])
    assert report["replayed"] == 2 and [(s["source"], s["errors"][0]["code"]) for s in report["skipped"]] == [(f"{log}:2", "replay.too_large")]


def test_a_decision_the_new_version_adds_or_drops_is_listed_apart_not_counted_as_a_change(tmp_path):
    """The worked amendment adds `online_monitoring_required` and drops `revoke_quality_awards` (its only rule is
    removed): every logged decision lacks the one and has the other, and neither is a changed value."""
    from conftest import REPO
    log = tmp_path / "decisions.log"
    cases = [json.loads(json.dumps(__import__("yaml").safe_load((REPO / "examples" / "cases" / name).read_text(encoding="utf-8")),
                                   default=str)) for name in ("aa-clean.yaml", "c-class-triggers.yaml")]
    decide_all(log, cases)
    report = replay(Catalog([REPO / "examples" / "amendment" / "policies"]), [str(log)], version="2022-illustration")
    assert report["decisions_added"] == ["online_monitoring_required"]
    assert report["decisions_removed"] == ["revoke_quality_awards"]
    assert report["changes"] == [] and report["unchanged"] == 2
    assert report["removed_values"] == {"revoke_quality_awards": [{"count": 1, "value": False}, {"count": 1, "value": True}]}   # the C enterprise held awards
    assert "no longer has decision revoke_quality_awards (logged as false in 1, true in 1): not compared" in replay_text(report)


def test_fail_on_change_fails_when_the_version_replayed_against_adds_or_drops_a_decision(tmp_path):
    """No compared value changes against the worked amendment, but the systems reading the log lose
    `revoke_quality_awards` and get `online_monitoring_required`: --fail-on-change exits 1 for that alone."""
    from conftest import REPO
    log = tmp_path / "decisions.log"
    case = json.loads(json.dumps(__import__("yaml").safe_load((REPO / "examples" / "cases" / "aa-clean.yaml").read_text(encoding="utf-8")),
                                 default=str))
    decide_all(log, [case])
    args = ["replay", str(log), "--policy-root", str(REPO / "examples" / "amendment" / "policies"), "--policy-version"]
    amended = cli(*args, "2022-illustration", "--fail-on-change")
    assert "0 changed, 1 unchanged" in amended.stdout and "no longer has decision revoke_quality_awards" in amended.stdout
    assert amended.exit_code == 1, amended.output
    assert cli(*args, "2022-illustration").exit_code == 0          # without the flag it is a report, not a failure
    assert cli(*args, "2017", "--fail-on-change").exit_code == 0   # the logged version: same decisions, nothing to fail on


def test_a_file_that_is_not_a_decision_log_is_one_error_not_a_line_per_line(tmp_path):
    notes = tmp_path / "case.yaml"
    notes.write_text("as_of: 2019-06-30\nenterprise:\n  name: x\n", encoding="utf-8")
    result = cli("replay", str(notes))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "replay.not_a_log: no line of" in result.stderr and "3 lines" in result.stderr
    assert result.stdout == ""


def test_a_batch_out_file_is_said_to_be_no_decision_log_not_lines_logged_without_input(tmp_path):
    from conftest import REPO
    out = tmp_path / "results.jsonl"
    assert cli("batch", str(REPO / "examples" / "cases"), "--out", str(out)).exit_code == 0
    result = cli("replay", str(out), "--fail-on-change")
    assert result.exit_code == 1 and result.stdout == "" and "--decision-log-input" not in result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{out}: replay.not_a_log: not a decision log: the lines of {out} are `regcode batch`/`eval` "
                           "outputs (5 of 5 lines have `decisions` and `policy` but not the `input`, `input_sha256`")


def test_an_output_line_or_a_reply_among_logged_decisions_is_reported_at_its_line(tmp_path, two_lines):
    output = {k: two_lines[0][k] for k in ("as_of", "decisions", "policy", "source")}
    reply = {**output, "decision_id": two_lines[0]["decision_id"], "rules_fired": 11}     # what /v1/evaluate answers
    log = tmp_path / "decisions.log"
    log.write_text("".join(dump_json(e) + "\n" for e in (output, two_lines[1], reply)), encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert report["replayed"] == 1
    assert [(s["source"], s["errors"][0]["code"]) for s in report["skipped"]] == [(f"{log}:1", "replay.eval_output"),
                                                                                  (f"{log}:3", "replay.eval_output")]
    assert cli("replay", str(log)).exit_code == 1


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/mem"), reason="needs Linux's /proc")
def test_a_log_that_cannot_be_read_is_one_located_error_not_an_internal_one(tmp_path):
    result = cli("replay", "/proc/self/mem")          # a regular file whose read(2) is EIO
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == ["/proc/self/mem: replay.io: cannot read the log: Input/output error (check that "
                                          "it is the decision log and readable; the replay stopped, with no report)"]


def test_a_log_that_fails_part_way_is_one_error_at_the_line_it_could_not_read(tmp_path, two_lines, monkeypatch):
    import errno
    import io
    from regcode.engine import replay as replay_module

    log = tmp_path / "decisions.log"
    log.write_text("".join(dump_json(e) + "\n" for e in two_lines), encoding="utf-8")

    class Failing(io.BytesIO):
        def readline(self, size=-1):
            if self.tell():          # the first line is read; the disk fails under the second
                raise OSError(errno.EIO, "Input/output error")
            return super().readline(size)

    monkeypatch.setattr(replay_module, "open", lambda path, mode: Failing(log.read_bytes()), raising=False)
    result = cli("replay", str(log))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [f"{log}:2:1: replay.io: cannot read the log past line 1: Input/output error "
                                          "(the replay stopped, with no report; a copy of the lines that can be read "
                                          "(`head -n 1 FILE`) can be replayed)"]


def test_a_fifo_or_a_device_given_as_the_log_is_refused_not_read_forever(tmp_path):
    import os
    pipe = tmp_path / "decisions.log"
    os.mkfifo(pipe)
    for log, kind in ((pipe, "a FIFO (named pipe)"), ("/dev/zero", "a device")):
        result = cli("replay", str(log))
        assert result.exit_code == 1 and "replay.not_a_file" in result.stderr, result.output
        assert f"this is {kind}, not a decision log" in result.stderr


def test_a_line_logged_before_asked_was_logged_names_both_fixes_when_no_version_is_in_force(tmp_path):
    """A line without `asked` (an older regcode) whose as_of no version covers: whether its version was asked
    for by name is not known, so the hint names both --policy-version (it is here) and the --policy-root."""
    log = tmp_path / "decisions.log"
    decide_all(log, list(generator.generate(1, seed=3)))
    entry = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    entry["as_of"] = "2023-01-01"        # what the service logged for `version=2017&as_of=2023-01-01`: as_of is not hashed
    del entry["asked"]
    log.write_text(dump_json(entry) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    (skipped,) = report["skipped"]
    (issue,) = skipped["errors"]
    assert issue["code"] == "select.no_version_in_force"
    assert (issue["location"]["file"], issue["location"]["line"]) == (str(log), 1)
    assert f"--policy-version {entry['policy']['version']}" in issue["hint"] and "--policy-root" in issue["hint"]
    result = cli("replay", str(log))
    assert result.exit_code == 1 and "--policy-version 2017" in result.stdout
    result = cli("replay", str(log), "--policy-version", entry["policy"]["version"])
    assert result.exit_code == 0 and "replayed 1 of 1" in result.stdout, result.stdout


def _case(name: str) -> dict:
    from conftest import REPO
    import yaml
    return json.loads(json.dumps(yaml.safe_load((REPO / "examples" / "cases" / name).read_text(encoding="utf-8")), default=str))


def test_each_log_line_records_the_policy_and_version_the_request_asked_for(tmp_path):
    log = tmp_path / "decisions.log"
    case = dump_json(_case("aa-clean.yaml")).encode()
    with serving(workers=1, decision_log=str(log)) as c:
        for params in ({}, {"version": "2017"}, {"policy": "shanghai-post-license", "version": "2017", "as_of": "2019-07-01"}):
            assert c.post("/v1/evaluate", params={"explain": "none", **params}, content=case).status_code == 200
    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [e["asked"] for e in lines] == [{"policy": None, "version": None}, {"policy": None, "version": "2017"},
                                           {"policy": "shanghai-post-license", "version": "2017"}]
    for e in lines:     # extended, not renamed: every field the line had is still there
        assert {"decision_id", "time", "policy", "input_sha256", "input", "as_of", "decisions", "rules_fired", "explain",
                "regcode_version", "source"} <= set(e)


def test_a_decision_made_with_a_version_asked_for_by_name_is_replayed_against_that_version(tmp_path):
    """`version=2017&as_of=2022-06-01` on a server with the amendment: 2017 decided it, though 2022-illustration
    is in force on that date. Replayed by date it would be a false change; replayed as asked, it is unchanged."""
    from conftest import REPO
    root = REPO / "examples" / "amendment" / "policies"
    log = tmp_path / "decisions.log"
    with serving(workers=1, decision_log=str(log), policy_roots=[root]) as c:
        reply = c.post("/v1/evaluate", params={"as_of": "2022-06-01", "version": "2017", "explain": "none"},
                       content=dump_json(_case("aa-clean.yaml")).encode())
        assert reply.status_code == 200 and reply.json()["policy"]["version"] == "2017"
    report = replay(Catalog([root]), [str(log)])
    assert (report["replayed"], report["unchanged"], report["changed"], report["skipped"]) == (1, 1, [], [])
    assert [a["version"] for a in report["against"]] == ["2017"]
    assert report["asked_by_name"] == [{"id": "shanghai-post-license", "version": "2017", "count": 1}]
    assert report["decisions_added"] == report["decisions_removed"] == []
    result = cli("replay", str(log), "--policy-root", str(root), "--fail-on-change")
    assert result.exit_code == 0, result.output
    assert "1 decision(s) asked for shanghai-post-license@2017 by name" in result.stdout
    forced = replay(Catalog([root]), [str(log)], version="2022-illustration")   # --policy-version still wins
    assert forced["against"][0]["version"] == "2022-illustration" and forced["asked_by_name"] == []


# (how the logged version was chosen, the query, the as_of the line is given, the code, in the hint, not in the hint)
MISSING_VERSION_HINTS = [
    ("by date, the version not in the roots", {}, "2022-06-01", "select.no_version_in_force",
     "chosen by its date, which the policies replayed against do not have: replay with the --policy-root where "
     "shanghai-post-license@2022-illustration lives", "--policy-version"),
    ("by name, the version not in the roots", {"version": "2022-illustration"}, "2019-06-30", "select.unknown_version",
     "replay with the --policy-root where shanghai-post-license@2022-illustration lives", "--policy-version"),
]


@pytest.mark.parametrize("query,as_of,code,hint,not_hint", [m[1:] for m in MISSING_VERSION_HINTS], ids=[m[0] for m in MISSING_VERSION_HINTS])
def test_a_logged_version_the_roots_lack_is_found_with_the_policy_root_whether_asked_by_name_or_by_date(tmp_path, query, as_of, code, hint, not_hint):
    from conftest import REPO
    root = REPO / "examples" / "amendment" / "policies"
    log = tmp_path / "decisions.log"
    with serving(workers=1, decision_log=str(log), policy_roots=[root]) as c:
        reply = c.post("/v1/evaluate", params={"as_of": as_of, "explain": "none", **query}, content=dump_json(_case("aa-clean.yaml")).encode())
        assert reply.json()["policy"]["version"] == "2022-illustration"
    report = replay(Catalog(), [str(log)])      # without the service's --policy-root
    (skipped,) = report["skipped"]
    (issue,) = skipped["errors"]
    assert (issue["code"], issue["location"]["file"], issue["location"]["line"]) == (code, str(log), 1)
    assert hint in issue["hint"] and not_hint not in issue["hint"]
    again = replay(Catalog([root]), [str(log)])     # following the hint replays it
    assert (again["replayed"], again["skipped"]) == (1, [])


def test_a_version_chosen_by_date_that_is_here_with_another_window_says_the_roots_differ(tmp_path, two_lines):
    log = tmp_path / "decisions.log"
    log.write_text(dump_json({**two_lines[0], "as_of": "2023-01-01"}) + "\n", encoding="utf-8")
    (issue,) = replay(Catalog(), [str(log)])["skipped"][0]["errors"]
    assert issue["code"] == "select.no_version_in_force"
    assert "chosen by its date, but 2017 here is in force 2017-05-01 .. 2022-04-30" in issue["hint"]
    assert "--policy-root the service ran with" in issue["hint"]


def _two_policy_log(tmp_path):
    """Two decisions of the shipped policy, then one logged as the toy policy's (its input is not a toy case)."""
    log = tmp_path / "decisions.log"
    decide_all(log, list(generator.generate(2, seed=8)))
    lines = log.read_text(encoding="utf-8").splitlines()
    toy = json.loads(lines[0])
    toy["policy"] = {"id": "toy", "version": "1", "content_hash": "0"}
    toy["decision_id"] = "toy-decision"      # a decision of its own: an id is unique to its decision
    log.write_text("\n".join(lines + [dump_json(toy)]) + "\n", encoding="utf-8")
    return log


def test_a_policy_version_no_policy_of_the_log_has_is_one_error_at_the_option_not_one_per_line(tmp_path):
    from conftest import TEST_POLICIES
    from regcode.engine.catalog import SelectionError
    log = _two_policy_log(tmp_path)
    result = cli("replay", str(log), "--policy-root", str(TEST_POLICIES), "--policy-version", "2099")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "--policy-version: select.unknown_version: shanghai-post-license has no version `2099`; versions: 2017 "
        "(a version in a folder of your own needs --policy-root DIR)",
        "--policy-version: select.unknown_version: toy has no version `2099`; versions: 1 "
        "(a version in a folder of your own needs --policy-root DIR)",
        "2 problems"]
    shipped_only = cli("replay", str(log), "--policy-version", "2099", "--format", "json")  # toy unknown here: said per line
    assert shipped_only.exit_code == 1 and shipped_only.stdout == ""
    assert [e["location"]["path"] for e in json.loads(shipped_only.stderr)["errors"]] == ["--policy-version"]
    with pytest.raises(SelectionError):
        replay(Catalog([TEST_POLICIES]), [str(log)], version="2099")


def test_a_policy_version_one_policy_of_the_log_has_replays_its_lines_and_names_the_others(tmp_path):
    from conftest import TEST_POLICIES
    log = _two_policy_log(tmp_path)
    report = replay(Catalog([TEST_POLICIES]), [str(log)], version="2017")
    assert (report["replayed"], report["unchanged"]) == (2, 2)
    assert [(s["source"], s["errors"][0]["code"]) for s in report["skipped"]] == [(f"{log}:3", "select.unknown_version")]


BROKEN_POLICIES = [   # (what is wrong, the version folder's policy.yaml, the one code said once)
    ("a manifest without its window", "effective_fro: 2030-01-01\n", "select.broken_version"),
    ("a base that does not exist", "effective_from: 2030-01-01\nextends: shanghai-post-license@1999\n", "compile.extends"),
]


@pytest.mark.parametrize("manifest,code", [b[1:] for b in BROKEN_POLICIES], ids=[b[0] for b in BROKEN_POLICIES])
def test_a_policy_that_cannot_be_read_or_compiled_is_one_error_not_one_per_line(tmp_path, manifest, code):
    log = tmp_path / "decisions.log"
    decide_all(log, list(generator.generate(3, seed=8)))
    dated = [{**json.loads(line), "as_of": "2030-06-30"} for line in log.read_text(encoding="utf-8").splitlines()]
    log.write_text("".join(dump_json(entry) + "\n" for entry in dated), encoding="utf-8")   # in the new version's window
    version = tmp_path / "policies" / "shanghai-post-license" / "2030"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: shanghai-post-license\nversion: '2030'\n"
                                         "title: broken\nsource: {number: none, issuer: tests, date: 2029-01-01}\n" + manifest, encoding="utf-8")
    for forced in ((), ("--policy-version", "2030")):
        result = cli("replay", str(log), "--policy-root", str(tmp_path / "policies"), *forced)
        assert result.exit_code == 1 and result.stdout == "", result.output
        assert result.stderr.count(f": {code}: ") == 1, result.stderr


def test_a_log_whose_policies_none_of_the_roots_has_is_one_error_not_one_per_line(tmp_path):
    """Replaying with the wrong --policy-root: not one line's policy is known, which is said once, with the lines counted."""
    from regcode.engine.catalog import SelectionError
    log = _two_policy_log(tmp_path)
    lines = log.read_text(encoding="utf-8").splitlines()
    only_toy = tmp_path / "toy.log"
    toys = [dump_json({**json.loads(lines[2]), "decision_id": f"toy-{n}"}) for n in range(3)]
    only_toy.write_text("\n".join(toys + ["not json"]) + "\n", encoding="utf-8")
    result = cli("replay", str(only_toy))
    assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"{only_toy}: select.unknown_policy: the log's decisions are of `toy` (3 lines), which the policies replayed "
        "against do not have; known: shanghai-post-license (replay with the --policy-root the service ran with)"]
    with pytest.raises(SelectionError):
        replay(Catalog(), [str(only_toy)])
    mixed = replay(Catalog(), [str(log)])      # one line of a policy the roots have: the others are said per line
    assert (mixed["replayed"], [s["errors"][0]["code"] for s in mixed["skipped"]]) == (2, ["select.unknown_policy"])


# ---- a line whose fields are not what the service writes -------------------------------------------
@pytest.fixture(scope="module")
def two_lines(tmp_path_factory):
    """Two decision-log lines as the service writes them (parsed)."""
    log = tmp_path_factory.mktemp("log") / "decisions.log"
    decide_all(log, list(generator.generate(2, seed=5)))
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _set(entry: dict, path: str, value) -> dict:
    """`entry` with the field at `path` (dotted) set to `value`, or removed when `value` is DROP."""
    entry = json.loads(json.dumps(entry))
    *parents, key = path.split(".")
    target = entry
    for p in parents:
        target = target[p]
    if value is DROP:
        del target[key]
    else:
        target[key] = value
    return entry


DROP = object()
WRONG_TYPES = [20190630, True, None, [1], {}]
# (field, values that are not what the service writes there, the code, a fragment of the message)
LINE_MUTATIONS = (
    [("as_of", v, "replay.field", "as_of is not a") for v in WRONG_TYPES]
    + [("as_of", DROP, "replay.field", "the line has no `as_of`")]
    + [("as_of", "2019-02-30", "replay.field", 'as_of is not a date (YYYY-MM-DD): "2019-02-30" (February 2019 has 28 days)'),
       ("as_of", "2019-6-30", "replay.field", 'as_of is not a date (YYYY-MM-DD): "2019-6-30" (the form is YYYY-MM-DD)'),
       ("as_of", "2019-06-30T00:00:00", "replay.field", 'as_of is not a date (YYYY-MM-DD): "2019-06-30T00:00:00" (the form is YYYY-MM-DD)'),
       ("as_of", "", "replay.field", 'as_of is not a date (YYYY-MM-DD): ""')]
    + [("policy.id", v, "replay.field", "policy.id is not a string") for v in [["x"], 7, False, None, {}]]
    + [("policy.id", DROP, "replay.field", "the line has no `policy.id`")]
    + [("policy.version", v, "replay.field", "policy.version is not a string") for v in [2017, ["2017"], None, {}]]
    + [("policy.content_hash", v, "replay.field", "policy.content_hash is not a string") for v in [1, [], {}, None]]
    + [("policy", v, "replay.field", "policy is not an object") for v in ["x", [1], 3, None]]
    + [("decisions", v, "replay.field", "decisions is not an object") for v in ["x", [1], 3, None]]
    + [("decision_id", v, "replay.field", "decision_id is not a non-empty string") for v in [1, [1], {}, None, ""]]
    + [("decision_id", DROP, "replay.field", "the line has no `decision_id`")]
    + [("input_sha256", v, "replay.field", "input_sha256 is not a string") for v in [1, [1], {}, True, None]]
    + [("input_sha256", DROP, "replay.field", "the line has no `input_sha256`")]
    + [("rules_fired", v, "replay.field", "rules_fired is not a list of rule ids") for v in [1, "rule", {}, [1], [["a"]], True]]
    + [("asked", v, "replay.field", "asked is not an object") for v in ["2017", [1], 3, None]]
    + [("asked.version", v, "replay.field", "asked.version is not a string or null") for v in [2017, ["2017"], {}, True]]
    + [("asked.policy", v, "replay.field", "asked.policy is not a string or null") for v in [1, ["x"], {}, False]]
    + [("time", v, "replay.field", "time is not a time stamp (a string)") for v in [5, ["t"], {}, None]]
    + [("regcode_version", v, "replay.field", "regcode_version is not a string") for v in [1, [], None]]
    + [("explain", v, "replay.field", "explain is not one of none, decisive, full") for v in ["bogus", "", 1, None, True]]
)


@pytest.mark.parametrize("path,value,code,fragment", LINE_MUTATIONS,
                         ids=[f"{m[0]}={'drop' if m[1] is DROP else json.dumps(m[1])}" for m in LINE_MUTATIONS])
def test_a_field_of_the_wrong_type_is_reported_at_its_line_and_the_rest_replayed(tmp_path, two_lines, path, value, code, fragment):
    log = tmp_path / "bad.log"
    log.write_text(dump_json(_set(two_lines[0], path, value)) + "\n" + dump_json(two_lines[1]) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert (report["read"], report["replayed"], report["unchanged"]) == (2, 1, 1)
    (skipped,) = report["skipped"]
    (issue,) = skipped["errors"]
    assert (skipped["source"], issue["code"]) == (f"{log}:1", code)
    assert fragment in issue["message"] and issue["hint"]
    assert (issue["location"]["file"], issue["location"]["line"], issue["location"]["path"]) == (str(log), 1, path)
    result = cli("replay", str(log))
    assert result.exit_code == 1 and "Traceback" not in result.output and "internal error" not in result.output
    assert f"bad.log:1: {code}: {fragment}" in result.stdout and "replayed 1 of 2" in result.stdout


@pytest.fixture(scope="module")
def lines_by_mode(tmp_path_factory):
    """--decision-log-input mode -> one decision-log line the service wrote in that mode (parsed)."""
    out = {}
    for mode, log_input in (("full", True), ("none", False)):
        log = tmp_path_factory.mktemp(f"log-{mode}") / "decisions.log"
        decide_all(log, list(generator.generate(1, seed=7)), log_input=log_input)
        (out[mode],) = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return out


# what a line of each --decision-log-input mode is read as, as the service wrote it: (mode, code or None: replayed)
AS_LOGGED = [("full", None), ("none", "replay.no_input")]


@pytest.mark.parametrize("mode,code", AS_LOGGED, ids=[m[0] for m in AS_LOGGED])
def test_a_line_of_either_input_mode_is_read_as_the_service_wrote_it(tmp_path, two_lines, lines_by_mode, mode, code):
    assert ("input" in lines_by_mode[mode]) == (mode == "full")
    assert {"decision_id", "input_sha256"} <= set(lines_by_mode[mode])     # what both modes write
    log = tmp_path / "decisions.log"
    log.write_text(dump_json(lines_by_mode[mode]) + "\n" + dump_json(two_lines[1]) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert [s["errors"][0]["code"] for s in report["skipped"]] == ([code] if code else [])
    assert cli("replay", str(log)).exit_code == 0


# a field every line has, whatever its mode, dropped from a line of each mode: damaged, not read as that mode's line
DROPPED_BY_MODE = [(mode, field) for mode, _ in AS_LOGGED for field in ("decision_id", "input_sha256")]


@pytest.mark.parametrize("mode,field", DROPPED_BY_MODE, ids=[f"{m}-without-{f}" for m, f in DROPPED_BY_MODE])
def test_a_line_without_what_its_mode_writes_is_damaged_not_replayed_quietly(tmp_path, two_lines, lines_by_mode, mode, field):
    damaged = _set(lines_by_mode[mode], field, DROP)
    if "input" in damaged:      # an input altered after the fact: without its hash nothing tells it from the logged one
        damaged["input"]["enterprise"]["name"] = "changed after the fact"
    log = tmp_path / "decisions.log"
    log.write_text("".join(dump_json(e) + "\n" for e in (damaged, damaged, two_lines[1])), encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert (report["read"], report["replayed"], report["changed"], report["warnings"]) == (3, 1, [], [])
    assert [(s["source"], [(e["code"], e["message"], e["location"]["path"]) for e in s["errors"]]) for s in report["skipped"]] == [
        (f"{log}:{n}", [("replay.field", f"the line has no `{field}`", field)]) for n in (1, 2)]
    result = cli("replay", str(log), "--format", "json")
    assert result.exit_code == 1 and json.loads(result.stdout)["replayed"] == 1


@pytest.mark.parametrize("edit,said", [
    (lambda d: {"classification": d["classification"]}, "`decisions` lacks aa_commitment_accepted, aa_commitment_barred_until, "),
    (lambda d: {k: v for k, v in d.items() if k != "violations"}, "`decisions` lacks violations, though the line was logged"),
    (lambda d: {**d, "clasification": "a"}, "`decisions` holds clasification, which it does not declare"),
], ids=["one decision left", "one decision lost", "one decision more"])
def test_a_line_whose_decisions_are_not_those_of_the_version_that_logged_it_is_damaged_not_a_change(tmp_path, two_lines, edit, said):
    """Logged by the very version replayed against (its content hash), a line's decisions are that version's:
    one lost or added was altered, and is said at its line, not summed into 'the version adds decisions'."""
    entry = json.loads(json.dumps(two_lines[0]))
    entry["decisions"] = edit(entry["decisions"])
    log = tmp_path / "bad.log"
    log.write_text(dump_json(entry) + "\n" + dump_json(two_lines[1]) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert (report["replayed"], report["unchanged"], report["decisions_added"], report["decisions_removed"]) == (1, 1, [], [])
    (skipped,) = report["skipped"]
    (issue,) = skipped["errors"]
    assert issue["code"] == "replay.field" and said in issue["message"] and issue["location"]["path"] == "decisions", issue


def _cut(raw: bytes, after: bytes, more: int = 0) -> bytes:
    """`raw` cut `more` bytes past the first `after` in it."""
    return raw[:raw.index(after) + len(after) + more]


def _first_wide(raw: bytes) -> int:
    """Where the first character of more than one byte starts in UTF-8 `raw`."""
    return next(i for i, b in enumerate(raw) if b >= 0xC0)


OPENED = ("at the string left open", lambda text: text.rindex('"') + 1)    # the last quote before the cut opened it
AT_END = ("where the line ends", lambda text: len(text) + 1)
CUT_SHORT_LAST = "a crash can leave the last line partial; the other lines are replayed"
CUT_SHORT_MIDDLE = "which the service ends before it writes the next; the other lines are replayed"
ALTERED = "the line was altered or damaged; the other lines are replayed"
# (what, where the line is in its file, the line from a logged one, message fragment, column (what, of the line's
# readable text), hint fragment): worded as batch words a JSONL record's syntax, the hint fitting where it is
BAD_LINES = [
    ("cut in a string, in the middle", "middle", lambda raw: _cut(raw, b'"decision_id":"', 5),
     "invalid JSON: the line ends inside a string (opened here): the logged decision is cut short", OPENED, CUT_SHORT_MIDDLE),
    ("cut in a string, last", "last", lambda raw: _cut(raw, b'"decision_id":"', 5),
     "invalid JSON: the line ends inside a string (opened here): the logged decision is cut short", OPENED, CUT_SHORT_LAST),
    ("cut after a comma, in the middle", "middle", lambda raw: _cut(raw, b'"version":null},'),
     "invalid JSON: Expecting property name enclosed in double quotes: the line ends before the logged decision is "
     "complete (is it cut short?)", AT_END, CUT_SHORT_MIDDLE),
    ("cut after a key, last", "last", lambda raw: _cut(raw, b'"decisions":'),
     "invalid JSON: Expecting value: the line ends before the logged decision is complete (is it cut short?)", AT_END, CUT_SHORT_LAST),
    ("cut in a character of more than one byte, last", "last", lambda raw: raw[:_first_wide(raw) + 1],
     "invalid JSON: the line ends inside a string (opened here): the logged decision is cut short", OPENED, CUT_SHORT_LAST),
    ("two objects on one line", "middle", lambda raw: raw + raw,
     "invalid JSON: Extra data", ("where the second starts", lambda text: len(text) // 2 + 1), ALTERED),
    ("a whole line, then the first byte of a character", "middle", lambda raw: raw + "申".encode()[:1],
     "not a JSON line: a partial UTF-8 character follows its JSON", AT_END, "the service writes UTF-8 and one JSON object a line: " + ALTERED),
    ("a whole line, then the first byte of a character, last", "last", lambda raw: raw + "申".encode()[:2],
     "not a JSON line: a partial UTF-8 character follows its JSON", AT_END, "the service writes UTF-8 and one JSON object a line: " + ALTERED),
    ("a byte that is not UTF-8", "middle", lambda raw: b"\xff" + raw,
     "the line is not UTF-8: byte 0xff here is not part of a UTF-8 character", ("at the byte", lambda text: 1),
     "the service writes UTF-8: " + ALTERED),
]


@pytest.mark.parametrize("where,make,fragment,column,hint", [b[1:] for b in BAD_LINES], ids=[b[0] for b in BAD_LINES])
def test_a_line_that_is_not_one_json_object_is_said_so_at_its_line_and_column(tmp_path, two_lines, where, make, fragment, column, hint):
    good = [dump_json(e).encode() for e in two_lines]
    bad = make(dump_json(two_lines[0]).encode())
    assert _first_wide(good[0]) > 0         # the generated case holds Chinese text
    log = tmp_path / "decisions.log"
    log.write_bytes(b"\n".join([good[0], bad, good[1]] if where == "middle" else good + [bad]))   # a crash: no newline
    line = 2 if where == "middle" else 3
    report = replay(Catalog(), [str(log)])
    assert (report["read"], report["replayed"]) == (3, 2)
    (skipped,) = report["skipped"]
    (issue,) = skipped["errors"]
    col = column[1](bad.decode("utf-8", "ignore"))
    assert (issue["code"], issue["location"]["line"], issue["location"]["column"]) == ("replay.syntax", line, col), issue
    assert issue["message"].startswith(fragment) and hint in issue["hint"], issue
    assert "last line" not in issue["hint"] or where == "last"
    result = cli("replay", str(log))
    assert result.exit_code == 1
    assert f"  ! {log}:{line}{f':{col}' if col > 1 else ''}: replay.syntax: {fragment}" in result.stdout, result.stdout


def test_a_bom_at_the_start_of_a_log_is_read_as_batch_reads_it(tmp_path, two_lines):
    """A log saved by an editor that writes a UTF-8 BOM: each file's first line is read without it, as batch reads JSONL."""
    logs = []
    for n, entry in enumerate(two_lines):
        log = tmp_path / f"decisions-{n}.log"
        log.write_bytes(b"\xef\xbb\xbf" + dump_json(entry).encode() + b"\n")
        logs.append(str(log))
    report = replay(Catalog(), logs)
    assert (report["read"], report["replayed"], report["unchanged"], report["skipped"]) == (2, 2, 2, [])
    assert cli("replay", *logs).exit_code == 0
    batch = tmp_path / "cases.jsonl"        # what batch does with a BOM'd JSONL
    batch.write_bytes(b"\xef\xbb\xbf" + dump_json(two_lines[0]["input"]).encode() + b"\n")
    assert cli("batch", str(batch), "--out", str(tmp_path / "out.jsonl")).exit_code == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_nan_or_infinity_in_a_line_is_no_json_not_a_change_every_time(tmp_path, two_lines, constant):
    log = tmp_path / "bad.log"
    first = dump_json(two_lines[0]).replace('"applicable":true', f'"applicable":{constant}', 1)    # a decision
    assert constant in first
    log.write_text(first + "\n" + dump_json(two_lines[1]) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert report["changed"] == [] and report["replayed"] == 1
    assert [(s["source"], s["errors"][0]["code"]) for s in report["skipped"]] == [(f"{log}:1", "replay.syntax")]
    assert f"{constant} is not a JSON value" in report["skipped"][0]["errors"][0]["message"]


def test_a_case_of_the_wrong_kind_under_input_is_the_case_files_problem_at_its_line(tmp_path, two_lines):
    from regcode.engine.replay import input_sha256
    log = tmp_path / "bad.log"
    entry = {**two_lines[0], "input": [1], "input_sha256": input_sha256([1])}
    log.write_text(dump_json(entry) + "\n" + dump_json(two_lines[1]) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert report["replayed"] == 1 and [(s["source"], s["errors"][0]["code"]) for s in report["skipped"]] == [(f"{log}:1", "input.schema")]


# ---- a decision read twice ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def changing_log(tmp_path_factory):
    """A log of 8 decisions and a root whose version changes the credit-mode ones: (log, root, report)."""
    where = tmp_path_factory.mktemp("changing")
    log = where / "decisions.log"
    decide_all(log, list(generator.generate(8, seed=2)))     # the first is in credit mode: its line is doubled below
    root = where / "policies"
    one_parameter_version(root, 0.3)
    report = replay(Catalog([root]), [str(log)])
    assert report["changed"] and report["unchanged"] and not report.get("warnings")
    return log, root, report


def _counts(report: dict) -> tuple:
    return report["read"], report["replayed"], report["unchanged"], len(report["changed"]), [g["count"] for g in report["changes"]]


def test_the_same_log_given_twice_is_read_once_and_said_so(changing_log):
    log, root, once = changing_log
    twice = replay(Catalog([root]), [str(log), str(log)])
    assert _counts(twice) == _counts(once) and twice["files"] == [str(log)]
    assert [(w["code"], w["message"]) for w in twice["warnings"]] == [("replay.same_file", f"{log} is given twice: read once")]
    result = cli("replay", str(log), str(log), "--policy-root", str(root))
    assert result.exit_code == 0 and f"warning: {log}: replay.same_file" in result.stdout
    assert "replayed 8 of 8 logged decisions" in result.stdout
    link = log.with_name("link.log")
    if not link.exists():
        link.symlink_to(log)
    other_name = replay(Catalog([root]), [str(log), str(link)])
    assert _counts(other_name) == _counts(once)
    assert [w["message"] for w in other_name["warnings"]] == [f"{link} is the file {log} again: read once"]


def test_a_line_logged_twice_is_counted_once_and_warned_of_at_its_line(tmp_path, changing_log):
    log, root, once = changing_log
    doubled = tmp_path / "doubled.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    doubled.write_text("\n".join(lines + lines[:3]) + "\n", encoding="utf-8")
    report = replay(Catalog([root]), [str(doubled)])
    assert _counts(report) == _counts(once)
    assert len({c["decision_id"] for c in report["changed"]}) == len(report["changed"])
    ids = [json.loads(line)["decision_id"] for line in lines[:3]]
    assert [(w["code"], w["location"]["line"]) for w in report["warnings"]] == [("replay.duplicate", n) for n in (9, 10, 11)]
    assert [w["message"] for w in report["warnings"]] == [
        f"decision {d} was read at {doubled}:{n} already: the same line again, counted once" for d, n in zip(ids, (1, 2, 3))]
    result = cli("replay", str(doubled), "--policy-root", str(root))
    assert result.exit_code == 0 and f"warning: {doubled}:9: replay.duplicate: decision {ids[0]}" in result.stdout
    assert "3 warning(s)" in result.stdout.splitlines()[0]


def test_two_different_lines_with_one_decision_id_are_a_problem_at_the_second(tmp_path, two_lines):
    log = tmp_path / "decisions.log"
    other = {**two_lines[1], "decision_id": two_lines[0]["decision_id"]}
    log.write_text("".join(dump_json(e) + "\n" for e in (two_lines[0], other)), encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert (report["read"], report["replayed"], report["warnings"]) == (2, 1, [])
    (skipped,) = report["skipped"]
    assert (skipped["source"], skipped["errors"][0]["code"]) == (f"{log}:2", "replay.duplicate_id")
    assert f"is logged at {log}:1 too, with other content" in skipped["errors"][0]["message"]
    assert cli("replay", str(log)).exit_code == 1


# (decision, the value logged in place of what the version decides: equal to it by Python's ==, another JSON value)
OTHER_JSON_TYPES = [("interview_required", 0), ("applicable", 1), ("applicable", 1.0), ("inspections_per_year_min", 2.0),
                    ("inspection_sampling_ratio_min", 1)]


@pytest.mark.parametrize("decision,logged", OTHER_JSON_TYPES, ids=[f"{d}={json.dumps(v)}" for d, v in OTHER_JSON_TYPES])
def test_a_logged_value_of_another_json_type_is_a_changed_decision(tmp_path, two_lines, decision, logged):
    """A logged `0` replayed as `false` (or `2.0` as `2`) is what a system reading the log got, and no longer gets:
    a change, though False == 0 and 2 == 2.0 in Python."""
    entry = json.loads(json.dumps(two_lines[0]))
    now = entry["decisions"][decision]
    assert now == logged and json.dumps(now) != json.dumps(logged)      # the case in point
    entry["decisions"][decision] = logged
    log = tmp_path / "decisions.log"
    log.write_text(dump_json(entry) + "\n" + dump_json(two_lines[1]) + "\n", encoding="utf-8")
    report = replay(Catalog(), [str(log)])
    assert (report["replayed"], report["unchanged"], report["skipped"]) == (2, 1, [])
    [change] = report["changes"]
    assert (change["decision"], change["count"], change["decision_ids"]) == (decision, 1, [entry["decision_id"]])
    assert json.dumps(change["old"]) == json.dumps(logged) and json.dumps(change["new"]) == json.dumps(now)
    result = cli("replay", str(log), "--fail-on-change")
    assert result.exit_code == 1 and f"  {decision}: {json.dumps(logged)} -> {json.dumps(now)}  in 1 decision(s)" in result.stdout


def test_an_empty_log_is_one_error_not_a_replay_of_nothing(tmp_path):
    """Replaying nothing checks nothing: an empty log (the wrong file, a rotation just done) is exit 1 with what to
    give, with or without --fail-on-change, not `replayed 0 of 0 ... against nothing` and exit 0."""
    log = tmp_path / "decisions.log"
    log.write_bytes(b"")
    for extra in ([], ["--fail-on-change"]):
        result = cli("replay", str(log), *extra)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert f"{log}: replay.empty: no logged decision in {log}: the file is empty" in result.stderr, result.stderr


def test_the_report_does_not_depend_on_the_order_the_logs_are_given_in(tmp_path):
    """A log cut in three, given in every order: the same report, to the byte, in JSON and text. Each part holds
    changed decisions, two hold a damaged line, one a line logged twice."""
    import itertools
    log = tmp_path / "decisions.log"
    decide_all(log, list(generator.generate(12, seed=11)))
    root = tmp_path / "policies"
    one_parameter_version(root, 0.3)
    once = replay(Catalog([root]), [str(log)])
    changed = {c["decision_id"] for c in once["changed"]}
    lines = log.read_text(encoding="utf-8").splitlines()
    moved = [line for line in lines if json.loads(line)["decision_id"] in changed]
    assert len(moved) >= 3
    kept = [line for line in lines if line not in moved]
    parts = [moved[n::3] + kept[n::3] for n in range(3)]      # dealt round, the changed ones first
    parts[0].append(parts[0][0])                 # logged twice: warned of
    parts[1].insert(0, "{")                       # damaged: not replayed
    parts[2].append(parts[2][0][:50])
    logs = []
    for n, part in enumerate(parts):
        logs.append(str(tmp_path / f"part{n}.log"))
        Path(logs[-1]).write_text("\n".join(part) + "\n", encoding="utf-8")
    outputs = {fmt: {cli("replay", *order, "--policy-root", str(root), "--format", fmt).stdout
                     for order in itertools.permutations(logs)} for fmt in ("json", "text")}
    assert [len(o) for o in outputs.values()] == [1, 1], outputs
    (report,) = [json.loads(o) for o in outputs["json"]]
    assert _counts(report) == (14, 12, once["unchanged"], len(changed), [len(changed)])
    assert [c["decision_id"] for c in report["changed"]] == report["changes"][0]["decision_ids"] == sorted(changed)
    assert report["files"] == sorted(logs)
    assert [s["source"] for s in report["skipped"]] == [f"{logs[1]}:1", f"{logs[2]}:{len(parts[2])}"]
    assert [(w["code"], w["location"]["file"]) for w in report["warnings"]] == [("replay.duplicate", logs[0])]

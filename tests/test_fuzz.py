"""Fuzz tests (hypothesis), bounded in examples and in time per run: arbitrary case files (YAML and JSON),
mutated policy files and mixed batches never give exit 3, a traceback, or a lost record."""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regcode.cli import commands  # noqa: F401
from regcode.cli.main import regcode
from regcode.engine import Catalog, PolicyError, evaluate_case
from regcode.engine.corpus import Record, parse_record

from conftest import TEST_POLICIES, bounded
from toycases import toy_case

RUN_BOUND = 30          # seconds per run: generous for a shared machine; hangs (alias bombs did 37 s) still fail
EXAMPLES = int(os.environ.get("REGCODE_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
TOY = ["--policy-root", str(TEST_POLICIES), "--policy", "toy"]


def invoke(*args):
    with bounded(RUN_BOUND):
        result = CliRunner().invoke(regcode, [str(a) for a in args])
    assert result.exit_code in (0, 1), (result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output[-2000:]
    return result


# ---- arbitrary values and strings ----------------------------------------------------------------
ANY_CHAR = st.characters(exclude_categories=())          # surrogates, controls, unassigned: everything
TEXT = st.text(ANY_CHAR, max_size=12) | st.sampled_from(["2020-06-30", "2019-02-30", "浦东新区", "", "&a", "*a", "!!int", "<<"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(1 << 70), max_value=1 << 70)
           | st.floats(allow_nan=True, allow_infinity=True) | TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=20)


def _into_case(value, where: int, key: str) -> object:
    """A plausible case with `value` planted somewhere (or the value alone as the whole file)."""
    case = toy_case(where)
    spot = where % 5
    if spot == 0:
        return value
    if spot == 1:
        case[key] = value
    elif spot == 2:
        case["applicant"][key] = value
    elif spot == 3:
        case["vehicles"] = [value]
    else:
        case["as_of"] = value
    return case


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogatepass"))   # lone surrogates reach the file as raw (invalid) bytes


@FUZZ
@given(value=VALUES, where=st.integers(0, 999), key=TEXT, ascii_only=st.booleans())
def test_any_json_case_file_gives_exit_0_or_1(value, where, key, ascii_only):
    case = _into_case(value, where, key)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.json"
        _write(path, json.dumps(case, ensure_ascii=ascii_only, allow_nan=True))
        result = invoke("eval", *TOY, "--format", "json", path)
        if result.exit_code == 0:
            json.loads(result.stdout).items()
            result.stdout.encode("utf-8")


@FUZZ
@given(value=VALUES, where=st.integers(0, 999), key=TEXT, unicode=st.booleans())
def test_any_yaml_case_file_gives_exit_0_or_1(value, where, key, unicode):
    case = _into_case(value, where, key)
    try:
        text = yaml.safe_dump(case, allow_unicode=unicode)
    except (yaml.YAMLError, UnicodeError):
        return   # PyYAML cannot write it; nothing to read back
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.yaml"
        _write(path, text)
        invoke("eval", *TOY, path)


SNIPPETS = ["&a [*a]", "*nope", "!!python/object:os.system", "!!timestamp 2019-06-30", "!!binary aGk=", "\x00", "\x07",
            "\ud800", '"\\ud800"', '"\\ud83d\\ude00"', "9" * 60, ".inf", ".nan", "[" * 80, "{" * 80, "? [a]\n: b", "<<: *x",
            "&x {k: v}\nother: {<<: *x}", "a: b\na: c", "---\n---", "%YAML 1.1\n", "\t", "- - - -", "'unterminated",
            "=", "~", "0x" + "f" * 30, "2019-02-30", "\ufeff", "\u2028"]


@FUZZ
@given(snippet=st.sampled_from(SNIPPETS) | st.text(ANY_CHAR, max_size=20), position=st.integers(0, 10_000),
       cut=st.integers(0, 40), repeat=st.integers(1, 3))
def test_any_edit_of_a_case_file_gives_exit_0_or_1(snippet, position, cut, repeat):
    base = (TEST_POLICIES.parent / "fixtures" / "cases" / "toy-busy.yaml").read_text(encoding="utf-8")
    at = position % (len(base) + 1)
    text = base[:at] + snippet * repeat + base[at + cut:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.yaml"
        _write(path, text)
        invoke("eval", *TOY, path)


POLICY_FILES = sorted(rel for rel in (p.relative_to(TEST_POLICIES / "toy" / "1") for p in (TEST_POLICIES / "toy" / "1").rglob("*.yaml"))
                      if rel.parts[0] != "tests")
REF_SNIPPETS = ["$ref: 'http://127.0.0.1:9/x.json'", "$ref: 'file:///etc/passwd'", "$ref: '#/$defs/none'", "$ref: '../x.yaml'",
                "$id: http://evil/", "$ref: 'https://regcode.dev/schemas/v1/operators#/$defs/op'"]


@FUZZ
@given(file=st.sampled_from(POLICY_FILES), snippet=st.sampled_from(SNIPPETS + REF_SNIPPETS) | st.text(ANY_CHAR, max_size=20),
       position=st.integers(0, 100_000), cut=st.integers(0, 30), line_wise=st.booleans())
def test_any_edit_of_a_policy_file_gives_exit_0_or_1(file, snippet, position, cut, line_wise):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "policies"
        shutil.copytree(TEST_POLICIES / "toy", root / "toy")
        shutil.rmtree(root / "toy" / "1" / "tests")
        path = root / "toy" / "1" / file
        text = path.read_text(encoding="utf-8")
        if line_wise:   # a whole line, indented like its neighbour: edits that still parse reach validate and compile
            lines = text.splitlines(keepends=True)
            i = position % len(lines)
            indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
            lines.insert(i, indent + snippet + "\n")
            if cut % 3 == 0:
                del lines[(i + 1 + cut) % len(lines)]
            text = "".join(lines)
        else:
            at = position % (len(text) + 1)
            text = text[:at] + snippet + text[at + cut:]
        _write(path, text)
        invoke("validate", "--format", "json", root / "toy" / "1")
        invoke("eval", "--policy-root", root, "--policy", "toy", TEST_POLICIES.parent / "fixtures" / "cases" / "toy-busy.yaml")


# ---- a batch loses nothing: read = written + errors, good records in order ----------------------
BAD_LINES = {
    "invalid JSON": '{"as_of": "2020-06-30", ',
    "not an object": "[1, 2, 3]",
    "lone surrogate": '{"as_of": "2020-06-30", "applicant": {"name": "\\ud800", "district": "浦东新区"}}',
    "huge integer": '{"as_of": "2020-06-30", "applicant": {"name": "a", "district": "浦东新区", "employees": 1' + "0" * 30 + '}}',
    "NaN": '{"as_of": "2020-06-30", "applicant": {"name": "a", "district": "浦东新区", "employees": NaN}}',
    "1e400": '{"as_of": "2020-06-30", "applicant": {"name": "a", "district": "浦东新区", "employees": 1e400}}',
    "too deep": '{"as_of": "2020-06-30", "x": ' + "[" * 90 + "]" * 90 + "}",
    "schema error": '{"as_of": "2020-06-30", "applicant": {"name": "a", "district": "浦东新区", "employes": 3}}',
    "duplicate key": '{"as_of": "2020-06-30", "as_of": "2020-07-01", "applicant": {"name": "a", "district": "浦东新区"}}',
    "no as_of": '{"applicant": {"name": "a", "district": "浦东新区"}}',
    "date no version covers": '{"as_of": "2031-01-01", "applicant": {"name": "a", "district": "浦东新区"}}',
    "not UTF-8": b'{"as_of": "2020-06-30", "applicant": {"name": "\xff\xfe", "district": "\xe6\xb5"}}',
}


@pytest.fixture(scope="module")
def good_pool() -> list:
    """Toy cases known to evaluate (a few random ones conflict on purpose: they are not `good`)."""
    cat = Catalog([TEST_POLICIES])
    pool = []
    for seed in range(200):
        case = toy_case(seed)
        record = Record(f"pool:{seed}", seed, json.dumps(case, ensure_ascii=False))
        try:
            evaluate_case(cat, parse_record(record), "toy")
        except PolicyError:
            continue
        pool.append(json.dumps(case, ensure_ascii=False))
    assert len(pool) > 100
    return pool


for _kind, _line in BAD_LINES.items():   # every bad kind really is refused
    assert _line, _kind


MIXES = st.lists(st.one_of(st.tuples(st.just("good"), st.integers(0, 10_000)),
                           st.tuples(st.just("bad"), st.sampled_from(sorted(BAD_LINES))),
                           st.tuples(st.just("blank"), st.just(""))), min_size=1, max_size=40)


def _batch_property(mix, good_pool, jobs: int) -> None:
    lines, good_at, bad_at = [], [], []
    for n, (kind, what) in enumerate(mix, 1):
        if kind == "good":
            lines.append(good_pool[what % len(good_pool)].encode("utf-8"))
            good_at.append(n)
        elif kind == "bad":
            line = BAD_LINES[what]
            lines.append(line if isinstance(line, bytes) else line.encode("utf-8"))
            bad_at.append(n)
        else:
            lines.append(b"   ")    # blank: not a record, but it keeps its line number
    with tempfile.TemporaryDirectory() as tmp:
        source, out, err = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl", Path(tmp) / "err.jsonl"
        source.write_bytes(b"\n".join(lines) + b"\n")
        result = invoke("batch", source, "--out", out, "--errors", err, "--jobs", jobs, "--chunk", 3, "--format", "json", *TOY)
        summary = json.loads(result.stdout)
        written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        errors = [json.loads(line) for line in err.read_text(encoding="utf-8").splitlines()]
    assert summary["read"] == len(good_at) + len(bad_at) == len(written) + len(errors)
    assert [w["source"] for w in written] == [f"{source}:{n}" for n in good_at]      # the good ones, in input order
    assert [e["line"] for e in errors] == bad_at
    assert result.exit_code == (1 if bad_at else 0)


@FUZZ
@given(mix=MIXES)
def test_batch_reads_exactly_what_it_writes_plus_what_it_reports(mix, good_pool):
    _batch_property(mix, good_pool, jobs=1)


@settings(FUZZ, max_examples=max(3, EXAMPLES // 15))
@given(mix=MIXES)
def test_batch_with_two_workers_reads_exactly_what_it_writes_plus_what_it_reports(mix, good_pool):
    _batch_property(mix, good_pool, jobs=2)


def test_every_bad_line_of_the_property_is_refused_and_every_pool_case_is_not(good_pool):
    cat = Catalog([TEST_POLICIES])
    for kind, line in BAD_LINES.items():
        raw = line if isinstance(line, bytes) else line.encode("utf-8")
        try:
            record = Record("x:1", 1, raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            record = Record("x:1", 1, undecodable=exc.start)
        with pytest.raises(PolicyError):
            evaluate_case(cat, parse_record(record), "toy")
    rng = random.Random(1)
    for text in rng.sample(good_pool, 10):
        evaluate_case(cat, parse_record(Record("x:1", 1, text)), "toy")

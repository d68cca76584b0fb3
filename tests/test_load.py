"""The load stage on hostile text: every refusal is a located `load.*` issue, on libyaml and on the pure-Python fallback alike."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from regcode.engine import InputError, load
from regcode.engine.errors import IssueCollector

from conftest import REPO, bounded

PARSERS = sorted(load.PARSERS)


@pytest.fixture(params=PARSERS)
def parser(request, monkeypatch):
    monkeypatch.setattr(load, "PARSER", request.param)
    return request.param


def parse(text: str, file: str = "f.yaml"):
    issues = IssueCollector()
    doc = load.parse_text(text, file, issues)
    return doc, issues.issues


def only_issue(text: str):
    doc, issues = parse(text)
    assert doc is None or issues, "expected a refusal"
    assert len(issues) == 1, [str(i) for i in issues]
    return issues[0]


def alias_bomb(levels: int = 6, width: int = 10) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghij"[:levels - 1]:
        lines.append(f"{name}: &{name} [" + ", ".join(["*" + previous] * width) + "]")
        previous = name
    return "as_of: 2019-06-30\n" + "\n".join(lines) + "\n"


def test_libyaml_is_used_when_present():
    assert load.PARSER == "libyaml" and "libyaml" in load.PARSERS, "PyYAML here was built without libyaml"


ALL_YAML = sorted(p for base in ("policies", "tests/policies", "tests/fixtures", "examples", "schemas")
                  for p in (REPO / base).rglob("*.yaml"))


def test_both_parsers_give_the_same_documents_and_marks():
    assert len(ALL_YAML) > 40
    for path in ALL_YAML:
        text = path.read_text(encoding="utf-8")
        results = {}
        for name in PARSERS:
            issues = IssueCollector()
            doc = load.parse_text(text, str(path), issues, parser=name)
            results[name] = (doc.data if doc else None, doc.marks if doc else None, [str(i) for i in issues.issues])
        first = results[PARSERS[0]]
        for name in PARSERS[1:]:
            assert results[name] == first, f"{path}: {name} differs from {PARSERS[0]}"


def test_marks_count_characters_not_bytes(parser):
    doc, issues = parse("名称: {企业: 上海, 区: 嘉定区}\nlist:\n  - 第一\n  - {名: 二}\n")
    assert not issues
    assert doc.marks[("名称", "区")] == (1, 17)
    assert doc.marks[("list", 1, "名")] == (4, 9)


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1a", "\x1b", "\x7f", "\ufffe"])
def test_control_character_is_a_located_issue_not_an_internal_error(parser, char):
    issue = only_issue(f"as_of: 2019-06-30\nname: ab{char}cd\n")
    assert issue.code == "load.syntax"
    assert (issue.location.file, issue.location.line, issue.location.column) == ("f.yaml", 2, 9)
    assert f"U+{ord(char):04X}" in issue.message


def test_alias_bomb_is_refused_before_anything_is_expanded(parser):
    text = alias_bomb()
    assert len(text.encode()) < 400
    with bounded(10):   # it took 37 s and 3.1 GB; now the node graph is checked first (a hang guard, not a timing)
        issue = only_issue(text)
    assert issue.code == "load.alias"
    assert issue.location.line > 1 and issue.location.column > 1
    assert "1,111,111" in issue.message or "expand" in issue.message


def test_bigger_alias_bomb_is_refused_as_well(parser):
    with bounded(10):
        issue = only_issue(alias_bomb(levels=9, width=12))
    assert issue.code == "load.alias"


def test_aliases_within_the_budget_still_expand(parser):
    doc, issues = parse("base: &b {x: 1, y: [1, 2]}\nitems: [*b, *b, *b]\n")
    assert not issues
    assert doc.data["items"] == [{"x": 1, "y": [1, 2]}] * 3
    assert doc.marks[("items", 2, "y", 1)] == (1, 24)   # an alias's values carry the anchored node's marks


def test_a_merge_key_in_a_policy_file_is_refused_as_such_not_as_a_duplicate_key(parser):
    doc, issues = parse("base: &base {id: m1, title: t}\nrules:\n  - <<: *base\n    id: m2\n")
    assert [(i.code, i.location.line, i.location.column) for i in issues] == [("load.merge_key", 3, 5)]
    assert "merge keys (`<<`) are not supported in policy files" in issues[0].message
    assert "write the keys out" in issues[0].hint


MERGES = [   # (a case file's text, what it reads as): YAML 1.1 merge keys, a key written beside `<<` wins
    ("base: &b {x: 1, y: [1, 2]}\nmerged: {<<: *b, z: 3}\n", {"x": 1, "y": [1, 2], "z": 3}),
    ("base: &b {id: m1, x: 1}\nmerged:\n  <<: *b\n  id: m2\n", {"id": "m2", "x": 1}),
    ("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nmerged: {<<: [*a, *b], z: 3}\n", {"x": 1, "y": 2, "z": 3}),   # the earlier wins
    ("a: &a {x: 1}\nb: &b {<<: *a, x: 2}\nmerged: {<<: *b}\nagain: *b\n", {"x": 2}),   # a node reached twice
]


@pytest.mark.parametrize("text,merged", MERGES)
def test_a_merge_key_in_a_case_file_merges_and_a_written_key_overrides(parser, text, merged):
    issues = IssueCollector()
    doc = load.parse_text(text, "case.yaml", issues, merge_keys=True)
    assert not issues.issues, [str(i) for i in issues.issues]
    assert doc.data["merged"] == merged
    assert doc.data.get("again", merged) == merged


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate(parser):
    issues = IssueCollector()
    load.parse_text("a: &a {x: 1}\nm: {<<: *a, x: 5, x: 6}\n", "case.yaml", issues, merge_keys=True)
    assert [(i.code, i.location.line) for i in issues.issues] == [("load.duplicate_key", 2)]


def test_a_merge_of_something_not_a_mapping_is_located(parser):
    issues = IssueCollector()
    load.parse_text("m: {<<: 3}\n", "case.yaml", issues, merge_keys=True)
    assert [(i.code, i.location.line, i.location.column) for i in issues.issues] == [("load.value", 1, 9)]


@pytest.mark.parametrize("text", ["a: &x [1, *x]\n", "a: &x {k: *x}\n", "a: &x {<<: *x}\n", "a: &x [[[*x]]]\n"])
def test_recursive_alias_is_refused_not_a_recursion_error(parser, text):
    issue = only_issue(text)
    assert issue.code == "load.alias"
    assert "recursive" in issue.message and "recursion" not in issue.message
    assert issue.location.line == 1


@pytest.mark.parametrize("depth", [65, 200, 5000])
def test_nesting_past_the_bound_is_too_deep(parser, depth):
    issue = only_issue("x: " + "[" * depth + "]" * depth + "\n")
    assert "recursion" not in issue.message
    assert issue.code == "load.too_deep" and str(load.MAX_DEPTH) in issue.message   # libyaml's own bound too (5000)


def test_nesting_at_the_bound_is_fine(parser):
    depth = load.MAX_DEPTH - 1
    doc, issues = parse("x: " + "[" * depth + "]" * depth + "\n")
    assert not issues


@pytest.mark.parametrize("text,hint", [
    ("as_of: !!timestamp 2019-06-30\n", "YYYY-MM-DD"),
    ("x: !!binary aGVsbG8=\n", "remove the tag"),
    ("x: !!python/object/apply:os.system [echo]\n", "remove the tag"),
    ("x: !!set {a, b}\n", "remove the tag"),
    ("x: !custom 3\n", "remove the tag"),
])
def test_tags_beyond_plain_yaml_are_refused_with_a_hint_about_the_tag(parser, text, hint):
    issue = only_issue(text)
    assert issue.code == "load.tag"
    assert hint in issue.hint and "indentation" not in issue.hint
    assert "datetime" not in issue.message


@pytest.mark.parametrize("literal", ["9" * 5000, "9223372036854775808", "-9223372036854775809", "0x" + "f" * 17])
def test_integer_beyond_64_bits_is_out_of_range_not_a_python_message(parser, literal):
    issue = only_issue(f"x: {literal}\n")
    assert issue.code == "load.number"
    assert "out of range" in issue.message and "sys." not in issue.message and len(issue.message) < 300


def test_integers_at_the_64_bit_limits_load(parser):
    doc, issues = parse("a: 9223372036854775807\nb: -9223372036854775808\n")
    assert not issues and doc.data == {"a": (1 << 63) - 1, "b": -(1 << 63)}


@pytest.mark.parametrize("literal,code", [(".inf", "load.number"), ("-.inf", "load.number"), ("1.0e+400", "load.number"),
                                          (".nan", "load.nan")])
def test_infinite_and_nan_numbers_are_refused(parser, literal, code):
    assert only_issue(f"x: {literal}\n").code == code


def test_lone_surrogate_escape_is_refused_with_its_path(parser):
    issue = only_issue('enterprise: {name: "ab\\ud800"}\n')
    assert issue.code == "load.text"
    assert issue.location.path == "enterprise.name" and issue.location.line == 1
    issue.message.encode("utf-8")   # the message itself can be written out


def test_lone_surrogate_in_a_key_is_refused(parser):
    issue = only_issue('"\\udc00": 1\n')
    assert issue.code == "load.text"
    str(issue).encode("utf-8")


def test_escaped_surrogate_pair_is_the_character_it_encodes(parser):
    doc, issues = parse('{"name": "\\ud83d\\ude00", "n": 1}\n', "case.json")
    assert not issues and doc.data["name"] == "\U0001F600"
    assert doc.marks[("n",)] == (1, 31)


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "? {a: 1}\n: 1\n", "~: 1\n", "? &k [*k]\n: 1\n"])
def test_a_key_that_is_not_text_is_refused(parser, text):
    issue = only_issue(text)
    assert issue.code in ("load.key", "load.alias")


def test_plain_scalars_keep_their_json_types(parser):
    doc, issues = parse("d: 2019-06-30\nt: true\nn: null\ni: 0x1f\nf: 1.5\ns: '1'\nv: =\nm: <<\nk: {1: a, true: b}\n")
    assert not issues
    assert doc.data == {"d": "2019-06-30", "t": True, "n": None, "i": 31, "f": 1.5, "s": "1", "v": "=", "m": "<<",
                        "k": {"1": "a", "True": "b"}}


# Plain scalars whose YAML 1.1 reading (PyYAML's, regcode's) differs from YAML 1.2's core schema (the
# editor's, yaml-language-server): (as written, YAML 1.1, YAML 1.2, the number(s) the hint offers).
AMBIGUOUS = [
    ("yes", "true", 'the text "yes"', None), ("No", "false", 'the text "No"', None), ("ON", "true", 'the text "ON"', None),
    ("off", "false", 'the text "off"', None), ("010", "8", "10", "8 or 10"), ("-017", "-15", "-17", "-15 or -17"),
    ("1:30", "90", 'the text "1:30"', "90"), ("1:30.5", "90.5", 'the text "1:30.5"', "90.5"), ("0b101", "5", 'the text "0b101"', "5"),
    ("1_000", "1000", 'the text "1_000"', "1000"), ("-0x1F", "-31", 'the text "-0x1F"', "-31"), ("0o17", 'the text "0o17"', "15", "15"),
    ("08", 'the text "08"', "8", "8"), ("1e5", 'the text "1e5"', "100000.0", "100000.0"), ("1e20", 'the text "1e20"', "1.0e+20", "1.0e+20"),
    ("-.5", 'the text "-.5"', "-0.5", "-0.5"), ("2.5e3", 'the text "2.5e3"', "2500.0", "2500.0"),
]


@pytest.mark.parametrize("written,old,new,meant", AMBIGUOUS, ids=[a[0] for a in AMBIGUOUS])
def test_a_plain_scalar_read_differently_by_yaml_1_1_and_1_2_is_refused_at_its_place(parser, written, old, new, meant):
    issue = only_issue(f"a: 1\nrule: {{value: {written}}}\n")
    assert issue.code == "load.ambiguous_scalar"
    assert (issue.location.line, issue.location.column, issue.location.path) == (2, 15, "rule.value")
    assert issue.message.startswith(f"`{written}` unquoted means {old} in YAML 1.1, as regcode reads it, but {new} in YAML 1.2")
    assert f'quote it ("{written}")' in issue.hint
    assert (f"write the number as meant ({meant})" if meant else "write `true` or `false`") in issue.hint


@pytest.mark.parametrize("written", ["yes", "1:30", "010"])
def test_an_ambiguous_key_is_one_issue_at_the_key(parser, written):
    issue = only_issue(f"a: 1\n{written}: x\n")
    assert issue.code == "load.ambiguous_scalar" and (issue.location.line, issue.location.column) == (2, 1)


@pytest.mark.parametrize("text,data", [
    ('a: "yes"\n', "yes"), ("a: '010'\n", "010"), ('a: "1:30"\n', "1:30"), ("a: |-\n  yes\n", "yes"),
    ("a: !!str on\n", "on"), ("a: y\n", "y"), ("a: n\n", "n"), ("a: yEs\n", "yEs"), ("a: 07\n", 7), ("a: 00\n", 0), ("a: 0x1F\n", 31),
    ("a: +1\n", 1), ("a: 1.5e+3\n", 1500.0), ("a: .5\n", 0.5), ("a: 5.\n", 5.0), ("a: 09:30\n", "09:30"), ("a: 2019-06-30\n", "2019-06-30"),
    ("a: =\n", "="), ("a: true\n", True), ("a: FALSE\n", False), ("a: ~\n", None), ("a: 1.0e+20\n", 1e20),
])
def test_what_yaml_1_1_and_1_2_read_alike_loads(parser, text, data):
    """Quoted, block and explicitly tagged scalars say what they mean; `y`, `n` and `yEs` are text in PyYAML's 1.1
    as in 1.2, `07` is 7 and `0x1F` is 31 in both."""
    doc, issues = parse(text)
    assert not issues, [str(i) for i in issues]
    assert doc.data == {"a": data} and type(doc.data["a"]) is type(data)


def test_an_ambiguous_scalar_in_a_case_file_is_an_input_issue():
    """A case file gets the same refusal as a policy file (`food_related: yes` was silently true, `postcode: 010` 8)."""
    with pytest.raises(InputError) as raised:
        load.load_case_text("as_of: 2019-06-30\nenterprise: {food_related: yes, postcode: 010}\n", "case.yaml")
    found = [(i.code, i.location.line, i.location.column, i.location.path) for i in raised.value.issues]
    assert found == [("input.ambiguous_scalar", 2, 28, "enterprise.food_related"), ("input.ambiguous_scalar", 2, 43, "enterprise.postcode")]


def test_bad_explicit_scalar_is_a_value_issue(parser):
    issue = only_issue("x: !!int abc\n")
    assert issue.code == "load.value" and "!!int" in issue.message


def test_every_refused_document_is_json_serialisable_when_accepted(parser):
    """What load accepts, the output can always carry (no NaN, no surrogates, no big ints, no objects)."""
    doc, issues = parse("a: [1, 2.5, -0.0, '\\x00', \"\\u0000\", null, true, {b: c}]\n")
    assert not issues
    text = json.dumps(doc.data, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")


def test_case_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.write(b"as_of: 2019-06-30\nx: '")
        fh.truncate(load.MAX_CASE_BYTES + 10)
    with pytest.raises(InputError) as info:
        load.load_case_file(big)
    assert info.value.issues[0].code == "input.too_large"


def test_policy_file_over_the_size_limit_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.truncate(load.MAX_FILE_BYTES + 1)
    issues = IssueCollector()
    assert load.read_document(big, "big.yaml", issues) is None
    assert issues.issues[0].code == "load.too_large"


def test_case_text_over_the_size_limit_is_refused():
    with pytest.raises(Exception) as info:
        load.load_case_text("x" * (load.MAX_CASE_BYTES + 1), "<stdin>")
    assert info.value.issues[0].code == "input.too_large"


def test_check_value_refuses_what_json_parsing_lets_through():
    bad = {"a": "\ud800", "\udc01": 1, "big": 1 << 70, "nan": float("nan"), "inf": float("inf"),
           "deep": [[[]]], "ok": [1, "x", None, True, 2.5]}
    issues = load.check_value(bad, "c.jsonl", 3)
    codes = sorted((i.code, i.location.path) for i in issues)
    assert codes == [("input.key", "\\udc01"), ("input.number", "big"), ("input.number", "inf"), ("input.number", "nan"),
                     ("input.text", "a")]
    for issue in issues:
        str(issue).encode("utf-8")
        assert issue.location.line == 3
    deep = current = []
    for _ in range(load.MAX_DEPTH + 5):
        current.append([])
        current = current[0]
    assert [i.code for i in load.check_value({"d": deep}, "c.jsonl", 1)] == ["input.too_deep"]


@pytest.mark.parametrize("text", ['{"as_of": "2019-06-30",\n "enterprise": {', "a: [1, 2", "a: {b: 1", 'a: "x', "a:\n  - b\n c: d\n",
                                  "a: b: c\n", "- a\nb: c\n", "a: &x 1\nb: *y\n", "a:\n\tb: 1\n", "[1, 2,,]", "a: @x\n"])
def test_both_parsers_place_a_syntax_error_alike(text):
    places = set()
    for name in PARSERS:
        issues = IssueCollector()
        assert load.parse_text(text, "f.yaml", issues, parser=name) is None
        places.add(tuple((i.code, i.location.line, i.location.column) for i in issues.issues))
    assert len(places) == 1, places
    ((code, line, column),) = places.pop()
    assert code == "load.syntax" and 1 <= line <= text.count("\n") + 1


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r", "\u2028"])
def test_a_control_character_is_placed_by_yaml_line_breaks(parser, newline):
    issue = only_issue(newline.join(["a: 1", "b: 2", "c: x\x07"]) + newline)
    assert (issue.location.line, issue.location.column) == (3, 5)
    doc, issues = parse(newline.join(["a: 1", "b: 2", "c: [1"]))
    assert issues[0].location.line == 3


# ---- a policy file that is not a file: said, never skipped, never a hang ------------------------
def _toy_copy(tmp_path) -> Path:
    import shutil
    from conftest import TEST_POLICIES
    root = tmp_path / "policies"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    return root


def _make(path: Path, kind: str) -> None:
    import os
    import socket
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    path.unlink()
    if kind == "folder":
        path.mkdir()
        (path / "inner.yaml").write_text(text, encoding="utf-8")   # what it held, one level too deep
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()


@pytest.mark.parametrize("kind,said", [("folder", "a folder"), ("fifo", "a FIFO"), ("socket", "a socket")])
@pytest.mark.parametrize("entry", ["rules/fees.yaml", "parameters.yaml", "policy.yaml"])
def test_a_policy_file_replaced_by_a_folder_fifo_or_socket_is_a_load_error_not_skipped(tmp_path, monkeypatch, entry, kind, said):
    from click.testing import CliRunner
    from regcode.cli.main import regcode
    root = _toy_copy(tmp_path)
    target = root / "toy" / "1" / entry
    _make(target, kind)
    monkeypatch.chdir(tmp_path)
    shown = str(target.relative_to(tmp_path))
    for args in (["validate", "--policy-root", "policies"],
                 ["eval", "--policy-root", "policies", "--policy", "toy", str(REPO / "tests/fixtures/cases/toy-busy.yaml")]):
        with bounded(30):      # a FIFO opened for reading would block here
            result = CliRunner().invoke(regcode, args)
        assert result.exit_code == 1, result.output
        assert f"{shown}: load.not_a_file: this is {said}" in result.stderr, result.stderr
        assert "Traceback" not in result.output


def test_an_unreadable_policy_file_is_set_aside_and_named(tmp_path, monkeypatch):
    import os
    root = _toy_copy(tmp_path)
    target = root / "toy" / "1" / "rules" / "fees.yaml"
    real_open = os.open

    def denied(path, *args, **kw):        # what chmod 000 does to anyone but root (the suite may run as root)
        if Path(path) == target:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kw)
    monkeypatch.setattr(os, "open", denied)
    source = load.load_version(root / "toy" / "1")   # set aside (nothing in it can be read), reported with the rest
    [issue] = [i for i in source.carried if i.location.file.endswith("fees.yaml")]
    assert issue.code == "load.io" and "Permission denied" in issue.message and "chmod" in issue.hint


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root reads a file whatever its mode")
def test_a_policy_file_without_read_permission_is_set_aside_and_named(tmp_path):
    root = _toy_copy(tmp_path)
    target = root / "toy" / "1" / "rules" / "fees.yaml"
    target.chmod(0)
    try:
        source = load.load_version(root / "toy" / "1")
    finally:
        target.chmod(0o644)
    assert any(i.code == "load.io" and i.location.file.endswith("fees.yaml") for i in source.carried)


@pytest.mark.parametrize("pretty", [False, True])
@pytest.mark.parametrize("data", [{"b": [1, {"z": "非", "a": None}], "a": 1.5}, {2: "b", 1: "a non-text key"},
                                  {"big": 2 ** 70}, ["x", {}]], ids=["text keys", "int key", "big int", "list"])
def test_json_bytes_are_the_json_text_encoded(data, pretty):
    # dump_json_bytes skips the text, never changes a byte: orjson's text-keys fast path, its full option
    # set for other keys, and the standard library for what orjson refuses
    from regcode.engine import dump_json, dump_json_bytes
    assert dump_json_bytes(data, pretty) == dump_json(data, pretty).encode("utf-8")
    expected = json.dumps(data, ensure_ascii=False, sort_keys=True, **({"indent": 2} if pretty else {"separators": (",", ":")}))
    assert dump_json(data, pretty) == expected


@pytest.mark.parametrize("stopper,code", [
    ("decisions.yaml", "load.syntax"),       # a declarations file that does not parse
    ("rules/utf16.yaml", "load.encoding"),   # a file that is not UTF-8
], ids=["a declarations file that does not parse", "a UTF-16 file"])
def test_a_file_that_stops_the_load_hides_no_other_files_header_problems(tmp_path, stopper, code):
    """Beside a file that cannot be read, the others' problems are said in the same run: a file that is no policy
    file of a known kind (another apiVersion, a list) says so as validate would, not only the files whose kind is known."""
    root = _toy_copy(tmp_path)
    version = root / "toy" / "1"
    if stopper == "decisions.yaml":
        (version / stopper).write_text("apiVersion: regcode/v1\nkind: Decisions\ndecisions:\n  x: {title: x, type: bool\n",
                                       encoding="utf-8")
    else:
        (version / stopper).write_bytes("apiVersion: regcode/v1\nkind: Decisions\ndecisions: {}\n".encode("utf-16"))
    (version / "rules" / "kind.yaml").write_text("apiVersion: regcode/v2\nkind: Rules\nrules: []\n", encoding="utf-8")
    (version / "rules" / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(load.LoadError) as info:
        load.load_version(version)
    said = {(i.code, Path(i.location.file).name) for i in info.value.issues}
    assert {(code, Path(stopper).name), ("schema.api_version", "kind.yaml"), ("schema.type", "list.yaml")} <= said, said


# where a text too deep is refused: at the collection that crosses MAX_DEPTH, whoever's bound stopped the read (ours
# below libyaml's 1,000 levels, libyaml's or Python's recursion past it), not where the parser gave up
DEEP_TEXTS = {   # (text, line, column of the 65th level)
    "flow lists, past libyaml's bound": ("[" * 100_000, 1, 65),
    "flow mappings, past libyaml's bound": ("{" * 100_000, 1, 65),
    "within our bound's reach": ("[" * 70 + "]" * 70, 1, 65),
    "below block mappings, a quoted bracket and a comment passed over":
        ('a:\n  - b: "[[x" # [[[\n    c: {d: ' + "[" * 2000 + "\n", 3, 72),
}


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("text,line,column", DEEP_TEXTS.values(), ids=list(DEEP_TEXTS))
def test_a_text_too_deep_is_refused_where_the_bound_is_crossed(parser, text, line, column):
    found = IssueCollector()
    assert load.parse_text(text, "deep.yaml", found, parser) is None
    [issue] = found.issues
    assert (issue.code, issue.location.line, issue.location.column) == ("load.too_deep", line, column), issue


@pytest.mark.parametrize("text,line,column", [('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", 1, 70),
                                              ('{"a":\n [' + "{\"b\": [" * 40 + "]}" * 40 + "]}", 2, 220)])
def test_a_json_case_too_deep_is_refused_at_its_place(text, line, column):
    """The 65th level: past the reader's recursion (a RecursionError), or read and then walked (the `{` of the 32nd `{"b": [`)."""
    with pytest.raises(InputError) as info:
        load.load_case_text(text, "deep.json")
    [issue] = info.value.issues
    assert (issue.code, issue.location.line, issue.location.column) == ("input.too_deep", line, column), issue


def test_a_case_file_refused_for_a_value_level_problem_only_is_still_read():
    """load.SOFT: the InputError carries the document as read (`partial`), for its other problems to be said; a case
    file whose structure is broken carries none."""
    with pytest.raises(InputError) as raised:
        load.load_case_text("as_of: 2019-06-30\nenterprise: {food_related: yes, name: a, name: b}\n", "case.yaml")
    assert [i.code for i in raised.value.issues] == ["input.ambiguous_scalar", "input.duplicate_key"]
    assert raised.value.partial.data == {"as_of": "2019-06-30", "enterprise": {"food_related": True, "name": "b"}}
    with pytest.raises(InputError) as raised:
        load.load_case_text("as_of: 2019-06-30\nenterprise: {food_related: yes\n", "case.yaml")
    assert raised.value.partial is None


# ---- full-width punctuation where YAML needs its own (a Chinese input method's) ---------------------------------
# (text, line, column, what the message names, the fix the hint shows): said at the character, not where the parser
# gave up, and only in a text the parser refused
FULL_WIDTH = {
    "a full-width colon after a key": ("kind: Rules\nrules:\n  - id: x\n    article：第十条\n    title: t\n", 4, 12,
                                       "a full-width colon `：` (U+FF1A) where YAML needs `:`", "`article: 第十条`"),
    "ideographic spaces indenting a key": ("kind: Rules\nrules:\n  - id: x\n\u3000\u3000article: 第十条\n    title: t\n", 4, 1,
                                           "an ideographic space (U+3000) in the indentation: YAML indents with ASCII spaces",
                                           "ASCII spaces"),
    "an ideographic space after ASCII ones": ("rules:\n  - id: x\n  \u3000article: 第十条\n    title: t\n", 3, 3,
                                              "an ideographic space (U+3000) in the indentation", "ASCII spaces"),
    "a full-width comma in a flow mapping": ("claim: {decision: applicable，value: true}\n", 1, 29,
                                             "a full-width comma `，` (U+FF0C) where YAML needs `,`",
                                             "`claim: {decision: applicable, value: true}`"),
    "a full-width comma, the parser stopping a line later": ("when: {all: [{a: 1}，\n  {b: 2}]}\n", 1, 20,
                                                             "a full-width comma `，`", "`when: {all: [{a: 1},`"),
    "full-width brackets around a flow list": ("when: {all: 【{a: 1}, {b: 2}】}\n", 1, 13,
                                               "a full-width bracket `【` (U+3010) where YAML needs `[`",
                                               "`when: {all: [{a: 1}, {b: 2}]}`"),
    "full-width square brackets": ("when: {any: ［{a: 1}, {b: 2}］}\n", 1, 13,
                                   "a full-width bracket `［` (U+FF3B) where YAML needs `[`", "`when: {any: [{a: 1}, {b: 2}]}`"),
    "Chinese quotation marks around a text with a colon": ("title: “注: 见下”\n", 1, 8,
                                                           "a Chinese quotation mark `“` (U+201C) used as a quote, where YAML needs `\"`",
                                                           '`title: "注: 见下"`'),
}


@pytest.mark.parametrize("text,line,column,said,fix", FULL_WIDTH.values(), ids=list(FULL_WIDTH))
def test_full_width_punctuation_is_named_at_its_place_with_the_fix(parser, text, line, column, said, fix):
    issue = only_issue(text)
    assert (issue.code, issue.location.line, issue.location.column) == ("load.syntax", line, column), str(issue)
    assert said in issue.message and fix in issue.hint, str(issue)
    assert "mapping values" not in issue.message and "expected" not in issue.message


@pytest.mark.parametrize("text", ["title: 甲，乙：丙“丁”【戊】［己］\nnote: 本条第一款、第二款\n",
                                  "text: |\n  \u3000\u3000第十条　新获证企业，在取得生产许可证后两个月内：\n",
                                  "values: [甲，乙]\n"])
def test_full_width_punctuation_in_text_yaml_reads_is_chinese_and_loads(parser, text):
    doc, issues = parse(text)
    assert doc is not None and not issues


@pytest.mark.parametrize("text", ["title: 甲，乙：丙“丁”【戊】\na:\n\tb: 1\n", "title: 甲，乙：丙\nx: [1, 2\n",
                                  "text: |\n  \u3000\u3000第一条 甲，乙：丙\nx: {a: 1\n"])
def test_a_syntax_error_elsewhere_does_not_blame_the_chinese_punctuation_before_it(parser, text):
    issue = only_issue(text)
    assert issue.code == "load.syntax" and issue.location.line >= 2
    assert not any(word in issue.message for word in ("full-width", "ideographic", "quotation"))


def test_full_width_colon_in_a_yaml_case_file_is_an_input_issue_at_its_place():
    with pytest.raises(InputError) as raised:
        load.load_case_text("as_of: 2019-06-30\nenterprise:\n  name：甲\n  credit_code: x\n", "case.yaml")
    [issue] = raised.value.issues
    assert (issue.code, issue.location.line, issue.location.column) == ("input.syntax", 3, 7)
    assert "full-width colon" in issue.message and "`name: 甲`" in issue.hint


# ---- a .json policy file is JSON ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ['{"apiVersion": "regcode/v1", "kind": "Rules", "rules": [], }',    # YAML reads these
                                  "{'apiVersion': 'regcode/v1', 'kind': 'Rules', 'rules': []}",
                                  '{"apiVersion": "regcode/v1", "kind": "Rules", "rules": [] # a comment\n}',
                                  '{"apiVersion": "regcode/v1", kind: "Rules", "rules": []}'])
def test_a_json_policy_file_is_read_as_json_not_as_yaml(tmp_path, text):
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    found = IssueCollector()
    assert load.read_document(path, "r.json", found) is None
    [issue] = found.issues
    assert issue.code == "load.syntax" and issue.message.startswith("invalid JSON") and "(.json)" in issue.hint, issue
    yaml_too = IssueCollector()
    assert load.parse_text(text, "r.yaml", yaml_too) is not None and not yaml_too.issues   # what it would have passed as


def test_a_json_policy_file_keeps_multi_line_text_and_its_marks(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{\n\t"apiVersion": "regcode/v1", "kind": "Rules",\n  "note": "two\\nlines",\n  "rules": []\n}\n', encoding="utf-8")
    found = IssueCollector()
    doc = load.read_document(path, "r.json", found)
    assert not found.issues and doc.data["note"] == "two\nlines"
    spaced = tmp_path / "s.json"
    spaced.write_text('{"apiVersion": "regcode/v1",\n "kind": "Rules",\n "rules": [1]}\n', encoding="utf-8")
    assert load.read_document(spaced, "s.json", found).marks[("rules", 0)] == (3, 12)


def test_a_right_json_case_file_is_never_read_by_the_yaml_reader_and_a_wrong_one_is_placed(monkeypatch):
    """The YAML reader lends a JSON case file its line and column marks at about 25x the JSON reader's cost: it
    reads the text only when a place is first asked for, which a right case file never is; a wrong one's
    problems are placed as before, and its marks pickle (a worker's) as the plain mapping they are."""
    import pickle

    import yaml
    from regcode.engine import Catalog, evaluate_case
    cat = Catalog()
    cat.compiled(cat.choose("shanghai-post-license", "2019-06-30"))     # (its policy files are YAML: read before counting)
    calls = []
    real = load.parse_text
    monkeypatch.setattr(load, "parse_text", lambda *a, **k: calls.append(1) or real(*a, **k))
    case = yaml.safe_load((REPO / "examples" / "cases" / "aa-clean.yaml").read_text(encoding="utf-8"))
    text = json.dumps(case, ensure_ascii=False, default=str, indent=1)
    doc = load.load_case_text(text, "aa.json")
    assert evaluate_case(cat, doc, "shanghai-post-license")["decisions"]["classification"] == "aa"
    assert calls == []
    assert doc.location(("enterprise", "name")).line > 1 and calls == [1]       # read once asked, once only
    assert doc.key_location(("enterprise", "name")).line > 1 and calls == [1]
    assert pickle.loads(pickle.dumps(load.load_case_text(text, "aa.json").marks)) == dict(doc.marks.items())
    case["enterprise"]["name"] = 7
    with pytest.raises(InputError) as exc:
        evaluate_case(cat, load.load_case_text(json.dumps(case, ensure_ascii=False, default=str, indent=1), "bad.json"),
                      "shanghai-post-license")
    [issue] = exc.value.issues
    assert (issue.location.file, issue.location.path) == ("bad.json", "enterprise.name") and issue.location.line > 1

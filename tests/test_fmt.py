"""`regcode fmt`: the canonical layout of rules files keeps comments and flow style, never changes what a file
says, and is idempotent. (`make test` runs `regcode fmt --check` over the shipped policies.)"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcode.cli.main import regcode
from regcode.engine.errors import IssueCollector
from regcode.engine.fmt import format_text
from regcode.engine.load import parse_text

from conftest import REPO

MESSY = """\
# a file comment
kind: Rules
apiVersion: regcode/v1
rules:
  # the first rule, written in any order
  - then:
      - value: 1   # the claim
        decide: fee
    id: fee-base
    when: {op: '>=', path: applicant.employees, value: 3}
    # says why the article
    article: 第五条
    title: 'quoted title'
    note: >-
      A folded note that
      spans two lines.

  # ---- the next section
  - id: many-minor
    article: 第四条
    title: t
    when:
      expr:
        where: {all: [{value: minor, op: '==', path: inc.severity}, {not: {absent: inc.date}}]}
        as: inc
        count: incidents
      value: &limit 2
      op: '>'
    then: [{value: {months: 1, date_add: {path: as_of}}, decide: renewal_due}, {with: {plate: x}, derive: audit_trail}]
"""

CANONICAL = """\
# a file comment
apiVersion: regcode/v1
kind: Rules
rules:
  # the first rule, written in any order
  - id: fee-base
    # says why the article
    article: 第五条
    title: 'quoted title'
    note: >-
      A folded note that
      spans two lines.
    when: {path: applicant.employees, op: '>=', value: 3}
    then:
      - decide: fee
        value: 1   # the claim

  # ---- the next section
  - id: many-minor
    article: 第四条
    title: t
    when:
      expr:
        count: incidents
        as: inc
        where: {all: [{path: inc.severity, op: '==', value: minor}, {not: {absent: inc.date}}]}
      op: '>'
      value: &limit 2
    then: [{decide: renewal_due, value: {date_add: {path: as_of}, months: 1}}, {derive: audit_trail, with: {plate: x}}]
"""


def repo_rules_files():
    listed = subprocess.run(["git", "ls-files", "*.yaml"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    files = [REPO / f for f in listed
             if (data_of((REPO / f).read_text(encoding="utf-8")) or {}).get("kind") == "Rules"]
    assert len(files) >= 8
    return files


def data_of(text):
    doc = parse_text(text, "x.yaml", IssueCollector())
    return doc.data if doc is not None and isinstance(doc.data, dict) else None


def test_fmt_puts_keys_in_schema_order_and_keeps_comments_quotes_block_scalars_and_anchors():
    result = format_text(MESSY, "messy.yaml")
    assert not result.issues and not result.skipped
    assert result.formatted == CANONICAL


def test_fmt_is_idempotent():
    once = format_text(MESSY, "messy.yaml").formatted
    assert format_text(once, "messy.yaml").formatted == once
    for path in repo_rules_files():
        text = path.read_text(encoding="utf-8")
        formatted = format_text(text, str(path)).formatted
        assert format_text(formatted, str(path)).formatted == formatted, path


def test_fmt_never_changes_what_a_rules_file_says():
    assert data_of(format_text(MESSY, "m.yaml").formatted) == data_of(MESSY)
    for path in repo_rules_files():
        text = path.read_text(encoding="utf-8")
        assert data_of(format_text(text, str(path)).formatted) == data_of(text), path


def test_the_canonical_form_is_the_layout_the_shipped_rules_are_written_in():
    """fmt was designed to leave the current files as they are; a diff here is a drafting change to review."""
    changed = [p for p in repo_rules_files() if format_text(p.read_text(encoding="utf-8"), str(p)).changed]
    assert not [p for p in changed if "tests/policies" in str(p)], changed


def test_fmt_leaves_other_yaml_alone():
    for text in ("apiVersion: regcode/v1\nkind: Decisions\ndecisions: {a: {type: bool,   combine: any}}\n",
                 "as_of: 2020-01-01\napplicant: {name: x}\n", "- a list\n"):
        result = format_text(text, "other.yaml")
        assert result.skipped and not result.changed


@pytest.fixture
def messy_tree(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "messy.yaml").write_text(MESSY, encoding="utf-8")
    (tmp_path / "rules" / "canonical.yaml").write_text(CANONICAL, encoding="utf-8")
    (tmp_path / "decisions.yaml").write_text("apiVersion: regcode/v1\nkind: Decisions\ndecisions:   {}\n", encoding="utf-8")
    return tmp_path


def test_fmt_check_reports_and_changes_nothing_then_fmt_rewrites(messy_tree):
    runner = CliRunner()
    result = runner.invoke(regcode, ["fmt", "--check", str(messy_tree)])
    assert result.exit_code == 1
    assert "would reformat" in result.stdout and "messy.yaml" in result.stdout and "canonical.yaml" not in result.stdout
    assert (messy_tree / "rules" / "messy.yaml").read_text(encoding="utf-8") == MESSY
    result = runner.invoke(regcode, ["fmt", str(messy_tree)])
    assert result.exit_code == 0 and "reformatted" in result.stdout
    assert (messy_tree / "rules" / "messy.yaml").read_text(encoding="utf-8") == CANONICAL
    assert (messy_tree / "decisions.yaml").read_text(encoding="utf-8").endswith("decisions:   {}\n")
    assert runner.invoke(regcode, ["fmt", "--check", str(messy_tree)]).exit_code == 0
    assert not list(messy_tree.rglob(".*regcode-fmt")), "no temporary file is left behind"


def test_fmt_reports_a_file_that_does_not_parse_and_formats_the_others(messy_tree):
    (messy_tree / "rules" / "broken.yaml").write_text("apiVersion: regcode/v1\nkind: Rules\nrules: [\n", encoding="utf-8")
    result = CliRunner().invoke(regcode, ["fmt", str(messy_tree)])
    assert result.exit_code == 1
    assert "broken.yaml:4:1: load.syntax: YAML syntax error" in result.stderr
    assert "Traceback" not in result.output
    assert (messy_tree / "rules" / "messy.yaml").read_text(encoding="utf-8") == CANONICAL


QUOTED_SCALARS = """\
apiVersion: regcode/v1
kind: Rules
rules:
  - id: quoted
    article: 第二条
    title: t
    when: {all: [{path: a.b, op: '==', value: "yes"}, {path: a.c, op: in, value: ['010', "1:30", 'on']}, {path: a.d, op: '==', value: 1500.0}]}
    then: [{decide: d, value: 'no'}]
"""


def test_fmt_keeps_quoted_yes_010_and_1_30_quoted():
    """A value YAML 1.1 and 1.2 would read differently unquoted stays quoted: formatting never unquotes it."""
    result = format_text(QUOTED_SCALARS, "q.yaml")
    assert not result.issues and result.formatted == QUOTED_SCALARS


def test_fmt_refuses_an_unquoted_ambiguous_scalar_and_leaves_the_file(tmp_path):
    path = tmp_path / "r.yaml"
    text = QUOTED_SCALARS.replace('value: "yes"', "value: yes")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(regcode, ["fmt", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "r.yaml:7:47: load.ambiguous_scalar: `yes` unquoted means true in YAML 1.1" in result.stderr
    assert path.read_text(encoding="utf-8") == text


def test_fmt_names_a_path_that_does_not_exist():
    result = CliRunner().invoke(regcode, ["fmt", "--check", "no/such/place"])
    assert result.exit_code == 1 and "fmt.path" in result.stderr


def test_fmt_says_a_folder_or_fifo_named_like_a_rules_file_and_never_blocks_on_it(tmp_path):
    import os
    import shutil
    from conftest import TEST_POLICIES, bounded
    shutil.copy(TEST_POLICIES / "toy" / "1" / "rules" / "fees.yaml", tmp_path / "fees.yaml")
    (tmp_path / "more.yaml").mkdir()
    os.mkfifo(tmp_path / "pipe.yaml")
    with bounded(30):     # reading the FIFO would block until a writer came
        result = CliRunner().invoke(regcode, ["fmt", "--check", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert f"{tmp_path / 'more.yaml'}: load.not_a_file: this is a folder" in result.stderr
    assert f"{tmp_path / 'pipe.yaml'}: load.not_a_file: this is a FIFO" in result.stderr


def test_fmt_says_a_named_file_it_does_not_format_instead_of_passing_over_it(tmp_path):
    """A file named on the command line that is not a rules file is said (a folder's other YAML is not)."""
    notes = tmp_path / "notes.yaml"
    notes.write_text("title: not a rules file\n", encoding="utf-8")
    version = REPO / "policies" / "shanghai-post-license" / "2017"
    named = CliRunner().invoke(regcode, ["fmt", "--check", str(notes)])
    assert named.exit_code == 0 and "fmt.skipped: not a rules file" in named.output and "notes.yaml" in named.output
    folder = CliRunner().invoke(regcode, ["fmt", "--check", str(version)])
    assert folder.exit_code == 0 and "fmt.skipped" not in folder.output
    assert notes.read_text(encoding="utf-8") == "title: not a rules file\n"


MISSPELT = [
    # (what is misspelt, the line replaced, its misspelling, suggestion)
    ("a rule's key", "    title: 'quoted title'\n", "    tittle: 'quoted title'\n", "title"),
    ("an operator's key", "      op: '>'\n", "      opp: '>'\n", "op"),
    ("a key far from any", "    note: >-\n", "    zzzzzz: >-\n", None),
]


@pytest.mark.parametrize("what,old,new,suggestion", MISSPELT, ids=[m[0] for m in MISSPELT])
def test_a_mapping_with_a_misspelt_key_is_left_as_written_and_the_key_reported(what, old, new, suggestion):
    """Where a misspelt key belongs is unknown: moving it to the end (and the rest around it) would hide the mistake."""
    text = MESSY.replace(old, new)
    assert text != MESSY
    line = text.splitlines().index(new.rstrip("\n")) + 1
    col = len(new) - len(new.lstrip(" ")) + 1
    result = format_text(text, "x.yaml")
    assert not result.issues
    [note] = result.notes
    assert (note.code, note.location.line, note.location.column) == ("fmt.unknown_key", line, col)
    assert f"`{new.split(':')[0].strip()}` is not a key here" in note.message
    assert (f"did you mean `{suggestion}`?" in note.hint) if suggestion else "did you mean" not in note.hint
    written = [ln for ln in text.splitlines() if ln.strip()]
    block = written.index(new.rstrip("\n"))
    out = [ln for ln in result.formatted.splitlines() if ln.strip()]
    assert out[out.index(new.rstrip("\n")) - 1] == written[block - 1]   # its mapping kept its order
    assert data_of(result.formatted) == data_of(text)


NEAREST = [
    # (what is misspelt, the text replaced, its replacement, the misspelt key, the hint's start)
    ("a condition's keyword", "path: applicant.employees", "pth: applicant.employees", "pth", "did you mean `path`?"),
    ("another keyword of a condition", "{absent: inc.date}", "{absent: inc.date, presnt: 1}", "presnt", "did you mean `present`?"),
    ("a conclusion's keyword", "        decide: fee\n", "        decid: fee\n", "decid", "did you mean `decide`?"),
    ("a derive's key", "{with: {plate: x}, derive: audit_trail}", "{wth: {plate: x}, derive: audit_trail}", "wth", "did you mean `with`?"),
    ("a key beside the one it misspells", "    title: 'quoted title'\n", "    title: 'quoted title'\n    tittle: again\n", "tittle",
     "did you mean `title`? it is already in this mapping: keep one;"),
]


@pytest.mark.parametrize("what,old,new,key,hint", NEAREST, ids=[m[0] for m in NEAREST])
def test_a_misspelt_key_gets_the_nearest_key_wherever_the_keys_are_known(what, old, new, key, hint):
    """README: a misspelt key is reported with the nearest one. That holds for a keyword of a condition, an
    expression or a conclusion (no form is known until it is there: every form's keys are), and for a key whose
    nearest is already in the mapping, as much as for a rule's key."""
    text = MESSY.replace(old, new)
    assert text != MESSY
    lines = text.splitlines()
    line = next(i for i, ln in enumerate(lines, 1) if f"{key}:" in ln)
    col = lines[line - 1].index(f"{key}:") + 1
    result = format_text(text, "x.yaml")
    assert not result.issues
    [note] = result.notes
    assert (note.code, note.location.line, note.location.column) == ("fmt.unknown_key", line, col)
    assert note.message.startswith(f"`{key}` is not a key here") and note.hint.startswith(hint), note.hint
    assert new.strip() in result.formatted    # its mapping is left as written
    assert data_of(result.formatted) == data_of(text)


def test_fmt_prints_the_note_and_still_formats_the_rest(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(MESSY.replace("    title: 'quoted title'\n", "    tittle: 'quoted title'\n"), encoding="utf-8")
    result = CliRunner().invoke(regcode, ["fmt", str(path)])
    assert result.exit_code == 0, result.output
    assert f"note: {path}:13:5: fmt.unknown_key: `tittle`" in result.stderr
    assert "count: incidents\n        as: inc\n" in path.read_text(encoding="utf-8")    # the other rule is formatted


MESSY_RULES = ("apiVersion: regcode/v1\nkind: Rules\nrules:\n    - {title: t, id: x, article: 第二条, when: {path: a, op: '==', value: 1},"
               " then: [{decide: d, value: true}]}\n")


def test_fmt_never_reads_or_writes_through_a_link_leaving_the_folder(tmp_path):
    """A link to a file outside the folder fmt is given is load.outside_root, as validate says it: the outside file is not
    read (its content never copied in) and the link is left a link; a link inside the folder stands for its file, once."""
    outside = tmp_path / "outside.yaml"
    outside.write_text(MESSY_RULES, encoding="utf-8")
    root = tmp_path / "root"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "mine.yaml").write_text(MESSY_RULES, encoding="utf-8")
    (root / "rules" / "out.yaml").symlink_to(outside)
    (root / "rules" / "again.yaml").symlink_to("mine.yaml")          # inside: the same file, formatted once
    result = CliRunner().invoke(regcode, ["fmt", str(root)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{root / 'rules' / 'out.yaml'}: load.outside_root: " in result.stderr and str(outside) in result.stderr
    assert (root / "rules" / "out.yaml").is_symlink() and outside.read_text(encoding="utf-8") == MESSY_RULES
    assert (root / "rules" / "again.yaml").is_symlink()
    assert (root / "rules" / "mine.yaml").read_text(encoding="utf-8") != MESSY_RULES
    assert result.stdout.count("reformatted") == 1
    named = CliRunner().invoke(regcode, ["fmt", "--check", str(root / "rules" / "out.yaml")])   # named on its own: the same
    assert named.exit_code == 1 and "load.outside_root" in named.stderr and "fmt.skipped" not in named.output


@pytest.mark.parametrize("named", ["the folder holding the link", "the link itself", "the link itself, with a /"])
def test_fmt_says_a_folder_link_leaving_the_folder_and_never_writes_through_it(tmp_path, named):
    """A link to a folder outside the one fmt is given was passed over without a word (os.walk does not enter it), and
    named itself it was formatted through, the outside files rewritten: it is load.outside_root, once, as validate says."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "theirs.yaml").write_text(MESSY_RULES, encoding="utf-8")
    root = tmp_path / "root"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "mine.yaml").write_text(MESSY_RULES, encoding="utf-8")
    link = root / "rules" / "shared"
    link.symlink_to(outside, target_is_directory=True)
    given = {"the folder holding the link": str(root), "the link itself": str(link), "the link itself, with a /": f"{link}/"}[named]
    result = CliRunner().invoke(regcode, ["fmt", given])
    assert result.exit_code == 1 and "Traceback" not in result.output
    [said] = [line for line in result.stderr.splitlines() if "load.outside_root" in line]
    assert said.startswith(f"{link}: load.outside_root: the folder `{link}` is a link to `{outside}`, outside ") \
        and "none of its files are read" in said, said
    assert (outside / "theirs.yaml").read_text(encoding="utf-8") == MESSY_RULES and link.is_symlink()
    assert ((root / "rules" / "mine.yaml").read_text(encoding="utf-8") != MESSY_RULES) == (named == "the folder holding the link")


def test_fmt_given_a_folder_link_inside_its_own_folder_formats_what_it_names(tmp_path):
    (tmp_path / "2017").mkdir()
    (tmp_path / "2017" / "mine.yaml").write_text(MESSY_RULES, encoding="utf-8")
    (tmp_path / "latest").symlink_to("2017", target_is_directory=True)
    result = CliRunner().invoke(regcode, ["fmt", str(tmp_path / "latest")])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"reformatted {tmp_path / '2017' / 'mine.yaml'}\n" and (tmp_path / "latest").is_symlink()


REINDENTED = """\
apiVersion: regcode/v1
kind: Rules
rules:
# the first rule, its items at the margin as written
- id: a
  # the title's comment
  title: 标题
  note: |
    the note's text
    # is text, not a comment
  # the article's comment
  article: 第二条
  when:
      # the condition
      all:
      - {path: applicant.certified, op: '==', value: true}
# the next rule
- id: b
  title: t
  article: 第三条
  then: {decide: x, value: true}
# the end of the file
"""

ALIGNED = """\
apiVersion: regcode/v1
kind: Rules
rules:
  # the first rule, its items at the margin as written
  - id: a
    # the article's comment
    article: 第二条
    # the title's comment
    title: 标题
    note: |
      the note's text
      # is text, not a comment
    when:
      # the condition
      all:
        - {path: applicant.certified, op: '==', value: true}
  # the next rule
  - id: b
    article: 第三条
    title: t
    then: {decide: x, value: true}
# the end of the file
"""


def test_a_comment_on_its_own_line_is_indented_as_the_line_it_comes_before_never_inside_a_scalar():
    """Re-indenting a rule moves its comments with it (ruamel keeps their columns as written), each with the key it
    comes before; a `#` line inside a block scalar is its text and keeps its place; the file's last comment, with
    nothing after it, stays put."""
    result = format_text(REINDENTED, "r.yaml")
    assert not result.issues, result.issues
    assert result.formatted == ALIGNED
    assert format_text(ALIGNED, "r.yaml").formatted == ALIGNED
    assert data_of(ALIGNED) == data_of(REINDENTED)


COMMENTS = REPO / "tests" / "fixtures" / "fmt" / "comments"
COMMENT_CASES = sorted(p.name[:-len(".in.yaml")] for p in COMMENTS.glob("*.in.yaml"))


@pytest.mark.parametrize("name", COMMENT_CASES)
def test_a_comment_on_its_own_line_moves_with_the_key_it_comes_before(name):
    """A reported bug: reordering a rule's keys left each comment where the key had been (above the key that came
    there, or above the next rule). A comment directly before a key goes with it and its value's block, a trailing
    comment stays on its line, one at the end of a block stays at its end; the result is a fixed point and says what
    the input said. tests/fixtures/fmt/comments/NAME.in.yaml gives NAME.out.yaml."""
    written = (COMMENTS / f"{name}.in.yaml").read_text(encoding="utf-8")
    expected = (COMMENTS / f"{name}.out.yaml").read_text(encoding="utf-8")
    result = format_text(written, f"{name}.in.yaml")
    assert not result.issues and not result.notes, (result.issues, result.notes)
    assert result.formatted == expected
    assert format_text(expected, f"{name}.out.yaml").formatted == expected
    assert data_of(expected) == data_of(written)
    comments = sorted(ln.strip() for ln in written.splitlines() if ln.strip().startswith("#"))
    assert sorted(ln.strip() for ln in expected.splitlines() if ln.strip().startswith("#")) == comments


def test_comment_cases_are_there():
    assert {"reported", "nested", "blocks"} <= set(COMMENT_CASES)


def test_a_misspelt_key_is_said_at_its_line_as_written_when_comments_are_lifted_before_it():
    text = MESSY.replace("    title: 'quoted title'\n", "    # a comment\n\n    # and another\n    tittle: 'quoted title'\n")
    [note] = format_text(text, "x.yaml").notes
    assert note.location.line == text.splitlines().index("    tittle: 'quoted title'") + 1


def test_a_file_s_text_is_scanned_once_for_the_lines_its_comments_may_move_from(monkeypatch):
    """Where a scalar or a flow collection spans lines (no `#` there is a comment) is read once from the file's
    tokens, when its layout is: it was scanned a second time for the same lines (a review's leftover)."""
    import yaml
    scanned: list = []
    real = yaml.scan

    def scan(stream, *args, **kwargs):
        scanned.append(stream)
        return real(stream, *args, **kwargs)
    monkeypatch.setattr(yaml, "scan", scan)
    for name in ("blocks.in.yaml", "nested.in.yaml"):
        text = (REPO / "tests" / "fixtures" / "fmt" / "comments" / name).read_text(encoding="utf-8")
        scanned.clear()
        result = format_text(text, name)
        assert result.formatted == (REPO / "tests" / "fixtures" / "fmt" / "comments" / name.replace(".in.", ".out.")
                                    ).read_text(encoding="utf-8"), name
        assert scanned.count(text) == 1, (name, len(scanned))


def test_fmt_says_a_rules_file_it_may_not_read_as_validate_does(tmp_path, monkeypatch):
    """The same problem and fix as validate's (load.io, let the user read it), not `check that it exists`. Root reads
    any file whatever its mode: the refusal is simulated where the file is opened."""
    from regcode.engine import load
    (tmp_path / "locked.yaml").write_text(MESSY_RULES, encoding="utf-8")
    real = load._read_policy_bytes

    def refuse(path, limit):
        if Path(path).name == "locked.yaml":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, limit)
    monkeypatch.setattr(load, "_read_policy_bytes", refuse)
    result = CliRunner().invoke(regcode, ["fmt", "--check", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'locked.yaml'}: load.io: cannot read the file: Permission denied (let the user running regcode " \
           "read it (chmod a+r, or its owner), or move it out of the policy folder)" in result.stderr, result.stderr

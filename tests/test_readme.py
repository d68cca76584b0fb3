"""The README's transcripts are true: every console block of the tour is run, and its output compared.

A block is a fenced block whose lines start with `$ COMMAND`; the lines after a command, up to the next
one, are what it prints (stdout and stderr, in the order written). The blocks run in README order in one
scratch folder, as a reader runs them from the repository's folder after `make demo` (`regcode` and
`python` are the virtual environment's), so that a file one block makes (district.jsonl) is there for the
next. `examples/` and `benchmarks/` are copies (a command that a regression let write into them writes the
copy); `policies/` and `tests/` are the repository's own, read only, and the paths below the repository
that regcode prints in full are read relative to it, as the README shows them.

What a transcript may leave out or cannot pin:
- a line `...` (alone on its line, indented or not) stands for any number of lines, none included;
- times and rates (`in 0.72 s`, `2,783 cases/s`) are compared as numbers of any value;
- trailing spaces are not compared.
Blocks that need a running server, a network client or minutes of benchmarking are named in SKIP with
the reason; each is still read, so a block that stops needing the reason is noticed (test_skips_are_needed).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import REPO

README = REPO / "README.md"
COPIED = ("examples", "benchmarks")      # a command could write here: the run gets copies
LINKED = ("policies", "tests", "docs", "schemas")
# A block is skipped when one of its commands matches: (pattern, why)
SKIP = (
    (r"^regcode serve\b|^curl\b|^for f in .*curl", "needs the HTTP service running (tests/test_serve*.py run it)"),
    (r"benchmarks/(bench|layers|bytecodes|bench_serve|compare_oracle)\.py", "a benchmark: minutes, and figures of one machine"),
    (r"^source\b", "changes the reader's shell, prints nothing"),
)
TIMES = re.compile(r"\d[\d,]*(?:\.\d+)?(?= s\b| cases/s\b)")


@dataclass
class Step:
    command: str
    expected: list
    line: int           # README line of the command


@dataclass
class Block:
    line: int           # README line of the block's first command
    steps: list = field(default_factory=list)

    def skipped(self):
        for step in self.steps:
            for pattern, why in SKIP:
                if re.search(pattern, step.command):
                    return why
        return None


def blocks(text: str) -> list:
    """The console blocks of a Markdown text, in order."""
    found, inside, current = [], False, None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            if inside and current is not None and current.steps:
                found.append(current)
            inside, current = not inside, None
            i += 1
            continue
        if inside and line.startswith("$ "):
            start, command = i + 1, line[2:]
            while command.endswith("\\") and i + 1 < len(lines):
                i += 1
                command += "\n" + lines[i]     # bash reads the continuation as the README writes it
            if current is None:
                current = Block(start)
            current.steps.append(Step(command, [], start))
        elif inside and current is not None:
            current.steps[-1].expected.append(line)
        i += 1
    return found


def _normal(line: str) -> str:
    return TIMES.sub("N", line.rstrip())


def matches(expected: list, actual: list) -> bool:
    """Whether the actual lines are the expected ones, a `...` line standing for any lines."""
    parts = []
    for line in expected:
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(re.escape(_normal(line)) + r"\n")
    text = "".join(_normal(line) + "\n" for line in actual)
    return re.fullmatch("".join(parts), text) is not None


def _scratch(tmp: Path) -> Path:
    for name in COPIED:
        shutil.copytree(REPO / name, tmp / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in LINKED:
        (tmp / name).symlink_to(REPO / name)
    return tmp


def _run(command: str, cwd: Path, env: dict) -> list:
    done = subprocess.run(["bash", "-c", command + " 2>&1"], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=300)
    out = done.stdout.decode("utf-8", "replace").replace(str(REPO) + "/", "")
    return out.splitlines()


ALL = blocks(README.read_text(encoding="utf-8"))
RUN = [b for b in ALL if b.skipped() is None]


@pytest.fixture(scope="module")
def transcripts(tmp_path_factory):
    """Every block that is not skipped, run in README order: {README line: [(step, actual lines)]}."""
    cwd = _scratch(tmp_path_factory.mktemp("readme"))
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb", COLUMNS="200", LC_ALL="C.UTF-8")
    env.pop("REGCODE_DEBUG", None)
    results = {}
    for block in RUN:
        results[block.line] = [(step, _run(step.command, cwd, env)) for step in block.steps]
    return results


def test_the_readme_has_a_tour_to_run():
    assert len(RUN) >= 15, [b.line for b in RUN]
    assert sum(len(b.steps) for b in RUN) >= 20


def test_skips_are_needed():
    """Every skipped block has a command the reason names (no block is skipped by a pattern gone stale)."""
    for block in ALL:
        why = block.skipped()
        if why is not None:
            assert any(re.search(p, s.command) for s in block.steps for p, w in SKIP if w == why)


@pytest.mark.parametrize("block", RUN, ids=[f"README.md:{b.line}" for b in RUN])
def test_transcript(block, transcripts):
    for step, actual in transcripts[block.line]:
        assert matches(step.expected, actual), (
            f"README.md:{step.line}: `$ {step.command}` printed\n" + "\n".join(actual)
            + "\n--- the README says\n" + "\n".join(step.expected))


# ---- the comparison itself ---------------------------------------------------------------------
@pytest.mark.parametrize("expected, actual, same", [
    (["a", "b"], ["a", "b"], True),
    (["a", "b"], ["a", "c"], False),
    (["a", "..."], ["a", "b", "c"], True),
    (["a", "...", "z"], ["a", "z"], True),
    (["a", "  ...", "z"], ["a", "b", "z"], True),
    (["a", "...", "z"], ["a", "b", "y"], False),
    (["read 2 in 0.72 s (2,783 cases/s, 2 jobs)"], ["read 2 in 1.05 s (1,904 cases/s, 2 jobs)"], True),
    (["read 2 in 0.72 s"], ["read 3 in 0.72 s"], False),
    (["x  "], ["x"], True),
    ([], ["something"], False),
])
def test_matches(expected, actual, same):
    assert matches(expected, actual) is same


def test_blocks_reads_commands_continuations_and_output():
    text = "x\n```\n$ regcode a \\\n    --b\nout 1\nout 2\n$ cat f\n```\n```\nno command\n```\n"
    found = blocks(text)
    assert len(found) == 1 and found[0].line == 3
    assert [s.command for s in found[0].steps] == ["regcode a \\\n    --b", "cat f"]
    assert found[0].steps[0].expected == ["out 1", "out 2"] and found[0].steps[1].expected == []

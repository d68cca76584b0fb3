"""benchmarks/bench.py refuses what would measure nothing: an unknown `--only` section (a typo must not drop a
section and exit 0 as if it had run) and counts too small to measure, each with one line naming what it takes."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO, load_module

BENCH = REPO / "benchmarks" / "bench.py"
bench = load_module(BENCH, "regcode_benchmarks_bench")
KNOWN = "the sections are inprocess, agreement, scaling, startup, batch"

REFUSED = [   # (arguments, the one line said)
    (["--only", "bogus"], f"bench: --only: unknown section `bogus`; {KNOWN}"),
    (["--only", "inprocess,batchh"], f"bench: --only: unknown section `batchh` (did you mean `batch`?); {KNOWN}"),
    (["--only", "startpu"], f"bench: --only: unknown section `startpu` (did you mean `startup`?); {KNOWN}"),
    (["--only", "Batch"], f"bench: --only: unknown section `Batch` (did you mean `batch`?); {KNOWN}"),
    (["--only", "inprocess,"], f"bench: --only: an empty section name in `inprocess,`; {KNOWN}"),
    (["--only", ""], f"bench: --only: no section named; {KNOWN}"),
    (["--batch-count", "0"], "bench: --batch-count 0: the batch runs need at least 2 cases (each half of them is also run on its own)"),
    (["--batch-count", "1"], "bench: --batch-count 1: the batch runs need at least 2 cases (each half of them is also run on its own)"),
    (["--quick", "--batch-count", "-5"], "bench: --batch-count -5: the batch runs need at least 2 cases (each half of them is also run on its own)"),
    (["--count", "0"], "bench: --count 0: the in-process loops need at least 1 case"),
    (["--repeat", "0"], "bench: --repeat 0: each measure needs at least 1 repeat"),
]


@pytest.mark.parametrize("args,said", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_bench_refuses_what_would_measure_nothing_in_one_line(args, said):
    with pytest.raises(SystemExit) as stopped:
        bench.main(args)
    assert stopped.value.code == said      # sys.exit(text): the text on stderr, exit status 1


@pytest.mark.parametrize("text,expected", [
    ("inprocess,agreement,scaling,startup,batch", list(bench.SECTIONS)),
    ("batch,inprocess", ["inprocess", "batch"]),       # in the order they run
    ("agreement, inprocess", ["inprocess", "agreement"]),
    ("batch,batch", ["batch"]),
])
def test_bench_only_takes_the_known_sections(text, expected):
    assert bench.sections(text) == expected


def test_an_unknown_section_exits_1_with_one_line_on_stderr():
    run = subprocess.run([sys.executable, str(BENCH), "--only", "inprocess,batchh"], capture_output=True, text=True, timeout=120)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr == f"bench: --only: unknown section `batchh` (did you mean `batch`?); {KNOWN}\n"

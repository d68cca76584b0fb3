#!/usr/bin/env python3
"""Benchmark `regcode check` on the Shanghai policy, with the decisions an applicable enterprise must get declared required.

    .venv/bin/python benchmarks/check.py                       # budgets 1024, 4096, 16384
    .venv/bin/python benchmarks/check.py --budget 4096 --budget 65536

The shipped policy is copied to a temporary folder and five decisions get `required_when:
{applicable: true}` there (the shipped files are not touched). For each budget it prints the
synthetic cases evaluated, the size of the input space, whether it was enumerated or sampled, the
findings, and the time in `check` (the policy already compiled; the static checks included).
"""
from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from regcode.engine import Catalog, shipped_root
from regcode.engine.check import check

REQUIRED = ["competent_authority", "classification", "supervision_mode", "inspections_per_year_min",
            "inspection_sampling_ratio_min"]


def required_copy(root: Path) -> Catalog:
    shutil.copytree(shipped_root() / "shanghai-post-license", root / "shanghai-post-license")
    decisions = root / "shanghai-post-license" / "2017" / "decisions.yaml"
    text = decisions.read_text(encoding="utf-8")
    for name in REQUIRED:
        head = text.index(f"\n  {name}:\n")
        end = text.index("\n", text.index("    default:", head))
        text = text[:end + 1] + "    required_when: {applicable: true}\n" + text[end + 1:]
    decisions.write_text(text, encoding="utf-8")
    return Catalog([root])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, action="append", help="synthetic cases at most (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budgets = args.budget or [1024, 4096, 16384]
    print(f"python {platform.python_version()}, {platform.machine()}; regcode check on shanghai-post-license@2017 "
          f"with {len(REQUIRED)} required decisions")
    with tempfile.TemporaryDirectory() as tmp:
        cat = required_copy(Path(tmp))
        policy = cat.by_ref("shanghai-post-license@2017")
        check(cat, policy, budget=8)   # warm-up: fast validators and caches built once
        print(f"{'budget':>8} {'evaluated':>10} {'space':>10} {'mode':>10} {'findings':>9} {'seconds':>8} {'cases/s':>8}")
        for budget in budgets:
            start = time.perf_counter()
            report = check(cat, policy, budget=budget, seed=args.seed)
            took = time.perf_counter() - start
            s = report.space
            print(f"{budget:>8} {s['evaluated']:>10,} {s['combinations']:>10,} {'exhaustive' if s['exhaustive'] else 'sampled':>10} "
                  f"{len(report.unexplained):>9} {took:>8.2f} {s['evaluated'] / took:>8,.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

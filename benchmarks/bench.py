#!/usr/bin/env python3
"""Benchmark regcode on the Shanghai policy with explanations on: one process, `regcode batch --jobs 1/2`, a baseline.

    .venv/bin/python benchmarks/bench.py --count 3000          # the table
    .venv/bin/python benchmarks/bench.py --count 3000 --big    # also 100,000 cases through batch --jobs 2
    .venv/bin/python benchmarks/bench.py --count 2000 --profile
    .venv/bin/python benchmarks/bench.py --count 300 --licenses 100     # 100 licenses per enterprise

Inputs are generated deterministically (benchmarks/generate.py, --seed). Figures:
- in-process: `evaluate_case` (the path of `regcode eval --format json`: version selection, schema
  check, evaluation, the full `to_dict` with `why` and `derived`) and `dump_json` of the result, in
  a loop over the generated cases after a warm-up (the policy compiled and its rulesets built);
- batch: `regcode batch --jobs N` on the same cases as JSONL, wall clock of the subprocess (start-up
  and compilation included), and its peak RSS (the largest of its processes, via /usr/bin/time or
  getrusage(RUSAGE_CHILDREN));
- baseline: benchmarks/baseline.py, a hand-written Python evaluation of every decision of the
  contract (the floor), in this process on the same cases, and its agreement with the engine on
  every decision of every case (as written: 1 and 1.0, or two list orders, differ).
"""
from __future__ import annotations

import argparse
import cProfile
import importlib.util
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICY = "shanghai-post-license"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"regcode_benchmarks_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load("generate")
baseline = _load("baseline")


def _regcode() -> list:
    script = Path(sys.executable).parent / "regcode"
    if script.exists():
        return [str(script)]
    found = shutil.which("regcode")
    if not found:
        sys.exit("bench: the `regcode` command is not installed next to this Python (pip install -e .)")
    return [found]


def _mb(kib: float) -> str:
    return f"{kib / 1024:,.0f} MB"


def write_jsonl(path: Path, count: int, seed: int, licenses: int = None) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for case in generate.generate(count, seed, licenses=licenses):
            out.write(generate.dumps(case) + "\n")


# ---- in process --------------------------------------------------------------------------
def engine_loop(cat, cases, backend: str = "durable", explain: bool = True) -> tuple:
    from regcode.engine import evaluate_case
    from regcode.engine import Document, dump_json

    results = []
    started = time.perf_counter()
    for i, case in enumerate(cases):
        obj = evaluate_case(cat, Document(f"bench:{i + 1}", case), POLICY, None, None, backend, explain)
        dump_json(obj)
        results.append(obj["decisions"])
    return time.perf_counter() - started, results


def baseline_loop(cases) -> tuple:
    decide = baseline.decide
    started = time.perf_counter()
    results = [decide(case, case["as_of"]) for case in cases]
    return time.perf_counter() - started, results


def agreement(cases, engine_results, readings=frozenset()) -> tuple:
    """(cases where every decision is the same as written, decision -> cases where it differs)."""
    same = 0
    differ: dict = {}
    for case, got in zip(cases, engine_results):
        mine = baseline.decide(case, case["as_of"], readings)
        if json.dumps(got, sort_keys=True) == json.dumps(mine, sort_keys=True):
            same += 1
            continue
        for name in sorted(set(got) | set(mine)):
            if json.dumps(got.get(name), sort_keys=True) != json.dumps(mine.get(name), sort_keys=True):
                differ[name] = differ.get(name, 0) + 1
    return same, differ


def warm(cat, cases) -> None:
    for backend in ("durable", "python"):
        engine_loop(cat, cases[:200], backend)


# ---- subprocess --------------------------------------------------------------------------
def run_batch(source: Path, out: Path, jobs: int) -> dict:
    """`regcode batch` as a user runs it; wall clock and the peak RSS of its largest process."""
    cmd = _regcode() + ["batch", str(source), "--out", str(out), "--jobs", str(jobs), "--format", "json"]
    timer = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if timer.exists():
            cmd = [str(timer), "-f", "%M", "-o", rss.name] + cmd
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
        summary = json.loads(proc.stdout)
        peak = None
        if timer.exists():
            text = Path(rss.name).read_text().strip().splitlines()
            peak = float(text[-1]) if text else None
        if peak is None:    # only meaningful when this run is the largest child so far
            after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            peak = after if after > before else None
    return {"wall": wall, "cases": summary["read"], "failed": summary["failed"], "peak_kib": peak,
            "internal_per_second": summary["per_second"]}


# ---- report ------------------------------------------------------------------------------
def table(rows: list) -> str:
    header = ("measure", "cases", "seconds", "cases/s", "peak RSS")
    cells = [header] + rows
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    lines = []
    for k, r in enumerate(cells):
        lines.append("  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def profile(cat, cases, top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    engine_loop(cat, cases)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    for key in ("cumulative", "tottime"):
        print(f"\n== top {top} functions by {key} time, {len(cases)} evaluations (durable, explanations on) ==")
        stats.sort_stats(key).print_stats(top)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="cases to evaluate (default 5000)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--licenses", type=int, default=None, metavar="N",
                        help="exactly N licenses per enterprise (default: a realistic 1 to 6)")
    parser.add_argument("--big", action="store_true", help="also run 100,000 cases through `regcode batch --jobs 2`")
    parser.add_argument("--big-count", type=int, default=100_000, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="cProfile the in-process loop; print the top 25 functions")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")

    from regcode.engine import Catalog

    cases = list(generate.generate(args.count, args.seed, licenses=args.licenses))
    cat = Catalog()
    started = time.perf_counter()
    policy = cat.select(POLICY, cases[0]["as_of"])
    compile_s = time.perf_counter() - started
    started = time.perf_counter()
    warm(cat, cases)
    warm_s = time.perf_counter() - started

    if args.profile:
        profile(cat, cases)
        return 0

    print(f"regcode benchmark: {policy.id}@{policy.version} ({policy.content_hash}), {len(policy.rules)} rules, "
          f"{args.count:,} generated cases (seed {args.seed}"
          f"{f', {args.licenses} licenses each' if args.licenses else ''})")
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"compile {compile_s:.2f} s, warm-up {warm_s:.2f} s")
    rows = []
    figures = {}
    for label, backend, explain in (("in-process engine, durable, explanations", "durable", True),
                                    ("in-process engine, python backend, explanations", "python", True),
                                    ("in-process engine, durable, no explanations", "durable", False)):
        seconds, results = engine_loop(cat, cases, backend, explain)
        figures[label] = (seconds, results)
        rows.append([label, f"{len(cases):,}", f"{seconds:.2f}", f"{len(cases) / seconds:,.0f}", ""])
    rows[0][4] = _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    base_s, base_results = baseline_loop(cases)
    rows.append(["hand-written baseline (every decision, the floor)", f"{len(cases):,}", f"{base_s:.3f}",
                 f"{len(cases) / base_s:,.0f}", ""])

    batch = {}
    with tempfile.TemporaryDirectory(prefix="regcode-bench-") as tmp:
        source = Path(tmp) / "cases.jsonl"
        write_jsonl(source, args.count, args.seed, args.licenses)
        for jobs in (1, 2):
            r = run_batch(source, Path(tmp) / f"out{jobs}.jsonl", jobs)
            batch[jobs] = r
            rows.append([f"regcode batch --jobs {jobs} (subprocess, wall clock)", f"{r['cases']:,}", f"{r['wall']:.2f}",
                         f"{r['cases'] / r['wall']:,.0f}", _mb(r["peak_kib"]) if r["peak_kib"] else "-"])
        same = (Path(tmp) / "out1.jsonl").read_bytes() == (Path(tmp) / "out2.jsonl").read_bytes()
        if args.big:
            big = Path(tmp) / "big.jsonl"
            started = time.perf_counter()
            write_jsonl(big, args.big_count, args.seed + 1)
            gen_s = time.perf_counter() - started
            r = run_batch(big, Path(tmp) / "big-out.jsonl", 2)
            batch["big"] = r
            rows.append([f"regcode batch --jobs 2, big corpus (generated in {gen_s:.0f} s)", f"{r['cases']:,}",
                         f"{r['wall']:.1f}", f"{r['cases'] / r['wall']:,.0f}", _mb(r["peak_kib"]) if r["peak_kib"] else "-"])

    print()
    print(table(rows))
    print()
    for label, (seconds, _) in figures.items():
        print(f"{label}: {100 * base_s / seconds:.1f}% of the baseline's rate ({seconds / base_s:,.0f}x slower)")
    # the readings where the policy is known to differ from the contract (tests/fixtures/oracle/)
    readings = frozenset(baseline.POLICY_READINGS)
    for label, (_, engine_results) in figures.items():
        agree, differ = agreement(cases, engine_results)
        line = f"the baseline agrees with the {label.replace('in-process engine', 'engine')} on every decision for {agree:,} of {len(cases):,} cases"
        if differ:
            known, rest = agreement(cases, engine_results, readings)
            line += ("; differing: " + ", ".join(f"{k} {v}" for k, v in sorted(differ.items()))
                     + f"; with the policy's reported readings ({', '.join(sorted(readings))}): {known:,}"
                     + ("" if not rest else "; still differing: " + ", ".join(f"{k} {v}" for k, v in sorted(rest.items()))))
        print(line)
    print(f"batch --jobs 2 / --jobs 1 (wall clock): {batch[1]['wall'] / batch[2]['wall']:.2f}x; "
          f"inside the run (after start-up): {batch[1]['internal_per_second']:,.0f} vs {batch[2]['internal_per_second']:,.0f} cases/s; "
          f"outputs byte-identical: {'yes' if same else 'NO'}")
    if "big" in batch:
        r = batch["big"]
        print(f"big corpus: {r['cases']:,} cases, {r['failed']} failed, peak RSS {_mb(r['peak_kib']) if r['peak_kib'] else '-'} "
              f"(vs {_mb(batch[2]['peak_kib']) if batch[2]['peak_kib'] else '-'} for {args.count:,}: flat when the two are close)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

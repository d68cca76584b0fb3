#!/usr/bin/env python3
"""Benchmark regcode on the Shanghai policy against the hand-written floor, with the spread of repeated runs.

    .venv/bin/python benchmarks/bench.py                  # everything (a few minutes on 2 cores)
    .venv/bin/python benchmarks/bench.py --quick          # fewer cases and repeats
    .venv/bin/python benchmarks/bench.py --only inprocess,scaling,startup,batch
    .venv/bin/python benchmarks/bench.py --profile        # cProfile of the default path

Inputs are generated deterministically (benchmarks/generate.py, --seed). What is measured:

- in process: `evaluate_case` (the path of `regcode eval --format json`: version selection, schema
  check, evaluation, the output object) and what eval writes of it, `dump_json_bytes(..., pretty=True)`
  (orjson's indented UTF-8 bytes, straight to stdout's byte stream), per backend and explain level, and
  benchmarks/baseline.py's `decide` (every decision of the contract, hand-written: the floor) on the
  same cases. The loops run interleaved in chunks of 100 cases, so a load that comes and goes on a
  shared machine weighs on all of them alike; each figure is the median over the chunks, and the
  spread is the range of the per-repeat medians. CPU time of this process, not wall time.
- scaling: the cost per license with 5 and with 100 licenses per enterprise (python backend, full).
- start-up: `regcode eval FILE --format json` as a user runs it, wall clock, with the compiled-policy
  cache warm and with it off (REGCODE_NO_CACHE=1); Python's bytecode cache on, as by default (the first
  run writes it; PYTHONDONTWRITEBYTECODE is dropped from the environment).
- batch: `regcode batch --jobs 1` and `--jobs 2` on the same JSONL, wall clock and peak RSS; and beside them
  the machine's bound for two jobs, two independent `--jobs 1` runs at once on the two halves.
- agreement: both backends write the same bytes on every case, and the engine's decisions equal
  the floor's on every case (benchmarks/compare_oracle.py explains any difference).
"""
from __future__ import annotations

import argparse
import cProfile
import difflib
import importlib.util
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
POLICY = "shanghai-post-license"
CHUNK = 100


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


def _spread(values: list, unit: str = "", digits: int = 0) -> str:
    if len(values) < 2:
        return ""
    return f"{min(values):,.{digits}f}–{max(values):,.{digits}f}{unit}"


def write_jsonl(path: Path, cases) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for case in cases:
            out.write(generate.dumps(case) + "\n")


# ---- in process ------------------------------------------------------------------------------
def _contenders(cat, backends: list) -> dict:
    from regcode.engine import Document, dump_json_bytes, evaluate_case

    def engine(backend, explain):
        def run(i, case):     # what `regcode eval --format json` writes
            return dump_json_bytes(evaluate_case(cat, Document(f"bench:{i + 1}", case), POLICY, None, None, backend, explain),
                                   pretty=True)
        return run

    found = {"floor: baseline.decide (hand-written, every decision)": lambda i, case: baseline.decide(case, case["as_of"])}
    for backend in backends:
        for explain in ("full", "decisive", "none"):
            if backend == "durable" and explain == "decisive":
                continue
            found[f"{backend} backend, explain {explain}"] = engine(backend, explain)
    return found


def inprocess(cat, cases, repeats: int, backends: list) -> dict:
    """Per contender: the median microseconds per case of each repeat (chunks interleaved)."""
    contenders = _contenders(cat, backends)
    for run in contenders.values():          # warm: compiled policy, generated code, rulesets, caches
        for i, case in enumerate(cases[:50]):
            run(i, case)
    results = {name: [] for name in contenders}
    for _ in range(repeats):
        per_chunk = {name: [] for name in contenders}
        for start in range(0, len(cases), CHUNK):
            chunk = cases[start:start + CHUNK]
            for name, run in contenders.items():
                began = time.process_time()
                for i, case in enumerate(chunk, start):
                    run(i, case)
                per_chunk[name].append((time.process_time() - began) / len(chunk) * 1e6)
        for name, values in per_chunk.items():
            results[name].append(statistics.median(values))
    return results


def report_inprocess(results: dict) -> None:
    floor_name = next(iter(results))
    floor = statistics.median(results[floor_name])
    print("\nin process (CPU µs per case, median of repeats; spread = range of the repeats' medians)")
    print(f"  {'':58s} {'µs/case':>9s} {'cases/s':>9s} {'× floor':>8s} {'% of floor rate':>16s}  spread")
    for name, values in results.items():
        us = statistics.median(values)
        print(f"  {name:58s} {us:9.1f} {1e6 / us:9,.0f} {us / floor:8.1f} {floor / us * 100:15.0f}%  {_spread(values, ' µs', 1)}")


def _per_license(cat, cases: list, licenses: int, repeats: int) -> list:
    """CPU µs per license of evaluating `cases` (each with `licenses` licenses), one figure a repeat, after a warm-up."""
    from regcode.engine import Document, evaluate_case
    for i, case in enumerate(cases[:5]):
        evaluate_case(cat, Document(f"warm:{i}", case), POLICY)
    values = []
    for _ in range(repeats):
        began = time.process_time()
        for i, case in enumerate(cases):
            evaluate_case(cat, Document(f"scale:{i}", case), POLICY)
        values.append((time.process_time() - began) / len(cases) / licenses * 1e6)
    return values


def scaling(cat, seed: int, repeats: int) -> None:
    print("\nscaling (python backend, explain full): cost per license")
    per_license = {}
    for licenses, count in ((5, 400), (100, 40)):
        values = per_license[licenses] = _per_license(cat, list(generate.generate(count, seed + licenses, licenses=licenses)),
                                                      licenses, repeats)
        print(f"  {licenses:3d} licenses an enterprise: {statistics.median(values):7.1f} µs per license  {_spread(values, ' µs', 1)}")
    ratio = statistics.median(per_license[100]) / statistics.median(per_license[5])
    print(f"  per license at 100 / at 5: {ratio:.2f}")
    # the worst shape for a keyed pick (`earliest ... where h.category == lic.category`): every license of one
    # category, issued the same day, so that each pick meets every other license and each comparison is a tie
    n, count = 1000, 4
    cases = []
    for k, base in enumerate(generate.generate(count, seed + n, licenses=1)):
        first = base["licenses"][0]
        base["licenses"] = [{**first, "number": f"XK06-{k:03d}-{i:05d}"} for i in range(n)]
        cases.append(base)
    values = _per_license(cat, cases, n, repeats)
    print(f"  {n:,} licenses of one category, one date: {statistics.median(values):5.1f} µs per license  {_spread(values, ' µs', 1)}")
    print(f"  per license at {n:,} of one category / at 5: {statistics.median(values) / statistics.median(per_license[5]):.2f}")


# ---- subprocesses ------------------------------------------------------------------------------
def user_environment() -> dict:
    """This environment with Python's own bytecode cache as it is by default: a shell that sets
    PYTHONDONTWRITEBYTECODE has every run compile regcode's modules from source again (about 60 ms of each
    start), which no installed copy does. The first run of each command writes the cache."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def startup(case_file: Path, repeats: int) -> None:
    print("\nstart-up: `regcode eval FILE --format json`, wall clock")
    with tempfile.TemporaryDirectory(prefix="regcode-bench-cache-") as folder:
        for label, env in (("compiled-policy cache warm", {"REGCODE_CACHE_DIR": folder}),
                           ("cache off (REGCODE_NO_CACHE=1)", {"REGCODE_NO_CACHE": "1"})):
            environ = {**user_environment(), **env}
            subprocess.run(_regcode() + ["eval", str(case_file), "--format", "json"], env=environ,
                           stdout=subprocess.DEVNULL, check=True)   # fills the cache
            values = []
            for _ in range(repeats):
                began = time.perf_counter()
                subprocess.run(_regcode() + ["eval", str(case_file), "--format", "json"], env=environ,
                               stdout=subprocess.DEVNULL, check=True)
                values.append(time.perf_counter() - began)
            print(f"  {label:32s} {statistics.median(values):6.2f} s  {_spread(values, ' s', 2)}")


def run_batch(source: Path, out: Path, jobs: int) -> dict:
    """`regcode batch` as a user runs it; wall clock and the peak RSS of its largest process."""
    cmd = _regcode() + ["batch", str(source), "--out", str(out), "--jobs", str(jobs), "--format", "json"]
    timer = Path("/usr/bin/time")
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if timer.exists():
            cmd = [str(timer), "-f", "%M", "-o", rss.name] + cmd
        began = time.perf_counter()
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=user_environment())
        wall = time.perf_counter() - began
        if proc.returncode != 0:
            sys.exit(f"bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
        summary = json.loads(proc.stdout)
        peak = None
        if timer.exists():
            lines = Path(rss.name).read_text().strip().splitlines()
            peak = float(lines[-1]) / 1024 if lines else None
    return {"wall": wall, "cases": summary["read"], "peak_mb": peak}


def batch(cases_count: int, seed: int, repeats: int) -> None:
    print(f"\nbatch: `regcode batch` on {cases_count:,} generated cases (python backend, explain full), wall clock")
    with tempfile.TemporaryDirectory(prefix="regcode-bench-") as tmp:
        source = Path(tmp) / "cases.jsonl"
        write_jsonl(source, generate.generate(cases_count, seed))
        # the machine's own bound for two jobs: two independent `--jobs 1` runs at once, on the two halves
        halves = [Path(tmp) / "half1.jsonl", Path(tmp) / "half2.jsonl"]
        with open(source, encoding="utf-8") as whole:
            text = whole.readlines()
        for k, half in enumerate(halves):
            half.write_text("".join(text[k * len(text) // 2:(k + 1) * len(text) // 2]), encoding="utf-8")
        walls = {1: [], 2: [], "halves": []}
        peaks = {1: [], 2: []}
        for _ in range(repeats):
            for jobs in (1, 2):
                r = run_batch(source, Path(tmp) / f"out{jobs}.jsonl", jobs)
                walls[jobs].append(r["wall"])
                if r["peak_mb"]:
                    peaks[jobs].append(r["peak_mb"])
            walls["halves"].append(two_at_once(halves, Path(tmp)))
        same = (Path(tmp) / "out1.jsonl").read_bytes() == (Path(tmp) / "out2.jsonl").read_bytes()
        for jobs in (1, 2):
            wall = statistics.median(walls[jobs])
            peak = f"{max(peaks[jobs]):,.0f} MB peak RSS" if peaks[jobs] else ""
            print(f"  --jobs {jobs}: {wall:6.2f} s, {cases_count / wall:7,.0f} cases/s  {_spread(walls[jobs], ' s', 2):16s} {peak}")
        speedups = [a / b for a, b in zip(walls[1], walls[2])]
        print(f"  --jobs 2 / --jobs 1: {statistics.median(speedups):.2f}x  {_spread(speedups, 'x', 2)}; "
              f"outputs byte-identical: {'yes' if same else 'NO'}")
        bound = [a / b for a, b in zip(walls[1], walls["halves"])]
        print(f"  the machine's bound: two --jobs 1 runs at once, each on half the cases: {statistics.median(walls['halves']):.2f} s, "
              f"{statistics.median(bound):.2f}x --jobs 1  {_spread(bound, 'x', 2)}")


def two_at_once(halves: list, tmp: Path) -> float:
    """Wall clock of two independent `regcode batch --jobs 1` processes started together, one per half: no
    coordination at all, only the two cores (and what they share) between them."""
    began = time.perf_counter()
    procs = [subprocess.Popen(_regcode() + ["batch", str(half), "--out", str(tmp / f"halfout{k}.jsonl"), "--jobs", "1",
                                            "--format", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=user_environment())
             for k, half in enumerate(halves)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"bench: a half batch failed ({proc.returncode}):\n{err.decode(errors='replace')}")
    return time.perf_counter() - began


# ---- agreement -------------------------------------------------------------------------------
def agreement(cat, cases, backends: list) -> None:
    from regcode.engine import Document, dump_json, evaluate_case
    same_bytes, same_floor = 0, 0
    for i, case in enumerate(cases):
        doc = Document(f"bench:{i + 1}", case)
        outs = [evaluate_case(cat, doc, POLICY, None, None, backend, "full") for backend in backends]
        same_bytes += len({dump_json(o) for o in outs}) == 1
        mine = baseline.decide(case, case["as_of"])
        same_floor += json.dumps(outs[0]["decisions"], sort_keys=True) == json.dumps(mine, sort_keys=True)
    print(f"\nagreement on {len(cases):,} cases: backends {' and '.join(backends)} write the same bytes on {same_bytes:,}; "
          f"the engine's decisions equal the floor's on {same_floor:,}")


def profile(cat, cases, top: int = 25) -> None:
    from regcode.engine import Document, dump_json_bytes, evaluate_case
    profiler = cProfile.Profile()
    profiler.enable()
    for i, case in enumerate(cases):
        dump_json_bytes(evaluate_case(cat, Document(f"bench:{i + 1}", case), POLICY), pretty=True)
    profiler.disable()
    stats = pstats.Stats(profiler).strip_dirs()
    for key in ("tottime", "cumulative"):
        print(f"\n== top {top} functions by {key} time, {len(cases)} evaluations (python backend, explain full) ==")
        stats.sort_stats(key).print_stats(top)


SECTIONS = ("inprocess", "agreement", "scaling", "startup", "batch")     # in the order they run
# (option, its least value, why): a run with less measures nothing, or divides by nothing
LEAST = (("count", 1, "the in-process loops need at least 1 case"), ("repeat", 1, "each measure needs at least 1 repeat"),
         ("batch_count", 2, "the batch runs need at least 2 cases (each half of them is also run on its own)"))
DEFAULTS, QUICK = {"count": 3000, "repeat": 5, "batch_count": 20000}, {"count": 1000, "repeat": 3, "batch_count": 5000}


def sections(text: str) -> list:
    """The sections `--only` names (comma-separated, spaces allowed), in the order they run; SystemExit with one
    line naming the known ones for a name that is none of them, or none at all: a typo must not drop a section
    and exit 0 as if it had run."""
    names = [name.strip() for name in text.split(",")]
    for name in names:
        if name not in SECTIONS:
            near = difflib.get_close_matches(name, SECTIONS, n=1)
            what = f"unknown section `{name}`" + (f" (did you mean `{near[0]}`?)" if near else "") if name else \
                f"an empty section name in `{text}`" if text.strip() else "no section named"
            sys.exit(f"bench: --only: {what}; the sections are {', '.join(SECTIONS)}")
    return [name for name in SECTIONS if name in names]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, help=f"cases in process (default {DEFAULTS['count']:,}; at least 1)")
    parser.add_argument("--batch-count", type=int, help=f"cases for the batch runs (default {DEFAULTS['batch_count']:,}; at least 2)")
    parser.add_argument("--repeat", type=int, help=f"repeats of each measure (default {DEFAULTS['repeat']}; at least 1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1,000 cases, 3 repeats, 5,000 batch cases, where not given")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--profile", action="store_true", help="cProfile the default path and stop")
    args = parser.parse_args(argv)
    for name, _, _ in LEAST:       # --quick sets what the command line leaves unset; a value given stands
        if getattr(args, name) is None:
            setattr(args, name, (QUICK if args.quick else DEFAULTS)[name])
    for name, least, what in LEAST:
        if getattr(args, name) < least:
            sys.exit(f"bench: --{name.replace('_', '-')} {getattr(args, name)}: {what}")
    only = sections(args.only)

    from regcode.engine import Catalog
    from regcode.engine import _durable

    backends = ["python"] + (["durable"] if _durable.available() else [])
    cases = list(generate.generate(args.count, args.seed))
    cat = Catalog()
    policy = cat.select(POLICY, cases[0]["as_of"])
    if args.profile:
        profile(cat, cases)
        return 0
    print(f"regcode benchmark: {policy.id}@{policy.version} ({policy.content_hash}), {len(policy.rules)} rules, "
          f"{args.count:,} generated cases (seed {args.seed}), {args.repeat} repeat{'s' if args.repeat != 1 else ''}")
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; backends: {', '.join(backends)}")
    if "inprocess" in only:
        report_inprocess(inprocess(cat, cases, args.repeat, backends))
    if "agreement" in only:
        agreement(cat, cases, backends)
    if "scaling" in only:
        scaling(cat, args.seed, args.repeat)
    if "startup" in only:
        startup(REPO / "examples" / "cases" / "c-class-triggers.yaml", max(args.repeat, 5))
    if "batch" in only:
        batch(args.batch_count, args.seed, max(1, min(args.repeat, 3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

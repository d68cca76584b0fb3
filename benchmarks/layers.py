#!/usr/bin/env python3
"""Where the time of `eval --format json` goes: each layer of the path added in turn, against the floor.

    .venv/bin/python benchmarks/layers.py                  # explain full and none, 1,000 cases, 3 repeats
    .venv/bin/python benchmarks/layers.py --explain none --repeat 5

Each line adds one layer to the one above, so the difference between two lines is that layer's cost:
the backend's run (the generated code), evaluate() (facts, identity), to_dict (the output
object), the facts-schema check, evaluate_case (version selection and the rest of the path), and
what eval writes: `dump_json_bytes(..., pretty=True)`, orjson's indented UTF-8 bytes, which go to
stdout's byte stream as they are (what bench.py times). The last line, for comparison and not a
layer, is the text `dump_json` compact, which bench.py timed before eval wrote bytes. The loops run
interleaved in chunks of 100 cases with the floor (benchmarks/baseline.py), as bench.py's do; CPU
time of this process, median over the chunks.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICY = "shanghai-post-license"
CHUNK = 100
COMPARED = "(evaluate_case + dump_json compact text)"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"regcode_benchmarks_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def layers(cat, policy, explain: str) -> dict:
    from regcode.engine import Document, dump_json, dump_json_bytes, evaluate_case
    from regcode.engine.evaluate import check_case, evaluate, parameters_at, program_for
    from regcode.engine.explain import to_dict
    baseline = _load("baseline")
    program = program_for(policy, "python")
    traced = explain != "none"
    return {
        "floor: baseline.decide": lambda i, c: baseline.decide(c, c["as_of"]),
        "program.run (the generated code)": lambda i, c: program.run(c, c["as_of"], parameters_at(policy, c["as_of"]), traced),
        "+ evaluate()": lambda i, c: evaluate(policy, c, c["as_of"], checked=True, trace=traced),
        "+ to_dict": lambda i, c: to_dict(evaluate(policy, c, c["as_of"], checked=True, trace=traced), explain),
        "+ check_case": lambda i, c: (check_case(policy, Document("x", c)),
                                      to_dict(evaluate(policy, c, c["as_of"], checked=True, trace=traced), explain)),
        "evaluate_case": lambda i, c: evaluate_case(cat, Document(f"bench:{i + 1}", c), POLICY, None, None, "python", explain),
        "+ dump_json_bytes pretty (what eval writes)": lambda i, c: dump_json_bytes(evaluate_case(
            cat, Document(f"bench:{i + 1}", c), POLICY, None, None, "python", explain), pretty=True),
        COMPARED: lambda i, c: dump_json(evaluate_case(cat, Document(f"bench:{i + 1}", c), POLICY, None, None, "python", explain)),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explain", default="full,none", help="comma-separated: full, decisive, none")
    args = parser.parse_args(argv)
    from regcode.engine import Catalog
    cases = list(_load("generate").generate(args.count, args.seed))
    cat = Catalog()
    policy = cat.select(POLICY, cases[0]["as_of"])
    for explain in args.explain.split(","):
        runs = layers(cat, policy, explain)
        for fn in runs.values():
            for i, case in enumerate(cases[:50]):
                fn(i, case)
        chunks = {name: [] for name in runs}
        for _ in range(args.repeat):
            for start in range(0, len(cases), CHUNK):
                for name, fn in runs.items():
                    began = time.process_time()
                    for i in range(start, min(start + CHUNK, len(cases))):
                        fn(i, cases[i])
                    chunks[name].append((time.process_time() - began) / min(CHUNK, len(cases) - start) * 1e6)
        floor = statistics.median(chunks["floor: baseline.decide"])
        print(f"\nexplain {explain}: CPU µs per case, {args.count:,} cases, {args.repeat} repeats")
        before = None
        for name, values in chunks.items():
            us = statistics.median(values)
            step = "" if before is None or name.startswith("floor") or name == COMPARED else f"  (+{us - before:5.1f})"
            print(f"  {name:44s} {us:7.1f} {us / floor:6.2f}x{step}")
            before = None if name.startswith("floor") else us
    return 0


if __name__ == "__main__":
    sys.exit(main())

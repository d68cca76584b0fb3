#!/usr/bin/env python3
"""Compare the engine with the hand-written oracle (baseline.decide) on a generated corpus, decision by decision.

    .venv/bin/python benchmarks/compare_oracle.py 5000                 # the table and one minimal case per kind
    .venv/bin/python benchmarks/compare_oracle.py 5000 --seed 3 --write tests/fixtures/oracle/new
    .venv/bin/python benchmarks/compare_oracle.py 300 --licenses 40 --backend durable
    .venv/bin/python benchmarks/compare_oracle.py 5000 --policy-readings    # beyond the reported disagreements

A *kind* of disagreement is one decision and one way it differs: for a map, the category's two
values (`category_classes: engine b, oracle c`); for a list, an item only one side has
(`downgrade_reasons: +commitment_breach` = the engine alone has it); for a scalar, the two values.
The example for each kind is the smallest case showing it, shrunk by dropping records one at a time
while the same kind of disagreement remains (each step is checked through both sides). Exit code 1
when any decision differs. The oracle follows the contract; --policy-readings makes it follow the
readings where the policy is known to differ (baseline.POLICY_READINGS, each with a case file under
tests/fixtures/oracle/), to show only what is left beyond them.
"""
from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICY = "shanghai-post-license"
MAX_SHRINK_STEPS = 400          # evaluations spent shrinking one example


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"regcode_benchmarks_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load("generate")
baseline = _load("baseline")


def kinds(engine: dict, oracle: dict) -> list:
    """The kinds of disagreement between two `decisions` objects, as sorted (decision, detail) pairs."""
    out = set()
    for name in sorted(set(engine) | set(oracle)):
        e, o = engine.get(name, "<absent>"), oracle.get(name, "<absent>")
        if e == o and type(e) is type(o):
            continue
        if isinstance(e, dict) and isinstance(o, dict):
            for key in sorted(set(e) | set(o)):
                if e.get(key) != o.get(key):
                    out.add((name, f"engine {e.get(key, '-')}, oracle {o.get(key, '-')}"))
        elif isinstance(e, list) and isinstance(o, list):
            out.update((name, f"+{item}") for item in e if item not in o)
            out.update((name, f"-{item}") for item in o if item not in e)
            if sorted(map(str, e)) == sorted(map(str, o)):
                out.add((name, "order"))
        else:
            out.add((name, f"engine {json.dumps(e, ensure_ascii=False)}, oracle {json.dumps(o, ensure_ascii=False)}"))
    return sorted(out)


class Judge:
    """Both sides on one case: the engine through its public surface, the oracle in process."""

    def __init__(self, backend: str = None, readings: frozenset = frozenset()):
        from regcode.engine import Catalog, DEFAULT_BACKEND
        self.catalog = Catalog()
        self.backend = backend or DEFAULT_BACKEND
        self.readings = readings

    def engine(self, case: dict, source: str = "oracle") -> dict:
        from regcode.engine import Document, evaluate_case
        return evaluate_case(self.catalog, Document(source, case), POLICY, backend=self.backend, explain="none")["decisions"]

    def oracle(self, case: dict) -> dict:
        return baseline.decide(case, case["as_of"], self.readings)

    def kinds(self, case: dict) -> list:
        return kinds(self.engine(case), self.oracle(case))


def shrink(judge: Judge, case: dict, kind: tuple, budget: int = MAX_SHRINK_STEPS) -> dict:
    """Drop list items and optional keys one at a time while `kind` still shows; the result is a valid case."""
    from regcode.engine import PolicyError
    current = copy.deepcopy(case)
    steps = 0
    changed = True
    while changed and steps < budget:
        changed = False
        for key in sorted(k for k in current if k not in ("as_of", "enterprise")):
            value = current[key]
            candidates = []
            if isinstance(value, list) and value:
                candidates = [(key, i) for i in reversed(range(len(value)))]
            candidates.append((key, None))          # the whole key
            for k, i in candidates:
                if steps >= budget or k not in current:
                    break
                trial = copy.deepcopy(current)
                if i is None:
                    del trial[k]
                elif i < len(trial[k]):
                    del trial[k][i]
                else:
                    continue
                steps += 1
                try:
                    if kind in judge.kinds(trial):
                        current = trial
                        changed = True
                except PolicyError:
                    pass                            # e.g. the schema needs what was dropped
    return current


def compare(cases, judge: Judge) -> tuple:
    """(cases compared, differing cases [(index, kinds)], kind -> [case indexes])."""
    differing = []
    by_kind = defaultdict(list)
    n = 0
    for n, case in enumerate(cases, 1):
        found = judge.kinds(case)
        if found:
            differing.append((n - 1, found))
            for k in found:
                by_kind[k].append(n - 1)
    return n, differing, by_kind


def to_yaml(case: dict) -> str:
    import yaml
    return yaml.safe_dump(case, allow_unicode=True, sort_keys=False, default_flow_style=None, width=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("count", type=int, help="how many generated cases to compare")
    parser.add_argument("--seed", type=int, default=8, help="generator seed (default 8)")
    parser.add_argument("--as-of", default=None, help="one as_of for every case (default: spread over the window)")
    parser.add_argument("--licenses", type=int, default=None, help="exactly N licenses per enterprise")
    parser.add_argument("--backend", default=None, help="engine backend (default: the engine's default)")
    parser.add_argument("--policy-readings", action="store_true",
                        help="let the oracle follow the policy's reported readings (baseline.POLICY_READINGS)")
    parser.add_argument("--no-shrink", action="store_true", help="show the smallest differing case as generated")
    parser.add_argument("--write", type=Path, default=None, metavar="DIR",
                        help="write each kind's minimal case to DIR as a YAML case file")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("count must be at least 1")

    judge = Judge(args.backend, frozenset(baseline.POLICY_READINGS) if args.policy_readings else frozenset())
    cases = list(generate.generate(args.count, args.seed, args.as_of, args.licenses))
    n, differing, by_kind = compare(cases, judge)
    readings = f" with the policy's readings {', '.join(sorted(judge.readings))}" if judge.readings else ""
    print(f"engine ({POLICY}, {judge.backend} backend) vs oracle (benchmarks/baseline.py{readings}): {n:,} generated cases "
          f"(seed {args.seed}{', licenses ' + str(args.licenses) if args.licenses else ''}), "
          f"{len(differing):,} differ ({100 * len(differing) / n:.2f}%)")
    if not differing:
        return 0
    per_decision = Counter()
    kinds_per_decision = Counter()
    for _, found in differing:
        for name in {k[0] for k in found}:
            per_decision[name] += 1
    for name, _ in by_kind:
        kinds_per_decision[name] += 1
    width = max(len(name) for name in per_decision)
    print()
    print(f"{'decision'.ljust(width)}  cases  kinds")
    for name, count in sorted(per_decision.items(), key=lambda item: (-item[1], item[0])):
        print(f"{name.ljust(width)}  {count:5d}  {kinds_per_decision[name]:5d}")
    if args.write:
        args.write.mkdir(parents=True, exist_ok=True)
    for number, (kind, indexes) in enumerate(sorted(by_kind.items(), key=lambda item: (-len(item[1]), item[0])), 1):
        smallest = min(indexes, key=lambda i: (len(json.dumps(cases[i], ensure_ascii=False)), i))
        example = cases[smallest] if args.no_shrink else shrink(judge, cases[smallest], kind)
        engine, oracle = judge.engine(example), judge.oracle(example)
        print()
        print(f"## {number}. {kind[0]}: {kind[1]}  in {len(indexes):,} case(s); "
              f"{'smallest' if args.no_shrink else 'shrunk from'} generated case {smallest + 1} (seed {args.seed})")
        print(f"#   engine: {json.dumps(engine[kind[0]], ensure_ascii=False)}")
        print(f"#   oracle: {json.dumps(oracle[kind[0]], ensure_ascii=False)}")
        text = to_yaml(example)
        print(text, end="")
        if args.write:
            slug = f"{number:02d}-{kind[0]}"
            (args.write / f"{slug}.yaml").write_text(
                f"# {kind[0]}: {kind[1]}\n# engine: {json.dumps(engine[kind[0]], ensure_ascii=False)}\n"
                f"# oracle: {json.dumps(oracle[kind[0]], ensure_ascii=False)}\n" + text, encoding="utf-8")
    return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:                # `compare_oracle.py ... | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no flush error at exit (Python docs)
        sys.exit(0)

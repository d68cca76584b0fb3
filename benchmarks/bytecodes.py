#!/usr/bin/env python3
"""Python bytecodes executed per case, the floor beside the engine: a figure the machine's load cannot move.

    .venv/bin/python benchmarks/bytecodes.py                 # 300 generated cases
    .venv/bin/python benchmarks/bytecodes.py --count 1000 --rules 15

bench.py's CPU times vary with what else runs on a shared machine; the number of bytecodes the
interpreter executes does not. It counts work done in Python only (orjson, jsonschema-rs and the C
parts of CPython are not in it), so it complements bench.py, it does not replace it: compare two
versions of the engine with it, and read bench.py for what a user waits. With --rules, the run
function's bytecodes are also given per rule of the policy (where the time of the rules goes); with
--functions, per Python function (where the bytecodes outside the generated code go: evaluate(),
to_dict, the resolvers and helpers generated code calls, ...).
"""
from __future__ import annotations

import argparse
import collections
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
POLICY = "shanghai-post-license"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"regcode_benchmarks_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def count(fn, cases, code=None, per_line=None, per_function=None) -> float:
    """Bytecodes per case of fn(i, case); with `code`, also each line of that code object into per_line;
    with `per_function`, each code object's (by file and name) into it."""
    total = [0]

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode":
            total[0] += 1
            if per_line is not None and frame.f_code is code:
                per_line[frame.f_lineno] += 1
            if per_function is not None:
                per_function[frame.f_code] += 1
        return tracer
    sys.settrace(tracer)
    try:
        for i, case in enumerate(cases):
            fn(i, case)
    finally:
        sys.settrace(None)
    return total[0] / len(cases)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="generated cases (default 300)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rules", type=int, default=0, help="also list the N rules whose code runs most bytecodes")
    parser.add_argument("--functions", type=int, default=0, help="also list the N Python functions that run most bytecodes")
    args = parser.parse_args(argv)
    generate, baseline = _load("generate"), _load("baseline")
    from regcode.engine import Catalog, Document, dump_json, evaluate_case
    from regcode.engine.evaluate import program_for

    cases = list(generate.generate(args.count, args.seed))
    cat = Catalog()
    policy = cat.select(POLICY, cases[0]["as_of"])
    for explain in ("none", "full"):      # warm: compiled policy, generated code, caches
        for i, case in enumerate(cases[:5]):
            dump_json(evaluate_case(cat, Document(f"warm:{i}", case), POLICY, None, None, "python", explain))
    floor = count(lambda i, case: baseline.decide(case, case["as_of"]), cases)
    print(f"bytecodes per case, {args.count:,} generated cases (seed {args.seed}), {policy.id}@{policy.version}")
    print(f"  {'floor: baseline.decide':44s} {floor:8,.0f}")
    program = program_for(policy, "python")
    for explain in ("none", "full"):
        fn = program.run_plain if explain == "none" else program.run_traced
        lines: collections.Counter = collections.Counter()
        functions: collections.Counter = collections.Counter()
        n = count(lambda i, case: dump_json(evaluate_case(cat, Document(f"bench:{i + 1}", case), POLICY, None, None,
                                                              "python", explain)), cases, fn.__code__, lines, functions)
        print(f"  {'python backend, explain ' + explain + ' (evaluate_case, dump_json)':44s} {n:8,.0f}  {n / floor:5.2f}x the floor")
        if args.rules:
            per_rule: collections.Counter = collections.Counter()
            for line, k in lines.items():
                rule = program._rule_at_line.get(line)
                per_rule[policy.rules[rule].id if rule is not None else "(outside the rules: set-up, worklist, resolution)"] += k
            run = sum(lines.values()) / len(cases)
            print(f"    in {fn.__name__}: {run:,.0f}; the most:")
            for name, k in per_rule.most_common(args.rules):
                print(f"      {k / len(cases):7,.0f}  {name}")
        if args.functions:
            print("    by function, the most:")
            for code, k in functions.most_common(args.functions):
                print(f"      {k / len(cases):7,.0f}  {code.co_name} ({Path(code.co_filename).name}:{code.co_firstlineno})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

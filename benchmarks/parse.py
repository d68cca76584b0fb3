#!/usr/bin/env python3
"""Time the load stage (parse every file of a policy version, with marks) per YAML parser.

    python benchmarks/parse.py                       # the shipped Shanghai policy, both parsers
    python benchmarks/parse.py --repeat 30 DIR       # another version folder

Prints the median, fastest and slowest of N runs for each parser that is available: `libyaml`
(PyYAML's C parser) and `python` (PyYAML's pure-Python parser, the fallback). Both give the same
documents and the same line/column marks; tests/test_load.py checks that.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = REPO / "policies" / "shanghai-post-license" / "2017"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version_dir", nargs="?", type=Path, default=SHANGHAI, help="a policy version folder")
    parser.add_argument("--repeat", type=int, default=20, help="runs per parser (default 20)")
    args = parser.parse_args()

    from regcode.engine import load

    parsers = [p for p in ("libyaml", "python") if p in getattr(load, "PARSERS", {"python": None})]
    size = sum(p.stat().st_size for p in args.version_dir.rglob("*.yaml"))
    print(f"{args.version_dir} ({size / 1024:.0f} KiB of YAML), {args.repeat} runs each, Python {sys.version.split()[0]}")
    for name in parsers:
        if hasattr(load, "PARSER"):
            load.PARSER = name
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            load.load_version(args.version_dir)
            times.append(time.perf_counter() - started)
        print(f"  {name:8} median {statistics.median(times) * 1000:7.1f} ms  "
              f"(fastest {min(times) * 1000:.1f}, slowest {max(times) * 1000:.1f})")


if __name__ == "__main__":
    main()

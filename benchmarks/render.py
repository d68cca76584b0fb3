#!/usr/bin/env python3
"""How long the HTML outputs take: one eval page (after the templates are compiled) and a whole site.

    .venv/bin/python benchmarks/render.py [--pages 50]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    args = ap.parse_args()
    from regcode.engine import Catalog, evaluate_case, load_case_file
    from regcode.engine.html import build_site, eval_page

    cat = Catalog([REPO / "examples" / "amendment" / "policies"])
    doc = load_case_file(REPO / "examples" / "cases" / "c-class-triggers.yaml")
    result = evaluate_case(cat, doc)
    t0 = time.perf_counter()
    first = eval_page(cat, [(result, doc.data)])
    t1 = time.perf_counter()
    for _ in range(args.pages):
        eval_page(cat, [(result, doc.data)])
    t2 = time.perf_counter()
    print(f"eval page: first {1000 * (t1 - t0):.0f} ms (templates compiled), then {1000 * (t2 - t1) / args.pages:.1f} ms a page "
          f"({len(first.encode('utf-8')):,} bytes)")
    policies = [cat.compiled(v) for v in cat.versions("shanghai-post-license")]
    for p in policies:
        cat.compiled(cat.choose(p.id, "0000-00-00", p.version))
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        files = build_site(cat, policies, Path(out))
        t1 = time.perf_counter()
        size = sum(f.stat().st_size for f in files)
    print(f"site of {len(policies)} versions: {t1 - t0:.2f} s ({len(files)} files, {size:,} bytes; includes running each version's test cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

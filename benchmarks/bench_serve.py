#!/usr/bin/env python3
"""Benchmark `regcode serve` on loopback: requests/s and p50/p99 latency of single evaluations, 1 and 8 clients.

    .venv/bin/python benchmarks/bench_serve.py                       # 2,000 requests per run, explain=full
    .venv/bin/python benchmarks/bench_serve.py --requests 5000 --explain none --workers 2

The server is the real `regcode serve` subprocess on 127.0.0.1 (a free port), with its default worker
count unless --workers, and no decision log unless --decision-log. Each client is one keep-alive HTTP/1.1
connection that sends its next request when the last reply has arrived (closed loop), so with 8 clients
8 requests are in flight. The bodies are generated Shanghai case files (benchmarks/generate.py, --seed),
sent as JSON. Every run is bounded by --requests and by --max-seconds, and each reply is checked (200
with a decision_id); the figures count only the requests answered in the measured window.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
READY = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def _generator():
    spec = importlib.util.spec_from_file_location("regcode_benchmarks_generate", HERE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_server(args, stderr_path: Path) -> tuple:
    # info: uvicorn prints the port it bound; the access log stays off (regcode serve writes it only at debug)
    cmd = [sys.executable, "-m", "regcode.cli", "serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "info"]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    if args.decision_log:
        cmd += ["--decision-log", args.decision_log]
    err = open(stderr_path, "w+", encoding="utf-8")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = READY.search(stderr_path.read_text(encoding="utf-8"))
        if found:
            return proc, int(found.group(1)), err
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start:\n" + stderr_path.read_text(encoding="utf-8"))


async def client(port: int, bodies: list, start: int, step: int, query: str, stop_at: float, latencies: list, failures: list,
                 budget: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = start
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            body = bodies[i % len(bodies)]
            i += step
            request = (f"POST /v1/evaluate{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            began = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            reply = await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if status != 200 or b'"decision_id"' not in reply:
                failures.append((status, reply[:200]))
    finally:
        writer.close()


def percentile(sorted_values: list, q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


async def run(port: int, bodies: list, clients: int, requests: int, max_seconds: float, query: str) -> dict:
    latencies, failures, budget = [], [], [requests]
    began = time.perf_counter()
    await asyncio.gather(*(client(port, bodies, k, clients, query, began + max_seconds, latencies, failures, budget)
                           for k in range(clients)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"clients": clients, "requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "failures": len(failures), "first_failure": failures[0] if failures else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="requests per run (bounded)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap per run")
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring (not counted)")
    parser.add_argument("--clients", default="1,8", help="concurrent clients per run, comma-separated")
    parser.add_argument("--explain", choices=["none", "decisive", "full"], default="full")
    parser.add_argument("--workers", type=int, default=0, help="server worker processes (default: the server's)")
    parser.add_argument("--decision-log", default=None, help="let the server write its decision log here")
    parser.add_argument("--cases", type=int, default=500, help="distinct generated case files, sent round-robin")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    generator = _generator()
    bodies = [json.dumps(c, ensure_ascii=False).encode("utf-8") for c in generator.generate(args.cases, args.seed)]
    query = f"?explain={args.explain}"
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, err = start_server(args, Path(tmp) / "stderr.txt")
        try:
            asyncio.run(run(port, bodies, 2, args.warmup, args.max_seconds, query))     # compile caches, connections
            print(f"regcode serve on 127.0.0.1:{port}, workers {args.workers or 'default (one per core)'}, explain={args.explain}, "
                  f"{len(bodies)} distinct case files (JSON, {sum(map(len, bodies)) // len(bodies)} bytes on average)")
            print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; client and server share the machine")
            print(f"{'clients':>7}  {'requests':>8}  {'seconds':>7}  {'req/s':>7}  {'p50 ms':>7}  {'p99 ms':>7}  failures")
            for clients in [int(c) for c in args.clients.split(",")]:
                r = asyncio.run(run(port, bodies, clients, args.requests, args.max_seconds, query))
                print(f"{r['clients']:>7}  {r['requests']:>8}  {r['seconds']:>7.2f}  {r['rps']:>7.0f}  {r['p50_ms']:>7.2f}  "
                      f"{r['p99_ms']:>7.2f}  {r['failures']}")
                if r["first_failure"]:
                    print(f"         first failure: {r['first_failure']}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            err.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Counters and latency histograms of the service, rendered in the Prometheus text exposition format (0.0.4)."""
from __future__ import annotations

import threading
from collections import defaultdict
from typing import Callable

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# seconds: a single evaluation takes about a millisecond; a full batch up to the time limit
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# The `method` label: RFC 9110's methods, and `other` for any token else a client sends (`FOO`, `get`: methods are
# case-sensitive), so that a client cannot grow the series without bound
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
OTHER_METHOD = "other"
# The `route` label of a request answered before it was routed: by the HTTP reader (service/protocol.py: a 400, 408,
# 413, 431), or by the app for a target no route can be (a path with a control character, an encoded slash)
REFUSED = "(refused)"


def method_label(method) -> str:
    """`GET` ... as sent, any other method `other` (str or bytes)."""
    if isinstance(method, (bytes, bytearray)):
        method = bytes(method).decode("latin-1")
    return method if method in METHODS else OTHER_METHOD


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """Thread-safe. Counters are keyed by (name, sorted labels); every series is printed in sorted order."""

    HELP = {
        "regcode_http_requests_total": ("counter", "HTTP requests answered, each once, by route (`(refused)`: before "
                                        "routing, by the HTTP reader or for a target no route can be; `unmatched`: no "
                                        "route), method (`other` for one not in RFC 9110) and status."),
        "regcode_http_request_duration_seconds": ("histogram", "Time to answer an HTTP request, by route, method and "
                                                  "status as counted in regcode_http_requests_total (one the HTTP reader "
                                                  "refuses: from its first byte)."),
        "regcode_decisions_total": ("counter", "Decisions taken (one per evaluated case), by policy version."),
        "regcode_errors_total": ("counter", "Problems reported to clients, by issue code (a request may report several)."),
        "regcode_decision_log_lines_total": ("counter", "Lines written to the decision log."),
        "regcode_decision_log_rotations_total": ("counter", "Rotations of the decision log."),
        "regcode_reloads_total": ("counter", "Policy reloads, by result (ok, partial: some versions kept their old compile)."),
        "regcode_worker_restarts_total": ("counter", "Worker processes replaced, by reason (time_limit, died)."),
        "regcode_workers": ("gauge", "Worker processes alive."),
        "regcode_policy_versions": ("gauge", "Policy versions being served."),
        "regcode_info": ("gauge", "The regcode version serving (always 1)."),
    }

    def __init__(self):
        self._lock = threading.Lock()
        self._counters: dict = defaultdict(float)
        self._hist: dict = {}
        self._gauges: dict = {}   # name -> callable returning [(labels, value)]

    def inc(self, name: str, amount: float = 1, **labels) -> None:
        with self._lock:
            self._counters[(name, tuple(sorted(labels.items())))] += amount

    def observe(self, name: str, seconds: float, **labels) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            h = self._hist.get(key)
            if h is None:
                h = self._hist[key] = [[0] * len(BUCKETS), 0, 0.0]
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    h[0][i] += 1
            h[1] += 1
            h[2] += seconds

    def answered(self, seconds: float, route: str, method, status: int) -> None:
        """One HTTP request answered: counted, and its time observed, under the same labels (the method bounded,
        method_label), whoever answered it: the app, or the HTTP reader refusing it before the app saw it."""
        labels = {"route": route, "method": method_label(method), "status": str(status)}
        self.inc("regcode_http_requests_total", **labels)
        self.observe("regcode_http_request_duration_seconds", seconds, **labels)

    def gauge(self, name: str, read: Callable[[], list]) -> None:
        """`read()` -> [(labels dict, value)], called at each scrape."""
        self._gauges[name] = read

    def render(self) -> str:
        with self._lock:
            counters = dict(self._counters)
            hist = {k: (list(v[0]), v[1], v[2]) for k, v in self._hist.items()}
        series: dict = defaultdict(list)
        for (name, labels), value in counters.items():
            series[name].append(f"{name}{_labels(labels)} {_number(value)}")
        for (name, labels), (buckets, count, total) in sorted(hist.items()):
            for bound, n in zip(BUCKETS, buckets):
                series[name].append(f"{name}_bucket{_labels(labels + (('le', _number(bound)),))} {n}")
            series[name].append(f"{name}_bucket{_labels(labels + (('le', '+Inf'),))} {count}")
            series[name].append(f"{name}_count{_labels(labels)} {count}")
            series[name].append(f"{name}_sum{_labels(labels)} {_number(round(total, 6))}")
        for name, read in self._gauges.items():
            for labels, value in read():
                series[name].append(f"{name}{_labels(tuple(sorted(labels.items())))} {_number(value)}")
        out = []
        for name in sorted(set(series) | set(self.HELP)):
            kind, text = self.HELP.get(name, ("untyped", name))
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(sorted(series.get(name, ())) if kind != "histogram" else series.get(name, ()))
        return "\n".join(out) + "\n"

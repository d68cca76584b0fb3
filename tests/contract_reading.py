"""A minimal, independent reading of the contract's classification rules, for checking test data only.

It lets the generator and the example case files be checked against "Readings that the contract
fixes" (shanghai-2017-contract.md) without the engine; the policy itself is the authority on
classification, and its own tests pin the decisions.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

ORDER = ("c", "b", "a", "aa")   # lowest first


def _shift_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:          # 29 February
        return day.replace(year=day.year + years, day=28)


def expected_class(case: dict) -> Optional[str]:
    """The enterprise class (aa/a/b/c) of a case file with dates as ISO strings; None when not applicable."""
    as_of = dt.date.fromisoformat(case["as_of"])
    d = dt.date.fromisoformat
    licenses = [lic for lic in case.get("licenses", []) if not lic.get("food_related")]
    if not licenses:
        return None
    three = _shift_years(as_of, -3)

    def within3(day):
        return three <= d(day) <= as_of

    breaches = case.get("commitment_breaches", [])
    commitment = case.get("aa_commitment")
    accepted = bool(commitment and commitment.get("reviewed")) and not any(
        d(b["date"]) <= as_of < _shift_years(d(b["date"]), 5) for b in breaches)
    penalties = case.get("penalties", [])
    enterprise_c = any(p["subject"] == "product_quality" and within3(p["date"]) for p in penalties) or any(
        m.get("verified") and within3(m["date"]) for m in case.get("media_exposures", []))
    classes = []
    for cat in sorted({lic["category"] for lic in licenses}):
        history = [h for h in case.get("classification_history", []) if h["category"] == cat]
        latest = max(history, key=lambda h: h["decided_on"]) if history else None
        assessed = [a for a in case.get("assessments", []) if a["category"] == cat]
        newest = max(assessed, key=lambda a: a["assessed_on"]) if assessed else None
        # starting class: a newer assessment, else the latest decision, else b (第十条)
        if newest and (latest is None or newest["assessed_on"] > latest["decided_on"]):
            cls = newest["result"]
        else:
            cls = latest["class"] if latest else "b"
        if cls == "aa" and not accepted:                       # 第八条, 第九条
            cls = "a"
        if latest:                                             # 第三十三条: no skipping upward
            cls = ORDER[min(ORDER.index(cls), ORDER.index(latest["class"]) + 1)]
        checks = [s for s in case.get("spot_checks", []) if s["category"] == cat]
        c = enterprise_c                                       # 第八条 C criteria, within 3 years
        c |= sum(1 for s in checks if s["result"] == "fail" and s["level"] in ("national", "provincial")
                 and within3(s["date"])) >= 2
        c |= any(s["result"] == "refused" and within3(s["date"]) for s in checks)
        if latest:
            def since(day):
                return latest["decided_on"] < day <= case["as_of"]

            c |= any(s["result"] == "fail" and since(s["date"]) for s in checks)   # 第三十二条
            if (any(p["subject"] == "other_quality_law" and since(p["date"]) for p in penalties)
                    or case.get("serious_quality_hazard") or any(since(b["date"]) for b in breaches)):
                cls = ORDER[min(ORDER.index(cls), max(0, ORDER.index(latest["class"]) - 1))]   # 第三十三条
        classes.append("c" if c else cls)
    return min(classes, key=ORDER.index)                       # 第三十一条: the lowest category class

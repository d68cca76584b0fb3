"""A hand-written, plain-Python evaluation of a subset of the Shanghai policy: the baseline the benchmark compares with.

Only `classification` and `supervision_mode` (and the two figures of 第三十条 that follow from the
mode), read from shared/spec/shanghai-2017-contract.md "Readings that the contract fixes", written
as one would without regcode: no rules, no explanations, no schema check, ISO dates compared as
text. It exists to measure what the engine costs, not to decide anything.

    from baseline import evaluate_subset
    evaluate_subset(case) -> {"classification": "b", "supervision_mode": "normal", ...}
"""
from __future__ import annotations

ORDER = ("c", "b", "a", "aa")                         # lowest first
MODE = {"aa": "credit", "a": "responsibility", "b": "normal", "c": "strict"}
STRICTER = {"credit": "responsibility", "responsibility": "normal", "normal": "strict", "strict": "strict"}
INSPECTIONS = {"credit": (0, 0.2), "responsibility": (0, 0.5), "normal": (1, 1.0), "strict": (2, 1.0)}


def _years_before(day: str, years: int) -> str:
    """ISO date `years` earlier (29 February -> 28 February)."""
    year, rest = int(day[:4]) - years, day[4:]
    if rest == "-02-29" and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        rest = "-02-28"
    return f"{year:04d}{rest}"


def _years_after(day: str, years: int) -> str:
    return _years_before(day, -years)


def evaluate_subset(case: dict, as_of: str = None) -> dict:
    """classification (第八条, 第九条, 第十条, 第三十一条, 第三十二条, 第三十三条) and supervision_mode (第十四条, 第三十条)."""
    as_of = as_of or case["as_of"]
    licenses = [lic for lic in case.get("licenses") or () if not lic.get("food_related")]
    if not licenses:                                                    # 第二条
        return {"applicable": False, "classification": None, "supervision_mode": None,
                "inspections_per_year_min": None, "inspection_sampling_ratio_min": None}
    since3 = _years_before(as_of, 3)
    breaches = [b["date"] for b in case.get("commitment_breaches") or () if b["date"] <= as_of]
    commitment = case.get("aa_commitment") or {}
    accepted = bool(commitment.get("signed_on")) and commitment.get("signed_on") <= as_of and bool(commitment.get("reviewed")) \
        and not any(as_of < _years_after(day, 5) for day in breaches)
    penalties = [p for p in case.get("penalties") or () if p["date"] <= as_of]
    enterprise_c = any(p["subject"] == "product_quality" and p["date"] >= since3 for p in penalties) or any(
        m.get("verified") and since3 <= m["date"] <= as_of for m in case.get("media_exposures") or ())
    hazard = bool(case.get("serious_quality_hazard"))
    spot_checks = [s for s in case.get("spot_checks") or () if s["date"] <= as_of]
    history = [h for h in case.get("classification_history") or () if h["decided_on"] <= as_of]
    assessments = [a for a in case.get("assessments") or () if a["assessed_on"] <= as_of]

    worst = 3
    for category in {lic["category"] for lic in licenses}:
        latest = max((h for h in history if h["category"] == category), key=lambda h: h["decided_on"], default=None)
        newest = max((a for a in assessments if a["category"] == category), key=lambda a: a["assessed_on"], default=None)
        if newest is not None and (latest is None or newest["assessed_on"] > latest["decided_on"]):
            rank = ORDER.index(newest["result"])                     # 第十条: a newer assessment
        else:
            rank = ORDER.index(latest["class"]) if latest else 1     # the latest decision, else b
        if rank == 3 and not accepted:                                # 第八条, 第九条: AA needs the commitment
            rank = 2
        checks = [s for s in spot_checks if s["category"] == category]
        c = enterprise_c or sum(1 for s in checks if s["result"] == "fail" and s["level"] in ("national", "provincial")
                                and s["date"] >= since3) >= 2 \
            or any(s["result"] == "refused" and s["date"] >= since3 for s in checks)
        if latest is not None:
            last = ORDER.index(latest["class"])
            rank = min(rank, last + 1)                                # 第三十三条: no skipping upward
            after = latest["decided_on"]
            c = c or any(s["result"] == "fail" and s["date"] > after for s in checks)   # 第三十二条
            if hazard or any(day > after for day in breaches) or any(
                    p["subject"] == "other_quality_law" and p["date"] > after for p in penalties):
                rank = min(rank, max(0, last - 1))                    # 第三十三条: downgrade
        if c:
            rank = 0
        worst = min(worst, rank)
    classification = ORDER[worst]                                     # 第三十一条: the lowest category class
    mode = MODE[classification]                                       # 第三十条
    if any(lic.get("risk_level") == "i" for lic in licenses):        # 第十四条: one step stricter
        mode = STRICTER[mode]
    count, ratio = INSPECTIONS[mode]
    return {"applicable": True, "classification": classification, "supervision_mode": mode,
            "inspections_per_year_min": count, "inspection_sampling_ratio_min": ratio}

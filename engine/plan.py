"""The annual regular inspection plan (定期监督检查计划, 第二十三条) drawn from evaluated supervision modes (第三十条).

Nothing of the regulation is re-implemented here: how often an enterprise is inspected and what
share of a district's enterprises in a mode must be inspected come from the decisions
`supervision_mode`, `inspections_per_year_min`, `inspection_sampling_ratio_min` and
`competent_authority` of each evaluation. This module only counts, samples and lists:

- a mode whose ratio is 1 (strict, normal): every enterprise, `max(1, inspections_per_year_min)` visits;
- a mode whose ratio is below 1 (credit 0.2, responsibility 0.5): per district, the first
  ceil(ratio x n) enterprises ordered by sha256("YEAR:DISTRICT:CREDIT_CODE"), one visit each (at
  least). The order depends only on the year, the district and the enterprise, never on the input
  order, so the same inputs always give the same plan;
- special inspections due (`special_inspection_reasons`, 第二十九条) and the deadlines falling in the
  year (`classification_deadline`, 第十条; `aa_commitment_barred_until`, 第九条).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Iterable, Optional

from .coverage import article_number
from .load import dump_json

PLAN_ARTICLE = "第二十三条"          # 每年1月制定定期监督检查计划
ITEMS = ("regular", "special", "classification_due", "aa_bar_ends")
COLUMNS = ("district", "item", "credit_code", "name", "classification", "supervision_mode", "visits", "due",
           "reason", "articles", "rules", "as_of", "policy")
MODE_ORDER = ("strict", "normal", "responsibility", "credit")


@dataclass(frozen=True)
class Entry:
    """What the plan needs of one evaluated enterprise (small: this is what a worker sends back)."""

    credit_code: str
    name: str
    district: Optional[str]
    as_of: str
    policy: str
    applicable: bool
    classification: Optional[str]
    mode: Optional[str]
    inspections_min: Optional[float]
    ratio: Optional[float]
    mode_rules: tuple = ()         # decisive rules of supervision_mode / inspections_per_year_min / ..._ratio_min
    mode_articles: tuple = ()
    special_reasons: tuple = ()
    special_rules: tuple = ()
    special_articles: tuple = ()
    classification_deadline: Optional[str] = None
    deadline_rules: tuple = ()
    deadline_articles: tuple = ()
    barred_until: Optional[str] = None
    barred_rules: tuple = ()
    barred_articles: tuple = ()

    def sort_key(self) -> tuple:
        """Orders two records of one enterprise independently of the input order (the latest as_of wins)."""
        return (self.as_of, dump_json(asdict(self)))


def _decisive(result: dict, *names: str) -> tuple:
    rules, articles = set(), set()
    for name in names:
        for entry in (result.get("why") or {}).get(name, []):
            if entry.get("decisive"):
                rules.add(entry["rule"])
                articles.add(entry["article"])
    return tuple(sorted(rules)), tuple(sorted(articles, key=_article_key))


def _article_key(article: str) -> tuple:
    """第九条 < 第二十三条 < 第三十条 (by number, not by text), so the list reads in the regulation's order."""
    number = article_number(article)
    return (0, number, article) if number is not None else (1, 0, article)


def plan_entry(case: dict, result: dict) -> Entry:
    """The reducer a plan worker applies to one `eval --format json` object."""
    d = result.get("decisions") or {}
    enterprise = case.get("enterprise") if isinstance(case.get("enterprise"), dict) else {}
    policy = result.get("policy") or {}
    mode_rules, mode_articles = _decisive(result, "supervision_mode", "inspections_per_year_min", "inspection_sampling_ratio_min")
    special_rules, special_articles = _decisive(result, "special_inspection_reasons")
    deadline_rules, deadline_articles = _decisive(result, "classification_deadline")
    barred_rules, barred_articles = _decisive(result, "aa_commitment_barred_until")
    return Entry(
        credit_code=str(enterprise.get("credit_code") or ""), name=str(enterprise.get("name") or ""),
        district=d.get("competent_authority"), as_of=result.get("as_of", ""),
        policy=f"{policy.get('id')}@{policy.get('version')}", applicable=bool(d.get("applicable", True)),
        classification=d.get("classification"), mode=d.get("supervision_mode"),
        inspections_min=d.get("inspections_per_year_min"), ratio=d.get("inspection_sampling_ratio_min"),
        mode_rules=mode_rules, mode_articles=mode_articles,
        special_reasons=tuple(d.get("special_inspection_reasons") or ()), special_rules=special_rules,
        special_articles=special_articles,
        classification_deadline=d.get("classification_deadline"), deadline_rules=deadline_rules,
        deadline_articles=deadline_articles,
        barred_until=d.get("aa_commitment_barred_until"), barred_rules=barred_rules, barred_articles=barred_articles,
    )


def sample_key(year: int, district: str, credit_code: str) -> str:
    """The draw order of the sample: a hash of year, district and enterprise (stable under input order)."""
    return hashlib.sha256(f"{year}:{district}:{credit_code}".encode("utf-8")).hexdigest()


def required(ratio, n: int) -> int:
    """ceil(ratio x n), exactly: 0.2 x 15 is 3, not 3.0000000000000004 rounded up to 4."""
    return min(n, math.ceil(Fraction(str(ratio)) * n))


@dataclass
class Plan:
    year: int
    rows: list = field(default_factory=list)
    districts: dict = field(default_factory=dict)   # district -> {modes: {mode: {...}}, special, deadlines, visits}
    not_applicable: int = 0
    no_district: int = 0
    duplicates: list = field(default_factory=list)   # credit codes met more than once (the latest as_of kept)
    policies: list = field(default_factory=list)
    as_of: dict = field(default_factory=dict)        # date -> enterprises evaluated as of it

    def as_dict(self) -> dict:
        return {"year": self.year, "article": [PLAN_ARTICLE, "第三十条"], "policies": self.policies,
                "as_of": self.as_of, "districts": self.districts, "not_applicable": self.not_applicable,
                "no_district": self.no_district, "duplicates": self.duplicates, "rows": self.rows}


def _row(e: Entry, item: str, visits, due, reason: str, articles, rules) -> dict:
    return {"district": e.district, "item": item, "credit_code": e.credit_code, "name": e.name,
            "classification": e.classification, "supervision_mode": e.mode, "visits": visits, "due": due,
            "reason": reason, "articles": list(articles), "rules": list(rules), "as_of": e.as_of, "policy": e.policy}


def _pct(ratio) -> str:
    return f"{float(Fraction(str(ratio)) * 100):g}%"


def build_plan(entries: Iterable[Entry], year: int, district: Optional[str] = None) -> Plan:
    """The plan for `year` (optionally one district's part); the same entries in any order give the same plan."""
    first, last = f"{year:04d}-01-01", f"{year:04d}-12-31"
    plan = Plan(year)
    chosen: dict = {}
    dupes = set()
    policies, as_of = set(), {}
    for e in entries:
        if e.credit_code in chosen:
            dupes.add(e.credit_code)
            if e.sort_key() <= chosen[e.credit_code].sort_key():
                continue
        chosen[e.credit_code] = e
    plan.duplicates = sorted(dupes)

    groups: dict = {}   # (district, mode) -> [Entry]
    for e in chosen.values():
        if district is None or e.district == district:
            as_of[e.as_of] = as_of.get(e.as_of, 0) + 1
        if not e.applicable or e.mode is None:
            plan.not_applicable += 1
            continue
        if not e.district:
            plan.no_district += 1
            continue
        if district is not None and e.district != district:
            continue
        policies.add(e.policy)
        groups.setdefault((e.district, e.mode), []).append(e)
    plan.policies = sorted(policies)
    plan.as_of = dict(sorted(as_of.items()))

    rows = []
    for (dist, mode), members in sorted(groups.items()):
        summary = plan.districts.setdefault(dist, {"modes": {}, "visits": 0, "special": 0, "deadlines": 0})
        ratios = [m.ratio for m in members if m.ratio is not None]
        ratio = max(ratios) if ratios else 1.0       # 从严: the largest share any of them requires
        n = len(members)
        if ratio >= 1:
            picked, how = members, None
        else:
            k = required(ratio, n)
            ordered = sorted(members, key=lambda m: (sample_key(year, dist, m.credit_code), m.credit_code))
            picked, how = ordered[:k], f"sampled {k} of {n} (at least {_pct(ratio)}, rounded up)"
        visits = 0
        for e in picked:
            count = max(1, int(e.inspections_min or 0))
            visits += count
            reason = f"{mode}: " + (how or f"every enterprise, {count} a year")
            rows.append(_row(e, "regular", count, None, reason, _merge_articles((PLAN_ARTICLE,), e.mode_articles), e.mode_rules))
        summary["modes"][mode] = {"enterprises": n, "ratio": ratio, "inspected": len(picked), "visits": visits}
        summary["visits"] += visits
        for e in members:
            if e.special_reasons:
                rows.append(_row(e, "special", 1, None, ", ".join(e.special_reasons), e.special_articles, e.special_rules))
                summary["special"] += 1
            if e.classification_deadline and first <= e.classification_deadline <= last:
                rows.append(_row(e, "classification_due", None, e.classification_deadline,
                                 "classify the new licensee by this date", e.deadline_articles, e.deadline_rules))
                summary["deadlines"] += 1
            if e.barred_until and first <= e.barred_until <= last:
                rows.append(_row(e, "aa_bar_ends", None, e.barred_until,
                                 "the 5-year bar on an AA self-commitment ends", e.barred_articles, e.barred_rules))
                summary["deadlines"] += 1
    for summary in plan.districts.values():
        summary["modes"] = {m: summary["modes"][m] for m in sorted(summary["modes"], key=_mode_key)}
    rows.sort(key=lambda r: (r["district"], ITEMS.index(r["item"]), r["due"] or "", r["credit_code"], r["name"]))
    plan.rows = rows
    plan.districts = {d: plan.districts[d] for d in sorted(plan.districts)}
    return plan


def _merge_articles(*groups) -> tuple:
    return tuple(sorted({a for g in groups for a in g}, key=_article_key))


def _mode_key(mode: str) -> tuple:
    return (MODE_ORDER.index(mode), mode) if mode in MODE_ORDER else (len(MODE_ORDER), mode)


def to_csv(plan: Plan) -> str:
    """The rows as CSV (a header row; lists joined by spaces)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in plan.rows:
        writer.writerow(["" if row[c] is None else " ".join(row[c]) if isinstance(row[c], list) else row[c] for c in COLUMNS])
    return buf.getvalue()


def to_json(plan: Plan) -> str:
    return dump_json(plan.as_dict()) + "\n"

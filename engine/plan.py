"""The annual regular inspection plan drawn from evaluated decisions, as the policy declares it (reports.plan).

Nothing of a regulation is named or re-implemented here. Which decision is the supervision mode,
which gives the visits a year, the share of a group's cases to inspect, the special inspections
due and the deadlines, which article the plan rests on and what a case is keyed by: all of it is
the policy's declaration (engine/reports.py; for Shanghai, 第二十三条 and 第三十条). This module only
counts, samples and lists:

- a mode whose share is 1: every case of it, `max(1, visits)` visits;
- a mode whose share is below 1: per group, the first ceil(share x n) cases ordered by
  sha256 of the declared seed parts (for Shanghai "YEAR:DISTRICT:CREDIT_CODE"), one visit each (at
  least). The order depends only on the year, the group and the case, never on the input order,
  so the same inputs always give the same plan;
- the special inspections due and the declared deadlines that fall in the year.
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Iterable, Optional

from ._dates import is_date
from .coverage import article_number
from .errors import CompileError, EvaluationError, Issue, Location
from .load import dump_json, json_type
from .reports import PlanSpec, identity_value, reports_for


@dataclass(frozen=True)
class Entry:
    """What the plan needs of one evaluated case (small: this is what a worker sends back)."""

    key: str                       # the declared key (an identity field): one case
    identity: tuple                # ((column, value), ...) from the result's identity
    group: Optional[str]
    as_of: str
    policy: str
    applicable: bool
    mode: Optional[str]
    visits_min: Optional[float]
    ratio: Optional[float]
    shown: tuple = ()              # ((decision, value), ...) shown on every row
    mode_rules: tuple = ()         # decisive rules of the mode / visits / share decisions
    mode_articles: tuple = ()
    special_reasons: tuple = ()
    special_rules: tuple = ()
    special_articles: tuple = ()
    deadlines: tuple = ()          # ((item, date, reason, rules, articles), ...)
    spec: Optional[PlanSpec] = field(default=None, compare=False)

    def sort_key(self) -> tuple:
        """Orders two records of one case independently of the input order: the latest as_of wins, and of equal as_of
        the one last by content (the canonical JSON of the entry; equal ones plan the same rows)."""
        return (self.as_of, dump_json({k: v for k, v in asdict(self).items() if k != "spec"}))


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


def plan_entry(case: dict, result: dict, cat=None) -> Entry:
    """The reducer a plan worker applies to one `eval --format json` object, by its policy's declaration."""
    spec = reports_for(cat, result).plan if cat is not None else None
    if spec is None:
        p = result.get("policy") or {}
        raise CompileError([no_plan(f"{p.get('id')}@{p.get('version')}")])
    return entry_of(spec, case, result)


def no_plan(ref: str) -> Issue:
    return Issue("compile.reports", f"{ref} declares no plan: `regcode plan` needs `reports: plan:` in its policy.yaml",
                 Location(), "see docs/policy-format.md, Reports")


def check_plans(cat, policy_id: str, version=None) -> None:
    """Before any case is read: every version a case could be planned by declares a plan (one error, not one a record)."""
    from .catalog import candidates
    from .reports import reports_of
    missing = [no_plan(f"{policy_id}@{info.version}") for info in candidates(cat, policy_id, version)
               if reports_of(cat.compiled(info), cat).plan is None]
    if missing:
        raise CompileError(missing)


def entry_of(spec: PlanSpec, case: dict, result: dict) -> Entry:
    d = result.get("decisions") or {}
    _check_types(spec, d, result)
    policy = result.get("policy") or {}
    identity = tuple((col, identity_value(result, keys)) for col, keys in spec.identity)
    key = identity_value(result, spec.key)
    mode_rules, mode_articles = _decisive(result, spec.mode, spec.visits, spec.share)
    special_rules, special_articles = _decisive(result, spec.special) if spec.special else ((), ())
    deadlines = tuple((dl.item, d.get(dl.decision), dl.reason) + _decisive(result, dl.decision)
                      for dl in spec.deadlines if d.get(dl.decision))
    return Entry(
        key="" if key is None else str(key), identity=tuple((c, "" if v is None else str(v)) for c, v in identity),
        group=spec.group.of(case, d, fallback=False), as_of=result.get("as_of", ""),
        policy=f"{policy.get('id')}@{policy.get('version')}",
        applicable=bool(d.get(spec.scope, True)) if spec.scope else True,
        mode=d.get(spec.mode), visits_min=d.get(spec.visits), ratio=d.get(spec.share),
        shown=tuple((name, d.get(name)) for name in spec.show),
        mode_rules=mode_rules, mode_articles=mode_articles,
        special_reasons=tuple(d.get(spec.special) or ()) if spec.special else (), special_rules=special_rules,
        special_articles=special_articles, deadlines=deadlines, spec=spec,
    )


def _check_types(spec: PlanSpec, d: dict, result: dict) -> None:
    """The decisions the plan counts with are of the types it reads them as: a share or a number of visits that is
    text, a deadline that is no date, would fail its sums and orders. Compile refuses a conclusion of the wrong type
    (compile.type); this is said of a result that has one anyway, as the record's problem, never a crash."""
    p = result.get("policy") or {}
    for name, takes, fits in _wanted(spec):
        if name and d.get(name) is not None and not fits(d[name]):
            raise EvaluationError([Issue("eval.type", f"decision `{name}` is {d[name]!r} ({json_type(d[name])}); the plan reads "
                                         f"it as {takes}", Location(),
                                         f"fix the rules of {p.get('id')}@{p.get('version')} that claim it "
                                         "(`regcode validate` says which, as compile.type)")])


_WANTED: dict = {}     # id(spec) -> (spec, its table): made once per plan, not once per record


def _wanted(spec: PlanSpec) -> list:
    """(decision, the type in words, its test) for each decision the plan reads."""
    found = _WANTED.get(id(spec))
    if found is None or found[0] is not spec:
        if len(_WANTED) > 64:
            _WANTED.clear()
        wanted = [(spec.share, "a number (the share of cases to inspect)", _is_number),
                  (spec.visits, "a number (visits a year)", _is_number),
                  (spec.mode, "text (one of its modes)", lambda v: isinstance(v, str)),
                  (spec.scope, "true or false", lambda v: isinstance(v, bool)),
                  (spec.special, "a list of reasons", lambda v: isinstance(v, list) and all(isinstance(r, str) for r in v))]
        wanted += [(dl.decision, "a date", lambda v: isinstance(v, str) and is_date(v)) for dl in spec.deadlines]
        found = _WANTED[id(spec)] = (spec, wanted)
    return found[1]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def sample_key(*parts) -> str:
    """The draw order of the sample: a hash of the declared seed parts, e.g. year, district and enterprise
    (stable under input order): sha256("2020:嘉定区:91310114MA1GT0001X")."""
    return hashlib.sha256(":".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def required(ratio, n: int) -> int:
    """ceil(ratio x n), exactly: 0.2 x 15 is 3, not 3.0000000000000004 rounded up to 4."""
    return min(n, math.ceil(Fraction(str(ratio)) * n))


@dataclass
class Plan:
    year: int
    spec: Optional[PlanSpec] = None
    rows: list = field(default_factory=list)
    districts: dict = field(default_factory=dict)   # group -> {modes: {mode: {...}}, special, deadlines, visits}
    not_applicable: int = 0
    no_district: int = 0                             # applicable, but in no group
    duplicates: list = field(default_factory=list)   # keys met more than once (one kept: Entry.sort_key)
    policies: list = field(default_factory=list)
    as_of: dict = field(default_factory=dict)        # date -> cases evaluated as of it

    def as_dict(self) -> dict:
        label, key = (self.spec.group.label, self.spec.group.key) if self.spec else ("group", "groups")
        return {"year": self.year, "article": list(self.spec.articles) if self.spec else [], "policies": self.policies,
                "as_of": self.as_of, key: self.districts, "not_applicable": self.not_applicable,
                f"no_{label}": self.no_district, "duplicates": self.duplicates, "rows": self.rows}

    @property
    def columns(self) -> tuple:
        return self.spec.columns if self.spec else ()


def _row(spec: PlanSpec, e: Entry, item: str, visits, due, reason: str, articles, rules) -> dict:
    row = {spec.group.label: e.group, "item": item, **dict(e.identity), **dict(e.shown), "visits": visits, "due": due,
           "reason": reason, "articles": list(articles), "rules": list(rules), "as_of": e.as_of, "policy": e.policy}
    return row


def _pct(ratio) -> str:
    return f"{float(Fraction(str(ratio)) * 100):g}%"


def plan_spec(entries: list) -> Optional[PlanSpec]:
    """The declaration the plan is drawn by: the entries', or when versions differ, that of the latest as_of's."""
    specs = [e for e in entries if e.spec is not None]
    if not specs:
        return None
    return max(specs, key=lambda e: (e.as_of, e.policy)).spec


def build_plan(entries: Iterable[Entry], year: int, district: Optional[str] = None,
               spec: Optional[PlanSpec] = None) -> Plan:
    """The plan for `year` (optionally one group's part, drawn by `spec`: the declaration of the whole input's,
    which one group with no entries still has); the same entries in any order give the same plan."""
    first, last = f"{year:04d}-01-01", f"{year:04d}-12-31"
    entries = list(entries)
    spec = spec or plan_spec(entries)
    plan = Plan(year, spec)
    if spec is None:
        return plan
    chosen: dict = {}
    dupes = set()
    policies, as_of = set(), {}
    for e in entries:
        if e.key in chosen:
            dupes.add(e.key)
            if e.sort_key() <= chosen[e.key].sort_key():
                continue
        chosen[e.key] = e
    plan.duplicates = sorted(dupes)

    groups: dict = {}   # (group, mode) -> [Entry]
    for e in chosen.values():
        if district is None or e.group == district:
            as_of[e.as_of] = as_of.get(e.as_of, 0) + 1
        if not e.applicable or e.mode is None:
            plan.not_applicable += 1
            continue
        if not e.group:
            plan.no_district += 1
            continue
        if district is not None and e.group != district:
            continue
        policies.add(e.policy)
        groups.setdefault((e.group, e.mode), []).append(e)
    plan.policies = sorted(policies)
    plan.as_of = dict(sorted(as_of.items()))

    rows = []
    items = spec.items
    for (dist, mode), members in sorted(groups.items()):
        summary = plan.districts.setdefault(dist, {"modes": {}, "visits": 0, "special": 0, "deadlines": 0})
        ratios = [m.ratio for m in members if m.ratio is not None]
        ratio = max(ratios) if ratios else 1.0       # 从严: the largest share any of them requires
        n = len(members)
        if ratio >= 1:
            picked, how = members, None
        else:
            k = required(ratio, n)
            ordered = sorted(members, key=lambda m: (sample_key(*_seed(spec, year, dist, m)), m.key))
            picked, how = ordered[:k], f"sampled {k} of {n} (at least {_pct(ratio)}, rounded up)"
        visits = 0
        for e in picked:
            count = max(1, int(e.visits_min or 0))
            visits += count
            reason = f"{mode}: " + (how or f"every {spec.unit[0]}, {count} a year")
            articles = _merge_articles((spec.article,), e.mode_articles)
            rows.append(_row(spec, e, "regular", count, None, reason, articles, e.mode_rules))
        summary["modes"][mode] = {spec.unit[1]: n, "ratio": ratio, "inspected": len(picked), "visits": visits}
        summary["visits"] += visits
        for e in members:
            if e.special_reasons:
                rows.append(_row(spec, e, spec.special_item, 1, None, ", ".join(e.special_reasons), e.special_articles,
                                 e.special_rules))
                summary["special"] += 1
            for item, due, reason, rules, articles in e.deadlines:
                if first <= due <= last:
                    rows.append(_row(spec, e, item, None, due, reason, articles, rules))
                    summary["deadlines"] += 1
    for summary in plan.districts.values():
        summary["modes"] = {m: summary["modes"][m] for m in sorted(summary["modes"], key=lambda m: _mode_key(spec, m))}
    ids = [col for col, _ in spec.identity]
    # groups in the policy's order (its districts' enum, as the summary tables list them), then the others
    rank = {name: i for i, name in enumerate(spec.group.ordered(plan.districts))}
    rows.sort(key=lambda r: (rank[r[spec.group.label]], items.index(r["item"]) if r["item"] in items else len(items), r["item"],
                             r["due"] or "", r[spec.key_column], *(str(r[c]) for c in ids)))
    plan.rows = rows
    plan.districts = {d: plan.districts[d] for d in sorted(plan.districts, key=rank.__getitem__)}
    return plan


def _seed(spec: PlanSpec, year: int, group: str, e: Entry) -> tuple:
    return tuple({"year": year, "group": group, "key": e.key}[part] for part in spec.seed)


def _merge_articles(*groups) -> tuple:
    return tuple(sorted({a for g in groups for a in g}, key=_article_key))


def _mode_key(spec: PlanSpec, mode: str) -> tuple:
    return (spec.modes.index(mode), mode) if mode in spec.modes else (len(spec.modes), mode)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")    # what a spreadsheet reads as the start of a formula (CSV injection)


def csv_cell(value) -> object:
    """A value as a plan CSV cell: a text a spreadsheet would run as a formula (`=HYPERLINK(...)`, as a case file's
    name may be written) is kept as text by a leading `'`, as OWASP advises; numbers are left as they are."""
    if isinstance(value, list):
        value = " ".join(map(str, value))
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def to_csv(plan: Plan) -> str:
    """The rows as CSV (a header row; lists joined by spaces; texts that read as formulas kept as text)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(plan.columns)
    for row in plan.rows:
        writer.writerow([csv_cell(row[c]) for c in plan.columns])
    return buf.getvalue()


def to_json(plan: Plan) -> str:
    return dump_json(plan.as_dict()) + "\n"

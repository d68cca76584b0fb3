"""What the batch summary counts and the annual plan draws up, as the policy declares it (policy.yaml `reports:`).

The engine names no regulation: which decision a batch summary groups by, which decisions it
counts (columns in an enum's declared order), and which decisions give a plan's supervision
mode, visits a year, sampling share, special inspections and deadlines are the policy's own
names, read here and checked against the compiled version's decisions and facts schema:

    reports:
      unit: {one: enterprise, other: enterprises}
      group: {label: district, key: districts, decision: competent_authority, fallback: enterprise.production_district}
      summary:
        count: [{decision: classification, label: class, none: no class}, {decision: supervision_mode, none: no mode}]
      plan:
        article: 第二十三条
        mode: {decision: supervision_mode, order: reverse}
        visits: inspections_per_year_min
        share: inspection_sampling_ratio_min
        ...

A version that `extends` another inherits its `reports:` unless it states its own. The result is a
small frozen value (picklable, hashable) that batch and plan workers send back with their results.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ._shapes import example_text_field
from .errors import CompileError, IssueCollector, Location, did_you_mean, one_line
from .load import _display, read_document

FIXED_PLAN_COLUMNS = ("item", "visits", "due", "reason", "articles", "rules", "as_of", "policy")
SEED_PARTS = ("year", "group", "key")
_CACHE: dict = {}          # (directory, content hash) -> Reports; a compiled version never changes


@dataclass(frozen=True)
class Group:
    """What results are grouped by: a decision, else (in the batch summary) a case-file path (`fallback`),
    else `unknown`. A plan groups by the decision alone: a case it assigns to no one is planned by no one."""

    label: str                     # one group's name: a column header, a plan row's key ("district")
    key: str                       # the groups' key in JSON output ("districts")
    decision: str
    fallback: tuple = ()           # path keys into the case file
    unknown: str = "(unknown)"
    order: tuple = ()              # the rows' order in a table: the fallback field's enum, else the decision's values
    labels: tuple = ()             # ((value, label), ...): the group decision's `labels:`, for the text tables only

    def ordered(self, names) -> list:
        """Group names as a table lists them: in `order`, then any others in code-point order, `unknown` last."""
        rank = {v: i for i, v in enumerate(self.order)}
        return sorted(names, key=lambda n: (n == self.unknown, rank.get(n, len(rank)), n))

    def row_name(self, name: str) -> str:
        """A group's name as a text table's row shows it: with its label beside it (`strict (加严监管)`) when declared."""
        return with_label(name, self.labels)

    def of(self, case: Any, decisions: dict, fallback: bool = True) -> Optional[str]:
        value = decisions.get(self.decision)
        if (value is None or value == "") and self.fallback and fallback:
            value = _get(case, self.fallback)
        return None if value is None or value == "" or isinstance(value, (dict, list)) else str(value)


@dataclass(frozen=True)
class Count:
    """One counted decision: a column per value, in `values` order (the enum's), then others seen."""

    decision: str
    values: tuple
    label: str = ""                # column header prefix: "class" -> "class aa"
    none: str = "n/a"              # the column of results without a value
    labels: tuple = ()             # ((value, label), ...): the decision's `labels:`, for the text table only

    def column(self, value: str) -> str:
        if value == NONE:
            return self.none
        return f"{self.label} {value}" if self.label else value

    def label_of(self, value: str) -> str:
        """The label the decision declares for a counted value (`AA类`), or "": the text table's second header line."""
        return label_of(value, self.labels) if value != NONE else ""


NONE = "n/a"                       # a counted decision without a value, in JSON summaries


def label_of(value: str, labels: tuple) -> str:
    """The label a decision declares for one of its values (`加严监管` for `strict`), on one line, or ""."""
    label = dict(labels).get(value)
    return one_line(label) if label else ""


def with_label(value: str, labels: tuple) -> str:
    """`strict (加严监管)`: a value with the label its decision declares for it, as `regcode eval`'s text shows
    it (engine/explain.py); the value alone when it has none."""
    label = label_of(value, labels)
    return f"{value} ({label})" if label else value


def _labels_of(decl) -> tuple:
    return tuple(sorted((str(k), str(v)) for k, v in (decl.labels or {}).items()))


@dataclass(frozen=True)
class Summary:
    group: Group
    counts: tuple                  # Count
    unit: str = "cases"            # what a row counts ("enterprises")

    def row(self, case: Any, result: dict) -> "SummaryRow":
        decisions = result.get("decisions") or {}
        group = self.group.of(case if isinstance(case, dict) else {}, decisions)
        values = tuple(NONE if decisions.get(c.decision) is None else str(decisions.get(c.decision)) for c in self.counts)
        return SummaryRow(self, group if group is not None else self.group.unknown, values)


@dataclass(frozen=True)
class SummaryRow:
    """What a batch worker sends back for the summary: the group and the counted values of one result."""

    spec: Summary
    group: str
    values: tuple


@dataclass(frozen=True)
class Deadline:
    item: str                      # the plan row's item ("classification_due")
    decision: str                  # a date decision
    reason: str


@dataclass(frozen=True)
class PlanSpec:
    """How `regcode plan` reads a result: which decision is the mode, how often, what share, what is due."""

    article: str                   # the plan's own article: in the title and on every regular row
    based_on: tuple                # further articles in the title
    group: Group
    mode: str
    modes: tuple                   # the mode decision's values, in the plan's column order
    visits: str
    share: str
    key: tuple                     # the identity path that is one enterprise (dedup, draw order)
    identity: tuple                # ((column, path keys), ...) from the policy's `identity:`
    seed: tuple = SEED_PARTS
    scope: Optional[str] = None    # a bool decision: false means outside the policy, not planned
    show: tuple = ()               # decisions shown on every row
    special: Optional[str] = None  # a list decision: reasons for a special inspection
    special_item: str = "special"
    deadlines: tuple = ()          # Deadline
    unit: tuple = ("case", "cases")   # what one case is and many are: "every enterprise", "enterprises"
    mode_labels: tuple = ()        # ((mode, label), ...): the mode decision's `labels:`, for the text summary only

    @property
    def articles(self) -> tuple:
        return (self.article,) + tuple(a for a in self.based_on if a != self.article)

    @property
    def items(self) -> tuple:
        return ("regular",) + ((self.special_item,) if self.special else ()) + tuple(d.item for d in self.deadlines)

    @property
    def key_column(self) -> str:
        return next(col for col, keys in self.identity if keys == self.key)

    @property
    def columns(self) -> tuple:
        return ((self.group.label, "item") + tuple(col for col, _ in self.identity) + self.show
                + ("visits", "due", "reason", "articles", "rules", "as_of", "policy"))


@dataclass(frozen=True)
class Reports:
    policy: str                    # policy@version the declaration was resolved for
    summary: Optional[Summary] = None
    plan: Optional[PlanSpec] = None


# ---- resolution --------------------------------------------------------------------------
def reports_of(policy, cat=None) -> Reports:
    """The compiled version's report declarations, checked (CompileError with file:line:col when wrong).

    `cat` (a Catalog) is needed only to inherit a base version's `reports:`."""
    key = (policy.directory, policy.content_hash)
    found = _CACHE.get(key)
    if found is None:
        declared, where = _declaration(policy, cat)
        issues = IssueCollector()
        found = _resolve(policy, declared or {}, _Where(where), issues)
        issues.raise_if_any(CompileError)
        _CACHE[key] = found
    return found


def report_issues(policy, cat=None) -> list:
    """What is wrong with a version's `reports:`, as issues (none when it is right): for a version whose rules
    failed to compile, checked against what it declares (engine/compile.py `_partial`)."""
    declared, where = _declaration(policy, cat)
    issues = IssueCollector()
    _resolve(policy, declared or {}, _Where(where), issues)
    return issues.issues


def reports_for(cat, result: dict) -> Reports:
    """The declarations of the version that produced an `eval --format json` object (in a batch worker)."""
    p = result.get("policy") or {}
    return reports_of(cat.compiled(cat.choose(p.get("id"), "0000-00-00", p.get("version"))), cat)


def _declaration(policy, cat) -> tuple:
    """(the `reports:` mapping, the manifest file that states it): this version's, else the nearest base's."""
    own = Path(policy.directory) / "policy.yaml"
    if "reports" in (policy.manifest or {}):
        return policy.manifest["reports"], own
    for ref in tuple(policy.chain)[1:]:
        directory = _version_dir(cat, ref)
        if directory is None:
            break
        doc = read_document(directory / "policy.yaml", _display(directory / "policy.yaml"), IssueCollector())
        data = doc.data if doc is not None and isinstance(doc.data, dict) else {}
        if "reports" in data:
            return data["reports"], directory / "policy.yaml"
    return None, own


def _version_dir(cat, ref: str) -> Optional[Path]:
    if cat is None or "@" not in ref:
        return None
    policy_id, version = ref.split("@", 1)
    info = cat.index().get(policy_id, {}).get(version)
    return Path(info.directory) if info is not None else None


class _Where:
    """Locations inside the manifest's `reports:`, with line and column read only when there is a problem."""

    def __init__(self, path: Path):
        self.path = path
        self.doc = None

    def __call__(self, *keys) -> Location:
        if self.doc is None:
            display = _display(self.path)
            self.doc = read_document(self.path, display, IssueCollector()) or False
        return self.doc.location(("reports",) + keys) if self.doc else Location(_display(self.path))


# ---- checks ------------------------------------------------------------------------------
def _resolve(policy, data: dict, where: _Where, issues: IssueCollector) -> Reports:
    unit = data.get("unit") or {}
    group = _group(policy, data.get("group"), where, issues) if "group" in data else None
    summary = plan = None
    for part in ("summary", "plan"):
        if part in data and group is None and "group" not in data:
            issues.add("compile.reports", f"`reports.{part}` needs `reports.group`: what its rows are grouped by",
                       where(part), "add group: {label: ..., key: ..., decision: ...}")
    if "summary" in data and group is not None:
        counts = []
        for i, raw in enumerate(data["summary"].get("count") or []):
            decl = _decision(policy, raw.get("decision"), ("enum", "string", "bool"), ("summary", "count", i, "decision"),
                             where, issues)
            if decl is not None:
                counts.append(Count(decl.name, tuple(decl.values or ()) if decl.type == "enum" else (),
                                    raw.get("label", ""), raw.get("none", NONE), _labels_of(decl)))
        summary = Summary(group, tuple(counts), unit.get("other", "cases"))
    if "plan" in data and group is not None:
        plan = _plan(policy, data["plan"], group, (unit.get("one", "case"), unit.get("other", "cases")), where, issues)
    return Reports(policy.ref, summary, plan)


def _group(policy, raw: dict, where: _Where, issues: IssueCollector) -> Optional[Group]:
    decl = _decision(policy, raw.get("decision"), ("string", "enum"), ("group", "decision"), where, issues)
    fallback = ()
    if raw.get("fallback"):
        fallback = _fact_path(policy, raw["fallback"], ("group", "fallback"), where, issues)
    if decl is None or fallback is None:
        return None
    node = policy.facts_shape
    for k in fallback:
        node = node.child(k) if node is not None else None
    order = (node.enum if node is not None and node.enum else None) or (decl.values if decl.type == "enum" else None) or ()
    return Group(raw["label"], raw["key"], decl.name, fallback, raw.get("unknown", "(unknown)"),
                 tuple(dict.fromkeys(str(v) for v in order)), _labels_of(decl))


def _plan(policy, raw: dict, group: Group, unit: tuple, where: _Where, issues: IssueCollector) -> Optional[PlanSpec]:
    before = len(issues.issues)
    mode = _decision(policy, raw["mode"].get("decision"), ("enum",), ("plan", "mode", "decision"), where, issues)
    visits = _decision(policy, raw["visits"], ("number",), ("plan", "visits"), where, issues)
    share = _decision(policy, raw["share"], ("number",), ("plan", "share"), where, issues)
    scope = _decision(policy, raw["scope"], ("bool",), ("plan", "scope"), where, issues) if "scope" in raw else None
    special = raw.get("special")
    special_decl = None
    if special:
        special_decl = _decision(policy, special["decision"], ("list",), ("plan", "special", "decision"), where, issues)
    show = []
    for i, name in enumerate(raw.get("show") or []):
        decl = _decision(policy, name, ("enum", "string", "bool", "number", "date"), ("plan", "show", i), where, issues)
        if decl is not None:
            show.append(decl.name)
    show = tuple(show)
    deadlines = []
    for i, d in enumerate(raw.get("deadlines") or []):
        decl = _decision(policy, d.get("decision"), ("date",), ("plan", "deadlines", i, "decision"), where, issues)
        if decl is not None:
            deadlines.append(Deadline(d["item"], decl.name, d["reason"]))
    identity = _identity_columns(policy)
    if not identity:
        issues.add("compile.reports", f"a plan needs the policy's `identity:` (none is declared for {policy.ref}): "
                   "its rows name each case by it", where("plan"), "add identity: [a.field, ...] to policy.yaml")
        return None
    key = tuple(str(raw["key"]).split("."))
    if key not in [keys for _, keys in identity]:
        issues.add("compile.reports", f"plan key `{raw['key']}` is not one of the policy's identity paths "
                   f"({', '.join('.'.join(k) for _, k in identity)})", where("plan", "key"),
                   did_you_mean(str(raw["key"]), ['.'.join(k) for _, k in identity]) or "name one of them")
    taken = {group.label: "the group", **{c: "a fixed column" for c in FIXED_PLAN_COLUMNS}}
    for column, keys in identity:
        if column in taken:
            issues.add("compile.reports", f"identity path `{'.'.join(keys)}` would be the plan column `{column}`, "
                       f"which is already {taken[column]}", where("plan"), "rename the group label")
        taken[column] = "an identity column"
    for i, name in enumerate(show):
        if name in taken:
            issues.add("compile.reports", f"`{name}` is already {taken[name]} of the plan's rows", where("plan", "show", i),
                       "drop it")
        taken[name] = "a shown decision"
    items = (["regular"] + ([special.get("item", "special")] if special else [])
             + [d["item"] for d in raw.get("deadlines") or []])
    for i, item in enumerate(items):
        if items.index(item) != i:
            issues.add("compile.reports", f"plan item `{item}` is named twice", where("plan"),
                       "give every item its own name")
    if len(issues.issues) > before or mode is None or visits is None or share is None:
        return None
    modes = tuple(mode.values)
    if raw["mode"].get("order", "declared") == "reverse":
        modes = tuple(reversed(modes))
    return PlanSpec(article=raw["article"], based_on=tuple(raw.get("based_on") or ()), group=group, mode=mode.name,
                    modes=modes, visits=visits.name, share=share.name, key=key, identity=identity,
                    seed=tuple(raw.get("seed") or SEED_PARTS), scope=scope.name if scope else None, show=show,
                    special=special_decl.name if special_decl else None,
                    special_item=special.get("item", "special") if special else "special",
                    deadlines=tuple(deadlines), unit=unit, mode_labels=_labels_of(mode))


def _identity_columns(policy) -> tuple:
    """Each identity path's column name: its last key, or the whole dotted path where two share one."""
    lasts = [keys[-1] for keys in policy.identity]
    return tuple((keys[-1] if lasts.count(keys[-1]) == 1 else ".".join(keys), tuple(keys)) for keys in policy.identity)


def _decision(policy, name, types: tuple, at: tuple, where: _Where, issues: IssueCollector):
    decl = policy.decisions.get(name)
    gone = policy.removed.get(("decision", name)) if decl is None and isinstance(name, str) else None
    if decl is None and ("decision", name) in getattr(policy, "set_aside", ()):
        return None     # declared, and set aside for its own mistake, which is said where it is written
    if gone is not None:
        own = Path(where.path) == Path(policy.directory) / "policy.yaml"
        issues.add("compile.reports", f"decision `{name}` is not declared: {policy.ref} removes it ({gone})", where(*at),
                   "drop it from `reports:`, or keep the decision" if own else
                   f"this `reports:` is inherited: restate it without `{name}` in {_display(Path(policy.directory) / 'policy.yaml')}")
        return None
    if decl is None and Path(where.path) != Path(policy.directory) / "policy.yaml":
        # an inherited `reports:` named a decision of its own version: this version has dropped it
        issues.add("compile.reports", f"decision `{name}` is not declared in {policy.ref}, which inherits this `reports:`",
                   where(*at), f"restate `reports:` without it in {_display(Path(policy.directory) / 'policy.yaml')}")
        return None
    if decl is None:
        issues.add("compile.reports", f"decision `{name}` is not declared in {policy.ref}", where(*at),
                   did_you_mean(str(name), policy.decisions) or "name a decision of the policy")
        return None
    if decl.type not in types:
        issues.add("compile.reports", f"decision `{name}` is {_a(decl.type)}; here it must be {' or '.join(map(_a, types))}",
                   where(*at), "name a decision of that type")
        return None
    return decl


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _fact_path(policy, text: str, at: tuple, where: _Where, issues: IssueCollector) -> Optional[tuple]:
    keys = tuple(str(text).split("."))
    node = policy.facts_shape
    for k in keys:
        node = node.child(k) if node is not None else None
    if node is None or node.kind in ("object", "array"):
        issues.add("compile.reports", f"`{text}` is not a scalar field of the case file", where(*at),
                   did_you_mean(keys[-1], policy.facts_shape.props)
                   or f"name a text field, e.g. {example_text_field(policy.facts_shape)}")
        return None
    return keys


def _get(data: Any, keys: tuple) -> Any:
    for k in keys:
        data = data.get(k) if isinstance(data, dict) else None
    return data


def identity_value(result: dict, keys: tuple) -> Any:
    """The value of one identity path in an `eval --format json` object (its identity is nested as in the case)."""
    value = _get(result, keys)
    return None if isinstance(value, (dict, list)) else value

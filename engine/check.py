"""`regcode check`: logic checks of a compiled version - gaps, conflicts, dead rules, losing claims, unused names."""
from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

from . import _dates, _json
from . import _ir as ir
from .catalog import Catalog
from .compile import CompiledPolicy
from .errors import EvaluationError, Issue, Location, PolicyError
from .evaluate import check_case, evaluate
from .explain import to_dict
from .load import Document, dump_json, load_version

BUDGET = 4096          # synthetic cases evaluated at most; a larger input space is sampled (and the report says so)
MAX_LIST_ITEMS = 3     # items a synthetic list may hold (to reach a `count` threshold)
MAX_REPRESENTATIVES = 2  # values of an enum that no rule names, kept to tell them apart from each other
MAX_DEPTH = 64         # bound on nesting followed in the IR and the facts schema
MAX_SHOWN = 8         # input choices a finding's message names (the witness case has them all)
MAX_VALUES = 8         # values a text or number field takes at most (from the constants rules compare it with)
ABSENT = object()      # a field left out of a synthetic case file
_FIRST_DAY = "0001-01-01"   # the calendar's first day: no day comes before it

SEVERITY = {"check.not_exhaustive": "error", "check.conflict": "error", "check.evaluation": "error"}
HINTS = {
    "check.not_exhaustive": "add a rule that claims it for these inputs, or narrow its `required_when`",
    "check.conflict": "make the rules' conditions exclusive, or declare another combine strategy",
    "check.evaluation": "the witness case makes the evaluation fail; run it with `regcode eval`",
    "check.dead_condition": "as written the rule never fires: fix the comparison or the value",
    "check.always_loses": "drop the claim, or narrow the rule that always beats it",
    "check.unused_parameter": "reference it with {param: NAME}, or drop it: delete its declaration or, if it is inherited, "
                              "list it under `remove:` in a Parameters file of this version",
    "check.unread_derived": "bind it with `for_each` in a rule that uses it, or stop deriving it",
    "check.underived_fact": "derive it in a rule's `then`, or drop it and the rules that bind it (inherited ones: "
                            "`remove:` in a DerivedFacts and a Rules file of this version)",
    "check.unclaimed_decision": "claim it in a rule's `then`, or drop it: delete its declaration or, if it is inherited, "
                                "list it under `remove:` in a Decisions file of this version",
}


@dataclass
class Finding:
    issue: Issue
    explained: bool = False          # the declaration's or rule's note names the code: a known, intended finding
    witness: Optional[dict] = None   # a synthetic case file that shows it
    severity: str = "warning"        # error: a case gets a wrong or no answer; warning: dead or unused text

    def as_dict(self) -> dict:
        out = {**self.issue.as_dict(), "severity": self.severity, "explained": self.explained}
        if self.witness is not None:
            out["witness"] = self.witness
        return out


@dataclass
class Report:
    policy: CompiledPolicy
    as_of: str
    findings: list
    space: dict = field(default_factory=dict)

    @property
    def unexplained(self) -> list:
        return [f for f in self.findings if not f.explained]

    def as_dict(self) -> dict:
        p = self.policy
        return {"policy": {"id": p.id, "version": p.version, "content_hash": p.content_hash}, "as_of": self.as_of,
                "space": self.space, "findings": [f.as_dict() for f in self.findings],
                "summary": {"findings": len(self.findings), "explained": len(self.findings) - len(self.unexplained)}}


# ---- the IR as data ----------------------------------------------------------------------
def children(node):
    """The IR nodes directly under `node` (any dataclass field holding one, or a list or dict of them)."""
    if not dataclasses.is_dataclass(node):
        return
    for f in dataclasses.fields(node):
        if f.name == "fn":
            continue
        value = getattr(node, f.name)
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            if isinstance(item, (ir.Expr, ir.Cond)):
                yield f.name, item


def node_key(node, depth: int = 0):
    """A hashable, printable identity of an IR node, from its fields (two nodes written alike are equal)."""
    if depth > MAX_DEPTH:
        return ("...",)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__,) + tuple((f.name, node_key(getattr(node, f.name), depth + 1))
                                              for f in dataclasses.fields(node) if f.name != "fn")
    if isinstance(node, (list, tuple)):
        return tuple(node_key(v, depth + 1) for v in node)
    if isinstance(node, dict):
        return tuple(sorted((str(k), node_key(v, depth + 1)) for k, v in node.items()))
    return node if isinstance(node, (str, int, float, bool, type(None))) else repr(node)


def walk(node, scope: dict, depth: int = 0):
    """(node, scope) for `node` and everything below it; `scope` maps an alias to what it is bound to:
    ("case", keys) - an item of a case-file list, keys with "[]" for list items - or ("derived", name)."""
    if depth > MAX_DEPTH or node is None:
        return
    yield node, scope
    inner = scope
    alias, source = getattr(node, "alias", ""), getattr(node, "source", None)
    if alias and isinstance(source, ir.PathRef):
        target = resolve(source, scope)
        inner = {**scope, alias: ("case", target[1] + ("[]",)) if target and target[0] == "case" else ("opaque", "")}
    for name, child in children(node):
        yield from walk(child, inner if name != "source" else scope, depth + 1)


def resolve(ref: ir.PathRef, scope: dict) -> Optional[tuple]:
    """("case", keys) or ("derived", name, keys) for a path, or None when it reads something opaque."""
    if ref.scope:
        bound = scope.get(ref.scope)
        if bound is None or bound[0] == "opaque":
            return None
        if bound[0] == "derived":
            return ("derived", bound[1], tuple(ref.keys))
        return ("case", bound[1] + tuple(ref.keys))
    return ("case", tuple(ref.keys))


def rule_scope(rule: ir.Rule) -> dict:
    if rule.binds.startswith("list:"):
        return {rule.alias: ("case", tuple(rule.binds[5:].split(".")) + ("[]",))}
    if rule.binds.startswith("derived:"):
        return {rule.alias: ("derived", rule.binds[8:])}
    return {}


def rule_nodes(rule: ir.Rule):
    """Every IR node of a rule (condition and conclusions), with its scope."""
    scope = rule_scope(rule)
    yield from walk(rule.condition, scope)
    for concl in rule.conclusions:
        parts = [concl.value, concl.map_key] if isinstance(concl, ir.Decide) else list(concl.fields.values())
        for part in parts:
            yield from walk(part, scope)


def constant(expr, policy: CompiledPolicy):
    """The value of a literal, or of a parameter with one value for its whole life; else ABSENT."""
    if isinstance(expr, ir.Lit) and not isinstance(expr.value, (dict, list)):
        return expr.value
    if isinstance(expr, ir.Param) and expr.name in policy.parameters:
        decl = policy.parameters[expr.name]
        values = [decl.value] if decl.values is None else list(decl.values.values())
        if len({dump_json(v) for v in values}) == 1 and not isinstance(values[0], (dict, list)):
            return values[0]
    return ABSENT


def decision_values(policy: CompiledPolicy, decision: str) -> Optional[list]:
    """The text values a decision can take by the policy's rules (an enum's values, a fact's enum that a
    rule copies in), sorted; None where the policy does not fix them."""
    dom = Domains(policy).claimed(decision)
    return None if dom is None else sorted(str(v) for kind, v in dom if kind != "other" and v is not None)


def _typed(value) -> tuple:
    """Values compared by kind: True is not 1, '1' is not 1."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("num", value)
    return ("str", value) if isinstance(value, str) else ("other", dump_json(value))


NULL = _typed(None)


# ---- where declarations are written ------------------------------------------------------
class Sources:
    """The documents of a version and of the versions it extends: where a rule's `when` or a
    derived fact is written, and the notes that explain a finding."""

    def __init__(self, cat: Catalog, policy: CompiledPolicy):
        self.docs: dict = {}
        self.derived_docs: list = []
        self.directories: list = []       # this version's folder, then those of the versions it extends
        self.test_docs: list = []         # their TestCases files (values for fields regcode cannot invent)
        for ref in policy.chain or (policy.ref,):
            try:
                directory = Path(policy.directory) if ref == policy.ref else Path(cat.by_ref(ref).directory)
                source = load_version(directory)
            except (PolicyError, OSError):
                continue
            self.directories.append(directory)
            for doc in source.documents:
                self.docs.setdefault(doc.file, doc)
                if doc.kind == "DerivedFacts":
                    self.derived_docs.append(doc)
                elif doc.kind == "TestCases" and doc.file not in {i.location.file for i in source.test_issues}:
                    self.test_docs.append(doc)     # (not one read despite an ambiguous value: its values are not said)
        self.resolved = policy.resolved

    def rule_part(self, rule: ir.Rule, *more) -> Location:
        doc = self.docs.get(rule.location.file)
        if doc is None or not rule.location.path.startswith("rules["):
            return rule.location
        index = int(rule.location.path[len("rules["):rule.location.path.index("]")])
        return doc.location(("rules", index) + more)

    def derived(self, name: str) -> Location:
        for doc in self.derived_docs:   # this version's files come first
            if name in (doc.data.get("facts") or {}):
                return doc.location(("facts", name))
        return Location()

    def note(self, table: str, name: str) -> str:
        entry = (self.resolved.get(table) or {}).get(name) or {}
        return entry.get("note", "") if isinstance(entry, dict) else ""


def _finding(code: str, message: str, location: Location, note: str, witness=None) -> Finding:
    issue = Issue(code, message, location, HINTS.get(code, ""))
    return Finding(issue, explained=code in (note or ""), witness=witness, severity=SEVERITY.get(code, "warning"))


# ---- names nobody uses -------------------------------------------------------------------
def unused_names(policy: CompiledPolicy, src: Sources) -> list:
    params_read, claimed, bound, derived = set(), set(), set(), set()
    for rule in policy.rules:
        bound.add(rule.binds)
        for node, _ in rule_nodes(rule):
            if isinstance(node, ir.Param):
                params_read.add(node.name)
        for concl in rule.conclusions:
            if isinstance(concl, ir.Decide):
                claimed.add(concl.decision)
            else:
                derived.add(concl.fact)
    out = []
    for name, decl in sorted(policy.parameters.items()):
        if name not in params_read:
            out.append(_finding("check.unused_parameter", f"parameter `{name}` is declared but no rule reads it",
                                decl.location, src.note("parameters", name)))
    for name in sorted(policy.derived):
        note = src.note("derived_facts", name)
        if f"derived:{name}" not in bound and name in derived:
            out.append(_finding("check.unread_derived", f"derived fact `{name}` is derived but no rule reads it (`for_each: {name}`); "
                                "it only appears in the output's `derived`", src.derived(name), note))
        elif name not in derived:
            readers = sorted(r.id for r in policy.rules if r.binds == f"derived:{name}")
            tail = (f"; rule{'s' if len(readers) > 1 else ''} {', '.join(f'`{r}`' for r in readers)} "
                    f"bind{'' if len(readers) > 1 else 's'} it and so never run{'' if len(readers) > 1 else 's'}") if readers else " or reads it"
            out.append(_finding("check.underived_fact", f"derived fact `{name}` is declared but no rule derives it{tail}",
                                src.derived(name), note))
    for name, decl in sorted(policy.decisions.items()):
        if name not in claimed:
            out.append(_finding("check.unclaimed_decision", f"decision `{name}` is declared but no rule claims it: it is "
                                f"always its default ({dump_json(decl.default)})", decl.location, src.note("decisions", name)))
    return out


# ---- what a value can be (value flow through derived facts) ------------------------------
class Domains:
    """The values a path, decision or derived field can hold, where the policy fixes them: an enum
    of the facts schema, a boolean, a decision's declared values, or - for a derived fact's field -
    the union of what every rule that derives it puts there. None: unknown (any value)."""

    def __init__(self, policy: CompiledPolicy):
        self.policy = policy
        self.derived: dict = {}
        producers = [(r, c) for r in policy.rules for c in r.conclusions if isinstance(c, ir.Derive)]
        for _ in range(len(policy.derived) + 2):   # a fixpoint: derived fields fed by other derived fields
            table: dict = {}
            for rule, concl in producers:
                fields = table.setdefault(concl.fact, {})
                for name in self._fields(concl.fact):
                    expr = concl.fields.get(name)
                    dom = {_typed(None)} if expr is None else self.of(expr, rule_scope(rule))
                    if name not in fields:
                        fields[name] = dom
                    elif fields[name] is not None:
                        fields[name] = None if dom is None else fields[name] | dom
            if table == self.derived:
                break
            self.derived = table

    def _fields(self, fact: str) -> list:
        shape = self.policy.derived.get(fact)
        return sorted(shape.props) if shape is not None else []

    def shape(self, keys: tuple):
        node = self.policy.facts_shape
        for key in keys:
            if node is None:
                return None
            node = node.items if key == "[]" else node.child(key)
        return node

    def of(self, expr, scope: dict) -> Optional[set]:
        if isinstance(expr, ir.Lit):
            return None if isinstance(expr.value, (dict, list)) else {_typed(expr.value)}
        if isinstance(expr, ir.Param):
            value = constant(expr, self.policy)
            return None if value is ABSENT else {_typed(value)}
        if isinstance(expr, ir.DecisionRef):
            decl = self.policy.decisions.get(expr.name)
            if decl is None:
                return None
            typ = decl.value_type if decl.type == "map" else decl.type
            if typ == "enum":
                return {_typed(v) for v in decl.values} | {_typed(None)}
            if typ == "bool":
                return {_typed(True), _typed(False), _typed(None)}
            return None
        if isinstance(expr, ir.PathRef):
            target = resolve(expr, scope)
            if target is None:
                return None
            if target[0] == "derived":
                if len(target[2]) != 1:
                    return None
                return (self.derived.get(target[1]) or {}).get(target[2][0])
            return self._shape_domain(self.shape(target[1]))
        if isinstance(expr, ir.Pick) and expr.field_name:
            source = resolve(expr.source, scope)
            if source is None or source[0] != "case":
                return None
            dom = self._shape_domain(self.shape(source[1] + ("[]", expr.field_name)))
            return None if dom is None else dom | {_typed(None)}
        return None

    def claimed(self, decision: str) -> Optional[set]:
        """The values the rules can give `decision` (None where one of them is unknown)."""
        out: set = set()
        for rule in self.policy.rules:
            for concl in rule.conclusions:
                if isinstance(concl, ir.Decide) and concl.decision == decision:
                    dom = self.of(concl.value, rule_scope(rule))
                    if dom is None:
                        return None
                    out |= dom
        return out

    @staticmethod
    def _shape_domain(shape) -> Optional[set]:
        if shape is None:
            return None
        if shape.enum:
            return {_typed(v) for v in shape.enum}
        if shape.kind == "boolean":
            return {_typed(True), _typed(False)}
        return None


# ---- conditions that can never hold ------------------------------------------------------
@dataclass
class _Subject:
    """What a conjunction says about one value (a path, a decision, a count...)."""

    text: str
    domain: Optional[set] = None
    present: bool = False            # a comparison that holds needs a value
    absent: bool = False
    allowed: Optional[set] = None    # == / in
    excluded: set = field(default_factory=set)   # != / not_in, and negated == / in (when present)
    lower: Optional[tuple] = None    # (value, inclusive)
    upper: Optional[tuple] = None
    said: list = field(default_factory=list)
    wanted: list = field(default_factory=list)   # the values of each == / in, in the order written

    def contradiction(self) -> str:
        if self.present and self.absent:
            return f"`{self.text}` would have to be both present and absent"
        if not self.present:
            return ""   # every comparison here also holds when the value is absent
        if self.allowed is not None and not self.allowed:    # two == / in that no one value meets
            return self._clash()
        candidates = self.allowed
        if self.domain is not None:
            candidates = self.domain if candidates is None else candidates & self.domain
            if self.allowed is not None and not candidates:
                return f"`{self.text}` is never {_values(self.allowed, 'or')}: {self._takes()}"
        if candidates is not None:
            left = {v for v in candidates - self.excluded if v != NULL and self._in_bounds(v)}   # a value that holds is not null
            if not left:
                if not self.said:    # only a `present:`, of a value that is never set
                    return f"`{self.text}` is never present: {self._takes()}"
                return f"no value of `{self.text}` satisfies {' and '.join(self.said)}"
            return ""
        if self.lower and self.upper:
            (lo, lo_inc), (hi, hi_inc) = self.lower, self.upper
            try:
                if lo > hi or (lo == hi and not (lo_inc and hi_inc)):
                    return f"no value of `{self.text}` satisfies {' and '.join(self.said)}"
            except TypeError:
                return ""
        return ""

    def _clash(self) -> str:
        """`x` cannot be both true and false; `x` cannot be "a" or "b" and also "c"."""
        if any(not w for w in self.wanted):
            return f"`{self.text}` is never in an empty list"
        if all(len(w) == 1 for w in self.wanted):
            seen = []
            for w in self.wanted:
                if w[0] not in seen:
                    seen.append(w[0])
            shown = [dump_json(v[1]) for v in seen]
            if len(shown) == 2:
                return f"`{self.text}` cannot be both {shown[0]} and {shown[1]}"
            return f"`{self.text}` cannot be {', '.join(shown[:-1])} and {shown[-1]} at once"
        parts = [_values(w, "or") for w in self.wanted]
        return f"`{self.text}` cannot be {' and also '.join(parts)}: no value is in every list"

    def _takes(self) -> str:
        taken = [v for v in self.domain or () if v != NULL]
        if not taken:
            return "no rule or schema ever gives it a value"
        return f"it takes {_values(taken, 'or')}"

    def _in_bounds(self, typed) -> bool:
        v = typed[1]
        try:
            if self.lower and (v < self.lower[0] or (v == self.lower[0] and not self.lower[1])):
                return False
            if self.upper and (v > self.upper[0] or (v == self.upper[0] and not self.upper[1])):
                return False
        except TypeError:
            return False
        return True


NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not_in", "not_in": "in"}


def _atoms(cond, negated: bool, out: list, depth: int = 0) -> None:
    """Flatten a conjunction into atoms (node, negated); De Morgan through `not` of `any`."""
    if depth > MAX_DEPTH:
        return
    if isinstance(cond, ir.Not):
        _atoms(cond.item, not negated, out, depth + 1)
    elif isinstance(cond, ir.All) and not negated:
        for item in cond.items:
            _atoms(item, False, out, depth + 1)
    elif isinstance(cond, ir.AnyOf) and negated:
        for item in cond.items:
            _atoms(item, True, out, depth + 1)
    else:
        out.append((cond, negated))


def _describe(expr) -> str:
    if isinstance(expr, ir.PathRef):
        return expr.text
    if isinstance(expr, ir.DecisionRef):
        return f"decisions.{expr.name}" + ("[...]" if expr.map_key is not None else "")
    return str(node_key(expr))[:60]


def never(cond, scope: dict, domains: Domains, depth: int = 0) -> str:
    """Why `cond` can never hold, or "" when it may (or when we cannot tell)."""
    if depth > MAX_DEPTH or cond is None:
        return ""
    atoms: list = []
    _atoms(cond, False, atoms)
    subjects: dict = {}
    for node, neg in atoms:
        if isinstance(node, ir.TrueCond) and neg:
            return "`not` of a condition that always holds"
        if isinstance(node, ir.Presence):
            s = _subject(subjects, node.path, scope, domains)
            if node.present != neg:
                s.present = True
            else:
                s.absent = True
            continue
        if isinstance(node, ir.Compare):
            value = constant(node.right, domains.policy)
            if isinstance(node.right, ir.Lit) and isinstance(node.right.value, list) and node.op in ("in", "not_in"):
                value = [v for v in node.right.value if not isinstance(v, (dict, list))]
            if value is ABSENT or not isinstance(node.left, (ir.PathRef, ir.DecisionRef, ir.Count, ir.Pick, ir.DaysBetween)):
                continue
            s = _subject(subjects, node.left, scope, domains)
            op = NEGATED[node.op] if neg else node.op
            s.said.append(f"{'not ' if neg else ''}{node.op} {dump_json(value)}")
            if not neg:
                s.present = True
            _constrain(s, op, value)
            continue
        if not neg:   # a nested form that holds only if its own parts can
            reason = ""
            if isinstance(node, ir.AnyOf):
                reasons = [never(item, scope, domains, depth + 1) for item in node.items]
                reason = "every branch of `any` is impossible: " + "; ".join(reasons) if all(reasons) else ""
            elif isinstance(node, ir.Some) and node.where is not None:
                inner = next((sc for n, sc in walk(node, scope) if n is node.where), scope)
                why = never(node.where, inner, domains, depth + 1)
                reason = f"no item of `{node.source.text}` can match: {why}" if why else ""
            if reason:
                return reason
    for s in subjects.values():
        reason = s.contradiction()
        if reason:
            return reason
    return ""


def _subject(subjects: dict, expr, scope: dict, domains: Domains) -> _Subject:
    key = node_key(expr)
    if key not in subjects:
        subjects[key] = _Subject(_describe(expr), domains.of(expr, scope))
    return subjects[key]


def _values(typed, word: str) -> str:
    """Typed values as the policy writes them, sorted: "a", "b" or "c"; true and false."""
    shown = sorted(dump_json(v[1]) for v in typed)
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + f" {word} " + shown[-1]


def _constrain(s: _Subject, op: str, value) -> None:
    if op in ("==", "in"):
        listed = []
        for v in (value if isinstance(value, list) else [value]):
            if _typed(v) not in listed:
                listed.append(_typed(v))
        s.wanted.append(listed)
        vals = set(listed)
        s.allowed = vals if s.allowed is None else s.allowed & vals
    elif op in ("!=", "not_in"):
        s.excluded |= {_typed(v) for v in (value if isinstance(value, list) else [value])}
    elif op in ("<", "<=", ">", ">=") and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        bound = (value, op in ("<=", ">="))
        if op in ("<", "<="):
            if s.upper is None or _tighter(bound, s.upper, upper=True):
                s.upper = bound
        elif s.lower is None or _tighter(bound, s.lower, upper=False):
            s.lower = bound


def _tighter(new, old, upper: bool) -> bool:
    try:
        if new[0] == old[0]:
            return not new[1] and old[1]
        return new[0] < old[0] if upper else new[0] > old[0]
    except TypeError:
        return False


def dead_rules(policy: CompiledPolicy, src: Sources, domains: Domains) -> list:
    out = []
    for rule in policy.rules:
        reason = never(rule.condition, rule_scope(rule), domains)
        if reason:
            out.append(_finding("check.dead_condition", f"rule `{rule.id}` can never fire: {reason}",
                                src.rule_part(rule, "when"), rule.note))
    return out


# ---- claims that always lose -------------------------------------------------------------
def _conjuncts(cond) -> set:
    atoms: list = []
    _atoms(cond, False, atoms)
    return {(node_key(node), neg) for node, neg in atoms if not isinstance(node, ir.TrueCond)}


def _beats(decl: ir.DecisionDecl, mine, theirs) -> bool:
    """Does `theirs` win over `mine` under the decision's combine, whatever else is claimed?"""
    if decl.combine in ("min", "max"):
        order = decl.order if (decl.value_type if decl.type == "map" else decl.type) == "enum" else None
        try:
            a, b = (order[mine], order[theirs]) if order else (mine, theirs)
            return b > a if decl.combine == "max" else b < a
        except (KeyError, TypeError):
            return False
    if decl.combine == "any":
        return theirs is True and mine is False
    if decl.combine == "all":
        return theirs is False and mine is True
    return False   # sum, union and unique: every claim counts


def losing_claims(policy: CompiledPolicy, src: Sources) -> list:
    claims: dict = {}
    for rule in policy.rules:
        for concl in rule.conclusions:
            if isinstance(concl, ir.Decide):
                value = constant(concl.value, policy)
                if value is not ABSENT and value is not None:
                    claims.setdefault(concl.decision, []).append((rule, concl, value))
    out = []
    for name, entries in sorted(claims.items()):
        decl = policy.decisions[name]
        for rule, concl, value in entries:
            mine = _conjuncts(rule.condition)
            key = node_key(concl.map_key) if concl.map_key is not None else None
            for other, oconcl, ovalue in entries:
                if other is rule or not _beats(decl, value, ovalue):
                    continue
                same_fact = other.binds == rule.binds and other.alias == rule.alias
                if not (same_fact or (other.binds == ir.CASE and decl.type != "map")):
                    continue
                if (node_key(oconcl.map_key) if oconcl.map_key is not None else None) != key:
                    continue
                if not _conjuncts(other.condition) <= mine:
                    continue
                when = "always" if isinstance(other.condition, ir.TrueCond) else "whenever it fires (its conditions include all of that rule's)"
                out.append(_finding("check.always_loses", f"rule `{rule.id}` claims `{name}` = {dump_json(value)}, which always loses: "
                                    f"rule `{other.id}` claims {dump_json(ovalue)} {when}, and `{decl.combine}` prefers it",
                                    src.rule_part(rule, "then"), rule.note))
                break
    return out


# ---- the input space: synthetic case files over the categorical inputs -------------------
class _Leaf:
    def __init__(self, path: str, values: list, varied: bool):
        self.path, self.values, self.varied = path, values, varied

    def count(self) -> int:
        return len(self.values)

    def alternatives(self):
        for v in self.values:
            yield v, ((self.path, v),) if self.varied else ()

    def sample(self, rng, sparse=False):
        v = rng.choice(self.values)
        return v, ((self.path, v),) if self.varied else ()


class _Object:
    """A mapping: its fields (fixed or varied); optional when the case file may leave it out."""

    def __init__(self, path: str, fields: dict, optional: bool):
        self.path, self.fields, self.optional = path, fields, optional

    def count(self) -> int:
        n = 1
        for f in self.fields.values():
            n *= f.count()
        return n + (1 if self.optional else 0)

    def alternatives(self):
        if self.optional:
            yield ABSENT, ((self.path, ABSENT),)
        names = list(self.fields)
        for combo in itertools.product(*(list(self.fields[n].alternatives()) for n in names)):
            yield self._build(names, combo)

    def sample(self, rng, sparse=False):
        if self.optional and rng.random() < 0.25:
            return ABSENT, ((self.path, ABSENT),)
        names = list(self.fields)
        return self._build(names, [self.fields[n].sample(rng, sparse) for n in names])

    @staticmethod
    def _build(names, combo):
        value, choices = {}, ()
        for name, (v, c) in zip(names, combo):
            if v is not ABSENT:
                value[name] = v
            choices += c
        return value, choices


class _List:
    """A list: empty, or holding one item, or as many copies of it as a `count` threshold needs."""

    def __init__(self, path: str, item, lengths: list):
        self.path, self.item, self.lengths = path, item, lengths

    def count(self) -> int:
        return 1 + (len(self.lengths) - 1) * self.item.count()

    def alternatives(self):
        yield [], ((self.path, 0),)
        for n in self.lengths[1:]:
            for v, c in self.item.alternatives():
                yield [_json.copy(v) for _ in range(n)], ((self.path, n),) + c

    def sample(self, rng, sparse=False):
        n = 0 if sparse and rng.random() < 0.5 else rng.choice(self.lengths)
        if n == 0:
            return [], ((self.path, 0),)
        v, c = self.item.sample(rng, sparse)
        return [_json.copy(v) for _ in range(n)], ((self.path, n),) + c


class Space:
    """The case files `regcode check` evaluates: every field some rule in the checked decisions' cone
    reads. Enums and booleans take every value (an enum's values no rule names are kept to two
    representatives), optional fields may be absent, lists hold 0 or 1 item (or more, to reach a
    `count` threshold); other fields are held at one value (dates the day before as_of)."""

    def __init__(self, policy: CompiledPolicy, as_of: str, reads: set, named: set, thresholds: dict, samples: dict,
                 literals: dict):
        self.policy, self.as_of = policy, as_of
        self.reads, self.named, self.thresholds, self.samples = reads, named, thresholds, samples
        self.literals = literals
        self.held: dict = {}
        self.varied: list = []
        self.problems: list = []
        self.root = self._node(policy.facts_schema, (), True, 0)

    # -- the facts schema ----------------------------------------------------------------
    def _deref(self, node, depth=0):
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/") and depth < 16:
            target = self.policy.facts_schema
            for part in node["$ref"][2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node, depth = {**target, **{k: v for k, v in node.items() if k != "$ref"}}, depth + 1
        return node if isinstance(node, dict) else {}

    @staticmethod
    def _type(node) -> str:
        typ = node.get("type")
        if isinstance(typ, list):
            typ = next((t for t in typ if t != "null"), None)
        if typ is None and "properties" in node:
            return "object"
        if typ is None and "enum" in node:
            return "enum"
        return typ or "any"

    def _node(self, schema, keys: tuple, required: bool, depth: int):
        node = self._deref(schema)
        typ = self._type(node)
        path = _show_path(keys)
        read = keys in self.reads
        if depth > MAX_DEPTH:
            return None
        if typ == "object":
            fields = {}
            needed = set(node.get("required", []))
            for name, sub in (node.get("properties") or {}).items():
                if keys == () and name == "as_of":
                    continue
                child = self._node(sub, keys + (name,), name in needed, depth + 1)
                if child is not None:
                    fields[name] = child
            if not required and not read:
                return None
            return _Object(path, fields, optional=not required and read)
        if typ == "array":
            if not read:
                return _Leaf(path, [[]], False) if required else None
            item = self._node(node.get("items", {}), keys + ("[]",), True, depth + 1) or _Leaf(path + "[]", [{}], False)
            need = min(MAX_LIST_ITEMS, max([1] + [t for t in self.thresholds.get(keys, ())]))
            return _List(path, item, sorted({0, 1, need}))
        if not read:
            if not required:
                return None
            value = self._held(node, typ, keys)
            return None if value is ABSENT else _Leaf(path, [value], False)
        optional = not required and "default" not in node
        values = self._values(node, typ, keys)
        if values is None:   # not categorical: one value (and absent, when the case may leave it out)
            value = self._held(node, typ, keys)
            if value is ABSENT:
                return None if optional else _Leaf(path, [ABSENT], False)
            self.held[path] = value
            values = [value]
        self.varied.append(path)
        return _Leaf(path, values + ([ABSENT] if optional else []), True)

    def _values(self, node, typ, keys) -> Optional[list]:
        """The values that matter: an enum's, a boolean's, and for text or numbers that rules compare
        with constants, those constants (and values beside them)."""
        if "enum" in node:
            values = list(node["enum"])
            named = [v for v in values if _typed(v) in self.named]
            others = [v for v in values if _typed(v) not in self.named]
            return named + others[:MAX_REPRESENTATIVES]
        if typ == "boolean":
            return [True, False]
        constants = self.literals.get(keys, set())
        if typ == "string" and "pattern" not in node and "format" not in node:
            texts = sorted(v for v in constants if isinstance(v, str))
            if texts:
                length = max(1, int(node.get("minLength", 1)))
                other = next(c * length for c in "xyzw" if c * length not in texts)
                return texts[:MAX_VALUES - 1] + [other]
        if typ in ("integer", "number"):
            points = sorted({n + d for n in constants if isinstance(n, (int, float)) and not isinstance(n, bool) for d in (-1, 0, 1)})
            low, high = node.get("minimum"), node.get("maximum")
            points = [p for p in points if (low is None or p >= low) and (high is None or p <= high)
                      and (typ == "number" or float(p).is_integer())]
            if points:
                return points[:MAX_VALUES]
        return None

    def _held(self, node, typ, keys):
        """One valid value for a field the space does not vary: the schema's own, a value the policy's
        test cases use, or one made from its type; ABSENT (with a problem noted) when none can be made."""
        for key in ("const", "default"):
            if key in node:
                return node[key]
        if node.get("examples"):
            return node["examples"][0]
        if "enum" in node:
            return node["enum"][0]
        if typ == "string" and node.get("format") == "date" or (typ == "string" and str(node.get("pattern", "")).startswith(r"^\d{4}-")):
            # a day of the past: the one before the case's date, or that date itself where the calendar begins
            return _dates.shift(self.as_of, days=-1) if self.as_of > _FIRST_DAY else self.as_of
        if typ == "string":
            if "pattern" in node or "format" in node:
                seen = self.samples.get(keys)
                if seen is not None:
                    return seen
                self.problems.append(_show_path(keys))
                return ABSENT
            return "x" * max(1, int(node.get("minLength", 1)))
        if typ in ("integer", "number"):
            low = node.get("minimum", node.get("exclusiveMinimum", -1) + 1)
            return max(low, 0) if not isinstance(low, bool) else 0
        if typ == "boolean":
            return False
        if typ == "array":
            return []
        return ABSENT

    # -- the combinations ----------------------------------------------------------------
    def size(self) -> int:
        return self.root.count() if self.root is not None else 1

    def cases(self, budget: int, seed: int):
        """(case file, choices) for every combination, or for `budget` sampled ones (deterministic)."""
        if self.root is None:
            return
        if self.size() <= budget:
            for value, choices in self.root.alternatives():
                yield self._case(value), choices
            return
        rng = random.Random(seed)
        seen = set()
        for i in range(budget * 4):
            if len(seen) >= budget:
                break
            # every other sample leaves lists empty more often: gaps often hide where no event is recorded
            value, choices = self.root.sample(rng, sparse=i % 2 == 1)
            key = repr(choices)
            if key in seen:
                continue
            seen.add(key)
            yield self._case(value), choices

    def _case(self, value) -> dict:
        case = _json.copy(value) if isinstance(value, dict) else {}
        case["as_of"] = self.as_of
        return case



def _show_path(keys: tuple) -> str:
    out = ""
    for k in keys:
        out += "[0]" if k == "[]" else ("." if out else "") + k
    return out or "(case)"


def _show(value) -> str:
    if value is ABSENT:
        return "absent"
    return dump_json(value)


def cone(policy: CompiledPolicy, decisions: set) -> list:
    """The rules a set of decisions depends on: their claimers, and (transitively) whatever those read."""
    claimers: dict = {}
    producers: dict = {}
    for rule in policy.rules:
        for concl in rule.conclusions:
            (claimers.setdefault(concl.decision, []) if isinstance(concl, ir.Decide)
             else producers.setdefault(f"derived:{concl.fact}", [])).append(rule)
    todo = [r for d in sorted(decisions) for r in claimers.get(d, [])]
    seen: dict = {}
    while todo:   # bounded: each rule is taken once
        rule = todo.pop()
        if rule.id in seen:
            continue
        seen[rule.id] = rule
        todo.extend(producers.get(rule.binds, []))
        for d in rule.reads_decisions:
            todo.extend(claimers.get(d, []))
    return sorted(seen.values(), key=lambda r: r.id)


def _reads(policy: CompiledPolicy, rules: list) -> tuple:
    """Case-file paths the rules read (with every prefix), the values they name, and `count` thresholds per list."""
    reads: set = set()
    named: set = {_typed(v) for d in policy.decisions.values() for v in (d.values or [])}
    thresholds: dict = {}
    literals: dict = {}

    def add(keys):
        for i in range(1, len(keys) + 1):
            reads.add(tuple(keys[:i]))

    for rule in rules:
        if rule.binds.startswith("list:"):
            add(tuple(rule.binds[5:].split(".")))
        for node, scope in rule_nodes(rule):
            if isinstance(node, ir.PathRef):
                target = resolve(node, scope)
                if target and target[0] == "case":
                    add(target[1])
            elif isinstance(node, ir.Lit):
                for v in node.value if isinstance(node.value, list) else [node.value]:
                    if not isinstance(v, (dict, list)):
                        named.add(_typed(v))
            elif isinstance(node, ir.Pick):
                source = resolve(node.source, scope)
                if source and source[0] == "case":
                    add(source[1] + ("[]", node.by))
                    if node.field_name:
                        add(source[1] + ("[]", node.field_name))
            if isinstance(node, ir.Compare) and isinstance(node.left, ir.Count):
                source = resolve(node.left.source, scope)
                t = constant(node.right, policy)
                if source and source[0] == "case" and isinstance(t, int) and not isinstance(t, bool):
                    thresholds.setdefault(source[1], set()).add(t + 1 if node.op in (">", "<=") else t)
            elif isinstance(node, ir.Compare) and isinstance(node.left, ir.PathRef):
                target = resolve(node.left, scope)
                value = node.right.value if isinstance(node.right, ir.Lit) else constant(node.right, policy)
                if target and target[0] == "case" and value is not ABSENT:
                    found = value if isinstance(value, list) else [value]
                    literals.setdefault(target[1], set()).update(v for v in found if isinstance(v, (str, int, float)))
    return reads, named, thresholds, literals


def _samples(test_docs: list) -> dict:
    """A value for each string field from the policy's own test cases (or those of the versions it
    extends): valid values of fields whose pattern regcode cannot invent (an id, a license number)."""
    out: dict = {}

    def visit(node, keys, depth=0):
        if depth > MAX_DEPTH:
            return
        if isinstance(node, dict):
            for k, v in node.items():
                visit(v, keys + (k,), depth + 1)
        elif isinstance(node, list):
            for v in node:
                visit(v, keys + ("[]",), depth + 1)
        elif isinstance(node, str):
            out.setdefault(keys, node)

    for doc in test_docs:
        cases = doc.data.get("cases") if isinstance(doc.data, dict) else None
        for case in cases if isinstance(cases, list) else []:
            if isinstance(case, dict) and "expect_error" not in case:
                visit(case.get("facts"), ())
    return out


def requirements(policy: CompiledPolicy) -> dict:
    """decision -> {decision: [values]} when it must be claimed ({} for always), from `required` / `required_when`."""
    out = {}
    for name, data in sorted((policy.resolved.get("decisions") or {}).items()):
        if data.get("required"):
            out[name] = {}
        elif isinstance(data.get("required_when"), dict):
            out[name] = {d: v if isinstance(v, list) else [v] for d, v in data["required_when"].items()}
    return out


def _holds(when: dict, decisions: dict) -> bool:
    return all(any(decisions.get(d) == v and type(decisions.get(d)) is type(v) for v in values) for d, values in when.items())


def exhaustiveness(policy: CompiledPolicy, src: Sources, as_of: str, budget: int, seed: int) -> tuple:
    """Evaluate synthetic case files (through the public evaluator) and report decisions that must be
    claimed but are not, `unique` decisions claimed two ways, and evaluations that fail."""
    required = requirements(policy)
    unique = {n for n, d in policy.decisions.items() if d.combine == "unique"}
    targets = set(required) | unique | {d for when in required.values() for d in when}
    if not required and not unique:
        return [], {"checked": [], "note": "no decision is `required`, `required_when` or `unique`: nothing to enumerate"}
    rules = cone(policy, targets)
    reads, named, thresholds, literals = _reads(policy, rules)
    for when in required.values():
        named |= {_typed(v) for values in when.values() for v in values}
    space = Space(policy, as_of, reads, named, thresholds, _samples(src.test_docs), literals)
    info = {"checked": sorted(set(required) | unique), "rules": len(rules), "inputs": sorted(space.varied),
            "held": {k: v for k, v in sorted(space.held.items())}, "combinations": space.size(), "budget": budget}
    if space.problems:
        info["note"] = "cannot make a valid value for " + ", ".join(f"`{p}`" for p in space.problems) + \
            " (add `examples:` to the facts schema, or a test case that uses the field)"
        return [], info
    failing: dict = {}
    readers = {name: sorted({d for r in policy.rules for c in r.conclusions if isinstance(c, ir.Decide) and c.decision == name
                             for d in r.reads_decisions}) for name in required}
    evaluated = invalid = 0
    every: dict = {}
    for case, choices in space.cases(budget, seed):
        try:
            check_case(policy, Document("<synthetic>", case))
        except PolicyError:
            invalid += 1   # a combination the facts schema refuses (e.g. an if/then in it): not a case file
            continue
        evaluated += 1
        for path, value in choices:
            every.setdefault(path, set()).add(_key(value))
        try:
            out = to_dict(evaluate(policy, case, as_of, checked=True), "full")
        except EvaluationError as exc:
            issue = exc.issues[0]
            name = next((d for d in sorted(unique) if f"`{d}`" in issue.message), None)
            code = "check.conflict" if issue.code == "eval.conflict" and name else "check.evaluation"
            failing.setdefault((code, name or issue.code), []).append((case, choices, issue.message))
            continue
        for name, when in required.items():
            if _holds(when, out["decisions"]) and not any(e["value"] is not None for e in out["why"].get(name, [])):
                upstream = {d: out["decisions"][d] for d in readers.get(name, ()) if d not in when}
                failing.setdefault(("check.not_exhaustive", name), []).append((case, choices, upstream))
    info.update({"evaluated": evaluated, "invalid": invalid, "exhaustive": space.size() <= budget, "seed": seed})
    findings = []
    for (code, name), bad in sorted(failing.items()):
        case, choices, message = min(bad, key=lambda b: (len(dump_json(b[0])), dump_json(b[0])))
        of = f"{len(bad)} of {evaluated:,} {'' if info['exhaustive'] else 'sampled '}combination{'s' if evaluated > 1 else ''}"
        common = _common(bad, every)
        shown = common or [f"{p} = {_show(v)}" for p, v in choices]
        inputs = ("; inputs all share: " if common and len(bad) > 1 else "; inputs, e.g.: ") + ", ".join(shown[:MAX_SHOWN]) + \
            (f", ... ({len(shown) - MAX_SHOWN} more)" if len(shown) > MAX_SHOWN else "")
        if code == "check.not_exhaustive":
            when = required[name]
            cond = " where " + " and ".join(f"{d} = {'/'.join(dump_json(v) for v in vs)}" for d, vs in when.items()) if when else ""
            decided = {d: v for d, v in (bad[0][2] or {}).items() if all((b[2] or {}).get(d) == v for b in bad)}
            with_ = (f", {'all' if len(bad) > 1 else 'one'} with " + ", ".join(
                f"{d} = {dump_json(v)}" for d, v in sorted(decided.items()))) if decided else ""
            msg = f"no rule claims `{name}` in {of}{cond}{with_}{inputs}"
        elif code == "check.conflict":
            rules = message.split(" with different values by ", 1)[-1]
            msg = f"`{name}` is claimed with different values in {of}, by {rules}{inputs}"
        else:
            msg = f"the evaluation fails in {of} ({name}): {message}{inputs}"
        decl = policy.decisions.get(name)
        findings.append(_finding(code, msg, decl.location if decl else Location(policy.directory), src.note("decisions", name) if decl else "",
                                 witness=case))
    return findings, info


def _key(value) -> str:
    return "<absent>" if value is ABSENT else repr(value)


def _common(bad: list, every: dict) -> list:
    """The choices every failing combination makes but the space does not always make (in input order)."""
    shared = None
    order: dict = {}
    shown: dict = {}
    for _, choices, _ in bad:
        mine = set()
        for i, (p, v) in enumerate(choices):
            order.setdefault(p, i)
            mine.add((p, _key(v)))
            shown[(p, _key(v))] = _show(v)
        shared = mine if shared is None else shared & mine
    out = sorted(((p, k) for p, k in (shared or set()) if len(every.get(p, ())) > 1), key=lambda pk: (order.get(pk[0], 0), pk))
    return [f"{p} = {shown[(p, k)]}" for p, k in out]


# ---- the whole check ---------------------------------------------------------------------
MAX_CHECK_DATES = 6     # the days the synthetic cases are dated: the first day and the dated parameters' changes


def check_dates(policy: CompiledPolicy) -> list:
    """The version's first day and each day inside its window on which a dated parameter changes: from then on
    the rules read other values, so the synthetic cases are evaluated on each (at most MAX_CHECK_DATES)."""
    dates = {policy.effective_from}
    for decl in policy.parameters.values():
        dates.update(d for d in (decl.values or {})
                     if d >= policy.effective_from and (policy.effective_to is None or d <= policy.effective_to))
    return sorted(dates)[:MAX_CHECK_DATES]


def check(cat: Catalog, policy: CompiledPolicy, as_of: Optional[str] = None, budget: int = BUDGET, seed: int = 0) -> Report:
    """Every check on one version. `as_of` dates the synthetic cases; by default they are evaluated on each
    of `check_dates`: the version's first day and the days a dated parameter changes."""
    dates = [as_of] if as_of else check_dates(policy)
    src = Sources(cat, policy)
    domains = Domains(policy)
    findings = unused_names(policy, src) + dead_rules(policy, src, domains) + losing_claims(policy, src)
    space: dict = {}
    seen = set()
    for when in dates:
        found, info = exhaustiveness(policy, src, when, budget, seed)
        for f in found:          # the same gap on two days is one finding (its witness: the first day's)
            key = (f.issue.code, f.issue.location, f.issue.message)
            if key not in seen:
                seen.add(key)
                findings.append(f)
        if not space:
            space = dict(info)
        elif "evaluated" in info:
            space["evaluated"] = space.get("evaluated", 0) + info["evaluated"]
    if len(dates) > 1:
        space["dates"] = dates
    findings.sort(key=lambda f: (f.issue.location, f.issue.code, f.issue.message))
    return Report(policy, dates[0], findings, space)


def to_text(report: Report, verbose: bool = False) -> str:
    p, s = report.policy, report.space
    lines = []
    for f in report.findings:
        if f.explained and not verbose:
            continue
        issue = f.issue if f.issue.location.file or f.issue.location.path else replace(f.issue, location=Location(p.ref))
        lines.append(("explained: " if f.explained else "") + str(issue))
    explained = len(report.findings) - len(report.unexplained)
    head = f"{p.ref}: {len(report.unexplained)} finding(s)" + (f", {explained} explained in notes" if explained else "")
    if s.get("checked") and "evaluated" in s:
        how = "every combination" if s["exhaustive"] else f"a sample (seed {s['seed']}) of {s['combinations']:,} combinations"
        days = (" and ".join(s["dates"]) + " (the first day and where a dated parameter changes)") if s.get("dates") else report.as_of
        head += (f"; {', '.join(s['checked'])} checked on {s['evaluated']:,} synthetic cases as of {days}, {how} of "
                 f"{len(s['inputs'])} inputs" + (f" ({s['invalid']} refused by the facts schema)" if s.get("invalid") else ""))
    elif s.get("note"):
        head += f"; exhaustiveness not checked: {s['note']}"
    return "\n".join(lines + [head])

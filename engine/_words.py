"""A rule's YAML in words, as nested plain data for the HTML pages: conditions as nested lists, parameters with their values."""
from __future__ import annotations

import json
import re
from typing import Any, Optional

MAX_DEPTH = 48   # bound on nesting; deeper parts are shown as their YAML, not walked

# A node is {"parts": [[kind, text], ...], "children": [node, ...]}. Kinds: t (words), path,
# value, param (text is the name; `values` says what it holds), decision, code (raw YAML). The
# templates print every text escaped: nothing here is markup.
_OPS = {"==": "is", "!=": "is not", "<": "is less than", "<=": "is at most", ">": "is more than", ">=": "is at least",
        "in": "is one of", "not_in": "is none of"}
_DATE_OPS = {"<": "is before", "<=": "is on or before", ">": "is after", ">=": "is on or after"}
_DATE_NAME = re.compile(r"(^|[._])(as_of|date|deadline|until|.*_on)$")
_DATE_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def node(parts: list, children: Optional[list] = None) -> dict:
    return {"parts": parts, "children": children or []}


class Words:
    """Renders one policy version's rules; `parameters` is the resolved Parameters data (name -> declaration)."""

    def __init__(self, parameters: dict, derived: tuple = ()):
        self.parameters = parameters
        self.derived = set(derived)
        self.used_params: set = set()

    # ---- expressions --------------------------------------------------------------------
    def expr(self, e: Any, depth: int = 0) -> tuple:
        """(parts, children) for an expression."""
        if depth > MAX_DEPTH:
            return [["code", _yaml(e)]], []
        if not isinstance(e, dict):
            return [["value", _literal(e)]], []
        if set(e) == {"path"}:
            return [["path", str(e["path"])]], []
        if set(e) == {"param"}:
            name = str(e["param"])
            self.used_params.add(name)
            return [["param", name, param_summary(self.parameters.get(name))]], []
        if "decision" in e and set(e) <= {"decision", "key"}:
            parts = [["t", "the decision"], ["decision", str(e["decision"])]]
            if "key" in e:
                key, kids = self.expr(e["key"], depth + 1)
                return parts + [["t", "for"]] + key, kids
            return parts, []
        if "count" in e:
            return self._over("the number of", e, "count", depth)
        for word in ("latest", "earliest"):
            if word in e:
                parts, kids = self._over(f"the {word}", e, word, depth)
                parts += [["t", "by"], ["path", str(e.get("by", ""))]]
                if e.get("field"):
                    parts = [["t", "the"], ["path", str(e["field"])], ["t", "of"]] + parts
                return parts, kids
        if "date_add" in e:
            parts, kids = self.expr(e["date_add"], depth + 1)
            for unit in ("years", "months", "days"):
                if unit in e:
                    amount, more = self.expr(e[unit], depth + 1)
                    parts = parts + [["t", "plus"]] + amount + [["t", _unit(unit, amount)]]
                    kids += more
            return parts, kids
        if "days_between" in e and isinstance(e["days_between"], list) and len(e["days_between"]) == 2:
            a, ka = self.expr(e["days_between"][0], depth + 1)
            b, kb = self.expr(e["days_between"][1], depth + 1)
            return [["t", "the days from"]] + a + [["t", "to"]] + b, ka + kb
        return [["code", _yaml(e)]], []

    def _over(self, lead: str, e: dict, key: str, depth: int) -> tuple:
        parts = [["t", lead], ["path", str(e.get("as", ""))], ["t", "in"], ["path", str(e.get(key, ""))]]
        if "where" in e:
            return parts + [["t", "matching (below)"]], [self.cond(e["where"], depth + 1)]
        return parts, []

    # ---- conditions ---------------------------------------------------------------------
    def cond(self, c: Any, depth: int = 0) -> dict:
        if depth > MAX_DEPTH or not isinstance(c, dict):
            return node([["code", _yaml(c)]])
        if "all" in c and isinstance(c["all"], list):
            return node([["t", "all of:"]], [self.cond(x, depth + 1) for x in c["all"]])
        if "any" in c and isinstance(c["any"], list):
            return node([["t", "any of:"]], [self.cond(x, depth + 1) for x in c["any"]])
        if "not" in c:
            inner = c["not"]
            if isinstance(inner, dict) and "op" in inner and ("path" in inner or "expr" in inner):
                # not `x != v` is not `x == v`: a comparison on an absent fact is false, its `not` true
                compared = self._compare(inner, depth)
                return node([["t", "not:"]] + compared["parts"], compared["children"])
            if isinstance(inner, dict) and "some" in inner:
                parts = [["t", "no"], ["path", str(inner.get("as", ""))], ["t", "in"], ["path", str(inner["some"])]]
                if "where" in inner:
                    return node(parts + [["t", "such that"]], [self.cond(inner["where"], depth + 1)])
                return node(parts + [["t", "exists"]])
            if isinstance(inner, dict) and ("present" in inner or "absent" in inner):
                return self.cond({"absent": inner["present"]} if "present" in inner else {"present": inner["absent"]}, depth)
            return node([["t", "not:"]], [self.cond(inner, depth + 1)])
        if "op" in c and ("path" in c or "expr" in c):
            return self._compare(c, depth)
        if "present" in c:
            return node([["path", str(c["present"])], ["t", "is given"]])
        if "absent" in c:
            return node([["path", str(c["absent"])], ["t", "is not given"]])
        if "some" in c:
            parts = [["t", "some"], ["path", str(c.get("as", ""))], ["t", "in"], ["path", str(c["some"])]]
            if "where" in c:
                return node(parts + [["t", "such that"]], [self.cond(c["where"], depth + 1)])
            return node(parts + [["t", "exists"]])
        if "within" in c and isinstance(c["within"], dict):
            w = c["within"]
            unit = next((u for u in ("years", "months", "days") if u in w), None)
            if unit:
                amount, kids = self.expr(w[unit], depth + 1)
                unit_word = [] if amount and amount[0][0] == "param" else [["t", _unit(unit, amount)]]   # a parameter names its unit
                return node([["path", str(w.get("path", ""))], ["t", "lies within"]] + amount + unit_word
                            + [["t", "up to"], ["path", "as_of"]], kids)
        if "between" in c and isinstance(c["between"], dict):
            b = c["between"]
            lo, k1 = self.expr(b.get("from"), depth + 1)
            hi, k2 = self.expr(b.get("to"), depth + 1)
            return node([["path", str(b.get("path", ""))], ["t", "lies between"]] + lo + [["t", "and"]] + hi, k1 + k2)
        return node([["code", _yaml(c)]])

    def _compare(self, c: dict, depth: int) -> dict:
        left, k1 = (self.expr({"path": c["path"]}, depth + 1) if "path" in c else self.expr(c["expr"], depth + 1))
        right, k2 = self.expr(c.get("value"), depth + 1)
        op = str(c.get("op"))
        words = _DATE_OPS.get(op) if _is_date(c) else None
        return node(left + [["t", words or _OPS.get(op, op)]] + right, k1 + k2)

    # ---- a whole rule -------------------------------------------------------------------
    def rule(self, r: dict) -> dict:
        """{for_each, when, then} in words."""
        out = {"for_each": None, "when": None, "then": []}
        if r.get("for_each"):
            source = [["t", "derived fact"], ["decision", str(r["for_each"])]] if r["for_each"] in self.derived else [["path", str(r["for_each"])]]
            out["for_each"] = node([["t", "for each"], ["path", str(r.get("as", ""))], ["t", "in"]] + source)
        if "when" in r:
            out["when"] = self.cond(r["when"])
        for t in r.get("then") or []:
            if not isinstance(t, dict):
                out["then"].append(node([["code", _yaml(t)]]))
            elif "decide" in t:
                parts = [["t", "decide"], ["decision", str(t["decide"])]]
                kids = []
                if "key" in t:
                    key, kids = self.expr(t["key"])
                    parts += [["t", "for"]] + key
                value, more = self.expr(t.get("value"))
                out["then"].append(node(parts + [["t", "="]] + value, kids + more))
            elif "derive" in t:
                fields = []
                for name, e in sorted((t.get("with") or {}).items()):
                    value, kids = self.expr(e)
                    fields.append(node([["path", str(name)], ["t", "="]] + value, kids))
                out["then"].append(node([["t", "derive"], ["decision", str(t["derive"])], ["t", "with" if fields else ""]], fields))
            else:
                out["then"].append(node([["code", _yaml(t)]]))
        return out


def param_summary(decl: Optional[dict]) -> str:
    """'3 years', or '0.2 from 2017-05-01; 0.3 from 2022-05-01' for dated values."""
    if not isinstance(decl, dict):
        return "not declared"
    unit = decl.get("unit", "")
    short_unit = unit if len(unit) <= 12 else ""
    if "values" in decl and isinstance(decl["values"], dict):
        dated = [f"{_literal(v)} from {d}" for d, v in sorted(decl["values"].items())]
        before = [f"{_literal(decl['value'])} before {min(decl['values'])}"] if decl.get("value") is not None and decl["values"] else []
        return "; ".join(before + dated)
    return (_literal(decl.get("value")) + (f" {short_unit}" if short_unit else "")).strip()


def _is_date(c: dict) -> bool:
    sides = [c.get("value")] + ([{"path": c["path"]}] if "path" in c else [c.get("expr")])
    for s in sides:
        if isinstance(s, str) and _DATE_VALUE.match(s):
            return True
        if isinstance(s, dict) and ("date_add" in s or ("path" in s and _DATE_NAME.search(str(s["path"]))) or
                                    s.get("field") and _DATE_NAME.search(str(s["field"]))):
            return True
    return False


def _unit(unit: str, amount: list) -> str:
    """'1 year', '3 years': the unit in the number of a literal amount."""
    return unit[:-1] if amount == [["value", "1"]] else unit


def _literal(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ", ".join(_literal(x) for x in v) if v else "(none)"
    if isinstance(v, (dict,)):
        return _yaml(v)
    return str(v)


def _yaml(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def params_used(r: Any, depth: int = 0) -> set:
    """Every `{param: NAME}` in a rule's YAML."""
    out: set = set()
    if depth > MAX_DEPTH:
        return out
    if isinstance(r, dict):
        if set(r) == {"param"}:
            out.add(str(r["param"]))
        for v in r.values():
            out |= params_used(v, depth + 1)
    elif isinstance(r, list):
        for v in r:
            out |= params_used(v, depth + 1)
    return out

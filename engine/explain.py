"""Stage 5, explain: an Evaluation as the JSON object of `eval --format json`, and as text for a person."""
from __future__ import annotations

from .evaluate import FACT, KEY, MATCHED, RULE, VALUE, Evaluation


def _decisive(decl, decision_value, claim) -> bool:
    """Did this claim shape the final value? (All claims do for sum and union.)"""
    value = claim[VALUE]
    if value is None:
        return False
    if decl.combine in ("sum", "union"):
        return True
    if isinstance(decision_value, dict):
        return decision_value.get(claim[KEY]) == value
    if isinstance(decision_value, list):
        return True
    return value == decision_value


EXPLAIN_LEVELS = ("none", "decisive", "full")


def explain_level(explain) -> str:
    """`none` | `decisive` | `full` (True means full, False none)."""
    if explain is True:
        return "full"
    if explain is False or explain is None:
        return "none"
    if explain not in EXPLAIN_LEVELS:
        raise ValueError(f"explain is one of {', '.join(EXPLAIN_LEVELS)}, not {explain!r}")
    return explain


def to_dict(ev: Evaluation, explain="full") -> dict:
    """The stable output object: policy, as_of, the case's identity, decisions and, per decision, why.

    explain: `full` lists every claim of every decision (decisive or not) and the derived facts;
    `decisive` only the claims that shaped each value; `none` leaves `why` and `derived` out."""
    level = explain_level(explain)
    p = ev.policy
    out = {
        "policy": {"id": p.id, "version": p.version, "content_hash": p.content_hash, "title": p.title},
        "as_of": ev.as_of,
        "decisions": ev.decisions,
        "rules_fired": ev.firings,
    }
    for key, value in ev.identity.items():
        out[key] = value
    if ev.source:
        out["source"] = ev.source
    if level == "none":
        return out
    why = {}
    rules = p.rules
    decisive_only = level == "decisive"
    for name, claims in ev.claims.items():
        entries = []
        if len(claims) > 1:
            claims = sorted(claims, key=lambda c: (rules[c[RULE]].id, "" if c[KEY] is None else str(c[KEY]), c[FACT] or ""))
        decl, value = p.decisions[name], ev.decisions.get(name)
        for c in claims:
            decisive = _decisive(decl, value, c)
            if decisive_only and not decisive:
                continue
            rule = rules[c[RULE]]
            entry = {"rule": rule.id, "article": rule.article, "title": rule.title, "value": c[VALUE], "decisive": decisive,
                     "matched": [{"path": path, "value": v} for path, v in c[MATCHED]]}
            if rule.clause:
                entry["clause"] = rule.clause
            if c[KEY] is not None:
                entry["key"] = c[KEY]
            if c[FACT]:
                entry["fact"] = c[FACT]
            entries.append(entry)
        why[name] = entries
    out["why"] = why
    out["derived"] = [
        {"fact": f.label, "kind": f.kind.split(":", 1)[1], "fields": f.data,
         "derived_by": [{"rule": r, "from": src or "case"} for r, src in sorted(set(f.derived_by))]}
        for f in ev.derived
    ]
    return out


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value)) if value else "(none)"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) if value else "(none)"
    return str(value)


def to_text(data: dict, explain="none") -> str:
    """A readable summary; with `explain` (full, or decisive for the deciding claims only), the reasons under each decision."""
    level = explain_level(explain)
    explain = level != "none"
    p = data["policy"]
    lines = [f"{data.get('source') or 'case'}: {p['id']}@{p['version']} ({p['content_hash']}) as of {data['as_of']}"]
    why = data.get("why", {})
    width = max((len(k) for k in data["decisions"]), default=10)
    for name, value in data["decisions"].items():
        lines.append(f"  {name:<{width}}  {_fmt(value)}")
        if explain:
            reasons = why.get(name, [])
            if not reasons:
                lines.append(f"  {'':<{width}}    (default: no rule concluded it)")
            for r in reasons:
                if level == "decisive" and not r["decisive"]:
                    continue
                mark = "*" if r["decisive"] else "-"
                key = f"[{r['key']}] " if "key" in r else ""
                clause = f" {r['clause']}" if r.get("clause") else ""
                on = f" on {r['fact']}" if r.get("fact") else ""
                lines.append(f"  {'':<{width}}    {mark} {key}{_fmt(r['value'])} <- {r['rule']} ({r['article']}{clause}) {r['title']}{on}")
                fact = r.get("fact") or ""
                short = fact.split("{", 1)[0]
                for m in r["matched"][:8]:
                    path = m["path"]
                    if fact and "{" in fact and path.startswith(fact + "."):
                        path = short + path[len(fact):]   # the fact is named once, on the line above
                    lines.append(f"  {'':<{width}}        {path} = {_fmt(m['value'])}")
                if len(r["matched"]) > 8:
                    lines.append(f"  {'':<{width}}        … {len(r['matched']) - 8} more")
    return "\n".join(lines)

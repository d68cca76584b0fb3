"""Article coverage: which articles are encoded, by which rules, and whether test cases make each rule fire."""
from __future__ import annotations

import re

from ._text import zh_number
from .compile import CompiledPolicy


def article_number(article: str):
    """'第四十八条' -> 48, '附件2' -> None (annexes are not numbered articles)."""
    m = re.fullmatch(r"第([零〇一二两三四五六七八九十百0-9]+)条", article or "")
    return zh_number(m.group(1)) if m else None


def report(policy: CompiledPolicy, fired_by_case: dict) -> dict:
    """fired_by_case: case id -> rule ids that fired in it. Returns the coverage report (plain data)."""
    fired: dict = {}
    for case_id, rules in fired_by_case.items():
        for rid in rules:
            fired.setdefault(rid, []).append(case_id)
    by_article: dict = {}
    for rule in policy.rules:
        by_article.setdefault(rule.article, []).append(rule)
    articles = []
    for entry in policy.articles:
        rules = by_article.get(entry["article"], [])
        articles.append({
            "article": entry["article"], "title": entry.get("title", ""), "status": entry["status"],
            "reason": entry.get("reason", ""),
            "rules": [{"id": r.id, "title": r.title, "tested": r.id in fired, "cases": len(fired.get(r.id, []))} for r in rules],
            "tested": bool(rules) and all(r.id in fired for r in rules),
        })
    numbers = sorted(n for n in (article_number(a["article"]) for a in articles) if n is not None)
    missing = [n for n in range(numbers[0], numbers[-1] + 1) if n not in set(numbers)] if numbers else []
    untested = sorted(r.id for r in policy.rules if r.id not in fired)
    encoded = [a for a in articles if a["status"] == "encoded"]
    return {
        "policy": {"id": policy.id, "version": policy.version, "content_hash": policy.content_hash},
        "articles": articles,
        "missing_articles": missing,
        "untested_rules": untested,
        "summary": {
            "articles": len(articles), "encoded": len(encoded),
            "not_decidable": sum(a["status"] == "not_decidable" for a in articles),
            "encoded_and_tested": sum(a["tested"] for a in encoded),
            "rules": len(policy.rules), "rules_tested": len(policy.rules) - len(untested),
            "cases": len(fired_by_case),
        },
    }

"""Decisions do not depend on the order of rule files, rules within a file, or list items in a case file."""
from __future__ import annotations

import random
import shutil

import yaml

from regcode.engine import Catalog, evaluate, to_dict

from conftest import TEST_POLICIES
from toycases import toy_case


def _shuffled_policy(tmp_path, seed):
    rng = random.Random(seed)
    root = tmp_path / f"p{seed}"
    shutil.copytree(TEST_POLICIES / "toy", root / "toy")
    rules_dir = root / "toy" / "1" / "rules"
    files = sorted(rules_dir.glob("*.yaml"))
    names = [f"{rng.randint(0, 10**6):07d}-{f.name}" for f in files]
    for f, name in zip(files, names):
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        rng.shuffle(doc["rules"])
        f.unlink()
        (rules_dir / name).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return Catalog([root]).by_ref("toy@1")


def _claims(out):
    return sorted((d, e["rule"], repr(e["value"]), str(e.get("key"))) for d, entries in out["why"].items() for e in entries)


def _shuffle_lists(case, rng):
    case = dict(case)
    for key in ("vehicles", "incidents"):
        if key in case:
            items = list(case[key])
            rng.shuffle(items)
            case[key] = items
    return case


def _outcome(policy, case):
    try:
        out = to_dict(evaluate(policy, case, case["as_of"]))
        return out["decisions"], _claims(out), out["policy"]["content_hash"]
    except Exception as exc:  # conflicts must be order-independent too
        return type(exc).__name__, [i.code for i in exc.issues], None


def test_rule_file_rule_and_list_order_do_not_change_decisions(tmp_path, toy):
    shuffled = [_shuffled_policy(tmp_path, seed) for seed in (1, 2)]
    assert all(p.content_hash == toy.content_hash for p in shuffled), "the hash is of content, not of file layout"
    rng = random.Random(99)
    for seed in range(150):
        case = toy_case(seed)
        expected = _outcome(toy, case)
        for policy in shuffled:
            assert _outcome(policy, _shuffle_lists(case, rng)) == expected, f"seed {seed}"


def test_latest_with_equal_dates_is_order_independent(toy):
    case = {"as_of": "2020-06-30", "applicant": {"name": "甲", "district": "徐汇区"},
            "vehicles": [{"plate": "沪A-1", "kind": "cart", "inspected_on": "2020-01-01", "passed": True},
                         {"plate": "沪A-2", "kind": "truck", "inspected_on": "2020-01-01", "passed": True}]}
    first = to_dict(evaluate(toy, case, case["as_of"]))
    case["vehicles"].reverse()
    second = to_dict(evaluate(toy, case, case["as_of"]))
    assert first["decisions"] == second["decisions"]
    assert [m["value"] for e in first["why"]["renewal_due"] for m in e["matched"]] == \
           [m["value"] for e in second["why"]["renewal_due"] for m in e["matched"]]


def test_why_orders_claims_by_rule_key_and_fact_whatever_order_they_fired_in(toy):
    # (two claims are compared directly, more are sorted: both must give the order a sort by rule id, key, fact gives)
    from dataclasses import replace
    from regcode.engine import dump_json
    seen = 0
    for seed in range(150):
        case = toy_case(seed)
        try:
            ev = evaluate(toy, case, case["as_of"])
        except Exception:
            continue
        expected = dump_json(to_dict(ev))
        flipped = replace(ev, claims={name: cs[::-1] for name, cs in ev.claims.items()})
        assert dump_json(to_dict(flipped)) == expected, f"seed {seed}"
        seen += any(len(cs) == 2 for cs in ev.claims.values()) and any(len(cs) > 2 for cs in ev.claims.values())
    assert seen, "some case has a decision of two claims and one of more"


def test_why_of_an_evaluation_missing_a_decision_is_built_the_general_way(toy):
    from dataclasses import replace
    case = toy_case(3)
    ev = evaluate(toy, case, case["as_of"])
    name = next(n for n, cs in ev.claims.items() if cs)
    partial = replace(ev, decisions={n: v for n, v in ev.decisions.items() if n != name})
    out = to_dict(partial)
    assert set(out["why"]) == set(ev.claims) and all(not e["decisive"] for e in out["why"][name])

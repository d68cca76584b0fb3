"""The Python backend's generated code: the shortcuts it takes give what the general path gives (the why
recorded as data, each path once; constant windows and whole-month shifts by arithmetic; rules that share
a first condition; decisions resolved only when claimed), checked against the durable backend or the
calendar code, never against a stored answer."""
from __future__ import annotations

import datetime
import itertools

import pytest

from regcode.engine import Catalog, EvaluationError, evaluate, to_dict
from regcode.engine import _dates, _durable
from regcode.engine._python import _NO_DAY, DateOutOfRange, _date_add, _window_table
from regcode.engine.evaluate import program_for

needs_durable = pytest.mark.skipif(not _durable.available(), reason="durable-rules is not installed (regcode[durable])")

FACTS = """\
apiVersion: regcode/v1
kind: FactsSchema
event_dates:
  items: day
schema:
  type: object
  additionalProperties: false
  required: [shop]
  properties:
    as_of: {type: string, format: date}
    shop:
      type: object
      additionalProperties: false
      required: [name]
      properties:
        name: {type: string}
        kind: {enum: [stall, kiosk]}
        size: {type: integer, minimum: 0}
    items:
      type: array
      items:
        type: object
        additionalProperties: false
        required: [kind, n, day]
        properties:
          kind: {enum: [a, b, c]}
          n: {type: integer}
          day: {type: string, format: date}
"""
DECISIONS = """\
apiVersion: regcode/v1
kind: Decisions
decisions:
  hits: {type: list, combine: union, default: []}
  top: {type: enum, values: [low, mid, high], combine: max, default: null}
  busy: {type: bool, combine: any, default: false}
  level: {type: enum, values: [low, mid, high], combine: max, default: null}
"""
RULES = """\
guard: {path: shop.name, op: '!=', value: ''}
rules:
  # two list operators over one list: an item matched by both is named once
  - id: two-looks-at-items
    article: 第一条
    title: t
    when: {all: [{some: items, as: a, where: {path: a.kind, op: '==', value: a}},
                 {some: items, as: b, where: {path: b.n, op: '>', value: 1}}]}
    then: [{decide: hits, value: [two]}]
  # a list operator over the list the rule is bound to: the bound item is one of its items
  - id: bound-and-list
    article: 第一条
    title: t
    for_each: items
    as: it
    when: {some: items, as: o, where: {all: [{path: o.n, op: '>=', value: {path: it.n}}, {path: as_of, op: '>=', value: '2000-01-01'}]}}
    then: [{decide: top, value: mid}]
  # a path each item's test reads the same (as_of, the shop): named once, at the first item
  - id: same-path-each-item
    article: 第一条
    title: t
    when: {some: items, as: s, where: {all: [{path: s.day, op: '<=', value: {path: as_of}}, {path: shop.size, op: '>=', value: 0}]}}
    then: [{decide: busy, value: true}]
  # branches of an `any` that read one path
  - id: branches
    article: 第一条
    title: t
    when: {any: [{path: shop.size, op: '>', value: 2}, {path: shop.size, op: '>', value: 5}, {present: shop.kind}]}
    then: [{decide: level, value: high}]
  # the same first condition as `branches` (evaluated once for both)
  - id: branches-too
    article: 第一条
    title: t
    when: {all: [{any: [{path: shop.size, op: '>', value: 2}, {path: shop.size, op: '>', value: 5}, {present: shop.kind}]},
                 {path: shop.kind, op: '==', value: stall}]}
    then: [{decide: level, value: low}]
"""


def write_policy(tmp_path) -> Catalog:
    version = tmp_path / "small" / "1"
    (version / "rules").mkdir(parents=True)
    (version / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: small\nversion: '1'\ntitle: t\n"
                                         "source: {issuer: tests, date: 2020-01-01}\neffective_from: 2020-01-01\n", encoding="utf-8")
    (version / "facts.schema.yaml").write_text(FACTS, encoding="utf-8")
    (version / "decisions.yaml").write_text(DECISIONS, encoding="utf-8")
    (version / "rules" / "r.yaml").write_text("apiVersion: regcode/v1\nkind: Rules\n" + RULES, encoding="utf-8")
    return Catalog([tmp_path])


def cases():
    """Every mix of a few items (kinds, counts, one dated after as_of) and shop sizes."""
    kinds = ["a", "b"]
    for size, n_items in itertools.product([None, 0, 3, 9], range(4)):
        for combo in itertools.product(kinds, repeat=n_items):
            items = [{"kind": k, "n": i + 1, "day": f"2020-0{i + 1}-01"} for i, k in enumerate(combo)]
            if len(items) == 3:
                items[2]["day"] = "2021-01-01"       # not happened yet on as_of
            shop = {"name": "甲"}
            if size is not None:
                shop["size"] = size
            if size == 9:
                shop["kind"] = "stall"
            yield {"as_of": "2020-06-30", "shop": shop, "items": items}


def matched_lists(out: dict):
    for entries in out["why"].values():
        for entry in entries:
            yield entry["rule"], [m["path"] for m in entry["matched"]]


def test_the_why_names_each_path_once_in_the_order_read(tmp_path):
    policy = write_policy(tmp_path).by_ref("small@1")
    seen_rules = set()
    for case in cases():
        out = to_dict(evaluate(policy, case, case["as_of"], backend="python"))
        for rule, paths in matched_lists(out):
            seen_rules.add(rule)
            assert len(paths) == len(set(paths)), f"{rule} names a path twice: {paths}"
    assert seen_rules == {"two-looks-at-items", "bound-and-list", "same-path-each-item", "branches", "branches-too"}


def test_a_path_every_matching_item_reads_is_named_at_the_first_item(tmp_path):
    policy = write_policy(tmp_path).by_ref("small@1")
    case = {"as_of": "2020-06-30", "shop": {"name": "甲", "size": 1},
            "items": [{"kind": "a", "n": 1, "day": "2020-01-01"}, {"kind": "b", "n": 2, "day": "2020-02-01"}]}
    out = to_dict(evaluate(policy, case, case["as_of"], backend="python"))
    (entry,) = out["why"]["busy"]
    assert [m["path"] for m in entry["matched"]] == [
        "shop.name", "items[0].day", "as_of", "shop.size", "items[1].day"]


@needs_durable
def test_the_why_agrees_with_the_durable_backend_which_deduplicates_at_run_time(tmp_path):
    """durable records every traced condition's entries and keeps the first of a path at run time: the
    Python run function's choice to skip that step must never show."""
    policy = write_policy(tmp_path).by_ref("small@1")
    for case in cases():
        assert to_dict(evaluate(policy, case, case["as_of"], backend="python")) == \
            to_dict(evaluate(policy, case, case["as_of"], backend="durable")), case


def test_constant_windows_start_where_calendar_arithmetic_says():
    windows = (("years", 3), ("years", 5), ("years", -2), ("years", 0), ("years", 2019), ("years", 9000),
               ("months", 7), ("days", 30))
    memo, compute = _window_table(windows)
    day = datetime.date(1, 1, 1)
    dates = [(day + datetime.timedelta(days=k)).isoformat() for k in range(0, 3_652_059, 97)]
    dates += ["2020-02-29", "2024-02-29", "1900-02-28", "2000-02-29", "9999-12-31", "0001-01-01",
              "2019-02-29", "2019-13-01", "not a date", "２０２０-01-01"]
    for text in dates:
        expected = []
        for unit, n in windows:
            try:
                expected.append(_dates.shift(text, **{unit: -n}))
            except (ValueError, OverflowError):
                expected.append(_NO_DAY)
        assert compute(text) == tuple(expected), text
        assert memo[text] == tuple(expected)


def test_a_window_with_no_first_day_holds_no_date():
    assert all(not (_NO_DAY <= d <= "9999-12-31") for d in ("0001-01-01", "2020-06-30", "9999-12-31"))


def test_whole_month_date_add_agrees_with_calendar_arithmetic():
    bases = ["2019-01-31", "2020-01-31", "2019-12-31", "2020-02-29", "2021-03-31", "1900-01-31", "2000-01-31",
             "9999-11-30", "0001-02-28", "2019-02-30", "x"]
    for base, years, months in itertools.product(bases, (0, 1, -1, 10), (1, 2, -1, -13, 25, 120000)):
        try:
            expected = _dates.shift(base, years, months, 0)
        except (ValueError, OverflowError):
            if _dates.is_date(base):     # moved out of the calendar: the rule's error (eval.date_range), not nothing
                with pytest.raises(DateOutOfRange):
                    _date_add(base, years, months, 0)
                continue
            expected = None              # no date to move: nothing to claim, as with a missing fact
        assert _date_add(base, years, months, 0) == expected, (base, years, months)


def test_decisions_read_by_later_strata_are_resolved_once_claimed(catalog):
    """The toy policy reads decisions across strata; resolving them only after a stratum that claims them
    gives what resolving them after every stratum gives (the durable backend does)."""
    from toycases import toy_case
    toy = catalog.by_ref("toy@1")
    assert len(toy.strata) >= 2 and any(r.reads_decisions for r in toy.rules)
    from regcode.engine.evaluate import resolver
    checked = 0
    for seed in range(300):
        case = toy_case(seed)
        try:
            ev = evaluate(toy, case, case["as_of"], backend="python", trace=False)
        except EvaluationError:      # (claims that conflict: the toy has such cases on purpose)
            continue
        checked += 1
        for name, decl in toy.decisions.items():
            assert repr(ev.decisions[name]) == repr(resolver(toy, decl)(ev.claims[name])), (seed, name)
    assert checked > 200


def test_decisions_claimed_only_by_literals_resolve_as_their_resolvers_do(tmp_path):
    """A bool claimed with one literal and a union of literal codes are resolved without their resolvers
    (the generated code knows the values); on every case, with and without tracing, the value is what the
    resolver gives on the same claims. The Shanghai policy's unions claim several literal codes each."""
    from conftest import generator
    from regcode.engine.evaluate import resolver
    small = write_policy(tmp_path).by_ref("small@1")
    shanghai = Catalog().by_ref("shanghai-post-license@2017")
    runs = [(small, case) for case in cases()] + [(shanghai, case) for case in generator.generate(300, 20261202)]
    # shortcuts that meet several claims here (the small policy's each come from one rule firing once)
    shortcut = {("shanghai-post-license", n) for n in ("violations", "enterprise_obligations", "rectification_required")}
    seen = set()
    for policy, case in runs:
        for trace in (False, True):
            ev = evaluate(policy, case, case["as_of"], backend="python", trace=trace)
            for name, decl in policy.decisions.items():
                assert repr(ev.decisions[name]) == repr(resolver(policy, decl)(ev.claims[name])), (policy.id, name, case)
                if len(ev.claims[name]) > 1:
                    seen.add((policy.id, name))
    assert shortcut & seen == shortcut      # each shortcut met claims it must combine, not only a lone one


PARTIAL_RULES = """\
rules:
  - id: mark-both
    article: 第一条
    title: t
    for_each: items
    as: i
    when: {path: i.kind, op: '==', value: a}
    then: [{derive: mark, with: {a: {path: i.kind}, b: {path: shop.name}}}]
  - id: mark-one
    article: 第一条
    title: t
    for_each: items
    as: i
    when: {path: i.kind, op: '==', value: b}
    then: [{derive: mark, with: {a: {path: i.kind}}}]
  - id: marked-without-b
    article: 第一条
    title: t
    for_each: mark
    as: m
    when: {all: [{absent: m.b}, {path: m.a, op: '==', value: b}]}
    then: [{decide: busy, value: true}]
  - id: marked-with-b
    article: 第一条
    title: t
    for_each: mark
    as: m
    when: {present: m.b}
    then: [{decide: hits, value: {path: m.a}}]
"""


def test_a_derived_field_some_rule_leaves_out_is_read_as_absent(tmp_path):
    """The run function reads a derived fact's field by subscription only when every rule deriving that fact
    writes it: `b` here is left out by one of them, `a` by none."""
    version = tmp_path / "partial" / "1"
    (version / "rules").mkdir(parents=True)
    small = tmp_path / "small" / "1"
    write_policy(tmp_path)
    for name in ("facts.schema.yaml", "decisions.yaml"):
        (version / name).write_text((small / name).read_text(encoding="utf-8"), encoding="utf-8")
    (version / "policy.yaml").write_text((small / "policy.yaml").read_text(encoding="utf-8").replace("id: small", "id: partial"),
                                         encoding="utf-8")
    (version / "derived.yaml").write_text("apiVersion: regcode/v1\nkind: DerivedFacts\nfacts:\n"
                                          "  mark: {title: t, fields: {a: string, b: string}}\n", encoding="utf-8")
    (version / "rules" / "r.yaml").write_text("apiVersion: regcode/v1\nkind: Rules\n" + PARTIAL_RULES, encoding="utf-8")
    policy = Catalog([tmp_path]).by_ref("partial@1")
    program = program_for(policy, "python")
    assert "it['a']" in program.source and "it['b']" not in program.source and "it.get('b')" in program.source
    case = {"as_of": "2020-06-30", "shop": {"name": "甲"},
            "items": [{"kind": "a", "n": 1, "day": "2020-01-01"}, {"kind": "b", "n": 2, "day": "2020-02-01"}]}
    for trace in (False, True):
        ev = evaluate(policy, case, case["as_of"], backend="python", trace=trace)
        assert ev.decisions["busy"] is True and ev.decisions["hits"] == ["a"]
    if _durable.available():
        assert to_dict(evaluate(policy, case, case["as_of"], backend="python")) == \
            to_dict(evaluate(policy, case, case["as_of"], backend="durable"))


def test_a_failure_is_named_by_the_rule_whose_code_failed_and_outside_rules_by_none(tmp_path):
    """No rule index is kept while running: a failure is told apart by its line in the generated code."""
    policy = write_policy(tmp_path).by_ref("small@1")
    program = program_for(policy, "python")
    case = {"as_of": "2020-06-30", "shop": {"name": "甲", "size": 3},
            "items": [{"kind": "a", "n": 2, "day": "2020-01-01"}, {"kind": "b", "n": 3, "day": "2020-01-02"}]}
    assert {policy.rules[i].id for i in program._rule_at_line.values()} == {r.id for r in policy.rules}
    def boom(claims):
        raise ZeroDivisionError("resolution")
    saved = dict(program._namespace)
    try:
        j = program.decision_names.index("top")      # claimed once per item, twice: resolved through its resolver
        program._namespace[f"R{j}"] = boom
        with pytest.raises(EvaluationError) as info:
            evaluate(policy, case, case["as_of"], backend="python")
        assert "the evaluation failed" in info.value.issues[0].message and "ZeroDivisionError" in info.value.issues[0].message
    finally:
        program._namespace.clear()
        program._namespace.update(saved)
    assert to_dict(evaluate(policy, case, case["as_of"], backend="python"))["decisions"]["hits"] == ["two"]


def _nested(depth: int) -> str:
    """A condition as deep as asked: all / any / not in turn around one comparison."""
    if depth == 0:
        return "{path: shop.size, op: '>', value: 1}"
    inner = _nested(depth - 1)
    return ("{all: [%s, {present: shop.name}]}", "{any: [{absent: shop.kind}, %s]}", "{not: {not: %s}}")[depth % 3] % inner


def _nested_lists(depth: int) -> str:
    """List operators inside one another, as deep as asked, the innermost reading every alias."""
    names = [f"x{k}" for k in range(depth)]
    where = "{all: [" + ", ".join(f"{{path: {n}.n, op: '>=', value: 1}}" for n in names) + "]}"
    for n in reversed(names):
        where = f"{{some: items, as: {n}, where: {where}}}"
    return where


def test_the_deepest_conditions_the_language_allows_compile_and_run(tmp_path):
    """Nesting is bounded at parse time (compile.depth); generated code at that bound still compiles
    (CPython refuses more than 20 nested loops and deeply nested parentheses) and agrees traced or not."""
    from regcode.engine import CompileError, _operators
    global RULES
    saved = RULES
    policy = None
    try:
        for depth in range(_operators.MAX_DEPTH, 0, -1):     # the deepest that compiles
            RULES = saved + f"""\
  - id: deep-conditions
    article: 第一条
    title: t
    when: {_nested(depth)}
    then: [{{decide: busy, value: true}}]
  - id: deep-lists
    article: 第一条
    title: t
    when: {_nested_lists(_operators.MAX_LIST_DEPTH - 1)}
    then: [{{decide: busy, value: true}}]
"""
            try:
                policy = write_policy(tmp_path / str(depth)).by_ref("small@1")
                break
            except CompileError as exc:
                assert all(i.code == "compile.depth" for i in exc.issues), exc
    finally:
        RULES = saved
    assert policy is not None and depth >= _operators.MAX_DEPTH // 3
    fired = set()
    for case in cases():
        traced = to_dict(evaluate(policy, case, case["as_of"], backend="python"))
        plain = to_dict(evaluate(policy, case, case["as_of"], backend="python", trace=False), "none")
        assert traced["decisions"] == plain["decisions"]
        fired.update(e["rule"] for e in traced["why"]["busy"])
        for rule, paths in matched_lists(traced):
            assert len(paths) == len(set(paths)), (rule, paths)
    assert {"deep-conditions", "deep-lists"} <= fired


def test_ties_between_equal_dates_write_each_item_out_once_a_case(monkeypatch):
    """300 licenses of one category and 300 class decisions of one day: the tie-break by content writes each
    item once, not once per comparison (which made such a case take seconds, and 3,000 items minutes)."""
    import json as _json
    from regcode.engine import Catalog, evaluate
    from regcode.engine import _python
    calls = []
    real = _json.dumps

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)
    monkeypatch.setattr(_python.json, "dumps", counting)
    n = 300
    case = {"as_of": "2019-06-30", "enterprise": {"credit_code": "91310114MA1G7B2N2T", "name": "x", "production_district": "嘉定区"},
            "licenses": [{"number": f"XK06-001-{i:05d}", "category": "电线电缆", "risk_level": "iii", "issuer": "provincial",
                          "issued_on": "2016-05-10"} for i in range(n)],
            "classification_history": [{"category": "电线电缆", "class": "b", "decided_on": "2018-03-01"} for _ in range(n)]}
    policy = Catalog().select("shanghai-post-license", "2019-06-30")
    out = evaluate(policy, case, "2019-06-30", trace=False)
    assert out.decisions["category_classes"] == {"电线电缆": "b"}
    assert len(calls) <= 4 * n, f"{len(calls)} dumps for {n} items"


def _one_category_case(n: int) -> dict:
    return {"as_of": "2019-06-30", "enterprise": {"credit_code": "91310114MA1G7B2N2T", "name": "x", "production_district": "嘉定区"},
            "licenses": [{"number": f"XK06-001-{i:05d}", "category": "电线电缆", "risk_level": "iii", "issuer": "provincial",
                          "issued_on": "2016-05-10"} for i in range(n)],
            "assessments": [{"category": "电线电缆", "result": "pass", "assessed_on": "2018-01-01"}],
            "classification_history": [{"category": "电线电缆", "class": "b", "decided_on": "2018-03-01"} for _ in range(n)]}


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "traced"])
def test_a_pick_keyed_on_the_item_in_hand_is_made_once_a_case_per_key_so_cost_grows_linearly(trace):
    """Every license picks its category's first license and latest class decision (`earliest ... where
    h.category == lic.category`): with n licenses of one category, one pick per key, not one per license over
    all n (which made 5,000 such licenses take 15 s and 15,000 more than a minute). Counted in tie-breaks
    between equal dates, which every comparison of such a case is: linear in n, not quadratic."""
    policy = Catalog().select("shanghai-post-license", "2019-06-30")
    program = program_for(policy, "python")
    run = program.run_traced if trace else program.run_plain
    names = run.__globals__
    real, calls = names["_tie_wins"], []

    def counting(*args):
        calls.append(1)
        return real(*args)
    names["_tie_wins"] = counting
    try:
        counts = []
        for n in (200, 400):
            calls.clear()
            out = evaluate(policy, _one_category_case(n), "2019-06-30", trace=trace)
            assert out.decisions["category_classes"] == {"电线电缆": "b"}
            counts.append(len(calls))
    finally:
        names["_tie_wins"] = real
    assert counts[0] >= 200 and counts[1] <= 2.2 * counts[0], counts    # quadratic would be 4x


@needs_durable
def test_picks_made_once_a_case_give_what_durable_gives():
    """The picks memoised per key decide and explain as the durable backend, which picks afresh each time."""
    policy = Catalog().select("shanghai-post-license", "2019-06-30")
    case = _one_category_case(30)
    case["licenses"] += [{"number": "XK06-002-00001", "category": "食品相关产品", "risk_level": "i", "issuer": "provincial",
                          "issued_on": "2017-01-05", "food_related": True},
                         {"number": "XK06-002-00002", "category": "电线电缆", "risk_level": "i", "issuer": "municipal",
                          "issued_on": "2015-02-01"}]
    for trace in (False, True):
        ours = to_dict(evaluate(policy, case, "2019-06-30", trace=trace, backend="python"), "full" if trace else "none")
        theirs = to_dict(evaluate(policy, case, "2019-06-30", trace=trace, backend="durable"), "full" if trace else "none")
        assert ours == theirs


# ---- an amount from the case that moves a date out of the calendar is the rule's error, on every backend ----------
OVERFLOW_RULES = {   # (the rule, what its error says)
    "in a conclusion, whole months": (
        "for_each: items\n    as: it\n    then: [{decide: due, value: {date_add: {path: it.day}, months: {path: it.n}}}]",
        "moves 2020-01-01 by {n:,} months, {side}"),
    "in a conclusion, days": (
        "for_each: items\n    as: it\n    then: [{decide: due, value: {date_add: {path: it.day}, days: {path: it.n}}}]",
        "moves 2020-01-01 by {n:,} days, {side}"),
    "in a condition, years": (
        "for_each: items\n    as: it\n    when: {path: as_of, op: '<', value: {date_add: {path: it.day}, years: {path: it.n}}}\n"
        "    then: [{decide: due, value: '2020-01-01'}]",
        "moves 2020-01-01 by {n:,} years, {side}"),
}


@pytest.mark.parametrize("backend", ["python", pytest.param("durable", marks=needs_durable)])
@pytest.mark.parametrize("n,side", [(10 ** 12, "past 9999-12-31"), (-10 ** 12, "before 0001-01-01")], ids=["forward", "back"])
@pytest.mark.parametrize("rule,said", OVERFLOW_RULES.values(), ids=list(OVERFLOW_RULES))
def test_a_computed_date_add_amount_past_the_calendar_is_the_rules_eval_error(tmp_path, backend, n, side, rule, said):
    version = tmp_path / "small" / "1"
    version.mkdir(parents=True)
    (version / "policy.yaml").write_text("apiVersion: regcode/v1\nkind: Policy\nid: small\nversion: '1'\ntitle: t\n"
                                         "source: {issuer: tests, date: 2020-01-01}\neffective_from: 2020-01-01\n", encoding="utf-8")
    (version / "facts.schema.yaml").write_text(FACTS, encoding="utf-8")
    (version / "decisions.yaml").write_text("apiVersion: regcode/v1\nkind: Decisions\ndecisions:\n"
                                            "  due: {type: date, combine: min, default: null}\n", encoding="utf-8")
    (version / "rules.yaml").write_text("apiVersion: regcode/v1\nkind: Rules\nrules:\n  - id: moved-by-n\n    article: 第一条\n"
                                        f"    title: t\n    {rule}\n", encoding="utf-8")
    policy = Catalog([tmp_path]).by_ref("small@1")
    case = {"as_of": "2020-06-30", "shop": {"name": "甲"}, "items": [{"kind": "a", "n": 1, "day": "2020-01-01"}]}
    assert evaluate(policy, case, case["as_of"], backend=backend).decisions["due"] is not None    # a small amount: a date
    case["items"][0]["n"] = n
    for trace in (True, False):
        with pytest.raises(EvaluationError) as raised:
            evaluate(policy, case, case["as_of"], backend=backend, trace=trace)
        [issue] = raised.value.issues
        assert issue.code == "eval.date_range" and "rule `moved-by-n`" in issue.message, issue
        assert said.format(n=n, side=side) in issue.message, issue
        assert issue.location.file.endswith("rules.yaml") and issue.location.line == 4
    # where the case file is known: placed there, at the record that holds the amount or the date
    with pytest.raises(EvaluationError) as raised:
        evaluate(policy, case, case["as_of"], backend=backend, source="case.json")
    [issue] = raised.value.issues
    assert issue.location.file == "case.json" and issue.location.path.startswith("items[0]."), issue
    assert "rule `moved-by-n` (rules.yaml:4)" in issue.message and "`items[0]." in issue.message, issue

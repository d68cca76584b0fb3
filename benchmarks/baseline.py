"""The oracle and speed floor: every decision of the Shanghai 2017 contract, by hand-written Python.

Written from docs/shanghai-2017-contract.md and the regulation's text alone, without
reading the policy's rules, so that it can catch where the encoding disagrees with the contract.
Plain Python as one would write it without regcode: no rules, no explanations, no schema check
(the case is assumed valid), ISO dates compared as text, one pass over each list into dicts keyed
by category (never a scan of a list per license).

    from baseline import decide
    decide(case, "2019-06-30") -> {"applicable": True, "classification": "b", ...}   # `decisions` of eval --format json

Readings where the contract is silent (each is a choice a district bureau could defend; the
comparison with the engine shows whether the policy took the same one):
- A license issued after `as_of` is not held yet ("records dated after as_of are ignored
  everywhere"); it neither makes the enterprise applicable nor brings its category in.
- Two class decisions (or two assessments) of one category on the same day: the lower class
  counts (从严). The generator does not produce such ties.
- Art. 8's spot-check criteria (two failed checks at provincial level or above, a refusal) count
  the category's own spot checks (classes are per category, Art. 31); a product-quality penalty
  and a verified media exposure name no category and weigh on every category.
- A serious quality hazard is a standing state, not a dated record: it is a downgrade trigger
  whenever it is set.
- `downgrade_reasons` lists a trigger only when it moves the class below the class counted from:
  no trigger adds a reason to a category counted from `c` (the contract says so for C criteria;
  an Art. 33 trigger cannot go lower than `c` either).
- A 5-year bar includes its last day: barred while as_of <= breach + 5 years (the contract's
  "within N years ... inclusive"), and `aa_commitment_barred_until` is that last day.
- A license has "no class yet" when its category has no class decision on or before as_of (an
  assessment alone is not a decision).
- A rectification order is open until it is completed and its recheck passed; it is incomplete
  (Art. 45(3)) when it is still open after its deadline (deadline < as_of).
- A sample not sent by as_of is late once as_of is more than 7 days after sealing; a missing
  `staff_count` proves no understaffing.
- `enterprise_obligations` gives `annual_commitment_report` to class `aa` (the contract's "(AA)"),
  whatever the risk adjustment does to the mode.

`readings=` switches on, by name, a reading the policy took where it disagreed with the contract
(POLICY_READINGS; each has a case file under tests/fixtures/oracle/). The default is the contract,
and the policy now follows it in all three (branch policy2: no fixture names a reading, and
`compare_oracle.py` finds no disagreement by default). They stay here so that a policy that falls
back to one of them is recognised by name (`compare_oracle.py --policy-readings` shows what each
changes); the comparison test takes from the fixtures the ones the policy still takes, none today.
"""
from __future__ import annotations

import datetime as _dt

# Classes as ranks, lowest first: c=0 .. aa=3; "lowest" (从严) is the smallest rank.
CLASSES = ("c", "b", "a", "aa")
RANK = {name: i for i, name in enumerate(CLASSES)}
MODE = ("strict", "normal", "responsibility", "credit")          # 第三十条, by class rank
STRICTER = {"credit": "responsibility", "responsibility": "normal", "normal": "strict", "strict": "strict"}
INSPECTIONS = {"credit": (0, 0.2), "responsibility": (0, 0.5), "normal": (1, 1.0), "strict": (2, 1.0)}
PROVINCIAL_OR_ABOVE = frozenset(("national", "provincial"))       # 第八条 省级以上
ROUTINE = frozenset(("regular", "irregular", "follow_up"))        # 第二十一条 日常监督检查
C_WINDOW_YEARS = 3                                                # 第八条 近3年
C_FAIL_COUNT = 2                                                  # 第八条 2次（含）以上
BAR_YEARS = 5                                                     # 第九条 5年内
DEADLINE_MONTHS = 2                                               # 第十条 两个月内
MIN_STAFF = 2                                                     # 第二十四条 2名以上
DISPATCH_DAYS = 7                                                 # 第四十七条 7日内
ONLY_FEEDBACK = ("respond_to_quality_feedback",)
# Readings the policy took until it followed the contract (tests/fixtures/oracle/18-26, `# fixed:`); off by default.
POLICY_READINGS = {
    "downgrade_for_any_trigger_since_decision":
        "a product-quality penalty, a verified media exposure and a refused spot check since the latest class "
        "decision also downgrade one level (第三十三条第一、四、五项), outside the 3-year window too; the contract "
        "names other-law penalties, hazards and breaches as the triggers besides the C criteria",
    "since_triggers_name_a_c_category":
        "a trigger since the decision (第三十二条 failed spot check, 第三十三条) is a downgrade reason for a category "
        "counted from c as well; the contract: a C criterion from c adds no reason, non-empty means downgraded",
    "bar_counted_back_from_as_of":
        "the 5-year bar holds while the breach is 'within 5 years' counted back from as_of: on as_of 2020-02-29 a "
        "breach of 2015-02-28 still bars, with aa_commitment_barred_until 2020-02-28, the day before; the "
        "contract (and the policy's own note): the bar ends on breach date + 5 years",
}
AA_OBLIGATIONS = ("annual_commitment_report", "respond_to_quality_feedback")


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_years(day: str, years: int) -> str:
    """ISO date `years` later (negative: earlier); 29 February becomes 28 February in a common year."""
    year = int(day[:4]) + years
    rest = day[4:]
    if rest == "-02-29" and not _leap(year):
        rest = "-02-28"
    return f"{year:04d}{rest}"


def add_months(day: str, months: int) -> str:
    """ISO date `months` later, clamped to the month's last day (12-31 + 2 months = 02-28/29)."""
    total = int(day[:4]) * 12 + int(day[5:7]) - 1 + months
    year, month = divmod(total, 12)
    last = 29 if month == 1 and _leap(year) else _MONTH_DAYS[month]
    return f"{year:04d}-{month + 1:02d}-{min(int(day[8:10]), last):02d}"


def add_days(day: str, days: int) -> str:
    return (_dt.date.fromisoformat(day) + _dt.timedelta(days=days)).isoformat()


def not_applicable() -> dict:
    """第二条: outside the policy, every decision at its default (fresh containers every call)."""
    return {
        "aa_commitment_accepted": False, "aa_commitment_barred_until": None, "applicable": False,
        "category_classes": {}, "classification": None, "classification_deadline": None,
        "competent_authority": None, "downgrade_reasons": [], "enterprise_obligations": [],
        "inspection_sampling_ratio_min": None, "inspections_per_year_min": None, "interview_required": False,
        "notify_registration_district": False, "reclassification_reasons": [], "reclassification_required": False,
        "rectification_required": False, "revoke_quality_awards": False, "special_inspection_reasons": [],
        "supervision_mode": None, "supervisory_testing_reasons": [], "violations": [],
    }


def _latest(records, date_key: str, class_key: str, as_of: str, wanted) -> dict:
    """category -> (date, rank) of its latest record dated on or before as_of; a same-day tie keeps the lower class."""
    out: dict = {}
    for r in records or ():
        day = r[date_key]
        cat = r["category"]
        if day > as_of or cat not in wanted:
            continue
        rank = RANK[r[class_key]]
        have = out.get(cat)
        if have is None or day > have[0] or (day == have[0] and rank < have[1]):
            out[cat] = (day, rank)
    return out


def _latest_date(records, as_of: str, key: str = "date") -> str:
    """The latest date on or before as_of among records, or '' (which sorts before every date)."""
    best = ""
    for r in records or ():
        day = r[key]
        if best < day <= as_of:
            best = day
    return best


def decide(case: dict, as_of: str = None, readings: frozenset = frozenset()) -> dict:
    """Every decision of the contract for one case file, in the shape of `decisions` in `regcode eval --format json`.

    `readings`: names from POLICY_READINGS to follow instead of the contract (none by default)."""
    as_of = as_of or case["as_of"]
    any_trigger = "downgrade_for_any_trigger_since_decision" in readings
    from_c = "since_triggers_name_a_c_category" in readings
    bar_back = "bar_counted_back_from_as_of" in readings

    # 第二条: held, non-food licenses only; the earliest issue per category dates "the license's validity"
    first_issue: dict = {}
    risk_i = False
    deadline = None
    for lic in case.get("licenses") or ():
        if lic.get("food_related") or lic["issued_on"] > as_of:
            continue
        cat, day = lic["category"], lic["issued_on"]
        if cat not in first_issue or day < first_issue[cat]:
            first_issue[cat] = day
        if lic["risk_level"] == "i":
            risk_i = True
    if not first_issue:
        return not_applicable()

    enterprise = case["enterprise"]
    production = enterprise["production_district"]
    decided = _latest(case.get("classification_history"), "decided_on", "class", as_of, first_issue)
    assessed = _latest(case.get("assessments"), "assessed_on", "result", as_of, first_issue)

    # 第十条: a license whose category has no class decision yet is classified within 2 months of its issue
    for lic in case.get("licenses") or ():
        if lic.get("food_related") or lic["issued_on"] > as_of or lic["category"] in decided:
            continue
        due = add_months(lic["issued_on"], DEADLINE_MONTHS)
        if deadline is None or due < deadline:
            deadline = due

    # 第八条, 第九条: the commitment and the 5-year bar (enterprise-wide)
    last_breach = _latest_date(case.get("commitment_breaches"), as_of)
    barred_until = None
    if last_breach:
        until = add_years(last_breach, BAR_YEARS)
        if until >= as_of or (bar_back and last_breach >= add_years(as_of, -BAR_YEARS)):
            barred_until = until
    commitment = case.get("aa_commitment") or {}
    signed = commitment.get("signed_on")
    accepted = bool(signed) and signed <= as_of and commitment.get("reviewed") is True \
        and barred_until is None and signed > last_breach

    # The evidence, one pass per list: per category for spot checks, enterprise-wide otherwise
    since3 = add_years(as_of, -C_WINDOW_YEARS)
    fails3: dict = {}
    refused3 = set()
    last_fail: dict = {}
    last_refused: dict = {}
    for s in case.get("spot_checks") or ():
        day = s["date"]
        if day > as_of:
            continue
        result, cat = s["result"], s["category"]
        if result == "fail":
            if day > last_fail.get(cat, ""):
                last_fail[cat] = day
            if day >= since3 and s["level"] in PROVINCIAL_OR_ABOVE:
                fails3[cat] = fails3.get(cat, 0) + 1
        elif result == "refused":
            if day >= since3:
                refused3.add(cat)
            if day > last_refused.get(cat, ""):
                last_refused[cat] = day
    quality_penalty3 = False
    last_quality_penalty = ""
    last_other_penalty = ""
    for p in case.get("penalties") or ():
        day = p["date"]
        if day > as_of:
            continue
        if p["subject"] == "product_quality":
            quality_penalty3 = quality_penalty3 or day >= since3
            if day > last_quality_penalty:
                last_quality_penalty = day
        elif day > last_other_penalty:
            last_other_penalty = day
    verified_media3 = False
    last_media = ""
    last_verified = ""
    for m in case.get("media_exposures") or ():
        day = m["date"]
        if day > as_of:
            continue
        if day > last_media:
            last_media = day
        if m.get("verified"):
            verified_media3 = verified_media3 or day >= since3
            if day > last_verified:
                last_verified = day
    hazard = bool(case.get("serious_quality_hazard"))
    last_change = _latest_date(case.get("changes"), as_of)

    # Per category (第八条, 第十条, 第三十一条 to 第三十三条)
    category_classes: dict = {}
    downgrade: set = set()
    reclassify = False
    lowest = 3
    for cat, issued in first_issue.items():
        d = decided.get(cat)
        a = assessed.get(cat)
        if a is not None and (d is None or a[0] > d[0]):
            rank = a[1]                                     # a newer assessment
        else:
            rank = d[1] if d is not None else 1             # the latest decision; else 新申请 B
        counted = d[1] if d is not None else rank           # the class counted from
        # "since the latest class decision": strictly after the decision, else after the latest
        # assessment, else on or after the category's earliest held license (its validity)
        if d is not None:
            cut, inclusive = d[0], False
        elif a is not None:
            cut, inclusive = a[0], False
        else:
            cut, inclusive = issued, True

        def since(day: str) -> bool:
            return bool(day) and (day > cut or (inclusive and day == cut))

        if rank == 3 and not accepted:                      # 第八条, 第九条: AA needs the commitment
            rank = 2
        if d is not None and rank > d[1] + 1:               # 第三十三条: no skipping upward
            rank = d[1] + 1
        reasons = []
        fail_since = since(last_fail.get(cat, ""))
        if fails3.get(cat, 0) >= C_FAIL_COUNT or fail_since:                      # 第八条; 第三十二条
            reasons.append("spot_check_fail")
        if cat in refused3:
            reasons.append("spot_check_refused")
        if quality_penalty3:
            reasons.append("penalty")
        if verified_media3:
            reasons.append("media_exposure")
        if reasons:
            rank = 0
        down = []                                           # 第三十三条 (and 第九条 for an AA category)
        if since(last_other_penalty) or (any_trigger and since(last_quality_penalty)):
            down.append("penalty")
        if any_trigger and since(last_verified):
            down.append("media_exposure")
        if any_trigger and since(last_refused.get(cat, "")):
            down.append("spot_check_refused")
        if hazard:
            down.append("quality_hazard")
        if counted == 3 and since(last_breach):
            down.append("commitment_breach")
            rank = min(rank, 1)                             # 第九条: 调整为B类或C类
        if down:
            rank = min(rank, max(counted - 1, 0))
            reasons.extend(down)
        if counted > 0:
            downgrade.update(reasons)
        elif from_c:
            downgrade.update(down + (["spot_check_fail"] if fail_since else []))
        category_classes[cat] = CLASSES[rank]
        lowest = min(lowest, rank)
        if not reclassify and since(last_change):           # 第三十二条: 较大变化 during the validity
            reclassify = True

    classification = CLASSES[lowest]                        # 第三十一条: the lowest category class
    mode = MODE[lowest]                                     # 第三十条
    if risk_i:                                              # 第十四条: one step stricter
        mode = STRICTER[mode]
    per_year, ratio = INSPECTIONS[mode]
    is_c = lowest == 0

    # 第二十九条: each trigger is answered by a special inspection on or after its date
    last_special = ""
    open_order = False
    incomplete = False
    understaffed = False
    unsigned = False
    for i in case.get("inspections") or ():
        day = i["date"]
        if day > as_of:
            continue
        kind = i["kind"]
        if kind == "special" and day > last_special:
            last_special = day
        staff = i.get("staff_count")
        if kind in ROUTINE and staff is not None and staff < MIN_STAFF:
            understaffed = True
        if not (i.get("signed_by_inspectors") and i.get("signed_by_enterprise")):
            unsigned = True
        r = i.get("rectification")
        if r and r.get("ordered") and not (r.get("completed") and r.get("recheck_passed")):
            open_order = True
            if r["deadline"] < as_of:
                incomplete = True
    special = []
    if case.get("special_inspection_assigned"):
        special.append("assigned")
    if _latest_date(case.get("complaints"), as_of) > last_special:
        special.append("complaint")
    if _latest_date(case.get("counterfeit_suspicions"), as_of) > last_special:
        special.append("counterfeit_suspicion")
    if _latest_date(case.get("major_quality_accidents"), as_of) > last_special:
        special.append("major_accident")
    if last_media > last_special:                           # 第二十九条(二): verified or not
        special.append("media_exposure")

    testing = []                                            # 第四十五条
    if case.get("conditions_not_maintained"):
        testing.append("conditions_not_maintained")
    if incomplete:
        testing.append("rectification_incomplete")
    if case.get("suspected_serious_quality_problem"):
        testing.append("serious_quality_problem")

    late = False
    fee = False
    for s in case.get("samplings") or ():
        sealed = s["sealed_on"]
        if sealed > as_of:
            continue
        if s.get("fee_charged"):
            fee = True
        if not late:                                        # 第四十七条: sent within 7 days of sealing
            limit = add_days(sealed, DISPATCH_DAYS)
            sent = s.get("sent_on")
            late = (as_of if sent is None or sent > as_of else sent) > limit
    violations = []
    if case.get("classification_used_in_advertising"):
        violations.append("classification_in_advertising")
    if case.get("classification_shown_on_labels"):
        violations.append("classification_on_label")
    if unsigned:
        violations.append("inspection_record_unsigned")
    if understaffed:
        violations.append("inspection_understaffed")
    if late:
        violations.append("sample_sent_late")
    if fee:
        violations.append("sampling_fee_charged")

    registered = enterprise.get("registered_district")
    return {
        "aa_commitment_accepted": accepted,
        "aa_commitment_barred_until": barred_until,
        "applicable": True,
        "category_classes": category_classes,
        "classification": classification,
        "classification_deadline": deadline,
        "competent_authority": production,
        "downgrade_reasons": sorted(downgrade),
        "enterprise_obligations": list(AA_OBLIGATIONS if lowest == 3 else ONLY_FEEDBACK),
        "inspection_sampling_ratio_min": ratio,
        "inspections_per_year_min": per_year,
        "interview_required": is_c or bool(downgrade),                   # 第三十条(四), 第三十五条
        "notify_registration_district": registered is not None and registered != production,   # 第十五条
        "reclassification_reasons": ["significant_change"] if reclassify else [],
        "reclassification_required": reclassify,
        "rectification_required": is_c or open_order,                   # 第二十七条, 第三十条(四)
        "revoke_quality_awards": is_c and bool(_latest_date(case.get("quality_awards"), as_of, "granted_on")),
        "special_inspection_reasons": special,
        "supervision_mode": mode,
        "supervisory_testing_reasons": testing,
        "violations": violations,
    }

#!/usr/bin/env python3
"""Generate deterministic, realistic synthetic case files (一企一档) for the Shanghai post-license policy (2017).

    python benchmarks/generate.py --count 1000 --seed 7 > cases.jsonl
    python benchmarks/generate.py --count 50 --seed 7 --dir out/cases --as-of 2020-12-31

Stdlib only. Every case follows policies/shanghai-post-license/2017/facts.schema.yaml. The facts
are built so that, under the readings fixed by the contract, about 10% of the applicable
enterprises end AA, 30% A, 45% B and 15% C; about 4% hold only food-related licenses (not
applicable, 第二条). Import it by path and call `generate(count, seed, as_of)`.
"""
from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import sys
from pathlib import Path
from random import Random
from typing import Iterator, NamedTuple, Optional

DEFAULT_AS_OF = "2019-06-30"
CLASSES = ("c", "b", "a", "aa")            # lowest first
TARGET_MIX = (("aa", 10), ("a", 30), ("b", 45), ("c", 15))
FOOD_ONLY_SHARE = 0.04                      # enterprises holding only 食品相关产品 licenses
FOOD_EXTRA_SHARE = 0.02                     # enterprises holding one food-related license besides others

# District -> (administrative division code, weight as a production site, weight as a registration
# seat). Industry sits in the outer districts; head offices lean to the centre.
DISTRICTS = {
    "浦东新区": ("310115", 16, 14), "黄浦区": ("310101", 1, 6), "静安区": ("310106", 2, 7),
    "徐汇区": ("310104", 2, 6), "长宁区": ("310105", 1, 5), "普陀区": ("310107", 3, 4),
    "虹口区": ("310109", 1, 4), "杨浦区": ("310110", 2, 4), "宝山区": ("310113", 9, 4),
    "闵行区": ("310112", 10, 5), "嘉定区": ("310114", 13, 4), "金山区": ("310116", 8, 2),
    "松江区": ("310117", 11, 3), "青浦区": ("310118", 8, 3), "奉贤区": ("310120", 9, 3),
    "崇明区": ("310151", 3, 3),
}


class Category(NamedTuple):
    name: str
    rules: tuple          # ((implementing rules code, (product, ...)), ...)
    risk: str             # i | ii | iii  (附件3 风险等级, as commonly graded)
    national_share: float  # share of licenses issued nationally
    weight: int
    words: tuple          # trade words for enterprise names
    group: str
    food: bool = False


CATEGORIES = (
    Category("电线电缆", (("XK06-001", ("电力电缆", "架空绞线", "塑料绝缘控制电缆", "聚氯乙烯绝缘电线")),), "ii", 0.1, 14, ("电缆", "线缆", "电线电缆"), "electric"),
    Category("危险化学品", (("XK13-006", ("危险化学品无机产品",)), ("XK13-008", ("危险化学品有机产品",)), ("XK13-010", ("危险化学品涂料产品",))), "i", 0.05, 12, ("化工", "化学品", "涂料"), "chemical"),
    Category("建筑防水卷材", (("XK23-001", ("改性沥青防水卷材", "高分子防水片材")),), "ii", 0.0, 6, ("防水材料", "建材"), "building"),
    Category("输水管", (("XK26-001", ("硬聚氯乙烯给水管", "聚乙烯给水管")),), "iii", 0.0, 5, ("管业", "塑胶"), "building"),
    Category("水泥", (("XK08-001", ("通用硅酸盐水泥",)),), "ii", 0.0, 4, ("水泥", "建材"), "building"),
    Category("人造板", (("XK03-001", ("胶合板", "细木工板", "中密度纤维板")),), "iii", 0.0, 4, ("木业", "板业"), "building"),
    Category("特种劳动防护用品", (("XK21-001", ("安全帽", "安全带", "安全网")),), "ii", 0.0, 4, ("劳防用品", "安全防护用品"), "other"),
    Category("建筑用钢筋", (("XK05-001", ("热轧带肋钢筋",)),), "i", 0.6, 3, ("钢铁", "钢材"), "building"),
    Category("铝合金建筑型材", (("XK09-001", ("铝合金建筑型材",)),), "iii", 0.0, 3, ("铝业", "铝型材"), "building"),
    Category("预应力混凝土用钢材", (("XK05-005", ("预应力混凝土用钢绞线", "预应力混凝土用钢丝")),), "ii", 0.5, 2, ("金属制品", "钢绞线"), "building"),
    Category("农药", (("XK13-003", ("农药原药", "农药制剂")),), "i", 1.0, 2, ("农药", "生物化学"), "chemical"),
    Category("机动车制动液", (("XK14-001", ("机动车制动液",)),), "ii", 0.0, 2, ("汽车用品", "润滑油"), "chemical"),
    Category("砂轮", (("XK11-001", ("固结磨具",)),), "ii", 0.0, 2, ("磨具", "磨料"), "other"),
    Category("电力整流器", (("XK07-001", ("电力整流器",)),), "iii", 0.0, 2, ("电气", "电力设备"), "electric"),
    Category("电热毯", (("XK15-001", ("电热毯",)),), "ii", 0.0, 2, ("电器",), "electric"),
    Category("泵", (("XK18-001", ("潜水电泵",)),), "iii", 0.0, 2, ("泵业", "机电"), "electric"),
    Category("耐火材料", (("XK10-001", ("定形耐火制品",)),), "iii", 0.0, 2, ("耐火材料",), "building"),
    Category("防伪技术产品", (("XK17-001", ("防伪标识",)),), "iii", 1.0, 2, ("防伪科技", "印务"), "other"),
    Category("化肥", (("XK13-001", ("复混肥料",)),), "iii", 0.0, 1, ("肥业",), "chemical"),
    Category("轮胎", (("XK12-001", ("轿车轮胎",)),), "ii", 0.3, 1, ("轮胎", "橡胶"), "other"),
)
FOOD_CATEGORIES = (
    Category("食品用塑料包装容器工具", (("XK16-204", ("食品用塑料包装", "食品用塑料容器", "食品用塑料工具")),), "ii", 0.0, 5, ("塑料制品", "包装"), "food", True),
    Category("食品用纸包装容器", (("XK16-205", ("食品用纸包装", "纸杯")),), "iii", 0.0, 3, ("纸业", "包装"), "food", True),
    Category("餐具洗涤剂", (("XK16-201", ("餐具洗涤剂",)),), "iii", 0.0, 1, ("日化",), "food", True),
    Category("压力锅", (("XK16-202", ("压力锅",)),), "ii", 0.0, 1, ("炊具",), "food", True),
)

BRAND_CHARS = "华宏申浦东新金恒泰正达永隆盛昌联中海天立建兴鑫锦源德美光明久宝亚通凯瑞博晟嘉利丰安振益佳汇诚信和福康顺远航润峰"
NAME_SUFFIXES = (("有限公司", 70), ("股份有限公司", 10), ("实业有限公司", 10), ("科技有限公司", 10))
AWARDS = (("上海市质量金奖", 3), ("上海市政府质量奖", 1), ("上海名牌产品", 4), ("{district}区长质量奖", 4), ("质量提升专项扶持资金", 2))

# GB 32100 (统一社会信用代码) and GB 11714 (组织机构代码) alphabets and weights, for valid check characters.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_ALPHABET = USCC_ALPHABET   # 组织机构代码 may use any letter; ours stay inside the USCC alphabet
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


# ---------------------------------------------------------------------------------------- dates

def _parse(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _add_months(d: dt.date, months: int) -> dt.date:
    total = d.year * 12 + d.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


# ------------------------------------------------------------------------------------ identities

def _org_code(rng: Random) -> str:
    """A 9-character 组织机构代码: new registrations since 2015 start with MA."""
    if rng.random() < 0.6:
        body = "MA" + "".join(rng.choice(ORG_ALPHABET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    values = [ORG_ALPHABET.index(c) if c.isdigit() else 10 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ".index(c) for c in body]
    check = 11 - sum(v * w for v, w in zip(values, ORG_WEIGHTS)) % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def credit_code(rng: Random, division: str) -> str:
    """An 18-character 统一社会信用代码 with valid check characters (91 = enterprise)."""
    head = "91" + division + _org_code(rng)
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(head, USCC_WEIGHTS))
    return head + USCC_ALPHABET[(31 - total % 31) % 31]


def _weighted(rng: Random, pairs):
    items = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(items, weights)[0]


# ----------------------------------------------------------------------------------- the builder

class _Enterprise:
    """Builds one case file for an intended class; `target` is what the contract's readings give."""

    def __init__(self, rng: Random, as_of: dt.date, used_codes: set):
        self.rng = rng
        self.as_of = as_of
        self.start = _add_months(as_of, -60) + _days(1)       # events lie in the 5 years before as_of
        self.used_codes = used_codes
        self.case: dict = {"as_of": as_of.isoformat()}
        self.lists: dict = {k: [] for k in (
            "licenses", "classification_history", "assessments", "commitment_breaches", "spot_checks",
            "penalties", "media_exposures", "complaints", "counterfeit_suspicions", "major_quality_accidents",
            "changes", "quality_awards", "inspections", "samplings")}
        self.flags: dict = {}

    # -- small helpers
    def rand_date(self, lo: dt.date, hi: dt.date) -> Optional[dt.date]:
        lo = max(lo, self.start)
        hi = min(hi, self.as_of)
        if hi < lo:
            return None
        return lo + _days(self.rng.randint(0, (hi - lo).days))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def add(self, key: str, item: dict) -> None:
        self.lists[key].append(item)

    # -- enterprise and licenses
    def identity(self, categories) -> None:
        rng = self.rng
        production = _weighted(rng, [(d, w[1]) for d, w in DISTRICTS.items()])
        registered = production
        if self.chance(0.15):
            registered = _weighted(rng, [(d, w[2]) for d, w in DISTRICTS.items() if d != production])
        code = credit_code(rng, DISTRICTS[registered][0])
        while code in self.used_codes:
            code = credit_code(rng, DISTRICTS[registered][0])
        self.used_codes.add(code)
        brand = "".join(rng.sample(BRAND_CHARS, 2))
        word = rng.choice(categories[0].words)
        suffix = _weighted(rng, NAME_SUFFIXES)
        name = f"{brand}（上海）{word}有限公司" if self.chance(0.06) else f"上海{brand}{word}{suffix}"
        enterprise = {"credit_code": code, "name": name, "production_district": production}
        if registered != production or self.chance(0.7):
            enterprise["registered_district"] = registered
        self.case["enterprise"] = enterprise
        self.production = production

    def pick_categories(self, food_only: bool) -> list:
        """1-3 licenses as (category, rules, product); a second license often shares the category."""
        rng = self.rng
        pool = FOOD_CATEGORIES if food_only else CATEGORIES
        n = _weighted(rng, ((1, 70), (2, 22), (3, 8))) if not food_only else _weighted(rng, ((1, 85), (2, 15)))
        first = _weighted(rng, [(c, c.weight) for c in pool])
        rules = rng.choice(first.rules)
        chosen = [(first, rules)]
        while len(chosen) < n:
            taken = [r for _, r in chosen]
            same = [r for r in first.rules if r not in taken]
            if same and self.chance(0.5):
                chosen.append((first, rng.choice(same)))
                continue
            names = [c.name for c, _ in chosen]
            group = [c for c in pool if c.group == first.group and c.name not in names]
            others = group if group and self.chance(0.7) else [c for c in pool if c.name not in names]
            if not others:
                break
            cat = _weighted(rng, [(c, c.weight) for c in others])
            chosen.append((cat, rng.choice(cat.rules)))
        if not food_only and len(chosen) < 3 and self.chance(FOOD_EXTRA_SHARE / (1 - FOOD_ONLY_SHARE)):
            food = _weighted(rng, [(c, c.weight) for c in FOOD_CATEGORIES])
            chosen.append((food, food.rules[0]))
        return chosen

    def license(self, cat: Category, rules, issued_on: dt.date) -> None:
        rng = self.rng
        code, products = rules
        risk = cat.risk
        if not cat.food and self.chance(0.06):     # 第十三条: a district may re-grade the risk
            risk = rng.choice([r for r in ("i", "ii", "iii") if r != cat.risk])
        item = {
            "number": f"{code}-{rng.randint(1, 2999):05d}",
            "product": rng.choice(products),
            "category": cat.name,
            "implementing_rules": code,
            "risk_level": risk,
            "issuer": "national" if self.chance(cat.national_share) else "provincial",
            "issued_on": issued_on.isoformat(),
        }
        if cat.food:
            item["food_related"] = True
        elif self.chance(0.2):
            item["food_related"] = False
        self.add("licenses", item)

    # -- class history per category
    def history(self, cat: str, path: list, latest: dt.date, spacing=(300, 420)) -> tuple:
        """Decisions `path` (oldest first) ending on `latest`; returns (first license date, decision dates)."""
        rng = self.rng
        gaps = [rng.randint(*spacing) for _ in path[1:]]
        lead = rng.randint(20, 58)                 # 第十条: classified within 2 months of the license
        span = sum(gaps) + lead
        room = (latest - self.start).days
        if span > room:                            # squeeze the history into the 5-year window
            gaps = [max(30, g * room // span) for g in gaps]
            lead = max(1, min(lead, room - sum(gaps)))
        dates = [latest]
        for g in reversed(gaps):
            dates.insert(0, dates[0] - _days(g))
        issued = max(self.start, dates[0] - _days(lead))
        for cls, when in zip(path, dates):
            self.add("classification_history", {"category": cat, "class": cls, "decided_on": when.isoformat()})
            if self.chance(0.5):                   # the assessment the decision rested on
                at = max(issued, when - _days(rng.randint(5, 40)))
                if at < when:
                    self.add("assessments", {"category": cat, "result": cls, "assessed_on": at.isoformat()})
        return issued, dates

    def padded(self, path: list) -> list:
        """Repeat some classes of a minimal path (at most 5 decisions): classes often stay put a year or two."""
        out = list(path)
        for _ in range(self.rng.choice((0, 0, 1, 1, 2))):
            if len(out) < 5:
                i = self.rng.randrange(len(out))
                out.insert(i, out[i])
        return out

    def up_path(self, final: str) -> list:
        """A path from the first class b (第十条) to `final`, rising one level at most each time (第三十三条)."""
        if final == "c":
            return self.padded(["b"]) + ["c"] if self.chance(0.7) else ["b", "a", "c"]
        path = ["b"] + (["a"] if final in ("a", "aa") else []) + (["aa"] if final == "aa" else [])
        if final == "b" and self.chance(0.15):
            path = ["b", "a", "b"]
        return self.padded(path)

    def category_plan(self, cat: str, target: str, accepted: bool, single: bool) -> dict:
        """Choose how the category reaches `target` and write its history. Returns timing facts."""
        rng = self.rng
        as_of = self.as_of
        if target == "aa":
            options = [("a", "aa"), ("aa", None), ("aa", "aa")]
        elif target == "a":
            options = [("b", "a"), ("b", "aa"), ("a", None), ("aa", "a")]
            if not accepted:
                options += [("a", "aa"), ("aa", None)]
            if single:
                options += [("aa", "downgrade")]
        elif target == "b":
            options = [(None, None)] * 3 + [("b", None)] * 3 + [("b", "b"), ("a", "b"), ("c", "b"), ("c", "a")]
            if single:
                options += [("a", "downgrade")]
        else:
            options = [("b", "fails2"), ("a", "fails2"), ("b", "refused"), ("b", "fail_since"), ("a", "fail_since"),
                       ("c", None), ("c", None), ("b", "c"), ("b", "penalty"), ("a", "media"), (None, "fails2")]
        latest_cls, how = rng.choice(options)

        if latest_cls is None and how is None:     # a new licensee, not classified yet (B, 第十条)
            recent = self.chance(0.8)
            issued = as_of - _days(rng.randint(0, 59) if recent else rng.randint(60, 300))
            return {"issued": issued, "latest": None}
        if latest_cls is None:                     # a C category that was never classified
            issued = self.rand_date(as_of - _days(900), as_of - _days(200))
            for when in self.two_fails_dates(issued):
                self.add("spot_checks", {"date": when.isoformat(), "level": rng.choice(["national", "provincial"]),
                                         "result": "fail", "category": cat})
            return {"issued": issued, "latest": None}

        if how is not None:                        # leave room for what follows the latest decision
            latest = as_of - _days(rng.randint(90, 540))
        else:
            latest = as_of - _days(rng.randint(5, 400))
        issued, dates = self.history(cat, self.up_path(latest_cls), latest)
        if how in ("a", "aa", "b", "c"):           # an assessment newer than the latest decision
            when = latest + _days(rng.randint(20, (as_of - latest).days))
            self.add("assessments", {"category": cat, "result": how, "assessed_on": when.isoformat()})
        elif how == "downgrade":                   # 第三十三条 trigger since the latest decision
            when = self.rand_date(latest + _days(1), as_of)
            if self.chance(0.6):
                self.add("penalties", {"date": when.isoformat(), "subject": "other_quality_law"})
            else:
                self.flags["serious_quality_hazard"] = True
        elif how == "fail_since":                  # 第三十二条: a failed spot check at any level
            when = self.rand_date(latest + _days(1), as_of)
            self.add("spot_checks", {"date": when.isoformat(), "level": rng.choice(["district", "municipal", "provincial"]),
                                     "result": "fail", "category": cat})
        elif how == "fails2":                      # 第八条: 2 failures at provincial level or above in 3 years
            for when in self.two_fails_dates(issued):
                self.add("spot_checks", {"date": when.isoformat(), "level": rng.choice(["national", "provincial", "provincial"]),
                                         "result": "fail", "category": cat})
        elif how == "refused":
            when = self.rand_date(max(issued, _add_months(as_of, -36)), as_of)
            self.add("spot_checks", {"date": when.isoformat(), "level": rng.choice(["provincial", "district"]),
                                     "result": "refused", "category": cat})
        elif how == "penalty":
            when = self.rand_date(max(issued, _add_months(as_of, -36)), as_of)
            self.add("penalties", {"date": when.isoformat(), "subject": "product_quality"})
        elif how == "media":
            when = self.rand_date(max(issued, _add_months(as_of, -36)), as_of)
            self.add("media_exposures", {"date": when.isoformat(), "verified": True})
        return {"issued": issued, "latest": latest}

    def two_fails_dates(self, issued: dt.date) -> list:
        lo = max(issued, _add_months(self.as_of, -36))
        first = self.rand_date(lo, self.as_of - _days(60))
        if first is None:
            first = self.as_of - _days(60)
        second = self.rand_date(first + _days(30), self.as_of) or self.as_of
        return [first, second]

    def breach_history(self, cat: str) -> dict:
        """An AA category whose commitment was breached (第九条), reclassified b after the breach."""
        rng = self.rng
        latest = self.as_of - _days(rng.randint(10, 200))
        issued, dates = self.history(cat, ["b", "a", "aa", "b"], latest, spacing=(280, 380))
        breach = dates[2] + _days(rng.randint(5, max(6, (dates[3] - dates[2]).days - 5)))
        self.add("commitment_breaches", {"date": breach.isoformat(), "kind": rng.choice(["false_commitment", "not_fulfilled"])})
        signed = max(self.start, dates[2] - _days(rng.randint(10, 60)))
        self.case["aa_commitment"] = {"signed_on": signed.isoformat(), "reviewed": True}
        return {"issued": issued, "latest": latest}

    # -- background events that leave the class unchanged
    def background(self, plans: dict, target: str) -> None:
        rng = self.rng
        as_of = self.as_of
        first_issue = min(p["issued"] for p in plans.values())
        classified = all(p["latest"] for p in plans.values())
        # Negative events stay before every latest decision, and C-criteria ones before the 3-year
        # window (第八条, 第三十三条), so that they never change the intended class.
        cutoff = min((p["latest"] for p in plans.values() if p["latest"]), default=as_of) - _days(1)
        old = min(cutoff, _add_months(as_of, -36) - _days(1))
        failed_once = False                        # one old failure at most, whatever the counting reading
        for cat, plan in plans.items():
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                when = self.rand_date(plan["issued"], as_of)
                level = _weighted(rng, (("provincial", 45), ("national", 20), ("district", 28), ("municipal", 7)))
                self.add("spot_checks", {"date": when.isoformat(), "level": level, "result": "pass", "category": cat})
            if classified and not failed_once and self.chance(0.1):
                when = self.rand_date(plan["issued"], cutoff)
                if when:
                    failed_once = True
                    self.add("spot_checks", {"date": when.isoformat(), "level": rng.choice(["provincial", "district"]),
                                             "result": "fail", "category": cat})
            if classified and self.chance(0.02):
                when = self.rand_date(plan["issued"], old)
                if when:
                    self.add("spot_checks", {"date": when.isoformat(), "level": "district", "result": "refused", "category": cat})
        if classified and self.chance(0.06):
            when = self.rand_date(first_issue, old)
            if when:
                self.add("penalties", {"date": when.isoformat(), "subject": rng.choice(["product_quality", "other_quality_law"])})
        if classified and self.chance(0.03):
            when = self.rand_date(first_issue, old)
            if when:
                self.add("media_exposures", {"date": when.isoformat(), "verified": True})
        c = target == "c"
        for key, p in (("complaints", 0.3 if c else 0.1), ("counterfeit_suspicions", 0.06 if c else 0.015),
                       ("major_quality_accidents", 0.03 if c else 0.006)):
            for _ in range(rng.choice((1, 1, 2)) if self.chance(p) else 0):
                self.add(key, {"date": self.rand_date(first_issue, as_of).isoformat()})
        if self.chance(0.1 if c else 0.04):        # exposure not (yet) verified: 第二十九条 only
            item = {"date": self.rand_date(first_issue, as_of).isoformat()}
            if self.chance(0.5):
                item["verified"] = False
            self.add("media_exposures", item)
        if self.chance(0.08):
            self.add("changes", {"date": self.rand_date(first_issue, as_of).isoformat(),
                                 "kind": _weighted(rng, (("production_conditions", 40), ("technology", 20), ("product_standard", 20),
                                                         ("inspection_means", 10), ("implementing_rules", 10)))})
        award_p = {"aa": 0.5, "a": 0.25, "b": 0.08, "c": 0.12}.get(target, 0.05)
        for _ in range(rng.choice((1, 1, 2)) if self.chance(award_p) else 0):
            name = _weighted(rng, AWARDS).format(district=self.production)
            self.add("quality_awards", {"name": name, "granted_on": self.rand_date(first_issue, as_of).isoformat()})
        for flag, p in (("special_inspection_assigned", 0.03), ("classification_shown_on_labels", 0.015),
                        ("classification_used_in_advertising", 0.015),
                        ("conditions_not_maintained", 0.08 if c else 0.01),
                        ("suspected_serious_quality_problem", 0.08 if c else 0.01),
                        ("serious_quality_hazard", 0.1 if c else 0.0)):
            if self.chance(p):
                self.flags[flag] = True
        self.inspections(first_issue, target)
        self.samplings(first_issue)

    def inspections(self, first_issue: dt.date, target: str) -> None:
        rng = self.rng
        low, high = {"aa": (0, 2), "a": (0, 3), "b": (1, 5), "c": (2, 7)}.get(target, (0, 3))
        for _ in range(rng.randint(low, high)):
            when = self.rand_date(max(first_issue, _add_months(self.as_of, -30)), self.as_of)
            item = {"date": when.isoformat(),
                    "kind": _weighted(rng, (("regular", 60), ("irregular", 15), ("follow_up", 15), ("special", 10)))}
            if not self.chance(0.02):
                item["staff_count"] = _weighted(rng, ((2, 75), (3, 17), (4, 4), (1, 4)))
            for who in ("signed_by_inspectors", "signed_by_enterprise"):
                if self.chance(0.97):
                    item[who] = True
                elif self.chance(0.5):
                    item[who] = False
            if self.chance(0.3 if target == "c" else 0.15):
                deadline = when + _days(rng.choice((15, 30, 30, 60)))
                rect = {"ordered": True, "deadline": deadline.isoformat()}
                if deadline < self.as_of:
                    done = self.chance(0.88)
                    rect["completed"] = done
                    rect["recheck_passed"] = done and self.chance(0.95)
                elif self.chance(0.3):
                    rect["completed"] = True
                item["rectification"] = rect
            self.add("inspections", item)

    def samplings(self, first_issue: dt.date) -> None:
        rng = self.rng
        for _ in range(rng.choice((1, 1, 2)) if self.chance(0.25) else 0):
            sealed = self.rand_date(max(first_issue, _add_months(self.as_of, -24)), self.as_of)
            item = {"sealed_on": sealed.isoformat()}
            late = (self.as_of - sealed).days
            if late < 7 and self.chance(0.5):
                pass                                # not sent yet
            else:
                delay = rng.randint(1, 7) if self.chance(0.94) else rng.randint(8, 15)
                item["sent_on"] = min(sealed + _days(delay), self.as_of).isoformat()
            if self.chance(0.015):
                item["fee_charged"] = True
            elif self.chance(0.3):
                item["fee_charged"] = False
            self.add("samplings", item)

    # -- assembly
    def build(self, target: Optional[str]) -> dict:
        rng = self.rng
        chosen = self.pick_categories(food_only=target is None)
        self.identity([c for c, _ in chosen])
        by_cat: dict = {}
        for cat, rules in chosen:
            by_cat.setdefault(cat.name, (cat, []))[1].append(rules)
        policy_cats = [name for name, (cat, _) in by_cat.items() if not cat.food]

        plans: dict = {}
        if target is None:
            for name in by_cat:
                plans[name] = {"issued": self.rand_date(self.start, self.as_of - _days(30)), "latest": None}
        else:
            single = len(policy_cats) == 1
            commitment = self.commitment_state(target)
            if commitment == "barred" and target == "b" and not single:
                commitment = "none"                 # a breach since a latest decision would downgrade a b to c
            accepted = commitment == "accepted"
            anchor = rng.choice(policy_cats)
            for name in policy_cats:
                cls = target
                if name != anchor:
                    if target == "c":
                        cls = rng.choice(("b", "b", "a"))
                    elif target != "aa" and self.chance(0.3):
                        up = CLASSES[CLASSES.index(target) + 1]
                        cls = up if up != "aa" or accepted else target
                if commitment == "barred" and target == "b" and single:
                    plans[name] = self.breach_history(name)
                else:
                    plans[name] = self.category_plan(name, cls, accepted, single)
            self.commitment(commitment, plans)
            for name, (cat, _) in by_cat.items():
                if cat.food:
                    plans[name] = {"issued": self.rand_date(self.start, self.as_of - _days(30)), "latest": None}

        for name, (cat, rules_list) in by_cat.items():
            issued = plans[name]["issued"]
            for i, rules in enumerate(rules_list):
                # a later license of the same category (增项) came after the first one
                when = issued if i == 0 else self.rand_date(issued, max(issued, self.as_of - _days(60)))
                self.license(cat, rules, when)
        self.background(plans, target)
        return self.assemble()

    def commitment_state(self, target: str) -> str:
        weights = {"aa": (("accepted", 1),),
                   "a": (("accepted", 15), ("unreviewed", 15), ("none", 70)),
                   "b": (("accepted", 3), ("unreviewed", 7), ("barred", 12), ("none", 78)),
                   "c": (("accepted", 2), ("unreviewed", 5), ("barred", 8), ("none", 85))}[target]
        return _weighted(self.rng, weights)

    def commitment(self, state: str, plans: dict) -> None:
        """The AA self-commitment (附件2, 第八条), signed before the AA decisions or assessments it supports."""
        rng = self.rng
        if state == "none" or "aa_commitment" in self.case:
            return
        aa_dates = [_parse(h["decided_on"]) for h in self.lists["classification_history"] if h["class"] == "aa"]
        aa_dates += [_parse(a["assessed_on"]) for a in self.lists["assessments"] if a["result"] == "aa"]
        if state == "accepted":
            before = min(aa_dates) if aa_dates else self.as_of - _days(30)
            signed = self.rand_date(before - _days(120), before - _days(5)) or self.start
            self.case["aa_commitment"] = {"signed_on": signed.isoformat(), "reviewed": True}
        elif state == "unreviewed":
            signed = self.rand_date(self.as_of - _days(200), self.as_of)
            item = {"signed_on": signed.isoformat()}
            if self.chance(0.5):
                item["reviewed"] = False
            self.case["aa_commitment"] = item
        else:                                       # barred: a C enterprise that broke its commitment
            signed = self.rand_date(self.start, self.as_of - _days(400))
            self.case["aa_commitment"] = {"signed_on": signed.isoformat(), "reviewed": True}
            breach = self.rand_date(signed + _days(60), self.as_of)
            self.add("commitment_breaches", {"date": breach.isoformat(), "kind": rng.choice(["false_commitment", "not_fulfilled"])})

    def assemble(self) -> dict:
        case = self.case
        for key, items in self.lists.items():
            if items:
                date_key = next((k for k in ("date", "decided_on", "assessed_on", "issued_on", "granted_on", "sealed_on") if k in items[0]), None)
                if date_key:
                    items.sort(key=lambda item: item[date_key])
                case[key] = items
            elif key != "licenses" and self.chance(0.1):
                case[key] = []                      # an empty list means the same as an absent one
        for flag in ("special_inspection_assigned", "serious_quality_hazard", "conditions_not_maintained",
                     "suspected_serious_quality_problem", "classification_shown_on_labels",
                     "classification_used_in_advertising"):
            if self.flags.get(flag):
                case[flag] = True
            elif self.chance(0.1):
                case[flag] = False                  # absent booleans are false
        return case


def _labelled(count: int, seed: int, as_of: str = DEFAULT_AS_OF) -> Iterator[tuple]:
    """Yield (intended class or None when not applicable, case). The class is what the contract's readings give."""
    rng = Random(seed)
    day = _parse(as_of)
    used: set = set()
    for _ in range(count):
        target = None if rng.random() < FOOD_ONLY_SHARE else _weighted(rng, TARGET_MIX)
        yield target, _Enterprise(rng, day, used).build(target)


def generate(count: int, seed: int, as_of: str = DEFAULT_AS_OF) -> Iterator[dict]:
    """Yield `count` case files (dicts, dates as ISO strings); the same arguments give the same cases.

    >>> next(generate(1, seed=1))["as_of"]
    '2019-06-30'
    """
    for _, case in _labelled(count, seed, as_of):
        yield case


def dumps(case: dict) -> str:
    """One JSONL line: sorted keys, UTF-8 kept."""
    return json.dumps(case, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _iso_date(text: str) -> str:
    try:
        return _parse(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, required=True, help="how many case files")
    parser.add_argument("--seed", type=int, required=True, help="random seed; the same seed gives the same cases")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, help="write JSONL to this file (default: stdout)")
    where.add_argument("--dir", type=Path, help="write one JSON case file per enterprise into this folder")
    parser.add_argument("--as-of", type=_iso_date, default=DEFAULT_AS_OF, help=f"evaluation date (default {DEFAULT_AS_OF})")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be 0 or more")

    cases = generate(args.count, args.seed, args.as_of)
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        for i, case in enumerate(cases, 1):
            path = args.dir / f"{i:06d}-{case['enterprise']['credit_code']}.json"
            path.write_text(json.dumps(case, ensure_ascii=False, sort_keys=True, indent=2) + "\n", encoding="utf-8")
        return 0
    out = args.out.open("w", encoding="utf-8") if args.out else sys.stdout
    try:
        for case in cases:
            out.write(dumps(case) + "\n")
    finally:
        if args.out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

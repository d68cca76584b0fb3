#!/usr/bin/env python3
"""Generate deterministic, realistic synthetic case files (一企一档) for the Shanghai post-license policy (2017).

    python benchmarks/generate.py --count 1000 --seed 7 > cases.jsonl
    python benchmarks/generate.py --count 50 --seed 7 --dir out/cases --as-of 2020-12-31
    python benchmarks/generate.py --count 200 --seed 7 --licenses 100 > big.jsonl    # scaling runs

Stdlib only. Every case follows policies/shanghai-post-license/2017/facts.schema.yaml. Import it by
path and call `generate(count, seed, as_of=None, licenses=None)`; the same arguments give the same
cases.

The corpus is built to check the policy's readings, not only to load the engine:
- `as_of` is spread over the whole window in force (2017-05-01 .. 2022-04-30, 第五十四条), with
  extra weight on month ends, leap days and the window's own edges (unless `as_of` is given);
- about 10% of the applicable enterprises end AA, 30% A, 45% B and 15% C under the contract's
  readings; about 4% hold only food-related licenses (not applicable, 第二条);
- records dated after `as_of` appear in every list (later decisions, assessments, spot checks,
  penalties, breaches, inspections, licenses issued later...);
- boundary days: an event on the day of the latest class decision or assessment, a license issued
  on the day of an event, a breach on the day a commitment is signed, events on the edges of the
  3-year (第八条) and 5-year (第九条) windows, licenses issued on month ends (第十条 + 2 months),
  a rectification deadline on `as_of`, a sample sent on the 7th and the 8th day (第四十七条);
- categories never decided (with and without an assessment), several categories, food-related
  licenses filed under a non-food license's category;
- `licenses=N` gives every enterprise exactly N licenses (up to 100) for scaling runs; the records
  that belong to a license (spot checks of its product, its category's history) grow with it.
"""
from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import os
import sys
from pathlib import Path
from random import Random
from typing import Iterator, NamedTuple, Optional

WINDOW = (dt.date(2017, 5, 1), dt.date(2022, 4, 30))      # 第五十四条
EARLIEST = dt.date(2008, 1, 1)              # licenses and decisions may predate the measures
MAX_LICENSES = 100
CLASSES = ("c", "b", "a", "aa")            # lowest first
TARGET_MIX = (("aa", 10), ("a", 30), ("b", 45), ("c", 15))
FOOD_ONLY_SHARE = 0.04                      # enterprises holding only 食品相关产品 licenses
FOOD_EXTRA_SHARE = 0.03                     # enterprises holding one food-related license besides others
FOOD_SAME_CATEGORY_SHARE = 0.04             # ... filed under the category of one of their non-food licenses
AFTER_AS_OF_SHARE = 0.35                    # enterprises with records dated after as_of
# as_of days that test date arithmetic: the window's edges, month ends, leap days and the day after
BOUNDARY_AS_OF = ("2017-05-01", "2017-05-31", "2017-12-31", "2018-02-28", "2019-02-28", "2019-12-31",
                  "2020-02-29", "2020-03-01", "2020-12-31", "2021-02-28", "2021-03-01", "2022-04-30")
DATE_KEYS = ("date", "decided_on", "assessed_on", "issued_on", "granted_on", "sealed_on")

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


def _add_years(d: dt.date, years: int) -> dt.date:
    """The same day `years` later (negative: earlier); 29 February becomes 28 February in a common year."""
    return _add_months(d, 12 * years)


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _month_end(d: dt.date) -> dt.date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


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

# How a category reaches its intended class: (latest class decision or None, result of a newer
# assessment or None, what happens since). "new" = never decided; triggers are placed after the
# category's cut-off ("since the latest class decision") or inside the 3-year window (第八条).
WAYS = {
    "aa": ((("aa", None, None), 5), (("a", "aa", None), 2), ((None, "aa", None), 1)),
    "a": ((("a", None, None), 8), (("b", "a", None), 2), (("b", "aa", None), 1), (("aa", "a", None), 1),
          ((None, "a", None), 2), (("c", "aa", None), 0)),
    "b": ((("b", None, None), 8), ((None, None, None), 6), (("c", "a", None), 1), (("c", "b", None), 1),
          (("a", "b", None), 1), ((None, "b", None), 2), (("c", "aa", None), 1)),
    "c": ((("c", None, None), 4), (("b", None, "fails2"), 2), (("a", None, "fails2"), 1), (("b", None, "refused"), 1),
          (("b", None, "fail_since"), 2), (("a", None, "fail_since"), 1), ((None, None, "fail_since"), 1),
          ((None, "a", "fail_since"), 1), (("b", None, "penalty"), 1), (("a", None, "media"), 1),
          ((None, None, "fails2"), 1), (("b", "c", None), 1)),
}
# Ways that need more than the table: AA capped by a commitment that is not accepted, a downgrade
# under 第三十三条 (enterprise-wide triggers, so single-category enterprises only), a breach of an
# AA category's commitment (第九条).
UNACCEPTED_A_WAYS = ((("aa", None, None), 2), ((None, "aa", None), 1), (("a", "aa", None), 1))
SINGLE_WAYS = {"a": ((("aa", None, "down33"), 1),), "b": ((("a", None, "down33"), 1),)}
BREACH_WAY = ("aa", None, "breach")

COMMITMENT_STATES = {
    # accepted: signed before the AA it supports, reviewed; unreviewed: not (yet) reviewed;
    # barred: breached under 5 years ago; stale: breached over 5 years ago and never renewed;
    # same_day: signed on the day of a breach; future: signed after as_of.
    "aa": (("accepted", 1),),
    "a": (("accepted", 15), ("unreviewed", 12), ("stale", 5), ("same_day", 4), ("future", 4), ("none", 60)),
    "b": (("accepted", 3), ("unreviewed", 7), ("barred", 12), ("stale", 3), ("same_day", 3), ("future", 2), ("none", 70)),
    "c": (("accepted", 2), ("unreviewed", 5), ("barred", 8), ("none", 85)),
}


class _Enterprise:
    """Builds one case file for an intended class; `target` is what the contract's readings give, boundary days aside."""

    def __init__(self, rng: Random, as_of: dt.date, used_codes: set, licenses: Optional[int] = None):
        self.rng = rng
        self.as_of = as_of
        self.since3 = _add_years(as_of, -3)            # 第八条 近3年, inclusive
        self.used_codes = used_codes
        self.size = licenses
        self.case: dict = {"as_of": as_of.isoformat()}
        self.lists: dict = {k: [] for k in (
            "licenses", "classification_history", "assessments", "commitment_breaches", "spot_checks",
            "penalties", "media_exposures", "complaints", "counterfeit_suspicions", "major_quality_accidents",
            "changes", "quality_awards", "inspections", "samplings")}
        self.flags: dict = {}
        self.numbers: set = set()

    # -- small helpers
    def rand_date(self, lo: dt.date, hi: dt.date) -> Optional[dt.date]:
        lo = max(lo, EARLIEST)
        if hi < lo:
            return None
        return lo + _days(self.rng.randint(0, (hi - lo).days))

    def upto(self, lo: dt.date) -> dt.date:
        """A day in [lo, as_of] (as_of when lo is later)."""
        return self.rand_date(lo, self.as_of) or self.as_of

    def later(self, most: int = 400) -> dt.date:
        """A day after as_of: a record the evaluation must ignore."""
        return self.as_of + _days(self.rng.randint(1, most))

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def add(self, key: str, item: dict) -> None:
        self.lists[key].append(item)

    def spot_check(self, when: dt.date, cat: str, result: str, level: Optional[str] = None) -> None:
        if level is None:
            level = _weighted(self.rng, (("provincial", 45), ("national", 20), ("district", 28), ("municipal", 7)))
        self.add("spot_checks", {"date": when.isoformat(), "level": level, "result": result, "category": cat})

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

    def pick_licenses(self, food_only: bool) -> list:
        """The licenses as (category, rules); a second license often shares the first one's category (增项)."""
        rng = self.rng
        pool = FOOD_CATEGORIES if food_only else CATEGORIES
        if self.size:
            n = self.size
        elif food_only:
            n = _weighted(rng, ((1, 85), (2, 15)))
        else:
            n = _weighted(rng, ((1, 62), (2, 22), (3, 9), (4, 4), (5, 2), (6, 1)))
        first = _weighted(rng, [(c, c.weight) for c in pool])
        chosen = [(first, rng.choice(first.rules))]
        while len(chosen) < n:
            names = {c.name for c, _ in chosen}
            fresh = [c for c in pool if c.name not in names]
            if not fresh or self.chance(0.35):
                cat = rng.choice([c for c, _ in chosen])
                taken = {r for c, r in chosen if c is cat}
                unused = [r for r in cat.rules if r not in taken]
                chosen.append((cat, rng.choice(unused or cat.rules)))
                continue
            group = [c for c in fresh if c.group == first.group]
            cat = _weighted(rng, [(c, c.weight) for c in (group if group and self.chance(0.7) else fresh)])
            chosen.append((cat, rng.choice(cat.rules)))
        if not food_only and not self.size and self.chance(FOOD_EXTRA_SHARE / (1 - FOOD_ONLY_SHARE)):
            food = _weighted(rng, [(c, c.weight) for c in FOOD_CATEGORIES])
            chosen.append((food, food.rules[0]))
        return chosen

    def license(self, cat: Category, rules, issued_on: dt.date, category: Optional[str] = None,
                food: Optional[bool] = None) -> None:
        rng = self.rng
        code, products = rules
        food = cat.food if food is None else food
        risk = cat.risk
        if not cat.food and self.chance(0.06):     # 第十三条: a district may re-grade the risk
            risk = rng.choice([r for r in ("i", "ii", "iii") if r != cat.risk])
        number = f"{code}-{rng.randint(1, 2999):05d}"
        while number in self.numbers:
            number = f"{code}-{rng.randint(1, 2999):05d}"
        self.numbers.add(number)
        item = {
            "number": ("沪" + number) if self.chance(0.03) else number,
            "product": rng.choice(products),
            "category": category or cat.name,
            "implementing_rules": code,
            "risk_level": risk,
            "issuer": "national" if self.chance(cat.national_share) else "provincial",
            "issued_on": issued_on.isoformat(),
        }
        if food:
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
        room = (latest - EARLIEST).days
        if sum(gaps) + lead > room:
            gaps = [max(30, g * room // (sum(gaps) + lead + 1)) for g in gaps]
            lead = max(1, min(lead, room - sum(gaps)))
        dates = [latest]
        for g in reversed(gaps):
            dates.insert(0, dates[0] - _days(g))
        issued = max(EARLIEST, dates[0] - _days(lead))
        if self.chance(0.05):                      # classified the day the license was issued
            issued = dates[0]
        for cls, when in zip(path, dates):
            self.add("classification_history", {"category": cat, "class": cls, "decided_on": when.isoformat()})
            if self.chance(0.5):                   # the assessment the decision rested on
                at = max(issued, when - _days(rng.randint(5, 40)))
                if at < when:
                    self.add("assessments", {"category": cat, "result": cls, "assessed_on": at.isoformat()})
        return issued, dates

    def padded(self, path: list) -> list:
        """Repeat some classes of a minimal path (at most 6 decisions): classes often stay put a year or two."""
        out = list(path)
        for _ in range(self.rng.choice((0, 0, 1, 1, 2, 3))):
            if len(out) < 6:
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

    def category_plan(self, cat: str, final: str, accepted: bool, single: bool) -> dict:
        """Choose how the category reaches `final`, write its history and what happens since; return its timing."""
        rng = self.rng
        as_of = self.as_of
        ways = list(WAYS[final])
        if final == "a" and not accepted:
            ways += UNACCEPTED_A_WAYS
        if single:
            ways += SINGLE_WAYS.get(final, ())
        if final == "b" and single and self.commitment_kind == "barred" and self.chance(0.4):
            way = BREACH_WAY
        else:
            way = _weighted(rng, ways)
        latest_cls, newer, how = way
        plan = {"name": cat, "latest": None, "assessed": None, "how": how, "final": final}
        if latest_cls is None:
            if newer is None and how is None:      # a new licensee, not classified yet (B, 第十条)
                if self.chance(0.7):
                    issued = as_of - _days(rng.randint(0, 75))
                else:
                    issued = as_of - _days(rng.randint(76, 700))   # a classification overdue
                if self.chance(0.2):               # a month end: + 2 months is clamped (12-31 -> 02-28/29)
                    issued = min(as_of, _month_end(issued - _days(31)))
            else:
                issued = as_of - _days(rng.randint(60, 1100))
            plan["issued"] = issued
            if newer is not None:                  # assessed, no decision yet
                when = issued if self.chance(0.1) else self.upto(issued)
                self.add("assessments", {"category": cat, "result": newer, "assessed_on": when.isoformat()})
                plan["assessed"] = when
            plan["cut"], plan["inclusive"] = (plan["assessed"], False) if plan["assessed"] else (issued, True)
            plan["counted"] = newer or "b"
        else:
            recent = self.chance(0.6)
            latest = as_of - _days(rng.randint(5, 400) if recent else rng.randint(400, 1500))
            if how is not None:                    # leave room for what follows the latest decision
                latest = min(latest, as_of - _days(rng.randint(30, 120)))
            if how == "breach":
                path = ["b", "a", "aa"] + (["aa"] if self.chance(0.5) else [])
            else:
                path = self.up_path(latest_cls)
            issued, _ = self.history(cat, path, latest)
            plan.update(issued=issued, latest=latest, cut=latest, inclusive=False, counted=latest_cls)
            if newer is not None:                  # an assessment newer than the latest decision
                when = self.upto(latest + _days(1))
                self.add("assessments", {"category": cat, "result": newer, "assessed_on": when.isoformat()})
                plan["assessed"] = when
            elif self.chance(0.08):                # an assessment on the decision's own day is not newer
                other = rng.choice([c for c in CLASSES if c != latest_cls])
                self.add("assessments", {"category": cat, "result": other, "assessed_on": latest.isoformat()})
        self.trigger(plan)
        return plan

    def since_day(self, plan: dict) -> dt.date:
        """A day "since the latest class decision" (often the first such day: the boundary)."""
        first = plan["cut"] if plan["inclusive"] else plan["cut"] + _days(1)
        return min(self.as_of, first) if self.chance(0.25) else self.upto(first)

    def window_day(self) -> dt.date:
        """A day in the 3-year window of 第八条 (sometimes its first day)."""
        return self.since3 if self.chance(0.15) else self.upto(self.since3)

    def trigger(self, plan: dict) -> None:
        how, cat = plan["how"], plan["name"]
        rng = self.rng
        if how == "fails2":                        # 第八条: 2 failures at provincial level or above in 3 years
            first = self.window_day()
            for when in (first, self.upto(first)):
                self.spot_check(when, cat, "fail", rng.choice(("national", "provincial", "provincial")))
        elif how == "fail_since":                  # 第三十二条: a failed spot check at any level
            self.spot_check(self.since_day(plan), cat, "fail", rng.choice(("district", "municipal", "provincial")))
        elif how == "refused":
            self.spot_check(self.window_day(), cat, "refused", rng.choice(("provincial", "district")))
        elif how == "penalty":
            self.add("penalties", {"date": self.window_day().isoformat(), "subject": "product_quality"})
        elif how == "media":
            self.add("media_exposures", {"date": self.window_day().isoformat(), "verified": True})
        elif how == "down33":                      # 第三十三条: one level below the latest decision
            if self.chance(0.65):
                self.add("penalties", {"date": self.since_day(plan).isoformat(), "subject": "other_quality_law"})
            else:
                self.flags["serious_quality_hazard"] = True
        elif how == "breach":                      # 第九条: the AA commitment breached since the AA decision
            self.breach_day = self.since_day(plan)

    # -- the AA self-commitment (附件2, 第八条) and its breaches (第九条)
    def commitment(self, plans: dict) -> None:
        rng = self.rng
        as_of = self.as_of
        state = self.commitment_kind
        aa_dates = [_parse(h["decided_on"]) for h in self.lists["classification_history"] if h["class"] == "aa"]
        aa_dates += [_parse(a["assessed_on"]) for a in self.lists["assessments"] if a["result"] == "aa"]
        first_aa = min(aa_dates) if aa_dates else None
        breach = getattr(self, "breach_day", None)
        # a breach that belongs to the state, not to a planned downgrade, falls on or before the cut-off
        # of every category counted from AA (on it is the boundary: "since" is strictly after)
        aa_cut = min((p["cut"] for p in plans.values() if p["counted"] == "aa"), default=as_of)

        def kind() -> str:
            return rng.choice(("false_commitment", "not_fulfilled"))

        if breach is not None:                     # the breach of an AA category's commitment
            signed = self.rand_date((first_aa or as_of) - _days(150), (first_aa or as_of) - _days(5)) or EARLIEST
            self.case["aa_commitment"] = {"signed_on": signed.isoformat(), "reviewed": True}
            self.add("commitment_breaches", {"date": breach.isoformat(), "kind": kind()})
            return
        if state == "none":
            return
        if state == "accepted":
            before = first_aa or as_of - _days(30)
            signed = self.rand_date(before - _days(120), before - _days(5)) or EARLIEST
            if self.chance(0.1):                   # an old breach whose 5-year bar has ended (sometimes the day before)
                old = _add_years(signed, -5) - _days(1 if self.chance(0.3) else rng.randint(2, 400))
                old = min(old, _add_years(as_of, -5) - _days(1))
                if old >= EARLIEST:
                    self.add("commitment_breaches", {"date": old.isoformat(), "kind": kind()})
            self.case["aa_commitment"] = {"signed_on": signed.isoformat(), "reviewed": True}
        elif state == "unreviewed":
            signed = self.upto(as_of - _days(200))
            item = {"signed_on": signed.isoformat()}
            if self.chance(0.5):
                item["reviewed"] = False
            self.case["aa_commitment"] = item
        elif state == "future":
            self.case["aa_commitment"] = {"signed_on": self.later(120).isoformat(), "reviewed": True}
        elif state == "barred":                    # breached under 5 years ago, or exactly 5: the bar's last day
            if self.chance(0.25):
                when = _add_years(as_of, -5)
                signed = when - _days(rng.randint(30, 400))
            else:
                signed = self.rand_date(_add_years(as_of, -5), as_of - _days(100)) or as_of - _days(100)
                when = self.upto(signed + _days(30))
            self.case["aa_commitment"] = {"signed_on": signed.isoformat(), "reviewed": True}
            self.add("commitment_breaches", {"date": min(when, aa_cut).isoformat(), "kind": kind()})
        elif state == "stale":                     # breached over 5 years ago; the bar ended, no new commitment
            ended = _add_years(as_of, -5) - _days(1)          # the bar ended yesterday
            when = ended if self.chance(0.15) and ended <= aa_cut else \
                self.rand_date(EARLIEST + _days(400), min(ended, aa_cut))
            if when is None:
                return
            signed = self.rand_date(when - _days(400), when - _days(1)) or when
            self.case["aa_commitment"] = {"signed_on": signed.isoformat(), "reviewed": True}
            self.add("commitment_breaches", {"date": when.isoformat(), "kind": kind()})
        elif state == "same_day":                  # a breach on the day the commitment was signed
            if self.chance(0.5):
                when = self.rand_date(EARLIEST, min(_add_years(as_of, -5) - _days(1), aa_cut)) or EARLIEST
            else:
                when = min(self.upto(as_of - _days(700)), aa_cut)
            self.case["aa_commitment"] = {"signed_on": when.isoformat(), "reviewed": True}
            self.add("commitment_breaches", {"date": when.isoformat(), "kind": kind()})

    # -- background events that leave the class as intended under the contract's readings
    def background(self, plans: dict, target: str) -> None:
        rng = self.rng
        first_issue = min(p["issued"] for p in plans.values())
        # the earliest cut-off of any category: enterprise-wide triggers before it (or on it, when it
        # is exclusive) are weighed by every category's decision or assessment
        quiet = min((p["cut"] if not p["inclusive"] else p["cut"] - _days(1)) for p in plans.values())
        old = self.since3 - _days(1)               # outside the 3-year window
        for cat, plan in plans.items():
            n_lic = sum(1 for lic in self.lists["licenses"] if lic["category"] == cat and not lic.get("food_related"))
            for _ in range(sum(rng.choice((0, 0, 1, 1, 2, 3)) for _ in range(max(1, n_lic)))):
                when = plan["issued"] if self.chance(0.05) else self.upto(plan["issued"])
                self.spot_check(when, cat, "pass")
            if plan["how"] is None and self.chance(0.12):
                self.harmless_fail(plan)
            if plan["final"] == plan["counted"] == "c" and self.chance(0.3):   # a C category fails again: it stays c
                self.spot_check(self.since_day(plan), cat, rng.choice(("fail", "fail", "refused")))
                if len(plans) == 1 and self.chance(0.3):
                    self.add("penalties", {"date": self.since_day(plan).isoformat(), "subject": "other_quality_law"})
            if self.chance(0.02):
                self.spot_check(old if self.chance(0.3) else self.rand_date(plan["issued"] - _days(400), old) or old,
                                cat, "refused", "district")
        if self.chance(0.05):                      # a product-quality penalty outside the 3-year window
            self.add("penalties", {"date": (old if self.chance(0.3) else self.rand_date(first_issue, old) or old).isoformat(),
                                   "subject": "product_quality"})
        if self.chance(0.04) and quiet >= first_issue:   # a penalty under other law, weighed by every decision
            self.add("penalties", {"date": (quiet if self.chance(0.4) else self.rand_date(first_issue, quiet)).isoformat(),
                                   "subject": "other_quality_law"})
        if self.chance(0.03):
            self.add("media_exposures", {"date": (self.rand_date(first_issue, old) or old).isoformat(), "verified": True})
        c = target == "c"
        triggers = []
        for key, p in (("complaints", 0.3 if c else 0.1), ("counterfeit_suspicions", 0.06 if c else 0.015),
                       ("major_quality_accidents", 0.03 if c else 0.006)):
            for _ in range(rng.choice((1, 1, 2)) if self.chance(p) else 0):
                when = self.upto(first_issue)
                self.add(key, {"date": when.isoformat()})
                triggers.append(when)
        if self.chance(0.1 if c else 0.04):        # exposure not (yet) verified: 第二十九条 only
            when = self.upto(first_issue)
            item = {"date": when.isoformat()}
            if self.chance(0.5):
                item["verified"] = False
            self.add("media_exposures", item)
            triggers.append(when)
        self.changes(plans, first_issue)
        award_p = {"aa": 0.5, "a": 0.25, "b": 0.08, "c": 0.12}.get(target, 0.05)
        for _ in range(rng.choice((1, 1, 2)) if self.chance(award_p) else 0):
            name = _weighted(rng, AWARDS).format(district=self.production)
            self.add("quality_awards", {"name": name, "granted_on": self.upto(first_issue).isoformat()})
        for flag, p in (("special_inspection_assigned", 0.03), ("classification_shown_on_labels", 0.015),
                        ("classification_used_in_advertising", 0.015),
                        ("conditions_not_maintained", 0.08 if c else 0.01),
                        ("suspected_serious_quality_problem", 0.08 if c else 0.01),
                        ("serious_quality_hazard", 0.1 if c else 0.0)):
            if self.chance(p):
                self.flags[flag] = True
        self.inspections(first_issue, target, triggers)
        self.samplings(first_issue)

    def harmless_fail(self, plan: dict) -> None:
        """A failed spot check that the category's decision, assessment or license already weighs (or predates)."""
        rng = self.rng
        cut, cat = plan["cut"], plan["name"]
        level = rng.choice(("district", "district", "municipal", "provincial"))
        if level == "provincial" and any(s["category"] == cat and s["result"] == "fail"
                                         for s in self.lists["spot_checks"]):
            level = "district"                     # never a second provincial failure (第八条 counts them)
        if not plan["inclusive"]:
            when = cut if self.chance(0.3) else self.rand_date(cut - _days(900), cut - _days(1))
        else:                                      # before the license existed
            when = cut - _days(1) if self.chance(0.3) else self.rand_date(cut - _days(1200), cut - _days(1))
        if when is not None:
            self.spot_check(when, cat, "fail", level)

    def changes(self, plans: dict, first_issue: dt.date) -> None:
        """较大变化 (第三十二条): anywhere, on a decision's or a license's day, or before a category's license."""
        rng = self.rng
        if not self.chance(0.12):
            return
        plan = rng.choice(list(plans.values()))
        pick = rng.random()
        if pick < 0.25:
            when = plan["cut"]                     # the decision's or assessment's day; or the license's day
        elif pick < 0.35:
            when = plan["cut"] - _days(rng.randint(1, 300))
        else:
            when = self.upto(first_issue)
        kind = _weighted(rng, (("production_conditions", 40), ("technology", 20), ("product_standard", 20),
                               ("inspection_means", 10), ("implementing_rules", 10)))
        self.add("changes", {"date": when.isoformat(), "kind": kind})

    def food_same_category(self, plans: dict) -> None:
        """A food-related license filed under a non-food category, issued before that category's first license."""
        rng = self.rng
        name = rng.choice(list(plans))
        plan = plans[name]
        food = rng.choice(FOOD_CATEGORIES)
        issued = self.rand_date(plan["issued"] - _days(900), plan["issued"] - _days(30))
        if issued is None:
            return
        self.license(food, food.rules[0], issued, category=name, food=True)
        if self.chance(0.6):                       # a change while only the food license was held
            self.add("changes", {"date": self.rand_date(issued, plan["issued"] - _days(1)).isoformat(),
                                 "kind": "production_conditions"})
        if plan["inclusive"] and self.chance(0.4):  # a failure of the food product, before the license
            self.spot_check(self.rand_date(issued, plan["issued"] - _days(1)), name, "fail", "district")

    def inspections(self, first_issue: dt.date, target: str, triggers: list) -> None:
        rng = self.rng
        as_of = self.as_of
        low, high = {"aa": (0, 2), "a": (0, 3), "b": (1, 5), "c": (2, 7)}.get(target, (0, 3))
        if self.size:
            high += self.size // 10
        dates = [self.upto(max(first_issue, _add_months(as_of, -30))) for _ in range(rng.randint(low, high))]
        specials = []
        for trigger in triggers:                   # 第二十九条: answered on the day, later, or (not) the day before
            pick = rng.random()
            if pick < 0.2:
                specials.append(trigger)
            elif pick < 0.4:
                specials.append(self.upto(trigger))
            elif pick < 0.5:
                specials.append(trigger - _days(1))
        for when in dates + specials:
            special = when in specials
            item = {"date": when.isoformat(),
                    "kind": "special" if special else
                    _weighted(rng, (("regular", 60), ("irregular", 15), ("follow_up", 15), ("special", 10)))}
            if not self.chance(0.02):
                item["staff_count"] = _weighted(rng, ((2, 75), (3, 17), (4, 4), (1, 4)))
            for who in ("signed_by_inspectors", "signed_by_enterprise"):
                if self.chance(0.97):
                    item[who] = True
                elif self.chance(0.5):
                    item[who] = False
            if self.chance(0.3 if target == "c" else 0.15):
                deadline = as_of if self.chance(0.1) else when + _days(rng.choice((15, 30, 30, 60)))
                rect = {"ordered": True, "deadline": deadline.isoformat()}
                if deadline < as_of:
                    done = self.chance(0.88)
                    rect["completed"] = done
                    rect["recheck_passed"] = done and self.chance(0.95)
                elif self.chance(0.3):
                    rect["completed"] = True
                item["rectification"] = rect
            elif self.chance(0.03):
                item["rectification"] = {"ordered": False}
            self.add("inspections", item)

    def samplings(self, first_issue: dt.date) -> None:
        rng = self.rng
        as_of = self.as_of
        for _ in range(rng.choice((1, 1, 2)) if self.chance(0.25) else 0):
            pick = rng.random()
            if pick < 0.1:                         # as_of is the 7th or the 8th day after sealing
                sealed = as_of - _days(rng.choice((7, 8)))
            else:
                sealed = self.upto(max(first_issue, _add_months(as_of, -24)))
            item = {"sealed_on": sealed.isoformat()}
            waited = (as_of - sealed).days
            if pick < 0.1 or (waited < 7 and self.chance(0.5)):
                pass                                # not sent yet
            else:
                delay = rng.choice((7, 8)) if self.chance(0.15) else \
                    rng.randint(1, 7) if self.chance(0.94) else rng.randint(8, 15)
                item["sent_on"] = (sealed + _days(delay)).isoformat()   # may fall after as_of
            if self.chance(0.015):
                item["fee_charged"] = True
            elif self.chance(0.3):
                item["fee_charged"] = False
            self.add("samplings", item)

    def after_as_of(self, plans: dict) -> None:
        """Records dated after as_of, of every kind: the evaluation must ignore each of them."""
        rng = self.rng
        cats = list(plans)
        for _ in range(rng.choice((1, 1, 2, 3))):
            when = self.later()
            cat = rng.choice(cats)
            kind = rng.randrange(12)
            if kind == 0:
                self.add("classification_history", {"category": cat, "class": rng.choice(CLASSES), "decided_on": when.isoformat()})
            elif kind == 1:
                self.add("assessments", {"category": cat, "result": rng.choice(CLASSES), "assessed_on": when.isoformat()})
            elif kind == 2:
                self.spot_check(when, cat, rng.choice(("fail", "refused")), "provincial")
            elif kind == 3:
                self.add("penalties", {"date": when.isoformat(), "subject": rng.choice(("product_quality", "other_quality_law"))})
            elif kind == 4:
                self.add("media_exposures", {"date": when.isoformat(), "verified": True})
            elif kind == 5:
                self.add("commitment_breaches", {"date": when.isoformat(), "kind": "not_fulfilled"})
            elif kind == 6:
                self.add(rng.choice(("complaints", "counterfeit_suspicions", "major_quality_accidents")), {"date": when.isoformat()})
            elif kind == 7:
                self.add("changes", {"date": when.isoformat(), "kind": "technology"})
            elif kind == 8:
                self.add("quality_awards", {"name": "上海市质量金奖", "granted_on": when.isoformat()})
            elif kind == 9:
                self.add("inspections", {"date": when.isoformat(), "kind": "regular", "staff_count": 1,
                                         "rectification": {"ordered": True, "deadline": (when + _days(30)).isoformat()}})
            elif kind == 10:
                self.add("samplings", {"sealed_on": when.isoformat(), "fee_charged": True})
            elif not self.size:                    # a license issued later (not with an exact license count)
                cat = rng.choice(CATEGORIES)
                self.license(cat, rng.choice(cat.rules), when)

    # -- assembly
    def build(self, target: Optional[str]) -> dict:
        rng = self.rng
        chosen = self.pick_licenses(food_only=target is None)
        self.identity([c for c, _ in chosen])
        by_cat: dict = {}
        for cat, rules in chosen:
            by_cat.setdefault(cat.name, (cat, []))[1].append(rules)
        policy_cats = [name for name, (cat, _) in by_cat.items() if not cat.food]

        plans: dict = {}
        if target is None:
            for name in by_cat:
                plans[name] = {"issued": self.upto(self.as_of - _days(3000)), "cut": None, "inclusive": True}
            if not self.size and self.chance(0.1):  # a non-food license issued after as_of: not held yet
                cat = rng.choice(CATEGORIES)
                self.license(cat, rng.choice(cat.rules), self.later(200))
        else:
            single = len(policy_cats) == 1
            self.commitment_kind = _weighted(rng, COMMITMENT_STATES[target])
            accepted = self.commitment_kind == "accepted"
            anchor = rng.choice(policy_cats)
            for name in policy_cats:
                cls = target
                if name != anchor:
                    if target == "c":
                        cls = rng.choice(("b", "b", "a"))
                    elif target != "aa" and self.chance(0.3):
                        up = CLASSES[CLASSES.index(target) + 1]
                        cls = up if up != "aa" or accepted else target
                plans[name] = self.category_plan(name, cls, accepted, single)
            self.commitment(plans)
            for name, (cat, _) in by_cat.items():
                if cat.food:
                    plans[name] = {"issued": self.upto(self.as_of - _days(3000)), "cut": None, "inclusive": True}

        for name, (cat, rules_list) in by_cat.items():
            issued = plans[name]["issued"]
            for i, rules in enumerate(rules_list):
                # a later license of the same category (增项) came after the first one, sometimes on
                # the day of another record
                when = issued if i == 0 else self.upto(issued)
                self.license(cat, rules, when)
        if target is not None:
            policy_plans = {name: plans[name] for name in policy_cats}
            if not self.size and self.chance(FOOD_SAME_CATEGORY_SHARE):
                self.food_same_category(policy_plans)
            self.background(policy_plans, target)
            if self.chance(AFTER_AS_OF_SHARE):
                self.after_as_of(policy_plans)
        return self.assemble()

    def assemble(self) -> dict:
        case = self.case
        ordered = not self.chance(0.1)             # some files list records as entered, not by date
        for key, items in self.lists.items():
            if items:
                date_key = next((k for k in DATE_KEYS if k in items[0]), None)
                if ordered and date_key:
                    items.sort(key=lambda item: item[date_key])
                elif not ordered:
                    self.rng.shuffle(items)
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


def pick_as_of(rng: Random) -> dt.date:
    """A day in the window in force, often one that tests date arithmetic."""
    pick = rng.random()
    if pick < 0.12:
        return _parse(rng.choice(BOUNDARY_AS_OF))
    day = WINDOW[0] + _days(rng.randint(0, (WINDOW[1] - WINDOW[0]).days))
    if pick < 0.2:
        day = min(_month_end(day), WINDOW[1])
    return day


def _labelled(count: int, seed: int, as_of: Optional[str] = None, licenses: Optional[int] = None) -> Iterator[tuple]:
    """Yield (intended class or None when not applicable, case). The class is what the contract's readings give."""
    if licenses is not None and not 1 <= licenses <= MAX_LICENSES:
        raise ValueError(f"licenses must be 1 to {MAX_LICENSES}, not {licenses}")
    rng = Random(seed)
    fixed = _parse(as_of) if as_of else None
    used: set = set()
    for _ in range(count):
        day = fixed or pick_as_of(rng)
        target = None if rng.random() < FOOD_ONLY_SHARE else _weighted(rng, TARGET_MIX)
        yield target, _Enterprise(rng, day, used, licenses).build(target)


def generate(count: int, seed: int, as_of: Optional[str] = None, licenses: Optional[int] = None) -> Iterator[dict]:
    """Yield `count` case files (dicts, dates as ISO strings); the same arguments give the same cases.

    as_of: one evaluation date for every case (a district evaluated on one day); None spreads it over
    the window in force. licenses: exactly that many licenses per enterprise (1..100); None mixes 1 to 6.

    >>> next(generate(1, seed=1, as_of="2019-06-30"))["as_of"]
    '2019-06-30'
    """
    for _, case in _labelled(count, seed, as_of, licenses):
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
    parser.add_argument("--as-of", type=_iso_date, default=None,
                        help="one evaluation date for every case (default: spread over 2017-05-01 .. 2022-04-30)")
    parser.add_argument("--licenses", type=int, default=None, metavar="N",
                        help=f"exactly N licenses per enterprise, 1 to {MAX_LICENSES} (default: a realistic 1 to 6)")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be 0 or more")
    if args.licenses is not None and not 1 <= args.licenses <= MAX_LICENSES:
        parser.error(f"--licenses must be 1 to {MAX_LICENSES}")

    cases = generate(args.count, args.seed, args.as_of, args.licenses)
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
    except BrokenPipeError:                # `generate.py ... | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # no flush error at exit (Python docs)
        return 0
    finally:
        if args.out:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

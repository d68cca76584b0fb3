"""Calendar arithmetic on ISO dates: month ends clamp (01-31 + 1 month = 02-28/29)."""
from __future__ import annotations

import calendar
import datetime as _dt
import re
from functools import lru_cache

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@lru_cache(maxsize=65536)
def parse(text: str) -> _dt.date:
    """'2019-06-30' -> date; raises ValueError for anything else."""
    if not isinstance(text, str) or not ISO_DATE.match(text):
        raise ValueError(f"not an ISO date (YYYY-MM-DD): {text!r}")
    return _dt.date.fromisoformat(text)


def is_date(text) -> bool:
    try:
        parse(text)
        return True
    except (ValueError, TypeError):
        return False


def shift(text: str, years: int = 0, months: int = 0, days: int = 0) -> str:
    """Move an ISO date by whole years, months and days, clamping to the month's end."""
    if not months and not days and type(text) is str and len(text) == 10 and ISO_DATE.match(text):
        year = int(text[:4]) + int(years)      # whole years, the common case: text arithmetic
        if 1 <= year <= 9999:
            rest = text[4:]
            if rest == "-02-29" and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
                rest = "-02-28"
            parse(text)    # still refuse an impossible date (2019-02-30)
            return f"{year:04d}{rest}"
    d = parse(text)
    total = d.year * 12 + (d.month - 1) + int(years) * 12 + int(months)
    year, month = divmod(total, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise ValueError(f"date out of range: {text} moved by {years}y {months}m")
    day = min(d.day, calendar.monthrange(year, month)[1])
    moved = _dt.date(year, month, day) + _dt.timedelta(days=int(days))
    return moved.isoformat()


def days_between(a: str, b: str) -> int:
    return (parse(b) - parse(a)).days


def date_problem(text) -> str:
    """Why `text` is not an ISO date, in the calendar's terms: 2019-02-30 -> February 2019 has 28 days."""
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", text) if isinstance(text, str) else None
    if not match:
        return "the form is YYYY-MM-DD"
    year, month, day = map(int, match.groups())
    if not 1 <= month <= 12:
        return f"there is no month {month:02d}"
    if year < 1:
        return "years start at 0001"
    last = (_dt.date(year + (month == 12), month % 12 + 1, 1) - _dt.timedelta(days=1)).day if year < 9999 or month < 12 else 31
    if not 1 <= day <= last:
        return f"{_dt.date(year, month, 1).strftime('%B')} {year} has {last} days"
    return "the form is YYYY-MM-DD"


_LOOSE_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$|^(\d{4})(\d{2})(\d{2})$")


def date_example(value) -> str:
    """The ISO form of a real day written another way (2016-3-1, 2016/03/01, 2016年3月1日, 20160301), else ""."""
    match = _LOOSE_DATE.match(str(value)) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if not match:
        return ""
    year, month, day = (int(g) for g in match.groups() if g is not None)
    try:
        return _dt.date(year, month, day).isoformat()
    except ValueError:
        return ""


def date_hint(value) -> str:
    """What to write instead of `value` where a date goes: "write the date as YYYY-MM-DD, e.g. 2016-03-01"."""
    if isinstance(value, str) and ISO_DATE.match(value):     # the form is right, the day does not exist (2019-02-30)
        return "write a real calendar day as YYYY-MM-DD"
    return f"write the date as YYYY-MM-DD, e.g. {date_example(value) or '2019-06-30'}"

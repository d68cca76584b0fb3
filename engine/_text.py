"""The law's text as data (kind ArticleText): inheritance, clause addresses (第二款第三项第1目) and their resolution."""
from __future__ import annotations

import copy
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Optional

from .errors import IssueCollector, did_you_mean

LEVELS = ("款", "项", "目")     # paragraph, item, sub-item: the addressable units under an article
MAX_CLAUSE_CHARS = 400          # bound on one clause text
MAX_RANGE = 200                 # bound on the units one `A至B` range expands to
MAX_SOURCE_BYTES = 64 << 20     # bound on the source file hashed (a law's text is a few hundred KiB; a scan, some MiB)
_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = "[零〇一二两三四五六七八九十百0-9]+"
_UNIT = re.compile(rf"第({_NUM})(款|项|目)")
_ARTICLE = re.compile(rf"^第({_NUM})条$")
_ANNEX = re.compile(r"^附件([0-9一二三四五六七八九十]+)$")


def zh_number(text: str) -> Optional[int]:
    """'四十八' -> 48, '12' -> 12; None when it is not a numeral (up to 999)."""
    if not text:
        return None
    if text.isdigit():
        return int(text)
    total, current = 0, 0
    for ch in text:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch in _DIGITS:
            current = _DIGITS[ch]
        else:
            return None
    return total + current


def zh_numeral(n: int) -> str:
    """48 -> '四十八' (1..999), the way articles, paragraphs and items are numbered."""
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")
    hundreds, rest = divmod(n, 100)
    tail = "" if rest == 0 else ("零" + digits[rest] if rest < 10 else ("一" if rest < 20 else "") + zh_numeral(rest))
    return digits[hundreds] + "百" + tail


def article_slot(entries: list, name: str) -> tuple:
    """Where an entry for article `name` goes among `entries` (mappings with `article`, in article order), as an
    amending version's index or text puts it: (the index of the entry it replaces, True), else (where it is
    inserted, by its number, False)."""
    at = next((k for k, e in enumerate(entries) if e["article"] == name), None)
    if at is not None:
        return at, True
    key = article_key(name)
    return next((k for k, e in enumerate(entries) if article_key(e["article"]) > key), len(entries)), False


def article_key(article: str) -> tuple:
    """Sort key: 第N条 by N, then annexes (附件N) by N, then anything else by name."""
    m = _ARTICLE.match(article or "")
    if m and zh_number(m.group(1)) is not None:
        return (0, zh_number(m.group(1)), article)
    m = _ANNEX.match(article or "")
    if m and zh_number(m.group(1)) is not None:
        return (1, zh_number(m.group(1)), article)
    return (2, 0, article or "")


def near_article(article: str, names) -> str:
    """A did-you-mean for a cited article: the one of the same number as the text writes it (`第29条` ->
    `第二十九条`, and back), else the nearest spelling; "" when there is none."""
    key = article_key(article)
    if key[0] < 2:
        same = [n for n in names if article_key(n)[:2] == key[:2] and n != article]
        if same:
            return f"did you mean `{same[0]}`?"
    return did_you_mean(article, names)


def anchor(article: str, unit: tuple = ()) -> str:
    """An ASCII id for an article or one of its units: 第三十条 (1, 2, 3) -> 'art-30-p1-i2-s3'."""
    kind, number, name = article_key(article)
    base = f"art-{number}" if kind == 0 else f"annex-{number}" if kind == 1 else "art-x" + "".join(f"{ord(c):x}" for c in name)
    return base + "".join(f"-{tag}{n}" for tag, n in zip("pis", unit))


def address(unit: tuple, items_need_paragraph: bool = True) -> str:
    """(2, 3, 1) -> '第二款第三项第1目'; items are named without their paragraph when it is implied."""
    parts = []
    if len(unit) >= 1 and (items_need_paragraph or len(unit) == 1):
        parts.append(f"第{zh_numeral(unit[0])}款")
    if len(unit) >= 2:
        parts.append(f"第{zh_numeral(unit[1])}项")
    if len(unit) >= 3:
        parts.append(f"第{unit[2]}目")
    return "".join(parts)


# ---- the source file ------------------------------------------------------------------------
def check_source(doc, folder: Path, issues: IssueCollector) -> None:
    """`source.file` of a version's own text.yaml names a file inside its version folder (a link leaving
    the folder is refused, like every policy path), and `source.sha256`, when given, is that file's."""
    from .load import _display, escape, outside_issue
    source = doc.data.get("source") if isinstance(doc.data, dict) else None
    if not isinstance(source, dict) or not isinstance(source.get("file"), str):
        return
    name = source["file"]
    where = doc.location(("source", "file"))
    path = Path(folder) / name
    part = escape(folder, path)
    if part is not None:
        try:
            target = _display(part.resolve())
        except (OSError, RuntimeError):
            target = "a loop of links"
        through = "" if part == Path(os.path.abspath(path)) else f" through `{_display(part)}`"
        issues.add("schema.source", f"source.file `{name}` leads outside the version folder{through}: it is a link to `{target}`",
                   where, "keep a copy of the source text inside the version folder (e.g. in source/) and name it relative to it")
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        here = path.parent
        near = sorted(str((here / n).relative_to(folder)) for n in os.listdir(here)) if here.is_dir() else []
        issues.add("schema.source", f"source.file `{name}` does not exist in the version folder `{_display(Path(folder))}`", where,
                   did_you_mean(name, near) or "copy the source text there, or correct the name: it is relative to the version folder")
        return
    except OSError as exc:
        issues.add("schema.source", f"source.file `{name}` cannot be read: {exc.strerror or exc}", where, "check the file")
        return
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        issues.add("schema.source", f"source.file `{name}` is {kind}, not a file", where, "name the source text file itself")
        return
    digest = _sha256(path)
    if isinstance(digest, str) and digest.startswith("!"):
        issues.add("schema.source", f"source.file `{name}` {digest[1:]}", where, "check the file")
        return
    written = source.get("sha256")
    if isinstance(written, str) and digest != written:
        issues.add("schema.sha256", f"the SHA-256 of `{name}` is {digest}, not the {written} written here: the file is not the "
                   "one the text was split from", doc.location(("source", "sha256")),
                   "if the file is right, split the text again from it and write its sha256; else restore the file")


def _sha256(path: Path) -> str:
    """The file's SHA-256 in hex, or `!why` when it cannot be read (opened without blocking: a file
    swapped for a FIFO is not waited on)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return f"!cannot be read: {exc.strerror or exc}"
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return "!is not a regular file"
        digest, size = hashlib.sha256(), 0
        while True:
            try:
                chunk = fh.read(1 << 20)
            except OSError as exc:
                return f"!cannot be read: {exc.strerror or exc}"
            if not chunk:
                return digest.hexdigest()
            size += len(chunk)
            if size > MAX_SOURCE_BYTES:
                return f"!is larger than {MAX_SOURCE_BYTES >> 20} MiB"
            digest.update(chunk)


# ---- inheritance --------------------------------------------------------------------------
def merge(layers: list, issues: IssueCollector) -> Optional[dict]:
    """layers: [(version ref, Document)] from the root of `extends` to this version, at most one
    ArticleText each. An article with an inherited number replaces it in place; a new one goes
    where its number puts it; `remove:` drops inherited ones. Each article records the version
    whose text it is (`version`)."""
    merged: Optional[dict] = None
    for depth, (ref, doc) in enumerate(layers):
        data = doc.data
        if merged is None:
            merged = {"source": {}, "preamble": [], "articles": [], "closing": []}
        for key in ("source", "preamble", "closing"):
            if key in data:
                merged[key] = copy.deepcopy(data[key])
        articles = merged["articles"]
        for i, name in enumerate(data.get("remove") or []):
            where = doc.location(("remove", i))
            if depth == 0:
                issues.add("compile.text", "`remove:` only applies in a version that `extends` another", where,
                           "delete the article instead")
                continue
            found = [k for k, a in enumerate(articles) if a["article"] == name]
            if not found:
                issues.add("compile.text", f"cannot remove {name}: the inherited text has no such article", where,
                           did_you_mean(name, [a["article"] for a in articles]))
                continue
            del articles[found[0]]
        seen: dict = {}
        for i, entry in enumerate(data.get("articles") or []):
            if entry is None:       # set aside for its own mistake, naming no article (validate._without)
                continue
            name = entry["article"]
            if name in seen:
                issues.add("compile.duplicate", f"{name} appears twice in the text (first at {doc.location(('articles', seen[name]))})",
                           doc.location(("articles", i, "article")), "keep one")
                continue
            seen[name] = i
            article = {**copy.deepcopy(entry), "version": ref, "location": str(doc.location(("articles", i)))}
            at, replaces = article_slot(articles, name)
            if replaces:
                article["replaces"] = articles[at]["version"]
                articles[at] = article
            else:
                articles.insert(at, article)
    return merged


# ---- clause addresses ---------------------------------------------------------------------
def _parse_address(text: str) -> Optional[dict]:
    """'第二款第三项' -> {'款': 2, '项': 3}; None when it is not a run of 第N款/项/目 in that order."""
    out: dict = {}
    pos, last = 0, -1
    for m in _UNIT.finditer(text):
        level = LEVELS.index(m.group(2))
        n = zh_number(m.group(1))
        if m.start() != pos or level <= last or n is None or n < 1:
            return None
        out[m.group(2)] = n
        pos, last = m.end(), level
    return out if out and pos == len(text) else None


def parse_clause(clause: str) -> tuple:
    """A clause text -> (list of addresses, error). Forms: 第二款, 第一项, 第二款第三项, 第一项第2目,
    joined by 、, and ranges 第一项至第四项第1目 (the endpoints share what one of them leaves out)."""
    if len(clause) > MAX_CLAUSE_CHARS:
        return [], f"the clause is longer than {MAX_CLAUSE_CHARS} characters"
    if not clause.strip():
        return [], None   # no clause: the whole article
    out = []
    for part in clause.replace(" ", "").split("、"):
        ends = part.split("至")
        if len(ends) > 2:
            return [], f"`{part}` has more than one 至"
        parsed = [_parse_address(e) for e in ends]
        if any(p is None for p in parsed):
            bad = ends[[p is None for p in parsed].index(True)]
            if re.search(rf"第{_NUM}条", bad):
                return [], f"`{bad}` names an article: the article goes in `article:`, the clause holds 第N款/第N项/第N目 only"
            return [], f"`{bad}` is not a clause address"
        if len(parsed) == 1:
            out.append(parsed[0])
            continue
        a, b = parsed
        deepest_a = max(LEVELS.index(k) for k in a)
        shallowest_b = min(LEVELS.index(k) for k in b)
        a = {**{k: v for k, v in b.items() if LEVELS.index(k) > deepest_a}, **a}   # 第一项至第四项第1目: 第1目 of each
        b = {**{k: v for k, v in a.items() if LEVELS.index(k) < shallowest_b}, **b}  # 第二款第一项至第三项: 第二款 for both
        differ = [k for k in LEVELS if a.get(k) != b.get(k)]
        if set(a) != set(b) or len(differ) != 1 or a[differ[0]] > b[differ[0]]:
            return [], f"`{part}` is not a range of one kind of unit counting upwards"
        level = differ[0]
        if b[level] - a[level] + 1 > MAX_RANGE:
            return [], f"`{part}` spans more than {MAX_RANGE} units"
        out.extend({**a, level: n} for n in range(a[level], b[level] + 1))
    return out, None


def _item_paragraphs(article: dict) -> list:
    return [p for p, para in enumerate(article["paragraphs"], 1) if para.get("items")]


def addresses(article: dict) -> list:
    """Every address the article's units answer to, as a policy would write it (for did-you-mean)."""
    short = len(_item_paragraphs(article)) == 1   # then 第N项 alone is valid too
    out = []
    for p, para in enumerate(article["paragraphs"], 1):
        out.append(address((p,)))
        for i, item in enumerate(para.get("items") or [], 1):
            units = [(p, i)] + [(p, i, s) for s in range(1, len(item.get("subitems") or []) + 1)]
            for unit in units:
                out.append(address(unit))
                if short:
                    out.append(address(unit, False))
    return out


def resolve(article: dict, clause: str) -> tuple:
    """The units a clause names in `article`: (list of position tuples, error or None).
    A 项 without its 款 belongs to the one paragraph that has items."""
    parsed, error = parse_clause(clause)
    if error:
        return [], error
    name = article["article"]
    paragraphs = article["paragraphs"]
    units = []
    for addr in parsed:
        if "目" in addr and "项" not in addr:
            return [], f"a 目 is part of a 项: write 第N项第{addr['目']}目"
        p = addr.get("款")
        if p is None:
            with_items = _item_paragraphs(article)
            if len(with_items) > 1:
                return [], (f"{name} has items in {len(with_items)} paragraphs "
                            f"({', '.join(address((q,)) for q in with_items)}); say which, e.g. {address((with_items[-1], addr['项']))}")
            if not with_items:
                return [], f"{name} has no items (项); it has {len(paragraphs)} paragraph(s) (款)"
            p = with_items[0]
        if p > len(paragraphs):
            return [], f"{name} has {len(paragraphs)} paragraph(s) (款); there is no 第{zh_numeral(p)}款"
        unit = (p,)
        if "项" in addr:
            items = paragraphs[p - 1].get("items") or []
            i = addr["项"]
            if i > len(items):
                where = f"{address((p,))} of {name}" if "款" in addr else name
                return [], (f"{where} has {len(items)} item(s) (项); there is no 第{zh_numeral(i)}项" if items
                            else f"{address((p,))} of {name} has no items (项)")
            unit = (p, i)
            if "目" in addr:
                subs = items[i - 1].get("subitems") or []
                s = addr["目"]
                if s > len(subs):
                    return [], (f"第{zh_numeral(i)}项 of {name} has {len(subs)} sub-item(s) (目); there is no 第{s}目" if subs
                                else f"第{zh_numeral(i)}项 of {name} has no sub-items (目)")
                unit = (p, i, s)
        units.append(unit)
    return units, None


def nearest(article: dict, clause: str) -> Optional[str]:
    """For a clause that names a unit past the end: the same address with each number cut to the last
    one there (第八款 of a 7-paragraph article -> 第七款). None when that does not help."""
    parsed, error = parse_clause(clause)
    if error or not parsed:
        return None
    paragraphs = article["paragraphs"]
    with_items = _item_paragraphs(article)
    for addr in parsed:
        if resolve(article, address_text(addr))[1] is None:
            continue
        p = min(addr.get("款", with_items[0] if len(with_items) == 1 else 1), len(paragraphs))
        if "项" not in addr:
            return address((p,))
        items = paragraphs[p - 1].get("items") or []
        if not items:
            return None
        i = min(addr["项"], len(items))
        implied = "款" not in addr
        if "目" not in addr:
            return address((p, i), not implied)
        subs = items[i - 1].get("subitems") or []
        return address((p, i, min(addr["目"], len(subs))), not implied) if subs else None
    return None


def address_text(addr: dict) -> str:
    return "".join(f"第{zh_numeral(n) if level != '目' else n}{level}" for level, n in
                   sorted(addr.items(), key=lambda kv: LEVELS.index(kv[0])))


def unit_text(article: dict, unit: tuple) -> str:
    """The words of one unit (a paragraph with its items, an item with its sub-items, a sub-item)."""
    para = article["paragraphs"][unit[0] - 1]
    if len(unit) == 1:
        return "\n".join([para["text"]] + [_item_text(it) for it in para.get("items") or []]).strip()
    item = para["items"][unit[1] - 1]
    if len(unit) == 2:
        return _item_text(item)
    return item["subitems"][unit[2] - 1]["text"]


def _item_text(item: dict) -> str:
    return "\n".join([item["text"]] + [s["text"] for s in item.get("subitems") or []])


def article_lines(article: dict) -> list:
    """The article as the document prints it: `第N条 ` before its first paragraph, one line per unit."""
    lines = []
    for p, para in enumerate(article["paragraphs"]):
        lines.append((article["article"] + " " + para["text"]).strip() if p == 0 else para["text"])
        for item in para.get("items") or []:
            lines.append(item["text"])
            lines.extend(s["text"] for s in item.get("subitems") or [])
    return lines


def joined(text: dict) -> str:
    """The whole document again, from its parts: preamble, chapters and articles, closing."""
    lines = list(text.get("preamble") or [])
    chapter = None
    for article in text["articles"]:
        if article.get("chapter") and article["chapter"] != chapter:
            chapter = article["chapter"]
            lines.append(chapter)
        lines.extend(article_lines(article))
    lines.extend(text.get("closing") or [])
    return "\n".join(lines) + "\n"


# ---- the checks compile runs --------------------------------------------------------------
def check_citations(text: dict, resolved, issues: IssueCollector, unread: frozenset = frozenset()) -> None:
    """Every rule's and parameter's article/clause, and every decision's articles, name text that exists;
    the article index and the text list the same articles (annexes may be listed without text). `unread`: articles
    whose text was set aside for its own mistake: cited, they exist, but no clause is checked against them."""
    by_name = {a["article"]: a for a in text["articles"]}
    names = list(by_name)

    numbered = sorted((n for n in names if article_key(n)[0] == 0), key=article_key)
    span = f"{numbered[0]} to {numbered[-1]}" if len(numbered) > 1 else ", ".join(numbered) or "no numbered articles"

    def cite(what: str, item, article: str, clause: str) -> None:
        entry = by_name.get(article)
        if entry is None:
            same = [n for n in names if article_key(article)[0] < 2 and article_key(n)[:2] == article_key(article)[:2]]
            issues.add("compile.clause", f"{what} cites {article}, which the text of this version does not have"
                       + ("" if same else f": the law has no such article (its text has {span})"),
                       item.location("article"), near_article(article, names) or "cite an article of the text")
            if not same or not clause:
                return
            article, entry = same[0], by_name[same[0]]   # the article meant: its clause is checked in the same round
        if clause and article not in unread:
            _units, error = resolve(entry, clause)
            if error:
                near = nearest(entry, clause)
                hint = (f"did you mean `{near}`, the last one?" if near and near != clause else
                        did_you_mean(clause, addresses(entry)) or f"{article} has {', '.join(addresses(entry)[:8])}")
                issues.add("compile.clause", f"{what} cites {article} {clause}: {error}", item.location("clause"), hint)

    for rid, item in sorted(resolved.rules.items()):
        cite(f"rule `{rid}`", item, item.data.get("article", ""), item.data.get("clause", ""))
    for item in getattr(resolved, "checked_only", ()):    # set aside (an unknown key) but checked: its citation too
        if "article" in item.data:      # (an article unread, its problem said, cites nothing)
            rid = item.data.get("id")
            cite(f"rule `{rid}`" if rid is not None else "the rule", item, item.data["article"], item.data.get("clause", ""))
    for name, item in sorted(resolved.parameters.items()):
        if item.data.get("article"):
            cite(f"parameter `{name}`", item, item.data["article"], item.data.get("clause", ""))
    for name, item in sorted(resolved.decisions.items()):
        for article in filter(None, (item.data.get("article") or "").split("、")):
            cite(f"decision `{name}`", item, article, "")
    index = resolved.articles
    if index is None:
        return
    listed = {e["article"]: i for i, e in enumerate(index.data)}
    for article, i in listed.items():
        if article_key(article)[0] == 0 and article not in by_name:
            issues.add("compile.text", f"{article} is in the article index but not in the text", index.location(i, "article"),
                       did_you_mean(article, names) or "add its text to the ArticleText file")
    unlisted = sorted((a for a in names if a not in listed), key=article_key)
    if len(unlisted) == 1:
        entry = by_name[unlisted[0]]
        issues.add("compile.text", f"{unlisted[0]} has text ({entry['location']}) but the article index does not list it",
                   index.location(), "add it to articles.yaml with its status")
    elif unlisted:    # said once, at the index, in the articles' order (one place, one issue)
        issues.add("compile.text", f"{len(unlisted)} articles have text but the article index does not list them: "
                   + ", ".join(unlisted), index.location(), "add them to articles.yaml with their status")

#!/usr/bin/env python3
"""Split a Chinese regulation's plain text into an ArticleText skeleton (章/条/款/项/目); review the output by hand.

    python scripts/split_law_text.py SOURCE.zh.txt --source-file source/NAME.zh.txt > text.yaml

Rules of the split, which hold for texts laid out the usual way (one 款 per line):
- a line `第N章 ...` starts a chapter; a line `第N条 ...` starts an article;
- inside an article each other line is a 款, except `（一）...` lines (a 项 of the 款 before them)
  and `1．...` lines (a 目 of the 项 before them);
- lines before the first chapter or article are the preamble; from the first line that starts with
  `附件` (or `抄送`) after the last article on, the closing.
Text is kept character for character; only the whitespace around each line is dropped.
`regcode validate` then checks every rule's citation against the result, and the policy's test
compares the joined text with the source modulo whitespace.
"""
from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import yaml

NUM = "[零〇一二两三四五六七八九十百千0-9]+"
CHAPTER = re.compile(rf"^第{NUM}章\s*\S")
ARTICLE = re.compile(rf"^(第{NUM}条)\s*(.*)$")
ITEM = re.compile(rf"^[（(]{NUM}[）)]")
SUBITEM = re.compile(r"^[0-9]+[．.、]")
CLOSING = re.compile(r"^(附件|抄送)")


def split(text: str) -> dict:
    preamble, articles, closing = [], [], []
    chapter = ""
    current = None
    in_closing = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if in_closing or (articles and CLOSING.match(line)):
            in_closing = True
            closing.append(line)
            continue
        if CHAPTER.match(line):
            chapter = re.sub(r"\s+", " ", line)
            current = None
            continue
        m = ARTICLE.match(line)
        if m:
            current = {"article": m.group(1)}
            if chapter:
                current["chapter"] = chapter
            current["paragraphs"] = [{"text": m.group(2).strip()}] if m.group(2).strip() else []
            articles.append(current)
            continue
        if current is None:
            preamble.append(line)
            continue
        paragraphs = current["paragraphs"]
        if ITEM.match(line) and paragraphs:
            paragraphs[-1].setdefault("items", []).append({"text": line})
        elif SUBITEM.match(line) and paragraphs and paragraphs[-1].get("items"):
            paragraphs[-1]["items"][-1].setdefault("subitems", []).append({"text": line})
        else:
            paragraphs.append({"text": line})
    return {"preamble": preamble, "articles": articles, "closing": closing}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path)
    ap.add_argument("--source-file", required=True, help="the source's path inside the version folder")
    ap.add_argument("--language", default="zh-Hans")
    args = ap.parse_args()
    raw = args.source.read_bytes()
    parts = split(raw.decode("utf-8-sig"))
    doc = {"apiVersion": "regcode/v1", "kind": "ArticleText",
           "source": {"file": args.source_file, "sha256": hashlib.sha256(raw).hexdigest(), "language": args.language},
           **parts}
    sys.stdout.write(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100000))
    return 0


if __name__ == "__main__":
    sys.exit(main())

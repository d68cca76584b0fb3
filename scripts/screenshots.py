#!/usr/bin/env python3
"""The README's screenshots (docs/img/): the site's articles page and an eval page, taken in headless Chromium
by the same tooling as the browser tests (tests/browser.py).

    .venv/bin/python scripts/screenshots.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from browser import chromium, open_file  # noqa: E402

REGCODE = [sys.executable, "-m", "regcode.cli"]


def main() -> int:
    out = REPO / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        subprocess.run(REGCODE + ["site", "--out", str(site)], check=True, cwd=REPO)
        page = Path(tmp) / "eval.html"
        with open(page, "w", encoding="utf-8") as fh:
            subprocess.run(REGCODE + ["eval", "--format", "html", "examples/cases/c-class-triggers.yaml"], check=True, cwd=REPO, stdout=fh)
        with chromium(1400, 1000) as driver:
            open_file(driver, site / "shanghai-post-license" / "2017" / "index.html")
            driver.execute_script("window.scrollTo(0, document.getElementById('art-8').offsetTop - 60)")
            driver.save_screenshot(str(out / "site-articles.png"))
            open_file(driver, page)
            decision = driver.find_element("id", "c0-dec-category_classes")   # 4 claims decided it, 4 lost
            driver.execute_script("arguments[0].querySelector('details.why').open = true;"
                                  "window.scrollTo(0, arguments[0].offsetTop - 70)", decision)
            driver.save_screenshot(str(out / "eval-page.png"))
    for name in ("site-articles.png", "eval-page.png"):
        print(f"wrote {(out / name).relative_to(REPO)} ({(out / name).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The HTML report of a big image: its size, the time to render it, and the
time a real browser takes to open it (Debian's chromium through Playwright).

    python benchmarks/gen_archive.py /tmp/200k.tar --files 200000 --big-gb 0
    python benchmarks/html_load.py /tmp/200k.tar [--runs 3]

Prints the page size, the render time (after the analysis), and per load the
time to DOMContentLoaded with the treemap drawn and the rectangles drawn.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from layerscope.pipeline import Request, run
from layerscope.report import render
from layerscope.sources import SourceOptions

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("archive")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    t = time.perf_counter()
    result = run(Request(target=args.archive, options=SourceOptions()))
    analysed = time.perf_counter() - t
    t = time.perf_counter()
    page = render("html", result)
    rendered = time.perf_counter() - t
    print(f"files {result.summary.file_count}, analysis {analysed:.2f} s")
    print(f"page {len(page.encode()):,} bytes, rendered in {rendered:.2f} s")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        path = Path(tmp) / "report.html"
        path.write_text(page, encoding="utf-8")
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(args.runs):
            tab = browser.new_page(viewport={"width": 1200, "height": 1000})
            tab.goto(path.as_uri())
            tab.wait_for_selector("#treemap .tm")
            ready = tab.evaluate(
                "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
            )
            rects = tab.locator("#treemap .tm").count()
            print(f"load: DOMContentLoaded {ready:.0f} ms, {rects} rectangles")
            tab.close()
        browser.close()


if __name__ == "__main__":
    main()

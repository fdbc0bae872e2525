"""The HTML report in a real browser: Debian's chromium driven by Playwright,
with every network request refused and recorded.

Skips with the reason when Playwright or /usr/bin/chromium is missing
(CI installs both: ``apt-get install chromium``, ``pip install playwright``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layerscope.cli import main
from layerscope.report import render
from tests.report_html.helpers import hostile_analysis

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Page:
    """A loaded report: the Playwright page, console errors and network requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="Playwright for Python is not installed (pip install playwright)",
    )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser: Any, path: Path) -> Page:
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    loaded = Page(page)
    page.on("console", lambda m: loaded.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: loaded.errors.append(str(e)))

    def refuse(route: Any) -> None:
        if route.request.url != path.as_uri():
            loaded.requests.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", refuse)
    page.goto(path.as_uri())
    page.wait_for_selector("#treemap .tm")
    return loaded


def _report(tmp_path: Path, sample: str) -> Path:
    out = tmp_path / f"{sample}.html"
    assert main([str(ROOT / "sample_images" / f"{sample}.tar.gz"), "-o", str(out)]) == 0
    return out


def test_treemap_drill_down_breadcrumbs_and_filter(browser: Any, tmp_path: Path) -> None:
    loaded = _open(browser, _report(tmp_path, "leftovers"))
    page = loaded.page
    # Top-level rectangles: areas in proportion to their bytes.
    rects = page.eval_on_selector_all(
        '#treemap > .tm[data-depth="0"]',
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return [r.width * r.height, Number(e.dataset.bytes)]; })",
    )
    assert len(rects) >= 2
    box = page.eval_on_selector("#treemap", "e => e.clientWidth * e.clientHeight")
    total = page.evaluate(
        "JSON.parse(document.getElementById('layerscope-data').textContent).tree[1]"
    )
    big = [(area, box * nbytes / total) for area, nbytes in rects if box * nbytes / total > 400]
    assert len(big) >= 2
    for area, expected in big:  # (a rectangle never shrinks below its 1px borders)
        assert area == pytest.approx(expected, rel=0.01)
    # Click the biggest directory: its children fill the map, the breadcrumbs grow.
    first = page.locator('#treemap > .tm.dir[data-depth="0"]').first
    opened = int(first.get_attribute("data-bytes") or 0)
    first.click(position={"x": 5, "y": 5})
    assert page.locator("#crumbs button").count() == 2
    after = page.eval_on_selector_all(
        '#treemap > .tm[data-depth="0"]', "els => els.map(e => Number(e.dataset.bytes))"
    )
    assert sum(after) == opened
    # Hover shows the path and the exact bytes.
    page.locator("#treemap .tm:not(.dir)").first.hover()
    tip = page.inner_text("#tip")
    assert " bytes)" in tip and "layer " in tip
    # Escape goes up one level, Enter opens a focused directory again.
    page.keyboard.press("Escape")
    assert page.locator("#crumbs button").count() == 1
    page.locator('#treemap > .tm.dir[data-depth="0"]').first.focus()
    page.keyboard.press("Enter")
    assert page.locator("#crumbs button").count() == 2
    # Back to the root.
    page.locator("#crumbs button").first.click()
    assert page.locator("#crumbs button").count() == 1
    assert page.locator('#treemap > .tm[data-depth="0"]').count() == len(rects)
    # The findings filter.
    rows = page.locator("#findings tr.finding")
    assert rows.count() == 4
    page.select_option("#filter-rule", "LS302")
    visible = page.locator("#findings tr.finding:visible")
    assert visible.count() == 1
    assert visible.first.get_attribute("data-rule") == "LS302"
    page.select_option("#filter-rule", "")
    page.select_option("#filter-layer", "3")
    assert {r.get_attribute("data-layer") for r in visible.all()} == {"3"}
    assert "of 4 findings" in page.inner_text("#finding-count")
    page.screenshot(path=str(tmp_path / "leftovers.png"))
    assert loaded.errors == []
    assert loaded.requests == []


def test_hostile_names_render_as_text(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "hostile.html"
    out.write_text(render("html", hostile_analysis()), encoding="utf-8")
    loaded = _open(browser, out)
    page = loaded.page
    assert page.evaluate("window.__pwned === undefined")
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 2
    assert page.title() == "layerscope: evil/</script>:latest"
    # Drill down to app/ and read the names as text.
    page.locator('#treemap > .tm.dir[data-depth="0"]').first.click(position={"x": 5, "y": 5})
    labels = page.eval_on_selector_all("#treemap .tm", "els => els.map(e => e._info.path)")
    assert '/app/<img src=x onerror="window.__pwned=2">.png' in labels
    assert "/app/evil\\u202etxt.exe" in labels
    assert "/app/raw-\\xff\\xfe-bytes" in labels
    command = page.inner_text("#layers")
    assert "window.__pwned=3" in command
    assert loaded.errors == []
    assert loaded.requests == []


def test_no_network_even_when_asked(browser: Any, tmp_path: Path) -> None:
    """The policy itself refuses a request the page might make."""
    out = _report(tmp_path, "duplicates")
    loaded = _open(browser, out)
    page = loaded.page
    blocked = page.evaluate(
        "() => fetch('https://example.com/x').then(() => 'fetched', e => 'refused: ' + e)"
    )
    assert blocked.startswith("refused")
    assert loaded.requests == [], "the policy refused it before any request left the page"


def test_diff_page_draws(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "diff.html"
    samples = ROOT / "sample_images"
    old, new = samples / "removed-later.tar.gz", samples / "package-caches.tar.gz"
    assert main(["diff", str(old), str(new), "-o", str(out)]) == 0
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(out.as_uri())
    page.wait_for_selector("#diff-dirs")
    dirs = page.inner_text("#diff-dirs")
    assert "/root/.cache" in dirs and "+200.0 KiB" in dirs and "-300.0 KiB" in dirs
    assert page.locator("#diff-layers tr").count() == 4  # a header and three changed layers
    assert page.locator("#new-findings tr").count() == 3
    assert page.title().startswith("layerscope diff: layerscope-sample/removed-later:latest")
    assert errors == []

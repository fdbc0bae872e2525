"""The pane borders follow the focus and the theme, set on the panes alone
(no :focus-within, which restyled every widget inside them)."""

from __future__ import annotations

import asyncio

from layerscope.analysis import Analysis
from layerscope.tui.app import LayerscopeApp


def test_the_focused_pane_has_the_accent_border(analysis: Analysis) -> None:
    """The pane borders follow the focus (and the theme) without :focus-within."""
    from textual.color import Color

    app = LayerscopeApp.for_analysis(analysis)

    async def main() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.pause()

            def borders() -> dict[str, Color]:
                return {
                    pid: app.screen.query_one(f"#{pid}").styles.border_top[1]
                    for pid in ("layers", "waste", "treepane")
                }

            for key, pane in (("2", "treepane"), ("1", "layers"), ("3", "waste"), ("t", "waste")):
                await pilot.press(key)
                await pilot.pause()
                accent = Color.parse(app.get_css_variables()["accent"])
                got = borders()
                assert got[pane] == accent, (key, got)
                assert all(c != accent and c.a < 0.5 for p, c in got.items() if p != pane)
            assert not app.current_theme.dark  # t switched to the light theme
            await pilot.press("q")

    asyncio.run(main())

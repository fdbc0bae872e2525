"""Counts in messages: singular for one, plural otherwise."""

from layerscope.counts import agree, counted


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert counted(1, "file") == "1 file"
    assert [counted(n, "layer") for n in (0, 2, 21)] == ["0 layers", "2 layers", "21 layers"]
    assert counted(3, "log file") == "3 log files"
    assert (
        counted(2, "entry", "entries") == "2 entries"
        and counted(1, "entry", "entries") == "1 entry"
    )
    assert [agree(n, "was", "were") for n in (0, 1, 2)] == ["were", "was", "were"]

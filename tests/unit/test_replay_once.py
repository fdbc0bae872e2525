"""One replay per analysis: the duplicate-candidate check of a read and the
analysis replay the same layers once between them (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerscope import pipeline, union
from layerscope.model import Entry, EntryType
from layerscope.union import replay
from tests.builders import docker_archive, file, layer_tar, wh

SAMPLES = Path(__file__).resolve().parents[2] / "sample_images"


def test_the_same_tuples_are_replayed_once() -> None:
    layers = (
        (Entry("a", EntryType.FILE, 5000), Entry("b", EntryType.FILE, 5000)),
        (Entry("a", EntryType.WHITEOUT),),
    )
    first = replay(layers)
    assert replay(iter(layers)) is first
    # Equal but other objects, or mutable lists: replayed afresh.
    again = replay(tuple(tuple(e for e in layer) for layer in layers))
    assert again is not first and again.final == first.final
    as_lists = [list(layer) for layer in layers]
    assert replay(as_lists) is not replay(as_lists)
    assert set(first.final) == {"b"}


def _archive(tmp_path: Path) -> str:
    # Two large files of one size, unhashed in the first read of a plain
    # archive: the read replays to see whether both are visible (one is not).
    raw = docker_archive(
        [
            layer_tar([file("a", b"a" * 100_000), file("b", b"b" * 100_000)]),
            layer_tar([wh("b")]),
        ]
    )
    path = tmp_path / "image.tar"
    path.write_bytes(raw)
    return str(path)


@pytest.mark.parametrize("sample", ["duplicates.tar.gz", "overwritten.tar.gz", "crafted"])
def test_a_pipeline_run_replays_once(
    sample: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = []
    real = union._replay

    def counting(layers):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(layers)

    monkeypatch.setattr(union, "_replay", counting)
    target = _archive(tmp_path) if sample == "crafted" else str(SAMPLES / sample)
    result = pipeline.run(pipeline.Request(target=target, attribute_base=False))
    assert result.summary.file_count > 0
    assert len(calls) == 1

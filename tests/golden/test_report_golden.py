"""Golden files lock the table and JSON reports of every sample image: the
bytes are the contract. After an intended change, regenerate with
``LAYERSCOPE_UPDATE_GOLDEN=1 python -m pytest tests/golden`` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from layerscope.analysis import analyze
from layerscope.report import render
from layerscope.sources import SourceOptions
from layerscope.sources.rehash import open_image_with_digests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "reports"
SAMPLES = sorted(p.name.removesuffix(".tar.gz") for p in (ROOT / "sample_images").glob("*.tar.gz"))


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("sample", SAMPLES)
def test_golden(sample: str, fmt: str) -> None:
    image = open_image_with_digests(
        str(ROOT / "sample_images" / f"{sample}.tar.gz"), source="auto", options=SourceOptions()
    )
    text = render(fmt, analyze(image))
    golden = HERE / f"{sample}.{'txt' if fmt == 'table' else 'json'}"
    if os.environ.get("LAYERSCOPE_UPDATE_GOLDEN") == "1":
        HERE.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run with LAYERSCOPE_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")

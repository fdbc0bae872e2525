"""Golden files lock every report format of every sample image: the
bytes are the contract. After an intended change, regenerate with
``LAYERSCOPE_UPDATE_GOLDEN=1 python -m pytest tests/golden`` and review the diff."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from layerscope.cli import main

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "reports"
SUFFIX = {
    "table": "txt",
    "json": "json",
    "markdown": "md",
    "sarif": "sarif",
    "junit": "junit.xml",
    "codequality": "codequality.json",
}
SAMPLES = sorted(p.name.removesuffix(".tar.gz") for p in (ROOT / "sample_images").glob("*.tar.gz"))


@pytest.mark.parametrize("fmt", list(SUFFIX))
@pytest.mark.parametrize("sample", SAMPLES)
def test_golden(sample: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    code = main([str(ROOT / "sample_images" / f"{sample}.tar.gz"), "--format", fmt, "-o", str(out)])
    capsys.readouterr()
    assert code == 0
    text = out.read_text(encoding="utf-8")
    golden = HERE / f"{sample}.{SUFFIX[fmt]}"
    if os.environ.get("LAYERSCOPE_UPDATE_GOLDEN") == "1":
        HERE.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run with LAYERSCOPE_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")

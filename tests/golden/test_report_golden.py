"""Golden files lock every report format of every sample image: the
bytes are the contract. After an intended change, regenerate with
``LAYERSCOPE_UPDATE_GOLDEN=1 python -m pytest tests/golden`` and review the diff.

The HTML report's golden file is the data it embeds (pretty-printed JSON): the
page around it is the same for every image (tests/report_html checks it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from layerscope.cli import main
from layerscope.report import FORMATS

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "reports"
SUFFIX = {
    "table": "txt",
    "json": "json",
    "markdown": "md",
    "sarif": "sarif",
    "html": "html-data.json",
    "junit": "junit.xml",
    "codequality": "codequality.json",
}
SAMPLES = sorted(p.name.removesuffix(".tar.gz") for p in (ROOT / "sample_images").glob("*.tar.gz"))


def html_data(page: str) -> str:
    """The JSON an HTML report embeds, pretty-printed for a readable diff."""
    start = page.index(_DATA_OPEN) + len(_DATA_OPEN)
    data = json.loads(page[start : page.index("</script>", start)])
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


_DATA_OPEN = '<script type="application/json" id="layerscope-data">'


def test_every_format_has_a_golden_suffix() -> None:
    assert set(SUFFIX) == set(FORMATS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("sample", SAMPLES)
def test_golden(sample: str, fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    code = main([str(ROOT / "sample_images" / f"{sample}.tar.gz"), "--format", fmt, "-o", str(out)])
    capsys.readouterr()
    assert code == 0
    text = out.read_text(encoding="utf-8")
    if fmt == "html":
        text = html_data(text)
    golden = HERE / f"{sample}.{SUFFIX[fmt]}"
    if os.environ.get("LAYERSCOPE_UPDATE_GOLDEN") == "1":
        HERE.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}: run with LAYERSCOPE_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")

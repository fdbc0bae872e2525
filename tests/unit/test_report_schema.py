"""Every JSON report validates against the shipped schema; the bytes are the contract."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from layerscope.analysis import analyze
from layerscope.report import render
from tests.builders import d, file, hard, image_of, opq, sym, wh

SCHEMA = json.loads(
    resources.files("layerscope.report").joinpath("schema-v1.json").read_text(encoding="utf-8")
)


def validate(report: dict[str, object]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize(
    "layers",
    [
        [],
        [[file("a", 10)]],
        [
            [d("tmp"), file("tmp/x", 99), sym("l", "tmp/x"), hard("h", "tmp/x")],
            [wh("tmp")],
            [d("tmp"), opq("tmp"), file("tmp/y", 1)],
            [file("h", 5)],
        ],
    ],
)
def test_reports_validate(layers: list[list[object]]) -> None:
    report = json.loads(render("json", analyze(image_of(*layers))))
    validate(report)
    s = report["summary"]
    assert s["wasted_bytes"] == s["total_bytes"] - s["final_bytes"]
    # download_bytes is null where the source does not know it (never a guess).
    assert all(isinstance(v, int) for k, v in s.items() if k.endswith("_bytes") and k[0] != "d")
    assert s["download_bytes"] == (None if layers else 0)  # plain tars: not known


def test_non_utf8_and_control_names_stay_valid_json() -> None:
    raw_name = b"bad\xff\xfename".decode("utf-8", "surrogateescape")
    img = image_of([d("d"), file(f"d/{raw_name}", 50), file("d/esc\x1b[31mred\n", 60)], [wh("d")])
    text = render("json", analyze(img))
    text.encode("utf-8")  # no lone surrogates survive
    report = json.loads(text)
    validate(report)
    paths = report["findings"][0]["paths"]
    assert "/d/esc\x1b[31mred\n" in paths  # exact (JSON escapes it)
    assert "/d/bad\\xff\\xfename" in paths
    table = render("table", analyze(img))
    assert "\x1b" not in table

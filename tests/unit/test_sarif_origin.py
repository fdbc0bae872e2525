"""SARIF results carry the same origin (base/own) as the JSON report's findings."""

from __future__ import annotations

import json

from layerscope.analysis import analyze
from layerscope.base.attribution import attribute
from layerscope.base.boundary import Boundary, Signal
from layerscope.report import render
from tests.builders import d, file, image_of, wh


def test_sarif_origin_matches_json() -> None:
    img = image_of(
        [d("tmp"), file("tmp/base-junk", 5000)],
        [wh("tmp/base-junk")],
        [d("app"), file("app/junk", 7000)],
        [wh("app/junk")],
    )
    result = attribute(analyze(img), Boundary(2, Signal.FLAG, "base:1"))
    report = json.loads(render("json", result))
    sarif = json.loads(render("sarif", result))
    by_rule_bytes = {(f["rule"], f["bytes"]): f["origin"] for f in report["findings"]}
    results = sarif["runs"][0]["results"]
    origins = {(r["ruleId"], r["properties"]["bytes"]): r["properties"]["origin"] for r in results}
    assert origins == by_rule_bytes
    assert sorted(origins.values()) == ["base", "own"]

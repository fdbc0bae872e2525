"""SARIF 2.1.0 output validates against the official OASIS schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.report import render
from layerscope.rules import all_rules
from tests.builders import file, image_of, wh

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"


def validate_sarif(doc: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless ``doc`` is valid SARIF 2.1.0."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    validator.validate(doc)


@pytest.fixture(scope="module")
def result() -> Analysis:
    image = image_of(
        [file("keep", 1000), file("tmp/a b%c", 4000), file("opt/x", 3000)],
        [file("opt/x", 3000)],
        [wh("tmp/a b%c")],
        history=["RUN a", "RUN b", "RUN c"],
    )
    return analyze(image)


def test_the_schema_is_the_official_one() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")


def test_sarif_validates_with_one_result_per_finding(result: Analysis) -> None:
    doc = json.loads(render("sarif", result))
    validate_sarif(doc)
    run = doc["runs"][0]
    assert doc["version"] == "2.1.0"
    assert len(result.findings) >= 2
    assert len(run["results"]) == len(result.findings)
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert ids == [r.id for r in all_rules()]
    for res, f in zip(run["results"], result.findings, strict=True):
        assert res["ruleId"] == f.rule
        assert ids[res["ruleIndex"]] == f.rule
        assert res["properties"]["bytes"] == f.bytes
        [loc] = res["locations"]
        assert loc["logicalLocations"][0]["name"] == f"layer {f.layer}"
        # No Dockerfile known: the result is about the image, not a made-up line 1.
        assert "region" not in loc["physicalLocation"]
        assert loc["logicalLocations"][-1]["name"] == (result.image.reference or result.image.id)
    assert run["properties"]["summary"]["total_bytes"] == result.summary.total_bytes


def test_dockerfile_locations_are_physical(result: Analysis) -> None:
    first = dataclasses.replace(result.findings[0], location=("docker/My Dockerfile", 7))
    located = dataclasses.replace(
        result, findings=(first, *result.findings[1:]), dockerfile="docker/My Dockerfile"
    )
    doc = json.loads(render("sarif", located))
    validate_sarif(doc)
    locs = [r["locations"][0]["physicalLocation"] for r in doc["runs"][0]["results"]]
    assert locs[0] == {
        "artifactLocation": {"uri": "docker/My%20Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 7},
    }
    assert doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/")
    # The Dockerfile cannot be read here: no line of its own -> the image.
    assert "region" not in locs[1]


def test_invalid_sarif_is_caught() -> None:
    with pytest.raises(jsonschema.ValidationError):
        validate_sarif({"version": "2.1.0", "runs": [{"results": []}]})

"""JSON documents read as Go's encoding/json reads them into the engine's structs."""

from __future__ import annotations

import pytest

from layerscope.errors import ArchiveError
from layerscope.sources.interface import parse_json
from layerscope.sources.jsonshape import CONFIG, DOCKER_MANIFEST, OCI_DOCUMENT, check


def test_wrong_types_name_the_field() -> None:
    cases = [
        ([{"RepoTags": 5}], DOCKER_MANIFEST, r"\[0\]\.RepoTags must be a list, not a number"),
        ({"annotations": ["a"]}, OCI_DOCUMENT, r"annotations must be an object, not a list"),
        ({"config": "x"}, OCI_DOCUMENT, r"config must be an object, not a string"),
        ({"layers": [{"size": 1.5}]}, OCI_DOCUMENT, r"layers\[0\]\.size must be an integer"),
        ({"layers": [{"size": True}]}, OCI_DOCUMENT, r"size must be an integer, not a boolean"),
        ({"os": ["linux"]}, CONFIG, r"os must be a string, not a list"),
        ({"history": [{"empty_layer": "true"}]}, CONFIG, r"history\[0\]\.empty_layer"),
        ({"config": {"Labels": {"k": 1}}}, CONFIG, r"config\.Labels\.k must be a string"),
        ({}, DOCKER_MANIFEST, r"the document must be a list"),
    ]
    for doc, shape, message in cases:
        with pytest.raises(ArchiveError, match=message):
            check(doc, shape, "doc")


def test_size_past_int64_is_refused() -> None:
    with pytest.raises(ArchiveError, match="out of range"):
        check({"config": {"size": 1 << 63}}, OCI_DOCUMENT, "doc")
    assert check({"config": {"size": -(1 << 63)}}, OCI_DOCUMENT, "doc")["config"]["size"]


def test_go_rules_nulls_case_and_strslice() -> None:
    doc = check(
        {
            "OS": "linux",
            "Architecture": None,
            "architecture": "amd64",
            "config": {"cmd": "sh", "Env": ["A=1", None], "Labels": {"k": None}},
            "rootfs": None,
            "x-unknown": [1, {"any": "thing"}],
        },
        CONFIG,
        "cfg",
    )
    assert doc["os"] == "linux" and doc["architecture"] == "amd64"
    assert doc["config"] == {"Cmd": ["sh"], "Env": ["A=1", ""], "Labels": {"k": ""}}
    assert doc["rootfs"] is None and doc["x-unknown"] == [1, {"any": "thing"}]
    # a later spelling overrides an earlier one; null leaves the field as it was
    assert check({"os": "a", "OS": "b"}, CONFIG, "c")["os"] == "b"
    assert check({"os": "a", "OS": None}, CONFIG, "c")["os"] == "a"


def test_parse_json_accepts_what_go_accepts() -> None:
    assert parse_json(b'\n  {"a": 1}\n', "doc") == {"a": 1}
    assert parse_json(b'{"a": "caf\xe9"}', "doc") == {"a": "caf\ufffd"}
    for bad in (b'{"a": NaN}', b"[Infinity]", b"\xef\xbb\xbf{}", b"{} x"):
        with pytest.raises(ArchiveError, match="not valid JSON"):
            parse_json(bad, "doc")

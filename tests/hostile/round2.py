"""The second hostile round (issue 19): JSON of the wrong type, report
encoding, unbounded tar metadata, sizes, the engine's tar semantics, zstd
skippable frames, Docker 25+ ambiguity, ``-o`` onto the input, and
``--dockerfile`` bounds.

Importing this module adds its cases to :data:`tests.hostile.corpus.CASES`.
Every input is built here from raw headers (``tarcraft``), never extracted.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard

from tests.hostile.corpus import READ, REFUSED, SIMPLE, _archive, _paths, _warned, case
from tests.hostile.tarcraft import (
    BLOCK,
    END,
    Blob,
    config_json,
    docker_archive,
    header,
    member,
    pad,
    pax_member,
    sha256,
    tar,
    write_tar,
)

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"

Json = dict[str, Any]


def _oci(
    d: Path,
    layers: list[bytes],
    *,
    index: Callable[[Json], object] | None = None,
    manifest: Callable[[Json], object] | None = None,
    config: bytes | None = None,
    dump: Callable[[object], bytes] = lambda v: json.dumps(v).encode(),
    archive: bool = False,
) -> list[str]:
    """An OCI layout (``archive``: as an oci-archive tar), each document
    passed through ``index``/``manifest`` (which may return another value)
    and written by ``dump``."""
    blobs: dict[str, bytes] = {sha256(raw): raw for raw in layers}
    cfg = config if config is not None else config_json([sha256(raw) for raw in layers])
    blobs[sha256(cfg)] = cfg
    man: Json = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
        "layers": [
            {"mediaType": MEDIA_LAYER, "digest": sha256(raw), "size": len(raw)} for raw in layers
        ],
    }
    man_value = manifest(man) if manifest is not None else man
    raw_man = dump(man if man_value is None else man_value)
    blobs[sha256(raw_man)] = raw_man
    idx: Json = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": MEDIA_MANIFEST, "digest": sha256(raw_man), "size": 1}],
    }
    idx_value = index(idx) if index is not None else idx
    files = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": dump(idx if idx_value is None else idx_value),
        **{f"blobs/sha256/{k[7:]}": v for k, v in blobs.items()},
    }
    if archive:
        write_tar(d / "img.oci.tar", [(k, Blob.of(v)) for k, v in files.items()])
        return [str(d / "img.oci.tar"), "--format", "json"]
    for rel, data in files.items():
        (d / "layout" / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / "layout" / rel).write_bytes(data)
    return [str(d / "layout"), "--format", "json"]


def _docker_manifest(tags: object = None, **entry: object) -> Callable[[str], bytes]:
    """A manifest.json for the one-layer SIMPLE image, ``entry`` overriding."""

    def make(cfg_name: str) -> bytes:
        base: Json = {"Config": cfg_name, "RepoTags": tags, "Layers": [f"{0:064x}/layer.tar"]}
        base.update(entry)
        return json.dumps([base]).encode()

    return make


def _docker(d: Path, manifest: Callable[[str], bytes], config: bytes | None = None) -> list[str]:
    cfg = config if config is not None else config_json([sha256(SIMPLE)])
    return _archive(d, [SIMPLE], config=cfg, manifest=manifest(sha256(cfg)[7:] + ".json"))


def _config_with(**fields: object) -> bytes:
    cfg = json.loads(config_json([sha256(SIMPLE)]))
    cfg.update(fields)
    return json.dumps(cfg).encode()


# -- JSON of the wrong type: exit 2 naming the field, never a traceback ---------------

for _tags, _label in ((5, "int"), ({"a": "b"}, "object"), ([1], "list-of-int")):
    case(f"json-repotags-{_label}", REFUSED, r"manifest\.json: \[0\]\.RepoTags")(
        lambda d, t=_tags: _docker(d, _docker_manifest(t))
    )


@case("json-layers-string", REFUSED, r"manifest\.json: \[0\]\.Layers must be a list")
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(None, Layers="x/layer.tar"))


@case("json-index-annotations-list", REFUSED, r"index\.json: annotations must be an object")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], index=lambda i: i.update(annotations=["a"]))


@case("json-index-mediatype-object", REFUSED, r"index\.json: mediaType must be a string")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], index=lambda i: i.update(mediaType={"x": 1}))


@case("json-index-descriptor-annotations", REFUSED, r"manifests\[0\]\.annotations")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], index=lambda i: i["manifests"][0].update(annotations=[1]))


@case("json-index-platform-os-list", REFUSED, r"manifests\[0\]\.platform\.os must be a string")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], index=lambda i: i["manifests"][0].update(platform={"os": ["l"]}))


@case("json-manifest-config-string", REFUSED, r"manifest sha256:\w+: config must be an object")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], manifest=lambda m: m.update(config="sha256:abc"))


@case("json-manifest-layer-size-float", REFUSED, r"layers\[0\]\.size must be an integer")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], manifest=lambda m: m["layers"][0].update(size=1.5))


@case("json-manifest-in-archive-config-string", REFUSED, r"config must be an object")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], manifest=lambda m: m.update(config="x"), archive=True)


@case("json-config-os-list", REFUSED, r"image config: os must be a string, not a list")
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(), _config_with(os=["linux"]))


@case("json-config-history-not-objects", REFUSED, r"history\[0\] must be an object")
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(), _config_with(history=["RUN x"]))


@case("json-config-empty-layer-string", REFUSED, r"history\[0\]\.empty_layer must be a boolean")
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(), _config_with(history=[{"empty_layer": "true"}]))


@case("json-config-env-object", REFUSED, r"config\.Env must be a list")
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(), _config_with(config={"Env": {"A": "1"}}))


@case("json-config-labels-int-values", REFUSED, r"config\.Labels\.a must be a string")
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(), _config_with(config={"Labels": {"a": 1}}))


@case("json-config-nan", REFUSED, r"not valid JSON")
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(), b'{"os": "linux", "x": NaN}')


@case("json-config-size-out-of-int64", REFUSED, r"size is out of range")
def _(d: Path) -> list[str]:
    return _oci(d, [SIMPLE], manifest=lambda m: m["layers"][0].update(size=1 << 64))


# -- JSON Go accepts --------------------------------------------------------------------


def _pretty(value: object) -> bytes:
    return b"\n  " + json.dumps(value, indent=2).encode() + b"\n"


def _simple_read(report: Json) -> None:
    assert report["layers"][0]["entry_count"] == 2, report["layers"]
    assert report["image"]["os"] == "linux"


case("json-oci-archive-pretty-printed", READ, check=_simple_read)(
    lambda d: _oci(
        d, [SIMPLE], dump=_pretty, archive=True, config=_pretty(json.loads(config_json([])))
    )
)
case("json-oci-layout-pretty-printed", READ, check=_simple_read)(
    lambda d: _oci(d, [SIMPLE], dump=_pretty, config=_pretty(json.loads(config_json([]))))
)


def _tagged(report: Json) -> None:
    assert report["image"]["reference"] == "folded:tag", report["image"]
    _simple_read(report)


@case("json-keys-case-folded", READ, check=_tagged)
def _(d: Path) -> list[str]:
    def man(cfg_name: str) -> bytes:
        entry = {"config": cfg_name, "repotags": ["folded:tag"], "LAYERS": [f"{0:064x}/layer.tar"]}
        return json.dumps([entry]).encode()

    cfg = json.loads(config_json([sha256(SIMPLE)]))
    cfg["OS"] = cfg.pop("os")
    return _docker(d, man, json.dumps(cfg).encode())


@case("json-nulls-leave-fields-unset", READ)
def _(d: Path) -> list[str]:
    cfg = _config_with(variant=None, config=None, history=None, rootfs={"diff_ids": None})
    return _docker(d, _docker_manifest(None, Parent=None), cfg)


@case("json-invalid-utf8-in-strings", READ)
def _(d: Path) -> list[str]:
    cfg = _config_with(history=[{"created_by": "RUN caf\u00e9"}]).replace(b"\xc3\xa9", b"\xe9")
    return _docker(d, _docker_manifest(), cfg)


@case("json-strslice-cmd-string", READ)
def _(d: Path) -> list[str]:
    return _docker(d, _docker_manifest(), _config_with(config={"Cmd": "sh", "Entrypoint": None}))


# -- report encoding --------------------------------------------------------------------


def _created_escaped(expected: str) -> Callable[[Json], None]:
    """The report's ``created``; test_hostile checks the JSON text carries no
    raw C1 control or surrogate (a C1 character is a ``\\u009b`` escape)."""

    def check(report: Json) -> None:
        created = report["history"][0]["created"]
        assert created == expected, created

    return check


@case("report-created-lone-surrogate", READ, check=_created_escaped("2024\\ud800"))
def _(d: Path) -> list[str]:
    cfg = _config_with(history=[{"created": "2024\ud800", "created_by": "RUN x"}])
    return _docker(d, _docker_manifest(), cfg)


@case("report-created-escaped-byte", READ, check=_created_escaped("2024\\x9b[31m"))
def _(d: Path) -> list[str]:
    cfg = _config_with(history=[{"created": "2024\udc9b[31m", "created_by": "RUN x"}])
    return _docker(d, _docker_manifest(), cfg)


@case("report-created-c1-control", READ, check=_created_escaped("2024\u009b[31m"))
def _(d: Path) -> list[str]:
    cfg = _config_with(history=[{"created": "2024\u009b[31m", "created_by": "RUN x"}])
    return _docker(d, _docker_manifest(), cfg)


for _fmt in ("table", "markdown", "sarif"):
    case(
        f"report-config-strings-{_fmt}", READ, tags=frozenset({"text"} if _fmt != "sarif" else ())
    )(
        lambda d, fmt=_fmt: [
            _docker(
                d,
                _docker_manifest(["t\u009b:x"]),
                _config_with(
                    history=[{"created": "\ud800\udc9b\u009b", "created_by": "RUN \u2029"}]
                ),
            )[0],
            "--format",
            fmt,
        ]
    )

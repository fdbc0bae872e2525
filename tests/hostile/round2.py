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

from tests.hostile.corpus import READ, REFUSED, SIMPLE, _archive, _warned, case
from tests.hostile.tarcraft import (
    BLOCK,
    END,
    Blob,
    config_json,
    fifo,
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


# -- tar metadata: only what Go keeps, bounded ------------------------------------------


def _rechecksum(hdr: bytes, patches: dict[int, bytes]) -> bytes:
    """``hdr`` (a header block, maybe followed by its data) with bytes of the
    header replaced at offsets and its checksum made right again."""
    h = bytearray(hdr[:BLOCK])
    for at, data in patches.items():
        h[at : at + len(data)] = data
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h) + hdr[BLOCK:]


def _pax_body(records: dict[str, str]) -> bytes:
    return pax_member(records)[BLOCK:]


def _removed(path: str, size: int) -> Callable[[Json], None]:
    """The report finds ``path`` removed later, ``size`` bytes."""

    def check(report: Json) -> None:
        hits = [f for f in report["findings"] if path in f["paths"]]
        assert hits and hits[0]["bytes"] == size, report["findings"]
        assert all(f["bytes"] >= 0 for f in report["findings"])
        assert all(layer["content_bytes"] >= 0 for layer in report["layers"])

    return check


def _pax_chain_layer(count: int) -> bytes:
    """gzip: ``count`` pax headers of ~1 MiB each, then one 1 MiB file. The
    chunk is compressed once and repeated (multi-member gzip)."""
    filler = bytes(random_letters(4096)) * 255
    chunk = pax_member({"LAYERSCOPE.filler": filler.decode()})
    assert len(chunk) < (1 << 20) + 2 * BLOCK
    last = pax_member({"path": "chain/last"})
    data = bytes(1 << 20)
    tail = last + header("chain/ignored", size=len(data)) + data + END
    one = gzip.compress(chunk, compresslevel=6, mtime=0)
    return one * count + gzip.compress(tail, mtime=0)


def random_letters(n: int) -> bytes:
    import random

    r = random.Random(19)
    return bytes(r.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _pax_chain(d: Path, count: int) -> list[str]:
    return _archive(d, [_pax_chain_layer(count), tar(member("chain/.wh.last"))])


case(
    "pax-chain-1200-headers-of-1mb",
    READ,
    check=_removed("/chain/last", 1 << 20),
    cpu_seconds=30,
    max_rss_mb=400,
    tags=frozenset({"slow"}),
)(lambda d: _pax_chain(d, 1200))
case("pax-chain-meta-limit", REFUSED, r"bytes of tar metadata .*max-meta-bytes", max_rss_mb=300)(
    lambda d: [*_pax_chain(d, 80), "--limit", "max-meta-bytes=64M"]
)


@case("pax-chain-only-last-header-counts", READ, check=_removed("/plain", 100))
def _(d: Path) -> list[str]:
    chain = pax_member({"path": "from-first-header", "uid": "7"}) + pax_member({"mtime": "5"})
    layer = tar(chain + header("plain", size=100) + bytes(100) + pad(100))
    return _archive(d, [layer, tar(member(".wh.plain"))])


@case("pax-global-header-not-applied", READ, check=_removed("/data/blob", 1 << 20))
def _(d: Path) -> list[str]:
    blob = member("data/blob", bytes(1 << 20))
    glob = _rechecksum(pax_member({"path": "elsewhere/x"}), {156: b"g"})
    return _archive(d, [tar(member("data/", typ=b"5"), blob), tar(glob, member("data/.wh.blob"))])


@case("pax-global-header-95k-records", READ, cpu_seconds=25, max_rss_mb=400)
def _(d: Path) -> list[str]:
    records = {f"{i:x}": "" for i in range(95_000)}  # under the 1 MiB header limit
    glob = _rechecksum(pax_member(records), {156: b"g"})
    files = b"".join(header(f"f{i:06d}") for i in range(60_000))
    return _archive(d, [glob + files + END])


@case("pax-global-header-drops-pending-local", READ, check=_removed("/kept", 10))
def _(d: Path) -> list[str]:
    local = pax_member({"path": "renamed"})
    glob = _rechecksum(pax_member({"comment": "g"}), {156: b"g"})
    layer = tar(local, glob, header("kept", size=10) + bytes(10) + pad(10))
    return _archive(d, [layer, tar(member(".wh.kept"))])


# -- sizes: realsize and sparse maps under the same limits as sizes -------------------


def _old_sparse(realsize_field: bytes, fragments: list[tuple[int, int]], data: int = 0) -> bytes:
    patches = {483: realsize_field}
    for i, (off, length) in enumerate(fragments):
        patches[386 + 24 * i] = b"%011o\x00" % off
        patches[398 + 24 * i] = b"%011o\x00" % length
    return _rechecksum(header("sparse.img", size=data, typ=b"S"), patches) + bytes(data) + pad(data)


_NEGATIVE = b"\xff" * 12  # base-256: -1


def _waste_10mib() -> bytes:
    return tar(member("big", bytes(10 << 20)))


@case("sparse-negative-realsize", REFUSED, r"sparse member declares an impossible size -1")
def _(d: Path) -> list[str]:
    return _archive(d, [tar(_old_sparse(_NEGATIVE, []))])


@case("sparse-negative-realsize-hides-waste", REFUSED, r"impossible size", max_rss_mb=300)
def _(d: Path) -> list[str]:
    layers: list[bytes | Blob] = [
        _waste_10mib(),
        tar(member(".wh.big"), _old_sparse(_NEGATIVE, [])),
    ]
    return [*_archive(d, layers), "--max-wasted", "1M", "--ci"]


@case("sparse-realsize-2-pow-70", REFUSED, r"impossible size 1180591620717411303424")
def _(d: Path) -> list[str]:
    pax = pax_member({"GNU.sparse.realsize": str(1 << 70), "GNU.sparse.major": "0"})
    return _archive(d, [tar(pax + member("sparse.img", b"x" * 10))])


@case("sparse-map-past-realsize", REFUSED, r"invalid sparse map")
def _(d: Path) -> list[str]:
    return _archive(d, [tar(_old_sparse(b"%011o\x00" % 100, [(50, 80)], data=512))])


@case("sparse-map-overlapping", REFUSED, r"invalid sparse map")
def _(d: Path) -> list[str]:
    pax = pax_member({"GNU.sparse.size": "100", "GNU.sparse.map": "0,50,40,10"})
    return _archive(d, [tar(pax + member("s", bytes(60)))])


def _sparse_size(size: int) -> Callable[[Json], None]:
    def check(report: Json) -> None:
        assert report["layers"][0]["content_bytes"] == size, report["layers"][0]

    return check


@case("sparse-valid-old-gnu", READ, check=_sparse_size(1 << 20))
def _(d: Path) -> list[str]:
    return _archive(d, [tar(_old_sparse(b"%011o\x00" % (1 << 20), [(0, 512)], data=512))])


# -- a lone zero block --------------------------------------------------------------------

_ZERO = bytes(BLOCK)


@case("zero-block-then-members", REFUSED, r"lone zero block in mid-archive")
def _(d: Path) -> list[str]:
    layer = member("a", b"1") + _ZERO + member("hidden", bytes(1 << 20)) + END
    return _archive(d, [layer])


@case("zero-block-then-end-of-stream", READ, check=_sparse_size(1))
def _(d: Path) -> list[str]:
    return _archive(d, [member("a", b"1") + _ZERO])


# -- zstd skippable frames -------------------------------------------------------------


def _skippable(payload: bytes, magic: int = 0x184D2A50) -> bytes:
    return struct.pack("<II", magic, len(payload)) + payload


@case("zstd-skippable-frame-first", READ, check=_sparse_size(len(b"hello world\n")))
def _(d: Path) -> list[str]:
    z = zstandard.ZstdCompressor()
    layer = _skippable(b"metadata") + z.compress(SIMPLE[:1024]) + _skippable(b"", 0x184D2A5F)
    layer += z.compress(SIMPLE[1024:])
    return _archive(d, [layer])


@case("zstd-skippable-frame-first-oci", READ, check=_sparse_size(len(b"hello world\n")))
def _(d: Path) -> list[str]:
    layer = _skippable(b"x" * 100, 0x184D2A55) + zstandard.ZstdCompressor().compress(SIMPLE)
    return _oci(d, [layer])


# -- Docker 25+: index.json and manifest.json ------------------------------------------


def _docker25(d: Path, *, disagree: bool = False, link: bool = False) -> list[str]:
    """What Docker 25+ `docker save` writes: an OCI layout plus manifest.json.
    ``disagree``: manifest.json names another image than index.json;
    ``link``: manifest.json is a symlink member to the real document."""
    classic = tar(member("classic", bytes(4096)))
    other = tar(member("containerd", bytes(8192)))
    members: dict[str, bytes] = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}'}

    def image(layer: bytes) -> tuple[str, str]:
        cfg = config_json([sha256(layer)])
        man = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": {"mediaType": MEDIA_CONFIG, "digest": sha256(cfg), "size": len(cfg)},
            "layers": [{"mediaType": MEDIA_LAYER, "digest": sha256(layer), "size": len(layer)}],
        }
        raw = json.dumps(man).encode()
        for blob in (layer, cfg, raw):
            members[f"blobs/sha256/{sha256(blob)[7:]}"] = blob
        return sha256(raw), sha256(cfg)

    index_manifest, _ = image(other if disagree else classic)
    _, classic_cfg = image(classic)
    desc = {"mediaType": MEDIA_MANIFEST, "digest": index_manifest, "size": 1}
    members["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
    entry = {
        "Config": f"blobs/sha256/{classic_cfg[7:]}",
        "RepoTags": ["d25:latest"],
        "Layers": [f"blobs/sha256/{sha256(classic)[7:]}"],
    }
    doc = json.dumps([entry]).encode()
    out = [(k, Blob.of(v)) for k, v in members.items()]
    if link:
        out.append(("real-manifest.json", Blob.of(doc)))
    else:
        out.append(("manifest.json", Blob.of(doc)))
    write_tar(d / "img.tar", out)
    if link:  # a symlink member, appended before the end-of-archive blocks
        data = (d / "img.tar").read_bytes()[: -len(END)]
        lnk = member("manifest.json", typ=b"2", link="real-manifest.json")
        (d / "img.tar").write_bytes(data + lnk + END)
    return [str(d / "img.tar"), "--format", "json"]


def _classic_loaded(pattern: str) -> Callable[[Json], None]:
    warned = _warned(pattern)

    def check(report: Json) -> None:
        warned(report)
        assert report["layers"][0]["content_bytes"] == 4096, report["layers"]

    return check


case("docker25-agreeing-no-warning", READ, check=lambda r: _no_warnings(r))(_docker25)
case(
    "docker25-index-and-manifest-disagree",
    READ,
    check=_classic_loaded(r"index\.json and manifest\.json name different images.*classic"),
)(lambda d: _docker25(d, disagree=True))
case("docker25-manifest-is-a-link", READ, check=_classic_loaded(r"manifest\.json is a link"))(
    lambda d: _docker25(d, link=True)
)


def _no_warnings(report: Json) -> None:
    assert report["warnings"] == [], report["warnings"]
    assert report["layers"][0]["content_bytes"] == 4096


def _ci_says(text: str) -> None:
    assert "name different images" in text and "classic" in text, text


case("docker25-disagree-in-ci-output", READ, check=_ci_says, tags=frozenset({"text"}))(
    lambda d: [_docker25(d, disagree=True)[0], "--ci"]
)


# -- -o never writes over the input ---------------------------------------------------

_OVERWRITE = r"refusing to overwrite it"


def _o(d: Path, target: Callable[[Path, list[str]], str]) -> list[str]:
    args = _archive(d, [SIMPLE])
    return [*args, "-o", target(d, args)]


case("output-is-the-input-archive", REFUSED, _OVERWRITE)(lambda d: _o(d, lambda d, a: a[0]))
case("output-is-the-input-relative", REFUSED, _OVERWRITE)(
    lambda d: _o(d, lambda d, a: str(d / ".." / "in" / "img.tar"))
)


@case("output-symlink-to-the-input", REFUSED, _OVERWRITE)
def _(d: Path) -> list[str]:
    (d / "report.json").symlink_to(d / "img.tar")
    return [*_archive(d, [SIMPLE]), "-o", str(d / "report.json")]


@case("output-hard-link-to-the-input", REFUSED, _OVERWRITE)
def _(d: Path) -> list[str]:
    args = _archive(d, [SIMPLE])
    (d / "report.json").hardlink_to(d / "img.tar")
    return [*args, "-o", str(d / "report.json")]


@case("output-is-the-archive-of-a-tag-reference", REFUSED, _OVERWRITE)
def _(d: Path) -> list[str]:
    args = _archive(d, [SIMPLE])
    return [f"{args[0]}:hostile:latest", "--format", "json", "-o", args[0]]


def _layout_out(rel: str) -> Callable[[Path], list[str]]:
    def build(d: Path) -> list[str]:
        args = _oci(d, [SIMPLE])
        return [*args, "-o", str(d / "layout" / rel) if rel else str(d / "layout")]

    return build


case("output-is-the-layout-index", REFUSED, _OVERWRITE)(_layout_out("index.json"))
case("output-inside-the-layout", REFUSED, _OVERWRITE)(_layout_out("blobs/new-report.md"))
case("output-is-the-layout-itself", REFUSED, _OVERWRITE)(_layout_out(""))


@case("output-is-the-dockerfile", REFUSED, _OVERWRITE)
def _(d: Path) -> list[str]:
    (d / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    args = _archive(d, [SIMPLE])
    return [*args, "--dockerfile", str(d / "Dockerfile"), "-o", str(d / "Dockerfile")]


# -- --dockerfile: a regular file, bounded, quoted briefly -----------------------------


def _with_dockerfile(d: Path, dockerfile: str | Path) -> list[str]:
    return [*_archive(d, [SIMPLE]), "--dockerfile", str(dockerfile)]


case("dockerfile-dev-zero", REFUSED, r"not a regular file")(
    lambda d: _with_dockerfile(d, "/dev/zero")
)
case("dockerfile-fifo", REFUSED, r"not a regular file")(
    lambda d: _with_dockerfile(d, fifo(d / "Dockerfile"))
)


def _continuations(d: Path, count: int, unit: str = "  a \\\n") -> Path:
    path = d / "Dockerfile"
    with open(path, "w") as f:
        f.write("FROM scratch\nRUN step \\\n")
        f.write(unit * count)
        f.write("  0\n")
    return path


case("dockerfile-14-mb", REFUSED, r"larger than 1 MiB")(
    lambda d: _with_dockerfile(d, _continuations(d, 2_000_000, "  a \\\n  \\\n"))
)
# 200,000 continuation lines joined into the history's own "step 0": mapped, no warning.
case("dockerfile-1-mb-of-continuations", READ, cpu_seconds=20, max_rss_mb=500)(
    lambda d: _with_dockerfile(d, _continuations(d, 200_000, "   \\\n"))
)


@case("dockerfile-proc-environ-quoted-briefly", REFUSED, r"^.{0,400}$")
def _(d: Path) -> list[str]:
    return _with_dockerfile(d, "/proc/self/environ")


@case("dockerfile-long-first-word-quoted-briefly", REFUSED, r"X{40,79}… before the first FROM$")
def _(d: Path) -> list[str]:
    (d / "Dockerfile").write_text("x" * 100_000 + "\nFROM scratch\n")
    return _with_dockerfile(d, d / "Dockerfile")


# -- names with line breaks and tabs, shown escaped in markdown and SARIF --------------

_BREAKING = ["pkg/new\nline.tgz", "pkg/tab\there.tgz", "pkg/para\u2029graph.tgz"]


def _breaking_names(d: Path) -> str:
    big = [member(n, bytes(1 << 20)) for n in _BREAKING]
    gone = [member("pkg/.wh." + n[4:]) for n in _BREAKING]
    return _archive(d, [tar(*big), tar(*gone)])[0]


def _markdown_escaped(text: str) -> None:
    # A fix's text (a diff, flattened onto one line) is the rules' to escape.
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("- fix:"))
    for shown in (r"new\\+nline\.tgz", r"tab\\+there\.tgz", r"para\\+u2029graph\.tgz"):
        assert re.search(shown, text), (shown, text)
    for other in ("new line.tgz", "tab here.tgz", "para graph.tgz"):
        assert other not in text, other


def _sarif_escaped(report: Json) -> None:
    # The message, before the fix's diff (whose line breaks are its own).
    messages = [r["message"]["text"].split(" Fix: ")[0] for r in report["runs"][0]["results"]]
    joined = "\n".join(messages)
    for shown in ("new\\nline.tgz", "tab\\there.tgz", "para\\u2029graph.tgz"):
        assert shown in joined, (shown, messages)
    assert not any(c in m for m in messages for c in "\n\t\u2029"), messages


case("names-breaking-markdown", READ, check=_markdown_escaped, tags=frozenset({"text"}))(
    lambda d: [_breaking_names(d), "--format", "markdown"]
)
case("names-breaking-sarif", READ, check=_sarif_escaped)(
    lambda d: [_breaking_names(d), "--format", "sarif"]
)


def _path_bytes(report: Json) -> None:
    import base64

    found = [f for f in report["findings"] if "path_bytes" in f]
    assert found, report["findings"]
    for f in found:
        assert len(f["path_bytes"]) == len(f["paths"])
        for text, raw in zip(f["paths"], f["path_bytes"], strict=True):
            if raw is not None:
                exact = base64.b64decode(raw)
                assert exact.startswith(b"/raw/") and b"\\x" not in exact, exact
                assert "\\x" in text


@case("names-not-utf8-path-bytes", READ, check=_path_bytes)
def _(d: Path) -> list[str]:
    raw = [b"raw/\xff\xfe-latin1-\xe9", b"raw/\x9b31m"]
    big = [header(n, size=1 << 20) + bytes(1 << 20) for n in raw]
    gone = [member(b"raw/.wh." + n[4:]) for n in raw]
    return _archive(d, [tar(*big), tar(*gone)])


@case("diff-output-is-the-baseline", REFUSED, _OVERWRITE)
def _(d: Path) -> list[str]:
    args = _archive(d, [SIMPLE])
    (d / "old.json").write_text("{}")
    return ["diff", args[0], "--baseline", str(d / "old.json"), "-o", str(d / "old.json")]


@case("diff-output-is-the-new-image", REFUSED, _OVERWRITE)
def _(d: Path) -> list[str]:
    args = _archive(d, [SIMPLE])
    return ["diff", args[0], args[0], "-o", args[0]]


# -- history text that used to backtrack for minutes ---------------------------------

_SLOW_HISTORY = {
    "history-copy-120k-equals": "/bin/sh -c #(nop) COPY " + "=" * 120_000,
    "history-nop-300k-spaces": "a" + " " * 300_000 + "b",
    "history-build-args-100k-spaces": "|9 a=b" + " " * 100_000 + "=",
    "history-shell-options-100k": "/bin/sh" + " -o" * 100_000 + " x",
    "history-copy-1mb-hex": "/bin/sh -c #(nop) COPY =" + "a" * (1 << 20) + "!",
}


def _history_of(text: str) -> Callable[[Json], None]:
    def check(report: Json) -> None:
        assert report["history"][0]["created_by"] == text

    return check


for _name, _text in _SLOW_HISTORY.items():
    case(_name, READ, check=_history_of(_text), cpu_seconds=8)(
        lambda d, t=_text: _docker(d, _docker_manifest(), _config_with(history=[{"created_by": t}]))
    )

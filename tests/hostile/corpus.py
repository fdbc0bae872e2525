"""The hostile corpus: every input an attacker (or a broken tool) may hand
layerscope, and what must happen to it.

Each :class:`Case` builds its input in a fresh directory at test time (no
committed blobs) and names the outcome: the exit code, a pattern the one
stderr line must match, limits on CPU time and peak memory, and for inputs
that must be read an extra check of the report.

``python -m tests.hostile.corpus OUTDIR`` writes the whole corpus to OUTDIR
(for a manual look, or as fuzzing seeds).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import sys
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

from tests.hostile.tarcraft import (
    END,
    Blob,
    config_json,
    docker_archive,
    fifo,
    gzip_zero_file_layer,
    header,
    many_files_layer,
    member,
    oci_layout,
    pax_member,
    sha256,
    tar,
    write_tar,
    zstd_zero_file_layer,
)

Build = Callable[[Path], list[str]]  # writes the input under a dir, returns CLI args
Check = Callable[[Any], None]  # checks the parsed JSON report, or the text of a table


@dataclass(frozen=True)
class Case:
    name: str
    build: Build
    exit: tuple[int, ...]  # accepted exit codes
    stderr: str = ""  # regex the stderr line must match (error cases)
    check: Check | None = None
    cpu_seconds: float = 8.0
    max_rss_mb: float = 200.0
    tags: frozenset[str] = field(default_factory=frozenset)


READ = (0, 1)  # read fine: pass, or a failing rule
REFUSED = (2,)
CASES: list[Case] = []


def case(
    name: str, codes: tuple[int, ...], stderr: str = "", **kw: Any
) -> Callable[[Build], Build]:
    def deco(build: Build) -> Build:
        CASES.append(Case(name, build, codes, stderr, **kw))
        return build

    return deco


SIMPLE = tar(member("etc/", typ=b"5"), member("etc/hello", b"hello world\n"))


def _archive(d: Path, layers: list[bytes | Blob], **kw: Any) -> list[str]:
    docker_archive(d / "img.tar", layers, **kw)
    return [str(d / "img.tar"), "--format", "json"]


def _write(d: Path, name: str, data: bytes) -> list[str]:
    (d / name).write_bytes(data)
    return [str(d / name), "--format", "json"]


def _cut(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def _paths(report: dict[str, Any]) -> set[str]:
    return {p for f in report["findings"] for p in f["paths"]}


def _warned(pattern: str) -> Check:
    def check(report: dict[str, Any]) -> None:
        import re

        assert any(re.search(pattern, w) for w in report["warnings"]), report["warnings"]

    return check


# -- not an image at all ------------------------------------------------------------


@case("text-file", REFUSED, r"not a tar|checksum")
def _(d: Path) -> list[str]:
    return _write(d, "notes.txt", b"just some notes, not an image\n" * 40)


@case("tiny-text-file", REFUSED, r"not a tar|too short|truncated")
def _(d: Path) -> list[str]:
    return _write(d, "hello.txt", b"hello\n")


@case("random-bytes", REFUSED, r"not a tar|checksum|corrupt")
def _(d: Path) -> list[str]:
    return _write(d, "noise.bin", random.Random(7).randbytes(1 << 20))


@case("zip-file", REFUSED, r"zip")
def _(d: Path) -> list[str]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", "[]")
    return _write(d, "img.zip", buf.getvalue())


@case("empty-file", REFUSED, r"empty")
def _(d: Path) -> list[str]:
    return _write(d, "empty.tar", b"")


@case("fifo-path", REFUSED, r"FIFO|not a regular file")
def _(d: Path) -> list[str]:
    return [str(fifo(d / "pipe.tar")), "--format", "json"]


@case("device-path", REFUSED, r"not a regular file")
def _(d: Path) -> list[str]:
    return ["/dev/zero", "--format", "json"]


@case("directory-without-index", REFUSED, r"not an OCI layout|index\.json")
def _(d: Path) -> list[str]:
    (d / "dir").mkdir()
    (d / "dir" / "file").write_text("x")
    return [str(d / "dir"), "--format", "json"]


@case("gzip-of-text", REFUSED, r"not a tar|checksum|truncated")
def _(d: Path) -> list[str]:
    return _write(d, "notes.tar.gz", gzip.compress(b"plain text, not a tar\n" * 100))


@case("tar-without-manifest", REFUSED, r"not an image archive")
def _(d: Path) -> list[str]:
    return _write(d, "plain.tar", SIMPLE)


@case("output-onto-a-directory", REFUSED, r"cannot write")
def _(d: Path) -> list[str]:
    (d / "out.json").mkdir()
    return [*_archive(d, [SIMPLE]), "-o", str(d / "out.json")]


# -- truncated and corrupt ------------------------------------------------------------


@case("archive-cut-in-a-layer", REFUSED, r"truncated")
def _(d: Path) -> list[str]:
    args = _archive(d, [SIMPLE, tar(member("big", random.Random(1).randbytes(50_000)))])
    _cut(d / "img.tar", 3000 + 20_000)
    return args


@case("archive-cut-before-manifest", REFUSED, r"truncated|not an image archive")
def _(d: Path) -> list[str]:
    args = _archive(d, [SIMPLE])
    data = (d / "img.tar").read_bytes()
    _cut(d / "img.tar", data.index(b"manifest.json"))  # at a header boundary
    return args


@case("layer-cut-in-data", REFUSED, r"truncated|past the end")
def _(d: Path) -> list[str]:
    layer = tar(member("big", bytes(10_000)), member("after", b"x"))
    return _archive(d, [layer[:4096]])


@case("layer-cut-at-member-boundary", READ, check=_warned(r"end-of-archive|truncated"))
def _(d: Path) -> list[str]:
    return _archive(d, [member("a", b"1") + member("b", b"2")])


@case("bad-checksum-in-layer", REFUSED, r"checksum")
def _(d: Path) -> list[str]:
    bad = header("etc/passwd", size=4, chksum=1234) + b"root" + bytes(508)
    return _archive(d, [SIMPLE, bad + END])


@case("bad-checksum-in-archive", REFUSED, r"checksum")
def _(d: Path) -> list[str]:
    args = _archive(d, [SIMPLE])
    data = bytearray((d / "img.tar").read_bytes())
    data[0] ^= 0x20  # first header's name
    (d / "img.tar").write_bytes(bytes(data))
    return args


@case("gzip-layer-corrupt", REFUSED, r"corrupt gzip")
def _(d: Path) -> list[str]:
    rng = random.Random(3)
    gz = bytearray(gzip.compress(tar(member("f", rng.randbytes(200_000))), mtime=0))
    for i in range(2000, 2100):
        gz[i] ^= 0xFF
    return _archive(d, [bytes(gz)])


@case("gzip-layer-bad-crc", REFUSED, r"corrupt gzip")
def _(d: Path) -> list[str]:
    gz = bytearray(gzip.compress(SIMPLE, mtime=0))
    gz[-8] ^= 0x01  # CRC32 trailer
    return _archive(d, [bytes(gz)])


@case("gzip-layer-truncated", REFUSED, r"truncated")
def _(d: Path) -> list[str]:
    gz = gzip.compress(tar(member("f", random.Random(4).randbytes(100_000))), mtime=0)
    return _archive(d, [gz[: len(gz) // 2]])


@case("gzip-archive-truncated", REFUSED, r"truncated")
def _(d: Path) -> list[str]:
    docker_archive(d / "img.tar", [SIMPLE])
    gz = gzip.compress((d / "img.tar").read_bytes(), mtime=0)
    return _write(d, "img.tar.gz", gz[: len(gz) - 40])


@case("zstd-garbage", REFUSED, r"corrupt zstd|not a tar|checksum")
def _(d: Path) -> list[str]:
    return _archive(d, [b"\x28\xb5\x2f\xfd" + random.Random(5).randbytes(4000)])


@case("zstd-layer-truncated", REFUSED, r"truncated|end-of-archive")
def _(d: Path) -> list[str]:
    z = zstandard.ZstdCompressor().compress(tar(member("f", random.Random(6).randbytes(300_000))))
    return _archive(d, [z[: len(z) // 2]])


# -- manifests and configs that lie ----------------------------------------------------


@case("media-type-lies", READ)
def _(d: Path) -> list[str]:
    z = zstandard.ZstdCompressor().compress(SIMPLE)
    oci_layout(d / "layout", [z], media="application/vnd.oci.image.layer.v1.tar+gzip")
    return [str(d / "layout"), "--format", "json"]


@case("manifest-not-json", REFUSED, r"manifest\.json is not valid JSON")
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE], manifest=b"[{not json")


@case("manifest-json-bomb", REFUSED, r"more than 1000000 JSON values", max_rss_mb=150)
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE], manifest=b"[" + b"{}," * 5_000_000 + b"{}]")


@case("manifest-json-nested-deep", REFUSED, r"nests JSON too deeply")
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE], manifest=b"[" * 200_000 + b"]" * 200_000)


@case("unused-json-members-ignored", READ)
def _(d: Path) -> list[str]:
    junk = [(f"junk{i}.json", Blob.of(b"[{},{},{}" + b"not json" * i)) for i in range(50)]
    return _archive(d, [SIMPLE], extra=junk)


@case("manifest-wrong-shape", REFUSED, r"manifest\.json")
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE], manifest=b'{"Config": "x"}')


@case("manifest-layer-outside", REFUSED, r"outside the archive")
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE], layer_names=["../../../../etc/passwd"])


@case("manifest-layer-absolute", REFUSED, r"outside the archive")
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE], layer_names=["/etc/passwd"])


@case("manifest-layer-missing", REFUSED, r"missing")
def _(d: Path) -> list[str]:
    cfg = config_json([sha256(SIMPLE)])
    man = [{"Config": sha256(cfg)[7:] + ".json", "Layers": ["nothere/layer.tar"]}]
    return _archive(d, [SIMPLE], config=cfg, manifest=json.dumps(man).encode())


@case("manifest-layer-is-json", REFUSED, r"not a layer|JSON")
def _(d: Path) -> list[str]:
    cfg = config_json([sha256(SIMPLE)])
    name = sha256(cfg)[7:] + ".json"
    man = [{"Config": name, "Layers": [name]}]
    return _archive(d, [SIMPLE], config=cfg, manifest=json.dumps(man).encode())


@case("duplicate-layer-member", REFUSED, r"twice|duplicate")
def _(d: Path) -> list[str]:
    other = tar(member("evil", b"swapped"))
    return _archive(d, [SIMPLE], extra=[(f"{0:064x}/layer.tar", Blob.of(other))])


@case("same-layer-listed-twice", READ)
def _(d: Path) -> list[str]:
    cfg = config_json([sha256(SIMPLE)] * 2)
    man = [{"Config": sha256(cfg)[7:] + ".json", "Layers": [f"{0:064x}/layer.tar"] * 2}]
    return _archive(d, [SIMPLE], config=cfg, manifest=json.dumps(man).encode())


@case("layer-symlink-loop", REFUSED, r"link loop")
def _(d: Path) -> list[str]:
    cfg = config_json([sha256(SIMPLE)])
    man = [{"Config": sha256(cfg)[7:] + ".json", "Layers": ["a/layer.tar"]}]
    docker_archive(d / "img.tar", [], config=cfg, manifest=json.dumps(man).encode())
    data = (d / "img.tar").read_bytes()[: -len(END)]
    links = member("a/layer.tar", typ=b"2", link="../b/layer.tar")
    links += member("b/layer.tar", typ=b"2", link="../a/layer.tar")
    # Put the links before the archive's own members: order must not matter.
    (d / "img.tar").write_bytes(links + data + END)
    return [str(d / "img.tar"), "--format", "json"]


@case("config-missing", REFUSED, r"config .*missing")
def _(d: Path) -> list[str]:
    man = [{"Config": "f" * 64 + ".json", "Layers": [f"{0:064x}/layer.tar"]}]
    return _archive(d, [SIMPLE], manifest=json.dumps(man).encode())


@case("config-not-an-object", REFUSED, r"config")
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE], config=b"[1, 2, 3]")


@case("history-count-mismatch", READ, check=_warned(r"history"))
def _(d: Path) -> list[str]:
    cfg = config_json([sha256(SIMPLE)] * 2, history=[{"created_by": "/bin/sh -c one"}])
    return _archive(d, [SIMPLE, SIMPLE], config=cfg)


@case("diff-ids-count-mismatch", READ, check=_warned(r"diff_ids"))
def _(d: Path) -> list[str]:
    return _archive(d, [SIMPLE, SIMPLE], config=config_json([sha256(SIMPLE)], n=2))


def _wrong_diff_id(d: Path) -> list[str]:
    cfg = config_json([sha256(SIMPLE), sha256(b"something else")])
    return _archive(d, [SIMPLE, tar(member("x", b"y"))], config=cfg)


case("diff-id-mismatch-unverified", READ)(_wrong_diff_id)


@case("diff-id-mismatch-verified", REFUSED, r"layer 1 .*diff_id|layer 1 .*digest")
def _(d: Path) -> list[str]:
    return [*_wrong_diff_id(d), "--verify-digests"]


@case("blob-digest-mismatch-verified", REFUSED, r"layer 0 .*digest")
def _(d: Path) -> list[str]:
    gz = gzip.compress(SIMPLE, mtime=0)
    oci_layout(d / "layout", [gz], media="application/vnd.oci.image.layer.v1.tar+gzip")
    blob = d / "layout" / "blobs" / "sha256" / sha256(gz)[7:]
    blob.write_bytes(gzip.compress(SIMPLE, compresslevel=1, mtime=12345))
    return [str(d / "layout"), "--format", "json", "--verify-digests"]


@case("verified-image-reads", READ)
def _(d: Path) -> list[str]:
    return [*_archive(d, [SIMPLE, tar(member("x", b"y"))]), "--verify-digests"]


@case("index-nested-too-deep", REFUSED, r"nesting|deeper")
def _(d: Path) -> list[str]:
    root = d / "layout"
    info = oci_layout(root, [SIMPLE])
    digest, media = info["manifest"], "application/vnd.oci.image.manifest.v1+json"
    for _ in range(10):
        desc = {"mediaType": media, "digest": digest}
        raw = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
        digest, media = sha256(raw), "application/vnd.oci.image.index.v1+json"
        (root / "blobs" / "sha256" / digest[7:]).write_bytes(raw)
    top = {"schemaVersion": 2, "manifests": [{"mediaType": media, "digest": digest}]}
    (root / "index.json").write_text(json.dumps(top))
    return [str(root), "--format", "json"]


@case("index-not-json", REFUSED, r"index\.json is not valid JSON")
def _(d: Path) -> list[str]:
    oci_layout(d / "layout", [SIMPLE])
    (d / "layout" / "index.json").write_bytes(b"\x00\x01garbage")
    return [str(d / "layout"), "--format", "json"]


# -- OCI layout directories that reach out -------------------------------------------


def _layout_with_blob(d: Path, make: Callable[[Path], None]) -> list[str]:
    oci_layout(d / "layout", [SIMPLE])
    blob = d / "layout" / "blobs" / "sha256" / sha256(SIMPLE)[7:]
    blob.unlink()
    make(blob)
    return [str(d / "layout"), "--format", "json"]


@case("layout-blob-symlink-out", REFUSED, r"outside the layout")
def _(d: Path) -> list[str]:
    return _layout_with_blob(d, lambda b: b.symlink_to("/etc/passwd"))


@case("layout-blob-symlink-relative-out", REFUSED, r"outside the layout")
def _(d: Path) -> list[str]:
    (d / "secret").write_bytes(SIMPLE)
    return _layout_with_blob(d, lambda b: b.symlink_to("../../../secret"))


@case("layout-blob-symlink-inside", READ)
def _(d: Path) -> list[str]:
    def make(b: Path) -> None:
        (b.parent / "real").write_bytes(SIMPLE)
        b.symlink_to("real")

    return _layout_with_blob(d, make)


@case("layout-index-symlink-out", REFUSED, r"outside the layout")
def _(d: Path) -> list[str]:
    oci_layout(d / "layout", [SIMPLE])
    (d / "layout" / "index.json").unlink()
    (d / "layout" / "index.json").symlink_to("/etc/hostname")
    return [str(d / "layout"), "--format", "json"]


@case("layout-blobs-dir-symlink-out", REFUSED, r"outside the layout")
def _(d: Path) -> list[str]:
    oci_layout(d / "layout", [SIMPLE])
    (d / "layout" / "blobs").rename(d / "elsewhere")
    (d / "layout" / "blobs").symlink_to(d / "elsewhere")
    return [str(d / "layout"), "--format", "json"]


@case("layout-blob-fifo", REFUSED, r"not a regular file|FIFO")
def _(d: Path) -> list[str]:
    return _layout_with_blob(d, fifo)


@case("layout-config-fifo", REFUSED, r"not a regular file|FIFO")
def _(d: Path) -> list[str]:
    info = oci_layout(d / "layout", [SIMPLE])
    cfg = d / "layout" / "blobs" / "sha256" / info["config"][7:]
    cfg.unlink()
    fifo(cfg)
    return [str(d / "layout"), "--format", "json"]


@case("layout-blob-directory", REFUSED, r"not a regular file|directory")
def _(d: Path) -> list[str]:
    return _layout_with_blob(d, lambda b: b.mkdir())


# -- resource bombs --------------------------------------------------------------------


@case("pax-size-8-eib", REFUSED, r"size")
def _(d: Path) -> list[str]:
    layer = pax_member({"size": str((8 << 60) - 1)}) + header("huge") + END
    return _archive(d, [layer])


@case("base256-size-8-eib", REFUSED, r"size")
def _(d: Path) -> list[str]:
    field = b"\x80" + ((8 << 60) - 1).to_bytes(11, "big")
    return _archive(d, [header("huge", size_field=field) + END])


@case("pax-path-1-mb", REFUSED, r"exceeds|limit")
def _(d: Path) -> list[str]:
    return _archive(d, [pax_member({"path": "p/" * (1 << 19)}) + header("x") + END])


@case("gnu-longname-1-mb", REFUSED, r"exceeds|limit")
def _(d: Path) -> list[str]:
    name = b"n/" * (1 << 19) + b"\x00"
    long = header("././@LongLink", size=len(name), typ=b"L") + name + bytes(-len(name) % 512)
    return _archive(d, [long + header("x") + END])


@case("pax-number-overflow", REFUSED, r"invalid pax")
def _(d: Path) -> list[str]:
    return _archive(d, [pax_member({"mtime": "1.0e999"}) + header("x") + END])


@case("pax-record-garbage", REFUSED, r"pax")
def _(d: Path) -> list[str]:
    body = b"99999999999999999999 path=x\n"
    return _archive(d, [header("p", size=len(body), typ=b"x") + body + bytes(484) + END])


@case("gzip-bomb-8-gib", REFUSED, r"expands more than", cpu_seconds=6)
def _(d: Path) -> list[str]:
    return _archive(d, [gzip_zero_file_layer(8 << 30)])


@case("zstd-bomb-8-gib", REFUSED, r"expands more than", cpu_seconds=6)
def _(d: Path) -> list[str]:
    return _archive(d, [zstd_zero_file_layer(8 << 30)])


@case("gzip-bomb-whole-archive", REFUSED, r"expands more than", cpu_seconds=6)
def _(d: Path) -> list[str]:
    piece = gzip.compress(bytes(64 << 20), compresslevel=9, mtime=0)
    head = gzip.compress(header("x/layer.tar", size=8 << 30), mtime=0)
    return _write(d, "img.tar.gz", head + piece * 128)


@case("files-200k-one-layer", READ, cpu_seconds=25, max_rss_mb=700, tags=frozenset({"slow"}))
def _(d: Path) -> list[str]:
    return _archive(d, [many_files_layer(200_000)])


@case("files-limit-refused", REFUSED, r"more than 1000 members")
def _(d: Path) -> list[str]:
    return [*_archive(d, [many_files_layer(5000)]), "--limit", "max-members=1000"]


@case("entries-limit-refused", REFUSED, r"more than 12000 entries in the image")
def _(d: Path) -> list[str]:
    layers: list[bytes | Blob] = [many_files_layer(5000) for _ in range(3)]
    return [*_archive(d, layers), "--limit", "max-entries=12000"]


def _deep(depth: int) -> str:
    return "/".join(f"d{i % 10}" for i in range(depth))


@case("dirs-5000-deep-implicit", READ)
def _(d: Path) -> list[str]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo(_deep(5000) + "/leaf")
        info.size = 5
        t.addfile(info, io.BytesIO(b"hello"))
    return _archive(d, [buf.getvalue(), tar(member(".wh.d0"))])


@case("dirs-5000-deep-explicit", READ)
def _(d: Path) -> list[str]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        path = ""
        for i in range(5000):
            path = f"{path}/d{i % 10}" if path else "d0"
            info = tarfile.TarInfo(path)
            info.type = tarfile.DIRTYPE
            t.addfile(info)
        info = tarfile.TarInfo(path + "/leaf")
        info.size = 5
        t.addfile(info, io.BytesIO(b"hello"))
    return _archive(d, [buf.getvalue(), tar(member("d0", b"now a file"))])


def _many_layers(d: Path, n: int) -> list[str]:
    layers = [tar(member(f"l{i}", b"x")) for i in range(n)]
    cfg = config_json([sha256(layer) for layer in layers])
    return _archive(d, list(layers), config=cfg)


@case("layers-10000", READ, cpu_seconds=20, max_rss_mb=400, tags=frozenset({"slow"}))
def _(d: Path) -> list[str]:
    return _many_layers(d, 10_000)


@case("layers-limit-refused", REFUSED, r"exceed|more than")
def _(d: Path) -> list[str]:
    return [*_many_layers(d, 200), "--limit", "max-layers=100"]


# -- names are data --------------------------------------------------------------------

HOSTILE_NAMES = [
    "esc/\x1b[31mred\x1b[0m",
    "esc/\x1b]0;pwned\x07title",
    "nl/line\nbreak",
    "cr/carriage\rreturn",
    "c1/\u009b31mcsi",
    "sep/line\u2028sep",
    "bidi/\u202eexe.txt",
    "utf8/caf\u00e9-\u65e5\u672c",
]
RAW_NAMES = [b"raw/\xff\xfe-latin1-\xe9", b"raw/\xc3\x28-bad-utf8"]


def _names_image(d: Path) -> list[str]:
    members = [member(n, b"x" * 100) for n in HOSTILE_NAMES]
    members += [header(n, size=100) + b"x" * 100 + bytes(412) for n in RAW_NAMES]
    wh = [member(n.rpartition("/")[0] + "/.wh." + n.rpartition("/")[2]) for n in HOSTILE_NAMES]
    wh += [member(b"raw/.wh." + n[4:]) for n in RAW_NAMES]
    return _archive(d, [tar(*members), tar(*wh)])


def _names_exact(report: dict[str, Any]) -> None:
    paths = _paths(report)
    for n in HOSTILE_NAMES:
        assert "/" + n in paths, (n, paths)
    assert "/raw/\\xff\\xfe-latin1-\\xe9" in paths
    assert "/raw/\\xc3(-bad-utf8" in paths


case("names-json-exact", READ, check=_names_exact)(_names_image)


def _names_shown_escaped(text: str) -> None:
    import re

    # Shown, escaped (markdown escapes the escapes' backslashes and brackets once more).
    assert re.search(r"\\+x1b\\*\[31mred", text), text
    assert re.search(r"\\+xff\\+xfe-latin1-\\+xe9", text), text


for _fmt in ("table", "markdown"):
    case(f"names-{_fmt}-escaped", READ, check=_names_shown_escaped, tags=frozenset({"text"}))(
        lambda d, fmt=_fmt: [_names_image(d)[0], "--format", fmt]
    )
case("names-sarif-valid", READ, tags=frozenset({"sarif"}))(
    lambda d: [_names_image(d)[0], "--format", "sarif"]
)


def _hostile_config_image(d: Path) -> list[str]:
    """Escapes, newlines, bidi overrides and a lone surrogate in the config's
    os/architecture/variant, the config's file name (the image id) and the tag."""
    config = json.loads(config_json([sha256(SIMPLE)]))
    config["os"] = "\u001b]0;pwned\u0007linux\udcff"
    config["architecture"] = "amd\n64"
    config["variant"] = "\u202ev8"
    config["history"] = [{"created_by": "/bin/sh -c echo \u001b[2J\nrm -rf / \udcff"}]
    raw = json.dumps(config).encode()
    name = "\x1b[31mcfg\n.json"
    man = [{"Config": name, "RepoTags": ["evil\x1b[2J:tag"], "Layers": [f"{0:064x}/layer.tar"]}]
    write_tar(
        d / "img.tar",
        [
            (f"{0:064x}/layer.tar", Blob.of(SIMPLE)),
            (name, Blob.of(raw)),
            ("manifest.json", Blob.of(json.dumps(man).encode())),
        ],
    )
    return [str(d / "img.tar")]


for _fmt in ("table", "markdown"):
    case(f"config-strings-{_fmt}-escaped", READ, tags=frozenset({"text"}))(
        lambda d, fmt=_fmt: [*_hostile_config_image(d), "--format", fmt]
    )
case("config-strings-json-valid", READ)(lambda d: [*_hostile_config_image(d), "--format", "json"])


TRAVERSAL = [
    "../../../../../../tmp/layerscope-hostile-escape",
    "/tmp/layerscope-hostile-absolute",
    "a/../../../../tmp/layerscope-hostile-dotdot",
]


def _traversal_image(d: Path) -> list[str]:
    layer1 = tar(
        *(member(n, b"pwned") for n in TRAVERSAL),
        member("etclink", typ=b"2", link="/etc"),
        member("etclink/passwd", b"root::0:0::/:/bin/sh\n"),
        member("up", typ=b"2", link="../../../../.."),
        member("up/tmp/layerscope-hostile-via-link", b"pwned"),
        member("hard", typ=b"1", link="/etc/shadow"),
        member("hard2", typ=b"1", link="../../../etc/shadow"),
        member("dev/zero", typ=b"3"),
        member("fifo", typ=b"6"),
    )
    layer2 = tar(member(".wh.etclink"), member("up/.wh.tmp"), member(".wh.hard"))
    return _archive(d, [layer1, layer2])


def _traversal_names(report: dict[str, Any]) -> None:
    paths = _paths(report)
    assert "/etclink/passwd" in paths, paths  # a name under a symlink, nothing more
    assert "/up/tmp/layerscope-hostile-via-link" in paths, paths


case("traversal-names-only", READ, check=_traversal_names, tags=frozenset({"host"}))(
    _traversal_image
)

HOST_CANARIES = [
    Path("/tmp/layerscope-hostile-escape"),
    Path("/tmp/layerscope-hostile-absolute"),
    Path("/tmp/layerscope-hostile-dotdot"),
    Path("/tmp/layerscope-hostile-via-link"),
]


def write_corpus(out: Path) -> None:
    """Every case's input under ``out/<name>/`` (the args go to ``args.json``)."""
    for c in CASES:
        d = out / c.name
        d.mkdir(parents=True, exist_ok=True)
        args = c.build(d)
        (d / "args.json").write_text(json.dumps(args))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.hostile.corpus OUTDIR")
    write_corpus(Path(sys.argv[1]))
    print(f"{len(CASES)} cases written to {os.path.abspath(sys.argv[1])}")

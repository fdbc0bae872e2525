"""The C walk and tar-split scan (layerscope/sources/_storagewalk.c) give
exactly what the pure-Python ones in sources/storage.py give: the same
entries in the same order, the same sizes, checksums and errors, on random
directory trees and random tar-split records made here."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import random
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from layerscope.errors import LayerscopeError
from layerscope.model import Entry, EntryType
from layerscope.sources import storage
from layerscope.sources.storage import (
    MAX_DEPTH,
    StorageUnavailable,
    has_accelerator,
    read_tar_split,
    walk_layer,
)
from tests.unit.test_storage_walk import nested_dirs

pytestmark = pytest.mark.skipif(
    not has_accelerator(), reason="the C storage walk is not built (no compiler?)"
)

ROOT = os.geteuid() == 0
# Names that sort differently as str and as bytes, or not at all as text.
ODD_NAMES = [
    "a",
    "a.b",
    "a-b",
    "A",
    "_",
    "z" * 200,
    "caf\u00e9",
    "\u00e9t\u00e9",
    "bad\udcffname",
    "\udcc3",
    "sp ace",
    'q"uo\\te',
    "\u4e2d\u6587",
    ".hidden",
    "..x",
    "\t",
]


def _outcome(fn: Callable[[], object]) -> object:
    try:
        value = fn()
    except (LayerscopeError, StorageUnavailable) as e:
        return ("error", type(e).__name__, str(e))
    return ("ok", value)


def _walks(root: Path, **kw: object) -> tuple[object, object]:
    c = _outcome(lambda: walk_layer(str(root), accelerate=True, **kw))  # type: ignore[arg-type]
    py = _outcome(lambda: walk_layer(str(root), accelerate=False, **kw))  # type: ignore[arg-type]
    return c, py


def _random_tree(root: Path, rng: random.Random) -> None:
    """Directories, files, hard links, symlinks, FIFOs, sockets, devices and
    opaque attributes, with random modes, owners and mtimes."""
    dirs = [root]
    files: list[Path] = []
    for _ in range(rng.randint(20, 120)):
        parent = rng.choice(dirs)
        name = rng.choice(ODD_NAMES) + (str(rng.randint(0, 9)) if rng.random() < 0.5 else "")
        path = parent / name
        if os.path.lexists(path):
            continue
        kind = rng.random()
        if kind < 0.25:
            path.mkdir()
            dirs.append(path)
            if rng.random() < 0.3:
                attr = rng.choice(["trusted.overlay.opaque", "user.overlay.opaque"])
                value = rng.choice([b"y", b"y", b"n", b"yy", b""])
                with contextlib.suppress(OSError):
                    os.setxattr(path, attr, value)
        elif kind < 0.6:
            path.write_bytes(b"x" * rng.choice([0, 1, 511, 4096, 5000, 70000]))
            files.append(path)
        elif kind < 0.7 and files:
            os.link(rng.choice(files), path)
        elif kind < 0.8:
            path.symlink_to(rng.choice(["/etc", "..", "nowhere", "a/b/c", "caf\u00e9", "x" * 300]))
        elif kind < 0.85:
            os.mkfifo(path)
        elif kind < 0.9 and len(os.fsencode(path)) < 100:
            with socket.socket(socket.AF_UNIX) as s:
                s.bind(os.fsencode(path))
        elif ROOT:
            device = rng.choice([os.makedev(0, 0), os.makedev(1, 3), os.makedev(7, 0)])
            kind_bits = 0o020000 if rng.random() < 0.8 else 0o060000
            os.mknod(path, 0o600 | kind_bits, device)
        else:
            continue
        if not path.is_symlink():
            os.chmod(path, rng.choice([0o644, 0o755, 0o4755, 0o1777, 0o2711, 0o600]))
            if ROOT:
                os.chown(path, rng.choice([0, 1000, 65534]), rng.choice([0, 50, 1000]))
        # Seconds that a float rounds up (.9999999995), and times before 1970.
        seconds = rng.choice([0, 1_700_000_000, -86_400 * 400, 2_000_000_000])
        nanos = rng.choice([0, 1, 999_999_999, 500_000_000])
        os.utime(path, ns=(0, seconds * 1_000_000_000 + nanos), follow_symlinks=False)


@pytest.mark.parametrize("seed", range(12))
def test_c_and_python_walks_agree_on_random_trees(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    _random_tree(tmp_path, rng)
    c, py = _walks(tmp_path)
    assert c == py
    assert c[0] == "ok"
    walked = c[1]
    assert isinstance(walked, list) and walked
    assert all(type(e) is Entry for e in walked)
    for xattrs in ((), ("user.overlay.opaque",)):
        assert _walks(tmp_path, xattrs=xattrs)[0] == _walks(tmp_path, xattrs=xattrs)[1]
    for limit in (0, 5, len(walked) // 2):
        assert _walks(tmp_path, max_entries=limit)[0] == _walks(tmp_path, max_entries=limit)[1]


def test_both_walks_floor_the_mtime_and_keep_markers_bare(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    os.utime(tmp_path / "f", ns=(0, 1_700_000_000_999_999_999))
    (tmp_path / "old").write_bytes(b"")
    os.utime(tmp_path / "old", ns=(0, -1_500_000_000))
    for accelerate in (True, False):
        by_path = {e.path: e for e in walk_layer(str(tmp_path), accelerate=accelerate)}
        assert by_path["f"].mtime == 1_700_000_000  # int(st_mtime) would say ...001
        assert by_path["old"].mtime == -2


def test_both_walks_fail_alike(tmp_path: Path) -> None:
    assert _walks(tmp_path / "gone")[0] == _walks(tmp_path / "gone")[1]
    (tmp_path / "link").symlink_to(tmp_path)
    c, py = _walks(tmp_path / "link")
    assert c == py and c[0] == "error"
    deep = nested_dirs(tmp_path / "deep", MAX_DEPTH + 2)
    c, py = _walks(deep)
    assert c == py and "deeper" in str(c)
    # A directory this user may not list (root lists anything).
    if not ROOT:
        locked = tmp_path / "locked"
        (locked / "in").mkdir(parents=True)
        os.chmod(locked / "in", 0)
        c, py = _walks(locked)
        assert c == py and c[0] == "error"


def test_the_c_walk_never_follows_a_symlink_swapped_in(tmp_path: Path) -> None:
    """A directory replaced by a symlink between the listing and the descent
    is refused (O_NOFOLLOW), never followed outside the layer."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_bytes(b"s")
    layer = tmp_path / "layer"
    (layer / "d").mkdir(parents=True)
    (layer / "d" / "f").write_bytes(b"f")
    entries = walk_layer(str(layer))
    assert [e.path for e in entries] == ["d", "d/f"]
    (layer / "d" / "f").unlink()
    (layer / "d").rmdir()
    (layer / "d").symlink_to(tmp_path / "outside")
    walked = walk_layer(str(layer))
    assert [(e.path, e.type) for e in walked] == [("d", EntryType.SYMLINK)]


# --------------------------------------------------------------- tar-split


def _record(rng: random.Random) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    names = [
        "./",
        ".",
        "/",
        "a",
        "./b",
        "/c/",
        "d//e",
        "./f/./g",
        "h/.",
        "caf\u00e9",
        'q"uo\\te',
        "tab\tnl\n",
        "\u2028",
        "x" * 150,
        "",
    ]
    for i in range(rng.randint(1, 200)):
        if rng.random() < 0.5:
            payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 3, 512, 1025])))
            lines.append({"type": 2, "payload": base64.b64encode(payload).decode(), "position": i})
        else:
            line: dict[str, object] = {"type": 1, "name": rng.choice(names) + str(i % 3)}
            if rng.random() < 0.2:
                line["name"] = rng.choice(names)
            size = rng.choice([0, 1, 4095, 4096, 5000, 10**12])
            if size:
                line["size"] = size
            crc = rng.getrandbits(64).to_bytes(8, "big")
            line["payload"] = (
                None
                if rng.random() < 0.1
                else base64.b64encode(crc if rng.random() < 0.9 else crc[:5]).decode()
            )
            line["position"] = i
            lines.append(line)
    return lines


def _write(path: Path, lines: list[dict[str, object]], *, newline_at_end: bool = True) -> None:
    text = b"\n".join(json.dumps(x, separators=(",", ":")).encode() for x in lines)
    path.write_bytes(gzip.compress(text + (b"\n" if newline_at_end else b"")))


def _reads(path: Path, floor: int) -> tuple[object, object]:
    return (
        _outcome(lambda: read_tar_split(str(path), floor=floor, accelerate=True)),
        _outcome(lambda: read_tar_split(str(path), floor=floor, accelerate=False)),
    )


@pytest.mark.parametrize("seed", range(20))
def test_c_and_python_tar_split_scans_agree(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lines = _record(rng)
    path = tmp_path / "tar-split.json.gz"
    _write(path, lines, newline_at_end=seed % 2 == 0)
    for floor in (0, 1, 4096):
        c, py = _reads(path, floor)
        assert c == py
        assert c[0] == "ok"
    record = read_tar_split(str(path), floor=1)
    sizes = sum(int(x.get("size", 0)) for x in lines if x["type"] == 1)  # type: ignore[call-overload]
    raw = sum(len(base64.b64decode(str(x["payload"]))) for x in lines if x["type"] == 2)
    assert record.size_bytes == sizes + raw


def test_a_record_of_many_pieces_is_read_whole(tmp_path: Path) -> None:
    """Lines straddle the inflated pieces: every size still counts once."""
    rng = random.Random(7)
    lines = [
        {
            "type": 1,
            "name": f"dir/file{i}",
            "size": 5000 + i % 3,
            "payload": "AAAAAAAAAAE=",
            "position": i,
        }
        if i % 2
        else {"type": 2, "payload": base64.b64encode(rng.randbytes(700)).decode(), "position": i}
        for i in range(4000)
    ]
    path = tmp_path / "big.json.gz"
    _write(path, lines)
    c, py = _reads(path, 4096)
    assert c == py
    assert isinstance(c, tuple) and c[0] == "ok"
    assert len(read_tar_split(str(path), floor=4096).checksums) == 2000


@pytest.mark.parametrize(
    "bad",
    [
        b'{"type":2,"payload":null,"position":0}\n',
        b'{"type": 1, "name": "a"}\n',
        b'{"type":2,"payload":"AAAA\n',
        b"garbage\n",
    ],
)
def test_both_scans_refuse_other_records(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "t.json.gz"
    path.write_bytes(gzip.compress(b'{"type":2,"payload":"AAAA","position":0}\n' + bad))
    c, py = _reads(path, 0)
    assert c == py and c[0] == "error" and "tar-split" in str(c)
    path.write_bytes(b"not gzip at all")
    c, py = _reads(path, 0)
    assert c == py and "not a gzipped" in str(c)


def test_the_module_reports_what_it_uses() -> None:
    assert storage._accel is not None and storage._scan_split is not None

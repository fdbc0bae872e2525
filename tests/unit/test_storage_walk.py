"""The layer-directory walk (sources/storage.py) on directories made here.

The walk must give the entries ``scan_layer`` gives for a tar of the same
directory (Python's tarfile walks in the same sorted, parents-first order and
finds hard links by inode too), never follow a symlink or open a FIFO, and
turn a directory that vanished into StorageUnavailable.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from layerscope.model import Entry, EntryType
from layerscope.sources.layerscan import content_digest, scan_layer
from layerscope.sources.storage import (
    MAX_DEPTH,
    StorageUnavailable,
    candidates,
    hash_files,
    read_tar_split,
    walk_layer,
)
from layerscope.sources.storage_probe import chain_ids, docker_plan, image_id_of, rootless_ids
from layerscope.tar.streams import FileStream


def nested_dirs(root: Path, depth: int) -> Path:
    """``root`` holding ``depth`` directories each inside the last (made through
    directory fds: the path would pass PATH_MAX long before)."""
    root.mkdir()
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
    finally:
        os.close(fd)
    return root


def _tree(root: Path) -> None:
    (root / "d" / "sub").mkdir(parents=True)
    (root / "d" / "a").write_bytes(b"a" * 5000)
    (root / "d" / "b").write_bytes(b"a" * 5000)
    (root / "d" / "sub" / "c").write_bytes(b"c" * 10)
    os.link(root / "d" / "a", root / "d" / "z-link")
    (root / "empty").write_bytes(b"")
    (root / "abs").symlink_to("/etc")
    (root / "rel").symlink_to("d/sub")
    os.mkfifo(root / "fifo")
    (root / "bad\udcffname").write_bytes(b"x")
    (root / "caf\u00e9").write_bytes(b"y")
    os.chmod(root / "d" / "b", 0o4755)


def _tar_entries(root: Path) -> list[object]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(root), key=os.fsencode):
            tar.add(root / name, arcname=name)
    buf.seek(0)
    scan = scan_layer(FileStream(buf, name="t"), name="t")
    return list(scan.entries)


def test_walk_matches_a_tar_of_the_same_directory(tmp_path: Path) -> None:
    _tree(tmp_path)
    walked = walk_layer(str(tmp_path))
    assert walked == _tar_entries(tmp_path)
    by_path = {e.path: e for e in walked}
    assert by_path["d/z-link"].type is EntryType.HARDLINK
    assert by_path["d/z-link"].linkname == "d/a"
    assert by_path["abs"].linkname == "/etc" and by_path["fifo"].type is EntryType.FIFO
    assert by_path["d/b"].mode == 0o4755
    # Nothing behind a symlink was read.
    assert not any(e.path.startswith(("abs/", "rel/")) for e in walked)


def test_whiteout_devices_and_opaque_attributes(tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "kept").write_bytes(b"k")
    try:
        os.setxattr(tmp_path / "o", "user.overlay.opaque", b"y")
    except OSError as e:
        pytest.skip(f"no user xattrs here: {e}")
    try:
        os.mknod(tmp_path / "gone", 0o600 | 0o020000, os.makedev(0, 0))
        os.mknod(tmp_path / "null", 0o666 | 0o020000, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    walked = walk_layer(str(tmp_path))
    assert [(e.path, e.type) for e in walked] == [
        ("gone", EntryType.WHITEOUT),
        ("null", EntryType.CHAR),
        ("o", EntryType.DIR),
        ("o", EntryType.OPAQUE),
        ("o/kept", EntryType.FILE),
    ]
    # Only the attributes the engine uses count.
    assert EntryType.OPAQUE not in {
        e.type for e in walk_layer(str(tmp_path), xattrs=("trusted.overlay.opaque",))
    }


def test_vanished_and_too_deep_directories(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable, match="gone"):
        walk_layer(str(tmp_path / "gone"))
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(StorageUnavailable):
        walk_layer(str(tmp_path / "link"))  # the layer directory itself is a symlink
    deep = nested_dirs(tmp_path / "deep", MAX_DEPTH + 2)
    with pytest.raises(StorageUnavailable, match="deeper"):
        walk_layer(str(deep))


def test_digests_of_candidates_only_and_never_through_a_symlink(tmp_path: Path) -> None:
    _tree(tmp_path)
    layers = [walk_layer(str(tmp_path))]
    wanted = candidates(layers, 4096, None)
    assert wanted == {0: {"d/a": 5000, "d/b": 5000}}  # same size; c and the rest are alone
    digests = hash_files(str(tmp_path), wanted[0])
    assert digests["d/a"] == content_digest(b"a" * 5000) == digests["d/b"]
    # A symlinked parent or a FIFO swapped in is refused, never followed or opened.
    with pytest.raises(StorageUnavailable):
        hash_files(str(tmp_path), {"rel/c": 10})
    with pytest.raises(StorageUnavailable):
        hash_files(str(tmp_path), {"fifo": 0})
    with pytest.raises(StorageUnavailable, match="changed"):
        hash_files(str(tmp_path), {"d/a": 1})


def _docker_root(tmp_path: Path, cache_id: str = "abc") -> dict[str, object]:
    config = json.dumps({"rootfs": {"diff_ids": ["sha256:" + "1" * 64]}}).encode()
    image_id = "sha256:" + hashlib.sha256(config).hexdigest()
    store = tmp_path / "image" / "overlay2"
    (store / "imagedb" / "content" / "sha256").mkdir(parents=True)
    (store / "imagedb" / "content" / "sha256" / image_id[7:]).write_bytes(config)
    chain = chain_ids(["sha256:" + "1" * 64])[0]
    layerdb = store / "layerdb" / "sha256" / chain[7:]
    layerdb.mkdir(parents=True)
    (layerdb / "cache-id").write_text(cache_id)
    return {
        "Id": image_id,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {"UpperDir": str(tmp_path / "overlay2" / "abc" / "diff")},
        },
        "RootFS": {"Layers": ["sha256:" + "1" * 64]},
    }


def test_docker_plan_and_what_it_refuses(tmp_path: Path) -> None:
    info = _docker_root(tmp_path)
    plan = docker_plan(info)
    assert plan.layer_dirs == (str(tmp_path / "overlay2" / "abc" / "diff"),)
    for driver in ("vfs", "btrfs", "overlayfs"):
        with pytest.raises(StorageUnavailable, match=driver):
            docker_plan({**info, "GraphDriver": {"Name": driver, "Data": {}}})
    content = tmp_path / "image" / "overlay2" / "imagedb" / "content" / "sha256"
    (content / ("2" * 64)).write_bytes(b"{}")  # a config that is not the image's
    with pytest.raises(StorageUnavailable, match="does not hash"):
        docker_plan({**info, "Id": "sha256:" + "2" * 64})
    with pytest.raises(StorageUnavailable, match="removed"):
        docker_plan({**info, "Id": "sha256:" + "3" * 64})


def test_docker_plan_refuses_a_cache_id_that_leaves_the_store(tmp_path: Path) -> None:
    info = _docker_root(tmp_path, cache_id="../../../etc")
    with pytest.raises(StorageUnavailable, match="cache-id"):
        docker_plan(info)


def test_tar_split_sizes_and_checksums(tmp_path: Path) -> None:
    # The record as tar-split writes it: raw segments (type 2) and files (type 1).
    lines = [
        {"type": 2, "payload": base64.b64encode(b"h" * 512).decode(), "position": 0},
        {"type": 1, "name": "./", "payload": None, "position": 1},
        {"type": 2, "payload": base64.b64encode(b"h" * 513).decode(), "position": 2},
        {"type": 1, "name": "a", "size": 5000, "payload": "AAAAAAAAAAE=", "position": 3},
        {"type": 1, "name": 'q"uo\\te', "size": 5000, "payload": "AAAAAAAAAAE=", "position": 4},
        {"type": 1, "name": "./c", "size": 5000, "payload": "AAAAAAAAAAI=", "position": 5},
        {"type": 2, "payload": base64.b64encode(b"\0" * 1025).decode(), "position": 6},
    ]
    path = tmp_path / "tar-split.json.gz"
    path.write_bytes(
        gzip.compress(
            b"".join(json.dumps(x, separators=(",", ":")).encode() + b"\n" for x in lines)
        )
    )
    record = read_tar_split(str(path), floor=4096)
    assert (record.size_bytes, record.has_root) == (512 + 513 + 3 * 5000 + 1025, True)
    # Another layout of the record is refused, never read as a wrong size.
    spaced = tmp_path / "spaced.json.gz"
    spaced.write_bytes(gzip.compress(b"".join(json.dumps(x).encode() + b"\n" for x in lines)))
    with pytest.raises(StorageUnavailable, match="tar-split"):
        read_tar_split(str(spaced))
    crcs = record.checksums
    assert crcs == {hash("a"): 1, hash('q"uo\\te'): 1, hash("c"): 2}
    assert read_tar_split(str(path), floor=5001).checksums == {}
    sizes = {"a": 5000, 'q"uo\\te': 5000, "c": 5000, "d": 5000}
    layer = [Entry(path, EntryType.FILE, size) for path, size in sizes.items()]
    assert candidates([layer], 4096, None) == {0: sizes}
    narrowed = candidates([layer], 4096, None, [crcs])
    # c's checksum is its own: unique content; d has none: it is read to be sure.
    assert narrowed == {0: {"a": 5000, 'q"uo\\te': 5000, "d": 5000}}
    # A file asked for by size is hashed whatever its checksum.
    assert candidates([layer], 4096, lambda size: size == 5000, [crcs]) == {0: sizes}


def test_rootless_id_ranges(tmp_path: Path) -> None:
    """A rootless store's host ids back to the image's: the user is 0, the
    subordinate ranges 1, 2, ... in the order the file gives them."""
    ranges = tmp_path / "subuid"
    ranges.write_text("other:200000:65536\n4242:100000:10\nbad line\n4242:300000:5\n")
    found = rootless_ids(4242, 4242, str(ranges))
    assert found == ((4242, 0, 1), (100000, 1, 10), (300000, 11, 5))
    assert [image_id_of(h, found) for h in (4242, 100000, 100009, 300000, 300004)] == [
        0,
        1,
        10,
        11,
        15,
    ]
    for outside in (0, 100010, 200000):
        with pytest.raises(StorageUnavailable, match="outside"):
            image_id_of(outside, found)
    with pytest.raises(StorageUnavailable, match="no subordinate ids"):
        rootless_ids(5555, 5555, str(ranges))

"""LS401 duplicate content, and how candidates get hashed (sources.rehash)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.rules import duplicates
from layerscope.sources import engine_of, rehash
from layerscope.sources.blob import CHEAP_DIGEST_BYTES
from layerscope.sources.interface import SourceOptions
from tests.builders import F, d, docker_archive, file, layer_tar, wh

from .helpers import of

KB = 1024


def blob(seed: str, size: int) -> bytes:
    return (seed.encode() * (size // len(seed) + 1))[:size]


def analyzed(tmp_path: Path, *layers: Sequence[F], history: Sequence[str]) -> Analysis:
    """Write the layers as an archive and read it the way the CLI does."""
    archive = tmp_path / "image.tar"
    hist = [{"created_by": h} for h in history]
    archive.write_bytes(docker_archive([layer_tar(m) for m in layers], hist))
    image = rehash.open_image_with_digests(str(archive), source="auto", options=SourceOptions())
    return analyze(image)


def test_a_tree_copied_twice_is_one_finding(tmp_path: Path) -> None:
    tree = {f"m{i}.js": blob(f"module{i}", 30 * KB + i) for i in range(4)}
    result = analyzed(
        tmp_path,
        [d("srv/static"), *(file(f"srv/static/js/{n}", b) for n, b in tree.items())],
        [
            d("usr/share/nginx/html"),
            *(file(f"usr/share/nginx/html/js/{n}", b) for n, b in tree.items()),
        ],
        history=["COPY dist /srv/static # buildkit", "COPY dist /usr/share/nginx/html # buildkit"],
    )
    (f,) = of(result, "LS401")
    assert f.bytes == sum(len(b) for b in tree.values())
    assert (f.layer, f.path_count, f.reclaimable) == (1, 4, True)
    assert dict(f.extra)["copy_of"] == "/srv/static"
    assert all(p.startswith("/usr/share/nginx/html/js/") for p in f.paths)
    assert "copied twice" in f.fix
    assert result.summary.reclaimable_bytes == f.bytes


def test_same_size_but_different_content_is_not_a_duplicate(tmp_path: Path) -> None:
    result = analyzed(
        tmp_path,
        [file("a/x.bin", blob("a", 100 * KB)), file("b/x.bin", blob("b", 100 * KB))],
        history=["/bin/sh -c make"],
    )
    assert of(result, "LS401") == []


def test_copy_in_one_run_suggests_a_link(tmp_path: Path) -> None:
    data = blob("lib", 200 * KB)
    result = analyzed(
        tmp_path,
        [file("usr/lib/libfoo.so.1", data), file("opt/app/lib/libfoo.so.1", data)],
        history=["/bin/sh -c make install && cp /usr/lib/libfoo.so.1 /opt/app/lib/"],
    )
    (f,) = of(result, "LS401")
    assert f.paths == ("/opt/app/lib/libfoo.so.1",)  # the longer path is the extra copy
    assert f.bytes == len(data)
    assert "ln -s /usr/lib/libfoo.so.1 /opt/app/lib/libfoo.so.1" in f.fix
    assert "runs cp /usr/lib/libfoo.so.1" in f.fix


def test_exempt_small_docs_licences_caches_and_hidden_copies(tmp_path: Path) -> None:
    doc = blob("changelog", 200 * KB)
    small = blob("s", 4 * KB - 1)
    wheel = blob("wheel", 300 * KB)
    gone = blob("gone", 300 * KB)
    result = analyzed(
        tmp_path,
        [
            file("usr/share/doc/a/changelog.gz", doc),
            file("usr/share/doc/b/changelog.gz", doc),
            file("opt/a/LICENSE", doc),
            file("opt/b/LICENSE.txt", doc),
            file("x/small", small),
            file("y/small", small),
            file("root/.cache/pip/wheels/a.whl", wheel),
            file("srv/a.whl", wheel),
            file("tmp/build/out.bin", gone),
            file("usr/bin/out", gone),
        ],
        [wh("tmp/build")],
        history=["/bin/sh -c install", "/bin/sh -c rm -rf /tmp/build"],
    )
    assert of(result, "LS401") == []


def test_a_byte_is_counted_once_when_two_findings_cover_it(tmp_path: Path) -> None:
    data = blob("artifact", 300 * KB)
    result = analyzed(
        tmp_path,
        [file("opt/a.bin", data), file("tmp/work/a.bin", data)],
        history=["/bin/sh -c ./build.sh"],
    )
    (dup,) = of(result, "LS401")
    (tmp,) = of(result, "LS301")
    assert dup.claims == tmp.claims == frozenset({"tmp/work/a.bin"})
    assert dup.bytes == tmp.bytes == len(data)
    assert result.summary.reclaimable_bytes == len(data)  # not twice


BIG = CHEAP_DIGEST_BYTES + 1  # larger files are skipped unread when nothing needs them


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[SourceOptions]:
    """Record every read open_image_with_digests makes."""
    calls: list[SourceOptions] = []
    real = rehash.open_image

    def counted(target: str, *, source: str, options: SourceOptions) -> object:
        calls.append(options)
        return real(target, source=source, options=options)

    monkeypatch.setattr(rehash, "open_image", counted)
    return calls


def _hashed(image: object) -> set[str]:
    return {e.path for layer in image.layers for e in layer.entries if e.digest}  # type: ignore[attr-defined]


def test_rehash_reads_once_when_no_large_size_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small files are hashed from the buffers the header walk reads anyway;
    large files of sizes that do not repeat are never read."""
    archive = tmp_path / "i.tar"
    archive.write_bytes(
        docker_archive(
            [
                layer_tar([file("a", 5000), file("b", 5000), file("c", 10)]),
                layer_tar([file("big1", BIG), file("big2", BIG + 1)]),
            ]
        )
    )
    reads = _reads(monkeypatch)
    image = rehash.open_image_with_digests(str(archive), source="auto", options=SourceOptions())
    assert len(reads) == 1
    assert _hashed(image) == {"a", "b"}
    assert rehash.candidate_sizes(image) == frozenset()


def test_rehash_reads_again_for_large_files_whose_size_is_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "i.tar"
    archive.write_bytes(
        docker_archive(
            [
                layer_tar([file("a", BIG), file("b", BIG + 1), file("tiny1", 10)]),
                layer_tar([file("c", BIG), file("small", 6000), file("d", BIG + 2)]),
            ]
        )
    )
    reads = _reads(monkeypatch)
    image = rehash.open_image_with_digests(str(archive), source="auto", options=SourceOptions())
    assert len(reads) == 2
    assert _hashed(image) == {"a", "c", "small"}


def test_compressed_layers_hash_every_file_in_the_single_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compressed layer is inflated whole anyway: hashing all of it costs
    no read, and the image is never inflated twice."""
    archive = tmp_path / "i.tar"
    archive.write_bytes(
        docker_archive(
            [layer_tar([file("a", BIG), file("b", BIG), file("c", 2 * BIG), file("t", 10)])],
            compress_layers=True,
        )
    )
    reads = _reads(monkeypatch)
    image = rehash.open_image_with_digests(str(archive), source="auto", options=SourceOptions())
    assert len(reads) == 1
    assert _hashed(image) == {"a", "b", "c"}
    (dup,) = of(analyze(image), "LS401")
    assert dup.bytes == BIG


def test_rehash_ignores_hidden_files_when_choosing_candidates(tmp_path: Path) -> None:
    archive = tmp_path / "i.tar"
    archive.write_bytes(
        docker_archive([layer_tar([file("a", 5000), file("b", 5000)]), layer_tar([wh("b")])])
    )
    first = rehash.open_image_with_digests(str(archive), source="auto", options=SourceOptions())
    assert rehash.candidate_sizes(first) == frozenset()


@pytest.mark.parametrize("floor", [0, -1])
def test_rehash_can_be_turned_off(tmp_path: Path, floor: int) -> None:
    archive = tmp_path / "i.tar"
    archive.write_bytes(docker_archive([layer_tar([file("a", 5000), file("b", 5000)])]))
    image = rehash.open_image_with_digests(
        str(archive), source="auto", options=SourceOptions(), floor=floor
    )
    assert all(e.digest is None for layer in image.layers for e in layer.entries)


def test_the_hash_floor_matches_the_rule_floor() -> None:
    assert rehash.MIN_FILE_BYTES == duplicates.MIN_FILE_BYTES


def test_engine_references_hash_in_the_single_pass() -> None:
    assert engine_of("layerscope-test/none:1", "auto") == "docker"
    assert engine_of("anything", "podman") == "podman"
    assert engine_of("/etc", "auto") is None
    assert engine_of("layerscope-test/none:1", "oci") is None


def test_copies_installed_by_the_os_package_manager_are_the_packagers(tmp_path: Path) -> None:
    data = blob("types", 200 * KB)
    layer = [
        file("usr/share/nodejs/a/index.d.ts", data),
        file("usr/share/nodejs/b/index.d.ts", data),
    ]
    packaged = analyzed(tmp_path, layer, history=["/bin/sh -c apt-get install -y npm"])
    assert of(packaged, "LS401") == []
    by_hand = analyzed(
        tmp_path, layer, history=["/bin/sh -c cp -r /usr/share/nodejs/a /usr/share/nodejs/b"]
    )
    assert [f.bytes for f in of(by_hand, "LS401")] == [len(data)]


def _two_trees(tmp_path: Path, extra: Sequence[F], kept: str, dup: str) -> Analysis:
    tree = {f"m{i}.js": blob(f"module{i}", 30 * KB + i) for i in range(3)}
    return analyzed(
        tmp_path,
        [*(file(f"{kept}/{n}", b) for n, b in tree.items())],
        [*(file(f"{dup}/{n}", b) for n, b in tree.items()), *extra],
        history=["/bin/sh -c make", "/bin/sh -c cp -r /x /y"],
    )


def test_a_link_is_proposed_between_identical_trees(tmp_path: Path) -> None:
    (f,) = of(_two_trees(tmp_path, [], "opt/a", "srv/b"), "LS401")
    assert "symlink /srv/b to /opt/a" in f.fix


def test_no_link_when_the_trees_differ(tmp_path: Path) -> None:
    """The copy's directory also holds a file of its own: a link would lose it."""
    result = _two_trees(tmp_path, [file("srv/b/own.cfg", b"x" * 10)], "opt/a", "srv/b")
    (f,) = of(result, "LS401")
    assert f.fix.startswith("No fix is proposed") and "not identical trees" in f.fix
    assert "symlink" not in f.fix and "ln -s" not in f.fix


@pytest.mark.parametrize(
    ("kept", "dup"),
    [
        ("usr/lib/node_modules/@types/node", "app/node_modules/@types/node"),
        ("usr/lib/python3/dist-packages/pip", "usr/local/lib/python3.11/dist-packages/pip"),
        ("node_modules/@types/node", "node_modules/@types/node/ts4.8"),
    ],
)
def test_no_link_in_package_trees_or_into_itself(tmp_path: Path, kept: str, dup: str) -> None:
    (f,) = of(_two_trees(tmp_path, [], kept, dup), "LS401")
    assert f.fix.startswith("No fix is proposed"), f.fix
    assert "ln -s" not in f.fix and "symlink" not in f.fix

"""The engine's layer storage against its export, on real images of both builders.

For every image the storage path (``--engine-read storage``) must give the
same JSON report as the export path, byte for byte, apart from the layers'
``blob_digest`` (the export names blobs by the ids ``docker save`` makes up),
and the same entries in the same order with the same metadata.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layerscope.analysis import analyze
from layerscope.errors import SourceError
from layerscope.model import EntryType, Image
from layerscope.report.schema import to_dict
from layerscope.sources import open_image
from layerscope.sources.engine_read import read_storage
from layerscope.sources.interface import Progress, SourceOptions
from layerscope.sources.rehash import open_image_with_digests
from layerscope.sources.storage import StorageUnavailable
from layerscope.sources.storage_probe import plan_for
from tests.cli import cli_env, layerscope

from .imagebuild import build_image

ROOT = Path(__file__).resolve().parents[2]

# Hard links, opaque directories (rm -rf then mkdir), whiteouts of files and
# of whole directories, symlinks (dangling, absolute, to a directory),
# devices and a FIFO, sparse and empty files, non-UTF-8 and long names,
# set-id modes, other owners, and same-size files (equal and different) for
# the content digests.
DOCKERFILE = """\
FROM {base}
RUN mkdir -p /t/keep /t/gone/deep /t/opq/old /t/links /t/dev \\
 && dd if=/dev/zero of=/t/gone/deep/f bs=1000 count=30 \\
 && dd if=/dev/zero of=/t/opq/old/f bs=1000 count=20 \\
 && dd if=/dev/urandom of=/t/links/data bs=1000 count=90 \\
 && ln /t/links/data /t/links/hard1 && ln /t/links/data /t/links/hard2 \\
 && ln -s /t/links/data /t/links/abs && ln -s ../keep /t/links/dir \\
 && ln -s nowhere /t/links/dangling \\
 && cp /t/links/data /t/keep/copy1 && cp /t/links/data /t/keep/copy2 \\
 && dd if=/dev/urandom of=/t/keep/other bs=1000 count=90 \\
 && : > /t/keep/empty \\
 && dd if=/dev/zero of=/t/keep/sparse bs=1 count=1 seek=5000000 \\
 && touch "/t/keep/$(printf 'bad\\377name')" "/t/keep/$(printf 'caf\\303\\251')" \\
 && touch /t/keep/{long} \\
 && mknod /t/dev/null c 1 3 && mknod /t/dev/loop b 7 0 && mkfifo /t/dev/fifo \\
 && chmod 4755 /t/keep/other && chmod 1777 /t/keep \\
 && chown 1000:1000 /t/keep/copy2
COPY app/ /t/app/
RUN rm -rf /t/gone /t/opq && mkdir -p /t/opq/new \\
 && echo new > /t/opq/new/f && rm /t/links/data /t/keep/empty \\
 && ln /t/links/hard1 /t/links/hard3 && echo x >> /t/app/a.txt
RUN rm -rf /t/app && mkdir /t/app && echo back > /t/app/b.txt \\
 && ln -s /t/keep /t/dir2 && rm /t/dev/fifo
"""
APP = {"app/a.txt": b"a" * 6000, "app/sub/b.txt": b"b" * 6000, "app/c.txt": b"c" * 100}


@pytest.fixture(scope="module", params=[False, True], ids=["classic", "buildkit"])
def image(request: pytest.FixtureRequest, busybox_base: str) -> str:
    buildkit = request.param
    tag = f"ls-h15/storage-{'bk' if buildkit else 'classic'}:2"
    dockerfile = DOCKERFILE.format(base=busybox_base, long="n" * 120)
    return build_image(tag, dockerfile, APP, buildkit=buildkit)


def _report(tag: str, *flags: str) -> tuple[dict[str, Any], str]:
    proc = layerscope(tag, "--format", "json", "--verbose", *flags)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout), proc.stderr


def _path_lines(said: str) -> list[str]:
    """The --verbose lines that say which path read the image."""
    return [line for line in said.splitlines() if line.startswith("layerscope: reading ")]


def test_storage_and_export_reports_are_identical(image: str) -> None:
    storage, said = _report(image, "--engine-read", "storage")
    assert _path_lines(said) == [
        f"layerscope: reading {image} from the docker storage (overlay2, --engine-read storage)"
    ]
    export, said = _report(image, "--engine-read", "export")
    assert _path_lines(said) == [
        f"layerscope: reading the docker export of {image}: --engine-read export"
    ]
    # Source-specific: the export's blob names.
    for layer in storage["layers"] + export["layers"]:
        layer.pop("blob_digest")
    assert json.dumps(storage, sort_keys=True) == json.dumps(export, sort_keys=True)
    # The image holds what the Dockerfile made: the comparison is not vacuous.
    assert any(f["rule"].startswith("LS4") for f in storage["findings"])
    assert storage["summary"]["removed_bytes"] >= 50_000


def test_storage_gives_the_exports_entries(image: str) -> None:
    def read(mode: str) -> list[list[Any]]:
        img = open_image_with_digests(
            image, source="docker", options=SourceOptions(engine_read=mode)
        )
        return [list(layer.entries) for layer in img.layers]

    storage, export = read("storage"), read("export")
    types: set[EntryType] = set()
    for mine, theirs in zip(storage, export, strict=True):
        # The export hashes every file it streams; the storage path only
        # the duplicate candidates, and those digests must agree.
        digests = {e.path: e.digest for e in theirs}
        for e in mine:
            if e.digest is not None:
                assert digests[e.path] == e.digest, e.path
        assert [e._replace(digest=None) for e in mine] == [e._replace(digest=None) for e in theirs]
        types |= {e.type for e in mine}
    assert {
        EntryType.HARDLINK,
        EntryType.OPAQUE,
        EntryType.WHITEOUT,
        EntryType.SYMLINK,
        EntryType.CHAR,
        EntryType.BLOCK,
        EntryType.FIFO,
    } <= types
    names = {e.path for layer in storage for e in layer}
    assert "t/keep/bad\udcffname" in names and "t/keep/caf\u00e9" in names


def test_storage_forced_on_a_remote_engine_is_one_clear_error(
    image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    with pytest.raises(SourceError) as err:
        open_image(image, options=SourceOptions(engine_read="storage"))
    assert "\n" not in str(err.value) and "not a local socket" in str(err.value)


def test_the_default_says_at_verbose_that_it_reads_the_storage(image: str) -> None:
    report, said = _report(image)
    assert _path_lines(said) == [
        f"layerscope: reading {image} from the docker storage (overlay2, --engine-read auto)"
    ]
    assert report["image"]["source"] == "docker"
    # Without --verbose the line is not there.
    quiet = layerscope(image, "--format", "json")
    assert quiet.returncode in (0, 1) and not _path_lines(quiet.stderr), quiet.stderr


def test_auto_on_a_remote_engine_says_why_it_reads_the_export(image: str) -> None:
    # A tcp:// DOCKER_HOST (nothing listens on port 9): the storage on this
    # machine may not be that engine's, so the export is read, and fails.
    proc = layerscope(
        image, "--engine-timeout", "5", "--verbose", env={"DOCKER_HOST": "tcp://127.0.0.1:9"},
        timeout=120,
    )  # fmt: skip
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 2, proc.stderr
    assert lines[0] == (
        f"layerscope: reading the docker export of {image}: the storage cannot be read "
        "(DOCKER_HOST=tcp://127.0.0.1:9 is not a local socket)"
    )
    assert lines[1].startswith("layerscope: error: cannot reach the docker engine at tcp:"), lines[
        1
    ]


def test_an_image_removed_mid_read(busybox_base: str) -> None:
    tag = build_image(
        "ls-h15/vanish:1", f"FROM {busybox_base}\nRUN mkdir /v && echo v > /v/f\n", {}
    )
    options = SourceOptions()
    plan = plan_for(tag, "docker", options)
    subprocess.run(["docker", "rmi", "-f", tag], check=True, capture_output=True)
    # The walk finds the top layer's directory gone: the storage is unavailable ...
    with pytest.raises(StorageUnavailable, match="removed"):
        read_storage(plan, reference=tag, engine="docker", options=options)
    # ... and the export then says the image is gone: one line, exit 2.
    proc = layerscope(tag, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "not found" in proc.stderr


@pytest.fixture(scope="module")
def podman_image(tmp_path_factory: pytest.TempPathFactory, busybox_base: str) -> str:
    """The same Dockerfile built by Podman (buildah) into its rootful store."""
    if shutil.which("podman") is None or os.geteuid() != 0:
        pytest.skip("needs podman, as root (the rootful store)")
    tag = "localhost/ls-h15/storage-podman:1"
    ctx = tmp_path_factory.mktemp("podman-ctx")
    for name, data in APP.items():
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_bytes(data)
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(base=busybox_base, long="n" * 120))
    subprocess.run(
        ["podman", "pull", "-q", f"docker-daemon:{busybox_base}"], check=True, capture_output=True
    )
    subprocess.run(
        ["podman", "build", "-q", "--cap-add", "MKNOD", "--network", "none", "-t", tag, str(ctx)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return tag


def test_podman_storage_gives_what_podman_saves(podman_image: str, tmp_path: Path) -> None:
    layout = tmp_path / "oci"
    subprocess.run(
        ["podman", "save", "--format", "oci-dir", "-o", str(layout), podman_image],
        check=True,
        capture_output=True,
    )
    saved = open_image_with_digests(str(layout), source="auto", options=SourceOptions())
    stored = open_image_with_digests(
        podman_image, source="podman", options=SourceOptions(engine_read="storage")
    )
    assert stored.source == "podman" and stored.id == saved.id
    for mine, theirs in zip(stored.layers, saved.layers, strict=True):
        assert mine.size_bytes == theirs.size_bytes and mine.digest == theirs.digest
        assert [e._replace(digest=None) for e in mine.entries] == [
            e._replace(digest=None) for e in theirs.entries
        ]

    def report(image: Image) -> dict[str, Any]:
        out = to_dict(analyze(image))
        for key in ("reference", "source"):
            out["image"].pop(key)
        for layer in out["layers"]:
            # How the save stored its blobs (gzip), and so what a pull of them moves:
            # not the layers' content.
            for key in ("blob_digest", "media_type", "compressed_bytes", "download_bytes"):
                layer.pop(key)
        out["summary"].pop("download_bytes")
        return out

    assert json.dumps(report(stored), sort_keys=True) == json.dumps(report(saved), sort_keys=True)
    types = {e.type for layer in stored.layers for e in layer.entries}
    assert {EntryType.OPAQUE, EntryType.WHITEOUT, EntryType.HARDLINK, EntryType.CHAR} <= types


@pytest.mark.parametrize("mode", ["storage", "export"])
def test_the_progress_screen_says_which_path_ran(image: str, mode: str) -> None:
    pytest.importorskip("textual")
    import time

    from layerscope.tui.loader import Loader, Phase
    from layerscope.tui.widgets.progress import status_line

    seen: list[tuple[str, int, int | None]] = []

    def reader(opts: SourceOptions) -> Image:
        report = opts.progress
        assert report is not None

        def spy(p: Progress) -> None:
            seen.append((p.via, p.layers_done, p.layers_total))
            report(p)

        return open_image(image, options=dataclasses.replace(opts, progress=spy))

    loader = Loader(reader, analyze, SourceOptions(engine_read=mode))
    loader.start()
    deadline = time.monotonic() + 120
    while loader.state.phase not in (Phase.DONE, Phase.FAILED) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert loader.state.phase is Phase.DONE, loader.state.error
    assert status_line(loader.state).startswith(f"from the docker {mode}")
    # Per-layer progress, every layer of the image counted.
    assert [done for _, done, _ in seen if done][-1] == 5  # the base and four own
    assert {via for via, _, _ in seen} == {f"docker {mode}"}


def test_the_storage_path_leaves_the_docker_sdk_unloaded(image: str) -> None:
    """The plan, the base listing and the base match ask the engine over its
    socket: importing the SDK (a third of a second) would be a tenth of the
    whole run on the bench image."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['layerscope', {image!r}, '--format', 'json', '-o', '/dev/null']\n"
        "try:\n"
        "    runpy.run_module('layerscope', run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, 1), e.code\n"
        "print(sorted(m for m in sys.modules if m == 'docker' or m.startswith('docker.')))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cli_env(),  # not in CI mode: its summary would go to stdout
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


ROOTLESS_USER = "layerscope-rootless"
# No device nodes: a rootless build cannot make them (whiteouts it can).
ROOTLESS_DOCKERFILE = """\
FROM localhost/{base}
RUN mkdir -p /t/keep /t/gone/deep /t/opq/old /t/links \\
 && dd if=/dev/zero of=/t/gone/deep/f bs=1000 count=30 \\
 && dd if=/dev/zero of=/t/opq/old/f bs=1000 count=20 \\
 && dd if=/dev/urandom of=/t/links/data bs=1000 count=90 \\
 && ln /t/links/data /t/links/hard1 && ln -s /t/links/data /t/links/abs \\
 && cp /t/links/data /t/keep/copy1 && cp /t/links/data /t/keep/copy2 \\
 && touch "/t/keep/$(printf 'bad\\377name')" && mkfifo /t/keep/fifo \\
 && chown 1000:1000 /t/keep/copy2 && chown 65534:65534 /t/keep/copy1 \\
 && chmod 4755 /t/keep/copy1
RUN rm -rf /t/gone /t/opq && mkdir -p /t/opq/new && echo new > /t/opq/new/f \\
 && rm /t/links/data
"""


def _as_user(
    user: str | None, *argv: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``argv`` as ``user`` (None: as this user), with its own runtime directory."""
    if user is None:
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    runtime = f"/tmp/{user}-run"
    script = (
        f"mkdir -p {runtime} && chmod 700 {runtime} && cd ~ && "
        f"XDG_RUNTIME_DIR={runtime} exec " + " ".join(shlex.quote(a) for a in argv)
    )
    return subprocess.run(
        ["runuser", "-u", user, "--", "sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary directory the rootless user may use too (pytest's are root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="layerscope-rootless-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def rootless(busybox_base: str) -> Iterator[tuple[str, str]]:
    """(reference, store root) of the test Dockerfile built by rootless Podman
    into a user's own store. As root, the user is ``layerscope-rootless``
    (made here when missing); as any other user, that user."""
    if shutil.which("podman") is None:
        pytest.skip("needs podman")
    user: str | None = None
    if os.geteuid() == 0:
        user = ROOTLESS_USER
        if subprocess.run(["id", user], capture_output=True, check=False).returncode:
            made = subprocess.run(
                ["useradd", "--create-home", "--shell", "/bin/sh", user],
                capture_output=True,
                text=True,
                check=False,
            )
            if made.returncode:
                pytest.skip(f"cannot make a user for rootless Podman: {made.stderr.strip()}")
    conf = _as_user(
        user,
        "sh",
        "-c",
        'mkdir -p "$HOME/.config/containers" && '
        'printf "[storage]\\ndriver = \\"overlay\\"\\n" > "$HOME/.config/containers/storage.conf"',
    )
    assert conf.returncode == 0, conf.stderr
    info = _as_user(
        user, "podman", "info", "--format", "{{.Store.GraphDriverName}} {{.Store.GraphRoot}}"
    )
    if info.returncode:
        pytest.skip(f"rootless Podman does not run here: {info.stderr.strip()[-500:]}")
    driver, _, store = info.stdout.strip().partition(" ")
    if driver != "overlay":
        pytest.skip(f"rootless Podman uses the {driver} driver here, not overlay")
    ctx = Path(tempfile.mkdtemp(prefix="layerscope-rootless-ctx-"))
    ctx.chmod(0o755)
    subprocess.run(
        ["docker", "save", "-o", str(ctx / "base.tar"), busybox_base],
        check=True,
        capture_output=True,
    )
    (ctx / "Dockerfile").write_text(ROOTLESS_DOCKERFILE.format(base=busybox_base))
    for p in ctx.iterdir():
        p.chmod(0o644)
    ref = "localhost/ls-h15/storage-rootless:1"
    try:
        for argv in (
            ("podman", "load", "-q", "-i", str(ctx / "base.tar")),
            ("podman", "tag", busybox_base, f"localhost/{busybox_base}"),
            ("podman", "build", "-q", "--network", "none", "-t", ref, str(ctx)),
        ):
            done = _as_user(user, *argv)
            assert done.returncode == 0, f"{argv}: {done.stderr[-2000:]}"
    finally:
        shutil.rmtree(ctx, ignore_errors=True)
    yield ref, store


def test_rootless_podman_storage_gives_what_podman_saves(
    rootless: tuple[str, str], shared_tmp: Path
) -> None:
    """A rootless store keeps the files under the user's host ids (the
    image's 0 is the user, 1... its subordinate ids) and marks opaque
    directories with user.overlay.opaque: the storage path must still give
    the entries ``podman save`` gives."""
    ref, store = rootless
    user = ROOTLESS_USER if os.geteuid() == 0 else None
    layout = shared_tmp / "oci"
    saved_as = _as_user(user, "podman", "save", "--format", "oci-dir", "-o", str(layout), ref)
    assert saved_as.returncode == 0, saved_as.stderr
    saved = open_image_with_digests(str(layout), source="auto", options=SourceOptions())
    if user is None:  # this user's own store: the whole path, as `layerscope IMAGE` runs
        stored = open_image_with_digests(
            ref, source="podman", options=SourceOptions(engine_read="storage")
        )
    else:  # root reads the user's store (root's own Python is not the user's to run)
        from layerscope.sources.rehash import MIN_FILE_BYTES
        from layerscope.sources.storage_probe import podman_plan

        plan = podman_plan(ref, store)
        assert plan.uid_map is not None and plan.driver.endswith("(rootless)")
        stored = read_storage(
            plan,
            reference=ref,
            engine="podman",
            options=SourceOptions(digest_floor=MIN_FILE_BYTES),
        )
    assert stored.id == saved.id
    for mine, theirs in zip(stored.layers, saved.layers, strict=True):
        assert mine.size_bytes == theirs.size_bytes and mine.digest == theirs.digest
        assert [e._replace(digest=None) for e in mine.entries] == [
            e._replace(digest=None) for e in theirs.entries
        ]
    entries = {e.path: e for layer in stored.layers for e in layer.entries}
    assert (entries["t/keep/copy2"].uid, entries["t/keep/copy1"].gid) == (1000, 65534)
    assert entries["t/keep/fifo"].uid == 0
    types = {e.type for layer in stored.layers for e in layer.entries}
    assert {EntryType.OPAQUE, EntryType.WHITEOUT, EntryType.HARDLINK, EntryType.FIFO} <= types

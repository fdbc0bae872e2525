"""One image, every producer: the real docker, podman, skopeo, buildah and umoci.

An image built by the Docker engine is reached through every path a user
has: the engine's export, ``docker save``, Podman's engine and each
``podman save`` format, skopeo copies (docker-archive, OCI layout and
archive, ``dir:``; gzip, zstd and uncompressed), ``buildah push``, a layout
umoci rewrote, and stdin. Every path must give the summary bytes, layers and
findings of the ``docker save`` archive. Podman's API service is started
here when it is not running (``podman system service``).

Needs: docker.io, podman, skopeo, buildah, umoci (Debian packages).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.cli import layerscope as run_layerscope

from .imagebuild import _run, build_image, docker_save

REPO = Path(__file__).resolve().parents[2]
TAG = "layerscope-test/producers:1"
PODMAN_REF = f"docker.io/{TAG}"  # what `podman pull docker-daemon:TAG` names it
PODMAN_ONLY = "localhost/layerscope-test/producers-podman:1"  # a tag Docker does not have
MULTI = "layerscope-test/producers-multi:1"
PODMAN_SOCKET = "/run/podman/podman.sock"

DOCKERFILE = """\
FROM {base}
RUN mkdir -p /data && dd if=/dev/zero of=/data/big bs=1024 count=300 2>/dev/null \\
    && echo keep > /data/keep
COPY app.bin /app/app.bin
COPY app.bin /opt/copy.bin
RUN rm /data/big && chmod 600 /app/app.bin
"""
APP_BIN = bytes(range(256)) * 400  # 100 KiB, stored three times (LS401 needs 64 KiB)

# Layer fields that name how a layer is stored, not what it holds.
STORAGE_FIELDS = {"blob_digest", "media_type", "compressed_bytes", "download_bytes"}

SCHEMA = json.loads(
    resources.files("layerscope.report").joinpath("schema-v1.json").read_text(encoding="utf-8")
)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install {name})", pytrace=False)
    return path


def layerscope(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return run_layerscope(*args, stdin=stdin, env=env, binary=True)


def report_of(*args: str, stdin: bytes | None = None) -> dict[str, Any]:
    r = layerscope(*args, "--format", "json", "--no-config", stdin=stdin)
    assert r.returncode == 0, r.stderr.decode()
    data: dict[str, Any] = json.loads(r.stdout)
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)
    return data


def comparable(report: dict[str, Any]) -> tuple[Any, ...]:
    """What every path must agree on: summary bytes, layers, findings."""
    summary = {k: v for k, v in report["summary"].items() if k != "download_bytes"}
    layers = [{k: v for k, v in la.items() if k not in STORAGE_FIELDS} for la in report["layers"]]
    return summary, layers, report["findings"]


def _ping(path: str) -> bool:
    """Whether an API service answers ``GET /_ping`` on the unix socket ``path``."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
            return sock.recv(64).split(b" ")[1:2] == [b"200"]
    except OSError:
        return False


@pytest.fixture(scope="module")
def podman_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Podman's API socket, started here unless something already serves it."""
    podman = tool("podman")
    if _ping(PODMAN_SOCKET):
        yield PODMAN_SOCKET
        return
    os.makedirs(os.path.dirname(PODMAN_SOCKET), exist_ok=True)
    log = tmp_path_factory.mktemp("podman-service") / "service.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [podman, "system", "service", "--time=0", f"unix://{PODMAN_SOCKET}"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _ping(PODMAN_SOCKET):
            if proc.poll() is not None or time.monotonic() > deadline:
                reason = log.read_text(errors="replace").strip()[-300:]
                pytest.skip(f"podman system service did not start: {reason}")
            time.sleep(0.2)
        yield PODMAN_SOCKET
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def image(busybox_base: str) -> Iterator[str]:
    yield build_image(TAG, DOCKERFILE.format(base=busybox_base), {"app.bin": APP_BIN})
    subprocess.run(["docker", "rmi", "-f", TAG], capture_output=True, check=False)


@pytest.fixture(scope="module")
def in_podman(image: str, podman_service: str) -> Iterator[str]:
    """The same image in Podman's storage (copied from Docker's engine)."""
    podman = tool("podman")
    _run([podman, "pull", "-q", f"docker-daemon:{image}"], what="podman pull", timeout=300)
    _run([podman, "tag", PODMAN_REF, PODMAN_ONLY], what="podman tag", timeout=60)
    yield PODMAN_REF
    subprocess.run([podman, "rmi", "-f", PODMAN_ONLY, PODMAN_REF], capture_output=True, check=False)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("producers")


@pytest.fixture(scope="module")
def expected(image: str, work: Path) -> dict[str, Any]:
    """The ``docker save`` archive's report: what every path must match."""
    report = report_of(str(docker_save(image, work / "docker-save.tar")))
    # Something to agree on: every kind of hidden and duplicated byte.
    kinds = {f["kind"] for f in report["findings"]}
    assert {"removed-later", "overwritten-later", "duplicate-content"} <= kinds, kinds
    return report


@dataclass(frozen=True)
class Case:
    """How to reach the image: ``make(work)`` -> (CLI args, stdin bytes)."""

    source: str  # image.source the report must name
    download: str  # "descriptors": the sizes in the manifest; "unknown": null
    make: Callable[[Path], tuple[list[str], bytes | None]]
    podman: bool = False  # needs the image in Podman's storage


def _skopeo(dest: str, *flags: str) -> None:
    _run(
        [tool("skopeo"), "copy", "--quiet", *flags, f"docker-daemon:{TAG}", dest],
        what=f"skopeo copy to {dest}",
        timeout=300,
    )


def _path(make: Callable[[Path], Path]) -> Callable[[Path], tuple[list[str], bytes | None]]:
    return lambda work: ([str(make(work))], None)


def _podman_save(fmt: str, name: str) -> Callable[[Path], tuple[list[str], bytes | None]]:
    def make(work: Path) -> tuple[list[str], bytes | None]:
        out = work / name
        _run(
            [tool("podman"), "save", "-q", "--format", fmt, "-o", str(out), PODMAN_REF],
            what=f"podman save --format {fmt}",
            timeout=300,
        )
        return [str(out)], None

    return make


def _skopeo_case(
    transport: str, name: str, *flags: str, tag: str = "latest"
) -> Callable[[Path], Path]:
    """``tag=""``: an OCI layout whose index names no image (no ref.name)."""

    def make(work: Path) -> Path:
        out = work / name
        named = transport.startswith("oci") and tag
        _skopeo(f"{transport}:{out}" + (f":{tag}" if named else ""), *flags)
        return out

    return make


def _buildah_push(transport: str, name: str) -> Callable[[Path], tuple[list[str], bytes | None]]:
    def make(work: Path) -> tuple[list[str], bytes | None]:
        out = work / name
        dest = f"{transport}:{out}" + (":latest" if transport == "oci" else "")
        _run([tool("buildah"), "push", "-q", PODMAN_REF, dest], what="buildah push", timeout=300)
        return [str(out)], None

    return make


def _umoci(work: Path) -> tuple[list[str], bytes | None]:
    """A layout whose index and manifest umoci wrote: a skopeo layout given a
    new tag (with a label) by ``umoci config``, the old tag removed, gc'd."""
    layout = work / "umoci"
    _skopeo(f"oci:{layout}:latest")
    umoci = tool("umoci")
    for argv in (
        [
            umoci,
            "config",
            "--image",
            f"{layout}:latest",
            "--tag",
            "rewritten",
            "--config.label",
            "producer=umoci",
        ],
        [umoci, "rm", "--image", f"{layout}:latest"],
        [umoci, "gc", "--layout", str(layout)],
    ):
        _run(argv, what="umoci", timeout=120)
    return [f"{layout}:rewritten"], None


def _docker_save_stdin(work: Path) -> tuple[list[str], bytes | None]:
    data = subprocess.run(["docker", "save", TAG], capture_output=True, check=True).stdout
    return ["-"], data


def _file_stdin(make: Callable[[Path], Path], *, gz: bool = False) -> Callable[..., Any]:
    def run(work: Path) -> tuple[list[str], bytes | None]:
        data = make(work).read_bytes()
        return ["-"], gzip.compress(data, mtime=0) if gz else data

    return run


CASES: dict[str, Case] = {
    "docker-engine": Case("docker", "unknown", lambda w: ([TAG, "--source", "docker"], None)),
    "podman-engine": Case(
        "podman", "unknown", lambda w: ([PODMAN_REF, "--source", "podman"], None), podman=True
    ),
    "podman-engine-auto": Case("podman", "unknown", lambda w: ([PODMAN_ONLY], None), podman=True),
    "podman-save-docker-archive": Case(
        "docker-archive", "unknown", _podman_save("docker-archive", "p-da.tar"), podman=True
    ),
    "podman-save-oci-archive": Case(
        "oci", "descriptors", _podman_save("oci-archive", "p-oa.tar"), podman=True
    ),
    "podman-save-oci-dir": Case("oci", "descriptors", _podman_save("oci-dir", "p-od"), podman=True),
    "podman-save-docker-dir": Case(
        "dir", "descriptors", _podman_save("docker-dir", "p-dd"), podman=True
    ),
    "skopeo-docker-archive": Case(
        "docker-archive", "unknown", _path(_skopeo_case("docker-archive", "s-da.tar"))
    ),
    "skopeo-oci-gzip": Case("oci", "descriptors", _path(_skopeo_case("oci", "s-oci"))),
    "skopeo-oci-no-ref-name": Case(
        "oci", "descriptors", _path(_skopeo_case("oci", "s-oci-noref", tag=""))
    ),
    "skopeo-oci-zstd": Case(
        "oci",
        "descriptors",
        _path(_skopeo_case("oci", "s-oci-zst", "--dest-compress-format", "zstd")),
    ),
    "skopeo-oci-uncompressed": Case(
        "oci",
        "descriptors",
        _path(_skopeo_case("oci", "s-oci-raw", "--dest-oci-accept-uncompressed-layers")),
    ),
    "skopeo-oci-archive-gzip": Case(
        "oci", "descriptors", _path(_skopeo_case("oci-archive", "s-oa.tar"))
    ),
    "skopeo-oci-archive-zstd": Case(
        "oci",
        "descriptors",
        _path(_skopeo_case("oci-archive", "s-oa-zst.tar", "--dest-compress-format", "zstd")),
    ),
    "skopeo-dir": Case("dir", "descriptors", _path(_skopeo_case("dir", "s-dir"))),
    "skopeo-dir-gzip": Case(
        "dir", "descriptors", _path(_skopeo_case("dir", "s-dir-gz", "--dest-compress"))
    ),
    "skopeo-dir-oci-zstd": Case(
        "dir",
        "descriptors",
        _path(
            _skopeo_case(
                "dir",
                "s-dir-zst",
                "--format",
                "oci",
                "--dest-compress",
                "--dest-compress-format",
                "zstd",
            )
        ),
    ),
    "buildah-push-oci": Case("oci", "descriptors", _buildah_push("oci", "b-oci"), podman=True),
    "buildah-push-dir": Case("dir", "descriptors", _buildah_push("dir", "b-dir"), podman=True),
    "umoci-layout": Case("oci", "descriptors", _umoci),
    "stdin-docker-save": Case("stdin", "unknown", _docker_save_stdin),
    "stdin-skopeo-docker-archive": Case(
        "stdin", "unknown", _file_stdin(_skopeo_case("docker-archive", "in-da.tar"))
    ),
    "stdin-oci-archive-gzipped": Case(
        "stdin", "descriptors", _file_stdin(_skopeo_case("oci-archive", "in-oa.tar"), gz=True)
    ),
}


def descriptor_total(args: list[str], stdin: bytes | None) -> int:
    """The layer sizes the manifest states, read here with tarfile and json."""
    path = args[0].split(":")[0] if args[0] != "-" else ""
    files: dict[str, bytes] = {}
    if stdin is not None or os.path.isfile(path):
        data = stdin if stdin is not None else Path(path).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            for m in t.getmembers():
                f = t.extractfile(m) if m.isfile() and m.size < 1 << 20 else None
                if f is not None:
                    files[m.name.removeprefix("./")] = f.read()
    else:
        for p in Path(path).rglob("*"):
            if p.is_file() and p.stat().st_size < 1 << 20:
                files[str(p.relative_to(path))] = p.read_bytes()

    def blob(digest: str) -> Any:
        hexpart = digest.split(":")[1]
        raw = files.get(f"blobs/sha256/{hexpart}") or files.get(hexpart)
        return json.loads(raw or b"null")

    if "index.json" in files:
        manifest = json.loads(files["index.json"])
        while "manifests" in manifest:
            manifest = blob(manifest["manifests"][0]["digest"])
    else:
        manifest = json.loads(files["manifest.json"])
    return sum(int(layer["size"]) for layer in manifest["layers"])


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_path_gives_the_docker_save_figures(
    case: str, expected: dict[str, Any], work: Path, request: pytest.FixtureRequest
) -> None:
    c = CASES[case]
    if c.podman:
        request.getfixturevalue("in_podman")
    args, stdin = c.make(work)
    got = report_of(*args, stdin=stdin)
    assert got["image"]["source"] == c.source
    assert comparable(got) == comparable(expected)
    assert expected["summary"]["download_bytes"] is None  # plain tars: not known
    download = got["summary"]["download_bytes"]
    if c.download == "unknown":
        assert download is None
        assert all(la["download_bytes"] is None for la in got["layers"])
    else:
        assert download == descriptor_total(args, None if stdin is None else gzip.decompress(stdin))
        assert download == sum(la["download_bytes"] for la in got["layers"])


def test_max_download_on_a_layout_and_on_the_engine(image: str, work: Path) -> None:
    layout = _skopeo_case("oci", "budget-oci")(work)
    download = report_of(str(layout))["summary"]["download_bytes"]
    ok = layerscope(str(layout), "--no-config", "--ci", "--max-download", str(download))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = layerscope(str(layout), "--no-config", "--ci", "--max-download", str(download - 1))
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert b"FAIL  max_download" in bad.stdout
    engine = layerscope(image, "--no-config", "--ci", "--max-download", "1G")
    assert engine.returncode == 2
    assert engine.stderr.decode().splitlines() == [
        "layerscope: error: --max-download: the source does not tell what pulling the image "
        "transfers (its layers are stored uncompressed); read an OCI layout, a dir: copy or "
        "a registry"
    ]


def _one_line_exit_2(r: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("layerscope: error:"), r.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_inputs_one_line_exit_2(in_podman: str, work: Path) -> None:
    _one_line_exit_2(
        layerscope("localhost/layerscope-test/no-such:1", "--source", "podman"),
        "not found in the podman engine",
    )
    _one_line_exit_2(
        layerscope("x:1", "--source", "podman", env={"CONTAINER_HOST": "unix:///nonexistent"}),
        "cannot reach the podman engine at unix:///nonexistent",
    )
    # auto: no engine has a reference that names a host (Podman's localhost/...), so it
    # goes to that registry, and the one line says both (docs/sources.md).
    _one_line_exit_2(
        layerscope("localhost/layerscope-test/no-such:1"),
        "registry localhost",
        "nor is it in the docker or podman engine",
    )
    _one_line_exit_2(
        layerscope("layerscope-test/no-such:1"),
        "not found in the docker engine",
        "nor in the podman engine",
    )
    # The engine's image has the host's platform only: another is not silently it.
    _one_line_exit_2(
        layerscope(TAG, "--platform", "linux/s390x"),
        "platform linux/s390x not in the image (available: linux/",
    )
    # A dir: copy that lost a layer, and one whose layer is a symlink out of it.
    broken = _skopeo_case("dir", "broken-dir")(work)
    manifest = json.loads((broken / "manifest.json").read_bytes())
    first, second = (la["digest"].split(":")[1] for la in manifest["layers"][:2])
    (broken / first).unlink()
    _one_line_exit_2(layerscope(str(broken)), "is missing from the directory")
    (broken / first).symlink_to(broken / second)  # inside: reads, but the size is wrong
    (broken / second).unlink()
    (broken / second).symlink_to("/etc/passwd")
    _one_line_exit_2(layerscope(str(broken)), "outside the layout")
    # A podman save cut short, on a file and on stdin.
    whole = _podman_save("docker-archive", "cut.tar")(work)[0][0]
    data = Path(whole).read_bytes()
    cut = work / "cut-short.tar"
    cut.write_bytes(data[: len(data) // 2])
    _one_line_exit_2(layerscope(str(cut)))
    _one_line_exit_2(layerscope("-", stdin=data[: len(data) // 2]), "stdin")


@pytest.fixture(scope="module")
def multi_layout(work: Path, podman_service: str) -> Iterator[Path]:
    """``buildah build --arch`` arm64 and amd64 of a FROM scratch + COPY image
    (no RUN: nothing to emulate), pushed as one index with ``manifest push --all``."""
    buildah = tool("buildah")
    ctx = work / "multi-ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM scratch\nCOPY a.bin /a.bin\nCOPY a.bin /b.bin\n")
    (ctx / "a.bin").write_bytes(APP_BIN)
    subprocess.run([buildah, "manifest", "rm", MULTI], capture_output=True, check=False)
    _run([buildah, "manifest", "create", MULTI], what="buildah manifest create", timeout=60)
    built: list[str] = []  # the per-arch images (untagged: removed at the end)
    try:
        for arch in ("arm64", "amd64"):
            out = _run(
                [buildah, "build", "-q", "--arch", arch, "--manifest", MULTI, str(ctx)],
                what=f"buildah build --arch {arch}",
                timeout=300,
            )
            built.append(out.split()[-1])
        layout = work / "multi"
        _run(
            [buildah, "manifest", "push", "-q", "--all", MULTI, f"oci:{layout}:latest"],
            what="buildah manifest push",
            timeout=300,
        )
        yield layout
    finally:
        subprocess.run([buildah, "manifest", "rm", MULTI], capture_output=True, check=False)
        if built:
            subprocess.run([buildah, "rmi", *built], capture_output=True, check=False)


def test_multi_platform_index(multi_layout: Path, work: Path) -> None:
    arm = report_of(str(multi_layout), "--platform", "linux/arm64")
    amd = report_of(str(multi_layout), "--platform", "linux/amd64")
    assert (arm["image"]["architecture"], amd["image"]["architecture"]) == ("arm64", "amd64")
    assert arm["summary"]["total_bytes"] == amd["summary"]["total_bytes"] == 2 * len(APP_BIN)
    archive = work / "multi.tar"
    with tarfile.open(archive, "w") as t:
        t.add(multi_layout, arcname=".")
    for args, stdin in (([str(multi_layout)], None), (["-"], archive.read_bytes())):
        r = layerscope(*args, "--platform", "linux/s390x", stdin=stdin)
        _one_line_exit_2(
            r, "platform linux/s390x not in the image (available: linux/amd64, linux/arm64)"
        )
    for args, stdin in (
        ([str(multi_layout)], None),
        ([str(archive)], None),
        (["-"], archive.read_bytes()),
    ):
        r = layerscope(*args, "--all-platforms", "--format", "json", "--no-config", stdin=stdin)
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert sorted(p["platform"] for p in doc["platforms"]) == ["linux/amd64", "linux/arm64"]
        by = {p["platform"]: p["report"] for p in doc["platforms"]}
        assert comparable(by["linux/arm64"]) == comparable(arm)
        assert comparable(by["linux/amd64"]) == comparable(amd)
        for report in by.values():
            jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_auto_reads_podman_when_docker_does_not_answer(
    in_podman: str, expected: dict[str, Any], work: Path
) -> None:
    r = layerscope(
        PODMAN_ONLY,
        "--format",
        "json",
        "--no-config",
        env={"DOCKER_HOST": f"unix://{work}/no-docker-here.sock"},
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["image"]["source"] == "podman"
    assert comparable(got) == comparable(expected)

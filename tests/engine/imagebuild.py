"""Build real container images for the engine tests.

Nothing here can pull from a registry (there is none in CI), so every base image is made
locally with ``docker import``:

* ``layerscope-test/busybox:1``: Debian's static ``/bin/busybox`` plus applet symlinks.
  Small and built in about a second.
* ``layerscope-test/debian:bookworm``: a ``debootstrap --variant=minbase`` rootfs. Takes a
  few minutes, so only ``slow`` tests use it.

Images are built with the classic builder (the ``docker`` first on PATH, with
``DOCKER_BUILDKIT=0``) or with BuildKit (``DOCKER_BUILDKIT=1 /usr/bin/docker``, the
docker.io 20.10 client, since the newer client on PATH has no buildx).

These are plain functions (no pytest import) so they can be used from a REPL too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

BUSYBOX_TAG = "layerscope-test/busybox:1"
DEBIAN_TAG = "layerscope-test/debian:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "bookworm"

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUILDKIT_DOCKER = "/usr/bin/docker"
DOCKERD_LOG = "/tmp/dockerd.log"

Compression = Literal["gzip", "zstd", "uncompressed"]

_dockerd_start_attempted = False


class ImageBuildError(RuntimeError):
    """A docker/skopeo/debootstrap command failed; the message carries its output."""


# --------------------------------------------------------------------------- helpers


def _docker() -> str:
    """The ``docker`` client first on PATH (used for everything but BuildKit builds)."""
    path = shutil.which("docker")
    if path is None:
        raise ImageBuildError("no `docker` client on PATH")
    return path


def _buildkit_docker() -> str:
    """The client that can build with BuildKit without buildx (docker.io 20.10)."""
    if os.access(BUILDKIT_DOCKER, os.X_OK):
        return BUILDKIT_DOCKER
    return _docker()


def _run(
    argv: Sequence[str],
    *,
    what: str,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run ``argv``; return its combined output, or raise ImageBuildError including it."""
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=full_env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.output or b"").decode(errors="replace")
        raise ImageBuildError(f"{what}: timed out after {timeout:.0f}s: {argv}\n{out}") from exc
    except FileNotFoundError as exc:
        raise ImageBuildError(f"{what}: command not found: {argv[0]}") from exc
    out = proc.stdout.decode(errors="replace")
    if proc.returncode != 0:
        raise ImageBuildError(
            f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n--- output ---\n{out}"
        )
    return out


def image_exists(tag: str) -> bool:
    """True when the engine has an image called ``tag``."""
    proc = subprocess.run(
        [_docker(), "image", "inspect", "--format", "{{.Id}}", tag],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    return proc.returncode == 0


def _docker_info_ok(timeout: float = 20) -> str | None:
    """None if ``docker info`` answers, else a short reason."""
    docker = shutil.which("docker")
    if docker is None:
        return "no `docker` client on PATH"
    try:
        proc = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`docker info` did not answer within {timeout:.0f}s"
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return f"`docker info` failed: {err[-1] if err else f'exit {proc.returncode}'}"
    return None


def _start_dockerd(wait_seconds: float = 60) -> str | None:
    """Start ``dockerd`` in the background like ``.ci/start-docker``; None once it answers."""
    dockerd = shutil.which("dockerd") or (
        "/usr/sbin/dockerd" if os.access("/usr/sbin/dockerd", os.X_OK) else None
    )
    if dockerd is None:
        return "no `dockerd` to start"
    # Detached through `sh -c '... &'` and setsid: sh exits at once, and the daemon, in its
    # own session, outlives the test run (the next run finds it up).
    subprocess.run(
        ["sh", "-c", 'nohup setsid "$0" </dev/null >>"$1" 2>&1 &', dockerd, DOCKERD_LOG],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )
    deadline = time.monotonic() + wait_seconds
    reason: str | None = "dockerd never answered"
    while time.monotonic() < deadline:
        reason = _docker_info_ok(timeout=10)
        if reason is None:
            return None
        time.sleep(1)
    return f"started {dockerd} but `docker info` never answered ({reason}); see {DOCKERD_LOG}"


# --------------------------------------------------------------------------- engine


def engine_available() -> str | None:
    """Return None when a Docker engine answers, else the reason it does not.

    If no engine answers but we are root and ``dockerd`` exists, start it once per process
    (as ``.ci/start-docker`` does) and wait up to 60 s before giving up.
    """
    global _dockerd_start_attempted
    reason = _docker_info_ok()
    if reason is None:
        return None
    if _dockerd_start_attempted or os.geteuid() != 0:
        return reason
    _dockerd_start_attempted = True
    if shutil.which("dockerd") is None and not os.access("/usr/sbin/dockerd", os.X_OK):
        return reason
    start_reason = _start_dockerd()
    if start_reason is None:
        return None
    return f"{reason}; {start_reason}"


# --------------------------------------------------------------------------- base images


def _tar_rootfs(rootfs: Path, dest: Path, owners: Mapping[str, int] | None = None) -> None:
    """Tar ``rootfs`` (as ``/``) into ``dest``; all owned by root unless ``owners`` says.

    ``owners`` maps a path in the rootfs (``"home/app"``) to the uid (= gid) owning it,
    so the image is the same whoever builds it.
    """
    owners = owners or {}

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = owners.get(info.name, 0)
        info.uname = info.gname = ""
        return info

    with tarfile.open(dest, "w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name, filter=owned)


def ensure_busybox_base() -> str:
    """Return ``layerscope-test/busybox:1``, importing it first if the engine lacks it.

    The rootfs holds Debian's static ``/bin/busybox`` (package busybox-static) with a
    ``/bin/<applet>`` symlink for every applet of ``busybox --list`` (sh, rm, cp, chown, ...),
    ``/tmp`` (mode 1777), ``/root``, ``/home/app`` and an ``/etc/passwd`` / ``/etc/group``
    with ``root`` (0) and ``app`` (1000). It is a single ``docker import`` layer.
    Change the tag's version when changing this recipe: an existing tag is never rebuilt.
    """
    if image_exists(BUSYBOX_TAG):
        return BUSYBOX_TAG
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not os.access(busybox, os.X_OK):
        raise ImageBuildError("no busybox binary: apt-get install busybox-static")
    file_out = (
        _run(["file", "-L", busybox], what="file", timeout=30) if shutil.which("file") else ""
    )
    if file_out and "statically linked" not in file_out and "static-pie" not in file_out:
        raise ImageBuildError(f"{busybox} is not static: apt-get install busybox-static")
    applets = _run([busybox, "--list"], what="busybox --list", timeout=30).split()

    with tempfile.TemporaryDirectory(prefix="layerscope-busybox-") as tmp:
        rootfs = Path(tmp, "rootfs")
        for d in ("bin", "etc", "root", "home/app", "tmp", "usr/bin", "var/tmp"):
            (rootfs / d).mkdir(parents=True, exist_ok=True)
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        (rootfs / "bin" / "busybox").chmod(0o755)
        for applet in applets:
            if applet == "busybox" or "/" in applet:
                continue
            (rootfs / "bin" / applet).symlink_to("busybox")
        # Shebangs such as `#!/usr/bin/env sh` are common.
        (rootfs / "usr" / "bin" / "env").symlink_to("/bin/busybox")
        (rootfs / "etc" / "passwd").write_text(
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
        )
        (rootfs / "etc" / "group").write_text("root:x:0:\napp:x:1000:\n")
        (rootfs / "tmp").chmod(0o1777)
        (rootfs / "var" / "tmp").chmod(0o1777)
        (rootfs / "root").chmod(0o700)

        tar_path = Path(tmp, "rootfs.tar")
        _tar_rootfs(rootfs, tar_path, owners={"home/app": 1000})
        _run(
            [
                _docker(),
                "import",
                "--change",
                f"ENV PATH={DEFAULT_PATH}",
                "--change",
                'CMD ["/bin/sh"]',
                "--message",
                "layerscope test base: busybox-static",
                str(tar_path),
                BUSYBOX_TAG,
            ],
            what="docker import (busybox base)",
            timeout=300,
        )
    return BUSYBOX_TAG


def _replace_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` inside a rootfs, never through a symlink to the host."""
    if path.is_symlink() or path.exists():
        path.unlink()
    path.write_text(text)


def ensure_debian_base() -> str:
    """Return ``layerscope-test/debian:bookworm``, debootstrapping it first if needed.

    Made with ``debootstrap --variant=minbase bookworm DIR http://deb.debian.org/debian``
    and ``tar -C DIR -c . | docker import - TAG``; it takes a few minutes, and the engine
    caches it (skipped when the tag exists).

    Differences from the official ``debian:bookworm`` image worth knowing in tests:

    * there is NO ``/etc/apt/apt.conf.d/docker-clean``, so ``apt-get install`` leaves
      ``.deb`` files in ``/var/cache/apt/archives`` unless the Dockerfile cleans up: that
      is the classic waste pattern, and fine for these tests;
    * ``/etc/apt/sources.list`` points at the same mirror (``deb.debian.org``), and the
      package lists are removed, so ``RUN apt-get update && apt-get install ...`` works in
      builds run with ``network="host"``;
    * it is a single imported layer.
    """
    if image_exists(DEBIAN_TAG):
        return DEBIAN_TAG
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not os.access(debootstrap, os.X_OK):
        raise ImageBuildError("no debootstrap: apt-get install debootstrap")
    with tempfile.TemporaryDirectory(prefix="layerscope-debian-") as tmp:
        rootfs = Path(tmp, "rootfs")
        try:
            _run(
                [debootstrap, "--variant=minbase", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR],
                what="debootstrap",
                timeout=1800,
            )
        finally:
            # A debootstrap that dies half-way can leave /proc etc. mounted in the target;
            # unmount them so removing the temp dir never touches the host's /proc.
            for mnt in ("dev/pts", "dev/shm", "proc", "sys"):
                if os.path.ismount(rootfs / mnt):
                    subprocess.run(["umount", "-l", str(rootfs / mnt)], check=False)
        _replace_file(
            rootfs / "etc" / "apt" / "sources.list",
            f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE} main\n"
            f"deb {DEBIAN_MIRROR} {DEBIAN_SUITE}-updates main\n"
            f"deb {DEBIAN_MIRROR}-security {DEBIAN_SUITE}-security main\n",
        )
        # debootstrap copies the host's resolv.conf and hostname; the engine bind-mounts
        # its own at run time, so keep the host's out of the image.
        _replace_file(rootfs / "etc" / "resolv.conf", "")
        _replace_file(rootfs / "etc" / "hostname", "localhost\n")
        # Like the official image: no package lists and no downloaded .debs in the base.
        for pattern in ("var/lib/apt/lists/*_*", "var/cache/apt/archives/*.deb"):
            for leftover in rootfs.glob(pattern):
                leftover.unlink()
        for pattern in ("var/cache/apt/*.bin", "var/log/bootstrap.log"):
            for leftover in rootfs.glob(pattern):
                leftover.unlink()
        # tar | docker import: a pipeline in bash so a failure of either side is reported.
        _run(
            [
                "bash",
                "-o",
                "pipefail",
                "-c",
                'tar -C "$1" --numeric-owner -c . | "$2" import'
                ' --change "ENV PATH=$3" --change \'CMD ["bash"]\' --message "$4" - "$5"',
                "bash",
                str(rootfs),
                _docker(),
                DEFAULT_PATH,
                f"layerscope test base: debootstrap minbase {DEBIAN_SUITE}",
                DEBIAN_TAG,
            ],
            what="tar | docker import (debian base)",
            timeout=900,
        )
    return DEBIAN_TAG


# --------------------------------------------------------------------------- builds


def build_image(
    tag: str,
    dockerfile: str,
    context_files: dict[str, bytes] | None = None,
    *,
    buildkit: bool = False,
    network: str = "none",
    build_args: dict[str, str] | None = None,
    timeout: float = 1800,
    prepare: Callable[[Path], None] | None = None,
) -> str:
    """Build ``dockerfile`` (with ``context_files`` as its context) as ``tag``; return tag.

    ``context_files`` maps relative paths (``"app/main.py"``) to contents;
    ``prepare(context_dir)`` may add more (a real virtualenv, symlinks). The classic
    builder is the ``docker`` first on PATH with ``DOCKER_BUILDKIT=0``; ``buildkit=True``
    uses ``DOCKER_BUILDKIT=1 /usr/bin/docker build --progress=plain``. ``network`` is
    passed as ``--network`` (``"none"`` by default; ``"host"`` for apt-get in builds).
    Raises ImageBuildError, with the whole build output, when the build fails.
    """
    with tempfile.TemporaryDirectory(prefix="layerscope-build-") as tmp:
        ctx = Path(tmp)
        for name, data in (context_files or {}).items():
            rel = Path(name)
            if rel.is_absolute() or ".." in rel.parts:
                raise ValueError(f"context file path must be relative and inside: {name!r}")
            if rel == Path("Dockerfile"):
                raise ValueError("pass the Dockerfile as `dockerfile`, not in context_files")
            dest = ctx / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
        (ctx / "Dockerfile").write_text(dockerfile)
        if prepare is not None:
            prepare(ctx)

        if buildkit:
            argv = [_buildkit_docker(), "build", "--progress=plain"]
            env = {"DOCKER_BUILDKIT": "1"}
        else:
            argv = [_docker(), "build", "--force-rm"]
            env = {"DOCKER_BUILDKIT": "0"}
        argv += ["--network", network, "-t", tag]
        for key, value in (build_args or {}).items():
            argv += ["--build-arg", f"{key}={value}"]
        argv.append(str(ctx))
        builder = "BuildKit" if buildkit else "classic"
        _run(argv, what=f"docker build ({builder}) of {tag}", timeout=timeout, env=env)
    return tag


def docker_save(tag: str, path: str | os.PathLike[str]) -> Path:
    """``docker save -o PATH TAG``; return the path of the tar."""
    _run([_docker(), "save", "-o", os.fspath(path), tag], what="docker save", timeout=600)
    return Path(path)


# --------------------------------------------------------------------------- skopeo


def _skopeo_copy(tag: str, dest: str, compression: Compression | None) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise ImageBuildError("no skopeo: apt-get install skopeo")
    argv = [skopeo, "copy", "--quiet"]
    if compression == "uncompressed":
        # skopeo 1.9.3 writes these blobs as plain tar but still labels them
        # `application/vnd.oci.image.layer.v1.tar+gzip` in the manifest: readers must
        # sniff the blob, not trust the media type.
        argv.append("--dest-oci-accept-uncompressed-layers")
    elif compression is not None:
        argv += ["--dest-compress-format", compression]
    argv += [f"docker-daemon:{tag}", dest]
    _run(argv, what=f"skopeo copy to {dest}", timeout=600)


def skopeo_oci_layout(
    tag: str,
    dest_dir: str | os.PathLike[str],
    *,
    compression: Compression | None = None,
) -> Path:
    """Copy ``tag`` from the engine into an OCI image layout directory (ref ``latest``).

    ``skopeo copy docker-daemon:TAG oci:DIR:latest``. ``compression`` is None for skopeo's
    default (gzip), ``"gzip"``, ``"zstd"`` or ``"uncompressed"`` (see _skopeo_copy for the
    mislabelled media type). Returns ``dest_dir``, which holds ``oci-layout``,
    ``index.json`` and ``blobs/sha256/``.
    """
    _skopeo_copy(tag, f"oci:{os.fspath(dest_dir)}:latest", compression)
    return Path(dest_dir)


def skopeo_oci_archive(
    tag: str,
    dest_tar: str | os.PathLike[str],
    *,
    compression: Compression | None = None,
) -> Path:
    """Like skopeo_oci_layout, but a tar of the layout: ``oci-archive:FILE:latest``."""
    _skopeo_copy(tag, f"oci-archive:{os.fspath(dest_tar)}:latest", compression)
    return Path(dest_tar)

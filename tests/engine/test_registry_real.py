"""Reading images straight from real registries (Debian's docker-registry), no daemon.

The happy paths push an engine-built image to a real registry (anonymous,
htpasswd basic auth, token auth behind the token service in registries.py)
and assert the registry read reports what the image's `docker save` archive
reports. The hostile cases a real registry cannot produce (cut connections,
redirects to another host, oversized or deeply nested manifests) use small
servers from registries.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.cli import layerscope

from .imagebuild import build_image, docker_save, skopeo_oci_layout
from .registries import (
    CuttingProxy,
    FakeServer,
    Registry,
    RegistryToolError,
    TokenService,
    htpasswd_file,
    push_layout,
    self_signed,
)

TAG = "ls-h14b/registry-img:1"
USER, PASSWORD = "alice", "s3cret-pw"
REFRESH = "refresh-token-of-alice"
DOCKERFILE = """\
FROM {base}
RUN dd if=/dev/zero of=/big.bin bs=1000 count=120 && mkdir /app
COPY app/ /app/
RUN rm /big.bin && chown -R 1000:1000 /app
"""
APP = {f"app/f{i}.txt": bytes([97 + i]) * (3000 * (i + 1)) for i in range(3)}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    missing = [
        f"{tool} ({pkg})"
        for tool, pkg in (
            ("docker-registry", "docker-registry"),
            ("htpasswd", "apache2-utils"),
            ("openssl", "openssl"),
            ("skopeo", "skopeo"),
            ("buildah", "buildah"),
        )
        if shutil.which(tool) is None
    ]
    if missing:
        if _in_ci():
            pytest.fail(f"CI=true but missing: {', '.join(missing)}", pytrace=False)
        pytest.skip(f"missing: {', '.join(missing)}")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("registry")


@pytest.fixture(scope="module")
def image(busybox_base: str) -> str:
    return build_image(TAG, DOCKERFILE.format(base=busybox_base), APP)


@pytest.fixture(scope="module")
def expected(image: str, work: Path) -> dict[str, Any]:
    """What the image's `docker save` archive reports."""
    return _report(_cli(str(docker_save(image, work / "save.tar"))))


def _start(root: Path, **kw: Any) -> Registry:
    try:
        return Registry(root, **kw)
    except RegistryToolError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def anon(image: str, work: Path) -> Iterator[Registry]:
    reg = _start(work / "anon")
    remote = f"{reg.host}/ls-h14b/app:1"
    # docker push reaches a loopback registry over plain http by default.
    subprocess.run(["docker", "tag", image, remote], check=True)
    try:
        subprocess.run(["docker", "push", "-q", remote], check=True, capture_output=True)
    finally:
        # The engine must not have the remote name: auto would read it from there.
        subprocess.run(["docker", "rmi", remote], check=True, capture_output=True)
    yield reg
    reg.stop()


def _skopeo_push(image: str, dest: str, *extra: str) -> None:
    subprocess.run(
        ["skopeo", "copy", "-q", "--dest-tls-verify=false", *extra, f"docker-daemon:{image}", dest],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def basic(image: str, work: Path) -> Iterator[Registry]:
    pw = htpasswd_file(work / "htpasswd", USER, PASSWORD)
    reg = _start(work / "basic", auth={"htpasswd": {"realm": "test", "path": str(pw)}})
    _skopeo_push(image, f"docker://{reg.host}/ls-h14b/app:1", "--dest-creds", f"{USER}:{PASSWORD}")
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token(image: str, work: Path) -> Iterator[tuple[Registry, TokenService]]:
    (work / "token").mkdir()
    service = TokenService(work / "token", USER, PASSWORD, refresh_token=REFRESH)
    reg = _start(work / "token" / "registry", auth=service.registry_auth())
    _skopeo_push(image, f"docker://{reg.host}/ls-h14b/app:1", "--dest-creds", f"{USER}:{PASSWORD}")
    yield reg, service
    reg.stop()
    service.stop()


# --------------------------------------------------------------------------- helpers


def _env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """A clean environment: no credentials but the ones a test writes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("XDG_RUNTIME_DIR", "REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "SSL_CERT_FILE", "HOME")
    }
    env["HOME"] = str(home) if home is not None else "/nonexistent"
    env.update(extra)
    return env


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return layerscope(*args, "--format", "json", base_env=env if env is not None else _env())


def _report(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert r.returncode == 0, r.stderr
    report: dict[str, Any] = json.loads(r.stdout)
    return report


def _same_image(report: dict[str, Any], expected: dict[str, Any], *, same_id: bool = True) -> None:
    """Summary bytes, layers and findings as the `docker save` archive reports them.
    ``same_id``: the config was pushed as it is (skopeo's OCI conversion rewrites it)."""
    assert report["image"]["source"] == "registry"
    if same_id:
        assert report["image"]["id"] == expected["image"]["id"]
    # What a pull transfers is known from the registry's descriptors, not from a
    # docker save archive: compare it with the layers' own figures instead.
    download = report["summary"].pop("download_bytes")
    expected_summary = {k: v for k, v in expected["summary"].items() if k != "download_bytes"}
    assert report["summary"] == expected_summary
    assert download == sum(layer["download_bytes"] for layer in report["layers"]) > 0
    assert report["findings"] == expected["findings"]
    # how the registry stores them
    stored = ("blob_digest", "media_type", "compressed_bytes", "download_bytes")

    def layers(r: dict[str, Any]) -> list[dict[str, Any]]:
        return [{k: v for k, v in layer.items() if k not in stored} for layer in r["layers"]]

    assert layers(report) == layers(expected)


def _schema() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("layerscope.report").joinpath("schema-v1.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("layerscope: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _manifest(reg: Registry, repo: str, ref: str) -> dict[str, Any]:
    import urllib.request

    req = urllib.request.Request(
        f"http://{reg.host}/v2/{repo}/manifests/{ref}",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json, "
            "application/vnd.oci.image.manifest.v1+json"
        },
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        doc: dict[str, Any] = json.loads(resp.read())
        return doc


def _auth_json(path: Path, host: str, user: str = USER, password: str = PASSWORD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    return path


# --------------------------------------------------------------------------- anonymous


def test_anonymous_registry_read_matches_docker_save(
    anon: Registry, expected: dict[str, Any]
) -> None:
    ref = f"{anon.host}/ls-h14b/app:1"
    report = _report(_cli(ref, "--source", "registry"))
    _same_image(report, expected)
    assert report["image"]["reference"] == ref
    jsonschema.validate(report, _schema())
    manifest = _manifest(anon, "ls-h14b/app", "1")
    assert [layer["compressed_bytes"] for layer in report["layers"]] == [
        d["size"] for d in manifest["layers"]
    ]
    assert [layer["blob_digest"] for layer in report["layers"]] == [
        d["digest"] for d in manifest["layers"]
    ]


def test_download_bytes_on_the_model_are_the_descriptor_sizes(anon: Registry) -> None:
    from layerscope.sources import open_image
    from layerscope.sources.interface import SourceOptions

    image = open_image(f"{anon.host}/ls-h14b/app:1", source="registry", options=SourceOptions())
    manifest = _manifest(anon, "ls-h14b/app", "1")
    assert [layer.download_bytes for layer in image.layers] == [
        d["size"] for d in manifest["layers"]
    ]
    assert image.source == "registry"


def test_auto_reads_a_host_reference_the_engine_lacks(
    anon: Registry, expected: dict[str, Any]
) -> None:
    _same_image(_report(_cli(f"{anon.host}/ls-h14b/app:1")), expected)
    # By digest too: the registry's digest of its manifest bytes, checked on arrival.
    import urllib.request

    req = urllib.request.Request(
        f"http://{anon.host}/v2/ls-h14b/app/manifests/1",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        method="HEAD",
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        by_digest = resp.headers["Docker-Content-Digest"]
    _same_image(_report(_cli(f"{anon.host}/ls-h14b/app@{by_digest}")), expected)


def test_zstd_and_uncompressed_blobs_with_lying_media_types(
    image: str, anon: Registry, work: Path, expected: dict[str, Any]
) -> None:
    zstd = skopeo_oci_layout(image, work / "zstd", compression="zstd")
    manifest = push_layout(zstd, anon.host, "ls-h14b/zstd", "1")
    assert all(d["mediaType"].endswith("+zstd") for d in manifest["layers"])
    zst = _report(_cli(f"{anon.host}/ls-h14b/zstd:1", "--source", "registry"))
    _same_image(zst, expected, same_id=False)
    # skopeo labels these uncompressed blobs tar+gzip: the reader sniffs the bytes.
    plain = skopeo_oci_layout(image, work / "plain", compression="uncompressed")
    manifest = push_layout(plain, anon.host, "ls-h14b/plain", "1")
    assert all(d["mediaType"].endswith("+gzip") for d in manifest["layers"])
    report = _report(_cli(f"{anon.host}/ls-h14b/plain:1", "--source", "registry"))
    _same_image(report, expected, same_id=False)
    assert [layer["compressed_bytes"] for layer in report["layers"]] == [
        layer["size_bytes"] for layer in report["layers"]
    ]


def test_missing_manifest_and_unknown_host(anon: Registry) -> None:
    _one_line_error(
        _cli(f"{anon.host}/ls-h14b/app:nope", "--source", "registry"), "no manifest nope"
    )
    _one_line_error(
        _cli("no-such-registry.invalid/x/y:1", "--source", "registry"),
        "no-such-registry.invalid",
        "unknown host",
    )


# --------------------------------------------------------------------------- basic auth


def test_basic_auth_from_every_credentials_file(
    basic: Registry, expected: dict[str, Any], tmp_path: Path
) -> None:
    ref = f"{basic.host}/ls-h14b/app:1"
    home = tmp_path / "home"
    # REGISTRY_AUTH_FILE
    auth = _auth_json(tmp_path / "auth.json", basic.host)
    _same_image(_report(_cli(ref, env=_env(home, REGISTRY_AUTH_FILE=str(auth)))), expected)
    # $XDG_RUNTIME_DIR/containers/auth.json
    runtime = tmp_path / "run"
    _auth_json(runtime / "containers" / "auth.json", basic.host)
    _same_image(_report(_cli(ref, env=_env(home, XDG_RUNTIME_DIR=str(runtime)))), expected)
    # ~/.docker/config.json, with username/password in an https:// key
    _auth_json(home / ".docker" / "config.json", f"https://{basic.host}")
    _same_image(_report(_cli(ref, env=_env(home))), expected)


def _helper(bin_dir: Path, name: str, log: Path, secret: str) -> None:
    """A docker-credential-NAME that knows one server and logs its queries."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        "#!/bin/sh\n"
        '[ "$1" = get ] || exit 1\n'
        "read server\n"
        f'echo "$server" >> {log}\n'
        'case "$server" in\n'
        f'  {secret.split("|")[0]}) printf \'{{"ServerURL":"%s","Username":"{USER}",'
        f'"Secret":"{secret.split("|")[1]}"}}\' "$server" ;;\n'
        '  *) echo "credentials not found in native keychain"; exit 1 ;;\n'
        "esac\n"
    )
    script.chmod(0o755)


def test_basic_auth_through_credential_helpers(
    basic: Registry, expected: dict[str, Any], tmp_path: Path
) -> None:
    ref = f"{basic.host}/ls-h14b/app:1"
    bin_dir, log = tmp_path / "bin", tmp_path / "helper.log"
    _helper(bin_dir, "lstest", log, f"{basic.host}|{PASSWORD}")
    path = f"{bin_dir}:{os.environ.get('PATH', '')}"
    home = tmp_path / "home"
    config = home / ".docker" / "config.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"credHelpers": {basic.host: "lstest"}}))
    _same_image(_report(_cli(ref, env=_env(home, PATH=path))), expected)
    assert log.read_text().split() == [basic.host]
    # credsStore serves every host; DOCKER_CONFIG moves the file.
    other = tmp_path / "dockercfg"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"credsStore": "lstest"}))
    _same_image(_report(_cli(ref, env=_env(home, PATH=path, DOCKER_CONFIG=str(other)))), expected)
    # A helper that is not installed is named.
    (other / "config.json").write_text(json.dumps({"credsStore": "nosuchhelper"}))
    _one_line_error(
        _cli(ref, env=_env(home, PATH=path, DOCKER_CONFIG=str(other))),
        "docker-credential-nosuchhelper",
        "not installed",
    )


def test_basic_auth_wrong_or_missing_password(basic: Registry, tmp_path: Path) -> None:
    ref = f"{basic.host}/ls-h14b/app:1"
    auth = _auth_json(tmp_path / "auth.json", basic.host, password="wrong")
    _one_line_error(
        _cli(ref, "--source", "registry", env=_env(REGISTRY_AUTH_FILE=str(auth))),
        "refused the credentials",
        repr(USER),
    )
    _one_line_error(_cli(ref, "--source", "registry"), "requires credentials", "docker login")


# --------------------------------------------------------------------------- token auth


def test_token_auth_asks_once_per_scope(
    token: tuple[Registry, TokenService], expected: dict[str, Any], tmp_path: Path
) -> None:
    reg, service = token
    auth = _auth_json(tmp_path / "auth.json", reg.host)
    before = len(service.requests)
    report = _report(_cli(f"{reg.host}/ls-h14b/app:1", env=_env(REGISTRY_AUTH_FILE=str(auth))))
    _same_image(report, expected)
    asked = service.requests[before:]
    # One token for the manifest, config and every layer (read on several threads).
    assert len(asked) == 1, asked
    assert asked[0]["scope"] == "repository:ls-h14b/app:pull"
    assert asked[0]["service"] == TokenService.service
    assert asked[0]["account"] == USER
    assert asked[0]["authorization"].startswith("Basic ")


def test_token_auth_wrong_password(token: tuple[Registry, TokenService], tmp_path: Path) -> None:
    reg, _ = token
    auth = _auth_json(tmp_path / "auth.json", reg.host, password="nope")
    _one_line_error(
        _cli(f"{reg.host}/ls-h14b/app:1", env=_env(REGISTRY_AUTH_FILE=str(auth))),
        "refused the credentials",
    )


def test_token_auth_with_an_identity_token(
    token: tuple[Registry, TokenService], expected: dict[str, Any], tmp_path: Path
) -> None:
    """`docker login` to an OAuth registry stores a refresh token, not a password."""
    reg, service = token
    config = tmp_path / "auth.json"
    config.write_text(json.dumps({"auths": {reg.host: {"identitytoken": REFRESH}}}))
    before = len(service.requests)
    ref = f"{reg.host}/ls-h14b/app:1"
    _same_image(_report(_cli(ref, env=_env(REGISTRY_AUTH_FILE=str(config)))), expected)
    [asked] = service.requests[before:]
    assert asked["method"] == "POST" and asked["grant_type"] == "refresh_token"
    assert asked["scope"] == "repository:ls-h14b/app:pull"
    config.write_text(json.dumps({"auths": {reg.host: {"identitytoken": "stale"}}}))
    _one_line_error(_cli(ref, env=_env(REGISTRY_AUTH_FILE=str(config))), "refused")


# --------------------------------------------------------------------------- platforms


@pytest.fixture(scope="module")
def multi(anon: Registry, work: Path) -> str:
    """A two-platform index pushed by buildah: arm64 has a 1111-byte file, amd64 2222."""
    root = work / "buildah"
    storage = ["--root", str(root / "root"), "--runroot", str(root / "run"), "--storage-driver"]
    bh = ["buildah", *storage, "vfs"]
    (root / "ctx").mkdir(parents=True)
    (root / "ctx" / "Containerfile").write_text("FROM scratch\nCOPY arch.bin /arch.bin\n")
    for arch, size in (("arm64", 1111), ("amd64", 2222)):
        (root / "ctx" / "arch.bin").write_bytes(os.urandom(size))
        subprocess.run(
            [*bh, "build", "-q", "--arch", arch, "--manifest", "ls-h14b-multi", str(root / "ctx")],
            check=True,
            capture_output=True,
        )
    ref = f"{anon.host}/ls-h14b/multi:1"
    subprocess.run(
        [
            *bh,
            "manifest",
            "push",
            "-q",
            "--all",
            "--tls-verify=false",
            "ls-h14b-multi",
            f"docker://{ref}",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run([*bh, "rmi", "--all", "--force"], capture_output=True, check=False)
    return ref


def test_index_platform_choice(multi: str) -> None:
    arm = _report(_cli(multi, "--platform", "linux/arm64"))
    assert arm["image"]["architecture"] == "arm64"
    assert arm["summary"]["total_bytes"] == 1111
    host = _report(_cli(multi))  # the host's platform (these tests run on amd64)
    assert host["image"]["architecture"] == "amd64"
    assert host["summary"]["total_bytes"] == 2222
    _one_line_error(
        _cli(multi, "--platform", "linux/s390x"),
        "linux/s390x not in the image",
        "linux/amd64, linux/arm64",
    )


# --------------------------------------------------------------------------- hostile


def test_tampered_blob_is_refused(image: str, tmp_path: Path) -> None:
    reg = _start(tmp_path / "reg")
    try:
        _skopeo_push(image, f"docker://{reg.host}/ls-h14b/app:1")
        layer = _manifest(reg, "ls-h14b/app", "1")["layers"][0]
        path = reg.blob_path(layer["digest"])
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same length: only the digest can tell
        path.write_bytes(bytes(data))
        _one_line_error(
            _cli(f"{reg.host}/ls-h14b/app:1", "--source", "registry"),
            "layer 0",
            "not its digest",
            layer["digest"],
        )
    finally:
        reg.stop()


def test_a_cut_blob_resumes_and_a_connection_that_keeps_dropping_fails(
    anon: Registry, expected: dict[str, Any]
) -> None:
    once = CuttingProxy(anon.host, cuts=1)
    try:
        _same_image(_report(_cli(f"{once.host}/ls-h14b/app:1", "--source", "registry")), expected)
        assert once.cut_count == 1
        assert len(once.ranges) == 1 and once.ranges[0].startswith("bytes=")
    finally:
        once.stop()
    always = CuttingProxy(anon.host, cuts=None)
    try:
        line = _one_line_error(
            _cli(f"{always.host}/ls-h14b/app:1", "--source", "registry"), "broke off", "4 times"
        )
        assert "layer 0" in line
        assert always.cut_count == 4
    finally:
        always.stop()


def test_429_and_5xx_are_retried_with_backoff(anon: Registry, expected: dict[str, Any]) -> None:
    proxy = CuttingProxy(anon.host, cuts=0, statuses=(429, 503, 502))
    try:
        _same_image(_report(_cli(f"{proxy.host}/ls-h14b/app:1", "--source", "registry")), expected)
        assert proxy.refused == [429, 503, 502]
    finally:
        proxy.stop()
    proxy = CuttingProxy(anon.host, cuts=0, statuses=(503,) * 4)
    try:
        _one_line_error(
            _cli(f"{proxy.host}/ls-h14b/app:1", "--source", "registry"), "answered 503 4 times"
        )
    finally:
        proxy.stop()


def test_redirect_to_another_host_carries_no_credentials(
    anon: Registry, expected: dict[str, Any], tmp_path: Path
) -> None:
    """A registry behind basic auth redirects blobs to storage on another host."""
    import urllib.request

    expected_auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    refuse = {"on": False}

    def storage_route(h: Any) -> tuple[int, dict[str, str], bytes]:
        if refuse["on"]:
            return 403, {}, b"<Error>AccessDenied</Error>"
        with urllib.request.urlopen(f"http://{anon.host}{h.path}", timeout=30) as resp:
            return 200, {}, resp.read()

    storage = FakeServer(storage_route, host="127.0.0.2")

    def registry_route(h: Any) -> tuple[int, dict[str, str], bytes]:
        if h.headers.get("Authorization") != expected_auth:
            return 401, {"WWW-Authenticate": 'Basic realm="fake"'}, b""
        if "/blobs/" in h.path:
            return 307, {"Location": f"http://{storage.host}{h.path}"}, b""
        req = urllib.request.Request(
            f"http://{anon.host}{h.path}", headers={"Accept": h.headers.get("Accept", "")}
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return 200, {"Content-Type": resp.headers["Content-Type"]}, resp.read()

    front = FakeServer(registry_route)
    try:
        auth = _auth_json(tmp_path / "auth.json", front.host)
        env = _env(REGISTRY_AUTH_FILE=str(auth))
        _same_image(
            _report(_cli(f"{front.host}/ls-h14b/app:1", "--source", "registry", env=env)), expected
        )
        assert storage.requests and all(
            "Authorization" not in headers for _, headers in storage.requests
        )
        assert any("Authorization" in headers for _, headers in front.requests)
        refuse["on"] = True
        _one_line_error(
            _cli(f"{front.host}/ls-h14b/app:1", "--source", "registry", env=env),
            "blob storage",
            "refused",
        )
    finally:
        front.stop()
        storage.stop()


def _json_route(docs: dict[str, tuple[str, bytes]]) -> Any:
    def route(h: Any) -> tuple[int, dict[str, str], bytes]:
        if h.path == "/v2/":
            return 200, {}, b"{}"
        found = docs.get(h.path)
        if found is None:
            return 404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]}'
        return 200, {"Content-Type": found[0]}, found[1]

    return route


def test_oversized_manifest_and_too_deep_index() -> None:
    big = json.dumps({"schemaVersion": 2, "pad": "x" * (5 << 20)}).encode()
    oci_index = "application/vnd.oci.image.index.v1+json"
    docs = {"/v2/big/manifests/1": ("application/vnd.oci.image.manifest.v1+json", big)}
    # Six indexes, each naming the next by digest.
    inner = json.dumps({"schemaVersion": 2, "mediaType": oci_index, "manifests": []}).encode()
    for _ in range(6):
        digest = "sha256:" + hashlib.sha256(inner).hexdigest()
        docs[f"/v2/deep/manifests/{digest}"] = (oci_index, inner)
        desc = {"mediaType": oci_index, "digest": digest, "size": len(inner)}
        inner = json.dumps(
            {"schemaVersion": 2, "mediaType": oci_index, "manifests": [desc]}
        ).encode()
    docs["/v2/deep/manifests/1"] = (oci_index, inner)
    fake = FakeServer(_json_route(docs))
    try:
        _one_line_error(
            _cli(f"{fake.host}/big:1", "--source", "registry"), "larger than 4194304 bytes"
        )
        _one_line_error(_cli(f"{fake.host}/deep:1", "--source", "registry"), "nesting deeper")
    finally:
        fake.stop()


# --------------------------------------------------------------------------- TLS, plain http


def test_tls_with_ssl_cert_file(image: str, tmp_path: Path, expected: dict[str, Any]) -> None:
    cert, key = self_signed(tmp_path, "registry", "IP:127.0.0.1")
    reg = _start(tmp_path / "tls", tls=(cert, key))
    try:
        _skopeo_push(image, f"docker://{reg.host}/ls-h14b/app:1")
        ref = f"{reg.host}/ls-h14b/app:1"
        _one_line_error(
            _cli(ref, "--source", "registry"), "certificate not trusted", "SSL_CERT_FILE"
        )
        trusted = _env(SSL_CERT_FILE=str(cert))
        _same_image(_report(_cli(ref, "--source", "registry", env=trusted)), expected)
    finally:
        reg.stop()


def _outside_address() -> str | None:
    """An address of this machine that is not loopback (plain http is refused there)."""
    if shutil.which("ip") is None:  # iproute2
        return None
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        addr = line.split()[3].split("/")[0]
        if not addr.startswith("127."):
            return addr
    return None


def test_plain_http_needs_insecure_registry_off_loopback(
    image: str, tmp_path: Path, expected: dict[str, Any]
) -> None:
    addr = _outside_address()
    if addr is None:
        pytest.skip("no non-loopback IPv4 address on this machine")
    reg = _start(tmp_path / "plain", bind=addr)
    try:
        _skopeo_push(image, f"docker://{reg.host}/ls-h14b/app:1")
        ref = f"{reg.host}/ls-h14b/app:1"
        _one_line_error(
            _cli(ref, "--source", "registry"),
            "does not speak TLS",
            f"--insecure-registry {reg.host}",
        )
        ok = _report(_cli(ref, "--source", "registry", "--insecure-registry", reg.host))
        _same_image(ok, expected)
    finally:
        reg.stop()


def test_a_registry_read_loads_no_engine_or_ui_library(anon: Registry) -> None:
    code = (
        "import io, contextlib, sys\nfrom layerscope.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main([{anon.host + '/ls-h14b/app:1'!r}, '--source', 'registry', "
        "'--format', 'json'])\n"
        "assert rc == 0, rc\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=_env()
    )
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    assert not loaded & {"docker", "requests", "urllib3", "textual", "rich"}


def test_base_flag_names_a_registry_image(anon: Registry, busybox_base: str) -> None:
    """--base for a registry image reads only the base's manifest and config."""
    base = f"{anon.host}/ls-h14b/base:1"
    _skopeo_push(busybox_base, f"docker://{base}")
    report = _report(_cli(f"{anon.host}/ls-h14b/app:1", "--source", "registry", "--base", base))
    assert report["base"] == {"layer_count": 1, "reference": base, "signal": "base-flag"}
    _one_line_error(
        _cli(f"{anon.host}/ls-h14b/app:1", "--source", "registry", "--base", f"{base}x"),
        "no manifest",
    )

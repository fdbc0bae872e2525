"""A registry that misbehaves, served from this process: every refusal is one
SourceError (one line, exit 2), never a traceback, hang or partial image.

The happy paths and auth run against the real docker-registry in
tests/engine/test_registry_real.py; these are the answers no real registry
gives (a small fake server is the only way to produce them).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from layerscope.errors import LayerscopeError, SourceError
from layerscope.sources import open_image
from layerscope.sources.interface import SourceOptions
from tests.engine.registries import FakeServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@dataclass
class Fake:
    """One image at ``/v2/app``, and what to do wrong."""

    docs: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    blob_override: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    challenge: str | None = None
    host: str = ""

    def route(self, h: Any) -> tuple[int, dict[str, str], bytes]:
        if self.challenge is not None and "Authorization" not in h.headers:
            return 401, {"WWW-Authenticate": self.challenge}, b""
        if h.path == "/v2/":
            return 200, {}, b"{}"
        if h.path in self.docs:
            ctype, body = self.docs[h.path]
            return 200, {"Content-Type": ctype}, body
        digest = h.path.rpartition("/")[2]
        if digest in self.blob_override:
            return self.blob_override[digest]
        if "/blobs/" in h.path and digest in self.blobs:
            return 200, {}, self.blobs[digest]
        return 404, {}, b'{"errors":[{"code":"NOT_FOUND","message":"unknown"}]}'


def _image(fake: Fake, files: dict[str, bytes], tag: str = "1") -> dict[str, Any]:
    plain = _layer(files)
    blob = gzip.compress(plain)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [_digest(plain)]},
            "history": [{"created_by": "COPY . /"}],
        }
    ).encode()
    fake.blobs[_digest(blob)] = blob
    fake.blobs[_digest(config)] = config
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(blob),
                "size": len(blob),
            }
        ],
    }
    fake.docs[f"/v2/app/manifests/{tag}"] = (OCI_MANIFEST, json.dumps(manifest).encode())
    return manifest


@pytest.fixture
def fake() -> Iterator[Fake]:
    f = Fake()
    server = FakeServer(f.route)
    f.host = server.host
    yield f
    server.stop()


def _read(fake: Fake, ref: str = "app:1") -> Any:
    return open_image(f"{fake.host}/{ref}", source="registry", options=SourceOptions())


def test_a_fake_image_reads(fake: Fake) -> None:
    manifest = _image(fake, {"a.txt": b"x" * 5000})
    image = _read(fake)
    assert [e.path for e in image.layers[0].entries] == ["a.txt"]
    assert image.layers[0].download_bytes == manifest["layers"][0]["size"]
    assert image.id == manifest["config"]["digest"]


def _refused(fake: Fake, *needles: str, ref: str = "app:1") -> str:
    with pytest.raises(SourceError) as info:
        _read(fake, ref)
    text = str(info.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, text
    return text


def test_config_that_does_not_match_its_digest(fake: Fake) -> None:
    manifest = _image(fake, {"a": b"1"})
    fake.blobs[manifest["config"]["digest"]] += b" "
    _refused(fake, "config", "hash to")


def test_blob_longer_or_shorter_than_its_descriptor(fake: Fake) -> None:
    manifest = _image(fake, {"a": b"1" * 3000})
    digest = manifest["layers"][0]["digest"]
    fake.blobs[digest] += b"\0" * 10
    _refused(fake, "layer 0", "sends", "bytes")


def test_schema1_and_unknown_config(fake: Fake) -> None:
    fake.docs["/v2/app/manifests/old"] = (
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        b'{"schemaVersion": 1}',
    )
    _refused(fake, "schema 1", ref="app:old")
    manifest = _image(fake, {"a": b"1"}, tag="helm")
    manifest["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    fake.docs["/v2/app/manifests/helm"] = (OCI_MANIFEST, json.dumps(manifest).encode())
    _refused(fake, "not a container image", ref="app:helm")


def test_manifest_by_digest_must_match(fake: Fake) -> None:
    _image(fake, {"a": b"1"})
    body = fake.docs["/v2/app/manifests/1"][1]
    wrong = "sha256:" + "0" * 64
    fake.docs[f"/v2/app/manifests/{wrong}"] = (OCI_MANIFEST, body)
    _refused(fake, "hash to", wrong, ref=f"app@{wrong}")


def test_oversized_manifest_and_too_deep_index(fake: Fake) -> None:
    big = json.dumps({"schemaVersion": 2, "pad": "x" * (5 << 20)}).encode()
    fake.docs["/v2/app/manifests/big"] = (OCI_MANIFEST, big)
    _refused(fake, "larger than 4194304 bytes", ref="app:big")
    inner = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
    for _ in range(6):
        digest = _digest(inner)
        fake.docs[f"/v2/app/manifests/{digest}"] = (OCI_INDEX, inner)
        desc = {"mediaType": OCI_INDEX, "digest": digest, "size": len(inner)}
        inner = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [desc]})
        inner = inner.encode()
    fake.docs["/v2/app/manifests/deep"] = (OCI_INDEX, inner)
    _refused(fake, "nesting deeper than 4", ref="app:deep")


def test_redirects_that_go_nowhere_safe(fake: Fake) -> None:
    manifest = _image(fake, {"a": b"1" * 3000})
    digest = manifest["layers"][0]["digest"]
    # To plain http off loopback: refused before any connection.
    fake.blob_override[digest] = (307, {"Location": "http://storage.example/blob"}, b"")
    _refused(fake, "plain http", "--insecure-registry storage.example")
    # In a loop.
    fake.blob_override[digest] = (302, {"Location": f"/v2/app/blobs/{digest}"}, b"")
    _refused(fake, "more than 5 redirects")


def test_auth_challenges_that_cannot_be_met(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")
    _image(fake, {"a": b"1"})
    fake.challenge = 'Bearer realm="http://auth.example/token",service="x"'
    _refused(fake, "token service is plain http", "auth.example")
    fake.challenge = 'Bearer service="x"'
    _refused(fake, "names no token realm")
    fake.challenge = 'Basic realm="r"'
    _refused(fake, "requires credentials", "docker login")
    fake.challenge = "Negotiate"
    _refused(fake, "authentication it does not name")


def test_a_hostile_reference_is_a_usage_error() -> None:
    with pytest.raises(LayerscopeError):
        open_image("h.example/a:b\r\nInjected: 1", source="registry", options=SourceOptions())

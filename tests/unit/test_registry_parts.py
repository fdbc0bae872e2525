"""The registry reader's parts that need no registry: references, the auto
rule, WWW-Authenticate parsing and the credentials lookup."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from layerscope.errors import SourceError, UsageError
from layerscope.sources import engine_of
from layerscope.sources.registry_auth import find_credentials, parse_challenges
from layerscope.sources.registry_ref import (
    is_loopback,
    looks_like_registry_ref,
    parse_reference,
    split_host,
)


@pytest.mark.parametrize(
    ("text", "host", "repo", "tag", "digest"),
    [
        ("127.0.0.1:5000/a/b:1", "127.0.0.1:5000", "a/b", "1", ""),
        ("registry.example.com/app", "registry.example.com", "app", "latest", ""),
        ("localhost/app:v2.1", "localhost", "app", "v2.1", ""),
        ("busybox", "docker.io", "library/busybox", "latest", ""),
        ("me/app:2", "docker.io", "me/app", "2", ""),
        ("docker://ghcr.io/o/r:t", "ghcr.io", "o/r", "t", ""),
        ("[::1]:5000/x@sha256:" + "a" * 64, "[::1]:5000", "x", "latest", "sha256:" + "a" * 64),
    ],
)
def test_parse_reference(text: str, host: str, repo: str, tag: str, digest: str) -> None:
    ref = parse_reference(text)
    assert (ref.host, ref.repository, ref.tag, ref.digest) == (host, repo, tag, digest)
    assert ref.wanted == (digest or tag)


@pytest.mark.parametrize(
    "text", ["Host.com/UPPER:1", "h.com/a:bad tag", "h.com/x@nodigest", "h.com/", "h.com/a//b"]
)
def test_bad_references_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_reference(text)


def test_docker_hub_api_host() -> None:
    assert parse_reference("alpine").api_host == "registry-1.docker.io"
    assert parse_reference("h.com:1/a").api_host == "h.com:1"


@pytest.mark.parametrize(
    ("text", "registry"),
    [
        ("127.0.0.1:5000/a:1", True),
        ("example.com/a", True),
        ("localhost/a", True),
        ("localhost:5000/a", True),
        ("myapp:latest", False),  # a tag, not a port: no slash
        ("library/busybox", False),
        ("user/app:1", False),
        ("./archive.tar", False),
    ],
)
def test_the_auto_rule(text: str, registry: bool) -> None:
    assert looks_like_registry_ref(text) is registry


def test_auto_reads_a_host_reference_from_the_registry_when_no_engine_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert engine_of("127.0.0.1:5000/a:1", "auto") == "registry"
    assert engine_of("myapp:1", "auto") == "docker"
    assert engine_of("myapp:1", "registry") == "registry"


def test_hosts() -> None:
    assert split_host("[::1]:5000") == ("::1", 5000)
    assert split_host("h.com") == ("h.com", None)
    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.3.2.1", "::1"))
    assert not any(is_loopback(h) for h in ("10.0.0.1", "example.com", "localhost.evil.com"))


def test_challenges() -> None:
    [c] = parse_challenges(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:a/b:pull,push"'
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.example.com/token",
        "service": "registry.example.com",
        "scope": "repository:a/b:pull,push",
    }
    both = parse_challenges('Basic realm="x \\"q\\"", Bearer realm=https://t/,service=s')
    assert [(c.scheme, c.params) for c in both] == [
        ("basic", {"realm": 'x "q"'}),
        ("bearer", {"realm": "https://t/", "service": "s"}),
    ]
    assert parse_challenges("") == []


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "DOCKER_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_credentials_order_and_keys(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker = clean_env / ".docker" / "config.json"
    docker.parent.mkdir()
    docker.write_text(
        json.dumps(
            {
                "auths": {
                    "https://r.example.com/v1/": {"auth": _b64("dock:er")},
                    "r.example.com/team": {"auth": _b64("team:pw")},
                    "https://index.docker.io/v1/": {"username": "hub", "password": "h"},
                }
            }
        )
    )
    found = find_credentials("r.example.com", "other/app")
    assert found is not None and (found.username, found.password) == ("dock", "er")
    found = find_credentials("r.example.com", "team/app")  # the most specific entry
    assert found is not None and found.username == "team"
    found = find_credentials("docker.io", "library/alpine")
    assert found is not None and found.username == "hub"
    assert find_credentials("elsewhere.com", "a") is None
    # REGISTRY_AUTH_FILE comes first.
    auth = clean_env / "auth.json"
    auth.write_text(json.dumps({"auths": {"r.example.com": {"auth": _b64("podman:pw")}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    found = find_credentials("r.example.com", "other/app")
    assert found is not None and found.username == "podman" and found.origin == str(auth)


def test_identity_tokens_and_bad_entries(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    auth = clean_env / "auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    auth.write_text(json.dumps({"auths": {"h.com": {"identitytoken": "refresh-me"}}}))
    found = find_credentials("h.com", "a")
    assert found is not None and found.identity_token == "refresh-me"
    auth.write_text(json.dumps({"auths": {"h.com": {"auth": "%%%"}}}))
    with pytest.raises(SourceError, match="not base64"):
        find_credentials("h.com", "a")
    auth.write_text("{not json")
    with pytest.raises(SourceError, match="not valid JSON"):
        find_credentials("h.com", "a")


def test_credential_helpers(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = clean_env / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-unit"
    helper.write_text(
        "#!/bin/sh\nread s\n"
        'if [ "$s" = h.com ]; then echo \'{"Username":"u","Secret":"s3"}\'; '
        'elif [ "$s" = t.com ]; then echo \'{"Username":"<token>","Secret":"idt"}\'; '
        'else echo "credentials not found in native keychain"; exit 1; fi\n'
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    auth = clean_env / "auth.json"
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    auth.write_text(json.dumps({"credHelpers": {"h.com": "unit", "t.com": "unit"}}))
    found = find_credentials("h.com", "a")
    assert found is not None and (found.username, found.password) == ("u", "s3")
    assert "docker-credential-unit" in found.origin
    found = find_credentials("t.com", "a")
    assert found is not None and found.identity_token == "idt"
    # credsStore that does not know the host: the auths entry stands.
    auth.write_text(
        json.dumps({"credsStore": "unit", "auths": {"x.com": {"auth": _b64("file:pw")}}})
    )
    found = find_credentials("x.com", "a")
    assert found is not None and found.username == "file"
    auth.write_text(json.dumps({"credsStore": "bad name;rm"}))
    with pytest.raises(SourceError, match="invalid credential helper"):
        find_credentials("x.com", "a")


def test_help_and_readme_name_the_registry_flags(capsys: pytest.CaptureFixture[str]) -> None:
    from layerscope.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    helptext = capsys.readouterr().out
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    usage = readme.split("## Usage", 1)[1].split("```")[1]
    for text in ("--insecure-registry HOST", "registry"):
        assert text in helptext
        assert text in usage


def test_insecure_registry_flag_reaches_the_options() -> None:
    import argparse

    from layerscope.cli.reading import add_reading_arguments, reading_options

    p = argparse.ArgumentParser()
    add_reading_arguments(p)
    args = p.parse_args(["--insecure-registry", "a:5000", "--insecure-registry", "b"])
    assert reading_options(args).insecure_registries == ("a:5000", "b")

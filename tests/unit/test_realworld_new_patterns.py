"""The Dockerfile checks on the real-world patterns added for issue 21's
missed waste (tests/realworld/vite-serve, flask-gunicorn), without an image."""

from __future__ import annotations

from layerscope.dockerfile.parser import parse
from layerscope.fix.planner import plan
from layerscope.rules.order import check_dockerfile
from tests.realworld import load


def test_vite_serve_is_manifest_first() -> None:
    """COPY package*.json ./, npm install, COPY . .: no LS501."""
    df = parse(load("vite-serve").dockerfile, "vite-serve/Dockerfile")
    assert [f.rule for f in check_dockerfile(df)] == []


def test_flask_gunicorn_offers_merge_install_only_with_an_image() -> None:
    """Without an image the reinstall cannot be seen: no merge-install; the three
    pip RUNs in a row are LS505's (one job, three layers)."""
    df = parse(load("flask-gunicorn").dockerfile, "flask-gunicorn/Dockerfile")
    assert [f.kind for f in plan(df)] == []
    assert [(f.rule, f.location[1] if f.location else 0) for f in check_dockerfile(df)] == [
        ("LS505", 6)
    ]

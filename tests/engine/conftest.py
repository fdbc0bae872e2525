"""Fixtures for tests that build and read real images through a real Docker engine.

Every test under tests/engine is marked ``docker`` automatically. Without an engine they
are skipped, except when ``CI=true``: CI must run them, so there they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .imagebuild import engine_available, ensure_busybox_base, ensure_debian_base

ENGINE_TESTS_DIR = Path(__file__).resolve().parent


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every collected item of the session, not only ours.
    for item in items:
        path = Path(item.path).resolve()
        if path == ENGINE_TESTS_DIR or ENGINE_TESTS_DIR in path.parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session", autouse=True)
def engine() -> None:
    """A Docker engine that answers; skip (fail under CI=true) when there is none."""
    reason = engine_available()
    if reason is None:
        return
    if _in_ci():
        pytest.fail(f"CI=true but no Docker engine: {reason}", pytrace=False)
    pytest.skip(f"no Docker engine: {reason}")


@pytest.fixture(scope="session")
def busybox_base(engine: None) -> str:
    """Tag of the tiny busybox base image (``layerscope-test/busybox:1``)."""
    return ensure_busybox_base()


@pytest.fixture(scope="session")
def debian_base(engine: None) -> str:
    """Tag of the debootstrapped base image (``layerscope-test/debian:bookworm``); slow."""
    return ensure_debian_base()

"""Hypothesis settings for the property and fuzz tests.

``HYPOTHESIS_PROFILE=fuzz`` runs many more examples (the long run described
in docs/security.md); the default keeps CI to seconds.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz",
    max_examples=200_000,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


def pytest_configure(config: pytest.Config) -> None:
    # Hypothesis explains a failing example by importing typing helpers that
    # warn about their own deprecation; with warnings as errors that would
    # hide the failure behind an INTERNALERROR.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:mypy_extensions")
    config.addinivalue_line("filterwarnings", "ignore::hypothesis.errors.HypothesisWarning")

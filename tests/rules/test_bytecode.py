"""LS307: .pyc pip compiled although ENV PYTHONDONTWRITEBYTECODE asks for none
(crafted images through the real archive reader; the engine test with
django-on-docker's Dockerfile is in tests/engine/test_realworld_real.py)."""

from __future__ import annotations

from tests.builders import d, file
from tests.rules.helpers import of, run

SP = "usr/local/lib/python3.11/site-packages"
_LAYERS = (
    [d("usr"), file("usr/bin/python3", 100)],
    [d(f"{SP}/six"), file(f"{SP}/six/six.py", 3000),
     file(f"{SP}/six/__pycache__/six.cpython-311.pyc", 2500)],
)  # fmt: skip


def _history(pip: str, env: str = "ENV PYTHONDONTWRITEBYTECODE=1") -> list[str]:
    return [f"/bin/sh -c #(nop)  {env}", f"/bin/sh -c {pip}"]


def test_pyc_of_a_pip_install_under_pythondontwritebytecode() -> None:
    (f,) = of(run(*_LAYERS, history=_history("pip install -r requirements.txt")), "LS307")
    assert f.bytes == 2500 and f.layer == 1 and f.reclaimable
    assert f.fix.endswith("+RUN pip install --no-compile -r requirements.txt")


def test_no_finding_with_no_compile_or_without_the_variable() -> None:
    history = _history("pip install --no-compile -r requirements.txt")
    assert of(run(*_LAYERS, history=history), "LS307") == []
    history = _history("pip install -r requirements.txt", env="ENV PYTHONUNBUFFERED=1")
    assert of(run(*_LAYERS, history=history), "LS307") == []

"""The no-compile fix: --no-compile where PYTHONDONTWRITEBYTECODE asks for no bytecode."""

from __future__ import annotations

import pytest

from layerscope.dockerfile.parser import parse
from layerscope.fix.bytecode import _record_line
from layerscope.fix.planner import apply, plan


def _fixed(text: str) -> str:
    fixes = [f for f in plan(parse(text)) if f.kind == "no-compile"]
    return apply(text, fixes)


def test_flag_after_every_pip_install() -> None:
    text = (
        "FROM python:3.11\nENV PYTHONDONTWRITEBYTECODE=1\n"
        "RUN python -m pip install -r a.txt && pip3 install flask\n"
    )
    assert _fixed(text).splitlines()[-1] == (
        "RUN python -m pip install --no-compile -r a.txt && pip3 install --no-compile flask"
    )


@pytest.mark.parametrize(
    "text",
    [
        "FROM p\nRUN pip install flask\n",  # no bytecode asked for
        "FROM p\nENV PYTHONDONTWRITEBYTECODE=0\nRUN pip install flask\n",
        'FROM p\nENV PYTHONDONTWRITEBYTECODE=""\nRUN pip install flask\n',
        "FROM p\nENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_COMPILE=1\nRUN pip install flask\n",
        "FROM p\nENV PYTHONDONTWRITEBYTECODE=1\nRUN pip install --no-compile flask\n",
        "FROM p\nENV PYTHONDONTWRITEBYTECODE=1\nRUN pip install x && python -m compileall /a\n",
        'FROM p\nENV PYTHONDONTWRITEBYTECODE=1\nRUN ["pip", "install", "flask"]\n',
        "FROM p\nENV PYTHONDONTWRITEBYTECODE=1\nRUN pip download flask\n",
    ],
)
def test_no_fix(text: str) -> None:
    assert [f for f in plan(parse(text)) if f.kind == "no-compile"] == []


def test_env_comes_with_the_parent_stage() -> None:
    text = (
        "FROM p AS a\nENV PYTHONDONTWRITEBYTECODE=1\nRUN pip install x\n"
        "FROM a AS b\nRUN pip install y\n"
        "FROM p AS c\nCOPY --from=b /x /x\nRUN pip install z\n"
    )
    assert [f.line for f in plan(parse(text), target="b") if f.kind == "no-compile"] == [3, 5]
    # c does not start from a: no variable, no fix (and a, b are its builders).
    assert [f.line for f in plan(parse(text)) if f.kind == "no-compile"] == []


def test_record_line_bytes() -> None:
    path = "usr/local/lib/python3.11/site-packages/fastapi/__pycache__/a.cpython-311.pyc"
    assert _record_line(path) == len("fastapi/__pycache__/a.cpython-311.pyc,,\r\n")
    assert _record_line("usr/lib/python3/dist-packages/x/__pycache__/y.pyc") == len(
        "x/__pycache__/y.pyc,,\r\n"
    )
    assert _record_line("app/__pycache__/main.cpython-311.pyc") == 0

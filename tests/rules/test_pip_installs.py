"""LS309-LS311: a second pip install (crafted images through the real archive reader)."""

from __future__ import annotations

from layerscope.rules import Finding
from tests.builders import d, file, opq
from tests.rules.helpers import run

SP = "usr/local/lib/python3.11/site-packages"
_BASE = [d("usr"), d("usr/local"), d("usr/local/lib"), d("usr/local/lib/python3.11"), d(SP)]


def _werkzeug(version: str, size: int) -> list:  # type: ignore[type-arg]
    return [
        d(f"{SP}/werkzeug"),
        file(f"{SP}/werkzeug/serving.py", size),
        d(f"{SP}/werkzeug-{version}.dist-info"),
        file(f"{SP}/werkzeug-{version}.dist-info/RECORD", 100),
    ]


def _of(findings: tuple[Finding, ...], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def test_package_installed_again_by_the_next_run() -> None:
    """pip removed werkzeug 3.0.3 (an opaque directory) and installed 3.1.3: the old
    files are LS309's, with the two installs in one RUN; LS101 gives no rm advice."""
    layers = [
        _BASE,
        [*_werkzeug("3.0.3", 5000), d(f"{SP}/flask"), file(f"{SP}/flask/app.py", 700)],
        [
            d(f"{SP}/werkzeug"), opq(f"{SP}/werkzeug"), file(f"{SP}/werkzeug/serving.py", 5200),
            file(f"{SP}/.wh.werkzeug-3.0.3.dist-info"),
            d(f"{SP}/werkzeug-3.1.3.dist-info"), file(f"{SP}/werkzeug-3.1.3.dist-info/RECORD", 90),
        ],
    ]  # fmt: skip
    result = run(
        *layers,
        history=[
            "/bin/sh -c #(nop) ADD file:x in /",
            "/bin/sh -c pip install --no-cache-dir -r requirements.txt",
            "/bin/sh -c pip install --no-cache-dir gunicorn werkzeug==3.1.3",
        ],
    )
    (f,) = _of(result.findings, "LS309")
    assert f.bytes == 5100 and f.layer == 1 and f.hidden_by == 2
    assert "(werkzeug 3.0.3 -> 3.1.3)" in f.message
    assert f.fix.endswith(
        "+RUN pip install --no-cache-dir -r requirements.txt && "
        "pip install --no-cache-dir gunicorn werkzeug==3.1.3"
    )
    assert _of(result.findings, "LS101") == [] and _of(result.findings, "LS102") == []


def test_installs_apart_get_no_joined_run() -> None:
    layers = [
        _BASE,
        [d(f"{SP}/six"), file(f"{SP}/six/six.py", 3000)],
        [file("app.py", 10)],
        [d(f"{SP}/six"), file(f"{SP}/six/six.py", 3100)],
    ]
    result = run(
        *layers,
        history=[
            "/bin/sh -c #(nop) ADD file:x in /",
            "/bin/sh -c pip install six==1.15.0",
            "/bin/sh -c #(nop) COPY file:y in /",
            "/bin/sh -c python3 -m pip install -U six",
        ],
    )
    (f,) = _of(result.findings, "LS309")
    assert f.bytes == 3000
    assert "No automatic fix is proposed: other steps lie between" in f.fix
    assert "+RUN" not in f.fix


def test_dev_requirements_in_the_image() -> None:
    layers = [_BASE, [d(f"{SP}/pytest"), file(f"{SP}/pytest/main.py", 9000)]]
    history = [
        "/bin/sh -c #(nop) ADD file:x in /",
        "/bin/sh -c pip install -r requirements-dev.txt",
    ]
    (f,) = _of(run(*layers, history=history, cmd=["gunicorn", "app:app"]).findings, "LS310")
    assert f.bytes == 9000 and f.reclaimable
    assert f.fix.startswith("No automatic fix is proposed: only you know whether")
    assert "+RUN pip install -r requirements-dev.txt" in f.fix
    # An image that runs its tests needs them; production requirements are no finding.
    assert _of(run(*layers, history=history, cmd=["pytest"]).findings, "LS310") == []
    prod = [history[0], "/bin/sh -c pip install -r requirements.txt"]
    assert _of(run(*layers, history=prod, cmd=["gunicorn"]).findings, "LS310") == []
    extras = [history[0], "/bin/sh -c pip install -e '.[dev,docs]'"]
    (g,) = _of(run(*layers, history=extras, cmd=["gunicorn"]).findings, "LS310")
    assert "(.[dev,docs])" in g.message


def test_second_pip_beside_the_base_image_pip() -> None:
    layers = [
        [*_BASE, d("usr/lib"), d("usr/lib/python3"), d("usr/lib/python3/dist-packages"),
         d("usr/lib/python3/dist-packages/pip"),
         file("usr/lib/python3/dist-packages/pip/__init__.py", 400)],
        [d(f"{SP}/pip"), file(f"{SP}/pip/__init__.py", 420), file(f"{SP}/pip/big.py", 90000),
         d("usr/local/bin"), file("usr/local/bin/pip", 200)],
    ]  # fmt: skip
    history = ["/bin/sh -c #(nop) ADD file:x in /", "/bin/sh -c pip install --upgrade pip"]
    (f,) = _of(run(*layers, history=history).findings, "LS311")
    assert f.bytes == 420 + 90000 + 200
    assert "the base image's pip stays in /usr/lib/python3/dist-packages/pip (layer 0)" in (
        f.message
    )
    assert f.fix.startswith("No automatic fix is proposed") and "-RUN pip install" in f.fix
    # pip install of other packages, or a pip that is the only one: no finding
    alone = [_BASE, layers[1]]
    assert _of(run(*alone, history=history).findings, "LS311") == []

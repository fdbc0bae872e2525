"""The install line is true: `python -m build` makes a wheel and an sdist;
the wheel installs into a fresh venv (its dependencies from the index) and
runs on a sample; the sdist builds and runs without a C compiler too (the
optional accelerator is skipped, the pure-Python reader used)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "sample_images" / "removed-later.tar.gz"


def _run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
    full.update(env)
    return subprocess.run(
        argv, cwd=cwd, env=full, capture_output=True, text=True, timeout=1200, check=False
    )


@pytest.mark.slow
def test_wheel_and_sdist_install_and_run(tmp_path: Path) -> None:
    pytest.importorskip("build", reason="python -m build needs the `build` package")
    dist = tmp_path / "dist"
    # cwd outside the checkout: its build/ folder would shadow the `build` package.
    built = _run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], tmp_path)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [wheel] = dist.glob("layerscope-*.whl")
    [sdist] = dist.glob("layerscope-*.tar.gz")

    fresh = tmp_path / "fresh"
    assert _run([sys.executable, "-m", "venv", str(fresh)], tmp_path).returncode == 0
    pip = _run([str(fresh / "bin" / "pip"), "install", "--quiet", str(wheel)], tmp_path)
    assert pip.returncode == 0, pip.stderr[-2000:]
    out = _run(
        [str(fresh / "bin" / "layerscope"), str(SAMPLE), "--format", "json", "--no-config"],
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["findings"]
    assert (
        _run(
            [
                str(fresh / "bin" / "python"),
                "-c",
                "import yaml, layerscope.tar._tarwalk, layerscope._union, "
                "layerscope.sources._storagewalk",
            ],
            tmp_path,
        ).returncode
        == 0
    )

    # No C compiler: CC points at `false`; the wheel built from the sdist
    # skips the optional extension and the tool works without it.
    plain = tmp_path / "plain"
    rebuilt = _run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(plain), str(sdist)],
        tmp_path,
        CC="false",
        CXX="false",
    )
    assert rebuilt.returncode == 0, rebuilt.stdout[-2000:] + rebuilt.stderr[-2000:]
    [pure] = plain.glob("layerscope-*.whl")
    assert not [n for n in zipfile.ZipFile(pure).namelist() if n.endswith(".so")]
    bare = tmp_path / "bare"
    made = _run([sys.executable, "-m", "venv", "--system-site-packages", str(bare)], tmp_path)
    assert made.returncode == 0
    pip = _run([str(bare / "bin" / "pip"), "install", "--quiet", "--no-deps", str(pure)], tmp_path)
    assert pip.returncode == 0, pip.stderr[-2000:]
    # The installed package carries no extension module, and the run loads none. An
    # editable install of this checkout, seen through --system-site-packages, would
    # answer for the submodules the wheel lacks (setuptools' editable finder sits on
    # sys.meta_path): the run goes without it.
    run = (
        "import runpy, sys\n"
        "sys.meta_path = [f for f in sys.meta_path\n"
        "                 if not getattr(f, '__module__', '').startswith('__editable__')]\n"
        "import layerscope, pathlib\n"
        "root = pathlib.Path(layerscope.__file__).parent\n"
        "assert root.is_relative_to(sys.prefix), root\n"
        "assert not list(root.rglob('*.so')), list(root.rglob('*.so'))\n"
        "sys.argv = ['layerscope', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('layerscope', run_name='__main__')\n"
        "finally:\n"
        "    so = [m for m, v in list(sys.modules.items()) if m.startswith('layerscope')\n"
        "          and str(getattr(v, '__file__', '')).endswith('.so')]\n"
        "    print('extensions loaded:', so, file=sys.stderr)\n"
    )
    out = _run(
        [str(bare / "bin" / "python"), "-c", run, str(SAMPLE), "--ci", "--no-config",
         "--max-layers", "1"],
        tmp_path,
    )  # fmt: skip
    assert out.returncode == 1 and "FAIL  max_layers" in out.stdout, out.stderr
    assert "extensions loaded: []" in out.stderr, out.stderr

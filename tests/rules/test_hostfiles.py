"""LS306: a virtualenv or node_modules installed elsewhere and copied in."""

from __future__ import annotations

from tests.builders import F, file, sym

from .helpers import cause, of, run

KB = 1024
BASE = [
    file("usr/bin/python3.11", 5000),
    sym("usr/bin/python3", "python3.11"),
    sym("bin", "usr/bin"),
]


def venv(root: str, python: str) -> list[F]:
    return [
        file(f"{root}/pyvenv.cfg", b"home = /x\n"),
        sym(f"{root}/bin/python", python),
        sym(f"{root}/bin/python3", "python"),
        file(f"{root}/lib/python3.12/site-packages/requests/api.py", 30 * KB),
        file(f"{root}/lib/python3.12/site-packages/requests/models.py", 50 * KB),
    ]


def test_a_venv_made_on_a_mac_and_copied_in() -> None:
    result = run(
        BASE,
        [
            file("app/main.py", 1000),
            *venv("app/.venv", "/opt/homebrew/opt/python@3.12/bin/python3.12"),
        ],
        history=["/bin/sh -c #(nop) ADD file:abc in /", "COPY . /app # buildkit"],
    )
    (f,) = of(result, "LS306")
    assert (f.layer, f.bytes, f.path_count) == (1, 80 * KB + len(b"home = /x\n"), 3)
    assert "/app/.venv" in f.message and "/opt/homebrew/opt/python@3.12" in f.message
    assert "Add .venv to .dockerignore" in f.fix
    assert cause(f) == "host-dependencies" and not f.reclaimable
    assert result.summary.reclaimable_bytes == 0


def test_a_venv_whose_python_the_image_has_is_fine() -> None:
    """Relative and absolute links, through the merged-/usr ``bin`` symlink."""
    for python in ("/usr/bin/python3", "/bin/python3", "../../../usr/bin/python3.11"):
        result = run(
            BASE,
            venv("app/.venv", python),
            history=["/bin/sh -c #(nop) ADD file:abc in /", "COPY --from=build /app /app"],
        )
        assert of(result, "LS306") == [], python


def test_a_venv_made_by_a_run_is_not_copied_in() -> None:
    result = run(
        BASE,
        venv("opt/venv", "/usr/local/bin/python3"),
        history=["/bin/sh -c #(nop) ADD file:abc in /", "/bin/sh -c python3 -m venv /opt/venv"],
    )
    assert of(result, "LS306") == []


def test_node_modules_installed_on_macos() -> None:
    result = run(
        [
            file("srv/package.json", 300),
            file("srv/node_modules/left-pad/index.js", 20 * KB),
            file("srv/node_modules/@esbuild/darwin-arm64/bin/esbuild", 9000 * KB),
            file("srv/node_modules/fsevents/fsevents.node", 200 * KB),
        ],
        history=["COPY dir:0123 in /srv"],
    )
    (f,) = of(result, "LS306")
    assert f.bytes == (20 + 9000 + 200) * KB and f.path_count == 3
    assert "/srv/node_modules" in f.message and "npm ci" in f.fix


def test_node_modules_for_linux_or_made_by_npm_here_is_fine() -> None:
    linux = [
        file("srv/node_modules/@esbuild/linux-x64/bin/esbuild", 9000 * KB),
        file("srv/node_modules/windows-1252/index.js", 3 * KB),  # an encoding, not a platform
    ]
    assert of(run(linux, history=["COPY . /srv # buildkit"]), "LS306") == []
    mac = [file("srv/node_modules/@esbuild/darwin-arm64/bin/esbuild", 9000 * KB)]
    assert of(run(mac, history=["/bin/sh -c npm ci"]), "LS306") == []


def test_a_symlink_loop_is_not_an_interpreter() -> None:
    result = run(
        [sym("a", "b"), sym("b", "a"), *venv("app/venv", "/a")],
        history=["COPY . / # buildkit"],
    )
    (f,) = of(result, "LS306")
    assert "/app/venv" in f.message

"""LS308: the sources of a JavaScript build kept next to the output a static
server serves (crafted images through the real archive reader)."""

from __future__ import annotations

from collections.abc import Sequence

from layerscope.analysis import Analysis, analyze
from tests.builders import F, d, docker_archive, file, layer_tar, read_archive

_BASE = [d("usr"), d("usr/bin"), file("usr/bin/node", 4096)]
_SOURCES = [d("app"), file("app/package.json", 300), d("app/src"), file("app/src/main.js", 5000)]
_MODULES = [
    d("app/node_modules"),
    d("app/node_modules/vite"),
    file("app/node_modules/vite/x.js", 70000),
]
_OUT = [d("app/dist"), file("app/dist/index.html", 400), file("app/dist/app.js", 9000)]


def _run(
    layers: Sequence[Sequence[F]],
    history: Sequence[str],
    cmd: Sequence[str] | None,
    entrypoint: Sequence[str] | None = None,
    workdir: str = "/app",
    env: Sequence[str] = ("PATH=/usr/local/bin:/usr/bin",),
) -> Analysis:
    config: dict[str, object] = {"Env": list(env), "WorkingDir": workdir}
    if cmd is not None:
        config["Cmd"] = list(cmd)
    if entrypoint is not None:
        config["Entrypoint"] = list(entrypoint)
    raw = docker_archive(
        [layer_tar(m) for m in layers],
        [{"created_by": h} for h in history],
        config_extra={"config": config},
    )
    return analyze(read_archive(raw))


_HISTORY = [
    "/bin/sh -c #(nop) ADD file:abc in / ",
    "/bin/sh -c #(nop) COPY dir:123 in . ",
    "/bin/sh -c npm install",
    "/bin/sh -c npm run build",
]


def _layers(*, server_in_modules: bool = False) -> list[list[F]]:
    modules = list(_MODULES)
    if server_in_modules:
        modules += [d("app/node_modules/serve"), file("app/node_modules/serve/main.js", 8000)]
    return [_BASE, _SOURCES, modules, _OUT]


def _ls308(result: Analysis) -> list:  # type: ignore[type-arg]
    return [f for f in result.findings if f.rule == "LS308"]


def test_global_serve_of_the_build_output_counts_sources_and_node_modules() -> None:
    """serve -s dist serves /app/dist only: src/, package.json and node_modules
    (the bundler) are shipped for nothing; the fix builds in a stage of its own."""
    (f,) = _ls308(_run(_layers(), _HISTORY, ["serve", "-s", "dist"]))
    assert f.bytes == 300 + 5000 + 70000
    assert f.reclaimable and f.layer == 3
    assert f.claims == {"app/package.json", "app/src/main.js", "app/node_modules/vite/x.js"}
    assert "which is all the command (serve -s dist) serves" in f.message
    assert "+COPY --from=build /app/dist ./dist" in f.fix
    assert "+RUN npm install -g serve" in f.fix
    assert ' CMD ["serve", "-s", "dist"]' in f.fix
    assert dict(f.extra) == {"cause": "build-sources", "output": "/app/dist"}


def test_npx_serve_from_node_modules_keeps_node_modules() -> None:
    """npx serve runs the serve in node_modules: node_modules is needed at run time
    and not counted; the sources are."""
    result = _run(
        _layers(server_in_modules=True), _HISTORY, ["npx", "--yes", "serve", "-l", "3000", "dist"]
    )
    (f,) = _ls308(result)
    assert f.bytes == 300 + 5000
    assert "node_modules is kept: the server runs from it" in f.message
    assert ' CMD ["serve", "-l", "3000", "dist"]' in f.fix


def test_tini_and_a_shell_script_reach_the_server() -> None:
    (f,) = _ls308(
        _run(_layers(), _HISTORY, ["sh", "-c", "exec serve -s /app/dist"], ["tini", "--"])
    )
    assert f.bytes == 75300


def test_another_command_says_what_the_files_are_and_proposes_no_fix() -> None:
    """npm start (or node server.js) may read the sources and node_modules: the
    finding names them, counts nothing as reclaimable and says why no fix."""
    (f,) = _ls308(_run(_layers(), _HISTORY, ["npm", "start"]))
    assert not f.reclaimable and f.claims == frozenset()
    assert f.bytes == 75300
    assert "70000 bytes in node_modules" in f.message
    assert f.fix.startswith("No fix is proposed: the command (npm start) may read")


def test_no_saving_without_a_build_or_a_served_build_output() -> None:
    no_build = [*_HISTORY[:3], "/bin/sh -c cp -r src dist"]
    assert _ls308(_run(_layers(), no_build, ["serve", "-s", "dist"])) == []
    # serve -s public: a directory the build did not write (it may be hand-made)
    assert _ls308(_run(_layers(), _HISTORY, ["serve", "-s", "src"])) == []
    # serve with no directory serves the whole work directory: sources included
    (f,) = _ls308(_run(_layers(), _HISTORY, ["serve", "-s"]))
    assert not f.reclaimable and f.fix.startswith("No fix is proposed")
    # serve next to another program, which may read the sources
    (f,) = _ls308(_run(_layers(), _HISTORY, ["sh", "-c", "node api.js & serve -s dist"]))
    assert not f.reclaimable
    # serve -c FILE reads a config file that may lie outside the output
    (f,) = _ls308(_run(_layers(), _HISTORY, ["serve", "-c", "../serve.json", "dist"]))
    assert not f.reclaimable


def test_build_output_removed_sources_count_nothing_when_none_left() -> None:
    """The output served, nothing else left in the app directory: no finding."""
    layers = [_BASE, [d("app")], [], _OUT]
    assert _ls308(_run(layers, _HISTORY, ["serve", "-s", "dist"])) == []

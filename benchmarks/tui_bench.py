"""The interactive view on a 200,000-file image: time to first paint and time
per keypress.

Writes (once, cached under benchmarks/.cache/) a ``docker save`` archive of
6 layers and ``--files`` regular files: package-like trees, one directory
of 20,000 files, a layer that rewrites a quarter of the first tree, one that
deletes a subtree with whiteouts and makes a directory opaque. Then, in this
process, with Textual's headless driver (everything but the terminal
writes):

- the loader thread: read + scan, analyze, index the tree model;
- first paint: from starting the app on the archive (progress screen
  first) until the main screen is on screen, and the main screen alone
  from an analysis already made;
- keypresses on the main screen: each measured from the key event to the
  app being idle again (refresh included), ``--repeat`` times.

    python benchmarks/tui_bench.py [--files 200000] [--repeat 20] [--size 160x50]
    python benchmarks/tui_bench.py --side-by-side ARCHIVE [--size 160x50]

``--side-by-side`` runs, one after the other in fresh processes, ``layerscope
ARCHIVE --format json``, the view as ``layerscope ARCHIVE`` starts it (time
from process start to the main screen, RSS then, focus switches and filter
keystrokes) and ``dive --ci`` when installed.

Figures go to stdout; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from layerscope.analysis import analyze  # noqa: E402
from layerscope.sources import open_image  # noqa: E402
from layerscope.sources.interface import SourceOptions  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
FLAT = "usr/share/icons/flat"  # the one huge directory
FLAT_FILES = 20_000


def _members(files: int, rng: random.Random) -> list[list[tuple[str, str, int]]]:
    """(path, kind, size) per layer; kind: file, whiteout, opaque."""
    per = (files - FLAT_FILES) // 4
    base = [
        (
            f"usr/lib/python3/site-packages/pkg{i % 900}/sub{(i // 900) % 11}/mod{i}.py",
            "file",
            rng.randint(0, 1536),
        )
        for i in range(per)
    ]
    node = [
        (f"app/node_modules/dep{i % 1500}/lib/f{i}.js", "file", rng.randint(0, 1536))
        for i in range(per)
    ]
    docs = [
        (
            f"usr/share/doc/pkg{i % 700}/part{(i // 700) % 5}/page{i}.html",
            "file",
            rng.randint(0, 512),
        )
        for i in range(per)
    ]
    flat = [(f"{FLAT}/icon{i:05d}.png", "file", rng.randint(0, 1024)) for i in range(FLAT_FILES)]
    build = [(f"tmp/build/obj{i % 300}/o{i}.o", "file", rng.randint(0, 1536)) for i in range(per)]
    rewrite = [(p, k, s + 1) for p, k, s in base[: per // 4]]
    cleanup = [("tmp/build", "whiteout", 0), ("usr/share/doc/pkg1", "opaque", 0)]
    return [base, node, docs + flat, build, rewrite, cleanup]


def write_archive(out: Path, files: int) -> None:
    """A ``docker save`` archive, written layer by layer through temp files."""
    rng = random.Random(7)
    blob = random.Random(7).randbytes(2048)
    history = [
        "/bin/sh -c pip install -r requirements.txt",
        "/bin/sh -c npm ci",
        "/bin/sh -c apt-get update && apt-get install -y docs icons",
        "/bin/sh -c make -C /tmp/build",
        "/bin/sh -c chmod -R g+w /usr/lib/python3",
        "/bin/sh -c rm -rf /tmp/build /usr/share/doc/pkg1/*",
    ]
    layers = _members(files, rng)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        diff_ids, paths = [], []
        for i, members in enumerate(layers):
            p = Path(tmp) / f"{i}.tar"
            with (
                open(p, "wb") as f,
                tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT) as t,
            ):
                for name, kind, size in members:
                    if kind == "whiteout":
                        head, _, tail = name.rpartition("/")
                        name = f"{head}/.wh.{tail}"
                    elif kind == "opaque":
                        name = f"{name}/.wh..wh..opq"
                    info = tarfile.TarInfo(name)
                    info.mtime = 1_700_000_000
                    info.size = size if kind == "file" else 0
                    t.addfile(info, io.BytesIO(blob[: info.size]))
            diff_ids.append("sha256:" + hashlib.sha256(p.read_bytes()).hexdigest())
            paths.append(p)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": [{"created_by": h} for h in history],
            }
        ).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        names = [f"{d.split(':')[1]}/layer.tar" for d in diff_ids]
        manifest = json.dumps(
            [{"Config": config_name, "RepoTags": ["bench/tui:200k"], "Layers": names}]
        ).encode()
        part = out.with_suffix(".part")
        with tarfile.open(part, "w", format=tarfile.PAX_FORMAT) as t:
            for name, p in zip(names, paths, strict=True):
                t.add(p, arcname=name)
            for name, data in ((config_name, config), ("manifest.json", manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        part.rename(out)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def _bench(archive: Path, size: tuple[int, int], repeat: int) -> None:
    from layerscope.sources.size import input_size
    from layerscope.tui.app import LayerscopeApp, MainScreen
    from layerscope.tui.loader import Loader, Phase
    from layerscope.tui.widgets.filetree import FileTree
    from layerscope.tui.widgets.progress import ProgressScreen

    # 1. From launch (progress screen first) to the main screen on screen.
    loader = Loader(
        lambda opts: open_image(str(archive), options=opts),
        analyze,
        SourceOptions(),
        bytes_total=input_size(str(archive)),
    )
    app = LayerscopeApp(loader=loader, target=str(archive))
    t0 = time.perf_counter()
    async with app.run_test(size=size) as pilot:
        progress_paint = None
        while not isinstance(app.screen, MainScreen):
            if progress_paint is None and isinstance(app.screen, ProgressScreen):
                await pilot.pause()
                progress_paint = time.perf_counter() - t0
            await asyncio.sleep(0.005)
        await pilot.pause()
        main_paint = time.perf_counter() - t0
        while loader.state.phase is not Phase.DONE:  # the index, when still running
            await asyncio.sleep(0.01)
    result = loader.state.result
    assert result is not None
    tree = result.tree
    assert tree is not None
    s = result.analysis.summary
    print(
        f"image: {s.file_count} files visible, {len(tree.versions)} paths over "
        f"{s.layer_count} layers, {len(result.analysis.findings)} findings"
    )
    print("\n## From launch (archive on disk)\n")
    print(f"progress screen painted     {_ms(progress_paint or 0)}")
    start = loader.state.marks[Phase.READING]
    for phase in (Phase.ANALYZING, Phase.INDEXING, Phase.DONE):
        if phase in loader.state.marks:
            print(f"{phase.value + ' started':27} {_ms(loader.state.marks[phase] - start)}")
    print(f"main screen painted         {_ms(main_paint)}")

    # 2. The main screen alone, from a finished analysis.
    app = LayerscopeApp.for_analysis(result.analysis)
    t0 = time.perf_counter()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        first = time.perf_counter() - t0
        print(
            "\n## Main screen from a finished analysis (index included)\n\n"
            f"first paint {_ms(first)}"
        )
        ft = app.screen.query_one(FileTree)

        async def timed(*keys: str) -> float:
            t = time.perf_counter()
            await pilot.press(*keys)
            await pilot.pause()
            return time.perf_counter() - t

        rows: list[tuple[str, list[float]]] = []

        async def case(name: str, keys: tuple[str, ...], setup: tuple[str, ...] = ()) -> None:
            got = []
            for _ in range(repeat):
                if setup:
                    await pilot.press(*setup)
                    await pilot.pause()
                got.append(await timed(*keys))
            rows.append((name, got))

        await pilot.press("2", "C")
        for path in ("usr", "usr/lib", "usr/lib/python3", "usr/lib/python3/site-packages"):
            ft.expanded.add(path)
        ft.set_layer(ft.view.layer)
        await case("a key bound to nothing (pilot overhead)", ("f12",))
        await case("down (cursor)", ("down",))
        await case("pagedown", ("pagedown",))
        await case(
            "] / [ (switch layer, 900 rows open)",
            ("right_square_bracket",),
            ("left_square_bracket",),
        )
        await case("s (sort by size / name)", ("s",))
        await case("c (only changes)", ("c",))
        await case("w (only waste)", ("w",))
        flat = ft.model.rows(ft.view, set(), under="usr/share/icons")
        print(f"\nrows now: {len(ft.rows)}; {FLAT} holds {FLAT_FILES} files ({len(flat)} row)")
        ft.expanded.update({"usr/share", "usr/share/icons"})
        ft.set_layer(ft.view.layer)
        ft.reveal(FLAT)
        await case(f"enter on {FLAT} (open/close 20,000)", ("enter",))
        await case("typing in the filter box (debounced)", ("x",), ("slash",))
        await pilot.press("escape")
        # The filter itself, as applied after typing stops.
        pane = app.screen.query_one("#treepane")
        got = []
        for q in ["mod1", "icon0", "page9", "f12", "sub3/mod", "nothing-matches"] * max(
            1, repeat // 6
        ):
            t = time.perf_counter()
            pane.apply_filter(q)  # type: ignore[attr-defined]
            await pilot.pause()
            got.append(time.perf_counter() - t)
        rows.append(("filter applied (full path search)", got))
        print("\n## Per keypress (headless; key event to idle, refresh included)\n")
        print("| action | median | max | n |\n|---|---:|---:|---:|")
        for name, got in rows:
            print(f"| {name} | {_ms(statistics.median(got))} | {_ms(max(got))} | {len(got)} |")


def _rss_kib() -> int:
    """Resident set size now (KiB), from /proc."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


async def _child(archive: Path, size: tuple[int, int], repeat: int, started: float) -> None:
    """The view as `layerscope ARCHIVE` runs it, in its own process; JSON to stdout."""
    from layerscope import pipeline
    from layerscope.tui import start_loading

    # As run_tui: the read starts before Textual is imported (by _drive).
    request = pipeline.Request(target=str(archive))
    with pipeline.overlapping(request, request.engine) as listing:
        loader = start_loading(request, listing)
        await _drive(loader, archive, size, repeat, started)


async def _drive(
    loader: Any, archive: Path, size: tuple[int, int], repeat: int, started: float
) -> None:
    """Start the view on ``loader`` and time it; JSON to stdout."""
    from layerscope.tui.app import LayerscopeApp, MainScreen
    from layerscope.tui.loader import Phase
    from layerscope.tui.widgets.filetree import FileTree

    app = LayerscopeApp(loader=loader, target=str(archive))
    out: dict[str, object] = {}
    async with app.run_test(size=size) as pilot:
        while not isinstance(app.screen, MainScreen):
            await asyncio.sleep(0.002)
        # On screen: the main screen's first frame is rendered and written to
        # the (headless) terminal. Waiting for the app to be idle instead would
        # also wait for the tree index, which starts right after that frame.
        shown: list[float] = []

        def painted() -> None:
            shown.append(time.time())
            out["rss_first_screen_kib"] = _rss_kib()
            out["peak_rss_first_screen_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        app.screen.call_after_refresh(painted)
        while not shown:
            await asyncio.sleep(0.002)
        out["first_screen_s"] = shown[0] - started
        await pilot.pause()
        marks = loader.state.marks
        out["phases_s"] = {
            p.value: round(marks[p] - marks[Phase.READING], 3) for p in marks if p in marks
        }
        while loader.state.phase is not Phase.DONE:  # the tree index, when still building
            await asyncio.sleep(0.01)
        await pilot.pause()
        out["tree_ready_s"] = time.time() - started
        out["rss_tree_ready_kib"] = _rss_kib()

        # Wall time from the key to the app being idle (the driver's waits
        # included), and the CPU time the process spent (this thread's and the
        # others'), which the load of a shared machine does not stretch.
        cpu: list[float] = []

        async def timed(*keys: str) -> float:
            t, c = time.perf_counter(), time.process_time()
            await pilot.press(*keys)
            await pilot.pause()
            cpu.append(time.process_time() - c)
            return time.perf_counter() - t

        def cpu_of(n: int) -> dict[str, float]:
            got = _stats(cpu[-n:])
            return {"cpu_median": got["median"], "cpu_max": got["max"]}

        unbound = [await timed("f12") for _ in range(repeat)]
        out["unbound_key_ms"] = _stats(unbound) | cpu_of(len(unbound))
        focus = [await timed(key) for _ in range(max(1, repeat // 3)) for key in ("1", "2", "3")]
        out["focus_switch_ms"] = _stats(focus) | cpu_of(len(focus))
        await pilot.press("2", "slash")
        typing = [await timed(ch) for ch in "mod1234"]
        out["filter_keystroke_ms"] = _stats(typing) | cpu_of(len(typing))
        await asyncio.sleep(0.3)  # the debounce fires: the search runs
        await pilot.pause()
        pane = app.screen.query_one("#treepane")
        applied = []
        for q in ["mod1", "icon0", "page9", "f12", "sub3/mod", "nothing-matches"]:
            t = time.perf_counter()
            pane.apply_filter(q)  # type: ignore[attr-defined]
            await pilot.pause()
            applied.append(time.perf_counter() - t)
        out["filter_applied_ms"] = _stats(applied)
        await pilot.press("escape", "3")
        waste = [await timed(k) for k in ("down", "down", "end", "home", "enter")]
        out["waste_keys_ms"] = _stats(waste) | cpu_of(len(waste))
        tree = app.screen.query_one(FileTree)
        out["tree_rows"] = len(tree.rows)
        out["rss_after_browsing_kib"] = _rss_kib()
        out["findings"] = len(loader.state.result.analysis.findings) if loader.state.result else 0
        await pilot.press("q")
    print(json.dumps(out))


def _stats(seconds: list[float]) -> dict[str, float]:
    """Median, max (ms) and count of ``seconds``."""
    ms = [x * 1000 for x in seconds]
    return {"median": round(statistics.median(ms), 1), "max": round(max(ms), 1), "n": len(ms)}


def _measure(command: list[str], timeout: float | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one command (killed after ``timeout``)."""
    t = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    killer = None
    if timeout is not None:
        import threading

        killer = threading.Timer(timeout, proc.kill)
        killer.start()
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if killer is not None:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t, usage.ru_maxrss, out


def side_by_side(archive: Path, size: str, repeat: int, dive_timeout: float) -> None:
    """The CLI, the view and dive on one archive, one after another."""
    python = sys.executable
    cli_s, cli_rss, _ = _measure(
        [python, "-m", "layerscope", str(archive), "--format", "json", "-o", os.devnull]
    )
    child = [python, __file__, "--child", str(archive), "--size", size, "--repeat", str(repeat)]
    _, _, out = _measure([*child, "--started", repr(time.time())])
    tui = json.loads(out.strip().splitlines()[-1])
    print(f"archive: {archive} ({archive.stat().st_size >> 20} MiB), {tui['findings']} findings")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores shared)\n")
    first = tui["first_screen_s"]
    print("| | time | RSS |\n|---|---:|---:|")
    print(f"| `layerscope ARCHIVE --format json` | {cli_s:.2f} s | {cli_rss >> 10} MiB (peak) |")
    print(
        f"| view: first screen | {first:.2f} s ({first / cli_s:.2f}x) | "
        f"{tui['rss_first_screen_kib'] >> 10} MiB "
        f"({tui['rss_first_screen_kib'] / cli_rss:.2f}x; peak so far "
        f"{tui['peak_rss_first_screen_kib'] >> 10} MiB) |"
    )
    print(
        f"| view: file tree ready | {tui['tree_ready_s']:.2f} s | "
        f"{tui['rss_tree_ready_kib'] >> 10} MiB ({tui['rss_tree_ready_kib'] / cli_rss:.2f}x) |"
    )
    print(f"| view: after browsing | | {tui['rss_after_browsing_kib'] >> 10} MiB |")
    dive = shutil.which("dive")
    if dive is not None and dive_timeout > 0:
        dive_s, dive_rss, _ = _measure(
            [dive, "--source", "docker-archive", str(archive), "--ci", "--json", os.devnull],
            timeout=dive_timeout,
        )
        done = f"{dive_s:.2f} s" if dive_s < dive_timeout else f"> {dive_timeout:.0f} s (killed)"
        print(f"| dive --ci (reference) | {done} | {dive_rss >> 10} MiB |")
    print(f"\nphases (from the start of reading): {tui['phases_s']}\n")
    print("(the first row is the test driver's own cost: subtract it for the view's)\n")
    print(
        "| keys (headless, key to idle) | median | max | CPU median | CPU max | n |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    keys = ("unbound_key", "focus_switch", "filter_keystroke", "filter_applied", "waste_keys")
    for key in (k + "_ms" for k in keys):
        st = tui[key]
        used = f"{st['cpu_median']} ms | {st['cpu_max']} ms" if "cpu_median" in st else "- | -"
        print(
            f"| {key.removesuffix('_ms').replace('_', ' ')} | {st['median']} ms | "
            f"{st['max']} ms | {used} | {st['n']} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--size", default="160x50", help="terminal COLSxROWS")
    ap.add_argument(
        "--side-by-side",
        metavar="ARCHIVE",
        type=Path,
        help="time the CLI, the view (first screen, keys, RSS) and dive on ARCHIVE "
        "(e.g. made by benchmarks/gen_archive.py --files 200000 --big-gb 0)",
    )
    ap.add_argument(
        "--dive-timeout", type=float, default=300, help="seconds for dive (0: skip dive)"
    )
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    cols, rows = (int(x) for x in args.size.split("x"))
    if args.child is not None:
        asyncio.run(_child(args.child, (cols, rows), args.repeat, args.started or time.time()))
        return
    if args.side_by_side is not None:
        side_by_side(args.side_by_side, args.size, args.repeat, args.dive_timeout)
        return
    archive = CACHE / f"tui-{args.files}.tar"
    if not archive.exists():
        t = time.perf_counter()
        write_archive(archive, args.files)
        print(
            f"wrote {archive} ({archive.stat().st_size >> 20} MiB) "
            f"in {time.perf_counter() - t:.1f} s"
        )
    asyncio.run(_bench(archive, (cols, rows), args.repeat))


if __name__ == "__main__":
    main()

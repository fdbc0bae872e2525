"""LS1xx hidden bytes: the cause read from the two layers' history, and fixes."""

from __future__ import annotations

import posixpath

import pytest

from layerscope.rules.common import top_paths
from layerscope.rules.hidden import _common_dir
from tests.builders import F, d, file, wh

from .helpers import cause, of, run

KB = 1024


def test_cleanup_in_a_later_run_moves_that_cleanup() -> None:
    result = run(
        [file("tmp/src.tgz", 80 * KB), file("opt/src/main.c", 5 * KB)],
        [wh("tmp/src.tgz")],
        history=[
            "/bin/sh -c wget -O /tmp/src.tgz https://x/src.tgz && tar -C /opt -xzf /tmp/src.tgz",
            "/bin/sh -c rm -f /tmp/src.tgz && echo done",
        ],
    )
    (f,) = of(result, "LS101")
    assert (f.bytes, f.layer, f.hidden_by) == (80 * KB, 0, 1)
    assert cause(f) == "cleanup-in-later-run"
    assert f.fix.endswith("tar -C /opt -xzf /tmp/src.tgz && rm -f /tmp/src.tgz")
    assert "-RUN wget -O /tmp/src.tgz" in f.fix


def test_removal_without_a_recognised_cleanup_appends_rm() -> None:
    result = run(
        [d("build"), file("build/obj/a.o", 30 * KB)],
        [wh("build")],
        history=["/bin/sh -c make", "/bin/sh -c ./cleanup.sh"],
    )
    (f,) = of(result, "LS101")
    assert cause(f) == "cleanup-in-later-run"
    assert "+RUN make && rm -rf /build" in f.fix


def test_removed_by_a_copy_is_not_called_a_cleanup() -> None:
    result = run(
        [d("app"), file("app/data/a.bin", 30 * KB)],
        [file("app/data", 10)],  # a file replaces the directory
        history=["/bin/sh -c fetch", "COPY data /app/data # buildkit"],
    )
    (f,) = of(result, "LS1")
    assert (f.rule, cause(f), f.bytes) == ("LS101", "removed-later", 30 * KB)


def test_chown_after_copy_suggests_copy_chown_buildkit() -> None:
    files = [file(f"app/m{i}.py", 4 * KB) for i in range(3)]
    owned = [file(f"app/m{i}.py", 4 * KB, uid=1000, gid=1000) for i in range(3)]
    result = run(
        [d("app"), *files],
        owned,
        history=["COPY src /app # buildkit", "RUN /bin/sh -c chown -R 1000:1000 /app # buildkit"],
    )
    (f,) = of(result, "LS102")
    assert cause(f) == "chown-later"
    assert (f.bytes, f.layer, f.hidden_by, f.path_count) == (12 * KB, 0, 1, 3)
    assert "-COPY src /app\n+COPY --chown=1000:1000 src /app" in f.fix


def test_chown_after_classic_copy_keeps_the_destination() -> None:
    result = run(
        [file("app/a", 8 * KB)],
        [file("app/a", 8 * KB, uid=33, gid=33)],
        history=[
            "/bin/sh -c #(nop) COPY dir:" + "ab" * 32 + " in /app ",
            "/bin/sh -c chown -R www-data: /app",
        ],
    )
    (f,) = of(result, "LS102")
    assert cause(f) == "chown-later"
    assert "+COPY --chown=33:33 <src> /app" in f.fix


def test_chmod_after_copy_suggests_copy_chmod() -> None:
    result = run(
        [file("app/run.sh", 8 * KB, mode=0o644)],
        [file("app/run.sh", 8 * KB, mode=0o755)],
        history=["COPY run.sh /app/ # buildkit", "RUN /bin/sh -c chmod -R +x /app # buildkit"],
    )
    (f,) = of(result, "LS102")
    assert cause(f) == "chmod-later"
    assert "+COPY --chmod=755 run.sh /app/" in f.fix


def test_chown_after_run_goes_into_that_run() -> None:
    result = run(
        [file("srv/data/a", 8 * KB)],
        [file("srv/data/a", 8 * KB, uid=1000, gid=1000)],
        history=["/bin/sh -c ./fetch.sh /srv/data", "/bin/sh -c chown -R 1000:1000 /srv/data"],
    )
    (f,) = of(result, "LS102")
    assert "+RUN ./fetch.sh /srv/data && chown -R 1000:1000 /srv/data" in f.fix


def test_package_manager_state_rewritten_by_a_second_install() -> None:
    result = run(
        [file("var/lib/dpkg/status", 60 * KB), file("usr/bin/a", 5 * KB)],
        [file("var/lib/dpkg/status", 61 * KB), file("usr/bin/b", 5 * KB)],
        history=["/bin/sh -c apt-get install -y a", "/bin/sh -c apt-get install -y b"],
    )
    (f,) = of(result, "LS102")
    assert cause(f) == "package-manager-state"
    assert "apt-get run rewrites its database" in f.fix
    assert "+RUN apt-get install -y a && apt-get install -y b" in f.fix


def test_upgrade_of_base_files_suggests_a_newer_base() -> None:
    result = run(
        [file("usr/lib/libssl.so.3", 600 * KB)],
        [file("usr/lib/libssl.so.3", 610 * KB)],
        history=["", "/bin/sh -c apt-get update && apt-get upgrade -y"],
    )
    (f,) = of(result, "LS102")
    assert cause(f) == "replaced-by-new-version"
    assert "newer base image" in f.fix


def test_two_runs_writing_one_file_are_merged() -> None:
    result = run(
        [file("etc/app.conf", 8 * KB)],
        [file("etc/app.conf", 9 * KB)],
        history=["/bin/sh -c ./gen-conf", "/bin/sh -c sed -i s/a/b/ /etc/app.conf"],
    )
    (f,) = of(result, "LS102")
    assert cause(f) == "replaced-by-new-version"
    assert "+RUN ./gen-conf && sed -i s/a/b/ /etc/app.conf" in f.fix


def test_cache_files_are_left_to_the_cache_rules() -> None:
    result = run(
        [file("root/.cache/pip/http/a", 20 * KB), file("tmp/x", 20 * KB)],
        [wh("root/.cache"), wh("tmp/x")],
        history=["/bin/sh -c pip install x", "/bin/sh -c rm -rf /root/.cache /tmp/x"],
    )
    assert [f.paths for f in of(result, "LS101")] == [("/tmp/x",)]
    assert [f.paths for f in of(result, "LS205")] == [("/root/.cache/pip/http/a",)]
    assert result.summary.reclaimable_bytes == 40 * KB


def test_base_package_database_rewritten_by_the_first_install_is_info() -> None:
    from layerscope.rules.types import Severity

    result = run(
        [file("var/lib/dpkg/status", 900 * KB)],
        [file("var/lib/dpkg/status", 901 * KB), file("usr/bin/tree", 50 * KB)],
        history=["", "/bin/sh -c apt-get install -y tree"],
    )
    (f,) = of(result, "LS102")
    assert (cause(f), f.severity, f.bytes) == ("package-manager-state", Severity.INFO, 900 * KB)
    assert "paid once" in f.fix


def _reference_common_dir(paths: list[str]) -> str:
    dirs = [posixpath.dirname(p) for p in paths]
    return posixpath.commonpath(dirs) if all(dirs) else ""


@pytest.mark.parametrize(
    "paths",
    [
        ["a/b/c", "a/b/d"],
        ["a/b/c", "a/bc/d", "a/b/x/y"],
        ["a/b/c", "a/b-c/d", "a/b/x/y"],
        ["usr/lib/x", "usr/lib/x/y/z"],
        ["x/y", "z"],
        ["one/file"],
        ["a/b", "b/c"],
        ["a//b/c", "a/b/d"],
        ["./a/x", "a/y"],
        ["a/./b/x", "a/b/y"],
        ["/abs/x", "/abs/y"],
        ["a/../b/x", "a/../b/y"],
        ["a\nb/x", "a\nb/y"],
    ],
)
def test_common_dir_is_commonpath_of_the_directories(paths: list[str]) -> None:
    assert _common_dir(paths) == _reference_common_dir(paths)


def test_common_dir_of_nothing_raises_like_commonpath() -> None:
    with pytest.raises(ValueError):
        _common_dir([])


def test_top_paths_picks_the_biggest_then_by_path() -> None:
    items = [(f"f{i:04d}", i % 7) for i in range(500)] + [("b", 6), ("a", 6)]
    expected = tuple("/" + p for p, _ in sorted(items, key=lambda i: (-i[1], i[0]))[:5])
    assert top_paths(items) == expected == ("/a", "/b", "/f0006", "/f0013", "/f0020")
    assert top_paths(iter(items), 3) == expected[:3]
    assert top_paths([], 5) == () and top_paths(items, 0) == ()


def test_chown_that_also_owns_made_directories_says_to_keep_it() -> None:
    """django-on-docker: mkdir staticfiles in an earlier RUN, COPY . $APP_HOME, then
    chown -R app:app $APP_HOME. COPY --chown covers the copied files only."""
    copied = [file(f"home/app/web/m{i}.py", 4 * KB) for i in range(3)]
    owned = [file(f"home/app/web/m{i}.py", 4 * KB, uid=100, gid=101) for i in range(3)]
    made = F("home/app/web/staticfiles", "dir", mode=0o755, uid=100, gid=101)
    result = run(
        [F("home/app/web/staticfiles", "dir", mode=0o755)],
        copied,
        [made, *owned],
        history=[
            "RUN /bin/sh -c mkdir -p /home/app/web/staticfiles # buildkit",
            "COPY . /home/app/web # buildkit",
            "RUN /bin/sh -c chown -R app:app /home/app/web # buildkit",
        ],
    )
    (f,) = of(result, "LS102")
    assert cause(f) == "chown-later"
    assert "+COPY --chown=100:101 . /home/app/web" in f.fix
    assert "drop the recursive chown" not in f.fix
    assert "keep a chown in layer 2 for the 1 path it changes" in f.fix
    assert "/home/app/web/staticfiles" in f.fix


def test_manifest_copied_first_and_again_with_the_source_is_not_reported() -> None:
    lock = b'{"lockfileVersion": 3}\n' * 40
    result = run(
        [file("app/package.json", 2 * KB), file("app/package-lock.json", lock)],
        [file("app/node_modules/x/index.js", 3 * KB)],
        [file("app/package.json", 2 * KB), file("app/package-lock.json", lock),
         file("app/server.js", 1 * KB)],
        history=["COPY package*.json ./ # buildkit", "RUN /bin/sh -c npm ci # buildkit",
                 "COPY . . # buildkit"],
    )  # fmt: skip
    assert of(result, "LS102") == []


def test_lock_file_rewritten_by_npm_install_says_npm_ci() -> None:
    result = run(
        [file("app/package.json", 2 * KB), file("app/package-lock.json", 3 * KB)],
        [file("app/package-lock.json", 3 * KB + 40), file("app/node_modules/x/i.js", 3 * KB)],
        history=["COPY package*.json ./ # buildkit", "RUN /bin/sh -c npm install # buildkit"],
    )
    (f,) = of(result, "LS102")
    assert "use npm ci" in f.fix and "/app/package-lock.json" in f.fix
    assert "drop the earlier copy" not in f.fix


def test_copied_file_changed_by_a_run_and_copied_again() -> None:
    """django-on-docker: COPY ./entrypoint.sh ., RUN sed -i ..., RUN chmod +x, then
    COPY . . brings it again. No advice to drop the COPY the RUN needs."""
    result = run(
        [file("app/entrypoint.sh", 2 * KB)],
        [file("app/entrypoint.sh", 2 * KB - 10)],
        [file("app/entrypoint.sh", 2 * KB, mode=0o644), file("app/main.py", 1 * KB)],
        history=[
            "COPY ./entrypoint.sh . # buildkit",
            "RUN /bin/sh -c sed -i 's/\\r$//g' /app/entrypoint.sh # buildkit",
            "COPY . . # buildkit",
        ],
    )
    fixes = {(f.layer, f.hidden_by): f.fix for f in of(result, "LS102")}
    assert fixes[(0, 1)].startswith("Layer 1 changes /app right after layer 0 copied it in")
    assert fixes[(1, 2)].startswith("The COPY of layer 2 replaces /app again, undoing")
    assert all("drop the earlier copy" not in fix for fix in fixes.values())


def test_removed_later_works_on_the_hidden_files_alone() -> None:
    """LS101 looks only at what the replay hid (issue 15): it neither lays out
    nor searches the visible paths, nor indexes a layer; the cache rules'
    claim on hidden files is the same as their full scan's."""
    from layerscope.analysis import layer_stats
    from layerscope.rules.cachepaths import hidden_claims, scan
    from layerscope.rules.context import Options, RuleContext
    from layerscope.rules.hidden import removed_later
    from layerscope.union import replay

    from .helpers import image

    img = image(
        [file("root/.cache/pip/http/a", 40 * KB), file("tmp/x.bin", 30 * KB)]
        + [file(f"usr/lib/m{i}.py", 5 * KB) for i in range(50)],
        [wh("root/.cache"), wh("tmp/x.bin"), file("usr/lib/m1.py", 6 * KB)],
        history=["/bin/sh -c pip install x", "/bin/sh -c rm -rf /root/.cache /tmp/x.bin"],
    )
    union = replay(layer.entries for layer in img.layers)
    ctx = RuleContext(img, union, layer_stats(img, union), Options())
    (f,) = list(removed_later(ctx))  # the pip cache is left to LS2xx
    assert (f.paths, f.bytes) == (("/tmp/x.bin",), 30 * KB)
    assert set(ctx._memo) <= {
        "hidden.removed",
        "caches.hidden",
        "caches.hidden_hits",
        "caches.matcher",
        "caches.pnp",
        "pip-install-layers",  # LS309's pairs, which LS101 leaves to it
        "pip-reinstalled",
    }
    assert hidden_claims(ctx) == scan(ctx).hidden == {(0, "root/.cache/pip/http/a")}

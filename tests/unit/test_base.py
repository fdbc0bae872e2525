"""Base image attribution: the boundary from history and digests, origin,
the base/own split, base fixes, the report and the budgets."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest

from layerscope.analysis import Analysis, analyze
from layerscope.base.attribution import (
    Origin,
    attribute,
    finding_origin,
    layer_origin,
    rank,
    split,
)
from layerscope.base.boundary import Boundary, Signal, from_history, prefix_length
from layerscope.base.fixes import slimmer_variants
from layerscope.model import Image
from layerscope.policy.budgets import IMAGE_BUDGETS, judge
from layerscope.policy.values import Limit, Policy, RulePolicy
from layerscope.report import render
from tests.builders import docker_archive, file, image_of, layer_tar, read_archive, wh

KIB = 1024

# What the builders write (checked against real images in tests/engine).
IMPORTED = {"created": "2024-01-01T00:00:00Z", "comment": "Imported from -"}


def classic(cmd: str, t: str, empty: bool = False) -> dict[str, object]:
    entry: dict[str, object] = {"created": t, "created_by": cmd}
    if empty:
        entry["empty_layer"] = True
    return entry


def run_c(cmd: str, t: str) -> dict[str, object]:
    return classic(f"/bin/sh -c {cmd}", t)


def nop_c(instr: str, t: str) -> dict[str, object]:
    return classic(f"/bin/sh -c #(nop)  {instr}", t, empty=True)


def run_bk(cmd: str, t: str) -> dict[str, object]:
    return {"created": t, "created_by": f"RUN /bin/sh -c {cmd} # buildkit", **BK}


def meta_bk(instr: str, t: str) -> dict[str, object]:
    return {"created": t, "created_by": instr, "empty_layer": True, **BK}


BK = {"comment": "buildkit.dockerfile.v0"}


def ts(second: int, day: int = 1) -> str:
    return f"2024-03-{day:02d}T10:00:{second:02d}.123456789Z"


def image(history: list[dict[str, object]], layers: list[bytes] | None = None) -> Image:
    """An image with one small layer per history entry that is not empty_layer."""
    makers = sum(1 for h in history if not h.get("empty_layer"))
    if layers is None:
        layers = [layer_tar([file(f"l{i}", i + 1)]) for i in range(makers)]
    return read_archive(docker_archive(layers, history))


# The test base: an imported rootfs, then three RUNs and a CMD (classic).
BASE_CLASSIC = [
    IMPORTED,
    run_c("echo a > /a", ts(1)),
    run_c("rm /a", ts(2)),
    nop_c("ENV X=1", ts(3)),
    run_c("echo c > /c", ts(4)),
    nop_c('CMD ["/bin/sh"]', ts(5)),
]
BASE_BUILDKIT = [
    IMPORTED,
    run_bk("echo a > /a", ts(1)),
    run_bk("rm /a", ts(2)),
    meta_bk("ENV X=1", ts(3)),
    run_bk("echo c > /c", ts(4)),
    meta_bk('CMD ["/bin/sh"]', ts(5)),
]


def test_prefix_length() -> None:
    assert prefix_length(["a", "b", "c"], ["a", "b"]) == 2
    assert prefix_length(["a", "b"], ["a", "b", "c"]) == 2
    assert prefix_length(["a", "b"], ["x"]) == 0
    assert prefix_length([], ["a"]) == 0
    assert prefix_length(["", "b"], ["", "b"]) == 0  # an unknown digest matches nothing


def test_classic_app_on_classic_base_cuts_after_the_base_cmd() -> None:
    img = image([*BASE_CLASSIC, run_c("echo app", ts(9)), run_c("rm /c", ts(10))])
    assert from_history(img) == Boundary(4, Signal.BASE_CMD)


def test_buildkit_app_on_classic_base_is_a_builder_change() -> None:
    app = [run_bk("echo app", ts(9)), run_bk("rm /c", ts(10)), meta_bk('CMD ["x"]', ts(10))]
    img = image([*BASE_CLASSIC, *app])
    # The CMD signal cuts at the same place; the builder change is listed first.
    assert from_history(img) == Boundary(4, Signal.BUILDER_CHANGE)


def test_classic_app_on_buildkit_base_is_a_builder_change_without_cmd() -> None:
    base = [h for h in BASE_BUILDKIT if "CMD" not in str(h.get("created_by"))]
    img = image([*base, run_c("echo app", ts(9))])
    assert from_history(img) == Boundary(4, Signal.BUILDER_CHANGE)


def test_buildkit_app_on_buildkit_base_cuts_after_the_base_cmd() -> None:
    img = image([*BASE_BUILDKIT, run_bk("echo app", ts(9)), meta_bk('CMD ["x"]', ts(9))])
    assert from_history(img) == Boundary(4, Signal.BASE_CMD)


def test_later_cut_wins_over_an_earlier_base_of_the_base() -> None:
    # debian (classic, CMD bash) <- python (BuildKit, CMD python3) <- app (BuildKit)
    history = [
        classic("/bin/sh -c #(nop) ADD file:0123abcd in / ", ts(0, 1)),
        nop_c('CMD ["bash"]', ts(1, 1)),
        run_bk("apt-get install python", ts(1, 2)),
        meta_bk('CMD ["python3"]', ts(2, 2)),
        run_bk("pip install app", ts(1, 3)),
    ]
    assert from_history(image(history)) == Boundary(2, Signal.BASE_CMD)


def test_a_cmd_at_the_very_end_is_the_users_own() -> None:
    img = image([run_c("echo a", ts(1)), run_c("echo b", ts(2)), nop_c('CMD ["x"]', ts(3))])
    assert from_history(img) == Boundary(None, Signal.NONE)


def test_created_gap_when_nothing_structural() -> None:
    history = [
        run_c("echo base1", ts(1, 1)),
        run_c("echo base2", ts(2, 1)),
        run_c("echo app1", ts(1, 5)),  # four days later
        run_c("echo app2", ts(3, 5)),
    ]
    assert from_history(image(history)) == Boundary(2, Signal.CREATED_GAP)
    # A short pause (a minute) is part of one build.
    history[2] = run_c("echo app1", "2024-03-01T10:01:02Z")
    history[3] = run_c("echo app2", "2024-03-01T10:01:03Z")
    assert from_history(image(history)) == Boundary(None, Signal.NONE)


def test_imported_rootfs_is_the_floor() -> None:
    img = image([IMPORTED, run_c("echo a", "2024-01-01T00:00:05Z")])
    assert from_history(img) == Boundary(1, Signal.IMPORTED)
    # Nothing else was built: nothing to tell base from own.
    assert from_history(image([IMPORTED])) == Boundary(None, Signal.NONE)


def test_buildkit_filler_entries_are_ignored() -> None:
    # The exporter appends a filler for a base layer that had no history: the
    # lowest layer is left unpaired and counts with the base.
    filler = {"created_by": "", "comment": "buildkit.exporter.image.v0"}
    history = [*BASE_CLASSIC, run_bk("echo app", ts(9)), filler]
    layers = [layer_tar([file(f"l{i}", i + 1)]) for i in range(6)]
    img = read_archive(docker_archive(layers, history))
    assert img.layers[0].history_index is None
    assert from_history(img) == Boundary(5, Signal.BUILDER_CHANGE)


def test_layers_without_history_count_with_the_base() -> None:
    # 6 layers, history for only the top 4 (paired from the top).
    history = [run_c("echo b", ts(1)), nop_c('CMD ["sh"]', ts(2)), run_c("x", ts(3))]
    history += [run_c("y", ts(4)), run_c("z", ts(5))]
    layers = [layer_tar([file(f"l{i}", i + 1)]) for i in range(6)]
    img = read_archive(docker_archive(layers, history))
    assert [layer.history_index for layer in img.layers] == [None, None, 0, 2, 3, 4]
    assert from_history(img) == Boundary(3, Signal.BASE_CMD)


# -- attribution ----------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> Analysis:
    """Base (layers 0-2): 8 KiB deleted by its own layer 2, 3 KiB of tmp kept;
    own (layers 3-5): 2 KiB deleted later, and a base file deleted by layer 5."""
    layers = [
        [file("bin/sh", 10 * KIB), file("etc/base.conf", 1 * KIB)],
        [file("var/tmp/junk", 8 * KIB), file("tmp/base-tmp", 3 * KIB)],
        [wh("var/tmp/junk")],
        [file("app/main", 5 * KIB), file("tmp/build", 2 * KIB)],
        [wh("tmp/build")],
        [wh("etc/base.conf")],
    ]
    history = [
        IMPORTED,
        run_c("dd of=/var/tmp/junk", ts(1)),
        run_c("rm /var/tmp/junk", ts(2)),
        nop_c('CMD ["/bin/sh"]', ts(3)),
        run_c("make", ts(9)),
        run_c("rm /tmp/build", ts(10)),
        run_c("rm /etc/base.conf", ts(11)),
    ]
    img = read_archive(docker_archive([layer_tar(m) for m in layers], history))
    return analyze(img)


def test_attribute_sets_the_boundary_and_origins(app: Analysis) -> None:
    boundary = from_history(app.image)
    assert boundary == Boundary(3, Signal.BASE_CMD)
    r = attribute(app, boundary)
    assert (r.base_layer_count, r.base_signal, r.base_reference) == (3, "history-base-cmd", "")
    assert [layer_origin(r, i).value for i in range(6)] == ["base"] * 3 + ["own"] * 3
    by_layer = {f.layer: finding_origin(r, f) for f in r.findings if f.rule == "LS101"}
    assert by_layer == {0: Origin.BASE, 1: Origin.BASE, 3: Origin.OWN}
    # Without a boundary everything is own.
    assert {finding_origin(app, f) for f in app.findings} == {Origin.OWN}


def test_base_findings_get_a_base_fix_and_own_ones_keep_theirs(app: Analysis) -> None:
    r = attribute(
        app,
        Boundary(3, Signal.FLAG, "python:3.12", from_location=("Dockerfile", 4)),
    )
    before = {(f.rule, f.layer, f.paths): f for f in app.findings}
    for f in r.findings:
        old = before[(f.rule, f.layer, f.paths)]
        if finding_origin(r, f) is Origin.OWN:
            assert f == old
            continue
        assert f.fix != old.fix
        assert "python:3.12" in f.fix
        # No tag is named that may not exist: what to look for instead.
        assert "python:3.12-slim" not in f.fix and "python:3.12-alpine" not in f.fix
        assert "a -slim or -alpine tag of the same version" in f.fix and "distroless" in f.fix
        assert f"{f.bytes:,} bytes" in f.fix
        assert "rm " not in f.fix  # never an edit of a line the user does not own
        assert f.location == ("Dockerfile", 4)
    hidden_by_own = [f for f in r.findings if f.layer == 0 and f.hidden_by == 5]
    assert hidden_by_own and "Your layer 5 hides files" in hidden_by_own[0].fix


def test_boundary_is_clamped_to_the_image(app: Analysis) -> None:
    assert attribute(app, Boundary(99, Signal.FLAG, "x")).base_layer_count == 6
    assert attribute(app, Boundary(0, Signal.FLAG, "scratch")).findings == app.findings


@pytest.mark.parametrize("count", [None, 0, 1, 3, 5, 6])
def test_split_sums_to_the_summary(app: Analysis, count: int | None) -> None:
    r = attribute(app, Boundary(count, Signal.FLAG, "b"))
    parts = split(r)
    s = r.summary
    assert parts.base.layer_count + parts.own.layer_count == s.layer_count
    assert parts.base.total_bytes + parts.own.total_bytes == s.total_bytes
    assert parts.base.wasted_bytes + parts.own.wasted_bytes == s.wasted_bytes
    assert parts.base.final_bytes + parts.own.final_bytes == s.final_bytes
    assert parts.base.reclaimable_bytes + parts.own.reclaimable_bytes == s.reclaimable_bytes
    assert parts.base.finding_count + parts.own.finding_count == len(r.findings)


def test_split_figures(app: Analysis) -> None:
    parts = split(attribute(app, Boundary(3, Signal.FLAG, "b")))
    assert parts.base.total_bytes == 22 * KIB
    # /var/tmp/junk (deleted in the base) and /etc/base.conf (deleted by layer 5).
    assert parts.base.wasted_bytes == 9 * KIB
    assert parts.own.total_bytes == 7 * KIB
    assert parts.own.wasted_bytes == 2 * KIB
    # The leftover /tmp/base-tmp is the base's to reclaim, if a rule claims it.
    assert parts.base.reclaimable_bytes >= 9 * KIB
    assert parts.own.reclaimable_bytes == 2 * KIB


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (
            "python:3.12",
            ("python:3.12-slim", "python:3.12-alpine", "gcr.io/distroless/python3-debian12"),
        ),
        (
            "python:3.12-bookworm",
            ("python:3.12-slim", "python:3.12-alpine", "gcr.io/distroless/python3-debian12"),
        ),
        ("python:3.12-slim", ("python:3.12-alpine", "gcr.io/distroless/python3-debian12")),
        ("node", ("node:slim", "node:alpine", "gcr.io/distroless/nodejs22-debian12")),
        ("node:latest", ("node:slim", "node:alpine", "gcr.io/distroless/nodejs22-debian12")),
        (
            "registry.example.com:5000/team/api:2.1@sha256:abc",
            (
                "registry.example.com:5000/team/api:2.1-slim",
                "registry.example.com:5000/team/api:2.1-alpine",
                "gcr.io/distroless/base-debian12",
            ),
        ),
        ("debian:bookworm", ("debian:bookworm-slim", "alpine", "gcr.io/distroless/base-debian12")),
        ("ubuntu:24.04", ("debian:stable-slim", "alpine", "gcr.io/distroless/base-debian12")),
        ("golang:1.22-alpine", ("gcr.io/distroless/static-debian12",)),
        ("alpine:3.20", ("gcr.io/distroless/base-debian12",)),
        ("gcr.io/distroless/python3-debian12", ("gcr.io/distroless/static-debian12",)),
        ("gcr.io/distroless/static-debian12", ()),
        ("scratch", ()),
    ],
)
def test_slimmer_variants(reference: str, expected: tuple[str, ...]) -> None:
    assert slimmer_variants(reference) == expected


def test_a_slimmer_base_is_named_when_it_is_a_local_image(app: Analysis) -> None:
    boundary = Boundary(3, Signal.FLAG, "python:3.12", from_location=("Dockerfile", 4))
    r = attribute(app, boundary, ["python:3.12-slim", "busybox:latest"])
    base = [f for f in r.findings if finding_origin(r, f) is Origin.BASE and f.hidden_by != 5]
    assert base and all(
        "switch FROM to python:3.12-slim (found among your local images)" in f.fix for f in base
    )


def test_own_findings_first_then_rebuild_costs_then_the_base(app: Analysis) -> None:
    r = attribute(app, Boundary(3, Signal.FLAG, "python:3.12"))
    ranks = [rank(r, f) for f in r.findings]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 2
    for n in set(ranks):
        sizes = [f.bytes for f, k in zip(r.findings, ranks, strict=True) if k == n]
        assert sizes == sorted(sizes, reverse=True)


def test_unknown_base_name_still_gets_a_generic_fix(app: Analysis) -> None:
    r = attribute(app, from_history(app.image))
    base = [f for f in r.findings if finding_origin(r, f) is Origin.BASE]
    assert base
    assert all("the base image" in f.fix and "-slim" in f.fix for f in base)


# -- report and budgets ---------------------------------------------------------

SCHEMA = json.loads(
    resources.files("layerscope.report").joinpath("schema-v1.json").read_text(encoding="utf-8")
)


def test_json_report_carries_origin_and_the_split(app: Analysis) -> None:
    r = attribute(app, Boundary(3, Signal.LOCAL_IMAGE, "team/base:1"))
    report = json.loads(render("json", r))
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert report["base"] == {"reference": "team/base:1", "layer_count": 3, "signal": "local-image"}
    assert [layer["origin"] for layer in report["layers"]] == ["base"] * 3 + ["own"] * 3
    assert {(f["layer"], f["origin"]) for f in report["findings"] if f["rule"] == "LS101"} >= {
        (1, "base"),
        (3, "own"),
    }
    s = report["summary"]
    for key in ("total_bytes", "wasted_bytes", "reclaimable_bytes"):
        assert s["base"][key] + s["own"][key] == s[key]
    assert s["own"] == {
        "layer_count": 3,
        "total_bytes": 7 * KIB,
        "wasted_bytes": 2 * KIB,
        "reclaimable_bytes": 2 * KIB,
    }


def test_json_report_without_a_base(app: Analysis) -> None:
    report = json.loads(render("json", app))
    jsonschema.validate(report, SCHEMA, cls=jsonschema.Draft202012Validator)
    assert report["base"] == {"reference": None, "layer_count": None, "signal": "none"}
    assert {f["origin"] for f in report["findings"]} == {"own"}
    assert report["summary"]["base"]["total_bytes"] == 0


def test_schema_lists_every_signal() -> None:
    signals = SCHEMA["properties"]["base"]["properties"]["signal"]["enum"]
    assert set(signals) == {s.value for s in Signal}


def test_default_budgets_judge_own_layers(app: Analysis) -> None:
    r = attribute(app, Boundary(3, Signal.FLAG, "b"))
    actual = {b.name: b.actual(r) for b in IMAGE_BUDGETS}
    assert actual["max_wasted"] == actual["max_own_wasted"] == 2 * KIB
    assert actual["max_image_wasted"] == 11 * KIB == r.summary.wasted_bytes
    assert actual["max_base_wasted"] == 9 * KIB
    assert actual["max_total"] == r.summary.total_bytes  # sizes: the whole image
    assert actual["max_own_total"] == 7 * KIB
    assert actual["max_base_total"] == 22 * KIB
    assert actual["max_own_layers"] == 3 and actual["max_layers"] == 6
    assert actual["max_wasted_percent"] == pytest.approx(2 / 7)
    assert actual["min_efficiency"] == pytest.approx(5 / 7)
    limits = {"max_wasted": Limit(4 * KIB), "max_image_wasted": Limit(4 * KIB)}
    verdicts = {b.name: b.passed for b in judge(r, Policy(), limits)}
    assert verdicts == {"max_wasted": True, "max_image_wasted": False}


def test_rule_verdicts_ignore_base_findings() -> None:
    # Only the base (layers 0-1) has an LS101 finding.
    img = image_of([file("tmp/junk", 4 * KIB), file("a", 1)], [wh("tmp/junk")], [file("b", 1)])
    policy = Policy(path="p.toml", rules={"LS101": RulePolicy("fail")})
    plain = analyze(img)
    [unknown] = judge(plain, policy)
    assert not unknown.passed  # base unknown: every layer is own
    [own] = judge(attribute(plain, Boundary(2, Signal.FLAG, "b")), policy)
    assert own.passed and own.actual == 0
    assert "+1 in the base, not judged" in own.message


def test_table_report_puts_the_base_findings_into_one(app: Analysis) -> None:
    r = attribute(app, Boundary(3, Signal.FLAG, "python:3.12"))
    base = [f for f in r.findings if finding_origin(r, f) is Origin.BASE]
    assert len(base) > 1
    text = render("table", r)
    fixes = text[text.index("Fixes:") :]
    assert "Your image (bytes in your own layers):" in fixes
    assert "Base image (bytes you pull with FROM" in fixes
    assert fixes.index("Your image") < fixes.index("Base image")
    (line,) = [x for x in fixes.splitlines() if "[base]" in x]
    reclaimable = split(r).base.reclaimable_bytes
    assert f"Your base image python:3.12 carries {reclaimable} bytes of waste" in line
    assert f"in {len(base)} findings" in line
    # One numbered item for all of them, the biggest's fix shown under it.
    numbered = [x for x in fixes.splitlines() if x[:5].strip().rstrip(".").isdigit()]
    assert len(numbered) == len(r.findings) - len(base) + 1


def test_markdown_report_labels_base_findings(app: Analysis) -> None:
    r = attribute(app, Boundary(3, Signal.FLAG, "python:3.12"))
    items = [x for x in render("markdown", r).splitlines() if x[:1].isdigit() and ". **" in x]
    base = sum(1 for f in r.findings[: len(items)] if finding_origin(r, f) is Origin.BASE)
    assert base and sum("(base image)" in x for x in items) == base


def test_pip_upgrade_over_the_base_pip_says_so() -> None:
    """python images ship pip; RUN pip install --upgrade pip deletes it (the base
    layer keeps it) and stores a second one: the fix says to drop the upgrade,
    not to 'drop the deletion'."""
    site = "usr/local/lib/python3.12/site-packages"
    layers = [
        [file("bin/sh", 10 * KIB), file(f"{site}/pip/_internal.py", 64 * KIB)],
        [wh(f"{site}/pip"), file(f"{site}/pip/_internal.py", 70 * KIB)],
    ]
    history = [
        IMPORTED,
        nop_c('CMD ["python3"]', ts(1)),
        run_c("pip install --upgrade pip", ts(5)),
    ]
    img = read_archive(docker_archive([layer_tar(m) for m in layers], history))
    r = attribute(analyze(img), Boundary(1, Signal.FLAG, "python:3.12"))
    hidden = [f for f in r.findings if f.layer == 0 and f.hidden_by == 1]
    assert hidden
    for f in hidden:
        assert f.fix.startswith("Your layer 1 upgrades pip: it stores a second pip"), f.fix
        assert "drop the pip upgrade" in f.fix and "Drop the deletion" not in f.fix


def test_base_file_changed_by_your_layer_is_not_to_drop() -> None:
    """RUN adduser rewrites the base's /etc/passwd: the base copy stays, and the
    fix must not say to drop the step."""
    layers = [
        [file("bin/sh", 10 * KIB), file("etc/passwd", 4 * KIB)],
        [file("etc/passwd", 4 * KIB + 40)],
    ]
    history = [IMPORTED, nop_c('CMD ["sh"]', ts(1)), run_c("adduser --system app", ts(5))]
    img = read_archive(docker_archive([layer_tar(m) for m in layers], history))
    r = attribute(analyze(img), Boundary(1, Signal.FLAG, "python:3.12"))
    (f,) = [f for f in r.findings if f.rule == "LS102"]
    assert f.fix.startswith("Your layer 1 stores a new version of files that python:3.12")
    assert "nothing to drop" in f.fix and "Drop" not in f.fix

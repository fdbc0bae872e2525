"""Fixes for findings in base layers: what a Dockerfile that only uses a base
image can do about its bytes (a slimmer variant of the base, or distroless)."""

from __future__ import annotations

from collections.abc import Sequence

from layerscope.rules.types import Finding, Kind

# Distroless images per ecosystem (gcr.io/distroless): the runtime only.
_DISTROLESS = {
    "python": "gcr.io/distroless/python3-debian12",
    "node": "gcr.io/distroless/nodejs22-debian12",
    "openjdk": "gcr.io/distroless/java21-debian12",
    "eclipse-temurin": "gcr.io/distroless/java21-debian12",
    "amazoncorretto": "gcr.io/distroless/java21-debian12",
    "maven": "gcr.io/distroless/java21-debian12",
    "gradle": "gcr.io/distroless/java21-debian12",
    "golang": "gcr.io/distroless/static-debian12",
    "rust": "gcr.io/distroless/cc-debian12",
    "gcc": "gcr.io/distroless/cc-debian12",
}
_DISTROLESS_DEFAULT = "gcr.io/distroless/base-debian12"
_DISTROS = frozenset({"ubuntu", "fedora", "centos", "rockylinux", "almalinux", "amazonlinux"})


def _split_reference(reference: str) -> tuple[str, str]:
    """``repo[:tag][@digest]`` -> (repo, tag); the tag is '' when absent."""
    ref = reference.partition("@")[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, ""


def slimmer_variants(reference: str) -> tuple[str, ...]:
    """Smaller images to try instead of ``reference``, best guess by the
    naming conventions of official images (``-slim``, ``-alpine``), ending
    with a distroless image for the ecosystem. Empty for ``scratch``."""
    repo, tag = _split_reference(reference.strip())
    if not repo or repo == "scratch":
        return ()
    name = repo.rsplit("/", 1)[-1]
    distroless = _DISTROLESS.get(name, _DISTROLESS_DEFAULT)
    if "distroless" in repo:
        return ("gcr.io/distroless/static-debian12",) if "static" not in repo else ()
    head = tag.split("-", 1)[0] if tag and tag != "latest" else ""
    out: list[str]
    if name == "alpine" or "alpine" in tag:
        out = []
    elif name == "debian":
        out = [f"debian:{head or 'stable'}-slim", "alpine"]
    elif name in _DISTROS:
        out = ["debian:stable-slim", "alpine"]
    elif "slim" in tag:
        out = [f"{repo}:{head}-alpine" if head else f"{repo}:alpine"]
    elif head:
        out = [f"{repo}:{head}-slim", f"{repo}:{head}-alpine"]
    else:
        out = [f"{repo}:slim", f"{repo}:alpine"]
    return (*out, distroless)


def _upgrades_pip(command: str) -> bool:
    """``pip install --upgrade pip`` (or ``-U``, ``python -m pip``) in ``command``."""
    from layerscope.shell.commands import split_commands, unwrap

    for c in split_commands(command):
        argv = list(unwrap(c).argv)
        if argv and argv[0].rsplit("/", 1)[-1].startswith("python") and argv[1:3] == ["-m", "pip"]:
            argv = argv[2:]
        if not argv or not argv[0].rsplit("/", 1)[-1].startswith("pip"):
            continue
        if "install" in argv and ({"-U", "--upgrade"} & set(argv)) and "pip" in argv[2:]:
            return True
    return False


def _normal(reference: str) -> str:
    repo, tag = _split_reference(reference)
    repo = repo.removeprefix("docker.io/").removeprefix("library/")
    return f"{repo}:{tag or 'latest'}"


def suggestion(reference: str, local: Sequence[str] = ()) -> str:
    """What to switch FROM to: a slimmer variant of ``reference`` only when one
    is among the ``local`` image references (seen, so it exists); otherwise
    what to look for, naming no tag that may not be published."""
    variants = slimmer_variants(reference)
    if not reference or reference == "scratch":
        return (
            "start from a slimmer base image: look for a -slim or alpine variant, or a "
            "distroless image, of the image you use"
        )
    if not variants:
        return f"{reference} is already minimal: copy only what the app needs into scratch"
    seen = {_normal(r) for r in local}
    have = [v for v in variants if _normal(v) in seen]
    if have:
        return f"switch FROM to {' or '.join(have)} (found among your local images)"
    repo = _split_reference(reference)[0]
    return (
        f"look for a slimmer variant of {repo} in its registry (a -slim or -alpine tag of "
        "the same version), or a distroless image for the final stage, and check that the "
        "app runs on it"
    )


def base_fix(
    f: Finding,
    reference: str,
    own_hider: bool,
    wasted: int,
    reclaimable: int,
    local: Sequence[str] = (),
    hider: str = "",
) -> str:
    """The fix for a finding in a base layer. ``own_hider``: a layer of the
    image's own hides the base's bytes (``hider``: that layer's command);
    ``wasted``/``reclaimable``: the base's totals; ``local``: the engine's
    image references (a slimmer base is named only when it is one of them)."""
    name = reference or "the base image"
    layer = "a base layer" if f.layer is None else f"layer {f.layer}"
    if f.kind is Kind.CACHE_BUST:
        return (
            f"Nothing to change: {layer} is part of {name}, which you pull rather than build, "
            "so the order of its instructions does not slow your builds."
        )
    if own_hider and dict(f.extra).get("cause") == "package-manager-state":
        return (
            f"Your layer {f.hidden_by} installs packages, and every install rewrites the "
            f"package database that {name} ships ({f.bytes:,} bytes here): the base's copy "
            "stays in the image whatever you do, and it is paid once as long as all your "
            "packages are installed in one RUN."
        )
    if own_hider and _upgrades_pip(hider):
        return (
            f"Your layer {f.hidden_by} upgrades pip: it stores a second pip while the one "
            f"{name} ships stays in {layer} ({f.bytes:,} bytes, hidden but not freed). Unless "
            "installing your requirements needs a newer pip, drop the pip upgrade (or run it "
            "in a build stage that makes wheels, as the final image only needs them installed)."
        )
    if own_hider and f.kind is Kind.OVERWRITTEN_LATER:
        # A changed file (a user added to /etc/passwd, a config edited): the
        # change is the point of the step, only the base's old copy is extra.
        return (
            f"Your layer {f.hidden_by} stores a new version of files that {name} ships in "
            f"{layer}; the base's copy stays in the image ({f.bytes:,} bytes). That is the "
            "cost of changing them and nothing to drop: if the base is large, "
            f"{suggestion(reference, local)}"
        )
    if own_hider:
        head = (
            f"Your layer {f.hidden_by} hides files that {name} stored in {layer}: the base's "
            f"copy stays in the image, so the {f.bytes:,} bytes are not saved. If the "
            "deletion only cleans up the base, it can go; and"
        )
    else:
        head = (
            f"These {f.bytes:,} bytes are in {layer} of {name}, which your Dockerfile does "
            "not build: no change to your own instructions removes them. To get them back,"
        )
    total = f"; {name} holds {wasted:,} wasted and {reclaimable:,} reclaimable bytes in all"
    return f"{head} {suggestion(reference, local)}{total}"

"""LS2xx: package-manager caches stored in a layer.

One rule per ecosystem. A cache counts whether it survives to the final
image (reclaimable) or a later layer deleted or rewrote it (wasted: the
cleanup belongs in the RUN that filled it). One finding per ecosystem, layer
and fate; severity grows with the bytes; the default floor is 4 KiB, so a
user hears about a cache even when this build left little in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from layerscope.rules import rule
from layerscope.rules.cache_findings import cache_findings
from layerscope.rules.context import RuleContext
from layerscope.rules.types import Finding, Kind, RuleFunc, Severity

CACHE_MIN_BYTES = 4096


def _cache_rule(rule_id: str, title: str) -> Callable[[RuleFunc], RuleFunc]:
    return rule(
        rule_id,
        kind=Kind.PACKAGE_CACHE,
        severity=Severity.MEDIUM,
        title=title,
        min_bytes=CACHE_MIN_BYTES,
    )


@_cache_rule("LS201", "apt package lists and .deb archives left in a layer")
def apt_cache(ctx: RuleContext) -> Iterator[Finding]:
    """apt's package lists (``/var/lib/apt/lists``), downloaded ``.deb`` archives
    and ``pkgcache.bin``/``srcpkgcache.bin`` (``/var/cache/apt``) stored in a layer.

    ``apt-get update`` writes tens of megabytes of package lists and
    ``apt-get install`` keeps every ``.deb`` it downloaded (unless the base
    image's ``docker-clean`` hook deletes them). None of it is needed to run
    the image. Removing them in a later ``RUN`` only hides them: the bytes
    stay in the layer that wrote them, and every later ``apt-get`` run
    rewrites the binary caches again. Clean up in the same ``RUN``; or, with
    BuildKit, mount ``/var/cache/apt`` and ``/var/lib/apt`` as caches (then
    remove ``/etc/apt/apt.conf.d/docker-clean`` first, and never delete the
    lists in that RUN).

    Bad::

        RUN apt-get update && apt-get install -y curl
        RUN rm -rf /var/lib/apt/lists/*

    Good::

        RUN apt-get update \\
            && apt-get install -y --no-install-recommends curl \\
            && apt-get clean && rm -rf /var/lib/apt/lists/*
    """
    return cache_findings(ctx, "LS201", "apt")


@_cache_rule("LS202", "apk cache left in a layer")
def apk_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Alpine's ``/var/cache/apk`` (``APKINDEX.*.tar.gz`` from ``apk update`` or
    ``-U``, and ``.apk`` files when ``/etc/apk/cache`` exists) stored in a layer.

    The index and packages are only needed while installing. ``apk add
    --no-cache`` fetches a fresh index into memory and keeps nothing.
    (``/lib/apk/db``, the installed-package database, is never reported.)

    Bad::

        RUN apk update && apk add curl

    Good::

        RUN apk add --no-cache curl
    """
    return cache_findings(ctx, "LS202", "apk")


@_cache_rule("LS203", "dnf / yum / microdnf cache left in a layer")
def dnf_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Repository metadata and packages under ``/var/cache/dnf``,
    ``/var/cache/yum`` or ``/var/cache/libdnf5``, and dnf's logs in ``/var/log``.

    Repository metadata alone is often 100 MB or more. ``dnf clean all`` (or
    ``yum clean all``, ``microdnf clean all``) in the same RUN removes it;
    ``--setopt=install_weak_deps=False --nodocs`` keeps installs small.

    Bad::

        RUN dnf install -y gcc
        RUN dnf clean all

    Good::

        RUN dnf install -y --setopt=install_weak_deps=False gcc \\
            && dnf clean all && rm -rf /var/cache/dnf
    """
    return cache_findings(ctx, "LS203", "dnf")


@_cache_rule("LS204", "zypper cache left in a layer")
def zypper_cache(ctx: RuleContext) -> Iterator[Finding]:
    """openSUSE's ``/var/cache/zypp`` (repository metadata and packages) stored
    in a layer.

    Only needed while installing. ``zypper clean -a`` in the same RUN.

    Bad::

        RUN zypper --non-interactive install curl

    Good::

        RUN zypper --non-interactive install curl && zypper clean -a
    """
    return cache_findings(ctx, "LS204", "zypper")


@_cache_rule("LS205", "pip cache left in a layer")
def pip_cache(ctx: RuleContext) -> Iterator[Finding]:
    """pip's HTTP and wheel cache (``~/.cache/pip``, in ``/root``, any
    ``/home/*``, ``$HOME`` or ``$PIP_CACHE_DIR``) stored in a layer.

    pip keeps every downloaded distribution and built wheel, often as large
    as the installed packages themselves. ``--no-cache-dir`` (or ``ENV
    PIP_NO_CACHE_DIR=1``) keeps nothing; a BuildKit cache mount on the cache
    directory keeps it between builds without storing it in the image.

    Bad::

        RUN pip install -r requirements.txt

    Good::

        RUN pip install --no-cache-dir -r requirements.txt
    """
    return cache_findings(ctx, "LS205", "pip")


@_cache_rule("LS206", "uv cache left in a layer")
def uv_cache(ctx: RuleContext) -> Iterator[Finding]:
    """uv's cache (``~/.cache/uv`` or ``$UV_CACHE_DIR``) stored in a layer.

    Files uv hard-links into a virtualenv in the same layer are stored once
    and are not counted; what is counted would go away with the cache. Use
    ``--no-cache`` (``ENV UV_NO_CACHE=1``), or a cache mount with
    ``UV_LINK_MODE=copy``.

    Bad::

        RUN uv pip install --system -r requirements.txt

    Good::

        RUN uv --no-cache pip install --system -r requirements.txt
    """
    return cache_findings(ctx, "LS206", "uv")


@_cache_rule("LS207", "Poetry cache left in a layer")
def poetry_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Poetry's download cache (``~/.cache/pypoetry/cache`` and ``artifacts``,
    or under ``$POETRY_CACHE_DIR``) stored in a layer.

    Only those two directories count: Poetry keeps its virtualenvs in
    ``~/.cache/pypoetry/virtualenvs``, which the application needs. Remove
    the cache in the install RUN (not the whole ``pypoetry`` directory).

    Bad::

        RUN poetry install --only main

    Good::

        RUN poetry install --only main \\
            && rm -rf /root/.cache/pypoetry/cache /root/.cache/pypoetry/artifacts
    """
    return cache_findings(ctx, "LS207", "poetry")


@_cache_rule("LS208", "Pipenv cache left in a layer")
def pipenv_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Pipenv's cache (``~/.cache/pipenv`` or ``$PIPENV_CACHE_DIR``) stored in a
    layer.

    Only needed while locking and installing; remove it in the same RUN.

    Bad::

        RUN pipenv install --deploy --system

    Good::

        RUN pipenv install --deploy --system && rm -rf /root/.cache/pipenv
    """
    return cache_findings(ctx, "LS208", "pipenv")


@_cache_rule("LS209", "conda / mamba package cache left in a layer")
def conda_cache(ctx: RuleContext) -> Iterator[Finding]:
    """conda's package cache (``pkgs/`` of ``/opt/conda``, miniconda, miniforge,
    micromamba, ``~/.conda``, or ``$CONDA_PKGS_DIRS``) stored in a layer.

    conda keeps each downloaded tarball and its extracted copy. Files that
    are hard-linked into an environment in the same layer are stored once
    and not counted. ``conda clean -afy`` (``micromamba clean --all --yes``)
    in the same RUN removes the rest.

    Bad::

        RUN conda install -y numpy

    Good::

        RUN conda install -y numpy && conda clean -afy
    """
    return cache_findings(ctx, "LS209", "conda")


@_cache_rule("LS210", "npm cache left in a layer")
def npm_cache(ctx: RuleContext) -> Iterator[Finding]:
    """npm's content cache (``~/.npm/_cacache``) and debug logs
    (``~/.npm/_logs``) stored in a layer.

    ``npm install``/``npm ci`` keep a compressed copy of every package they
    fetched. Clean it in the same RUN, or mount ``~/.npm`` as a BuildKit
    cache.

    Bad::

        RUN npm ci --omit=dev

    Good::

        RUN npm ci --omit=dev && npm cache clean --force
    """
    return cache_findings(ctx, "LS210", "npm")


@_cache_rule("LS211", "Yarn (classic) cache left in a layer")
def yarn_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Yarn 1's cache: ``/usr/local/share/.cache/yarn`` when run as root (the
    official node images), ``~/.cache/yarn`` otherwise, or
    ``$YARN_CACHE_FOLDER``.

    Yarn keeps an unpacked copy of every package. ``yarn cache clean`` in
    the install RUN.

    Bad::

        RUN yarn install --frozen-lockfile --production

    Good::

        RUN yarn install --frozen-lockfile --production && yarn cache clean
    """
    return cache_findings(ctx, "LS211", "yarn")


@_cache_rule("LS212", "Yarn (berry) cache left in a layer")
def yarn_berry_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Yarn 2+'s global cache (``~/.yarn/berry/cache``), or a project's
    ``.yarn/cache`` when the project does not use Plug'n'Play.

    With Plug'n'Play (a ``.pnp.cjs`` next to ``.yarn``) the project cache is
    the dependency store itself and is never reported. Otherwise
    ``yarn cache clean --all`` in the install RUN.

    Bad::

        RUN yarn install --immutable

    Good::

        RUN yarn install --immutable && yarn cache clean --all
    """
    return cache_findings(ctx, "LS212", "yarn-berry")


@_cache_rule("LS213", "pnpm store left in a layer")
def pnpm_store(ctx: RuleContext) -> Iterator[Finding]:
    """pnpm's content-addressed store (``~/.local/share/pnpm/store``,
    ``$PNPM_HOME/store``, a ``.pnpm-store``) and metadata cache stored in a
    layer.

    Store files hard-linked into ``node_modules`` in the same layer are
    stored once and not counted; what is counted goes away with the store.
    Remove the store in the install RUN, or use a cache mount.

    Bad::

        RUN pnpm install --frozen-lockfile --prod

    Good::

        RUN pnpm install --frozen-lockfile --prod && rm -rf "$(pnpm store path)"
    """
    return cache_findings(ctx, "LS213", "pnpm")


@_cache_rule("LS214", "Go build and module caches left in a layer")
def go_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Go's build cache (``~/.cache/go-build``, ``$GOCACHE``) and module cache
    (``$GOPATH/pkg/mod``, ``/go/pkg/mod`` in the official images).

    Both are only needed to compile. Build in one stage and copy the binary
    into a small final stage; or mount both as BuildKit caches; at least run
    ``go clean -cache -modcache`` in the same RUN.

    Bad::

        FROM golang:1.22
        COPY . /src
        RUN cd /src && go build -o /usr/local/bin/app .

    Good::

        FROM golang:1.22 AS build
        COPY . /src
        RUN cd /src && CGO_ENABLED=0 go build -o /app .
        FROM gcr.io/distroless/static
        COPY --from=build /app /app
    """
    return cache_findings(ctx, "LS214", "go")


@_cache_rule("LS215", "Cargo registry, git checkouts and build artifacts left in a layer")
def cargo_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Cargo's registry and git checkouts (``$CARGO_HOME/registry`` and
    ``git``, ``/usr/local/cargo`` in the official images, ``~/.cargo``) and
    the intermediate build artifacts in ``target/*/{deps,build,.fingerprint,
    incremental}``.

    Build in one stage and copy the binary into the final stage.

    Bad::

        FROM rust:1.79
        COPY . /src
        RUN cd /src && cargo build --release

    Good::

        FROM rust:1.79 AS build
        COPY . /src
        RUN cd /src && cargo build --release
        FROM debian:bookworm-slim
        COPY --from=build /src/target/release/app /usr/local/bin/app
    """
    return cache_findings(ctx, "LS215", "cargo")


@_cache_rule("LS216", "Maven repository left in a layer")
def maven_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Maven's local repository (``~/.m2/repository``) stored in a layer.

    Every plugin and dependency jar Maven downloaded. Build in one stage
    and copy only the packaged artifact into a JRE stage.

    Bad::

        FROM maven:3.9-eclipse-temurin-21
        COPY . /src
        RUN cd /src && mvn -B package

    Good::

        FROM maven:3.9-eclipse-temurin-21 AS build
        COPY . /src
        RUN --mount=type=cache,target=/root/.m2 cd /src && mvn -B package
        FROM eclipse-temurin:21-jre
        COPY --from=build /src/target/app.jar /app.jar
    """
    return cache_findings(ctx, "LS216", "maven")


@_cache_rule("LS217", "Gradle caches and wrapper distributions left in a layer")
def gradle_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Gradle's caches (``~/.gradle/caches``), downloaded wrapper
    distributions (``~/.gradle/wrapper/dists``) and daemon logs, or the same
    under ``$GRADLE_USER_HOME``.

    Official gradle images declare ``/home/gradle/.gradle`` a VOLUME: the
    classic builder drops writes there, BuildKit keeps them in the layer.
    Build in one stage (``--no-daemon``), copy the artifact.

    Bad::

        FROM gradle:8-jdk21
        COPY . /src
        RUN cd /src && gradle build

    Good::

        FROM gradle:8-jdk21 AS build
        COPY . /src
        RUN cd /src && gradle build --no-daemon
        FROM eclipse-temurin:21-jre
        COPY --from=build /src/build/libs/app.jar /app.jar
    """
    return cache_findings(ctx, "LS217", "gradle")


@_cache_rule("LS218", "RubyGems / Bundler cache left in a layer")
def gem_cache(ctx: RuleContext) -> Iterator[Finding]:
    """The ``.gem`` files RubyGems and Bundler keep after installing
    (``/usr/local/bundle/cache``, ``$GEM_HOME/cache``, ``~/.gem``,
    ``~/.bundle/cache``, ``/var/lib/gems/*/cache``).

    The installed gems do not need them. Remove the cache in the same RUN;
    ``gem install --no-document`` also skips the generated docs.

    Bad::

        RUN bundle install

    Good::

        RUN bundle install && rm -rf /usr/local/bundle/cache
    """
    return cache_findings(ctx, "LS218", "gem")


@_cache_rule("LS219", "Composer cache left in a layer")
def composer_cache(ctx: RuleContext) -> Iterator[Finding]:
    """Composer's cache (``~/.composer/cache``, ``~/.cache/composer``,
    ``$COMPOSER_HOME/cache`` - ``/tmp/cache`` in the official composer image -
    or ``$COMPOSER_CACHE_DIR``).

    ``composer clear-cache`` in the install RUN.

    Bad::

        RUN composer install --no-dev --optimize-autoloader

    Good::

        RUN composer install --no-dev --optimize-autoloader && composer clear-cache
    """
    return cache_findings(ctx, "LS219", "composer")


@_cache_rule("LS220", "NuGet packages and caches left in a layer")
def nuget_cache(ctx: RuleContext) -> Iterator[Finding]:
    """NuGet's global packages folder (``~/.nuget/packages``,
    ``$NUGET_PACKAGES``), its HTTP cache (``~/.local/share/NuGet``) and
    scratch files.

    Build with the SDK image in one stage and run on the runtime image.

    Bad::

        FROM mcr.microsoft.com/dotnet/sdk:8.0
        COPY . /src
        RUN dotnet publish /src -c Release -o /app

    Good::

        FROM mcr.microsoft.com/dotnet/sdk:8.0 AS build
        COPY . /src
        RUN dotnet publish /src -c Release -o /app
        FROM mcr.microsoft.com/dotnet/aspnet:8.0
        COPY --from=build /app /app
    """
    return cache_findings(ctx, "LS220", "nuget")

# layerscope as a container image: `docker run` it on an archive or against
# the engine socket (docs/ci.md). Two stages: the build stage makes a venv
# with layerscope and its dependencies; the final stage is the base, Debian's
# python3 and that venv: no pip cache, no apt lists, no compiler.
#
#   docker build -t layerscope .
#   docker run --rm -v "$PWD:/work" -w /work layerscope image.tar --ci --max-total 300MB
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock layerscope myapp:latest --ci
#
# BASE must be Debian (apt, python3 >= 3.11: bookworm or later).
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md /src/
COPY layerscope /src/layerscope
# Without a compiler the optional C tar reader is skipped: the pure-Python one runs.
RUN python3 -m venv /opt/layerscope \
 && /opt/layerscope/bin/pip install --no-cache-dir --disable-pip-version-check /src \
 && /opt/layerscope/bin/pip uninstall -y pip setuptools \
 && find /opt/layerscope -name __pycache__ -prune -exec rm -rf {} +

FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/layerscope /opt/layerscope
ENV PATH=/opt/layerscope/bin:$PATH PYTHONDONTWRITEBYTECODE=1
WORKDIR /work
ENTRYPOINT ["layerscope"]
CMD ["--help"]

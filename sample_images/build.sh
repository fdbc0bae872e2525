#!/usr/bin/env bash
# Rebuild every sample image: sample_images/<name>/Dockerfile -> sample_images/<name>.tar.gz
# (a gzip-compressed `docker save` archive). Needs a running Docker engine.
# Usage: bash sample_images/build.sh [name ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"
# The base is imported from Debian's busybox-static: no registry needed.
python -c "from tests.engine.imagebuild import ensure_busybox_base; print(ensure_busybox_base())"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for d in "$here"/*/; do [ -f "$d/Dockerfile" ] && names+=("$(basename "$d")"); done
fi
for name in "${names[@]}"; do
  dir="$here/$name"
  tag="layerscope-sample/$name:latest"
  builder=(docker build)
  if [ -f "$dir/BUILDKIT" ]; then builder=(env DOCKER_BUILDKIT=1 /usr/bin/docker build); fi
  "${builder[@]}" -q --network "$(cat "$dir/NETWORK" 2>/dev/null || echo none)" -t "$tag" "$dir" >/dev/null
  docker save "$tag" | gzip -n -9 > "$here/$name.tar.gz"
  printf '%-20s %8d bytes\n' "$name" "$(stat -c %s "$here/$name.tar.gz")"
done

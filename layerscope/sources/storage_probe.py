"""Whether an engine image can be read from the engine's layer storage, and
where: the layer directories in order, their tar lengths, the config.

Docker's overlay2 driver keeps, under its root directory (``/var/lib/docker``):

* ``image/overlay2/imagedb/content/sha256/<id>``: the image config, whose
  sha256 is the image id;
* ``image/overlay2/layerdb/sha256/<chain id>/``: per layer, ``cache-id`` (the
  driver's directory name) and ``tar-split.json.gz`` (the headers of the tar
  the engine exports for it);
* ``overlay2/<cache-id>/diff``: the unpacked layer.

The image inspect names the driver (``GraphDriver.Name``), the top layer's
directory (``GraphDriver.Data.UpperDir``, which places the root) and the
layers in order (``RootFS.Layers``). Anything else (a remote engine, another
driver, the containerd image store, files this user may not read) raises
:class:`StorageUnavailable` with the reason, and the export is read instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

from layerscope.sources.interface import MAX_JSON_BYTES, SourceOptions
from layerscope.sources.storage import OPAQUE_XATTRS, StorageUnavailable

_HEX64 = re.compile(r"sha256:([0-9a-f]{64})")
_CACHE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True, slots=True)
class StoragePlan:
    """Where an image's parts lie in the engine's storage."""

    image_id: str
    config: bytes
    diff_ids: tuple[str, ...]
    layer_dirs: tuple[str, ...]
    tar_splits: tuple[str, ...]
    driver: str
    xattrs: tuple[str, ...] = OPAQUE_XATTRS
    sizes: tuple[int, ...] | None = None  # tar lengths, when the store records them
    # A rootless store keeps files under the user's host ids: ranges of
    # (first host id, first image id, count) for owners and groups (None:
    # the ids are the image's).
    uid_map: tuple[tuple[int, int, int], ...] | None = None
    gid_map: tuple[tuple[int, int, int], ...] | None = None


def local_engine() -> str | None:
    """None when the engine's socket is on this machine, else why not."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        return f"DOCKER_HOST={host} is not a local socket"
    return None


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The layer store's chain ids: each is sha256 of "parent-chain diff-id"."""
    out: list[str] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def _read_small(path: str, limit: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise StorageUnavailable(f"{path} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise StorageUnavailable(f"{path} is larger than {limit} bytes")
    return data


def docker_plan(info: dict[str, Any]) -> StoragePlan:
    """The storage plan of a Docker overlay2 image from its inspect."""
    graph = info.get("GraphDriver") or {}
    driver = str(graph.get("Name") or "")
    if driver != "overlay2":
        raise StorageUnavailable(f"the storage driver is {driver or 'unknown'!r}, not overlay2")
    data = graph.get("Data") or {}
    upper = str(data.get("UpperDir") or "")
    layers_dir = os.path.dirname(os.path.dirname(upper))
    if os.path.basename(upper) != "diff" or os.path.basename(layers_dir) != "overlay2":
        raise StorageUnavailable(f"unexpected overlay2 layer directory {upper!r}")
    root = os.path.dirname(layers_dir)
    rootfs = info.get("RootFS") or {}
    diff_ids = [str(d) for d in rootfs.get("Layers") or ()]
    image_id = str(info.get("Id") or "")
    m = _HEX64.fullmatch(image_id)
    if not diff_ids or m is None or not all(_HEX64.fullmatch(d) for d in diff_ids):
        raise StorageUnavailable("the image inspect names no sha256 layers or id")
    store = os.path.join(root, "image", "overlay2")
    try:
        config = _read_small(
            os.path.join(store, "imagedb", "content", "sha256", m.group(1)), MAX_JSON_BYTES
        )
        if "sha256:" + hashlib.sha256(config).hexdigest() != image_id:
            raise StorageUnavailable("the stored config does not hash to the image id")
        dirs, splits = [], []
        for chain in chain_ids(diff_ids):
            layerdb = os.path.join(store, "layerdb", "sha256", chain[len("sha256:") :])
            cache_id = _read_small(os.path.join(layerdb, "cache-id"), 256).decode().strip()
            if not _CACHE_ID.fullmatch(cache_id):
                raise StorageUnavailable(f"unexpected cache-id {cache_id[:80]!r}")
            dirs.append(os.path.join(layers_dir, cache_id, "diff"))
            splits.append(os.path.join(layerdb, "tar-split.json.gz"))
    except FileNotFoundError as e:
        raise StorageUnavailable(f"{e.filename}: not found (the image was removed?)") from None
    except UnicodeDecodeError:
        raise StorageUnavailable("a cache-id is not text") from None
    except OSError as e:
        raise StorageUnavailable(f"{e.filename}: {e.strerror}") from None
    if dirs[-1] != upper:
        raise StorageUnavailable("the layer store does not match the image's top layer")
    return StoragePlan(
        image_id=image_id,
        config=config,
        diff_ids=tuple(diff_ids),
        layer_dirs=tuple(dirs),
        tar_splits=tuple(splits),
        driver=driver,
        xattrs=("trusted.overlay.opaque",),
    )


PODMAN_ROOT = "/var/lib/containers/storage"
MAX_STORE_JSON = 256 << 20  # images.json / layers.json of a big store


def podman_roots() -> list[str]:
    """containers-storage roots to look in: the rootful store for root, the
    user's own (rootless) store otherwise, as Podman itself chooses."""
    if os.geteuid() == 0:
        return [PODMAN_ROOT]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local/share")
    return [os.path.join(data, "containers", "storage")]


def _candidates(reference: str) -> list[str]:
    """Names Podman may have stored ``reference`` under."""
    ref = reference
    last = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in last:
        ref += ":latest"
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return [ref]
    names = [f"localhost/{ref}", f"docker.io/{ref}"]
    if "/" not in ref:
        names.append(f"docker.io/library/{ref}")
    return names


def _store_json(path: str) -> list[dict[str, Any]]:
    data = json.loads(_read_small(path, MAX_STORE_JSON))
    if not isinstance(data, list):
        raise StorageUnavailable(f"{path} is not a list")
    return [d for d in data if isinstance(d, dict)]


def podman_plan(reference: str, root: str) -> StoragePlan:
    """The storage plan of an image in a containers-storage overlay store.

    Podman keeps no per-layer tar-split requirement for sizes: each layer's
    ``diff-size`` in ``overlay-layers/layers.json`` is its exact tar length.
    The config is the image's big-data item named by its digest, in
    ``overlay-images/<id>/=<base64 of the name>``.
    """
    try:
        images = _store_json(os.path.join(root, "overlay-images", "images.json"))
        layers = {
            str(d.get("id")): d
            for d in _store_json(os.path.join(root, "overlay-layers", "layers.json"))
        }
    except FileNotFoundError:
        raise StorageUnavailable(f"no overlay image store in {root}") from None
    except (OSError, ValueError) as e:
        raise StorageUnavailable(f"{root}: cannot read the image store ({e})") from None
    ref = reference.removeprefix("sha256:")
    names = set(_candidates(reference))
    found = [
        d
        for d in images
        if (str(d.get("id", "")).startswith(ref) and len(ref) >= 12)
        or names & set(d.get("names") or ())
    ]
    if len(found) != 1:
        raise StorageUnavailable(f"{reference!r} is not one image in {root}")
    image = found[0]
    image_id = str(image.get("id") or "")
    if not re.fullmatch(r"[0-9a-f]{64}", image_id):
        raise StorageUnavailable("unexpected image id in the store")
    key = "sha256:" + image_id
    item = "=" + base64.b64encode(key.encode()).decode()
    try:
        config = _read_small(os.path.join(root, "overlay-images", image_id, item), MAX_JSON_BYTES)
    except OSError as e:
        raise StorageUnavailable(f"the image's config: {e.strerror}") from None
    if "sha256:" + hashlib.sha256(config).hexdigest() != key:
        raise StorageUnavailable("the stored config does not hash to the image id")
    chain: list[dict[str, Any]] = []
    top = image.get("layer")
    while top:
        layer = layers.get(str(top))
        if layer is None or len(chain) > 20_000:
            raise StorageUnavailable(f"layer {str(top)[:80]!r} is not in the store")
        chain.append(layer)
        top = layer.get("parent")
    chain.reverse()
    try:
        parsed = json.loads(config)
        diff_ids = [str(d) for d in parsed["rootfs"]["diff_ids"]]
    except (ValueError, KeyError, TypeError):
        raise StorageUnavailable("the image's config names no diff_ids") from None
    if [str(layer.get("diff-digest")) for layer in chain] != diff_ids:
        raise StorageUnavailable("the store's layers are not the config's diff_ids")
    dirs, splits = [], []
    for layer in chain:
        layer_id = str(layer.get("id"))
        if not _CACHE_ID.fullmatch(layer_id) or not isinstance(layer.get("diff-size"), int):
            raise StorageUnavailable(f"unexpected layer record {layer_id[:80]!r}")
        if layer.get("uidmap") or layer.get("gidmap"):
            raise StorageUnavailable(f"layer {layer_id[:12]} is stored with its own id mapping")
        dirs.append(os.path.join(root, "overlay", layer_id, "diff"))
        splits.append(os.path.join(root, "overlay-layers", layer_id + ".tar-split.gz"))
    uid_map = gid_map = None
    try:
        owner = os.stat(root).st_uid
    except OSError as e:
        raise StorageUnavailable(f"{root}: {e.strerror}") from None
    if owner != 0:  # rootless: the files carry the user's host ids
        uid_map = rootless_ids(owner, owner, "/etc/subuid")
        gid_map = rootless_ids(owner, os.stat(root).st_gid, "/etc/subgid")
    return StoragePlan(
        image_id=key,
        config=config,
        diff_ids=tuple(diff_ids),
        layer_dirs=tuple(dirs),
        tar_splits=tuple(splits),
        driver="containers-storage overlay" + (" (rootless)" if owner != 0 else ""),
        sizes=tuple(int(layer["diff-size"]) for layer in chain),
        uid_map=uid_map,
        gid_map=gid_map,
    )


def rootless_ids(user: int, own: int, ranges_file: str) -> tuple[tuple[int, int, int], ...]:
    """How the store of rootless ``user`` maps the image's ids, as Podman does
    by default: ranges of (first host id, first image id, count). The image's
    0 is the user's own id (``own``); 1, 2, ... run through the user's
    subordinate ranges (``/etc/subuid`` or ``/etc/subgid`` lines
    ``name:start:count`` or ``uid:start:count``), in order.
    StorageUnavailable when the user has none."""
    import pwd

    try:
        name = pwd.getpwuid(user).pw_name
    except KeyError:
        name = ""
    ranges = [(own, 0, 1)]
    next_id = 1
    try:
        with open(ranges_file, encoding="utf-8", errors="replace") as f:
            for line in f:
                who, _, rest = line.strip().partition(":")
                start, _, count = rest.partition(":")
                if who in (name, str(user)) and start.isdigit() and count.isdigit():
                    ranges.append((int(start), next_id, int(count)))
                    next_id += int(count)
    except OSError as e:
        raise StorageUnavailable(f"{ranges_file}: {e.strerror}") from None
    if next_id == 1:
        raise StorageUnavailable(f"no subordinate ids for {name or user} in {ranges_file}")
    return tuple(ranges)


def image_id_of(host: int, ranges: tuple[tuple[int, int, int], ...]) -> int:
    """The image's id of ``host`` through :func:`rootless_ids` ranges;
    StorageUnavailable when no range holds it."""
    for first, image, count in ranges:
        if first <= host < first + count:
            return image + host - first
    raise StorageUnavailable(f"host id {host} is outside the store's id mapping")


def plan_for(reference: str, engine: str, options: SourceOptions) -> StoragePlan:
    """Inspect ``reference`` and return where its layers lie; raises
    StorageUnavailable with the reason when they cannot be read here."""
    why = local_engine()
    if why is not None:
        raise StorageUnavailable(why)
    if options.verify_digests:
        raise StorageUnavailable("--verify-digests checks the bytes of the export")
    if engine == "podman":
        reasons = []
        for root in podman_roots():
            try:
                return podman_plan(reference, root)
            except StorageUnavailable as e:
                reasons.append(str(e))
        raise StorageUnavailable("; ".join(reasons))
    return docker_plan(docker_inspect(reference, options.engine_timeout))


DOCKER_SOCKET = "/var/run/docker.sock"


def docker_inspect(reference: str, timeout: float) -> dict[str, Any]:
    """The engine's inspect of ``reference`` (see :func:`docker_get`)."""
    from urllib.parse import quote

    # Quoted as the docker SDK quotes it.
    return docker_get("/images/" + quote(reference, safe="/:") + "/json", timeout)


def docker_get(path: str, timeout: float) -> dict[str, Any]:
    """A JSON object from the local Docker engine's API, asked over its socket
    with one plain HTTP request: the docker SDK (a third of a second to import)
    is left to the paths that need more. StorageUnavailable on any failure:
    the export path then asks again and reports the engine's state."""
    import http.client
    import socket

    why = local_engine()
    if why is not None:
        raise StorageUnavailable(why)
    host = os.environ.get("DOCKER_HOST") or "unix://" + DOCKER_SOCKET
    where = host.removeprefix("unix://")

    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(where)
            except BaseException:
                sock.close()
                raise
            self.sock = sock

    conn = UnixConnection("docker", timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read(MAX_JSON_BYTES + 1)
    except (OSError, http.client.HTTPException) as e:
        raise StorageUnavailable(f"the engine did not answer: {type(e).__name__}") from None
    finally:
        conn.close()
    if response.status != 200:
        raise StorageUnavailable(f"the engine answered HTTP {response.status}")
    try:
        info = json.loads(body)
    except ValueError:
        raise StorageUnavailable("the engine's answer is not JSON") from None
    if len(body) > MAX_JSON_BYTES or not isinstance(info, dict):
        raise StorageUnavailable("an unexpected answer from the engine")
    return info


def docker_tagged_images(root: str) -> list[tuple[str, list[str], list[str]]]:
    """(id, tags, diff_ids) of every tagged image in a Docker overlay2 store,
    from ``repositories.json`` and the stored configs: what listing the
    engine's images and inspecting each tells, without an API call per image.
    Raises StorageUnavailable when the store cannot be read."""
    store = os.path.join(root, "image", "overlay2")
    try:
        repos = json.loads(_read_small(os.path.join(store, "repositories.json"), MAX_STORE_JSON))
        tags: dict[str, list[str]] = {}
        for names in (repos.get("Repositories") or {}).values():
            for name, image_id in names.items():
                if "@" not in name and _HEX64.fullmatch(str(image_id)):
                    tags.setdefault(str(image_id), []).append(str(name))
        rows = []
        for image_id, names in tags.items():
            path = os.path.join(store, "imagedb", "content", "sha256", image_id[7:])
            try:
                config = json.loads(_read_small(path, MAX_JSON_BYTES))
            except FileNotFoundError:
                continue  # removed meanwhile
            diff_ids = ((config.get("rootfs") or {}).get("diff_ids")) or []
            if diff_ids:
                rows.append((image_id, sorted(names), [str(d) for d in diff_ids]))
    except (OSError, ValueError, AttributeError, TypeError) as e:
        raise StorageUnavailable(f"cannot list the stored images ({e})") from None
    return rows


def docker_root(client: Any = None, timeout: float = 60.0) -> str:
    """The engine's root directory when its images are in a readable overlay2
    store on this machine; StorageUnavailable otherwise. Without a docker SDK
    ``client``, the engine is asked over its socket (:func:`docker_get`)."""
    why = local_engine()
    if why is not None:
        raise StorageUnavailable(why)
    if client is None:
        info = docker_get("/info", timeout)
    else:
        try:
            info = client.info()
        except Exception as e:  # the API path reports the engine's state
            raise StorageUnavailable(f"info failed: {type(e).__name__}") from None
    root = str(info.get("DockerRootDir") or "")
    if info.get("Driver") != "overlay2" or not root or not os.access(root, os.R_OK | os.X_OK):
        raise StorageUnavailable("the engine's root is not a readable overlay2 store")
    return root

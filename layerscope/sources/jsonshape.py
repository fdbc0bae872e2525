"""JSON documents checked by shape at the boundary, as Go reads them.

An image's manifest, index and config are attacker-written. The engine reads
them with Go's ``encoding/json`` into typed structs: a field of the wrong type
fails the whole load, ``null`` leaves a field unset, unknown fields are
ignored and field names match case-insensitively (an exact match first).
:func:`check` applies the same rules, once per document, and returns the
document with its field names spelled as the code reads them, so no wrong
type ever reaches a ``.get`` or a ``str()`` further in. The one-line error
names the path of the bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from layerscope.errors import ArchiveError
from layerscope.names import printable

__all__ = ["CONFIG", "DOCKER_MANIFEST", "OCI_DOCUMENT", "Shape", "check"]

_INT64 = (-(1 << 63), (1 << 63) - 1)


@dataclass(frozen=True)
class Shape:
    """What one JSON value may be. ``kind``: str, int, bool, any, list, map, object."""

    kind: str
    item: Shape | None = None  # list items, map values
    fields: Mapping[str, Shape] = field(default_factory=dict)  # object fields
    string_or_list: bool = False  # Go's strslice: "a" reads as ["a"]


STR = Shape("str")
INT = Shape("int")
BOOL = Shape("bool")
ANY = Shape("any")


def list_of(item: Shape, *, or_string: bool = False) -> Shape:
    return Shape("list", item, string_or_list=or_string)


def map_of(item: Shape) -> Shape:
    return Shape("map", item)


def obj(**fields: Shape) -> Shape:
    return Shape("object", fields={k.replace("__", "."): v for k, v in fields.items()})


_PLATFORM = obj(
    architecture=STR,
    os=STR,
    os__version=STR,
    os__features=list_of(STR),
    variant=STR,
    features=list_of(STR),
)
_DESCRIPTOR = obj(
    mediaType=STR,
    digest=STR,
    size=INT,
    urls=list_of(STR),
    annotations=map_of(STR),
    platform=_PLATFORM,
    artifactType=STR,
    data=STR,
)
# An OCI image index or manifest (and Docker's v2 forms): one shape for both,
# since which one a blob is only shows once it is read.
OCI_DOCUMENT = obj(
    schemaVersion=INT,
    mediaType=STR,
    artifactType=STR,
    manifests=list_of(_DESCRIPTOR),
    config=_DESCRIPTOR,
    layers=list_of(_DESCRIPTOR),
    subject=_DESCRIPTOR,
    annotations=map_of(STR),
)
# ``docker save``'s manifest.json.
DOCKER_MANIFEST = list_of(
    obj(
        Config=STR,
        RepoTags=list_of(STR),
        Layers=list_of(STR),
        Parent=STR,
        LayerSources=map_of(_DESCRIPTOR),
    )
)
_RUNTIME = obj(
    User=STR,
    Env=list_of(STR),
    Entrypoint=list_of(STR, or_string=True),
    Cmd=list_of(STR, or_string=True),
    Shell=list_of(STR, or_string=True),
    WorkingDir=STR,
    Labels=map_of(STR),
    Volumes=map_of(ANY),
    ExposedPorts=map_of(ANY),
    StopSignal=STR,
    OnBuild=list_of(STR),
    ArgsEscaped=BOOL,
)
CONFIG = obj(
    architecture=STR,
    os=STR,
    os__version=STR,
    os__features=list_of(STR),
    variant=STR,
    created=STR,
    author=STR,
    config=_RUNTIME,
    rootfs=obj(type=STR, diff_ids=list_of(STR)),
    history=list_of(obj(created=STR, created_by=STR, author=STR, comment=STR, empty_layer=BOOL)),
)

_TYPE_NAMES = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "an object",
}
_WANT = {
    "str": "a string",
    "int": "an integer",
    "bool": "a boolean",
    "list": "a list",
    "map": "an object",
    "object": "an object",
}


def check(value: Any, shape: Shape, what: str) -> Any:
    """``value`` as Go would read it into ``shape``: field names in their
    canonical spelling, strslice strings as lists; ArchiveError naming the
    path of the first field of the wrong type."""
    return _check(value, shape, what, "")


def _fail(value: Any, shape: Shape, what: str, path: str) -> ArchiveError:
    got = _TYPE_NAMES.get(type(value), type(value).__name__)
    where = printable(path.lstrip(".")[:120]) or "the document"
    return ArchiveError(f"{what}: {where} must be {_WANT[shape.kind]}, not {got}")


_ZERO: dict[str, Any] = {"str": "", "int": 0, "bool": False}


def _item(value: Any, shape: Shape, what: str, path: str) -> Any:
    """A list item or map value: Go reads ``null`` there as the zero value."""
    if value is None:
        return _ZERO.get(shape.kind)
    return _check(value, shape, what, path)


def _check(value: Any, shape: Shape, what: str, path: str) -> Any:
    kind = shape.kind
    if value is None or kind == "any":
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise _fail(value, shape, what, path)
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise _fail(value, shape, what, path)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(value, shape, what, path)
        if not _INT64[0] <= value <= _INT64[1]:
            where = printable(path.lstrip(".")[:120])
            raise ArchiveError(f"{what}: {where} is out of range ({str(value)[:24]})")
        return value
    if kind == "list":
        if shape.string_or_list and isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            raise _fail(value, shape, what, path)
        assert shape.item is not None
        item = shape.item
        if item.kind in ("any", "str") and all(type(v) is str for v in value):
            return value  # the common case, without a call per item
        return [_item(v, item, what, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise _fail(value, shape, what, path)
    if kind == "map":
        assert shape.item is not None
        item = shape.item
        if item.kind == "any" or (
            item.kind == "str" and all(type(v) is str for v in value.values())
        ):
            return value
        return {k: _item(v, item, what, f"{path}.{k[:40]}") for k, v in value.items()}
    return _object(value, shape, what, path)


def _object(value: dict[str, Any], shape: Shape, what: str, path: str) -> dict[str, Any]:
    fields = shape.fields
    folded = {name.casefold(): name for name in fields}
    out: dict[str, Any] = {}
    for key, v in value.items():
        name = key if key in fields else folded.get(key.casefold())
        if name is None:
            out.setdefault(key, v)  # unknown to Go's struct: kept, never read as typed
            continue
        if v is None:  # null leaves a field as it was
            out.setdefault(name, None)
            continue
        # Go assigns in document order: a later spelling of a field overrides.
        out[name] = _check(v, fields[name], what, f"{path}.{name}")
    return out

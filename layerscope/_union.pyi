from collections.abc import Sequence
from typing import Any

def add_new(
    entries: Sequence[Any],
    pos: int,
    index: int,
    state: dict[str, Any],
    children: dict[str, set[str]],
    log: list[Any],
    hidden: list[Any],
    whiteout: object,
    opaque: object,
    hardlink: object,
    directory: object,
    file: object,
    change_type: type,
    modified: object,
    overwritten: object,
    /,
) -> int: ...

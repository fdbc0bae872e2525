from collections.abc import Sequence
from typing import Any

api: int

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
    entry_type: type,
    added: object,
    /,
) -> int: ...

from collections.abc import Callable
from typing import Any

def walk(top_fd: int, out: list[Any], ctx: tuple[object, ...], /) -> int: ...
def tar_split(
    buf: bytes,
    start: int,
    floor: int,
    checksums: dict[int, int],
    slow: Callable[[bytes, bytes], None],
    /,
) -> tuple[int, int, int, int]: ...

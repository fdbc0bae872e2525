from typing import Any

def scan(
    buf: bytes | memoryview, pos: int, out: list[Any], ctx: tuple[object, ...], members_left: int, /
) -> tuple[int, int, int, int, int]: ...

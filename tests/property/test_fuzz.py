"""A short fuzz run of the archive and tar readers (the long run: docs/security.md)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.property.fuzz_targets import (
    archive_seeds,
    fuzz_archive,
    fuzz_inflate,
    fuzz_tar,
    inflate_seeds,
    layer_seeds,
    mutate,
)
from tests.property.layers import examples

mutations = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 1 << 20), st.integers(0, 1 << 16)), max_size=6
)
FUZZ = settings(max_examples=examples(300), deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.sampled_from(layer_seeds()), mutations, st.booleans())
def test_fuzz_layer_tar(seed: bytes, ops: list[tuple[int, int, int]], fix: bool) -> None:
    fuzz_tar(mutate(seed, ops, fix))


@FUZZ
@given(st.binary(max_size=4096))
def test_fuzz_layer_tar_raw_bytes(data: bytes) -> None:
    fuzz_tar(data)


@FUZZ
@given(st.sampled_from(inflate_seeds()), mutations)
def test_fuzz_inflate(seed: bytes, ops: list[tuple[int, int, int]]) -> None:
    fuzz_inflate(mutate(seed, ops, fix=False))


@FUZZ
@given(st.sampled_from(archive_seeds()), mutations, st.booleans())
def test_fuzz_archive(seed: bytes, ops: list[tuple[int, int, int]], fix: bool) -> None:
    fuzz_archive(mutate(seed, ops, fix))

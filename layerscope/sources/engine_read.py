"""Which way an engine image is read: from the engine's layer storage (about
a second) or from its export (as long as ``docker save``).

``--engine-read auto`` (the default) reads the storage when it can and the
export otherwise; ``storage`` insists on the storage (exit 2 with the reason
when it cannot be read); ``export`` always reads the export. Which path ran,
and why the storage was not read, is one progress event's ``note``: the line
``--verbose`` prints.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

from layerscope.errors import SourceError, UsageError
from layerscope.model import Entry, EntryType, Image
from layerscope.sources.interface import (
    Progress,
    ScannedBlob,
    SourceOptions,
    build_image,
    parse_json,
)
from layerscope.sources.layerscan import LayerScan
from layerscope.sources.storage import (
    StorageUnavailable,
    TarSplit,
    candidates,
    hash_files,
    read_tar_split,
    walk_layer,
    with_digests,
)
from layerscope.sources.storage_probe import StoragePlan, image_id_of, plan_for

ENGINE_READS = ("auto", "storage", "export")

__all__ = ["ENGINE_READS", "read_engine", "read_storage"]


def _note(options: SourceOptions, engine: str, path: str, line: str) -> None:
    """Say which path reads the image, and why (the one line of ``--verbose``):
    a progress event of no layers that carries the line."""
    if options.progress is not None:
        options.progress(Progress(0, 0, None, via=f"{engine} {path}", note=line))


def read_engine(
    reference: str, *, engine: str, options: SourceOptions, any_engine: bool = False
) -> Image:
    """Read ``reference`` from the engine the way ``options.engine_read`` asks.
    ``any_engine`` (``--source auto``): an export falls back from Docker to Podman
    when Docker does not have the image (see ``daemon.read_any_engine``)."""
    mode = options.engine_read
    if mode not in ENGINE_READS:
        raise UsageError(f"unknown --engine-read {mode!r} (choose from {', '.join(ENGINE_READS)})")
    if mode != "export":
        try:
            plan = plan_for(reference, engine, options)
            _note(
                options,
                engine,
                "storage",
                f"reading {reference} from the {engine} storage ({plan.driver}, "
                f"--engine-read {mode})",
            )
            return read_storage(plan, reference=reference, engine=engine, options=options)
        except StorageUnavailable as e:
            if mode == "storage":
                raise SourceError(
                    f"{engine}:{reference}: cannot read the engine's storage: {e}"
                ) from None
            why = f"the storage cannot be read ({e})"
    else:
        why = "--engine-read export"
    _note(options, engine, "export", f"reading the {engine} export of {reference}: {why}")
    from layerscope.sources.daemon import read_any_engine, read_engine_image

    report = options.progress
    if report is not None:
        via = f"{engine} export"
        options = dataclasses.replace(
            options, progress=lambda p: report(dataclasses.replace(p, via=via))
        )
    if any_engine:
        return read_any_engine(reference, options=options)
    return read_engine_image(reference, engine=engine, options=options)


def _add_layer(
    layers: list[tuple[Entry, ...]],
    sizes: list[int],
    entries: list[Entry],
    record: TarSplit,
    root: str,
    plan: StoragePlan,
) -> int:
    """Append one walked layer (with the tar's root member when it has one)."""
    if record.has_root:
        try:
            st = os.stat(root, follow_symlinks=False)
        except OSError as e:
            raise StorageUnavailable(f"layer directory {root}: {e.strerror}") from None
        mtime = st.st_mtime_ns // 1_000_000_000
        entries.insert(
            0, Entry("", EntryType.DIR, 0, st.st_mode & 0o7777, st.st_uid, st.st_gid, mtime)
        )
    if plan.uid_map is not None and plan.gid_map is not None:
        entries = _image_ids(entries, plan.uid_map, plan.gid_map)
    layers.append(tuple(entries))
    sizes.append(record.size_bytes)
    return len(entries)


def _image_ids(
    entries: list[Entry],
    uids: tuple[tuple[int, int, int], ...],
    gids: tuple[tuple[int, int, int], ...],
) -> list[Entry]:
    """A rootless store's entries with the image's owners and groups instead
    of the user's host ids (whiteout and opaque markers carry none)."""
    markers = (EntryType.WHITEOUT, EntryType.OPAQUE)
    uid_of: dict[int, int] = {}
    gid_of: dict[int, int] = {}
    out = []
    for e in entries:
        if e.type not in markers:
            uid = uid_of.get(e.uid)
            if uid is None:
                uid = uid_of[e.uid] = image_id_of(e.uid, uids)
            gid = gid_of.get(e.gid)
            if gid is None:
                gid = gid_of[e.gid] = image_id_of(e.gid, gids)
            e = e._replace(uid=uid, gid=gid)
        out.append(e)
    return out


def read_storage(
    plan: StoragePlan, *, reference: str, engine: str, options: SourceOptions
) -> Image:
    """The image from its layer directories: the same model the export gives."""
    if len(plan.layer_dirs) > options.max_layers:
        raise StorageUnavailable(f"more than {options.max_layers} layers")
    total_layers = len(plan.layer_dirs)
    # Tuples: the candidate check below and the analysis then share one
    # replay (union.replay) when no file needs a digest.
    layers: list[tuple[Entry, ...]] = []
    sizes: list[int] = []
    entries_total = 0
    done_bytes = 0
    # The CRC-64s of the files that may need a digest: only those whose
    # checksum another candidate shares are read.
    floor = options.digest_floor if options.want_digest is None else 0
    checksums: list[dict[int, int]] = []
    # The tar-split records are read on a thread while the directories are
    # walked: inflating releases the GIL, and so does every stat of the walk.
    with ThreadPoolExecutor(1, thread_name_prefix="layerscope-tar-split") as pool:
        records = [
            None
            if plan.sizes is not None and not os.path.exists(split)
            else pool.submit(read_tar_split, split, floor=floor)
            for split in plan.tar_splits
        ]
        try:
            for i, root in enumerate(plan.layer_dirs):
                entries = walk_layer(
                    root, xattrs=plan.xattrs, max_entries=options.max_entries - entries_total
                )
                record = records[i]
                if record is None:
                    assert plan.sizes is not None
                    split_info = TarSplit(plan.sizes[i], False, {})
                else:
                    split_info = record.result()
                    records[i] = None  # the future keeps its result: let it go
                checksums.append(split_info.checksums)
                entries_total += _add_layer(layers, sizes, entries, split_info, root, plan)
                del entries, record, split_info
                done_bytes += sizes[-1]
                if options.progress is not None:
                    options.progress(
                        Progress(
                            done_bytes,
                            i + 1,
                            total_layers,
                            entries_read=entries_total,
                            via=f"{engine} storage",
                        )
                    )
        finally:
            for future in records:
                if future is not None:
                    future.cancel()
    wanted = candidates(
        layers, options.digest_floor, options.want_digest, checksums if floor > 0 else None
    )
    del checksums
    blobs = []
    for i, stored in enumerate(layers):
        paths = wanted.get(i)
        digests = hash_files(plan.layer_dirs[i], paths) if paths else {}
        blobs.append(
            ScannedBlob(
                scan=LayerScan(with_digests(stored, digests), sizes[i]),
                stored_bytes=sizes[i],
                compression="none",
            )
        )
    config = parse_json(plan.config, f"{engine}:{reference}: image config")
    image = build_image(
        reference=reference,
        image_id=plan.image_id,
        source=engine,
        config=config,
        blobs=blobs,
        blob_digests=plan.diff_ids,
        media_types=["tar"] * len(blobs),
        warnings=[],
    )
    return image

"""Hash many files: walk folders safely and compute every hash signal (md5, sha256, pdq/vpdq...) on all cores.

Each file becomes one JSON-able record (the ``jikimi hash --json`` line); a bad file becomes
``{"path": ..., "error": reason, "code": ..., "message": ...}`` and the run goes on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from jikimi.errors import JikimiError, Message
from jikimi.media import Limits, load
from jikimi.signals import registry
from jikimi.signals.pdq import Decode, PDQSignal
from jikimi.signals.vpdq import VPDQSignal


@dataclass(frozen=True)
class HashOptions:
    """How to hash: the PDQ decode path, vPDQ sampling, whether to add the dihedral variants, limits."""

    decode: Decode = "fast"
    every_seconds: float = 1.0
    dihedral: bool = False
    limits: Limits = field(default_factory=Limits.from_env)


@dataclass(frozen=True)
class Item:
    """A path to hash, or one already known to be bad (``error``) from walking a folder."""

    path: str
    error: Message | None = None


def iter_items(paths: Iterable[str | Path], recursive: bool = False) -> Iterator[Item]:
    """Expand the command-line paths into files, in name order.

    A folder lists its files (and, with ``recursive``, its sub-folders'; a symbolic link to a folder
    already visited is not followed again, so link cycles end). Everything that is not a folder is yielded
    as is, so missing files, link loops and pipes get their own error from ``load``.
    """
    for raw in paths:
        p = str(raw)
        if os.path.isdir(p):
            yield from _walk(p, recursive, set())
        else:
            yield Item(p)


def _walk(folder: str, recursive: bool, seen: set[tuple[int, int]]) -> Iterator[Item]:
    try:
        st = os.stat(folder)
    except OSError as exc:
        yield Item(folder, Message("cannot open the folder ({detail})", {"detail": exc.strerror or str(exc)}))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        return
    seen.add(key)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except PermissionError:
        yield Item(folder, Message("permission denied: cannot list the folder"))
        return
    except OSError as exc:
        yield Item(folder, Message("cannot list the folder ({detail})", {"detail": exc.strerror or str(exc)}))
        return
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            if recursive:
                yield from _walk(entry.path, recursive, seen)
        else:
            yield Item(entry.path)


def hash_file(item: Item | str, options: HashOptions | None = None) -> dict[str, Any]:
    """The ``jikimi hash --json`` record of one file; never raises for a bad file."""
    options = options or HashOptions()
    it = item if isinstance(item, Item) else Item(str(item))
    if it.error is not None:
        return _failed(it.path, "hash.folder_unreadable", it.error)
    try:
        media = load(Path(it.path), limits=options.limits)
        record: dict[str, Any] = {
            "path": it.path,
            "kind": media.kind,
            "md5": media.md5,
            "sha256": media.sha256,
        }
        if media.kind == "image":
            pdq = PDQSignal(decode=options.decode, dihedral=options.dihedral).extract(media)
            record["pdq"] = pdq
        else:
            record["duration"] = round(media.duration or 0.0, 3)
            record["vpdq"] = VPDQSignal(every_seconds=options.every_seconds).extract(media)
        for sig in registry.hash_signals():  # every other registered hash signal, with its defaults
            if sig.name not in record and sig.applies_to(media):
                record[sig.name] = sig.extract(media)
        return record
    except JikimiError as exc:
        return _failed(it.path, exc.code, exc.with_hint(cli=True))
    except MemoryError:
        return _failed(it.path, "hash.out_of_memory", Message("not enough memory to decode this file"))
    except Exception as exc:  # a library bug must not end the batch: report it on this item
        why = Message("unexpected error: {kind}: {detail}", {"kind": type(exc).__name__, "detail": str(exc)})
        return _failed(it.path, "hash.unexpected", why)


def _failed(path: str, code: str, why: Message) -> dict[str, Any]:
    """The record of a file that could not be hashed: ``error`` in English, ``code``, and ``message`` (the
    catalogued reason, for the reader's language)."""
    return {"path": path, "error": why.render(), "code": code, "message": why.to_json()}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def hash_items(
    items: Sequence[Item], options: HashOptions | None = None, workers: int | None = None
) -> Iterator[dict[str, Any]]:
    """Hash ``items`` on ``workers`` processes (default: all cores), yielding records in input order.

    Workers start through ``forkserver``, so a calling script needs the usual ``if __name__ == "__main__"``.
    """
    options = options or HashOptions()
    n = workers if workers else default_workers()
    n = max(1, min(n, len(items)))
    if n == 1:
        for it in items:
            yield hash_file(it, options)
        return
    # forkserver: workers fork from a clean server that has already imported the hashing code (fast start,
    # no inherited threads or locks from the caller, e.g. a progress bar).
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["jikimi.signals.batch"])
    chunk = max(1, min(16, len(items) // (n * 8)))
    with ctx.Pool(processes=n) as pool:
        yield from pool.imap(partial(hash_file, options=options), items, chunksize=chunk)

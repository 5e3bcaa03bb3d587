"""Per-item analysis: decode each item once and run every registered signal on it, in worker processes.

The parent iterates source items; items that are files on disk travel to the worker as a path (the worker
reads them), other items as their bytes. Each worker keeps the signals (and their models) loaded for its
lifetime and returns an :class:`Analysis`: the media facts, each signal's JSON result or error, and timings.
Failed and unresolved items never reach a worker; they come back as an ``Analysis`` with that status and the
reason.

Matching (banks, enrolled faces, source photos) is not done here: it needs big indexes that stay in the
parent; the worker computes what they need (face embeddings, ORB features), kept in memory only.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from jikimi.errors import JikimiError, Message
from jikimi.sources.base import DEFAULT_LIMITS, Item, read_regular_file

Status = Literal["ok", "failed", "unresolved"]


@dataclass
class Task:
    """One unit of work for a worker: the item's bytes, or the path of a regular file to read."""

    index: int
    key: str
    name: str
    path: str | None = None
    data: bytes | None = None
    expected_size: int | None = None
    max_bytes: int = DEFAULT_LIMITS.max_item_bytes
    #: Compute face embeddings (only when someone enrolled can be searched for; never kept otherwise).
    embed_faces: bool = True
    #: Compute ORB features for source-photo matching (only when someone's source photos are enrolled).
    source_features: bool = False


@dataclass
class Analysis:
    """What a worker learnt about one item (all picklable, JSON-able values; never pixels)."""

    index: int
    key: str
    status: Status = "ok"
    reason: str | None = None
    """Why the item failed or is unresolved, in English; ``message`` keeps it as a catalogued message."""
    message: Message | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    kind: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    signals: dict[str, Any] = field(default_factory=dict)
    signal_errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per step: ``read``, ``decode`` and one entry per signal."""
    worker: str = ""
    features: list[tuple[int, Any]] = field(default_factory=list)
    """``(frame index, jikimi.index.source_photos.Features)`` per picture (an image's one picture, or a
    video's sampled frames) for source-photo matching in the parent; keypoints only, never stored."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def fail(self, why: Message | JikimiError, status: Status = "failed") -> Analysis:
        """Mark the item failed (or unresolved) with why; returns itself."""
        self.status = status
        self.message = why.message if isinstance(why, JikimiError) else why
        self.reason = self.message.render()
        return self

    @classmethod
    def failure(cls, index: int, key: str, why: Message | JikimiError, status: Status = "failed") -> Analysis:
        """The final ``Analysis`` of an item that failed (or is unresolved), with why."""
        return cls(index=index, key=key).fail(why, status)

    @property
    def analyser_seconds(self) -> float:
        return sum(self.timings.values())

    def public_signals(self) -> dict[str, Any]:
        """The signal results without face embeddings (what may be stored or printed)."""
        return {k: (_without_embeddings(v) if k == "face" else v) for k, v in self.signals.items()}


def _instance(name: str) -> Any:
    """The signal to run. ``face`` also returns embeddings here: the parent needs them to match enrolled
    people; they stay in memory and ``Analysis.public_signals`` drops them before anything is stored."""
    from jikimi.signals import registry

    if name == "face":
        return registry.signal_class("face")(embeddings=True)  # type: ignore[call-arg]
    return registry.get(name)


def _without_embeddings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_embeddings(v) for k, v in value.items() if k not in ("embedding", "mirrored")}
    if isinstance(value, list):
        return [_without_embeddings(v) for v in value]
    return value


class Analyser:
    """Loads the chosen signals once and analyses tasks (one per worker process or Ray actor)."""

    def __init__(self, signal_names: Sequence[str] | None = None, *, warm: bool = True) -> None:
        from jikimi.signals import registry

        names = list(signal_names) if signal_names is not None else registry.names()
        self.signals = [_instance(n) for n in names]
        self.names = names
        # The same faces without embeddings, for scans in which nobody enrolled is searched for.
        self._detect_only = [registry.get(s.name) if s.name == "face" else s for s in self.signals]
        if warm:
            self._warm()
        import os

        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def _warm(self) -> None:
        """Run every signal once on a tiny generated image so models load before the first timed item."""
        import io

        import numpy as np
        from PIL import Image

        from jikimi import media

        rng = np.random.default_rng(0)
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)).save(buf, format="PNG")
        m = media.load(buf.getvalue(), name="warm-up.png")
        for s in self.signals:
            if s.applies_to(m):
                with contextlib.suppress(JikimiError):
                    s.extract(m)

    def __call__(self, task: Task) -> Analysis:
        return self.analyse(task)

    def analyse(self, task: Task) -> Analysis:
        from jikimi import media as media_mod

        out = Analysis(index=task.index, key=task.key, worker=self.worker)
        t0 = time.perf_counter()
        try:
            if task.data is not None:
                data = task.data
            elif task.path is not None:
                data = read_regular_file(Path(task.path), task.max_bytes, expected_size=task.expected_size)
            else:
                raise JikimiError("no bytes for {name}", code="scan.no_bytes", name=task.name)
            t1 = time.perf_counter()
            m = media_mod.load(data, name=task.name)
            t2 = time.perf_counter()
        except JikimiError as exc:
            return out.fail(exc.with_hint())
        except (OSError, ValueError, MemoryError) as exc:
            return out.fail(
                Message("cannot read {location}: {detail}", {"location": task.name, "detail": str(exc)})
            )
        out.timings["read"] = t1 - t0
        out.timings["decode"] = t2 - t1
        out.sha256, out.md5, out.size, out.kind = m.sha256, m.md5, m.size, m.kind
        out.format = m.format
        try:
            if m.kind == "image":
                out.width, out.height = m.image.size
            else:
                out.duration = m.duration
        except JikimiError as exc:
            return out.fail(exc.with_hint())
        for s in self.signals if task.embed_faces else self._detect_only:
            if not s.applies_to(m):
                continue
            ts = time.perf_counter()
            try:
                out.signals[s.name] = s.extract(m)
            except JikimiError as exc:
                out.signal_errors[s.name] = str(exc)
            except Exception as exc:  # a signal bug must fail this item only, with the reason
                out.signal_errors[s.name] = f"{type(exc).__name__}: {exc}"
            out.timings[s.name] = out.timings.get(s.name, 0.0) + time.perf_counter() - ts
        if task.source_features:
            ts = time.perf_counter()
            try:
                out.features = picture_features(m)
            except JikimiError as exc:
                out.signal_errors["source_photo"] = str(exc)
            except Exception as exc:  # as for signals: this item only, with the reason
                out.signal_errors["source_photo"] = f"{type(exc).__name__}: {exc}"
            out.timings["source_photo"] = time.perf_counter() - ts
        return out


VIDEO_FEATURE_SECONDS = 2.0
VIDEO_FEATURE_FRAMES = 8


def picture_features(m: Any) -> list[tuple[int, Any]]:
    """ORB features of an image, or of a video's frames sampled every ``VIDEO_FEATURE_SECONDS`` (at most
    ``VIDEO_FEATURE_FRAMES``), for source-photo matching."""
    from jikimi.index.source_photos import probe_features

    if m.kind == "image":
        return [(0, probe_features(m.rgb()))]
    out: list[tuple[int, Any]] = []
    for n, fr in enumerate(m.frames(VIDEO_FEATURE_SECONDS)):
        if n >= VIDEO_FEATURE_FRAMES:
            break
        out.append((int(fr.index), probe_features(fr.rgb)))
    return out


def item_task(
    index: int,
    item: Item,
    *,
    reads_paths: bool = True,
    embed_faces: bool = True,
    source_features: bool = False,
) -> Task | Analysis:
    """The task for one source item, or the final ``Analysis`` of an item that never reaches a worker."""
    if item.status != "media":
        status: Status = "unresolved" if item.status == "unresolved" else "failed"
        if item.message is None:
            return Analysis(index=index, key=item.key, status=status, reason=item.status)
        return Analysis.failure(index, item.key, item.message, status)
    if item.path is not None and reads_paths:
        return Task(
            index,
            item.key,
            item.name,
            path=str(item.path),
            expected_size=item.size,
            embed_faces=embed_faces,
            source_features=source_features,
        )
    try:
        data = item.read()
    except JikimiError as exc:
        return Analysis.failure(index, item.key, exc.with_hint())
    return Task(
        index, item.key, item.name, data=data, embed_faces=embed_faces, source_features=source_features
    )


def analyse_items(
    items: Iterable[Item],
    executor: Any,
    *,
    window: int | None = None,
    embed_faces: bool = True,
    source_features: bool = False,
) -> Iterator[tuple[Item, Analysis]]:
    """Analyse ``items`` on ``executor`` (see ``jikimi.scan.executors``), yielding ``(item, analysis)`` as
    each finishes (not in input order). At most ``window`` tasks are in flight, so memory stays bounded.
    ``embed_faces=False`` finds faces without computing embeddings (nobody enrolled is searched for);
    ``source_features=True`` also computes ORB features for source-photo matching."""
    pending: dict[int, Item] = {}
    reads_paths = bool(getattr(executor, "reads_paths", True))

    def tasks() -> Iterator[Task]:
        for i, item in enumerate(items):
            t = item_task(
                i, item, reads_paths=reads_paths, embed_faces=embed_faces, source_features=source_features
            )
            if isinstance(t, Analysis):
                direct.append((item, t))
                continue
            pending[i] = item
            yield t

    direct: list[tuple[Item, Analysis]] = []
    for result in executor.map_unordered(tasks(), window=window):
        while direct:
            yield direct.pop(0)
        yield pending.pop(result.index), result
    while direct:
        yield direct.pop(0)

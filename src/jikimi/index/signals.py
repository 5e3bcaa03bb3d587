"""One in-memory index per hash signal, made from the signal's ``index_class``: the interface banks use.

``index_for(signal)`` builds the index a ``HashSignal`` names (``HashSignal.index_class``, a
``"module:Class"`` here): PDQ hashes go into a :class:`PDQIndex`, vPDQ frames into a :class:`VideoIndex`,
fixed-length float vectors (video kernels) into a brute-force cosine :class:`VectorSignalIndex`. A signal
without an index class has exact values, which the store looks up by (signal, value). Every index takes
entries as ``(entry id, [SignalValue])`` and answers ``search(values, threshold) -> {entry id: IndexHit}``.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jikimi.index.pdq_index import PDQIndex, hex_to_codes
from jikimi.index.video import VideoFrame, VideoIndex
from jikimi.signals.base import HashSignal, SignalValue


@dataclass
class IndexHit:
    """How an entry matched: the best distance, the query variant or frame time that gave it, vPDQ shares."""

    distance: float | None
    variant: str | None = None
    frame_timestamp: float | None = None
    query_percent: float | None = None
    target_percent: float | None = None


class SignalIndex(ABC):
    """Entries' values of one hash signal, searchable by a query's values."""

    #: ``save``/``load`` persist this index (memory-mapped by the next start).
    persistent: bool = False

    def __init__(self, signal: HashSignal) -> None:
        self.signal = signal

    @abstractmethod
    def add(self, rows: Sequence[tuple[int, Sequence[SignalValue]]]) -> None:
        """Index each entry's values (an entry added again replaces its values where the index can)."""

    def add_values(self, entry_ids: Sequence[int], values: Sequence[str]) -> None:
        """Bulk form of ``add`` for one bare value per entry (loading a bank of millions)."""
        self.add([(e, [SignalValue(v)]) for e, v in zip(entry_ids, values, strict=True)])

    @abstractmethod
    def remove(self, entry_ids: Iterable[int]) -> None: ...

    @abstractmethod
    def search(self, values: Sequence[SignalValue], threshold: float) -> dict[int, IndexHit]:
        """Entries within ``threshold`` of the query ``values`` (best hit per entry)."""

    @abstractmethod
    def __len__(self) -> int: ...

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        raise NotImplementedError(f"the {self.signal.name} index is not persisted")

    def load(self, path: Path) -> dict[str, Any] | None:
        """Replace the contents with what ``save`` wrote at ``path``; its ``meta`` (None: nothing usable)."""
        return None


def index_for(signal: HashSignal) -> SignalIndex | None:
    """The empty index ``signal`` names, or None for exact values (looked up in the store)."""
    if not signal.index_class:
        return None
    module, _, attr = signal.index_class.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, SignalIndex)):
        raise TypeError(f"{signal.index_class} is not a SignalIndex")
    index: SignalIndex = cls(signal)
    return index


class PDQSignalIndex(SignalIndex):
    """PDQ hashes (one per entry) in a :class:`PDQIndex`; a query is a hash and its dihedral variants."""

    persistent = True

    def __init__(self, signal: HashSignal) -> None:
        super().__init__(signal)
        self.pdq = PDQIndex()

    def add(self, rows: Sequence[tuple[int, Sequence[SignalValue]]]) -> None:
        pairs = [(eid, v.value) for eid, values in rows for v in values]
        if not pairs:
            return
        if len(self.pdq) == 0 and len(pairs) > 10_000:
            self.pdq = PDQIndex.build(
                hex_to_codes([h for _, h in pairs]), np.asarray([e for e, _ in pairs], dtype=np.int64)
            )
        else:
            self.pdq.add([h for _, h in pairs], [e for e, _ in pairs])

    def add_values(self, entry_ids: Sequence[int], values: Sequence[str]) -> None:
        if not values:
            return
        labels = np.asarray(entry_ids, dtype=np.int64)
        if len(self.pdq) == 0:
            self.pdq = PDQIndex.build(hex_to_codes(list(values)), labels)
        else:
            self.pdq.add(list(values), labels)

    def remove(self, entry_ids: Iterable[int]) -> None:
        self.pdq.remove([int(i) for i in entry_ids])

    def search(self, values: Sequence[SignalValue], threshold: float) -> dict[int, IndexHit]:
        hits: dict[int, IndexHit] = {}
        if not values:
            return hits
        results = self.pdq.search_batch([v.value for v in values], int(threshold))
        for v, (labels, dists) in zip(values, results, strict=True):
            for eid, d in zip(labels.tolist(), dists.tolist(), strict=True):
                old = hits.get(eid)
                if old is None or d < (old.distance or 0):
                    ts = v.metadata.get("timestamp")
                    hits[eid] = IndexHit(
                        d, v.metadata.get("variant", "original"), None if ts is None else float(ts)
                    )
        return hits

    def __len__(self) -> int:
        return len(self.pdq)

    def save(self, path: Path, meta: dict[str, Any]) -> None:
        self.pdq.save(path, meta=meta)

    def load(self, path: Path) -> dict[str, Any] | None:
        if not (Path(path) / "index.json").exists():
            return None
        try:
            idx = PDQIndex.load(Path(path))
        except (OSError, ValueError, KeyError):
            return None
        self.pdq = idx
        return dict(idx.meta)


class VideoSignalIndex(SignalIndex):
    """vPDQ frames of each video entry in a :class:`VideoIndex` (python-threatexchange's vPDQ match rule)."""

    def __init__(self, signal: HashSignal) -> None:
        super().__init__(signal)
        self.video = VideoIndex(min_quality=signal.min_quality)

    def add(self, rows: Sequence[tuple[int, Sequence[SignalValue]]]) -> None:
        for eid, values in rows:
            if values:
                self.video.add(int(eid), [_frame(v) for v in values])

    def remove(self, entry_ids: Iterable[int]) -> None:
        self.video.remove(entry_ids)

    def search(self, values: Sequence[SignalValue], threshold: float) -> dict[int, IndexHit]:
        out: dict[int, IndexHit] = {}
        for vh in self.video.search([_frame(v) for v in values], threshold=int(threshold)):
            best = min((d for _, d in vh.frames), default=None)
            out[vh.label] = IndexHit(best, None, None, vh.query_percent, vh.target_percent)
        return out

    def __len__(self) -> int:
        return len(self.video)


def _frame(v: SignalValue) -> VideoFrame:
    return VideoFrame(
        v.value, 100 if v.quality is None else int(v.quality), float(v.metadata.get("timestamp", 0))
    )


class VectorSignalIndex(SignalIndex):
    """Unit vectors (``signal.vector(value)``) compared by cosine: distance ``1 - cosine`` (brute force: one
    matrix product per query; such banks are small next to PDQ's)."""

    def __init__(self, signal: HashSignal) -> None:
        super().__init__(signal)
        self._ids: list[int] = []
        self._rows: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None
        self._lock = threading.Lock()

    def _vector(self, value: str) -> np.ndarray:
        vector = getattr(self.signal, "vector", None)
        if vector is None:
            raise TypeError(f"{self.signal.name} has no vector(value) for a vector index")
        return np.asarray(vector(value), dtype=np.float32)

    def add(self, rows: Sequence[tuple[int, Sequence[SignalValue]]]) -> None:
        new = [(int(eid), self._vector(v.value)) for eid, values in rows for v in values]
        if not new:
            return
        with self._lock:
            self._ids.extend(e for e, _ in new)
            self._rows.extend(vec for _, vec in new)
            self._matrix = None

    def remove(self, entry_ids: Iterable[int]) -> None:
        gone = {int(i) for i in entry_ids}
        with self._lock:
            keep = [i for i, e in enumerate(self._ids) if e not in gone]
            if len(keep) != len(self._ids):
                self._ids = [self._ids[i] for i in keep]
                self._rows = [self._rows[i] for i in keep]
                self._matrix = None

    def search(self, values: Sequence[SignalValue], threshold: float) -> dict[int, IndexHit]:
        with self._lock:
            if self._matrix is None and self._rows:
                self._matrix = np.vstack(self._rows)
            matrix, ids = self._matrix, list(self._ids)
        hits: dict[int, IndexHit] = {}
        if matrix is None or not values:
            return hits
        for v in values:
            dist = 1.0 - matrix @ self._vector(v.value)
            for i in np.flatnonzero(dist <= threshold + 1e-6).tolist():
                d = round(max(0.0, float(dist[i])), 6)
                old = hits.get(ids[i])
                if old is None or d < (old.distance or 0):
                    hits[ids[i]] = IndexHit(d)
        return hits

    def __len__(self) -> int:
        return len(set(self._ids))

"""Exact PDQ near-duplicate search: multi-index hashing over CSR buckets, a delta buffer and tombstones.

The 256 bits are split into ``m`` disjoint chunks of ``w`` bits. By the pigeonhole principle a hash within
Hamming distance ``t`` of the query agrees with it on at least one chunk within distance ``t // m``, so the
candidates are the rows whose chunk key is one of the query's keys with up to ``t // m`` bits flipped.
Each chunk is a CSR table (``offsets`` over all ``2**w`` keys + row ids sorted by key); candidates are
verified with a vectorised popcount, so results are exact (100% recall of brute force), not approximate.

Additions go to a small delta buffer searched by brute force; when it fills up it becomes a small segment
(milliseconds to build), and small segments are merged now and then, never the large base (``compact()`` does
that on demand). Removals are a tombstone mask. ``save``/``load`` persist the index as ``.npy`` files that
``load`` memory-maps, so a cold start takes well under a second.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from jikimi.signals.pdq import MATCH_THRESHOLD, MIN_QUALITY

PDQ_BITS = 256
PDQ_BYTES = 32
PDQ_HEX_LEN = 64
DEFAULT_THRESHOLD = MATCH_THRESHOLD
"""Distance at which two PDQ hashes are the same picture (``jikimi.signals.pdq.MATCH_THRESHOLD``)."""
QUALITY_TRUSTED = MIN_QUALITY
"""Hashes of quality below this are not trusted for matching (``jikimi.signals.pdq.MIN_QUALITY``)."""

_HEX_RE = re.compile(r"[0-9a-f]{64}")
_FORMAT_VERSION = 1

Codes = npt.NDArray[np.uint8]
Labels = npt.NDArray[np.int64]


def normalize_pdq_hex(value: str) -> str:
    """Return the lower-case 64-digit hex form of a PDQ hash or raise ``ValueError`` saying what is wrong."""
    text = value.strip().lower()
    if len(text) != PDQ_HEX_LEN:
        raise ValueError(f"a PDQ hash has {PDQ_HEX_LEN} hex digits, got {len(text)}")
    if not _HEX_RE.fullmatch(text):
        raise ValueError("a PDQ hash contains only the hex digits 0-9 and a-f")
    return text


def hex_to_codes(hexes: Sequence[str]) -> Codes:
    """Convert PDQ hex strings to an ``(n, 32)`` uint8 array (raises ``ValueError`` on a malformed hash)."""
    if not hexes:
        return np.zeros((0, PDQ_BYTES), dtype=np.uint8)
    try:
        raw = bytes.fromhex("".join(hexes))
    except ValueError as exc:
        raise ValueError(f"malformed PDQ hash in batch: {exc}") from None
    if len(raw) != PDQ_BYTES * len(hexes) or any(len(h) != PDQ_HEX_LEN for h in hexes):
        raise ValueError(f"every PDQ hash must have {PDQ_HEX_LEN} hex digits")
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(hexes), PDQ_BYTES).copy()


def codes_to_hex(codes: Codes) -> list[str]:
    """The inverse of :func:`hex_to_codes`."""
    return [bytes(row).hex() for row in np.asarray(codes, dtype=np.uint8).reshape(-1, PDQ_BYTES)]


def hamming(a: str, b: str) -> int:
    """Hamming distance between two PDQ hex strings."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _as_codes(codes: Codes | Sequence[str]) -> Codes:
    if isinstance(codes, np.ndarray):
        arr = np.ascontiguousarray(codes, dtype=np.uint8)
        return arr.reshape(-1, PDQ_BYTES)
    return hex_to_codes(list(codes))


def _words(codes: Codes) -> npt.NDArray[np.uint64]:
    return np.ascontiguousarray(codes).view("<u8").reshape(-1, 4)


@dataclass(frozen=True)
class Layout:
    """``chunks`` disjoint chunks of ``bits`` bits each (the first ``chunks * bits`` bits of the hash)."""

    chunks: int
    bits: int

    def radius(self, threshold: int) -> int:
        return threshold // self.chunks

    @staticmethod
    def for_size(n: int) -> Layout:
        # Large tables: fewer, wider chunks give ~10x fewer candidates at 10M hashes (measured in bench/).
        return Layout(11, 23) if n >= 1_000_000 else Layout(16, 16)


MAX_PROBES = 20_000
"""Above this many bucket probes per query a table is scanned instead (thresholds far above 31)."""


def _probe_count(bits: int, radius: int) -> int:
    return sum(comb(bits, r) for r in range(radius + 1))


@lru_cache(maxsize=16)
def _probe_masks(bits: int, radius: int) -> npt.NDArray[np.int64]:
    masks = [0]
    for r in range(1, radius + 1):
        for combo in combinations(range(bits), r):
            m = 0
            for b in combo:
                m |= 1 << b
            masks.append(m)
    return np.asarray(masks, dtype=np.int64)


def _chunk_keys(words: npt.NDArray[np.uint64], layout: Layout, j: int) -> npt.NDArray[np.int64]:
    p0 = j * layout.bits
    a, s = divmod(p0, 64)
    mask = np.uint64((1 << layout.bits) - 1)
    key = words[:, a] >> np.uint64(s)
    if s + layout.bits > 64:
        key = key | (words[:, a + 1] << np.uint64(64 - s))
    return (key & mask).astype(np.int64)


def _argsort_keys(keys: npt.NDArray[np.int64], bits: int) -> npt.NDArray[np.int64]:
    """Stable argsort of non-negative keys below ``2**bits``: an LSD radix sort in 16-bit passes (numpy
    sorts 16-bit integers with a radix sort, several times faster than a comparison sort)."""
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    shift = 16
    while shift < bits:
        digit = ((keys[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
    return order


_ALL_DIFFERENT = np.uint32(0x40404040)  # four bytes of 64: all 256 bits differ


def _distances(words: npt.NDArray[np.uint64], query: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Hamming distance of each 4-word row to the query (or to the matching row of ``query``).

    The four per-word popcounts (uint8 each) are summed with one multiply of their uint32 view; the sum
    wraps only at 256 (every bit different), which is caught explicitly.
    """
    counts = np.ascontiguousarray(np.bitwise_count(words ^ query)).view(np.uint32).reshape(-1)
    dist = ((counts * np.uint32(0x01010101)) >> np.uint32(24)).astype(np.int64)
    dist[counts == _ALL_DIFFERENT] = PDQ_BITS
    return dist


class _Segment:
    """An immutable multi-index table over ``n`` rows (plus a mutable tombstone mask)."""

    def __init__(
        self,
        codes: Codes,
        labels: Labels,
        offsets: npt.NDArray[np.int32] | npt.NDArray[np.int64],
        rows: npt.NDArray[np.int32],
        alive: npt.NDArray[np.bool_],
        layout: Layout,
    ) -> None:
        self.codes = codes
        self.words = _words(codes)
        self.labels = labels
        self.offsets = offsets
        self.rows = rows
        self.alive = alive
        self.layout = layout
        self.n = len(labels)
        self.dead = int(len(alive) - np.count_nonzero(alive))

    @classmethod
    def build(cls, codes: Codes, labels: Labels, layout: Layout | None = None) -> _Segment:
        n = len(labels)
        layout = layout or Layout.for_size(n)
        order = np.argsort(labels, kind="stable")
        codes = np.ascontiguousarray(codes[order])
        labels = np.ascontiguousarray(labels[order], dtype=np.int64)
        words = _words(codes)
        size = 1 << layout.bits
        offsets = np.empty((layout.chunks, size + 1), dtype=np.int32)
        rows = np.empty((layout.chunks, n), dtype=np.int32)
        for j in range(layout.chunks):
            keys = _chunk_keys(words, layout, j)
            counts = np.bincount(keys, minlength=size)
            offsets[j, 0] = 0
            np.cumsum(counts, out=offsets[j, 1:])
            rows[j] = _argsort_keys(keys, layout.bits)
        alive = np.ones(n, dtype=np.bool_)
        return cls(codes, labels, offsets.reshape(-1), rows.reshape(-1), alive, layout)

    def search(
        self, qwords: npt.NDArray[np.uint64], threshold: int
    ) -> tuple[npt.NDArray[np.int64], Labels, npt.NDArray[np.int64]]:
        """All live rows within ``threshold`` of each query (``(q, 4)`` uint64 words), vectorised over the
        batch. Returns ``(query number, label, distance)`` arrays."""
        empty = np.zeros(0, np.int64)
        lay = self.layout
        nq = len(qwords)
        if self.n == 0 or nq == 0:
            return empty, empty, empty
        if _probe_count(lay.bits, lay.radius(threshold)) * lay.chunks > max(MAX_PROBES, self.n // 8):
            return self._scan(qwords, threshold)  # a very large threshold: scanning is cheaper
        masks = _probe_masks(lay.bits, lay.radius(threshold))
        per_query = lay.chunks * len(masks)
        qkeys = np.stack([_chunk_keys(qwords, lay, j) for j in range(lay.chunks)], axis=1)
        chunk_base = np.arange(lay.chunks, dtype=np.int64) * ((1 << lay.bits) + 1)
        probe = ((qkeys[:, :, None] ^ masks[None, None, :]) + chunk_base[None, :, None]).reshape(-1)
        starts = self.offsets[probe].astype(np.int64)
        lens = self.offsets[probe + 1] - starts
        nz = np.flatnonzero(lens)
        if len(nz) == 0:
            return empty, empty, empty
        lens = lens[nz]
        # Position of each bucket in the flat (chunks x n) row table, and which query it serves.
        starts = starts[nz] + (nz % per_query) // len(masks) * self.n
        qof = nz // per_query
        total = int(lens.sum())
        shift = starts - (np.cumsum(lens) - lens)
        pos = np.repeat(shift, lens) + np.arange(total, dtype=np.int64)
        cand = self.rows[pos]
        cq = np.repeat(qof, lens) if nq > 1 else np.zeros(total, np.int64)
        dist = _distances(self.words[cand], qwords[cq] if nq > 1 else qwords[0])
        keep = np.flatnonzero(dist <= threshold)
        if len(keep) == 0:
            return empty, empty, empty
        cand, cq, dist = cand[keep].astype(np.int64), cq[keep], dist[keep]
        # A row found through several chunks is reported once per query.
        _, first = np.unique(cq * self.n + cand, return_index=True)
        cand, cq, dist = cand[first], cq[first], dist[first]
        if self.dead:
            ok = self.alive[cand]
            cand, cq, dist = cand[ok], cq[ok], dist[ok]
        return cq, np.asarray(self.labels[cand]), dist

    def _scan(
        self, qwords: npt.NDArray[np.uint64], threshold: int
    ) -> tuple[npt.NDArray[np.int64], Labels, npt.NDArray[np.int64]]:
        cqs, cands, dists = [], [], []
        for i, q in enumerate(qwords):
            dist = _distances(self.words, q)
            rows = np.flatnonzero((dist <= threshold) & self.alive)
            cqs.append(np.full(len(rows), i, np.int64))
            cands.append(rows)
            dists.append(dist[rows])
        rows = np.concatenate(cands)
        return np.concatenate(cqs), np.asarray(self.labels[rows]), np.concatenate(dists)

    def remove(self, labels: npt.NDArray[np.int64]) -> int:
        lo = np.searchsorted(self.labels, labels, side="left")
        hi = np.searchsorted(self.labels, labels, side="right")
        removed = 0
        for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
            if b > a:
                removed += int(np.count_nonzero(self.alive[a:b]))
                self.alive[a:b] = False
        self.dead += removed
        return removed

    def alive_rows(self) -> tuple[Codes, Labels]:
        if not self.dead:
            return np.asarray(self.codes), np.asarray(self.labels)
        return np.asarray(self.codes[self.alive]), np.asarray(self.labels[self.alive])

    @property
    def nbytes(self) -> int:
        return int(
            self.codes.nbytes
            + self.labels.nbytes
            + self.offsets.nbytes
            + self.rows.nbytes
            + self.alive.nbytes
        )


@dataclass(frozen=True)
class PDQMatch:
    """An indexed hash within the threshold: its ``label`` (e.g. bank entry id) and Hamming ``distance``."""

    label: int
    distance: int


class PDQIndex:
    """Exact PDQ range search over millions of hashes; safe to query from several threads while adding.

    ``labels`` are caller ids (int64, e.g. bank entry ids); a label may appear on several hashes (video
    frames). ``search`` returns every live hash within ``threshold`` (exact, not approximate).
    """

    def __init__(self, *, delta_limit: int = 8192, max_small_segments: int = 4) -> None:
        self._base: _Segment | None = None
        self._small: list[_Segment] = []
        self._delta_codes: list[Codes] = []
        self._delta_labels: list[Labels] = []
        self._dwords: npt.NDArray[np.uint64] = np.zeros((0, 4), np.uint64)
        self._dlabels: Labels = np.zeros(0, np.int64)
        self._dalive: npt.NDArray[np.bool_] = np.zeros(0, np.bool_)
        self._dcodes: Codes = np.zeros((0, PDQ_BYTES), np.uint8)
        self._lock = threading.RLock()
        self._log: list[tuple[str, Any, Any]] | None = None  # writes made while compact() builds
        self.delta_limit = delta_limit
        self.max_small_segments = max_small_segments
        self.meta: dict[str, Any] = {}

    # -- building -------------------------------------------------------------------------------------
    @classmethod
    def build(
        cls, codes: Codes | Sequence[str], labels: Sequence[int] | Labels, *, layout: Layout | None = None
    ) -> PDQIndex:
        """Build an index over ``codes`` (an ``(n, 32)`` uint8 array or hex strings) with one label each."""
        idx = cls()
        arr = _as_codes(codes)
        lab = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(arr) != len(lab):
            raise ValueError(f"{len(arr)} hashes but {len(lab)} labels")
        idx._base = _Segment.build(arr, lab, layout)
        return idx

    def add(self, codes: Codes | Sequence[str], labels: Sequence[int] | Labels) -> None:
        """Add hashes; they are found by the very next query (no rebuild)."""
        arr = _as_codes(codes)
        lab = np.asarray(labels, dtype=np.int64).reshape(-1)
        if len(arr) != len(lab):
            raise ValueError(f"{len(arr)} hashes but {len(lab)} labels")
        if not len(lab):
            return
        with self._lock:
            if self._log is not None:
                self._log.append(("add", arr, lab))
            self._dcodes = np.concatenate([self._dcodes, arr])
            self._dwords = _words(self._dcodes)
            self._dlabels = np.concatenate([self._dlabels, lab])
            self._dalive = np.concatenate([self._dalive, np.ones(len(lab), np.bool_)])
            if len(self._dlabels) >= self.delta_limit:
                self._flush_delta()

    def _flush_delta(self) -> None:
        codes, labels = self._dcodes[self._dalive], self._dlabels[self._dalive]
        if len(labels):
            self._small = [*self._small, _Segment.build(codes, labels, Layout(16, 16))]
        self._dcodes = np.zeros((0, PDQ_BYTES), np.uint8)
        self._dwords = np.zeros((0, 4), np.uint64)
        self._dlabels = np.zeros(0, np.int64)
        self._dalive = np.zeros(0, np.bool_)
        if len(self._small) > self.max_small_segments:
            parts = [s.alive_rows() for s in self._small]
            merged = _Segment.build(
                np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), Layout(16, 16)
            )
            self._small = [merged]

    def remove(self, labels: Iterable[int]) -> int:
        """Tombstone every hash carrying one of ``labels``; effective for the very next query."""
        lab = np.unique(np.fromiter((int(x) for x in labels), dtype=np.int64))
        if not len(lab):
            return 0
        removed = 0
        with self._lock:
            if self._log is not None:
                self._log.append(("remove", lab, None))
            for seg in self._segments():
                removed += seg.remove(lab)
            if len(self._dlabels):
                hit = np.isin(self._dlabels, lab) & self._dalive
                removed += int(np.count_nonzero(hit))
                alive = self._dalive.copy()
                alive[hit] = False
                self._dalive = alive
        return removed

    def compact(self) -> None:
        """Rebuild one base table from every live hash (drops tombstones).

        Queries, additions and removals go on while it builds; writes made meanwhile are replayed on the new
        table before it replaces the old one.
        """
        with self._lock:
            if self._log is not None:
                raise RuntimeError("compact() is already running")
            self._log = []
            segs = self._segments()
            dcodes, dlabels = self._dcodes[self._dalive], self._dlabels[self._dalive]
        try:
            parts = [s.alive_rows() for s in segs] + [(dcodes, dlabels)]
            new = _Segment.build(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
        except BaseException:
            with self._lock:
                self._log = None
            raise
        with self._lock:
            log, self._log = self._log, None
            self._base, self._small = new, []
            self._dcodes = np.zeros((0, PDQ_BYTES), np.uint8)
            self._dwords = np.zeros((0, 4), np.uint64)
            self._dlabels = np.zeros(0, np.int64)
            self._dalive = np.zeros(0, np.bool_)
            for op, a, b in log or []:
                if op == "add":
                    self.add(a, b)
                else:
                    self.remove(a.tolist())

    def _segments(self) -> list[_Segment]:
        return ([self._base] if self._base is not None else []) + list(self._small)

    # -- querying -------------------------------------------------------------------------------------
    def search(self, query: str | bytes | Codes, threshold: int = DEFAULT_THRESHOLD) -> list[PDQMatch]:
        """Every live hash within ``threshold`` of ``query`` (hex, 32 bytes or a 32-byte array)."""
        labels, dist = self.search_arrays(query, threshold)
        return [PDQMatch(int(a), int(b)) for a, b in zip(labels.tolist(), dist.tolist(), strict=True)]

    def search_arrays(
        self, query: str | bytes | Codes, threshold: int = DEFAULT_THRESHOLD
    ) -> tuple[Labels, npt.NDArray[np.int64]]:
        """Like :meth:`search` but returns ``(labels, distances)`` arrays (fast path for batch callers)."""
        if threshold < 0 or threshold >= PDQ_BITS:
            raise ValueError(f"threshold must be between 0 and {PDQ_BITS - 1}")
        raw = _query_bytes(query)
        if len(raw) != PDQ_BYTES:
            raise ValueError(f"a PDQ hash has {PDQ_BYTES} bytes, got {len(raw)}")
        qwords = np.frombuffer(raw, dtype="<u8").reshape(1, 4)
        with self._lock:
            segs = self._segments()
            dwords, dlabels, dalive = self._dwords, self._dlabels, self._dalive
        out_l: list[Labels] = []
        out_d: list[npt.NDArray[np.int64]] = []
        for seg in segs:
            _, lab, dist = seg.search(qwords, threshold)
            if len(lab):
                out_l.append(lab)
                out_d.append(dist)
        if len(dlabels):
            dist = _distances(dwords, qwords[0])
            keep = (dist <= threshold) & dalive
            if keep.any():
                out_l.append(dlabels[keep])
                out_d.append(dist[keep])
        if not out_l:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if len(out_l) == 1:
            return out_l[0], out_d[0]
        return np.concatenate(out_l), np.concatenate(out_d)

    def search_batch(
        self, queries: Sequence[str] | Codes, threshold: int = DEFAULT_THRESHOLD
    ) -> list[tuple[Labels, npt.NDArray[np.int64]]]:
        """``search_arrays`` for many queries at once (one vectorised pass per table: higher throughput)."""
        if threshold < 0 or threshold >= PDQ_BITS:
            raise ValueError(f"threshold must be between 0 and {PDQ_BITS - 1}")
        arr = _as_codes(queries)
        qwords = _words(arr)
        with self._lock:
            segs = self._segments()
            dwords, dlabels, dalive = self._dwords, self._dlabels, self._dalive
        parts: list[tuple[npt.NDArray[np.int64], Labels, npt.NDArray[np.int64]]] = [
            seg.search(qwords, threshold) for seg in segs
        ]
        if len(dlabels):
            for i in range(len(arr)):
                dist = _distances(dwords, qwords[i])
                keep = (dist <= threshold) & dalive
                if keep.any():
                    parts.append((np.full(int(keep.sum()), i, np.int64), dlabels[keep], dist[keep]))
        if not parts:
            return [(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(len(arr))]
        cq = np.concatenate([p[0] for p in parts])
        lab = np.concatenate([p[1] for p in parts])
        dist = np.concatenate([p[2] for p in parts])
        order = np.argsort(cq, kind="stable")
        cq, lab, dist = cq[order], lab[order], dist[order]
        bounds = np.searchsorted(cq, np.arange(len(arr) + 1))
        return [(lab[bounds[i] : bounds[i + 1]], dist[bounds[i] : bounds[i + 1]]) for i in range(len(arr))]

    def search_many(
        self, queries: Sequence[str] | Codes, threshold: int = DEFAULT_THRESHOLD
    ) -> list[list[PDQMatch]]:
        return [
            [PDQMatch(int(a), int(b)) for a, b in zip(lab.tolist(), dist.tolist(), strict=True)]
            for lab, dist in self.search_batch(queries, threshold)
        ]

    def __len__(self) -> int:
        with self._lock:
            n = sum(s.n - s.dead for s in self._segments())
            return n + int(np.count_nonzero(self._dalive))

    @property
    def nbytes(self) -> int:
        """Memory held by the tables (memory-mapped arrays count although the OS pages them)."""
        with self._lock:
            return sum(s.nbytes for s in self._segments()) + int(self._dcodes.nbytes + self._dlabels.nbytes)

    @property
    def pending(self) -> int:
        """Hashes outside the base table (delta buffer + small segments)."""
        with self._lock:
            return sum(s.n for s in self._small) + len(self._dlabels)

    # -- persistence ----------------------------------------------------------------------------------
    def save(self, directory: Path, meta: dict[str, Any] | None = None) -> None:
        """Write the index (compacted) to ``directory`` as ``.npy`` files; atomic per file set."""
        if self.pending or (self._base is not None and self._base.dead):
            self.compact()
        directory = Path(directory)
        tmp = directory.with_name(directory.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        base = self._base or _Segment.build(np.zeros((0, PDQ_BYTES), np.uint8), np.zeros(0, np.int64))
        np.save(tmp / "codes.npy", base.codes)
        np.save(tmp / "labels.npy", base.labels)
        np.save(tmp / "offsets.npy", base.offsets)
        np.save(tmp / "rows.npy", base.rows)
        info = {
            "version": _FORMAT_VERSION,
            "chunks": base.layout.chunks,
            "bits": base.layout.bits,
            "count": base.n,
            "meta": meta if meta is not None else self.meta,
        }
        (tmp / "index.json").write_text(json.dumps(info))
        if directory.exists():
            old = directory.with_name(directory.name + ".old")
            if old.exists():
                _rmtree(old)
            directory.rename(old)
            tmp.rename(directory)
            _rmtree(old)
        else:
            tmp.rename(directory)

    @classmethod
    def load(cls, directory: Path, *, mmap: bool = True) -> PDQIndex:
        """Open a saved index. With ``mmap`` the tables are paged in on demand."""
        directory = Path(directory)
        info = json.loads((directory / "index.json").read_text())
        if info.get("version") != _FORMAT_VERSION:
            raise ValueError(f"index format {info.get('version')} is not {_FORMAT_VERSION}; rebuild it")
        mode: Any = "r" if mmap else None
        codes = np.load(directory / "codes.npy", mmap_mode=mode)
        labels = np.load(directory / "labels.npy", mmap_mode=mode)
        offsets = np.load(directory / "offsets.npy", mmap_mode=mode)
        rows = np.load(directory / "rows.npy", mmap_mode=mode)
        layout = Layout(int(info["chunks"]), int(info["bits"]))
        idx = cls()
        idx._base = _Segment(codes, labels, offsets, rows, np.ones(len(labels), np.bool_), layout)
        idx.meta = dict(info.get("meta") or {})
        return idx


def _query_bytes(query: str | bytes | Codes) -> bytes:
    """A query hash as raw bytes: hex (normalised), bytes, or a uint8 array. Length is the caller's check."""
    if isinstance(query, str):
        return bytes.fromhex(normalize_pdq_hex(query))
    if isinstance(query, bytes | bytearray):
        return bytes(query)
    return np.ascontiguousarray(query, dtype=np.uint8).tobytes()


def _rmtree(path: Path) -> None:
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


def brute_force(
    codes: Codes, query: str | bytes | Codes, threshold: int = DEFAULT_THRESHOLD
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Reference search: row numbers and distances of every hash in ``codes`` within ``threshold``."""
    raw = _query_bytes(query)
    q = np.frombuffer(raw, dtype="<u8")
    dist = np.bitwise_count(_words(codes) ^ q).sum(axis=1, dtype=np.int64)  # independent of _distances
    rows = np.flatnonzero(dist <= threshold)
    return rows.astype(np.int64), dist[rows]

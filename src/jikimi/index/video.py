"""vPDQ video matching over an index of frame hashes (python-threatexchange's rule, without its brute force).

A target video matches a query when at least ``query_percent`` (80) of the query's good frames (quality >= 50,
duplicate hashes counted once) are within the distance of some frame of the target, and at least
``target_percent`` (0) of the target's good frames are matched by some query frame: the rule of
python-threatexchange's ``VPDQIndex``. Frames are looked up in a :class:`PDQIndex`, so a query costs one PDQ
search per distinct frame instead of comparing every pair.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jikimi.index.pdq_index import DEFAULT_THRESHOLD, QUALITY_TRUSTED, PDQIndex, normalize_pdq_hex

QUERY_MATCH_PERCENT = 80.0
TARGET_MATCH_PERCENT = 0.0
_FRAME_BITS = 20  # label = video label << 20 | frame ordinal (up to a million distinct frames per video)
_FRAME_MASK = (1 << _FRAME_BITS) - 1
MAX_FRAMES = _FRAME_MASK + 1


@dataclass(frozen=True)
class VideoFrame:
    """One vPDQ frame: PDQ ``hash`` (hex), ``quality`` (0-100) and ``timestamp`` (seconds)."""

    hash: str
    quality: int
    timestamp: float = 0.0

    @classmethod
    def of(cls, frame: VideoFrame | Mapping[str, Any] | str) -> VideoFrame:
        """Accept a ``VideoFrame``, a ``{"hash", "quality", "timestamp"}`` dict (``jikimi.signals.vpdq``) or a
        python-threatexchange ``"hex,quality,timestamp"`` string."""
        if isinstance(frame, VideoFrame):
            return frame
        if isinstance(frame, str):
            parts = frame.split(",")
            if len(parts) != 3:
                raise ValueError(f"a vPDQ frame is 'hex,quality,timestamp', got {frame[:80]!r}")
            return cls(normalize_pdq_hex(parts[0]), _quality(parts[1]), float(parts[2]))
        return cls(
            normalize_pdq_hex(str(frame["hash"])),
            _quality(frame.get("quality", 100)),
            float(frame.get("timestamp", 0.0) or 0.0),
        )


def _quality(value: Any) -> int:
    q = int(value)
    if not 0 <= q <= 100:
        raise ValueError(f"a frame quality is between 0 and 100, got {q}")
    return q


def good_frames(frames: Iterable[VideoFrame], min_quality: int = QUALITY_TRUSTED) -> list[VideoFrame]:
    """Frames of quality >= ``min_quality``, each distinct hash once (first occurrence kept)."""
    seen: set[str] = set()
    out: list[VideoFrame] = []
    for f in frames:
        if f.quality >= min_quality and f.hash not in seen:
            seen.add(f.hash)
            out.append(f)
    return out


@dataclass
class VideoHit:
    """A video in the index that matches the query, and by how much."""

    label: int
    query_percent: float
    target_percent: float
    #: (query timestamp, distance) of the best match of each matched query frame.
    frames: list[tuple[float, int]] = field(default_factory=list)


class VideoIndex:
    """Videos (``label`` -> frames) searchable by another video's frames."""

    def __init__(self, *, min_quality: int = QUALITY_TRUSTED) -> None:
        self.min_quality = min_quality
        self._frames = PDQIndex()
        self._count: dict[int, int] = {}

    def add(self, label: int, frames: Sequence[VideoFrame | Mapping[str, Any] | str]) -> int:
        """Index a video's good frames; returns how many. A video without good frames is not indexed."""
        good = good_frames((VideoFrame.of(f) for f in frames), self.min_quality)
        if len(good) > MAX_FRAMES:
            raise ValueError(f"a video may have at most {MAX_FRAMES} distinct frames in the index")
        if label in self._count:
            self.remove([label])
        if not good:
            return 0
        labels = (np.int64(label) << _FRAME_BITS) + np.arange(len(good), dtype=np.int64)
        self._frames.add([f.hash for f in good], labels)
        self._count[label] = len(good)
        return len(good)

    def remove(self, labels: Iterable[int]) -> None:
        frame_labels: list[int] = []
        for label in labels:
            n = self._count.pop(int(label), 0)
            frame_labels.extend((int(label) << _FRAME_BITS) + i for i in range(n))
        if frame_labels:
            self._frames.remove(frame_labels)

    def __len__(self) -> int:
        return len(self._count)

    def __contains__(self, label: int) -> bool:
        return label in self._count

    def search(
        self,
        frames: Sequence[VideoFrame | Mapping[str, Any] | str],
        *,
        threshold: int = DEFAULT_THRESHOLD,
        query_percent: float = QUERY_MATCH_PERCENT,
        target_percent: float = TARGET_MATCH_PERCENT,
    ) -> list[VideoHit]:
        """Videos matching the query frames under the vPDQ rule (best first)."""
        query = good_frames((VideoFrame.of(f) for f in frames), self.min_quality)
        if not query or not self._count:
            return []
        matched_query: dict[int, dict[int, tuple[float, int]]] = {}
        matched_target: dict[int, set[int]] = {}
        results = self._frames.search_batch([f.hash for f in query], threshold)
        for qi, (f, (labels, dists)) in enumerate(zip(query, results, strict=True)):
            for fl, d in zip(labels.tolist(), dists.tolist(), strict=True):
                video = fl >> _FRAME_BITS
                if video not in self._count:
                    continue
                best = matched_query.setdefault(video, {})
                if qi not in best or d < best[qi][1]:
                    best[qi] = (f.timestamp, d)
                matched_target.setdefault(video, set()).add(fl & _FRAME_MASK)
        hits: list[VideoHit] = []
        for video, per_frame in matched_query.items():
            qp = 100.0 * len(per_frame) / len(query)
            tp = 100.0 * len(matched_target[video]) / self._count[video]
            if qp >= query_percent and tp >= target_percent:
                hits.append(VideoHit(video, qp, tp, sorted(per_frame.values())))
        hits.sort(key=lambda h: (-h.query_percent, -h.target_percent, h.label))
        return hits

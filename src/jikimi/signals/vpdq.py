"""vPDQ video hash: a PDQ hash (and quality, timestamp) for frames sampled from a video.

Frames come from ``Media.frames`` (PyAV) with vPDQ's own selection rule (every ``int(seconds * fps)``-th
decoded frame, timestamp = index / fps), so the output lines up with Meta's ``vpdq`` reference; matching
follows its brute-force rule (``match``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from jikimi.media import Media
from jikimi.signals.base import JSON, VIDEO, HashSignal, hamming_hex
from jikimi.signals.pdq import MATCH_THRESHOLD, pdq_from_array

#: Frames below this quality are left out of matching (vPDQ default).
MIN_QUALITY = 50


class VPDQSignal(HashSignal):
    """Per-frame PDQ hashes of a video (default: one frame per second)."""

    name: ClassVar[str] = "vpdq"
    kinds: ClassVar[frozenset[str]] = frozenset({VIDEO})
    description: ClassVar[str] = "vPDQ: PDQ hash of one frame per second (matches clips and re-encodes)"
    default_threshold: ClassVar[int] = MATCH_THRESHOLD
    hex_length: ClassVar[int] = 64
    min_quality: ClassVar[int] = MIN_QUALITY

    def __init__(self, every_seconds: float = 1.0) -> None:
        if every_seconds < 0:
            raise ValueError("every_seconds must be >= 0 (0 = every frame)")
        self.every_seconds = every_seconds

    def extract(self, media: Media) -> JSON:
        """``[{"frame": n, "quality": q, "hash": hex64, "timestamp": s}, ...]`` in frame order."""
        out: list[dict[str, Any]] = []
        for frame in media.frames(self.every_seconds):
            h, q = pdq_from_array(frame.rgb)
            out.append(
                {"frame": frame.index, "quality": q, "hash": h, "timestamp": round(frame.timestamp, 3)}
            )
        return out

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Distance between two frame hashes."""
        return hamming_hex(cls.validate(a), cls.validate(b))

    @staticmethod
    def hashes_of(result: JSON) -> list[str]:
        return [f["hash"] for f in result] if isinstance(result, list) else []


@dataclass(frozen=True)
class VideoMatch:
    """Share of the query's (and the target's) good frames that have a match in the other video."""

    query_percent: float
    target_percent: float


def _matrix(frames: Sequence[dict[str, Any]], min_quality: int) -> np.ndarray:
    good = [f["hash"] for f in frames if int(f["quality"]) >= min_quality]
    if not good:
        return np.zeros((0, 32), dtype=np.uint8)
    return np.frombuffer(bytes.fromhex("".join(good)), dtype=np.uint8).reshape(len(good), 32)


def match(
    query: Sequence[dict[str, Any]],
    target: Sequence[dict[str, Any]],
    *,
    distance: int = MATCH_THRESHOLD,
    min_quality: int = MIN_QUALITY,
) -> VideoMatch:
    """vPDQ brute-force matching: frames of quality >= ``min_quality``, duplicates hashes counted once per
    side, a frame matches when any frame of the other video is within ``distance``."""
    q = np.unique(_matrix(query, min_quality), axis=0)
    t = np.unique(_matrix(target, min_quality), axis=0)
    if len(q) == 0 or len(t) == 0:
        return VideoMatch(0.0, 0.0)
    x = np.bitwise_xor(q[:, None, :], t[None, :, :])
    d = np.unpackbits(x, axis=2).sum(axis=2)
    close = d <= distance
    return VideoMatch(
        query_percent=100.0 * close.any(axis=1).sum() / len(q),
        target_percent=100.0 * close.any(axis=0).sum() / len(t),
    )

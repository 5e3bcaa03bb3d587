"""vPDQ video hash: a PDQ hash (and quality, timestamp) for frames sampled from a video.

Frames come from ``Media.frames`` (PyAV) with vPDQ's own selection rule (every ``int(seconds * fps)``-th
decoded frame, timestamp = index / fps), so the output lines up with Meta's ``vpdq`` reference; matching
follows its brute-force rule (``match``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from jikimi.errors import ValidationError
from jikimi.media import Media
from jikimi.signals.base import JSON, VIDEO, HashSignal, SignalValue, hamming_hex
from jikimi.signals.pdq import MATCH_THRESHOLD, PDQSignal, pdq_from_array

#: Frames below this quality are left out of matching (vPDQ default).
MIN_QUALITY = 50


class VPDQSignal(HashSignal):
    """Per-frame PDQ hashes of a video (default: one frame per second)."""

    name: ClassVar[str] = "vpdq"
    kinds: ClassVar[frozenset[str]] = frozenset({VIDEO})
    description: ClassVar[str] = "vPDQ: PDQ hash of one frame per second (matches clips and re-encodes)"
    default_threshold: ClassVar[float] = MATCH_THRESHOLD
    bank_threshold: ClassVar[bool] = True
    hex_length: ClassVar[int] = 64
    min_quality: ClassVar[int] = MIN_QUALITY
    label: ClassVar[str] = "vPDQ"
    pytx_name: ClassVar[str] = "vpdq"
    single: ClassVar[bool] = False
    index_class: ClassVar[str] = "jikimi.index.signals:VideoSignalIndex"

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

    @classmethod
    def values_of(cls, result: JSON, quality: int | None = None) -> list[SignalValue]:
        """One value per frame: its PDQ hash, quality and ``{"timestamp": seconds}``. Frames may be
        ``extract`` dicts or python-threatexchange's ``"hex,quality,timestamp"`` strings."""
        if isinstance(result, SignalValue):
            return [result]
        if not isinstance(result, list):
            return []
        out = []
        for f in result:
            if isinstance(f, SignalValue):
                out.append(f)
                continue
            if isinstance(f, str):
                parts = f.split(",")
                if len(parts) != 3:
                    raise ValidationError(
                        "malformed vPDQ frames: a frame is 'hex,quality,timestamp', got {frame}",
                        code="signals.vpdq_malformed",
                        frame=repr(f[:80]),
                    )
                f = {"hash": parts[0], "quality": parts[1], "timestamp": parts[2]}
            if not isinstance(f, dict) or "hash" not in f:
                raise ValidationError(
                    "malformed vPDQ frames: a frame needs its hash", code="signals.vpdq_malformed"
                )
            try:
                ts = round(float(f.get("timestamp", 0.0) or 0.0), 3)
            except (TypeError, ValueError):
                raise ValidationError(
                    "malformed vPDQ frames: bad timestamp {value}",
                    code="signals.vpdq_malformed",
                    value=repr(f.get("timestamp"))[:40],
                ) from None
            out.append(SignalValue(str(f["hash"]), f.get("quality", 100), {"timestamp": ts}))
        return out

    @classmethod
    def validate_value(cls, value: SignalValue) -> SignalValue:
        v = super().validate_value(value)
        return SignalValue(v.value, 100 if v.quality is None else v.quality, v.metadata)

    @classmethod
    def queries_of(cls, result: JSON) -> dict[str, list[SignalValue]]:
        """The video's frames, and its good frames as image hashes (a still taken from the video is found in
        image banks)."""
        frames = [cls.validate_value(v) for v in cls.values_of(result)]
        if not frames:
            return {}
        good = list({f.value: f for f in reversed(frames) if cls.trusted(f.quality)}.values())[::-1]
        stills = [SignalValue(f.value, f.quality, {"variant": "original", **f.metadata}) for f in good]
        return {cls.name: frames, PDQSignal.name: stills} if stills else {cls.name: frames}

    @classmethod
    def format_values(cls, values: Sequence[SignalValue]) -> str:
        """python-threatexchange's frame strings ``"hex,quality,timestamp"`` as a JSON list."""
        return json.dumps(
            [f"{v.value},{v.quality},{float(v.metadata.get('timestamp', 0.0)):.3f}" for v in values]
        )

    @classmethod
    def parse_values(cls, text: str, quality: int | None = None) -> list[SignalValue]:
        try:
            frames = json.loads(text) if text.strip().startswith("[") else text.split()
        except json.JSONDecodeError as exc:
            raise ValidationError(
                "malformed vPDQ frames: not a JSON list ({detail})",
                code="signals.vpdq_malformed",
                detail=str(exc),
            ) from None
        return cls.values_of(list(frames))


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

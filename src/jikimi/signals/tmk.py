"""TMK+PDQF video hash (Meta's Temporal Match Kernel over PDQ float frame features, via ``tmkpy``).

Frames are decoded once by ``Media.frames`` (PyAV, the same safe decode as vPDQ), resampled to TMK's 15 frames
per second (each tick takes the newest frame decoded by then, as FFmpeg's ``-r 15`` does), scaled to 64x64
(what TMK's own hasher feeds PDQF) and reduced to PDQ's 256 float features (``pdqhash.compute_float``); TMK
folds them into its time-weighted cosine/sine features (``TMKFeatureVectors``). Against TMK's own hasher
(``tmkpy.hashVideo``, which decodes with the FFmpeg program) the level-1 vectors of Meta's vPDQ reference
clips agree at cosine 0.991-0.9999 (level-2 score 0.985 and up); the rest is the decoders' colour conversion.

The value stored, matched and exchanged is TMK's level-1 feature, the 256-float "pure average" vector,
L2-normalised, written as base64 of little-endian float32 (1,368 characters). Two videos match when the cosine
similarity of their vectors is at least 0.7 (TMK's documented level-1 threshold): the distance is
``1 - cosine``, matched at or below ``default_threshold`` = 0.3. Re-encodes and resizes score above 0.99.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from jikimi.errors import ValidationError
from jikimi.media import Frame, Media, MediaError
from jikimi.signals.base import JSON, VIDEO, HashSignal

#: TMK's frame rate after resampling (``TMK_DEFAULT_RESAMPLE_FPS``) and PDQF's frame size.
FPS = 15
SIDE = 64
DIM = 256
#: Level-1 cosine similarity at or above which two videos are the same content (TMK documentation).
MIN_COSINE = 0.7
_VALUE_LEN = 4 * ((DIM * 4 + 2) // 3)


def _resampled(frames: Iterator[Frame]) -> Iterator[np.ndarray]:
    """Frames at ``FPS``: tick ``k`` (time ``k / FPS``) shows the newest frame whose time is <= the tick."""
    prev: np.ndarray | None = None
    tick = 0
    for frame in frames:
        while prev is not None and tick / FPS < frame.timestamp:
            yield prev
            tick += 1
        prev = frame.rgb
    if prev is not None:
        yield prev


def features(media: Media) -> object:
    """TMK's ``TMKFeatureVectors`` of a video (level-1 and level-2 features)."""
    import pdqhash
    import tmkpy
    from PIL import Image

    fv = tmkpy.TMKFeatureVectors(
        tmkpy.TMKFramewiseAlgorithm_PDQ_FLOAT,
        FPS,
        tmkpy.TMKFeatureVectors.makePoullotPeriods(),
        tmkpy.TMKFeatureVectors.makePoullotFourierCoefficients(),
        DIM,
    )
    n = 0
    for rgb in _resampled(media.frames(0)):
        small = np.asarray(Image.fromarray(rgb).resize((SIDE, SIDE), Image.Resampling.BICUBIC))
        feat, _quality = pdqhash.compute_float(small)
        # pdqhash returns PDQ's 16x16 float output reversed; TMK's PDQF is that output in row order.
        fv.ingestFrameFeature(np.asarray(feat, dtype=np.float32)[::-1].tolist(), n)
        n += 1
    if n == 0:
        raise MediaError("the video has no frames to hash", code="signals.no_frames")
    fv.finishFrameFeatureIngest()
    return fv


def encode(vector: np.ndarray) -> str:
    v = np.asarray(vector, dtype="<f4").reshape(DIM)
    norm = float(np.linalg.norm(v))
    if norm > 0:
        v = v / norm
    return base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")


def decode(value: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(value), dtype="<f4").astype(np.float32)


class TMKSignal(HashSignal):
    """TMK+PDQF level-1 vector of a video."""

    name: ClassVar[str] = "tmk"
    kinds: ClassVar[frozenset[str]] = frozenset({VIDEO})
    description: ClassVar[str] = "TMK+PDQF: temporal match kernel of a whole video (re-encodes, resizes)"
    default_threshold: ClassVar[float] = round(1.0 - MIN_COSINE, 6)
    label: ClassVar[str] = "TMK"
    pytx_name: ClassVar[str] = "video_tmk_pdqf"
    aliases: ClassVar[tuple[str, ...]] = ("tmk_pdqf",)
    index_class: ClassVar[str] = "jikimi.index.signals:VectorSignalIndex"

    def extract(self, media: Media) -> JSON:
        """``{"hash": base64 of 256 float32, "frames": frames hashed at 15 fps}``."""
        fv = features(media)
        return {
            "hash": encode(np.asarray(fv.getPureAverageFeature(), dtype=np.float32)),  # type: ignore[attr-defined]
            "frames": int(fv.getFrameFeatureCount()),  # type: ignore[attr-defined]
        }

    @classmethod
    def validate(cls, value: str) -> str:
        v = str(value).strip()
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(v) != _VALUE_LEN or len(raw) != DIM * 4 or not np.all(np.isfinite(decode(v))):
            raise ValidationError(
                "not a valid {kind} hash: expected base64 of {dim} float32 ({n} characters)",
                code="signals.hash_invalid",
                kind=cls.display(),
                dim=DIM,
                n=_VALUE_LEN,
            )
        return v

    @classmethod
    def vector(cls, value: str) -> np.ndarray:
        """The unit-length level-1 vector of a value (the index compares these)."""
        v = decode(cls.validate(value))
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    @classmethod
    def distance(cls, a: str, b: str) -> float:
        """``1 - cosine similarity`` of the level-1 vectors (0 = same, 0.3 = TMK's match limit)."""
        return round(1.0 - float(np.dot(cls.vector(a), cls.vector(b))), 6)

    @staticmethod
    def hashes_of(result: JSON) -> list[str]:
        return [result["hash"]] if isinstance(result, dict) and "hash" in result else []

"""Invisible DWT-DCT watermarks that image generators embed (decoded with PyWavelets and OpenCV).

The ``invisible-watermark`` package's ``dwtDct`` method (used by Stable Diffusion's reference scripts and by
diffusers for SDXL) writes each bit into the largest non-DC coefficient of 4x4 blocks of the Haar-DWT
approximation of the U channel (YUV), modulo a scale of 36; bit ``k`` repeats in blocks ``k, k+L, k+2L...``.
Decoding averages every repetition, so it is reliable on lossless originals (PNG, lossless WebP) but does not
survive JPEG re-compression or resizing. A mark reads back only when nearly every bit matches; an image
without one almost never does (a random 48-bit pattern matches within 4 bits with odds around 1e-9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALE = 36.0
BLOCK = 4
MIN_PIXELS = 256 * 256
"""The encoder refuses smaller images, so the decoder does too."""


def _bits_of_bytes(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(bool)


def _bits_of_int(value: int, length: int) -> np.ndarray:
    return np.array([(value >> (length - 1 - i)) & 1 for i in range(length)], dtype=bool)


@dataclass(frozen=True)
class KnownMark:
    """A watermark payload some generator embeds."""

    name: str
    generator: str
    bits: np.ndarray
    max_errors: int
    channel_order: str  # the order the encoder was given the pixels in ("BGR" as OpenCV, or "RGB")


KNOWN_MARKS: tuple[KnownMark, ...] = (
    KnownMark(
        "StableDiffusionV1",
        "Stable Diffusion v1 (CompVis reference scripts)",
        _bits_of_bytes(b"StableDiffusionV1"),
        max_errors=12,
        channel_order="BGR",
    ),
    KnownMark(
        "SDV2",
        "Stable Diffusion v2 (Stability AI reference scripts)",
        _bits_of_bytes(b"SDV2"),
        max_errors=2,
        channel_order="BGR",
    ),
    KnownMark(
        "SDXL 0xB3EC907BB19E",
        "Stable Diffusion XL (diffusers StableDiffusionXLWatermarker)",
        _bits_of_int(0xB3EC907BB19E, 48),
        max_errors=4,
        channel_order="RGB",
    ),
)


def block_scores(rgb: np.ndarray, channel_order: str) -> np.ndarray:
    """One 0/1 vote per 4x4 block of the U channel's DWT approximation, in the encoder's block order."""
    import cv2
    import pywt

    h, w = rgb.shape[:2]
    # The encoder converts "BGR" -> YUV; given RGB pixels as if they were BGR, the roles of R and B swap.
    src = rgb[:, :, ::-1] if channel_order == "BGR" else rgb
    u = cv2.cvtColor(np.ascontiguousarray(src), cv2.COLOR_BGR2YUV)[: h // 4 * 4, : w // 4 * 4, 1]
    # pywt.dwt2's approximation band, bit for bit, without computing the three detail bands
    low, _ = pywt.dwt(u.astype(np.float64), "haar", axis=0)
    ca, _ = pywt.dwt(low, "haar", axis=1)
    rows, cols = ca.shape[0] // BLOCK, ca.shape[1] // BLOCK
    blocks = (
        ca[: rows * BLOCK, : cols * BLOCK]
        .reshape(rows, BLOCK, cols, BLOCK)
        .transpose(0, 2, 1, 3)
        .reshape(rows * cols, BLOCK * BLOCK)
    )
    ac = np.abs(blocks[:, 1:])
    val = ac[np.arange(len(ac)), ac.argmax(axis=1)]
    return (np.mod(val, SCALE) > 0.5 * SCALE).astype(np.float64)


def decode_bits(scores: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Majority bit ``k`` over blocks ``k, k+length...``; also each bit's agreement (0.5 none, 1 all)."""
    n = len(scores) // length * length
    if n == 0:
        return np.zeros(length, dtype=bool), np.full(length, 0.5)
    avg = scores[:n].reshape(-1, length).mean(axis=0)
    if len(scores) > n:  # the encoder's leftover blocks count too
        extra = scores[n:]
        counts = np.full(length, n // length, dtype=np.float64)
        sums = avg * counts
        sums[: len(extra)] += extra
        counts[: len(extra)] += 1
        avg = sums / counts
    bits = avg * 255 > 127
    return bits, np.maximum(avg, 1 - avg)


def find_marks(rgb: np.ndarray) -> list[dict[str, object]]:
    """Known generator watermarks found in ``rgb`` (HxWx3 uint8), each with its bit errors and agreement."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[0] * arr.shape[1] < MIN_PIXELS:
        return []
    found: list[dict[str, object]] = []
    cache: dict[str, np.ndarray] = {}
    for mark in KNOWN_MARKS:
        scores = cache.get(mark.channel_order)
        if scores is None:
            scores = cache[mark.channel_order] = block_scores(arr, mark.channel_order)
        bits, agreement = decode_bits(scores, len(mark.bits))
        errors = int(np.count_nonzero(bits != mark.bits))
        if errors <= mark.max_errors:
            found.append(
                {
                    "name": mark.name,
                    "generator": mark.generator,
                    "bits": len(mark.bits),
                    "bit_errors": errors,
                    "agreement": round(float(agreement.mean()), 3),
                }
            )
    return found

"""PDQ perceptual image hash (Meta's reference C++ via ``pdqhash``) with its 8 dihedral variants.

Three decode paths, all on the same ``Media``:

- ``"reference"``: the exact pixel array python-threatexchange 1.2.17's ``pdq_from_file`` feeds ``pdqhash``
  (bit-exact with its hashes, including its quirks for CMYK, palette and 1-bit images; modes it cannot
  hash at all, such as I, F and PA, fall back to ``standard``).
- ``"standard"``: ``Media.image`` (correct RGB for every colour mode); equals the reference for RGB, L, LA,
  RGBA, YCbCr... and is better where the reference is wrong (CMYK is inverted there, palette images hash
  their palette indices, 16-bit images are clipped).
- ``"fast"`` (default): like ``standard`` but large JPEGs are decoded in the DCT domain at 1/2-1/8 scale
  (Pillow ``draft``), keeping the shorter side >= ``FAST_MIN_SIDE``; see docs/benchmarks.md for agreement.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from jikimi.media import Media, MediaError
from jikimi.media.image import pytx_array
from jikimi.signals.base import IMAGE, JSON, HashSignal, SignalValue, hamming_hex

Decode = Literal["fast", "standard", "reference"]

#: The shorter side kept by the fast JPEG path (PDQ itself works on a 64x64 luma box-filtered down-scale).
FAST_MIN_SIDE = 768
#: Hashes below this quality are not trusted for matching (PDQ documentation).
MIN_QUALITY = 50
MATCH_THRESHOLD = 31
"""PDQ Hamming distance at or below which two images are the same content (Meta's recommended
threshold; PDQ documentation, python-threatexchange). The one place it is set: vPDQ frames, the PDQ index,
banks, clustering and re-upload alerts use it."""
#: Order of the dihedral variants as ``pdqhash.compute_dihedral`` returns them, named as python-threatexchange
#: names them (``RotationType``). The one place these names are spelled.
DIHEDRAL = ("original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")
#: Earlier spellings of the variants (before they followed python-threatexchange), still accepted on input.
DIHEDRAL_ALIASES = {"flip_plus1": "flipplus1", "flip_minus1": "flipminus1"}


def bits_to_hex(bits: np.ndarray) -> str:
    """``pdqhash``'s 256-element 0/1 vector (most significant bit first) as 64 hex digits."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def _as_pdq_input(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    if pixels.dtype == np.bool_:
        return pixels  # reference quirk: 1-bit images reach pdqhash as booleans
    if pixels.dtype != np.uint8:
        raise MediaError(
            "PDQ needs 8-bit pixels, got {dtype}", code="signals.pdq_pixels", dtype=str(pixels.dtype)
        )
    return pixels


def pdq_from_array(pixels: np.ndarray) -> tuple[str, int]:
    """PDQ hash (hex) and quality of an HxWx3 (or HxW) uint8 array."""
    import pdqhash

    bits, quality = pdqhash.compute(_as_pdq_input(pixels))
    return bits_to_hex(bits), int(quality)


def pdq_dihedral_from_array(pixels: np.ndarray) -> tuple[list[str], int]:
    """The 8 dihedral PDQ hashes (order ``DIHEDRAL``) and the quality, in one pass."""
    import pdqhash

    hashes, quality = pdqhash.compute_dihedral(_as_pdq_input(pixels))
    return [bits_to_hex(b) for b in hashes], int(quality)


def pdq_pixels(media: Media, decode: Decode = "fast", min_side: int = FAST_MIN_SIDE) -> np.ndarray:
    """The pixels each decode path hashes."""
    if decode == "reference":
        try:
            return pytx_array(media.original)
        except MediaError:  # modes the reference crashes on (I, F, PA...): hash them the standard way
            return media.rgb()
    if decode == "fast":
        small = media.reduced(min_side, mode="L")
        if small is not None:
            return np.asarray(small)
    return media.rgb()


class PDQSignal(HashSignal):
    """PDQ hash, quality and the 8 rotated/flipped variants of an image."""

    name: ClassVar[str] = "pdq"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE})
    description: ClassVar[str] = "PDQ perceptual hash (survives resizing, re-encoding, small edits)"
    default_threshold: ClassVar[float] = MATCH_THRESHOLD
    bank_threshold: ClassVar[bool] = True
    hex_length: ClassVar[int] = 64
    min_quality: ClassVar[int] = MIN_QUALITY
    label: ClassVar[str] = "PDQ"
    pytx_name: ClassVar[str] = "pdq"
    index_class: ClassVar[str] = "jikimi.index.signals:PDQSignalIndex"

    def __init__(self, decode: Decode = "fast", dihedral: bool = True, min_side: int = FAST_MIN_SIDE) -> None:
        if decode not in ("fast", "standard", "reference"):
            raise ValueError(f"unknown PDQ decode path {decode!r}")
        self.decode: Decode = decode
        self.dihedral = dihedral
        self.min_side = min_side

    def extract(self, media: Media) -> JSON:
        """``{"hash": hex64, "quality": 0..100, "dihedral": {variant: hex64}}`` (dihedral when enabled)."""
        pixels = pdq_pixels(media, self.decode, self.min_side)
        if self.dihedral:
            hashes, quality = pdq_dihedral_from_array(pixels)
            return {
                "hash": hashes[0],
                "quality": quality,
                "dihedral": dict(zip(DIHEDRAL, hashes, strict=True)),
            }
        h, quality = pdq_from_array(pixels)
        return {"hash": h, "quality": quality}

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return hamming_hex(cls.validate(a), cls.validate(b))

    @classmethod
    def queries_of(cls, result: JSON) -> dict[str, list[SignalValue]]:
        """The hash and each distinct dihedral variant (``metadata["variant"]``), so a rotated or mirrored
        copy is found too. ``dihedral`` may be the mapping ``extract`` returns or a list in ``DIHEDRAL``
        order."""
        values = cls.values_of(result)
        if not values:
            return {}
        first = values[0]
        dihedral = result.get("dihedral") if isinstance(result, dict) else None
        items = (
            list(dihedral.items())
            if isinstance(dihedral, dict)
            else list(zip(DIHEDRAL, dihedral or (), strict=False))
        )
        out = [SignalValue(cls.validate(first.value), first.quality, {"variant": "original"})]
        seen = {out[0].value}
        for variant, h in items:
            hx = cls.validate(h)
            if hx not in seen:
                seen.add(hx)
                out.append(SignalValue(hx, first.quality, {"variant": variant}))
        return {cls.name: out}

    @staticmethod
    def hashes_of(result: JSON) -> list[str]:
        if isinstance(result, dict):
            return [result["hash"]]
        return [result] if isinstance(result, str) else []

"""Invisible generator watermarks: the Stable Diffusion v1 and SDXL marks written by ``invisible-watermark``
(the independent encoder, allowed in tests) are found by our PyWavelets + OpenCV decoder; clean photos give
none. The reference dwtDct encoder itself does not round-trip on every picture (strongly coloured or textured
chroma), so the marked pictures are ordinary photos on which it does."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from imwatermark import WatermarkDecoder, WatermarkEncoder
from PIL import Image

from jikimi.media import load
from jikimi.signals.synthetic import NO_EVIDENCE, SyntheticSignal
from jikimi.signals.synthetic.watermark import KNOWN_MARKS, block_scores, decode_bits, find_marks

SDXL_BITS = [int(b) for b in bin(0xB3EC907BB19E)[2:]]


def generated_picture(seed: int, size: tuple[int, int] = (512, 512)) -> np.ndarray:
    """A smooth, colourful stand-in for a generated image (RGB uint8)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack(
        [
            128 + 60 * np.sin(xx / (40 + 20 * rng.random())),
            128 + 60 * np.cos(yy / (50 + 20 * rng.random())),
            128 + 50 * np.sin((xx + yy) / (70 + 20 * rng.random())),
        ],
        axis=-1,
    )
    noise = cv2.GaussianBlur(rng.normal(0, 25, (h, w, 3)).astype(np.float32), (0, 0), 3)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def sd1_mark(rgb: np.ndarray) -> np.ndarray:
    """As the CompVis txt2img script does: BGR uint8 in, 'StableDiffusionV1' bytes, dwtDct."""
    enc = WatermarkEncoder()
    enc.set_watermark("bytes", b"StableDiffusionV1")
    return cv2.cvtColor(enc.encode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "dwtDct"), cv2.COLOR_BGR2RGB)


def sdxl_mark(rgb: np.ndarray) -> np.ndarray:
    """As diffusers' StableDiffusionXLWatermarker does: RGB float pixels, the 48 bits, dwtDct."""
    enc = WatermarkEncoder()
    enc.set_watermark("bits", SDXL_BITS)
    return np.clip(np.rint(enc.encode(rgb.astype(np.float32), "dwtDct")), 0, 255).astype(np.uint8)


def png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


MARKABLE = ["_scenes/obama-720p.jpg", "_scenes/kit_with_rose.jpg", "biden/biden.jpg"]


def photo(shared: Path, name: str, side: int = 640) -> np.ndarray:
    """A portrait, at most ``side`` pixels wide (the reference encoder is slow on large pictures)."""
    im = Image.open(shared / "faces/portraits" / name).convert("RGB")
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(im)


@pytest.mark.parametrize("name", MARKABLE)
def test_stable_diffusion_v1_mark_is_found(shared: Path, name: str) -> None:
    found = find_marks(sd1_mark(photo(shared, name)))
    assert [m["name"] for m in found] == ["StableDiffusionV1"]
    assert found[0]["bit_errors"] <= 2 and found[0]["bits"] == 136


@pytest.mark.parametrize("name", MARKABLE)
def test_sdxl_mark_is_found(shared: Path, name: str) -> None:
    found = find_marks(sdxl_mark(photo(shared, name)))
    assert [m["name"] for m in found] == ["SDXL 0xB3EC907BB19E"]
    assert found[0]["bits"] == 48


def test_the_signal_reports_a_marked_png_and_skips_jpeg(shared: Path) -> None:
    marked = sd1_mark(photo(shared, MARKABLE[1]))
    out = SyntheticSignal().extract(load(png(marked)))
    marks = [e for e in out["evidence"] if e["kind"] == "watermark"]
    assert len(marks) == 1 and "StableDiffusionV1" in marks[0]["finding"]
    assert out["conclusion"] == "evidence of generation or editing"
    buf = io.BytesIO()
    Image.fromarray(marked).save(buf, "JPEG", quality=95)
    jpeg = SyntheticSignal().extract(load(buf.getvalue()))
    assert "lossy" in jpeg["checks"]["watermark"]
    assert not [e for e in jpeg["evidence"] if e["kind"] == "watermark"]


def test_clean_pictures_give_no_evidence(shared: Path) -> None:
    for i in range(4):
        assert find_marks(generated_picture(10 + i)) == []
    for name in ["obama/obama.jpg", "_scenes/obama_and_biden.jpg", "alex_lacamoire/alex-lacamoire.png"]:
        rgb = np.asarray(Image.open(shared / "faces/portraits" / name).convert("RGB"))
        assert find_marks(rgb) == [], name
    out = SyntheticSignal().extract(load(png(generated_picture(20))))
    assert out["evidence"] == [] and out["conclusion"] == NO_EVIDENCE
    assert "authentic" in out["note"] and "not" in out["note"]
    small = SyntheticSignal().extract(load(png(generated_picture(21, (100, 120)))))
    assert "smaller than 256" in small["checks"]["watermark"]


def test_our_bits_equal_the_reference_decoder(shared: Path) -> None:
    """Bit for bit the same as invisible-watermark's own dwtDct decoder, marked or not."""
    pictures = [sd1_mark(photo(shared, MARKABLE[1])), sd1_mark(generated_picture(7)), generated_picture(8)]
    pictures.append(photo(shared, "_scenes/two_people.jpg"))
    for rgb in pictures:
        for mark in KNOWN_MARKS:
            length = len(mark.bits)
            pixels = rgb if mark.channel_order == "RGB" else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            ref = WatermarkDecoder("bits", length).decode(np.ascontiguousarray(pixels), "dwtDct")
            ours, agreement = decode_bits(block_scores(rgb, mark.channel_order), length)
            assert np.array_equal(np.asarray(ref, dtype=bool), ours)
            assert np.all((agreement >= 0.5) & (agreement <= 1.0))

"""The self-blended-image generator: the mask stays in the (deformed, blurred) landmark hull, the pseudo-fake
differs from its target only inside the mask, and a seed makes it reproducible."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from jikimi.signals.faceswap import crop_square, square_box
from jikimi.signals.faceswap_train import (
    CACHE_SCALE,
    CACHE_SIZE,
    detect_landmarks,
    dlib_models,
    hull_mask,
    make_pair,
    self_blend,
)


@pytest.fixture(scope="module")
def face(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    """One LFW face cropped the way training caches it, with its 68 landmarks."""
    rgb = np.asarray(Image.open(shared / "faces/lfw/Abdullah_Gul/Abdullah_Gul_0001.jpg").convert("RGB"))
    lm = detect_landmarks(rgb, *dlib_models())
    assert lm is not None and lm.shape == (68, 2)
    cx, cy, side = square_box(lm, CACHE_SCALE - 1.0)
    img = crop_square(rgb, cx, cy, side, CACHE_SIZE)
    return img, (lm - [cx - side / 2, cy - side / 2]) * (CACHE_SIZE / side)


@pytest.mark.parametrize("seed", range(12))
def test_blend_changes_only_inside_the_mask_and_the_mask_stays_near_the_hull(
    face: tuple[np.ndarray, np.ndarray], seed: int
) -> None:
    img, lm = face
    b = self_blend(img, lm, np.random.default_rng(seed))
    assert b.image.shape == img.shape and b.image.dtype == np.uint8
    assert b.mask.shape == img.shape[:2] and b.mask.min() >= 0.0 and b.mask.max() <= 1.0 + 1e-6
    assert b.mask.max() >= 0.24  # blend ratios go from partial (0.25) to full
    # Outside the mask the pseudo-fake is exactly its target.
    outside = b.mask == 0
    assert outside.any()
    assert np.array_equal(b.image[outside], b.target[outside])
    # Inside it really blends something in.
    inside = b.mask > 0.2
    assert np.abs(b.image[inside].astype(int) - b.target[inside].astype(int)).max() > 0
    # The mask never reaches further than its deformation plus the blur from the landmark hull.
    reach = cv2.dilate(b.hull, np.ones((2 * b.reach + 1, 2 * b.reach + 1), np.uint8))
    assert not np.any((b.mask > 0) & (reach == 0))
    # The hull itself is the hull of the face's landmarks (brows may be raised, or the inner face only).
    full = hull_mask(lm, img.shape[:2])
    assert np.count_nonzero(b.hull & ~full.astype(bool)) <= 0.35 * np.count_nonzero(full)


def test_the_same_seed_gives_the_same_pseudo_fake_and_another_seed_does_not(
    face: tuple[np.ndarray, np.ndarray],
) -> None:
    img, lm = face
    a = self_blend(img, lm, np.random.default_rng(7))
    b = self_blend(img, lm, np.random.default_rng(7))
    c = self_blend(img, lm, np.random.default_rng(8))
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)
    r1, f1 = make_pair(img, lm, np.random.default_rng(3))
    r2, f2 = make_pair(img, lm, np.random.default_rng(3))
    assert np.array_equal(r1, r2) and np.array_equal(f1, f2)
    assert r1.shape == (112, 112, 3) and not np.array_equal(r1, f1)


def test_hull_mask_is_the_filled_convex_hull() -> None:
    pts = np.array([[10, 10], [50, 12], [48, 60], [12, 55], [30, 30]], dtype=np.float32)
    m = hull_mask(pts, (80, 80))
    assert m[30, 30] == 1 and m[5, 5] == 0 and m[70, 70] == 0
    assert set(np.unique(m)) == {0, 1}

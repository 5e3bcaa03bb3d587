"""Ordinary portrait photos from ../shared for the face tests, made small so detection stays fast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def small(path: Path, side: int = 480) -> np.ndarray:
    """The photo as RGB, its longest side at most ``side`` pixels."""
    im = Image.open(path).convert("RGB")
    im.thumbnail((side, side))
    return np.asarray(im)

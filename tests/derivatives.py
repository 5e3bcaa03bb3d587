"""Derivatives of ordinary photos as the deepfake bots make them, for source-photo tests and the benchmark.

Never explicit: "undressing" here replaces everything below the face with other pixels (noise, or another
photo), which is what matters for matching (the body region no longer matches the source).
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Box = tuple[int, int, int, int]


def replace_body(rgb: np.ndarray, face: Box, other: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Everything below the chin (and beside the face below the eyes) becomes noise or ``other``'s pixels."""
    h, w = rgb.shape[:2]
    l_, t, r, b = face
    out = rgb.copy()
    chin = min(h, b + (b - t) // 8)
    if other is None:
        rng = np.random.default_rng(seed)
        fill = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 3)
    else:
        fill = cv2.resize(other, (w, h), interpolation=cv2.INTER_LINEAR)
    out[chin:] = fill[chin:]
    mid = (t + b) // 2
    side = max(0, l_ - (r - l_) // 3), min(w, r + (r - l_) // 3)
    out[mid:chin, : side[0]] = fill[mid:chin, : side[0]]
    out[mid:chin, side[1] :] = fill[mid:chin, side[1] :]
    return out


def crop_upper(rgb: np.ndarray, face: Box, tight: bool = False) -> np.ndarray:
    """A crop to the face (``tight``) or to the face and upper body."""
    h, w = rgb.shape[:2]
    l_, t, r, b = face
    fw, fh = r - l_, b - t
    ex, up, down = (0.35, 0.5, 0.35) if tight else (1.0, 0.8, 2.0)
    return rgb[
        max(0, int(t - up * fh)) : min(h, int(b + down * fh)),
        max(0, int(l_ - ex * fw)) : min(w, int(r + ex * fw)),
    ].copy()


def resize(rgb: np.ndarray, f: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = (max(8, round(w * f)), max(8, round(h * f)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)


def jpeg(rgb: np.ndarray, quality: int = 40) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def mirror(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))


def stickers(rgb: np.ndarray, face: Box | None = None, share: float = 0.3, seed: int = 0) -> np.ndarray:
    """A border, coloured stickers and a caption covering about ``share`` of the picture (a sticker may
    overlap the face's edge, never most of it)."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    bw = max(2, int(min(h, w) * 0.05))
    img = Image.fromarray(np.pad(rgb, ((bw, bw), (bw, bw), (0, 0)), constant_values=250))
    draw = ImageDraw.Draw(img)
    budget = share * h * w - 2 * bw * (h + w)
    tries = 0
    while budget > 0 and tries < 40:
        tries += 1
        sw, sh = int(w * rng.uniform(0.12, 0.25)), int(h * rng.uniform(0.08, 0.18))
        x, y = int(rng.uniform(0, w - sw)) + bw, int(rng.uniform(0, h - sh)) + bw
        if face is not None:
            l_, t, r, b = face
            ox = max(0, min(x + sw, r + bw) - max(x, l_ + bw))
            oy = max(0, min(y + sh, b + bw) - max(y, t + bw))
            if ox * oy > 0.15 * (r - l_) * (b - t):
                continue
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + sw, y + sh), fill=colour)
        else:
            draw.rectangle((x, y, x + sw, y + sh), fill=colour)
        budget -= sw * sh * 0.85
    font = ImageFont.load_default(size=max(10, h // 14))
    draw.text((bw + w // 10, bw + h - h // 8), "join t.me/xxxx", fill=(255, 0, 255), font=font)
    return np.asarray(img.convert("RGB"))


Derive = Callable[[np.ndarray, Box, np.ndarray], np.ndarray]

DERIVATIVES: dict[str, Derive] = {
    "body-noise": lambda x, f, o: replace_body(x, f),
    "body-other": lambda x, f, o: replace_body(x, f, o),
    "body+crop-upper+jpeg40": lambda x, f, o: jpeg(crop_upper(replace_body(x, f, o), f), 40),
    "crop-face": lambda x, f, o: crop_upper(x, f, tight=True),
    "body+scale0.3": lambda x, f, o: resize(replace_body(x, f), 0.3),
    "body+scale0.5+jpeg50": lambda x, f, o: jpeg(resize(replace_body(x, f, o), 0.5), 50),
    "body+scale2": lambda x, f, o: resize(replace_body(x, f), 2.0),
    "body+stickers30": lambda x, f, o: stickers(replace_body(x, f, o), f, 0.3),
    "body+mirror": lambda x, f, o: mirror(replace_body(x, f, o)),
    "body+rotate4": lambda x, f, o: rotate(replace_body(x, f), 4.0),
    "body+mirror+rotate-3+jpeg60": lambda x, f, o: jpeg(rotate(mirror(replace_body(x, f, o)), -3.0), 60),
    "crop-upper+scale1.5+stickers": lambda x, f, o: stickers(resize(crop_upper(x, f), 1.5), None, 0.2, 1),
}
"""Name → derivative of (photo, its face box, another photo)."""

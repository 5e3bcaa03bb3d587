"""Thumbnails of originals, blurred on the server unless a reveal is asked for (and audited).

Blurring happens here, on the pixels, before anything leaves the server: the browser's CSS blur is only a
second layer. A blurred thumbnail is pixelated to a 12-pixel-wide mosaic and then Gaussian-blurred, so no
detail survives; it is read from the vault without a ``vault.view`` entry because it shows nothing.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from threading import Lock

from PIL import Image, ImageFilter, ImageOps

from jikimi.errors import JikimiError

SIZE = 320
MOSAIC = 12
_CACHE: OrderedDict[tuple[str, bool, bool], bytes] = OrderedDict()
_FACES: OrderedDict[tuple[int, bool], bytes] = OrderedDict()
_CACHE_MAX = 512
_LOCK = Lock()


def _first_frame(data: bytes) -> Image.Image:
    from jikimi.media import load

    media = load(data, name="original")
    if media.kind == "image" and media.image is not None:
        return media.image
    for frame in media.frames(every_seconds=1.0):
        return Image.fromarray(frame.rgb)
    raise JikimiError("the original has no frame to show", code="media.no_frame")


def render(
    data: bytes, *, blurred: bool, grey: bool = False, box: tuple[int, int, int, int] | None = None
) -> bytes:
    """A JPEG thumbnail (at most ``SIZE`` pixels a side) of an image or a video's first frame; with ``box``
    (left, top, right, bottom), of that face with a margin around it."""
    img = _first_frame(data).convert("RGB")
    if box is not None and box[2] > box[0] and box[3] > box[1]:
        left, top, right, bottom = box
        margin = max(right - left, bottom - top) // 2
        img = img.crop(
            (
                max(0, left - margin),
                max(0, top - margin),
                min(img.width, right + margin),
                min(img.height, bottom + margin),
            )
        )
    img.thumbnail((SIZE, SIZE))
    if blurred:
        w, h = img.size
        small = img.resize((MOSAIC, max(1, round(MOSAIC * h / w))), Image.Resampling.BOX)
        img = small.resize((w, h), Image.Resampling.BILINEAR).filter(
            ImageFilter.GaussianBlur(radius=max(w, h) / 24)
        )
    if grey:
        img = ImageOps.grayscale(img).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def blurred_thumbnail(sha256: str, data_loader: object, *, grey: bool = False) -> bytes:
    """The blurred thumbnail of ``sha256`` (cached; ``data_loader()`` reads the original when needed)."""
    key = (sha256, True, grey)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    out = render(data_loader(), blurred=True, grey=grey)  # type: ignore[operator]
    with _LOCK:
        _CACHE[key] = out
        while len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    return out


def blurred_face(face_id: int, loader: object, *, grey: bool = False) -> bytes:
    """The blurred crop of an enrolled face (``loader()`` returns the kept photo and the face box), cached
    so the kept photo is decrypted (and audited) once per process, not at every page load."""
    key = (face_id, grey)
    with _LOCK:
        if key in _FACES:
            _FACES.move_to_end(key)
            return _FACES[key]
    data, box = loader()  # type: ignore[operator]
    out = render(data, blurred=True, grey=grey, box=box)
    with _LOCK:
        _FACES[key] = out
        while len(_FACES) > _CACHE_MAX:
            _FACES.popitem(last=False)
    return out

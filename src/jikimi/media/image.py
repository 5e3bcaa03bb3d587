"""Pillow decoding with limits, plain-language errors and colour-mode handling."""

from __future__ import annotations

import io
import re
import warnings
from typing import IO

import numpy as np
import pillow_heif
from PIL import Image, ImageFile

from jikimi.media.types import Label, Limits, MediaError, megapixels

# HEIC/HEIF through pillow-heif (AVIF is built into Pillow).
pillow_heif.register_heif_opener()

_TRUNCATED = re.compile(r"truncated|premature end|broken data stream|unexpected end", re.I)


def _open_factory(data: IO[bytes], fmt: str) -> Image.Image:
    """Open with the format's plugin directly (no global bomb check), to read the declared size."""
    Image.init()
    factory, _accept = Image.OPEN[fmt]
    data.seek(0)
    return factory(data, "")  # type: ignore[no-any-return,arg-type,unused-ignore]


def check_pixels(size: tuple[int, int], limits: Limits) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise MediaError("image declares an empty size ({w}x{h})", code="media.empty_size", w=w, h=h)
    if w * h > limits.max_pixels:
        raise MediaError(
            "image is {w}x{h}, over the {limit} limit",
            code="media.too_many_pixels",
            hint="ask an administrator to raise the picture size limit if this file is trusted",
            cli_hint="raise Limits.max_pixels (JIKIMI_MEDIA_MAX_PIXELS) if this file is trusted",
            w=w,
            h=h,
            limit=megapixels(limits.max_pixels),
        )


def open_image(data: bytes, pillow_format: str, label: Label, limits: Limits) -> Image.Image:
    """Parse the header (no pixels yet) and check the declared size against ``limits``."""
    fp = io.BytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        im: Image.Image
        try:
            im = Image.open(fp, formats=[pillow_format])
        except Image.DecompressionBombError:
            try:
                im = _open_factory(fp, pillow_format)
            except Exception:
                raise MediaError(
                    "{label} declares an image over the {limit} limit",
                    code="media.too_many_pixels",
                    label=label,
                    limit=megapixels(limits.max_pixels),
                ) from None
        except Exception as exc:
            raise _describe(exc, label, header=True) from None
    check_pixels(im.size, limits)
    return im


def decode(im: Image.Image, label: Label, limits: Limits) -> Image.Image:
    """Decode all pixels of the (current frame of the) image, raising ``MediaError`` on damage."""
    check_pixels(im.size, limits)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im.load()
        except Image.DecompressionBombError:
            raise MediaError(
                "image is {w}x{h}, over the limit", code="media.too_many_pixels", w=im.width, h=im.height
            ) from None
        except MediaError:
            raise
        except Exception as exc:
            raise _describe(exc, label) from None
    return im


def _describe(exc: BaseException, label: Label, header: bool = False) -> MediaError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return MediaError("{label} is too large to decode in memory", code="media.too_large", label=label)
    if _TRUNCATED.search(text) or isinstance(exc, EOFError):
        return MediaError(
            "truncated {label} (the file ends before the picture does)", code="media.truncated", label=label
        )
    if header:
        return MediaError("damaged {label} header ({detail})", code="media.damaged", label=label, detail=text)
    return MediaError("damaged {label} data ({detail})", code="media.damaged", label=label, detail=text)


def draft_decode(
    data: bytes, pillow_format: str, min_side: int, label: Label, limits: Limits, mode: str
) -> Image.Image:
    """Decode a JPEG at 1/2, 1/4 or 1/8 scale in the DCT domain, keeping the shorter side >= ``min_side``.

    Other formats decode at full size. ``mode`` is "RGB" or "L" (JPEG luma straight from the Y channel).
    """
    im = open_image(data, pillow_format, label, limits)
    if pillow_format == "JPEG" and min(im.size) // max(min_side, 1) >= 2:
        # draft picks the largest of 1/8, 1/4, 1/2 that keeps both sides >= the requested size.
        im.draft("L" if mode == "L" and im.mode in ("RGB", "L") else None, (min_side, min_side))
    return decode(im, label, limits)


def _scale_to_u8(a: np.ndarray) -> np.ndarray:
    """Greyscale of any depth to 0..255: values already in 0..255 stay (8-bit data in a wide container, as
    Pillow's own conversions make), 16-bit ranges are divided by 257, floats in 0..1 multiplied by 255,
    anything else stretched from its minimum to its maximum."""
    a = a.astype(np.float64, copy=False)
    hi = float(np.nanmax(a)) if a.size else 0.0
    lo = float(np.nanmin(a)) if a.size else 0.0
    if lo < 0.0 or hi > 65535.0:
        a = (a - lo) * (255.0 / max(hi - lo, 1e-12))
    elif a.dtype.kind == "f" and hi <= 1.0:
        a = a * 255.0
    elif hi > 255.0:
        a = a / 257.0
    return np.clip(np.nan_to_num(a) + 0.5, 0, 255).astype(np.uint8)


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow colour mode as 8-bit RGB.

    Alpha is dropped (as PDQ's reference does); 16-bit, 32-bit integer and float greyscale are scaled to
    0..255 rather than clipped (Pillow's own conversion clips everything above 255 to white).
    """
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = _scale_to_u8(np.asarray(im))
        return Image.fromarray(np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)), "RGB")
    if mode in ("La", "RGBa"):
        im = im.convert("LA" if mode == "La" else "RGBA")
    if mode == "LAB":
        from PIL import ImageCms

        lab = ImageCms.createProfile("LAB")
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(im, lab, srgb, outputMode="RGB")  # type: ignore[return-value]
    return im.convert("RGB")


def pytx_array(im: Image.Image) -> np.ndarray:
    """The exact pixel array python-threatexchange 1.2.17's ``pdq_from_file`` hands to ``pdqhash``.

    Quirks kept on purpose (they define the reference hashes): CMYK passes C, M, Y as R, G, B; palette
    images pass palette indices; mode 1 passes booleans. Modes the reference cannot hash (I, F, PA...)
    raise ``MediaError``.
    """
    if im.mode in ("LA", "I;16"):
        im = im.convert("RGB")
    array = np.asarray(im)
    if array.ndim == 2:
        array = np.concatenate([array[..., np.newaxis]] * 3, axis=2)
    if array.dtype not in (np.uint8, np.int8, np.bool_) or array.shape[2] < 3:
        raise MediaError(
            "the reference PDQ decode cannot hash colour mode {mode}", code="media.colour_mode", mode=im.mode
        )
    return array


__all__ = ["ImageFile", "check_pixels", "decode", "draft_decode", "open_image", "pytx_array", "to_rgb"]

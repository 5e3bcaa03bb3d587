"""Recognise a file's type from its first bytes (never from its name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jikimi.errors import Text

Kind = Literal["image", "video"]

#: How many leading bytes ``sniff`` needs.
HEAD_BYTES = 64

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BMP_HEADERS = {12, 16, 40, 52, 56, 64, 108, 124}
_MOV_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


@dataclass(frozen=True)
class Sniffed:
    """What the bytes look like: ``kind`` and a container/format name (``JPEG``, ``PNG``, ``MP4``...).

    ``pillow`` is the Pillow format name to open it with (images and animations), else ``None``.
    """

    kind: Kind
    format: str
    pillow: str | None


def sniff(head: bytes) -> Sniffed | None:
    """Identify an image or video container from its leading bytes; ``None`` when it is neither."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "JPEG", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "PNG", "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed("image", "GIF", "GIF")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed("image", "WEBP", "WEBP")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Sniffed("video", "AVI", None)
    if head[:2] == b"BM" and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_HEADERS:
        return Sniffed("image", "BMP", "BMP")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Sniffed("image", "TIFF", "TIFF")
    if head[:4] == b"\x1a\x45\xdf\xa3":
        fmt = "WEBM" if b"webm" in head else "MKV"
        return Sniffed("video", fmt, None)
    if head[4:8] == b"ftyp":
        major = head[8:12]
        brands = {major} | {head[i : i + 4] for i in range(16, min(len(head), 40), 4)}
        if major in _HEIF_BRANDS or (
            major not in _AVIF_BRANDS and brands & _HEIF_BRANDS and b"isom" not in brands
        ):
            return Sniffed("image", "HEIF", "HEIF")
        if major in _AVIF_BRANDS:
            return Sniffed("image", "AVIF", "AVIF")
        if major == b"qt  ":
            return Sniffed("video", "MOV", None)
        if major.startswith(b"3g"):
            return Sniffed("video", "3GP", None)
        return Sniffed("video", "MP4", None)
    if head[4:8] in _MOV_ATOMS:
        return Sniffed("video", "MOV", None)
    if head[:3] == b"FLV":
        return Sniffed("video", "FLV", None)
    if head[:4] == b"\x00\x00\x01\xba":
        return Sniffed("video", "MPEG", None)
    # No magic number (MPEG transport streams...): ``load`` asks FFmpeg.
    return None


def describe_unknown(head: bytes) -> Text:
    """A short guess at what a non-media file is, for the error message (catalogued text)."""
    if not head:
        return Text("empty")
    stripped = head.lstrip()
    if stripped[:5].lower() in (b"<!doc", b"<html") or stripped[:5] == b"<?xml":
        return Text("looks like HTML/XML text")
    if head[:4] == b"%PDF":
        return Text("looks like a PDF document")
    if head[:4] == b"PK\x03\x04":
        return Text("looks like a ZIP archive")
    text = None
    for cut in range(4):  # the head may end inside a multi-byte character (Korean text...)
        try:
            text = head[: len(head) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            continue
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        return Text("looks like text")
    return Text("unrecognised binary data")

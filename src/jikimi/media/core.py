"""``load`` a file or bytes into a ``Media``: type from the bytes, limits checked, decoded once."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from jikimi.errors import Text
from jikimi.media import image as _image
from jikimi.media import video as _video
from jikimi.media.sniff import HEAD_BYTES, Sniffed, describe_unknown, sniff
from jikimi.media.types import Frame, Label, Limits, MediaError, file_label, human_size, video_label

_CHUNK = 1 << 20
#: Formats whose several frames are an animation (read as a video); other multi-image files give frame 0.
_ANIMATED_FORMATS = {"GIF", "WEBP", "PNG"}
#: FFmpeg demuxers accepted when the magic bytes were not enough (never "tty", "image2"...).
_FFMPEG_VIDEO_FORMATS = {
    "MPEGTS",
    "MPEG",
    "MPEGVIDEO",
    "ASF",
    "OGG",
    "FLV",
    "MATROSKA",
    "MOV",
    "AVI",
    "H264",
    "HEVC",
}


class Media:
    """One decoded image or video. Build it with ``load``.

    Images: ``image`` is the picture as 8-bit RGB *as stored* (no EXIF rotation, like PDQ's reference);
    ``upright()`` applies the EXIF orientation for analysers that need people upright. Pixels are decoded on
    first use and kept, so every signal sees the same pixels. Videos (and animated GIF/WebP) give
    ``frames()``.
    """

    def __init__(
        self,
        *,
        kind: Literal["image", "video"],
        name: str,
        size: int,
        md5: str,
        sha256: str,
        format: str,
        path: Path | None,
        data: bytes | None,
        limits: Limits,
        pil: Image.Image | None = None,
        width: int = 0,
        height: int = 0,
        duration: float | None = None,
        fps: float | None = None,
        frame_count: int | None = None,
    ) -> None:
        self.kind: Literal["image", "video"] = kind
        self.name = name
        self.size = size
        self.md5 = md5
        self.sha256 = sha256
        self.format = format
        self.path = path
        self.limits = limits
        self.width = width
        self.height = height
        self.duration = duration
        self.fps = fps
        self.frame_count = frame_count
        self._data = data
        self._pil = pil

    def __repr__(self) -> str:
        extra = f", {self.duration:.1f} s" if self.duration is not None else ""
        return f"<Media {self.kind} {self.format} {self.width}x{self.height}{extra} {self.name!r}>"

    @property
    def label(self) -> Label:
        """``"JPEG file"``, ``"MP4 video"``: what the errors call this file (a catalogued message)."""
        if self.kind == "video" and self._pil is None:
            return video_label(self.format)
        return file_label(self.format)

    @property
    def animated(self) -> bool:
        """An animated GIF/WebP/PNG, treated as a video."""
        return self.kind == "video" and self._pil is not None

    @property
    def mode(self) -> str | None:
        """The stored Pillow colour mode of an image (``"RGB"``, ``"CMYK"``, ``"P"``...)."""
        return self._pil.mode if self._pil is not None else None

    def data(self) -> bytes:
        """The file's bytes (read again from disk for a path-backed video)."""
        if self._data is not None:
            return self._data
        assert self.path is not None
        return self.path.read_bytes()

    # -- images -------------------------------------------------------------------------------------------
    def _require_image(self) -> Image.Image:
        if self.kind != "image" or self._pil is None:
            raise MediaError(
                "{name} is a video: use frames() instead of the single image",
                code="media.not_an_image",
                name=self.name,
            )
        return self._pil

    @cached_property
    def original(self) -> Image.Image:
        """The decoded image in its stored colour mode (decoded once, then cached)."""
        return _image.decode(self._require_image(), self.label, self.limits)

    @cached_property
    def image(self) -> Image.Image:
        """The picture as 8-bit RGB (alpha dropped, 16-bit/float scaled, CMYK/LAB/HSV/palette converted)."""
        try:
            return _image.to_rgb(self.original)
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(
                "cannot convert colour mode {mode} to RGB ({detail})",
                code="media.colour_mode",
                mode=self.original.mode,
                detail=str(exc),
            ) from None

    @cached_property
    def _rgb(self) -> np.ndarray:
        arr = np.asarray(self.image)
        arr.flags.writeable = False  # shared by every analyser: none may change another's input
        return arr

    def rgb(self) -> np.ndarray:
        """HxWx3 uint8 RGB pixels of an image (converted once, then shared read-only)."""
        return self._rgb

    @property
    def orientation(self) -> int:
        """The EXIF orientation tag (1 = upright; 3, 6, 8 rotated; 2, 4, 5, 7 mirrored)."""
        if self._pil is None:
            return 1
        try:
            return int(self._pil.getexif().get(0x0112, 1) or 1)
        except Exception:
            return 1

    def upright(self) -> Image.Image:
        """``image`` turned upright by its EXIF orientation (for faces; hashes use ``image`` as stored)."""
        im = self.image
        if self.orientation == 1:
            return im
        method = {
            2: Image.Transpose.FLIP_LEFT_RIGHT,
            3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_270,
            7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90,
        }.get(self.orientation)
        return im.transpose(method) if method is not None else im

    def reduced(self, min_side: int, mode: Literal["RGB", "L"] = "RGB") -> Image.Image | None:
        """The image decoded cheaply at reduced size, or ``None`` when the format offers no such decode.

        JPEG: DCT-domain scaling to 1/2, 1/4 or 1/8 with the shorter side kept >= ``min_side`` (Pillow
        ``draft``); ``mode="L"`` reads luma straight from the Y channel. Deterministic (never depends on
        what was decoded before) and not cached.
        """
        pil = self._require_image()
        if self.format != "JPEG" or min(pil.size) < 2 * min_side:
            return None
        small = _image.draft_decode(self.data(), "JPEG", min_side, self.label, self.limits, mode)
        if mode == "L":
            return small if small.mode == "L" else _image.to_rgb(small).convert("L")
        return _image.to_rgb(small)

    # -- frames -------------------------------------------------------------------------------------------
    def frames(self, every_seconds: float = 1.0) -> Iterator[Frame]:
        """Decoded RGB frames, one per ``every_seconds`` (0 = every frame; vPDQ's selection for videos).

        An image yields one frame (index 0, time 0).
        """
        if self.kind == "image":
            yield Frame(0, 0.0, self.rgb())
        elif self._pil is not None:
            yield from _video.iter_animation(self._pil, self.label, every_seconds, self.limits)
        else:
            source: Path | bytes = self.path if self.path is not None else self.data()
            yield from _video.iter_video(source, self.label, every_seconds, self.limits)


def _read_path(path: Path, limits: Limits) -> tuple[os.stat_result, bytes]:
    """Stat the path and read its first bytes, turning every OS failure into a plain reason."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise MediaError(
                "broken symbolic link: its target does not exist", code="media.broken_link"
            ) from None
        raise MediaError("no such file", code="media.no_such_file", hint="check the path") from None
    except PermissionError:
        raise MediaError(
            "permission denied: cannot reach the file",
            code="media.permission_denied",
            hint="check the folder permissions",
        ) from None
    except OSError as exc:
        raise _os_error(exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(
            "is a folder, not a file",
            code="media.is_folder",
            hint="choose the files inside the folder",
            cli_hint="use --recursive to hash the files inside",
        )
    if not stat.S_ISREG(st.st_mode):
        kind = Text("named pipe (FIFO)") if stat.S_ISFIFO(st.st_mode) else Text("device or socket")
        raise MediaError("not a regular file (it is a {kind})", code="media.not_regular_file", kind=kind)
    if st.st_size == 0:
        raise MediaError("empty file (0 bytes)", code="media.empty")
    if st.st_size > limits.max_file_bytes:
        raise MediaError(
            "file is {size}, over the {limit} limit",
            code="media.file_too_large",
            hint="ask an administrator to raise the file size limit",
            cli_hint="raise Limits.max_file_bytes (JIKIMI_MEDIA_MAX_FILE_BYTES) to accept it",
            size=human_size(st.st_size),
            limit=human_size(limits.max_file_bytes),
        )
    try:
        with open(path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
    except PermissionError:
        raise MediaError(
            "permission denied: the file cannot be read",
            code="media.permission_denied",
            hint="check the file's permissions",
        ) from None
    except OSError as exc:
        raise _os_error(exc) from None
    return st, head


def _os_error(exc: OSError) -> MediaError:
    if exc.errno == errno.ELOOP:
        return MediaError("symbolic link loop: the link points back to itself", code="media.link_loop")
    if exc.errno == errno.ENAMETOOLONG:
        return MediaError("the path is too long", code="media.path_too_long")
    if exc.errno == errno.EIO:
        return MediaError(
            "input/output error while reading (failing disk or network drive?)", code="media.io_error"
        )
    return MediaError(
        "cannot read the file ({detail})", code="media.unreadable", detail=str(exc.strerror or exc)
    )


def _hash_file(path: Path, keep: bool) -> tuple[str, str, int, bytes | None]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    parts: list[bytes] = []
    n = 0
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                md5.update(chunk)
                sha.update(chunk)
                n += len(chunk)
                if keep:
                    parts.append(chunk)
    except OSError as exc:
        raise _os_error(exc) from None
    return md5.hexdigest(), sha.hexdigest(), n, (b"".join(parts) if keep else None)


def _hash_bytes(data: bytes) -> tuple[str, str, int]:
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest(), len(data)


def load(
    source: Path | str | bytes,
    *,
    limits: Limits | None = None,
    name: str | None = None,
) -> Media:
    """Open an image or video from a path or bytes. The type comes from the bytes, never the name.

    Images are parsed and checked against ``limits`` here; pixels are decoded on first use (``image``,
    ``rgb()``, ``frames()``) and kept. Videos are probed (header, limits, first frame). Any problem raises
    ``MediaError`` with a reason a person understands.
    """
    limits = limits or Limits.from_env()
    path: Path | None = None
    if isinstance(source, bytes | bytearray | memoryview):
        data: bytes | None = bytes(source)
        assert data is not None
        if not data:
            raise MediaError("empty file (0 bytes)", code="media.empty")
        if len(data) > limits.max_file_bytes:
            raise MediaError(
                "file is {size}, over the {limit} limit",
                code="media.file_too_large",
                size=human_size(len(data)),
                limit=human_size(limits.max_file_bytes),
            )
        head = data[:HEAD_BYTES]
        n_bytes = len(data)
        display = name or "<bytes>"
    else:
        path = Path(source)
        display = name or str(path)
        st, head = _read_path(path, limits)
        n_bytes = st.st_size
        data = None

    found: Sniffed | None = sniff(head)
    if found is None:
        found = _sniff_with_ffmpeg(path, data)
    if found is None:
        raise MediaError(
            "not an image or video ({unknown})", code="media.not_media", unknown=describe_unknown(head)
        )

    if found.kind == "image" or found.pillow is not None:
        if n_bytes > limits.max_image_bytes:
            raise MediaError(
                "image file is {size}, over the {limit} limit",
                code="media.file_too_large",
                hint="ask an administrator to raise the image file size limit",
                cli_hint="raise Limits.max_image_bytes (JIKIMI_MEDIA_MAX_IMAGE_BYTES) to accept it",
                size=human_size(n_bytes),
                limit=human_size(limits.max_image_bytes),
            )
        if data is None:
            assert path is not None
            md5, sha, size, data = _hash_file(path, keep=True)
            assert data is not None
        else:
            md5, sha, size = _hash_bytes(data)
        assert found.pillow is not None
        label: Label = found.format
        pil = _image.open_image(data, found.pillow, label, limits)
        frames = 1
        if found.format in _ANIMATED_FORMATS:  # multi-page TIFF, MPO and HEIF collections: first picture
            try:
                frames = int(getattr(pil, "n_frames", 1) or 1)
            except Exception as exc:
                raise MediaError(
                    "damaged {label} animation ({detail})", code="media.damaged", label=label, detail=str(exc)
                ) from None
        if frames > 1:
            info = _video.probe_animation(pil, label, limits)
            return Media(
                kind="video",
                name=display,
                size=size,
                md5=md5,
                sha256=sha,
                format=found.format,
                path=path,
                data=data,
                limits=limits,
                pil=pil,
                width=pil.width,
                height=pil.height,
                duration=info.duration,
                fps=(info.frame_count / info.duration) if info.duration else None,
                frame_count=info.frame_count,
            )
        return Media(
            kind="image",
            name=display,
            size=size,
            md5=md5,
            sha256=sha,
            format=found.format,
            path=path,
            data=data,
            limits=limits,
            pil=pil,
            width=pil.width,
            height=pil.height,
        )

    label = video_label(found.format)
    if data is None:
        assert path is not None
        md5, sha, size, _ = _hash_file(path, keep=False)
        vinfo = _video.probe_video(path, label, limits)
    else:
        md5, sha, size = _hash_bytes(data)
        vinfo = _video.probe_video(data, label, limits)
    return Media(
        kind="video",
        name=display,
        size=size,
        md5=md5,
        sha256=sha,
        format=found.format,
        path=path,
        data=data,
        limits=limits,
        width=vinfo.width,
        height=vinfo.height,
        duration=vinfo.duration,
        fps=vinfo.fps or None,
        frame_count=vinfo.frame_count,
    )


def _sniff_with_ffmpeg(path: Path | None, data: bytes | None) -> Sniffed | None:
    """Containers without a fixed magic number (MPEG-TS...): accept them if FFmpeg finds a video stream."""
    import io

    import av

    try:
        container = av.open(str(path) if path is not None else io.BytesIO(data or b""), mode="r")
    except Exception:
        return None
    try:
        if not container.streams.video:
            return None
        fmt = (container.format.name or "").split(",")[0].upper()
        return Sniffed("video", fmt, None) if fmt in _FFMPEG_VIDEO_FORMATS else None
    finally:
        container.close()

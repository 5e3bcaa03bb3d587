"""The small value types of ``jikimi.media``: the error, the limits and a video frame."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np

from jikimi.errors import JikimiError, Message


class MediaError(JikimiError):
    """A file could not be read as an image or video; ``reason`` says why in plain words."""


#: What the errors call a file: a bare format ("JPEG"), or a :func:`file_label`/:func:`video_label` message.
Label = str | Message


def file_label(fmt: str) -> Message:
    """``"JPEG file"`` (an image, or an animation read as a video), a catalogued message."""
    return Message("{format} file", {"format": fmt})


def video_label(fmt: str) -> Message:
    """``"MP4 video"``, a catalogued message."""
    return Message("{format} video", {"format": fmt})


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise JikimiError(
            "{name}={raw!r} is not a number",
            code="media.limit_setting",
            hint="ask an administrator to correct the media limit settings",
            cli_hint="set {name} to a number or unset it",
            name=name,
            raw=raw,
        ) from None


@dataclass(frozen=True)
class Limits:
    """What ``load`` accepts before refusing a file. All are configurable (also via ``JIKIMI_MEDIA_*``).

    ``max_image_bytes`` bounds image files, which are read into memory (videos stream from disk up to
    ``max_file_bytes``). ``max_pixels`` bounds every decoded image and animation frame (Pillow's
    decompression-bomb check is replaced by this limit and always raised as an error);
    ``max_video_pixels`` bounds a video's frame size.
    """

    max_pixels: int = 100_000_000
    max_file_bytes: int = 4 * 1024**3
    max_image_bytes: int = 512 * 1024**2
    max_video_seconds: float = 4 * 3600.0
    max_video_pixels: int = 7680 * 4320
    max_animation_frames: int = 20_000

    @classmethod
    def from_env(cls) -> Limits:
        """Defaults overridden by ``JIKIMI_MEDIA_MAX_PIXELS``, ``..._MAX_FILE_BYTES``,
        ``..._MAX_VIDEO_SECONDS``, ``..._MAX_VIDEO_PIXELS`` and ``..._MAX_ANIMATION_FRAMES``."""
        values: dict[str, float] = {}
        for f in fields(cls):
            default = f.default
            assert isinstance(default, int | float)
            value = _env_number(f"JIKIMI_MEDIA_{f.name.upper()}", float(default))
            values[f.name] = int(value) if isinstance(default, int) else value
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded picture: its index in decode order, its time in seconds and HxWx3 uint8 RGB pixels."""

    index: int
    timestamp: float
    rgb: np.ndarray


def megapixels(pixels: float) -> str:
    mp = pixels / 1e6
    return f"{mp:.0f} MP" if mp >= 10 or mp == int(mp) else f"{mp:.1f} MP"


def human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def duration_text(seconds: float) -> Message:
    """:func:`human_duration` as a catalogued message (for error messages shown in Korean too)."""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return Message("{h} h {m} min", {"h": h, "m": m})
    if m:
        return Message("{m} min {s} s", {"m": m, "s": sec})
    return Message("{s} s", {"s": f"{seconds:.1f}"})


def human_duration(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if h:
        return f"{h} h {m} min"
    if m:
        return f"{m} min {sec} s"
    return f"{seconds:.1f} s"

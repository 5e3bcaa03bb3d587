"""Video decoding through PyAV (FFmpeg), and animated GIF/WebP read as videos through Pillow."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from jikimi.media.image import decode, to_rgb
from jikimi.media.types import Frame, Label, Limits, MediaError, duration_text, megapixels

#: GIF/WebP frames that declare no (or a tiny) delay are shown for 0.1 s by browsers; so do we.
DEFAULT_ANIMATION_DELAY = 0.1


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration: float
    fps: float
    frame_count: int | None
    codec: str


def _open_container(source: Path | bytes, label: Label) -> Any:
    import av

    try:
        return av.open(str(source) if isinstance(source, Path) else io.BytesIO(source), mode="r")
    except av.error.PermissionError:
        raise MediaError(
            "permission denied: the file cannot be read",
            code="media.permission_denied",
            hint="check the file's permissions",
        ) from None
    except (av.error.InvalidDataError, av.error.EOFError):
        raise MediaError(
            "damaged or unreadable {label} (FFmpeg cannot parse the container)",
            code="media.damaged",
            label=label,
        ) from None
    except av.error.FFmpegError as exc:
        raise MediaError(
            "unreadable {label} ({detail})",
            code="media.unreadable",
            label=label,
            detail=str(exc.strerror or exc),
        ) from None


def _video_stream(container: Any, label: Label) -> Any:
    if not container.streams.video:
        raise MediaError(
            "{label} has no video stream (audio only or empty)", code="media.no_video_stream", label=label
        )
    return container.streams.video[0]


def _fps(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and float(rate) > 0:
            return float(rate)
    return 0.0


def _duration(container: Any, stream: Any, fps: float) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    if stream.frames and fps:
        return stream.frames / fps
    return 0.0


def probe_video(source: Path | bytes, label: Label, limits: Limits) -> VideoInfo:
    """Read the container header, check the limits and decode the first frame to prove the data is sound."""
    import av

    container = _open_container(source, label)
    try:
        stream = _video_stream(container, label)
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise MediaError(
                "{label} declares no frame size (damaged header)", code="media.damaged", label=label
            )
        if width * height > limits.max_video_pixels:
            raise MediaError(
                "video is {w}x{h}, over the {limit} frame limit",
                code="media.too_many_pixels",
                hint="ask an administrator to raise the video frame size limit if this file is trusted",
                cli_hint=(
                    "raise Limits.max_video_pixels (JIKIMI_MEDIA_MAX_VIDEO_PIXELS) if this file is trusted"
                ),
                w=width,
                h=height,
                limit=megapixels(limits.max_video_pixels),
            )
        fps = _fps(stream)
        duration = _duration(container, stream, fps)
        if duration > limits.max_video_seconds:
            raise MediaError(
                "video is {duration} long, over the {limit} limit",
                code="media.too_long",
                hint="ask an administrator to raise the video length limit",
                cli_hint="raise Limits.max_video_seconds (JIKIMI_MEDIA_MAX_VIDEO_SECONDS) to accept it",
                duration=duration_text(duration),
                limit=duration_text(limits.max_video_seconds),
            )
        try:
            first = next(container.decode(stream), None)
        except av.error.FFmpegError:
            raise MediaError(
                "damaged {label} data (the first frame cannot be decoded)", code="media.damaged", label=label
            ) from None
        if first is None:
            raise MediaError("{label} contains no decodable frames", code="media.no_frames", label=label)
        return VideoInfo(
            width=width,
            height=height,
            duration=duration,
            fps=fps,
            frame_count=stream.frames or None,
            codec=stream.codec_context.name,
        )
    finally:
        container.close()


def frame_step(every_seconds: float, fps: float) -> int:
    """vPDQ's frame selection: every ``int(every_seconds * fps)``-th decoded frame (at least every frame)."""
    if every_seconds <= 0 or fps <= 0:
        return 1
    return max(1, int(every_seconds * fps))


def iter_video(source: Path | bytes, label: Label, every_seconds: float, limits: Limits) -> Iterator[Frame]:
    """Decode frames in order and yield every ``frame_step``-th one as RGB (timestamp = index / fps)."""
    import av

    container = _open_container(source, label)
    try:
        stream = _video_stream(container, label)
        stream.thread_type = "AUTO"
        fps = _fps(stream)
        step = frame_step(every_seconds, fps)
        index = 0
        try:
            for frame in container.decode(stream):
                if index % step == 0:
                    if frame.width * frame.height > limits.max_video_pixels:
                        raise MediaError(
                            "video frame {index} is {w}x{h}, over the limit",
                            code="media.too_many_pixels",
                            index=index,
                            w=frame.width,
                            h=frame.height,
                        )
                    ts = index / fps if fps else float(frame.time or 0.0)
                    yield Frame(index, ts, frame.to_ndarray(format="rgb24"))
                index += 1
        except av.error.FFmpegError as exc:
            raise MediaError(
                "damaged {label} data at frame {index} ({detail})",
                code="media.damaged",
                label=label,
                index=index,
                detail=str(exc.strerror or exc),
            ) from None
    finally:
        container.close()


@dataclass(frozen=True)
class AnimationInfo:
    frame_count: int
    duration: float


def _delay(im: Image.Image) -> float:
    """How long the current frame shows. WebP reports it only once the frame is decoded."""
    if im.format == "WEBP":
        im.load()
    ms = im.info.get("duration") or 0
    try:
        seconds = float(ms) / 1000.0
    except (TypeError, ValueError):
        seconds = 0.0
    return seconds if seconds > 0.01 else DEFAULT_ANIMATION_DELAY


def probe_animation(im: Image.Image, label: Label, limits: Limits) -> AnimationInfo:
    n = int(getattr(im, "n_frames", 1))
    if n > limits.max_animation_frames:
        raise MediaError(
            "animation has {n} frames, over the {limit} frame limit",
            code="media.too_many_frames",
            n=n,
            limit=limits.max_animation_frames,
        )
    total = 0.0
    try:
        for i in range(n):
            im.seek(i)
            total += _delay(im)
        im.seek(0)
        decode(im, label, limits)
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(
            "damaged {label} animation ({detail})", code="media.damaged", label=label, detail=str(exc)
        ) from None
    if total > limits.max_video_seconds:
        raise MediaError(
            "animation is {duration} long, over the limit",
            code="media.too_long",
            duration=duration_text(total),
        )
    return AnimationInfo(frame_count=n, duration=total)


def iter_animation(im: Image.Image, label: Label, every_seconds: float, limits: Limits) -> Iterator[Frame]:
    """Frames of an animated GIF/WebP/PNG, one per ``every_seconds`` of display time (all when 0)."""
    n = int(getattr(im, "n_frames", 1))
    t = 0.0
    next_t = 0.0
    for i in range(n):
        try:
            im.seek(i)
            if every_seconds <= 0 or t + 1e-9 >= next_t:
                decode(im, label, limits)
                rgb = np.asarray(to_rgb(im))
                yield Frame(i, round(t, 6), np.ascontiguousarray(rgb))
                if every_seconds > 0:
                    next_t += every_seconds * max(1, math.floor((t - next_t) / every_seconds) + 1)
            t += _delay(im)
        except MediaError:
            raise
        except Exception as exc:
            raise MediaError(
                "damaged {label} animation at frame {index} ({detail})",
                code="media.damaged",
                label=label,
                index=i,
                detail=str(exc),
            ) from None

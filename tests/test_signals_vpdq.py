"""vPDQ conformance with Meta's reference hashes (upstream rule), sampling and video matching."""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
import pytest

from jikimi.media import load
from jikimi.signals.pdq import PDQSignal
from jikimi.signals.vpdq import VPDQSignal, match

SHORT = ["pattern-sd-grey-bar", "doorknob-hd-no-bar"]
LONG = ["chair-19-sd-bar", "chair-22-sd-grey-bar", "chair-orig-22-sd-bar"]


def reference(shared: Path, name: str) -> list[dict[str, object]]:
    rows = []
    for line in (shared / "reference/vpdq/hashes" / f"{name}.txt").read_text().splitlines():
        frame, quality, hex64, ts = line.split(",")
        rows.append({"frame": int(frame), "quality": int(quality), "hash": hex64, "timestamp": float(ts)})
    return rows


def check_conformance(shared: Path, name: str) -> list[dict[str, object]]:
    got = VPDQSignal(every_seconds=0).extract(load(shared / "reference/vpdq/videos" / f"{name}.mp4"))
    ref = reference(shared, name)
    assert len(got) == len(ref)  # upstream rule 1: same number of frames
    for g, r in zip(got, ref, strict=True):
        assert g["frame"] == r["frame"]
        assert g["timestamp"] == pytest.approx(r["timestamp"], abs=0.001)
        if g["quality"] >= 50 and int(r["quality"]) >= 50:  # upstream rule 2
            assert PDQSignal.distance(g["hash"], r["hash"]) <= 31, (name, g["frame"])
    return got


@pytest.mark.parametrize("name", SHORT)
def test_conformance_short_videos(shared: Path, name: str) -> None:
    check_conformance(shared, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", LONG)
def test_conformance_long_videos(shared: Path, name: str) -> None:
    check_conformance(shared, name)


def test_default_is_one_frame_per_second(shared: Path) -> None:
    media = load(shared / "reference/vpdq/videos/doorknob-hd-no-bar.mp4")
    got = VPDQSignal().extract(media)
    assert [f["frame"] for f in got] == [0, 30, 60, 90]
    assert [f["timestamp"] for f in got] == [0.0, 1.0, 2.0, 3.0]
    assert media.duration == pytest.approx(4.0, abs=0.05)
    ref = {r["frame"]: r for r in reference(shared, "doorknob-hd-no-bar")}
    for f in got:
        assert isinstance(f["hash"], str) and len(f["hash"]) == 64
        r = ref[f["frame"]]
        if f["quality"] >= 50 and int(str(r["quality"])) >= 50:
            assert PDQSignal.distance(f["hash"], str(r["hash"])) <= 31


def test_matching_follows_the_reference_rule(shared: Path) -> None:
    # Edits of one source match each other; different content does not (reference hashes, no decoding).
    a = reference(shared, "chair-orig-22-sd-bar")
    b = reference(shared, "chair-22-sd-grey-bar")
    c = reference(shared, "pattern-sd-grey-bar")
    same = match(a, b)
    assert same.query_percent > 80 and same.target_percent > 80
    other = match(a, c)
    assert other.query_percent < 20 and other.target_percent < 20
    assert match([], a).query_percent == 0.0


def test_reencoded_clip_matches_its_source(shared: Path, tmp_path: Path) -> None:
    src = load(shared / "reference/vpdq/videos/pattern-sd-grey-bar.mp4")
    # Re-encode at half size with another codec and container: a typical re-upload.
    out_path = tmp_path / "reupload.avi"
    with av.open(str(out_path), "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 240, 360, "yuv420p"
        for frame in src.frames(0):
            small = av.VideoFrame.from_ndarray(frame.rgb, format="rgb24").reformat(240, 360)
            for pk in stream.encode(small):
                out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)
    theirs = VPDQSignal().extract(load(out_path))
    ours = VPDQSignal().extract(src)
    result = match(ours, theirs)
    assert result.query_percent >= 80 and result.target_percent >= 80


def test_single_frame_video(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=1)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        img = np.zeros((32, 32, 3), np.uint8)
        img[8:24, 8:24] = 255
        for pk in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
            out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)
    got = VPDQSignal().extract(load(buf.getvalue()))
    assert len(got) == 1 and got[0]["frame"] == 0


def test_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="every_seconds"):
        VPDQSignal(every_seconds=-1)


@pytest.mark.parametrize("every", [1.0, 2.5])
def test_same_frames_and_times_as_the_vpdq_library(tmp_path: Path, every: float) -> None:
    """Meta's ``vpdq`` (its own FFmpeg decode) picks the same frames at the same times (odd frame rate)."""
    from fractions import Fraction

    import vpdq

    path = tmp_path / "odd-rate.mp4"
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=Fraction(15, 2))
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for i in range(40):
            if i % 10 == 0:
                base = (rng.random((8, 12, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
            frame = np.roll(base, i, axis=1)
            for pk in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                out.mux(pk)
        for pk in stream.encode():
            out.mux(pk)
    theirs = vpdq.computeHash(str(path), seconds_per_hash=every)
    ours = VPDQSignal(every_seconds=every).extract(load(path))
    assert [f["frame"] for f in ours] == [t.frame_number for t in theirs]
    assert [f["timestamp"] for f in ours] == pytest.approx([t.timestamp for t in theirs], abs=0.001)
    for f, t in zip(ours, theirs, strict=True):
        if f["quality"] >= 50 and t.quality >= 50:
            assert PDQSignal.distance(f["hash"], t.hex) <= 10

"""The ``nudity`` signal on benign photos only: faces are labelled, nothing is explicit; the detections equal
NudeNet's own; thresholds are configurable and checked; animations report their worst frame."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jikimi.media import load
from jikimi.signals import get
from jikimi.signals.nudity import (
    EXPLICIT_THRESHOLDS,
    LABELS,
    NudityError,
    NuditySignal,
    detect,
    explicit_score,
)

PORTRAITS = [
    "obama/obama.jpg",
    "biden/biden.jpg",
    "rose_leslie/img1.jpg",
    "_scenes/two_people.jpg",
    "_scenes/kit_with_rose.jpg",
    "lin_manuel_miranda/lin-manuel-miranda.png",
]


@pytest.mark.parametrize("name", PORTRAITS)
def test_benign_portraits_have_faces_and_are_not_explicit(shared: Path, name: str) -> None:
    out = get("nudity").extract(load(shared / "faces/portraits" / name))
    assert out["model"] == "nudenet-320n"
    assert out["explicit"] is False
    labels = {d["label"] for d in out["detections"]}
    assert labels & {"FACE_FEMALE", "FACE_MALE"}
    for d in out["detections"]:
        assert d["label"] in LABELS and 0.2 <= d["score"] <= 1.0
        x0, y0, x1, y1 = d["box"]
        assert 0 <= x0 <= x1 and 0 <= y0 <= y1


def test_detections_equal_nudenets_own(shared: Path) -> None:
    from nudenet import NudeDetector

    path = shared / "faces/portraits/_scenes/two_people.jpg"
    ours = detect(np.asarray(Image.open(path).convert("RGB")))
    ref = NudeDetector().detect(str(path))
    assert len(ours) == len(ref)
    for a, b in zip(
        sorted(ours, key=lambda d: d["box"][0]), sorted(ref, key=lambda d: d["box"][0]), strict=True
    ):
        assert a["label"] == b["class"]
        assert a["score"] == pytest.approx(b["score"], abs=2e-3)
        x, y, w, h = b["box"]
        assert a["box"] == pytest.approx([x, y, x + w, y + h], abs=3)


def test_explicit_flag_follows_the_thresholds() -> None:
    dets = [
        {"label": "FACE_FEMALE", "score": 0.9, "box": [0, 0, 1, 1]},
        {"label": "BUTTOCKS_EXPOSED", "score": 0.4, "box": [0, 0, 1, 1]},
    ]
    assert explicit_score(dets, EXPLICIT_THRESHOLDS) == (False, 0.4)
    assert explicit_score(dets, {**EXPLICIT_THRESHOLDS, "BUTTOCKS_EXPOSED": 0.35}) == (True, 0.4)
    assert explicit_score(dets[:1], EXPLICIT_THRESHOLDS) == (False, 0.0)
    covered = [{"label": "BUTTOCKS_COVERED", "score": 0.99, "box": [0, 0, 1, 1]}]
    assert explicit_score(covered, EXPLICIT_THRESHOLDS) == (False, 0.0)
    sig = NuditySignal(thresholds={"FEMALE_BREAST_EXPOSED": 0.8})
    assert sig.thresholds["FEMALE_BREAST_EXPOSED"] == 0.8
    assert sig.thresholds["ANUS_EXPOSED"] == EXPLICIT_THRESHOLDS["ANUS_EXPOSED"]


def test_bad_thresholds_and_pixels_are_refused() -> None:
    with pytest.raises(NudityError, match="unknown nudity label"):
        NuditySignal(thresholds={"NOSE": 0.5})
    with pytest.raises(NudityError, match="between 0 and 1"):
        NuditySignal(thresholds={"ANUS_EXPOSED": 1.5})
    with pytest.raises(NudityError, match="RGB"):
        detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(NudityError, match="too small"):
        detect(np.zeros((1, 5, 3), np.uint8))


def test_an_animation_reports_its_worst_frame(shared: Path) -> None:
    a = Image.open(shared / "faces/portraits/obama/obama.jpg").convert("RGB").resize((320, 400))
    b = Image.new("RGB", (320, 400), (40, 90, 160))
    buf = io.BytesIO()
    a.save(buf, "GIF", save_all=True, append_images=[b, a], duration=1000, loop=0)
    media = load(buf.getvalue())
    out = NuditySignal().extract(media)
    assert out["frames_sampled"] == 3 and out["explicit"] is False and out["explicit_frames"] == 0
    worst = out["worst_frame"]
    assert worst is not None and {"index", "timestamp", "detections"} <= set(worst)

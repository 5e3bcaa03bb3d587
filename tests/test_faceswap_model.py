"""The committed face-swap model: loads with onnxruntime, carries its crop settings and calibrated threshold,
and scores real faces from ../shared/faces/portraits (images, animations) through the ``faceswap`` signal."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jikimi.errors import ConfigError
from jikimi.media import load
from jikimi.signals import get
from jikimi.signals.faceswap import (
    MODEL_PATH,
    FaceSwapModel,
    FaceSwapSignal,
    crop_face,
    detect_boxes,
    get_model,
    landmarks68,
    score_boxes,
    square_box,
    video_score,
)


def test_the_committed_model_loads_and_describes_itself() -> None:
    assert MODEL_PATH.is_file(), "run `make train-detector` to build the model"
    assert MODEL_PATH.stat().st_size <= 20 * 1024 * 1024
    model = FaceSwapModel(MODEL_PATH)
    assert model.info.input_size == 112
    assert 0.0 < model.info.threshold < 1.0
    assert model.info.version.startswith("sbi-")
    x = np.zeros((2, 112, 112, 3), np.uint8)
    s = model.score(x)
    assert s.shape == (2,) and np.all((s >= 0) & (s <= 1))
    assert model.score(np.zeros((0, 112, 112, 3), np.uint8)).shape == (0,)


def test_scores_a_real_face(shared: Path) -> None:
    media = load(shared / "faces/portraits/obama/obama.jpg")
    sig = get("faceswap")
    assert isinstance(sig, FaceSwapSignal)
    out = sig.extract(media)
    assert len(out["faces"]) == 1
    face = out["faces"][0]
    left, top, right, bottom = face["box"]
    assert 0 <= left < right <= media.width and 0 <= top < bottom <= media.height
    assert 0.0 <= face["score"] <= 1.0
    assert out["score"] == face["score"] and out["threshold"] == pytest.approx(
        get_model().info.threshold, abs=1e-4
    )
    assert out["above_threshold"] == (out["score"] >= out["threshold"])
    assert sig.extract(media) == out  # deterministic
    rgb = np.asarray(media.upright())
    box = tuple(float(v) for v in face["box"])
    assert score_boxes(rgb, [box])[0] == pytest.approx(face["score"], abs=1e-4)


def test_two_faces_score_separately_and_the_image_takes_the_maximum(shared: Path) -> None:
    out = FaceSwapSignal().extract(load(shared / "faces/portraits/_scenes/two_people.jpg"))
    assert len(out["faces"]) == 2
    assert out["score"] == max(f["score"] for f in out["faces"])


def test_no_face_means_no_score() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(buf, "PNG")
    out = FaceSwapSignal().extract(load(buf.getvalue()))
    assert out["faces"] == [] and out["score"] is None and out["above_threshold"] is False


def test_an_animation_is_scored_over_its_frames(shared: Path) -> None:
    frames = [
        Image.open(shared / "faces/portraits/obama/obama.jpg").convert("RGB").resize((364, 455)),
        Image.open(shared / "faces/portraits/biden/biden.jpg")
        .convert("RGB")
        .resize((300, 300))
        .crop((0, 0, 364, 455)),
    ]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=1000, loop=0)
    media = load(buf.getvalue())
    assert media.kind == "video"
    out = FaceSwapSignal(every_seconds=1.0).extract(media)
    assert out["frames_sampled"] == 2 and out["frames_with_faces"] >= 1
    assert out["score"] == pytest.approx(video_score([f["score"] for f in out["top_frames"]]), abs=1e-3)


def test_crop_follows_the_landmarks_and_survives_the_image_edge(shared: Path) -> None:
    rgb = np.asarray(Image.open(shared / "faces/portraits/biden/biden.jpg").convert("RGB"))
    boxes = detect_boxes(rgb)
    assert boxes
    lm = landmarks68(rgb, boxes[0])
    assert lm.shape == (68, 2)
    x0, y0, x1, y1 = boxes[0]
    assert x0 - 20 <= lm[:, 0].mean() <= x1 + 20 and y0 - 20 <= lm[:, 1].mean() <= y1 + 20
    cx, _, side = square_box(lm, 0.25)
    assert side >= (lm[:, 0].max() - lm[:, 0].min()) * 1.25 - 1e-6
    crop = crop_face(rgb, landmarks=lm)
    assert crop.shape == (112, 112, 3) and crop.dtype == np.uint8
    # A face cut by the image edge still gives a full crop (reflected border).
    edge = crop_face(rgb[:, int(cx) :], landmarks=lm - [int(cx), 0])
    assert edge.shape == (112, 112, 3)
    with pytest.raises(ValueError):
        crop_face(rgb)


def test_video_score_is_the_mean_of_the_top_quarter() -> None:
    assert video_score([]) is None
    assert video_score([0.2]) == pytest.approx(0.2)
    assert video_score([0.1, 0.9, 0.2, 0.8, 0.3, 0.4, 0.5, 0.6]) == pytest.approx(0.85)


def test_a_missing_model_says_how_to_rebuild_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="missing") as err:
        FaceSwapModel(tmp_path / "none.onnx")
    assert "train-detector" in (err.value.cli_hint or "")

"""The training code runs: two steps on a few self-blended LFW crops change the weights, the exported ONNX
model gives the network's own scores through onnxruntime, and the people split never shares a person."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from jikimi.signals.faceswap import FaceSwapModel, crop_square, square_box
from jikimi.signals.faceswap_train import (
    CACHE_SCALE,
    CACHE_SIZE,
    FaceSet,
    SwapNet,
    calibrate,
    detect_landmarks,
    dlib_models,
    export_onnx,
    lr_factor,
    make_batch,
    predict,
    roc_auc,
    split_people,
    train,
)

PEOPLE = ["Abdullah_Gul", "Adrien_Brody", "Al_Gore", "Alan_Greenspan"]


@pytest.fixture(scope="module")
def faces(shared: Path) -> FaceSet:
    detector, predictor = dlib_models()
    images, marks, person = [], [], []
    for pid, name in enumerate(PEOPLE):
        for path in sorted((shared / "faces" / "lfw" / name).glob("*.jpg"))[:2]:
            rgb = np.asarray(Image.open(path).convert("RGB"))
            lm = detect_landmarks(rgb, detector, predictor)
            assert lm is not None, path
            cx, cy, side = square_box(lm, CACHE_SCALE - 1.0)
            images.append(crop_square(rgb, cx, cy, side, CACHE_SIZE))
            marks.append((lm - [cx - side / 2, cy - side / 2]) * (CACHE_SIZE / side))
            person.append(pid)
    return FaceSet(np.stack(images), np.stack(marks).astype(np.float32), np.array(person, np.int32), PEOPLE)


def test_two_training_steps_update_the_weights_and_export_to_onnx(faces: FaceSet, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    log = tmp_path / "curves.jsonl"
    model, summary = train(
        faces, epochs=1, minutes=0, seed=3, pairs=2, lr=1e-3, width=8, log_path=log, max_steps=2, workers=0
    )
    assert summary["steps"] == 2 and summary["stopped_by"] == "steps"
    assert summary["val_people"] >= 1 and summary["train_people"] >= 1
    assert log.read_text().count("\n") == 1  # one epoch row of curves
    assert 0.0 <= float(summary["threshold"]) <= 1.0  # type: ignore[arg-type]
    # Same architecture, other seed: the trained weights moved away from an untrained network's.
    torch.manual_seed(3)
    fresh = SwapNet(width=8).state_dict()
    trained = model.state_dict()
    assert any(not torch.equal(fresh[k], trained[k]) for k in trained if k.endswith("weight"))

    out = tmp_path / "m.onnx"
    export_onnx(model, out, {"input_size": 112, "margin": 0.25, "threshold": 0.4, "version": "test"})
    onnx_model = FaceSwapModel(out)
    assert onnx_model.info.threshold == 0.4 and onnx_model.info.version == "test"
    x, _ = make_batch(faces, np.arange(3), np.random.default_rng(0))
    np.testing.assert_allclose(onnx_model.score(x, mirror=False), predict(model, x), atol=1e-4)
    mirrored = (predict(model, x) + predict(model, np.ascontiguousarray(x[:, :, ::-1]))) / 2
    np.testing.assert_allclose(onnx_model.score(x), mirrored, atol=1e-4)
    # The threshold is then set from the exported file as it runs, on the held-out people.
    cal = calibrate(out, faces, seed=3)
    assert FaceSwapModel(out).info.threshold == pytest.approx(cal["threshold"])
    assert 0.0 <= float(cal["val_tpr_at_threshold"]) <= 1.0  # type: ignore[arg-type]


def test_people_split_is_by_person_and_reproducible() -> None:
    person = np.repeat(np.arange(50), 3)
    a = split_people(person, 0.2, seed=1)
    assert np.array_equal(a, split_people(person, 0.2, seed=1))
    val, tr = set(person[a]), set(person[~a])
    assert not val & tr and len(val) == 10


def test_auc_and_learning_rate_schedule() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert (
        lr_factor(0.0) < 0.1
        and lr_factor(0.05) == pytest.approx(1.0)
        and lr_factor(1.0) == pytest.approx(0.0)
    )

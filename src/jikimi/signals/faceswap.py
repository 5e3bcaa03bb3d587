"""Face-swap detector: scores face crops with the bundled Self-Blended-Images CNN through onnxruntime.

The model (``models/faceswap.onnx``) was trained here by :mod:`jikimi.signals.faceswap_train` on LFW faces
blended with a transformed copy of themselves (Shiohara & Yamasaki, CVPR 2022); see ``docs/model-card.md``.
A score is the probability that a face carries blending traces. It is evidence to weigh, never proof, and a
low score never marks content as authentic.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np

from jikimi.signals.base import IMAGE, JSON, VIDEO, Signal

if TYPE_CHECKING:
    from jikimi.media import Media

Box = tuple[float, float, float, float]
"""A face box: left, top, right, bottom (pixels)."""
MODEL_PATH = Path(__file__).with_name("models") / "faceswap.onnx"
INPUT_SIZE = 112
"""Side of the square crop the network sees (pixels)."""
CROP_MARGIN = 0.25
"""Crop side = (1 + margin) x the larger side of the landmark bounding box, centred on it."""
DEFAULT_THRESHOLD = 0.5
"""Used only when the model carries no calibrated threshold in its metadata."""


def square_box(points: np.ndarray, margin: float = CROP_MARGIN) -> tuple[float, float, float]:
    """Centre (x, y) and side of the square crop around ``points`` (Nx2, e.g. 68 landmarks or box corners)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    side = max(x1 - x0, y1 - y0, 1.0) * (1.0 + margin)
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, side


def crop_square(rgb: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """Cut the square (cx, cy, side) out of ``rgb`` (edges reflected where it leaves the image), resized."""
    h, w = rgb.shape[:2]
    half = side / 2.0
    x0, y0 = round(cx - half), round(cy - half)
    s = max(round(side), 1)
    pad = max(0, -x0, -y0, x0 + s - w, y0 + s - h)
    if pad:
        border = cv2.BORDER_REFLECT_101 if pad < min(h, w) else cv2.BORDER_REPLICATE
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, border)
        x0, y0 = x0 + pad, y0 + pad
    patch = rgb[y0 : y0 + s, x0 : x0 + s]
    interp = cv2.INTER_AREA if s > size else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(patch, (size, size), interpolation=interp))


def crop_face(
    rgb: np.ndarray,
    *,
    landmarks: np.ndarray | None = None,
    box: tuple[float, float, float, float] | None = None,
    margin: float = CROP_MARGIN,
    size: int = INPUT_SIZE,
) -> np.ndarray:
    """The input crop for one face: from its 68 landmarks when known, else its box (x0, y0, x1, y1)."""
    if landmarks is not None and len(landmarks):
        cx, cy, side = square_box(np.asarray(landmarks), margin)
    elif box is not None:
        x0, y0, x1, y1 = box
        cx, cy, side = square_box(np.array([[x0, y0], [x1, y1]]), margin)
    else:
        raise ValueError("crop_face needs the face's landmarks or its box")
    return crop_square(rgb, cx, cy, side, size)


@dataclass(frozen=True)
class ModelInfo:
    """What the model's metadata says about itself."""

    input_size: int
    margin: float
    threshold: float
    version: str


class FaceSwapModel:
    """One shared onnxruntime session for the bundled model; ``score`` takes uint8 crops (N, S, S, 3)."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        import onnxruntime as ort

        if not path.is_file():
            from jikimi.errors import ConfigError

            raise ConfigError(
                "the face-swap model is missing at {path}",
                code="faceswap.model_missing",
                hint="ask an administrator to reinstall Jikimi",
                cli_hint="reinstall Jikimi, or rebuild the model with `make train-detector`",
                path=str(path),
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        meta: dict[str, Any] = dict(self.session.get_modelmeta().custom_metadata_map)
        cfg = json.loads(meta.get("jikimi", "{}"))
        self.info = ModelInfo(
            input_size=int(cfg.get("input_size", INPUT_SIZE)),
            margin=float(cfg.get("margin", CROP_MARGIN)),
            threshold=float(cfg.get("threshold", DEFAULT_THRESHOLD)),
            version=str(cfg.get("version", "unknown")),
        )
        self._input = self.session.get_inputs()[0].name

    def score(self, crops: np.ndarray, *, mirror: bool = True) -> np.ndarray:
        """Probability of a face swap for each uint8 RGB crop (N, S, S, 3) -> float array (N,); with
        ``mirror`` the mean over the crop and its mirror image (how the threshold was calibrated)."""
        crops = np.asarray(crops)
        if crops.ndim == 3:
            crops = crops[None]
        n = len(crops)
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        if mirror:
            crops = np.concatenate([crops, crops[:, :, ::-1]])
        x = crops.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        logits = self.session.run(None, {self._input: np.ascontiguousarray(x)})[0].reshape(-1)
        p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        if mirror:
            p = (p[:n] + p[n:]) / 2.0
        return p.astype(np.float32)

    def crop(self, rgb: np.ndarray, *, landmarks: np.ndarray | None = None, box: Any = None) -> np.ndarray:
        info = self.info
        return crop_face(rgb, landmarks=landmarks, box=box, margin=info.margin, size=info.input_size)

    def score_faces(
        self,
        rgb: np.ndarray,
        faces: list[tuple[np.ndarray | None, tuple[float, float, float, float] | None]],
    ) -> list[float]:
        """Score each face of one image, given as (landmarks or None, box or None) pairs."""
        if not faces:
            return []
        crops = np.stack([self.crop(rgb, landmarks=lm, box=box) for lm, box in faces])
        return [float(s) for s in self.score(crops)]


_MODEL: FaceSwapModel | None = None
_LOCK = threading.Lock()


def get_model() -> FaceSwapModel:
    """The process-wide model (loaded on first use); ``JIKIMI_FACESWAP_MODEL`` may name another ONNX file."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            override = os.environ.get("JIKIMI_FACESWAP_MODEL")
            _MODEL = FaceSwapModel(Path(override) if override else MODEL_PATH)
        return _MODEL


def video_score(frame_maxima: list[float]) -> float | None:
    """A video's score: the mean of the top quarter of its per-frame maxima (None when no face was scored)."""
    if not frame_maxima:
        return None
    vals = np.sort(np.asarray(frame_maxima, dtype=np.float64))[::-1]
    k = max(1, int(np.ceil(len(vals) / 4)))
    return float(vals[:k].mean())


# ---------------------------------------------------------------------------------------------------------
# Faces: dlib's HOG detector and 68-point landmarks (the crops the model was trained on).

_DETECT_MAX_SIDE = 1280
_local = threading.local()


def _dlib() -> tuple[Any, Any]:
    models = getattr(_local, "dlib", None)
    if models is None:
        import warnings

        import dlib

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources
            import face_recognition_models as frm

        models = (dlib.get_frontal_face_detector(), dlib.shape_predictor(frm.pose_predictor_model_location()))
        _local.dlib = models
    return models


def detect_scored(
    rgb: np.ndarray, *, upsample: int | None = None, max_side: int = _DETECT_MAX_SIDE
) -> list[tuple[Box, float]]:
    """Faces found by dlib's HOG detector: (box (left, top, right, bottom) in ``rgb``'s pixels, score), left
    to right. By default a picture is searched at most ``max_side`` pixels wide, upsampled once when small."""
    detector, _ = _dlib()
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    work = (
        rgb
        if scale == 1.0
        else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    )
    if upsample is None:
        upsample = 1 if max(work.shape[:2]) < 800 else 0
    rects, scores, _ = detector.run(np.ascontiguousarray(work), upsample, 0.0)
    found = [
        (
            (
                max(0, round(r.left() / scale)),
                max(0, round(r.top() / scale)),
                min(w, round((r.right() + 1) / scale)),
                min(h, round((r.bottom() + 1) / scale)),
            ),
            float(sc),
        )
        for r, sc in zip(rects, scores, strict=True)
    ]
    return sorted(found, key=lambda f: (f[0][0], f[0][1]))


def detect_boxes(rgb: np.ndarray) -> list[Box]:
    """Face boxes (left, top, right, bottom) found by dlib's HOG detector, in ``rgb``'s pixels."""
    return [box for box, _ in detect_scored(rgb)]


#: dlib's 5-point landmarks (eye corners, nose base) as indexes into its 68 points.
FIVE_OF_68 = (45, 42, 36, 39, 33)


def landmarks68(rgb: np.ndarray, box: Box) -> np.ndarray:
    """dlib's 68 landmarks (68 x 2) of the face in ``box`` (left, top, right, bottom)."""
    import dlib

    _, predictor = _dlib()
    left, top, right, bottom = (round(v) for v in box)
    shape = predictor(
        np.ascontiguousarray(rgb), dlib.rectangle(left, top, max(left + 1, right - 1), bottom - 1)
    )
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def score_boxes(rgb: np.ndarray, boxes: Sequence[Box]) -> list[float]:
    """Face-swap score of each face box in ``rgb`` (for faces another analyser already found)."""
    if not boxes:
        return []
    model = get_model()
    rgb = np.ascontiguousarray(rgb)
    return model.score_faces(rgb, [(landmarks68(rgb, b), None) for b in boxes])


class FaceSwapSignal(Signal):
    """A face-swap score per detected face; an image scores its maximum, a video the mean of the top quarter
    of its sampled frames' maxima. Evidence only when the score reaches the model's calibrated threshold."""

    name: ClassVar[str] = "faceswap"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})
    version: ClassVar[int] = 1
    description: ClassVar[str] = "face-swap detector (self-blended images CNN, ONNX): a score per face"

    def __init__(self, *, every_seconds: float = 1.0, max_frames: int = 120) -> None:
        self.every_seconds = every_seconds
        self.max_frames = max_frames

    def analyse_image(
        self,
        rgb: np.ndarray,
        boxes: Sequence[Box] | None = None,
        landmarks: Sequence[np.ndarray] | None = None,
    ) -> JSON:
        """The result for one picture; ``boxes`` are faces already found (else dlib's HOG finds them), and
        ``landmarks`` their 68 points when already known."""
        model = get_model()
        found = detect_boxes(rgb) if boxes is None else boxes
        if landmarks is not None and len(landmarks) == len(found):
            rgb = np.ascontiguousarray(rgb)
            scores = model.score_faces(rgb, [(lm, None) for lm in landmarks])
        else:
            scores = score_boxes(rgb, found)
        top = max(scores) if scores else None
        return self.summary(
            model,
            top,
            faces=[
                {"box": [int(v) for v in b], "score": round(s, 4)} for b, s in zip(found, scores, strict=True)
            ],
        )

    def summary(self, model: FaceSwapModel, top: float | None, **extra: Any) -> dict[str, Any]:
        t = model.info.threshold
        return {
            "model": model.info.version,
            "threshold": round(t, 4),
            "score": None if top is None else round(top, 4),
            "above_threshold": top is not None and top >= t,
            **extra,
        }

    def extract(self, media: Media) -> JSON:
        if media.kind == IMAGE:
            return self.analyse_image(np.asarray(media.upright()))
        model = get_model()
        maxima: list[tuple[int, float, float]] = []
        sampled = 0
        for n, frame in enumerate(media.frames(self.every_seconds)):
            if n >= self.max_frames:
                break
            sampled += 1
            boxes = detect_boxes(frame.rgb)
            scores = score_boxes(frame.rgb, boxes)
            if scores:
                maxima.append((frame.index, float(frame.timestamp), max(scores)))
        top = video_score([m[2] for m in maxima])
        worst = sorted(maxima, key=lambda m: -m[2])[:5]
        return self.summary(
            model,
            top,
            aggregate="mean of the top quarter of per-frame maxima",
            frames_sampled=sampled,
            frames_with_faces=len(maxima),
            top_frames=[{"index": i, "timestamp": round(ts, 3), "score": round(s, 4)} for i, ts, s in worst],
        )

"""The ``nudity`` analyser: NudeNet's 320n detector (ONNX, shipped in the ``nudenet`` package) through one
shared onnxruntime session.

Per image: every detected label with its box and score, and an ``explicit`` flag raised when an exposed
genitalia, breast, buttocks or anus detection reaches its (configurable) threshold. Videos: frames sampled
every ``every_seconds``; the result names the worst frame. The detector finds body parts, not abuse: a person
reviews.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from jikimi.errors import ConfigError, JikimiError
from jikimi.signals.base import IMAGE, JSON, VIDEO, Signal

if TYPE_CHECKING:
    from jikimi.media import Media

#: The model's classes, in output order (NudeNet 3.4, 320n).
LABELS: tuple[str, ...] = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)

#: Classes that make an image explicit, with the default score each needs.
EXPLICIT_THRESHOLDS: dict[str, float] = {
    "FEMALE_GENITALIA_EXPOSED": 0.45,
    "MALE_GENITALIA_EXPOSED": 0.45,
    "ANUS_EXPOSED": 0.45,
    "FEMALE_BREAST_EXPOSED": 0.5,
    "BUTTOCKS_EXPOSED": 0.5,
}

INPUT_SIZE = 320
MIN_SCORE = 0.2
"""Detections below this score are dropped (NudeNet's own cut-off)."""
NMS_IOU = 0.45
MODEL_NAME = "nudenet-320n"


class NudityError(JikimiError):
    """The nudity detector could not run."""


def model_path() -> Path:
    try:
        import nudenet
    except ImportError as exc:  # pragma: no cover - broken installation
        raise ConfigError(
            "the nudenet package is not installed",
            code="nudity.not_installed",
            hint="ask an administrator to install the nudity detector",
            cli_hint="install it from requirements.lock",
        ) from exc
    return Path(nudenet.__file__).with_name("320n.onnx")


class _Session:
    """One onnxruntime session for the process (onnxruntime sessions are safe to share between threads)."""

    _instance: ClassVar[_Session | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        import onnxruntime as ort

        path = model_path()
        if not path.is_file():
            raise ConfigError(
                "NudeNet's model is missing at {path}",
                code="nudity.model_missing",
                hint="ask an administrator to install the nudity detector",
                cli_hint="reinstall nudenet (requirements.lock)",
                path=str(path),
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    @classmethod
    def get(cls) -> _Session:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance


def _prepare(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """Pad to a square (bottom/right, black) and resize to 320: NudeNet's own preprocessing."""
    import cv2

    h, w = rgb.shape[:2]
    side = max(h, w)
    padded = cv2.copyMakeBorder(rgb, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    small = cv2.resize(padded, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    # NudeNet feeds its model BGR (its RGBA2BGR + swapRB steps cancel out on 3-channel input)
    blob = small[:, :, ::-1].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    return np.ascontiguousarray(blob), side


def _postprocess(output: np.ndarray, side: int, width: int, height: int) -> list[dict[str, Any]]:
    import cv2

    rows = np.asarray(output).reshape(4 + len(LABELS), -1).T
    cls_scores = rows[:, 4:]
    best = cls_scores.argmax(axis=1)
    score = cls_scores[np.arange(len(rows)), best]
    keep = score >= MIN_SCORE
    if not keep.any():
        return []
    rows, best, score = rows[keep], best[keep], score[keep]
    f = side / INPUT_SIZE
    x0 = np.clip((rows[:, 0] - rows[:, 2] / 2) * f, 0, width)
    y0 = np.clip((rows[:, 1] - rows[:, 3] / 2) * f, 0, height)
    x1 = np.clip((rows[:, 0] + rows[:, 2] / 2) * f, 0, width)
    y1 = np.clip((rows[:, 1] + rows[:, 3] / 2) * f, 0, height)
    boxes = [
        [float(a), float(b), float(c - a), float(d - b)] for a, b, c, d in zip(x0, y0, x1, y1, strict=True)
    ]
    idx = cv2.dnn.NMSBoxes(boxes, [float(s) for s in score], MIN_SCORE, NMS_IOU)
    out: list[dict[str, Any]] = []
    for i in np.asarray(idx).reshape(-1).tolist():
        out.append(
            {
                "label": LABELS[int(best[i])],
                "score": round(float(score[i]), 4),
                "box": [round(float(x0[i])), round(float(y0[i])), round(float(x1[i])), round(float(y1[i]))],
            }
        )
    out.sort(key=lambda d: -float(d["score"]))
    return out


def detect(rgb: np.ndarray) -> list[dict[str, Any]]:
    """NudeNet detections in one HxWx3 uint8 RGB picture: ``label``, ``score``, ``box`` [x0, y0, x1, y1]."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise NudityError(
            "expected an H x W x 3 uint8 RGB picture, got {shape} {dtype}",
            code="nudity.bad_image",
            shape=str(arr.shape),
            dtype=str(arr.dtype),
        )
    if arr.shape[0] < 2 or arr.shape[1] < 2:
        raise NudityError(
            "picture too small ({w}x{h} pixels)",
            code="nudity.image_too_small",
            w=arr.shape[1],
            h=arr.shape[0],
        )
    sess = _Session.get()
    blob, side = _prepare(arr)
    output = sess.session.run(None, {sess.input: blob})[0]
    return _postprocess(output, side, arr.shape[1], arr.shape[0])


def explicit_score(detections: list[dict[str, Any]], thresholds: Mapping[str, float]) -> tuple[bool, float]:
    """(explicit?, highest score among the explicit classes) for one picture's detections."""
    flagged = False
    top = 0.0
    for d in detections:
        t = thresholds.get(d["label"])
        if t is None:
            continue
        top = max(top, float(d["score"]))
        flagged = flagged or float(d["score"]) >= t
    return flagged, top


class NuditySignal(Signal):
    """Body-part labels with boxes and scores, and whether the picture is explicit."""

    name: ClassVar[str] = "nudity"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})
    version: ClassVar[int] = 1
    description: ClassVar[str] = "NudeNet 320n body-part detector: labels, boxes, an explicit flag"

    def __init__(
        self,
        *,
        thresholds: Mapping[str, float] | None = None,
        every_seconds: float = 1.0,
        max_frames: int = 300,
    ) -> None:
        merged = dict(EXPLICIT_THRESHOLDS)
        for label, value in (thresholds or {}).items():
            if label not in LABELS:
                raise NudityError(
                    "unknown nudity label {label!r}",
                    code="nudity.unknown_label",
                    hint="use one of: {choices}",
                    label=label,
                    choices=", ".join(LABELS),
                )
            if not 0.0 <= float(value) <= 1.0:
                raise NudityError(
                    "threshold for {label} must be between 0 and 1, got {value}",
                    code="nudity.bad_threshold",
                    label=label,
                    value=value,
                )
            merged[label] = float(value)
        self.thresholds = merged
        self.every_seconds = every_seconds
        self.max_frames = max_frames

    def analyse(self, rgb: np.ndarray) -> dict[str, Any]:
        """The result for one picture (also used by ``jikimi analyze`` on pixels it already decoded)."""
        dets = detect(rgb)
        flagged, top = explicit_score(dets, self.thresholds)
        return {"explicit": flagged, "explicit_score": round(top, 4), "detections": dets}

    def extract(self, media: Media) -> JSON:
        if media.kind == IMAGE:
            res = self.analyse(np.asarray(media.upright()))
            return {"model": MODEL_NAME, "thresholds": self.thresholds, **res}
        worst: dict[str, Any] | None = None
        explicit_frames = 0
        sampled = 0
        for n, frame in enumerate(media.frames(self.every_seconds)):
            if n >= self.max_frames:
                break
            sampled += 1
            res = self.analyse(frame.rgb)
            explicit_frames += int(res["explicit"])
            if worst is None or res["explicit_score"] > worst["explicit_score"]:
                worst = {"index": frame.index, "timestamp": round(float(frame.timestamp), 3), **res}
        return {
            "model": MODEL_NAME,
            "thresholds": self.thresholds,
            "explicit": explicit_frames > 0,
            "explicit_score": worst["explicit_score"] if worst else 0.0,
            "frames_sampled": sampled,
            "explicit_frames": explicit_frames,
            "worst_frame": worst,
        }

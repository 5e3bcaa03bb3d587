"""The ``face`` analyser: find every face in an image or video frame, align it, compute its embedding.

Uses the dlib models shipped in ``face_recognition_models`` (offline): the HOG frontal-face detector (fast,
the default) or the MMOD CNN detector (more accurate, opt-in) and the 5-point landmark model. The embedding
comes from the active face model (:mod:`jikimi.signals.face_models`): dlib's ResNet by default (128 values;
two photos of one person are usually within Euclidean distance ~0.5), or an ArcFace-style ONNX model set
with ``JIKIMI_FACE_MODEL``. The calibrated thresholds live in :mod:`jikimi.index.faces`.

This module only measures faces. Searching them is possible only against enrolled, consenting people, through
``jikimi.store.people`` (there is no open face search).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np

from jikimi.errors import JikimiError
from jikimi.signals.base import IMAGE, JSON, VIDEO, Signal
from jikimi.signals.face_models import (
    DLIB_DIM,
    DLIB_MODEL_NAME,
    FaceEmbedder,
    current_embedder,
    dlib_model_paths,
)

if TYPE_CHECKING:
    from jikimi.media import Media

Detector = Literal["hog", "cnn"]
DETECTORS: tuple[Detector, ...] = ("hog", "cnn")
EMBEDDING_DIM = DLIB_DIM
"""The size of the built-in dlib model's embeddings (another model's: ``current_embedder().dim``)."""
MODEL_NAME = DLIB_MODEL_NAME
"""Identifies the built-in dlib embedding space (the active one is ``current_embedder().name``); embeddings
from different models must never be compared. The embedding is dlib's ResNet descriptor of the aligned face
and of its mirror image, each scaled to unit length, summed and scaled to unit length again (measured on LFW:
TAR at FAR 0.1% 95.1% against 91.2% for the plain descriptor; see docs/accuracy.md)."""

_NO_EMBEDDING = np.zeros(0, dtype=np.float32)

DEFAULT_MAX_SIDE = 1600
"""Larger images (longest side, pixels) are scaled down before detection; boxes are in original pixels."""


class FaceError(JikimiError):
    """A face could not be measured (bad image, unknown detector, models missing)."""


@dataclass(frozen=True)
class FaceBox:
    """A face rectangle in the original image's pixel coordinates (right/bottom exclusive)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[float, float]:
        return ((self.left + self.right) / 2.0, (self.top + self.bottom) / 2.0)

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.right, self.bottom]


@dataclass(frozen=True)
class Face:
    """One face found in an image or frame: where, how sure, its 5 landmarks, its embedding (of ``model``)."""

    box: FaceBox
    confidence: float
    landmarks: tuple[tuple[float, float], ...]
    embedding: np.ndarray = field(repr=False, compare=False)
    detector: str = "hog"
    frame_index: int = 0
    timestamp: float = 0.0
    plain: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The model's descriptor of the face (``embedding`` combines it with ``mirrored``; for calibration)."""
    mirrored: np.ndarray | None = field(default=None, repr=False, compare=False)
    """The model's descriptor of the mirrored face (None when the model does not mirror-average)."""
    model: str = ""
    """The face model whose embedding space ``embedding`` is in ("" when not embedded)."""

    def to_dict(self, *, with_embedding: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "box": self.box.as_list(),
            "confidence": round(float(self.confidence), 4),
            "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks],
            "detector": self.detector,
            "frame_index": self.frame_index,
            "timestamp": round(self.timestamp, 3),
        }
        if with_embedding:
            d["embedding"] = [round(float(v), 6) for v in self.embedding]
        return d


class _FrameSource(Protocol):
    def frames(self, every_seconds: float = 1.0) -> Iterator[Any]: ...


class _Models:
    """dlib detectors and landmarks for one thread (dlib networks keep per-call state, so threads do not share
    them). The embedding model is the active ``FaceEmbedder``."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self._paths = dlib_model_paths()
        self.hog = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(self._paths["shape5"])
        self._cnn: Any = None

    @property
    def cnn(self) -> Any:
        if self._cnn is None:
            self._cnn = self._dlib.cnn_face_detection_model_v1(self._paths["cnn"])
        return self._cnn


_local = threading.local()


def _models() -> _Models:
    m: _Models | None = getattr(_local, "models", None)
    if m is None:
        try:
            m = _Models()
        except (ImportError, RuntimeError, OSError) as exc:  # pragma: no cover - broken installation
            raise FaceError(
                "the dlib face models could not be loaded: {detail}",
                code="face.models_missing",
                hint="ask an administrator to install the face recognition models",
                cli_hint="install dlib-bin and face_recognition_models (see requirements.lock)",
                detail=str(exc),
            ) from exc
        _local.models = m
    return m


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise FaceError(
            "expected an RGB image array (H x W x 3), got shape {shape}",
            code="face.bad_image",
            shape=str(arr.shape),
        )
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise FaceError(
            "image too small to hold a face ({w}x{h} pixels)",
            code="face.image_too_small",
            w=arr.shape[1],
            h=arr.shape[0],
        )
    return np.ascontiguousarray(arr)


def _downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if max_side <= 0 or longest <= max_side:
        return rgb, 1.0
    import cv2

    scale = max_side / float(longest)
    small = cv2.resize(
        rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    return np.ascontiguousarray(small), scale


def _detect(models: _Models, img: np.ndarray, detector: Detector, upsample: int) -> list[tuple[Any, float]]:
    if detector == "hog":
        rects, scores, _ = models.hog.run(img, upsample, 0.0)
        return list(zip(rects, (float(s) for s in scores), strict=True))
    if detector == "cnn":
        return [(d.rect, float(d.confidence)) for d in models.cnn(img, upsample)]
    raise FaceError(
        "unknown face detector {detector!r}",
        code="face.unknown_detector",
        hint="use one of: {choices}",
        detector=detector,
        choices=", ".join(DETECTORS),
    )


def mirror_embedding(plain: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """The product's face embedding: unit-length descriptors of the face and of its mirror image, summed and
    scaled to unit length (Euclidean distances then lie in [0, 2])."""
    a = np.asarray(plain, dtype=np.float64)
    b = np.asarray(mirrored, dtype=np.float64)
    both = a / max(float(np.linalg.norm(a)), 1e-12) + b / max(float(np.linalg.norm(b)), 1e-12)
    return (both / max(float(np.linalg.norm(both)), 1e-12)).astype(np.float32)


def detect_faces(
    rgb: np.ndarray,
    *,
    detector: Detector = "hog",
    upsample: int = 1,
    max_side: int = DEFAULT_MAX_SIDE,
    frame_index: int = 0,
    timestamp: float = 0.0,
    embed: bool = True,
    embedder: FaceEmbedder | None = None,
) -> list[Face]:
    """Every face in ``rgb`` (H x W x 3 uint8), left to right, each with landmarks and an embedding.

    ``upsample`` enlarges the image that many times (x2 each) before detection so small faces are found
    (0 = none; 1 finds faces from ~40 px, 2 from ~20 px). The embedding comes from ``embedder`` (default: the
    active model, ``current_embedder()``); with dlib it is ``mirror_embedding`` of the face's and its mirror
    image's descriptors (one batched dlib call; twice the cost of one descriptor). With ``embed=False`` no
    descriptor is computed (``embedding`` is empty): for when nobody is searched for.
    """
    if upsample < 0 or upsample > 3:
        raise FaceError(
            "upsample must be between 0 and 3, got {upsample}", code="face.bad_upsample", upsample=upsample
        )
    img = _as_rgb(rgb)
    work, scale = _downscale(img, max_side)
    models = _models()
    found = _detect(models, work, detector, upsample)
    if not found:
        return []
    import dlib

    shapes = dlib.full_object_detections()
    for rect, _ in found:
        shapes.append(models.shape(work, rect))
    vectors: list[np.ndarray] = [_NO_EMBEDDING] * len(found)
    plain: list[np.ndarray | None] = [None] * len(found)
    mirrored: list[np.ndarray | None] = [None] * len(found)
    model = ""
    if embed:
        emb = embedder if embedder is not None else current_embedder()
        got = emb.embed(emb.align(work, shapes))
        vectors = [np.array(v) for v in got.vectors]
        plain = [np.array(v) for v in got.plain]
        if got.mirrored is not None:
            mirrored = [np.array(v) for v in got.mirrored]
        model = emb.name
    h, w = img.shape[:2]
    faces: list[Face] = []
    for (rect, conf), shape, vec, pl, mir in zip(found, shapes, vectors, plain, mirrored, strict=True):
        box = FaceBox(
            left=max(0, round(rect.left() / scale)),
            top=max(0, round(rect.top() / scale)),
            right=min(w, round((rect.right() + 1) / scale)),
            bottom=min(h, round((rect.bottom() + 1) / scale)),
        )
        pts = tuple((shape.part(i).x / scale, shape.part(i).y / scale) for i in range(shape.num_parts))
        faces.append(
            Face(
                box=box,
                confidence=conf,
                landmarks=pts,
                embedding=vec,
                detector=detector,
                frame_index=frame_index,
                timestamp=timestamp,
                plain=pl,
                mirrored=mir,
                model=model,
            )
        )
    faces.sort(key=lambda f: (f.box.left, f.box.top))
    return faces


def faces_in_media(
    media: Media | _FrameSource,
    *,
    every_seconds: float = 1.0,
    detector: Detector = "hog",
    upsample: int = 1,
    max_side: int = DEFAULT_MAX_SIDE,
    max_frames: int = 600,
    embed: bool = True,
) -> list[Face]:
    """Faces in an image (turned upright by its EXIF orientation) or in a video's frames sampled every
    ``every_seconds`` (as vPDQ samples them), at most ``max_frames`` frames."""
    opts: dict[str, Any] = {
        "detector": detector,
        "upsample": upsample,
        "max_side": max_side,
        "embed": embed,
    }
    if getattr(media, "kind", None) == IMAGE and hasattr(media, "upright"):
        return detect_faces(np.asarray(media.upright()), **opts)
    faces: list[Face] = []
    for n, fr in enumerate(media.frames(every_seconds)):
        if n >= max_frames:
            break
        faces.extend(detect_faces(fr.rgb, frame_index=int(fr.index), timestamp=float(fr.timestamp), **opts))
    return faces


class FaceSignal(Signal):
    """Every face in an image or sampled video frames: box, detector confidence, 5 landmarks.

    The result holds no embeddings unless asked (``FaceSignal(embeddings=True)``): embeddings of people who
    never enrolled are not kept. To match faces against enrolled people, call ``faces_in_media`` and pass the
    faces to ``jikimi.store.people.search_faces`` in memory.
    """

    name: ClassVar[str] = "face"
    kinds: ClassVar[frozenset[str]] = frozenset({IMAGE, VIDEO})
    version: ClassVar[int] = 1
    description: ClassVar[str] = (
        "faces (dlib HOG or CNN detector, 5-point alignment, embedding of the active face model)"
    )

    def __init__(
        self,
        *,
        detector: Detector = "hog",
        upsample: int = 1,
        every_seconds: float = 1.0,
        max_frames: int = 600,
        embeddings: bool = False,
    ) -> None:
        if detector not in DETECTORS:
            raise FaceError(
                "unknown face detector {detector!r}",
                code="face.unknown_detector",
                hint="use one of: {choices}",
                detector=detector,
                choices=", ".join(DETECTORS),
            )
        self.detector: Detector = detector
        self.upsample = upsample
        self.every_seconds = every_seconds
        self.max_frames = max_frames
        self.embeddings = embeddings

    def faces(self, media: Media) -> list[Face]:
        """The faces, with their embeddings when the signal was made with ``embeddings=True``."""
        return faces_in_media(
            media,
            every_seconds=self.every_seconds,
            detector=self.detector,
            upsample=self.upsample,
            max_frames=self.max_frames,
            embed=self.embeddings,
        )

    def extract(self, media: Media) -> JSON:
        faces = self.faces(media)
        return {
            "count": len(faces),
            "detector": self.detector,
            "model": faces[0].model if faces and self.embeddings else None,
            "faces": [f.to_dict(with_embedding=self.embeddings) for f in faces],
        }


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two embeddings (smaller = more alike)."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float32) - np.asarray(b, dtype=np.float32)))

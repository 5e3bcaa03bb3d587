"""Face embedding models as plug-ins: dlib's ResNet (the default) or any ArcFace-style ONNX model.

A :class:`FaceEmbedder` turns the faces found by :mod:`jikimi.signals.face` (the dlib detector and its 5-point
landmarks) into L2-normalised embeddings: ``align`` cuts one aligned chip per face, ``embed`` measures a batch
of chips. ``name`` identifies the embedding space (stored with every enrolled face as ``PersonFace.model``);
embeddings of different names are never compared or put in one index.

The active model comes from the environment: nothing set means dlib (``DLIB_MODEL_NAME``, 128 values,
unchanged); ``JIKIMI_FACE_MODEL=/path/model.onnx`` loads that ONNX model, described by a sidecar file next to
it (``model.onnx.yaml``, else ``model.yaml``; YAML or JSON) with its name, licence and input spec. See
docs/faces.md "Using another face model". :func:`current_embedder` resolves it (cached per file version) and
raises :class:`FaceModelError` naming what to fix when the model or its sidecar is missing or invalid.
Models load offline from the given file only.
"""

from __future__ import annotations

import math
import os
import re
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from jikimi.errors import ConfigError

ENV_VAR = "JIKIMI_FACE_MODEL"
DLIB_MODEL_NAME = "dlib_face_recognition_resnet_model_v1+mirror-l2"
DLIB_DIM = 128
MAX_NAME = 64
#: The web hints of the model's configuration errors (the command line names the file and field to fix).
SIDECAR_HINT = "ask an administrator to fix the face model's sidecar file"
MODEL_FILE_HINT = "ask an administrator to check the configured face model file"
"""Model names are stored in ``person_faces.model`` (64 characters)."""

ARCFACE_SIZE = 112
ARCFACE_REFERENCE = np.array(
    [
        [38.2946, 51.6963],  # eye centre, image left (the person's right eye)
        [73.5318, 51.5014],  # eye centre, image right
        [56.0252, 71.7366],  # nose tip
        [41.5493, 92.3655],  # mouth corner, image left
        [70.7299, 92.2041],  # mouth corner, image right
    ],
    dtype=np.float32,
)
"""The standard ArcFace (InsightFace) five reference points in a 112 x 112 chip."""

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+@-]*")


class FaceModelError(ConfigError):
    """The configured face model cannot be used (missing file, bad sidecar, model that does not run)."""


@runtime_checkable
class FaceEmbedder(Protocol):
    """A face embedding model. ``name`` identifies the embedding space, ``dim`` its number of values."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def path(self) -> Path | None:
        """The model file (None for the built-in dlib model)."""
        ...

    def align(self, rgb: np.ndarray, shapes: Sequence[Any]) -> list[np.ndarray]:
        """One aligned chip (H x W x 3 uint8 RGB) per dlib 5-point ``full_object_detection`` in ``rgb``."""
        ...

    def embed(self, chips: Sequence[np.ndarray]) -> Embeddings:
        """Embeddings of aligned chips, one row each, in one batch."""
        ...


@dataclass(frozen=True)
class Embeddings:
    """A batch of embeddings: ``vectors`` (N x dim float32, unit length) and the model's raw descriptors of
    the faces (``plain``) and of their mirror images (``mirrored``, None without mirror-averaging)."""

    vectors: np.ndarray
    plain: np.ndarray
    mirrored: np.ndarray | None


def _unit(rows: np.ndarray) -> np.ndarray:
    arr = np.asarray(rows, dtype=np.float64)
    norms = np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12)
    return arr / norms


def mirror_average(plain: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Row-wise: unit-length descriptors of the face and of its mirror, summed, scaled to unit length."""
    return _unit(_unit(plain) + _unit(mirrored)).astype(np.float32)


def dlib_model_paths() -> dict[str, str]:
    """The dlib model files shipped in ``face_recognition_models`` (offline)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources
        import face_recognition_models as frm

    return {
        "cnn": frm.cnn_face_detector_model_location(),
        "shape5": frm.pose_predictor_five_point_model_location(),
        "shape68": frm.pose_predictor_model_location(),
        "resnet": frm.face_recognition_model_location(),
    }


# -- dlib ---------------------------------------------------------------------------------------------------
class DlibEmbedder:
    """dlib's ResNet: 150 x 150 dlib face chips (padding 0.25), descriptors of the chip and of its mirror,
    combined by ``mirror_average`` (the product's embedding since the start; bit-identical to before)."""

    name = DLIB_MODEL_NAME
    dim = DLIB_DIM
    path: Path | None = None

    def __init__(self) -> None:
        self._local = threading.local()

    def _resnet(self) -> Any:
        net = getattr(self._local, "resnet", None)
        if net is None:  # dlib networks keep per-call state: one per thread
            import dlib

            try:
                net = dlib.face_recognition_model_v1(dlib_model_paths()["resnet"])
            except (ImportError, RuntimeError, OSError) as exc:  # pragma: no cover - broken installation
                raise FaceModelError(
                    "the dlib face models could not be loaded: {detail}",
                    code="face.models_missing",
                    hint="ask an administrator to install the face recognition models",
                    cli_hint="install dlib-bin and face_recognition_models (see requirements.lock)",
                    detail=str(exc),
                ) from exc
            self._local.resnet = net
        return net

    def align(self, rgb: np.ndarray, shapes: Sequence[Any]) -> list[np.ndarray]:
        import dlib

        dets = shapes
        if not isinstance(shapes, dlib.full_object_detections):
            dets = dlib.full_object_detections()
            for s in shapes:
                dets.append(s)
        return list(dlib.get_face_chips(rgb, dets, size=150, padding=0.25))

    def embed(self, chips: Sequence[np.ndarray]) -> Embeddings:
        chips = list(chips)
        if not chips:
            empty = np.zeros((0, self.dim), np.float32)
            return Embeddings(empty, empty, empty)
        flips = [np.ascontiguousarray(c[:, ::-1]) for c in chips]
        descriptors = self._resnet().compute_face_descriptor(chips + flips)
        described = np.stack([np.asarray(v, dtype=np.float32) for v in descriptors])
        plain, mirrored = described[: len(chips)], described[len(chips) :]
        vectors = np.stack([_mirror_one(p, m) for p, m in zip(plain, mirrored, strict=True)])
        return Embeddings(vectors, plain, mirrored)


def _mirror_one(plain: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """``jikimi.signals.face.mirror_embedding`` for one face (the same float64 arithmetic)."""
    a = np.asarray(plain, dtype=np.float64)
    b = np.asarray(mirrored, dtype=np.float64)
    both = a / max(float(np.linalg.norm(a)), 1e-12) + b / max(float(np.linalg.norm(b)), 1e-12)
    return (both / max(float(np.linalg.norm(both)), 1e-12)).astype(np.float32)


# -- ArcFace-style alignment --------------------------------------------------------------------------------
def arcface_points_from_68(pts: np.ndarray) -> np.ndarray:
    """The five ArcFace points from dlib's 68 landmarks (iBUG 300-W order): the eye centres (mean of each
    eye's six points, 36-41 and 42-47), the nose tip (30) and the mouth corners (48, 54)."""
    p = np.asarray(pts, dtype=np.float32).reshape(68, 2)
    return np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]]).astype(np.float32)


# Where the nose tip and the mouth corners sit relative to the eyes in the ArcFace reference, in units of the
# distance between the eye centres: along the eye line (x) and perpendicular to it, downwards (y).
_REF_EYE_MID = (ARCFACE_REFERENCE[0] + ARCFACE_REFERENCE[1]) / 2
_REF_EYE_DIST = float(np.linalg.norm(ARCFACE_REFERENCE[1] - ARCFACE_REFERENCE[0]))
_MOUTH_OFFSETS = (ARCFACE_REFERENCE[3:5] - _REF_EYE_MID) / _REF_EYE_DIST


def arcface_points_from_5(pts: np.ndarray) -> np.ndarray:
    """Approximate ArcFace points from dlib's 5-point model (used only when the 68-point model is missing).

    dlib's points are: 0-1 the corners of the eye on the image right, 2-3 of the eye on the image left, 4 the
    bottom of the nose. Eye centres = midpoints of the corners; nose tip = the nose-bottom point (a few pixels
    low); mouth corners = placed as in the ArcFace reference relative to the eyes (their position is not
    measured, so the alignment rests mostly on the eyes and the nose)."""
    p = np.asarray(pts, dtype=np.float32).reshape(5, 2)
    left_eye, right_eye, nose = (p[2] + p[3]) / 2, (p[0] + p[1]) / 2, p[4]
    along = right_eye - left_eye
    dist = float(np.linalg.norm(along)) or 1.0
    ex = along / dist
    ey = np.array([-ex[1], ex[0]], dtype=np.float32)  # perpendicular, pointing down the face
    mid = (left_eye + right_eye) / 2
    mouth = [mid + dist * (float(o[0]) * ex + float(o[1]) * ey) for o in _MOUTH_OFFSETS]
    return np.stack([left_eye, right_eye, nose, *mouth]).astype(np.float32)


def similarity_transform(points: np.ndarray, size: int = ARCFACE_SIZE) -> np.ndarray:
    """The 2 x 3 similarity transform (rotation, uniform scale, shift) taking ``points`` (5 x 2, ArcFace
    order) to the ArcFace reference points scaled to ``size``; least squares over all five points."""
    import cv2

    dst = ARCFACE_REFERENCE * (size / ARCFACE_SIZE)
    src = np.asarray(points, dtype=np.float32).reshape(5, 2)
    # RANSAC with a threshold no point can exceed keeps every point as an inlier, and the Levenberg-Marquardt
    # refinement then fits all five in the least-squares sense (the usual ArcFace alignment).
    m, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1e6, refineIters=50)
    if m is None or not np.isfinite(m).all():
        raise FaceModelError(
            "these face landmarks cannot be aligned (degenerate points)",
            code="face_model.degenerate_landmarks",
        )
    return np.asarray(m, dtype=np.float64)


def align_arcface(rgb: np.ndarray, points: np.ndarray, size: int = ARCFACE_SIZE) -> np.ndarray:
    """The ``size`` x ``size`` chip of ``rgb`` with the five ``points`` moved onto the ArcFace reference."""
    import cv2

    m = similarity_transform(points, size)
    chip = cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    return np.ascontiguousarray(chip)


# -- ONNX ---------------------------------------------------------------------------------------------------
Layout = Literal["NCHW", "NHWC"]
Channels = Literal["RGB", "BGR"]


@dataclass(frozen=True)
class OnnxSpec:
    """What the sidecar file says about an ONNX face model."""

    name: str
    licence: str
    size: int = ARCFACE_SIZE
    layout: Layout = "NCHW"
    channels: Channels = "RGB"
    mean: tuple[float, float, float] = (127.5, 127.5, 127.5)
    std: tuple[float, float, float] = (127.5, 127.5, 127.5)
    mirror: bool = True
    embedding_dim: int | None = None
    input_name: str | None = None
    output_name: str | None = None


def sidecar_candidates(model: Path) -> list[Path]:
    """Where the sidecar of ``model`` is looked for, in order: ``model.onnx.yaml``, ``model.yaml``."""
    return [model.with_name(model.name + ".yaml"), model.with_suffix(".yaml")]


def _triple(raw: Any, what: str, where: Path) -> tuple[float, float, float]:
    vals = [raw] * 3 if isinstance(raw, int | float) and not isinstance(raw, bool) else raw
    if not isinstance(vals, list) or len(vals) != 3:
        raise FaceModelError(
            "{path}: input.{what} must be a number or a list of 3 numbers",
            code="face_model.bad_sidecar",
            hint=SIDECAR_HINT,
            cli_hint=(
                "write e.g. `{what}: [127.5, 127.5, 127.5]` (one per channel, in the model's channel order)"
            ),
            path=str(where),
            what=what,
        )
    try:
        out = tuple(float(v) for v in vals)
    except (TypeError, ValueError):
        raise FaceModelError(
            "{path}: input.{what} must hold numbers, got {got}",
            code="face_model.bad_sidecar",
            path=str(where),
            what=what,
            got=repr(vals),
        ) from None
    if not all(math.isfinite(v) for v in out) or (what == "std" and any(v == 0 for v in out)):
        raise FaceModelError(
            "{path}: input.{what} must be finite (and std not zero), got {got}",
            code="face_model.bad_sidecar",
            path=str(where),
            what=what,
            got=repr(vals),
        )
    return out  # type: ignore[return-value]


def read_sidecar(model: Path) -> tuple[Path, OnnxSpec]:
    """The sidecar next to ``model`` and what it says; ``FaceModelError`` naming the file and field to fix."""
    import yaml

    found = next((p for p in sidecar_candidates(model) if p.is_file()), None)
    if found is None:
        names = " or ".join(p.name for p in sidecar_candidates(model))
        raise FaceModelError(
            "the face model {model} has no sidecar file ({names})",
            code="face_model.no_sidecar",
            hint=(
                "ask an administrator to write the face model's sidecar "
                "file with its name, licence and input spec"
            ),
            cli_hint="write {sidecar} with its name, licence and input spec "
            "(see docs/faces.md, Using another face model)",
            model=str(model),
            names=names,
            sidecar=str(sidecar_candidates(model)[0]),
        )
    where = str(found)
    try:
        raw = yaml.safe_load(found.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FaceModelError(
            "the face model sidecar {path} cannot be read: {detail}",
            code="face_model.bad_sidecar",
            hint=SIDECAR_HINT,
            cli_hint="fix the YAML (or JSON)",
            path=where,
            detail=str(exc),
        ) from exc
    if not isinstance(raw, dict):
        raise FaceModelError(
            "the face model sidecar {path} is not a mapping",
            code="face_model.bad_sidecar",
            hint=SIDECAR_HINT,
            cli_hint="see docs/faces.md",
            path=where,
        )
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or len(name) > MAX_NAME:
        raise FaceModelError(
            "{path}: name must be a short identifier, got {got}",
            code="face_model.bad_sidecar",
            hint=SIDECAR_HINT,
            cli_hint="use up to {max} letters, digits, '.', '_', '+', '@' or '-', e.g. arcface-r50-v1",
            path=where,
            got=repr(name),
            max=MAX_NAME,
        )
    if name == DLIB_MODEL_NAME:
        raise FaceModelError(
            "{path}: the name {name!r} is the built-in dlib model's",
            code="face_model.bad_sidecar",
            hint=SIDECAR_HINT,
            cli_hint="choose a new name",
            path=where,
            name=name,
        )
    licence = raw.get("licence", raw.get("license"))
    if not isinstance(licence, str) or not licence.strip():
        raise FaceModelError(
            "{path}: licence is missing",
            code="face_model.bad_sidecar",
            hint=SIDECAR_HINT,
            cli_hint=(
                "state the model's licence (and that its terms allow this use), e.g. `licence: Apache-2.0`"
            ),
            path=where,
        )
    inp = raw.get("input", {}) or {}
    if not isinstance(inp, dict):
        raise FaceModelError(
            "{path}: input must be a mapping",
            code="face_model.bad_sidecar",
            hint=SIDECAR_HINT,
            cli_hint="see docs/faces.md",
            path=where,
        )
    size = inp.get("size", ARCFACE_SIZE)
    if isinstance(size, bool) or not isinstance(size, int) or not 32 <= size <= 512:
        raise FaceModelError(
            "{path}: input.size must be a whole number of pixels (32-512), got {got}",
            code="face_model.bad_sidecar",
            path=where,
            got=repr(size),
        )
    layout = str(inp.get("layout", "NCHW")).upper()
    channels = str(inp.get("channels", "RGB")).upper()
    if layout not in ("NCHW", "NHWC"):
        raise FaceModelError(
            "{path}: input.layout must be NCHW or NHWC, got {got}",
            code="face_model.bad_sidecar",
            path=where,
            got=repr(layout),
        )
    if channels not in ("RGB", "BGR"):
        raise FaceModelError(
            "{path}: input.channels must be RGB or BGR, got {got}",
            code="face_model.bad_sidecar",
            path=where,
            got=repr(channels),
        )
    dim = raw.get("embedding_dim")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0):
        raise FaceModelError(
            "{path}: embedding_dim must be a positive whole number, got {got}",
            code="face_model.bad_sidecar",
            path=where,
            got=repr(dim),
        )
    mirror = raw.get("mirror", True)
    if not isinstance(mirror, bool):
        raise FaceModelError(
            "{path}: mirror must be true or false, got {got}",
            code="face_model.bad_sidecar",
            path=where,
            got=repr(mirror),
        )
    spec = OnnxSpec(
        name=name,
        licence=licence.strip(),
        size=size,
        layout=layout,  # type: ignore[arg-type]
        channels=channels,  # type: ignore[arg-type]
        mean=_triple(inp.get("mean", 127.5), "mean", found),
        std=_triple(inp.get("std", 127.5), "std", found),
        mirror=mirror,
        embedding_dim=dim,
        input_name=inp.get("name"),
        output_name=raw.get("output"),
    )
    return found, spec


def preprocess(chips: Sequence[np.ndarray], spec: OnnxSpec) -> np.ndarray:
    """The model's input tensor for RGB chips: channel order, ``(x - mean) / std``, layout."""
    batch: np.ndarray = np.stack([np.asarray(c, dtype=np.float32) for c in chips])
    if spec.channels == "BGR":
        batch = batch[..., ::-1]
    batch = np.subtract(batch, np.array(spec.mean, np.float32)) / np.array(spec.std, np.float32)
    if spec.layout == "NCHW":
        batch = batch.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch, dtype=np.float32)


class OnnxEmbedder:
    """An ArcFace-style ONNX model: five-point similarity alignment to ``size`` x ``size`` (the ArcFace
    reference points), normalisation from the sidecar, optional mirror-averaging, L2-normalised output."""

    def __init__(self, path: Path) -> None:
        self.path: Path | None = path
        self.sidecar, self.spec = read_sidecar(path)
        self.name = self.spec.name
        self.licence = self.spec.licence
        self._local = threading.local()
        self._session = self._open(path)
        self._fixed_batch = False
        self.dim = self._probe()

    def _open(self, path: Path) -> Any:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise FaceModelError(
                "the face model {path} cannot be loaded: {detail}",
                code="face_model.unloadable",
                hint=MODEL_FILE_HINT,
                cli_hint="check that JIKIMI_FACE_MODEL names a valid ONNX model file",
                path=str(path),
                detail=str(exc).strip()[:300],
            ) from exc
        inputs, outputs = session.get_inputs(), session.get_outputs()
        names = [i.name for i in inputs]
        self._input = self.spec.input_name or names[0]
        if self._input not in names:
            raise FaceModelError(
                "{path}: the model has no input {name!r} (it has {names})",
                code="face_model.bad_sidecar",
                hint=SIDECAR_HINT,
                cli_hint="set input.name in {path} to one of the model's inputs: {names}",
                path=str(self.sidecar),
                name=self._input,
                names=str(names),
            )
        self._output = self.spec.output_name or outputs[0].name
        if self._output not in [o.name for o in outputs]:
            raise FaceModelError(
                "{path}: the model has no output {name!r}",
                code="face_model.bad_sidecar",
                hint=SIDECAR_HINT,
                cli_hint="set output in {path} to one of the model's outputs: {names}",
                path=str(self.sidecar),
                name=self._output,
                names=str([o.name for o in outputs]),
            )
        return session

    def _probe(self) -> int:
        """Check the input shape against the sidecar, then run one blank face to learn the embedding size."""
        shape = next(i.shape for i in self._session.get_inputs() if i.name == self._input)
        s, sp = self.spec.size, self.spec
        want = [None, 3, s, s] if sp.layout == "NCHW" else [None, s, s, 3]
        if len(shape) != 4 or any(
            isinstance(got, int) and w is not None and got != w for got, w in zip(shape, want, strict=True)
        ):
            raise FaceModelError(
                "the face model {path} takes input {shape}, but its sidecar says {layout} {size}x{size}x3",
                code="face_model.bad_sidecar",
                hint=SIDECAR_HINT,
                cli_hint="fix input.layout / input.size in {sidecar}",
                path=str(self.path),
                shape=str(shape),
                layout=sp.layout,
                size=s,
                sidecar=str(self.sidecar),
            )
        self._fixed_batch = isinstance(shape[0], int) and shape[0] == 1
        try:
            out = self._run(preprocess([np.zeros((s, s, 3), np.uint8)], sp))
        except Exception as exc:
            raise FaceModelError(
                "the face model {path} does not run on a {size}x{size} face: {detail}",
                code="face_model.bad_sidecar",
                hint=SIDECAR_HINT,
                cli_hint="check input.size, input.layout and input.name in {sidecar}",
                path=str(self.path),
                size=s,
                detail=str(exc).strip()[:300],
                sidecar=str(self.sidecar),
            ) from exc
        dim = int(out.shape[1])
        if sp.embedding_dim is not None and sp.embedding_dim != dim:
            raise FaceModelError(
                "{path}: embedding_dim is {dim} but the model gives {got} values",
                code="face_model.bad_sidecar",
                hint=SIDECAR_HINT,
                cli_hint="fix embedding_dim (or leave it out: it is read from the model)",
                path=str(self.sidecar),
                dim=sp.embedding_dim,
                got=dim,
            )
        return dim

    def _run(self, batch: np.ndarray) -> np.ndarray:
        if self._fixed_batch and len(batch) > 1:
            return np.concatenate([self._run(batch[i : i + 1]) for i in range(len(batch))])
        (out,) = self._session.run([self._output], {self._input: batch})
        arr = np.asarray(out, dtype=np.float32)
        return arr.reshape(arr.shape[0], -1)

    def _shape68(self) -> Any:
        pred = getattr(self._local, "shape68", None)
        if pred is None:
            import dlib

            path = dlib_model_paths().get("shape68")
            pred = dlib.shape_predictor(path) if path and Path(path).is_file() else False
            self._local.shape68 = pred
        return pred

    def points(self, rgb: np.ndarray, shape: Any) -> np.ndarray:
        """The five ArcFace points of one face: from dlib's 68-point model on the face's box when installed,
        else approximated from the 5-point ``shape``."""
        pred = self._shape68()
        if pred:
            s68 = pred(rgb, shape.rect)
            return arcface_points_from_68(np.array([[s68.part(i).x, s68.part(i).y] for i in range(68)]))
        return arcface_points_from_5(np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)]))

    def align(self, rgb: np.ndarray, shapes: Sequence[Any]) -> list[np.ndarray]:
        return [align_arcface(rgb, self.points(rgb, sh), self.spec.size) for sh in shapes]

    def embed(self, chips: Sequence[np.ndarray]) -> Embeddings:
        chips = list(chips)
        if not chips:
            empty = np.zeros((0, self.dim), np.float32)
            return Embeddings(empty, empty, None)
        if self.spec.mirror:
            flips = [np.ascontiguousarray(c[:, ::-1]) for c in chips]
            out = self._run(preprocess(chips + flips, self.spec))
            plain, mirrored = out[: len(chips)], out[len(chips) :]
            return Embeddings(mirror_average(plain, mirrored), plain, mirrored)
        plain = self._run(preprocess(chips, self.spec))
        return Embeddings(_unit(plain).astype(np.float32), plain, None)


# -- the active model ---------------------------------------------------------------------------------------
_DLIB = DlibEmbedder()


def _stamp(p: Path) -> int:
    try:
        return p.stat().st_mtime_ns
    except OSError:
        return -1


@lru_cache(maxsize=4)
def _load_onnx(path: str, stamps: tuple[int, ...]) -> OnnxEmbedder:
    return OnnxEmbedder(Path(path))


def configured_model_path() -> Path | None:
    """The ONNX model file named by ``JIKIMI_FACE_MODEL`` (None: the built-in dlib model)."""
    value = (os.environ.get(ENV_VAR) or "").strip()
    return Path(value).expanduser() if value else None


def embedder_for(path: Path | None) -> FaceEmbedder:
    """The embedder for an ONNX model file (None: dlib), loaded once per version of the file and sidecar."""
    if path is None:
        return _DLIB
    if not path.is_file():
        raise FaceModelError(
            "the configured face model file {path} does not exist",
            code="face_model.missing",
            hint=MODEL_FILE_HINT,
            cli_hint=(
                "give the path of an ONNX model in JIKIMI_FACE_MODEL, or "
                "unset it to use the built-in dlib model"
            ),
            path=str(path),
        )
    stamps = tuple(_stamp(p) for p in (path, *sidecar_candidates(path)))
    return _load_onnx(str(path.resolve()), stamps)


def current_embedder() -> FaceEmbedder:
    """The active face model: ``JIKIMI_FACE_MODEL``'s ONNX model, or dlib when it is not set."""
    return embedder_for(configured_model_path())


def active_model_name() -> str:
    """The name of the active face model's embedding space (what ``PersonFace.model`` holds)."""
    return current_embedder().name


__all__ = [
    "ARCFACE_REFERENCE",
    "ARCFACE_SIZE",
    "DLIB_DIM",
    "DLIB_MODEL_NAME",
    "ENV_VAR",
    "DlibEmbedder",
    "Embeddings",
    "FaceEmbedder",
    "FaceModelError",
    "OnnxEmbedder",
    "OnnxSpec",
    "active_model_name",
    "align_arcface",
    "arcface_points_from_5",
    "arcface_points_from_68",
    "current_embedder",
    "dlib_model_paths",
    "embedder_for",
    "mirror_average",
    "preprocess",
    "read_sidecar",
    "similarity_transform",
]

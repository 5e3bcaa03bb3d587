"""The face gallery: a faiss index over the embeddings of enrolled, consenting people, with calibrated scores.

There is no open face search. A :class:`FaceGallery` can only be built by ``jikimi.store.people.gallery()``
from people with a valid consent record; every search re-checks, at query time, that each matched person is
still enrolled with unexpired consent (so a withdrawal or an expiry stops matching at once, even mid-scan).

Distances are Euclidean between unit-length embeddings of one face model (a gallery holds one model's only).
The default threshold and the score mapping come from ``face_calibration.json`` for dlib's model, or from
``<model>.calibration.json`` next to an ONNX model (``calibration_path``), written by
``scripts/calibrate_faces.py --write`` on the LFW subset (see ``docs/accuracy.md``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from jikimi.errors import JikimiError, ValidationError
from jikimi.signals.face_models import DLIB_MODEL_NAME, ENV_VAR, current_embedder

CALIBRATION_FILE = Path(__file__).with_name("face_calibration.json")
HNSW_MIN_FACES = 20_000
"""Galleries at least this large use an HNSW graph (sub-millisecond); smaller ones an exact flat index."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 120
HNSW_EF_SEARCH = 256


def _interp(table: tuple[tuple[float, float], ...], x: float) -> float:
    xs = np.array([a for a, _ in table])
    ys = np.array([b for _, b in table])
    return float(np.interp(x, xs, ys, left=float(ys[0]) if len(ys) else 0.0, right=1.0))


@dataclass(frozen=True)
class PersonCalibration:
    """Threshold and false-accept table for a person enrolled with ``photos`` photos (the nearest counts)."""

    photos: int
    threshold: float
    far_table: tuple[tuple[float, float], ...]
    tar: float = 0.0
    """Share of this person's other photos found at ``threshold`` on LFW (true-accept rate)."""


@dataclass(frozen=True)
class Calibration:
    """Thresholds and score mapping for the embedding model, measured on LFW (``scripts/calibrate_faces.py``).

    A probe is compared with each enrolled photo and the nearest counts, so a person enrolled with more photos
    would collect more false matches at one fixed distance: the shipped thresholds are per number of enrolled
    photos (``by_photos``), each keeping the false-accept rate per (face, person) comparison at 0.1%.
    """

    model: str
    default_threshold: float
    logistic_a: float
    logistic_b: float
    far_table: tuple[tuple[float, float], ...]
    thresholds: dict[str, float]
    by_photos: tuple[PersonCalibration, ...] = ()

    def score(self, distance: float) -> float:
        """Probability that the two faces are the same person, for equal prior odds."""
        z = self.logistic_a * (distance - self.logistic_b)
        return float(1.0 / (1.0 + np.exp(np.clip(z, -50.0, 50.0))))

    def _person(self, photos: int) -> PersonCalibration | None:
        """The calibration for ``photos`` enrolled photos: the nearest tabulated count at or above it (the
        stricter one), or the largest tabulated count."""
        for pc in self.by_photos:
            if pc.photos >= max(1, photos):
                return pc
        return self.by_photos[-1] if self.by_photos else None

    def person_threshold(self, photos: int = 1) -> float:
        """The default distance threshold for a person enrolled with ``photos`` photos."""
        pc = self._person(photos)
        return pc.threshold if pc is not None else self.default_threshold

    def far(self, distance: float, photos: int | None = None) -> float:
        """Share of different-person comparisons on LFW at least this close: the false-accept rate here.

        ``photos=None``: one photo against one photo; ``photos=k``: a face against a person enrolled with k
        photos (nearest photo counts)."""
        pc = None if photos is None else self._person(photos)
        return _interp(pc.far_table if pc is not None else self.far_table, distance)

    def threshold_for(self, far: float) -> float:
        """The largest tabulated distance whose pairwise false-accept rate on LFW is at most ``far``."""
        best = self.far_table[0][0]
        for d, f in self.far_table:
            if f <= far:
                best = d
        return best

    @property
    def max_threshold(self) -> float:
        return max([self.default_threshold, *(pc.threshold for pc in self.by_photos)])


def calibration_path(model: str | None = None) -> Path:
    """Where the calibration of face model ``model`` (default: the active one) is read and written: the
    shipped ``face_calibration.json`` for dlib, ``<model>.calibration.json`` next to an ONNX model's file."""
    if model == DLIB_MODEL_NAME:
        return CALIBRATION_FILE
    active = current_embedder()
    name = model or active.name
    if name == DLIB_MODEL_NAME:
        return CALIBRATION_FILE
    if name != active.name or active.path is None:
        raise JikimiError(
            f"the face model {name!r} is not the configured one ({active.name!r})",
            f"set {ENV_VAR} to that model's file",
        )
    return active.path.with_suffix(".calibration.json")


def calibration(model: str | None = None) -> Calibration:
    """The calibration of face model ``model`` (default: the active one); refuses when there is none."""
    name = model or current_embedder().name
    path = calibration_path(name)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = -1
    if stamp < 0 and name != DLIB_MODEL_NAME:
        raise JikimiError(
            f"the face model {name!r} has no calibration ({path}); face matching is off",
            f"run scripts/calibrate_faces.py --write with {ENV_VAR} set to this model",
        )
    return _calibration(str(path), stamp, name)


@lru_cache(maxsize=4)
def _calibration(file: str, stamp: int, model: str) -> Calibration:
    try:
        raw: dict[str, Any] = json.loads(Path(file).read_text())
    except (OSError, ValueError) as exc:
        raise JikimiError(
            f"face calibration missing or unreadable: {file}",
            "run scripts/calibrate_faces.py --write",
        ) from exc
    if raw.get("model") != model:
        raise JikimiError(f"face calibration is for model {raw.get('model')!r}, not {model!r}")
    by_photos = tuple(
        sorted(
            (
                PersonCalibration(
                    photos=int(k),
                    threshold=float(v["threshold"]),
                    far_table=tuple((float(d), float(f)) for d, f in v["far_table"]),
                    tar=float(v.get("tar", 0.0)),
                )
                for k, v in raw.get("by_photos", {}).items()
            ),
            key=lambda pc: pc.photos,
        )
    )
    return Calibration(
        model=raw["model"],
        default_threshold=float(raw["default_threshold"]),
        logistic_a=float(raw["logistic_a"]),
        logistic_b=float(raw["logistic_b"]),
        far_table=tuple((float(d), float(f)) for d, f in raw["far_table"]),
        thresholds={k: float(v) for k, v in raw.items() if k.startswith("threshold_far_")},
        by_photos=by_photos,
    )


@dataclass(frozen=True)
class FaceMatch:
    """An enrolled person whose face is close to the probe: nearest enrolled photo, distance and scores."""

    person_id: int
    face_id: int
    distance: float
    score: float
    far: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "face_id": self.face_id,
            "distance": round(self.distance, 4),
            "score": round(self.score, 4),
            "far": self.far,
        }


ConsentCheck = Callable[[Collection[int]], set[int]]
"""Given person ids, return those that are enrolled with valid, unexpired consent right now."""

_GALLERY_SEAL = object()
"""Held only by ``jikimi.store.people``: galleries come from consented enrolments, never from raw vectors."""


def _as_matrix(embeddings: np.ndarray | Sequence[np.ndarray], dim: int) -> np.ndarray:
    arr = np.asarray(embeddings, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValidationError(f"a face embedding has {dim} values, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValidationError("a face embedding contains NaN or infinite values")
    return np.ascontiguousarray(arr)


def build_index(vectors: np.ndarray, dim: int | None = None) -> Any:
    """A faiss index over ``vectors`` of ``dim`` values each (default: the vectors' width): exact (flat L2)
    when small, HNSW when at least HNSW_MIN_FACES."""
    import faiss

    index: Any
    if dim is None:
        shape = np.shape(vectors)
        if len(shape) != 2 or not shape[1]:
            raise ValueError("build_index needs dim when the vectors do not show it")
        dim = int(shape[1])
    vecs = _as_matrix(vectors, dim) if len(vectors) else np.zeros((0, dim), np.float32)
    if len(vecs) >= HNSW_MIN_FACES:
        index = faiss.IndexHNSWFlat(dim, HNSW_M)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatL2(dim)
    if len(vecs):
        index.add(vecs)
    return index


class FaceGallery:
    """Enrolled, consenting people's faces, searchable by face. Built by ``jikimi.store.people.gallery()``."""

    def __init__(
        self,
        *,
        seal: object,
        face_ids: np.ndarray,
        person_ids: np.ndarray,
        expires: dict[int, datetime | None],
        index: Any,
        consent_check: ConsentCheck,
        calib: Calibration | None = None,
        fingerprint: str = "",
        model: str | None = None,
        dim: int | None = None,
    ) -> None:
        if seal is not _GALLERY_SEAL:
            raise PermissionError(
                "a face gallery can only be built from enrolled, consenting people: "
                "use jikimi.store.people.gallery()"
            )
        if len(face_ids) != len(person_ids) or int(index.ntotal) != len(face_ids):
            raise ValueError("gallery ids and index size differ")
        self.model = model or current_embedder().name
        """The face model of every embedding in this gallery; probes must come from the same model."""
        self.dim = int(dim if dim is not None else index.d)
        if int(index.d) != self.dim:
            raise ValueError(f"the index holds {index.d}-value embeddings, not {self.dim}")
        self._face_ids = np.asarray(face_ids, dtype=np.int64)
        self._person_ids = np.asarray(person_ids, dtype=np.int64)
        self._expires = dict(expires)
        self._index = index
        self._check = consent_check
        self.calibration = calib or calibration(self.model)
        self.fingerprint = fingerprint
        pids, counts = np.unique(self._person_ids, return_counts=True)
        self._photos = {int(p): int(c) for p, c in zip(pids, counts, strict=True)}

    def __len__(self) -> int:
        return len(self._face_ids)

    @property
    def people(self) -> int:
        return len(set(self._person_ids.tolist()))

    @property
    def index_kind(self) -> str:
        return type(self._index).__name__

    def search(
        self, embedding: np.ndarray, *, k: int = 5, threshold: float | None = None, verify: bool = True
    ) -> list[FaceMatch]:
        """Up to ``k`` enrolled people within ``threshold`` of one face embedding, nearest first."""
        return self.search_many(_as_matrix(embedding, self.dim), k=k, threshold=threshold, verify=verify)[0]

    def search_many(
        self,
        embeddings: np.ndarray | Sequence[np.ndarray],
        *,
        k: int = 5,
        threshold: float | None = None,
        verify: bool = True,
    ) -> list[list[FaceMatch]]:
        """For each probe embedding, up to ``k`` matching people (nearest enrolled photo each).

        ``threshold`` (a distance) overrides the calibrated default, which depends on how many photos the
        person is enrolled with (FAR 0.1% per face-person comparison on LFW). ``verify`` (on by default; the
        benchmark turns it off to time the index alone) asks the store whether every matched person is still
        enrolled with valid consent, so withdrawals apply at once.
        """
        probes = _as_matrix(embeddings, self.dim)
        cal = self.calibration
        fixed = None if threshold is None else float(threshold)
        thr = cal.max_threshold if fixed is None else fixed
        out: list[list[FaceMatch]] = [[] for _ in range(len(probes))]
        if len(self) == 0 or k <= 0:
            return out
        now = datetime.now(UTC)
        kk = min(len(self), max(4 * k, 16))
        d2, rows = self._index.search(probes, kk)
        candidates: set[int] = set()
        per_probe: list[dict[int, tuple[float, int]]] = []
        for qd, qr in zip(d2, rows, strict=True):
            best: dict[int, tuple[float, int]] = {}
            for dist2, row in zip(qd, qr, strict=True):
                if row < 0:
                    continue
                dist = float(np.sqrt(max(float(dist2), 0.0)))
                if dist > thr:
                    break
                pid = int(self._person_ids[row])
                if fixed is None and dist > cal.person_threshold(self._photos.get(pid, 1)):
                    continue
                exp = self._expires.get(pid)
                if exp is not None and exp <= now:
                    continue
                if pid not in best or dist < best[pid][0]:
                    best[pid] = (dist, int(self._face_ids[row]))
            per_probe.append(best)
            candidates.update(best)
        active = self._check(candidates) if (verify and candidates) else candidates
        for i, best in enumerate(per_probe):
            matches = [
                FaceMatch(
                    person_id=pid,
                    face_id=fid,
                    distance=d,
                    score=cal.score(d),
                    far=cal.far(d, self._photos.get(pid, 1)),
                )
                for pid, (d, fid) in best.items()
                if pid in active
            ]
            matches.sort(key=lambda m: m.distance)
            out[i] = matches[:k]
        return out

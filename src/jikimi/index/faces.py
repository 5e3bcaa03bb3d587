"""The face gallery: enrolled, consenting people's faces, searchable by face, with scores calibrated on the
people we serve (young Korean women and other East Asian faces, as well as LFW).

There is no open face search. A :class:`FaceGallery` can only be built by ``jikimi.store.people.gallery()``
from people with a valid consent record; every search re-checks, at query time, that each matched person is
still enrolled with unexpired consent (so a withdrawal or an expiry stops matching at once, even mid-scan).

Scoring (``scripts/calibrate_faces.py`` fits it; figures in ``docs/accuracy.md``):

* each person is represented by a **template**, the unit-length mean of her enrolled photos' embeddings (more,
  and more varied, photos make a better template);
* the raw score is the cosine similarity of a face with a template;
* the **normalised score** ``z`` compares that similarity with how similar the face and the template are to
  faces of people who are not her: a *cohort* described only by aggregate statistics (means and covariances of
  a few clusters of East Asian and other faces, no individual's embedding), the lowest z over the clusters
  counts (symmetric S-norm). A look-alike region of face space, where dlib puts many young East Asian women
  close together, needs a higher similarity;
* a face is a candidate for a person when both the similarity and ``z`` reach the limits fitted for the number
  of photos she is enrolled with, or a lower similarity with a higher ``z`` (a second pair of limits), chosen
  so that on every population measured (K-pop women, other East Asian public figures, LFW's East Asian people,
  the rest of LFW) at most ``target_far`` of other people's faces match.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from jikimi.errors import JikimiError, ValidationError
from jikimi.signals.face import EMBEDDING_DIM
from jikimi.signals.face_models import DLIB_MODEL_NAME, current_embedder

#: The web hint when a face model has no usable calibration (the command line names the script).
CALIBRATE_HINT = "ask an administrator to calibrate the face model"
CALIBRATION_FILE = Path(__file__).with_name("face_calibration.json")
HNSW_MIN_FACES = 20_000
"""Galleries at least this large use an HNSW graph (sub-millisecond); smaller ones an exact flat index."""
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 120
HNSW_EF_SEARCH = 256


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _interp(table: tuple[tuple[float, float], ...], x: float) -> float:
    """Linear interpolation in an increasing-x table; clamped at both ends."""
    if not table:
        return 0.0
    xs = np.array([a for a, _ in table])
    ys = np.array([b for _, b in table])
    return float(np.interp(x, xs, ys))


@dataclass(frozen=True)
class Cohort:
    """Aggregate statistics of faces of people who are not enrolled: ``means`` (K x d) and ``covariances``
    (K x d x d) of K clusters of unit-length embeddings. Only these statistics ship, never an embedding."""

    means: np.ndarray
    covariances: np.ndarray

    def __post_init__(self) -> None:
        k, d = self.means.shape
        if self.covariances.shape != (k, d, d):
            raise ValueError(
                f"cohort covariances {self.covariances.shape} do not fit means {self.means.shape}"
            )

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def stats(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For unit vectors (n x d): mean (n x K) and standard deviation (n x K) of their cosine similarity
        with the faces of each cohort cluster."""
        v = np.asarray(vectors, dtype=np.float64)
        mu = v @ self.means.T
        var = np.einsum("nd,kde,ne->nk", v, self.covariances, v)
        return mu, np.sqrt(np.maximum(var, 1e-12))

    @classmethod
    def fit(cls, vectors: np.ndarray, clusters: int, *, shrink: float = 0.05, seed: int = 0) -> Cohort:
        """Spherical k-means into ``clusters`` groups (each kept only with > 20 faces), then each group's mean
        and covariance, shrunk by ``shrink`` towards a scaled identity."""
        x = _unit(vectors)
        rng = np.random.default_rng(seed)
        k = max(1, min(int(clusters), len(x)))
        centres = x[rng.choice(len(x), k, replace=False)]
        labels = np.zeros(len(x), dtype=np.int64)
        for _ in range(30):
            labels = (x @ centres.T).argmax(1)
            centres = np.array(
                [_unit(x[labels == j].mean(0)) if (labels == j).any() else centres[j] for j in range(k)]
            )
        keep = [j for j in range(k) if (labels == j).sum() > 20] or [int(np.bincount(labels).argmax())]
        means, covs = [], []
        for j in keep:
            xs = x[labels == j]
            c = np.cov(xs.T)
            c = (1 - shrink) * c + shrink * np.trace(c) / len(c) * np.eye(len(c))
            means.append(xs.mean(0))
            covs.append(c)
        return cls(np.array(means), np.array(covs))


def normalised_scores(
    similarity: np.ndarray,
    probe_stats: tuple[np.ndarray, np.ndarray],
    template_stats: tuple[np.ndarray, np.ndarray],
) -> np.ndarray:
    """Symmetric S-norm of cosine similarities (n probes x m templates) against each cohort cluster; the least
    over the clusters (the most sceptical) is returned (n x m)."""
    mp, sp = probe_stats  # n x K
    mt, st = template_stats  # m x K
    s = np.asarray(similarity, dtype=np.float64)[:, :, None]
    z = 0.5 * ((s - mp[:, None, :]) / sp[:, None, :] + (s - mt[None, :, :]) / st[None, :, :])
    out: np.ndarray = z.min(axis=2)
    return out


@dataclass(frozen=True)
class OperatingPoint:
    """The shipped limits for a person enrolled with ``photos`` photos, and what was measured there."""

    photos: int
    similarity: float
    """Lowest cosine similarity between a face and her template."""
    z: float
    """Lowest normalised score."""
    far: float
    """Highest share, over the East Asian populations measured, of other people's faces matching her."""
    tar: float
    """Share of her other photos found, among young Korean women (K-pop, cross-validated by person)."""
    far_table: tuple[tuple[float, float], ...] = ()
    """(z, highest share over the populations of impostor comparisons accepted with at least this z)."""
    alt_similarity: float = 2.0
    """A second, lower similarity limit, accepted only with the higher normalised score ``alt_z``: faces
    that stand far out from the cohort (well-separated people) are found without loosening the look-alike
    limits."""
    alt_z: float = float("inf")

    @property
    def lowest_similarity(self) -> float:
        return min(self.similarity, self.alt_similarity)

    def accepts(self, similarity: float, z: float) -> bool:
        return (similarity >= self.similarity and z >= self.z) or (
            similarity >= self.alt_similarity and z >= self.alt_z
        )


@dataclass(frozen=True)
class Calibration:
    """The fitted scoring of one embedding model (``scripts/calibrate_faces.py --write``)."""

    model: str
    cohort: Cohort
    points: tuple[OperatingPoint, ...]
    target_far: float
    logistic_a: float
    logistic_b: float
    populations: dict[str, Any] = field(default_factory=dict)
    """The measured report (per population and per number of photos), for docs and the enrolment tip."""

    def point(self, photos: int = 1) -> OperatingPoint:
        """The operating point for ``photos`` enrolled photos: the largest tabulated count not above it."""
        best = self.points[0]
        for p in self.points:
            if p.photos <= max(1, photos):
                best = p
        return best

    def score(self, z: float) -> float:
        """Probability that the face is hers, equal prior odds (logistic fit of ``z``, East Asian faces)."""
        t = self.logistic_a * (z - self.logistic_b)
        return float(1.0 / (1.0 + np.exp(-np.clip(t, -50.0, 50.0))))

    def far(self, z: float, photos: int = 1) -> float:
        """Highest share, over the populations measured, of impostor comparisons accepted at ``z`` or up."""
        table = self.point(photos).far_table
        if not table:
            return self.target_far
        return max(0.0, min(1.0, _interp(table, z)))

    def tar(self, photos: int) -> float:
        """Share of a young Korean woman's other photos found when she is enrolled with ``photos`` photos."""
        return self.point(photos).tar


def _cohort_from(path: Path, dim: int) -> Cohort:
    with np.load(path) as data:
        cohort = Cohort(np.asarray(data["means"], np.float64), np.asarray(data["covariances"], np.float64))
    if cohort.dim != dim:
        raise ValueError(f"cohort dimension {cohort.dim} is not the embedding's {dim}")
    return cohort


def load_calibration(path: Path, *, model: str, dim: int) -> Calibration:
    """Read a calibration JSON (and the cohort file it names, beside it) for ``model``."""
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
        cohort_file = path.with_name(str(raw["cohort"]))
        digest = hashlib.sha256(cohort_file.read_bytes()).hexdigest()
        if raw.get("cohort_sha256") not in (None, digest):
            raise ValueError(f"{cohort_file.name} does not match the calibration (sha256)")
        cohort = _cohort_from(cohort_file, dim)
        points = tuple(
            sorted(
                (
                    OperatingPoint(
                        photos=int(k),
                        similarity=float(v["similarity"]),
                        z=float(v["z"]),
                        far=float(v["far"]),
                        tar=float(v["tar"]),
                        far_table=tuple((float(a), float(b)) for a, b in v.get("far_table", [])),
                        alt_similarity=float(v.get("alt_similarity", 2.0)),
                        alt_z=float(v.get("alt_z", float("inf"))),
                    )
                    for k, v in raw["by_photos"].items()
                ),
                key=lambda p: p.photos,
            )
        )
        if not points:
            raise ValueError("no operating points")
        cal = Calibration(
            model=str(raw["model"]),
            cohort=cohort,
            points=points,
            target_far=float(raw["target_far"]),
            logistic_a=float(raw["logistic_a"]),
            logistic_b=float(raw["logistic_b"]),
            populations=dict(raw.get("populations", {})),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JikimiError(
            "face calibration missing or unreadable: {path} ({detail})",
            code="faces.calibration",
            hint=CALIBRATE_HINT,
            cli_hint="run scripts/calibrate_faces.py --write with this face model configured",
            path=str(path),
            detail=str(exc),
        ) from exc
    if cal.model != model:
        raise JikimiError(
            "face calibration {path} is for model {found!r}, not {model!r}",
            code="faces.calibration",
            hint=CALIBRATE_HINT,
            cli_hint="run scripts/calibrate_faces.py --write with this face model configured",
            path=str(path),
            found=cal.model,
            model=model,
        )
    return cal


def calibration_path(model: str | None = None) -> Path:
    """Where the calibration of face model ``model`` (default: the active one) is read and written: the
    shipped ``face_calibration.json`` for dlib, ``<model>.calibration.json`` next to an ONNX model's file
    (its cohort beside it, ``<model>.calibration_cohort.npz``)."""
    if model == DLIB_MODEL_NAME:
        return CALIBRATION_FILE
    active = current_embedder()
    name = model or active.name
    if name == DLIB_MODEL_NAME:
        return CALIBRATION_FILE
    if name != active.name or active.path is None:
        raise JikimiError(
            "the face model {name!r} is not the configured one ({active!r})",
            code="faces.model_not_configured",
            hint="ask an administrator to configure that face model",
            cli_hint="set JIKIMI_FACE_MODEL to that model's file",
            name=name,
            active=active.name,
        )
    return active.path.with_suffix(".calibration.json")


def calibration(model: str | None = None) -> Calibration:
    """The calibration of face model ``model`` (default: the active one); refuses when there is none."""
    if model == DLIB_MODEL_NAME:
        name, dim = DLIB_MODEL_NAME, EMBEDDING_DIM
    else:
        active = current_embedder()
        name = model or active.name
        dim = EMBEDDING_DIM if name == DLIB_MODEL_NAME else active.dim
    path = calibration_path(name)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = -1
    if stamp < 0 and name != DLIB_MODEL_NAME:
        raise JikimiError(
            "the face model {name!r} has no calibration ({path}); face matching is off",
            code="faces.calibration",
            hint=CALIBRATE_HINT,
            cli_hint="run scripts/calibrate_faces.py --write with JIKIMI_FACE_MODEL set to this model",
            name=name,
            path=str(path),
        )
    return _calibration(str(path), stamp, name, dim)


@lru_cache(maxsize=4)
def _calibration(file: str, stamp: int, model: str, dim: int) -> Calibration:
    return load_calibration(Path(file), model=model, dim=dim)


@dataclass(frozen=True)
class FaceMatch:
    """A candidate for review: an enrolled person whose template is close to the probe face, with the reason
    (similarity, normalised score, the false-accept rate there) and her enrolled photo most like the face."""

    person_id: int
    face_id: int
    """Her enrolled photo (``PersonFace.id``) most similar to the probe: shown beside the found face."""
    distance: float
    """Euclidean distance between the face and her template (unit vectors: ``sqrt(2 - 2 * similarity)``)."""
    score: float
    far: float
    similarity: float = 0.0
    z: float = 0.0
    photos: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "face_id": self.face_id,
            "distance": round(self.distance, 4),
            "similarity": round(self.similarity, 4),
            "z": round(self.z, 3),
            "score": round(self.score, 4),
            "far": self.far,
            "photos": self.photos,
        }


ConsentCheck = Callable[[Collection[int]], set[int]]
"""Given person ids, return those that are enrolled with valid, unexpired consent right now."""

_GALLERY_SEAL = object()
"""Held only by ``jikimi.store.people``: galleries come from consented enrolments, never from raw vectors."""


def _as_matrix(embeddings: np.ndarray | Sequence[np.ndarray], dim: int = EMBEDDING_DIM) -> np.ndarray:
    arr = np.asarray(embeddings, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValidationError(
            "a face embedding has {dim} values, got shape {shape}",
            code="faces.bad_embedding",
            dim=dim,
            shape=str(arr.shape),
        )
    if not np.isfinite(arr).all():
        raise ValidationError("a face embedding contains NaN or infinite values", code="faces.bad_embedding")
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


def templates(vectors: np.ndarray, person_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person ids, unit-length mean embedding per person, number of photos per person)."""
    pids, inverse, counts = np.unique(person_ids, return_inverse=True, return_counts=True)
    sums = np.zeros((len(pids), vectors.shape[1]), np.float64)
    np.add.at(sums, inverse, _unit(vectors))
    return pids.astype(np.int64), _unit(sums), counts.astype(np.int64)


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
        vectors: np.ndarray | None = None,
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
        self._face_ids = np.asarray(face_ids, dtype=np.int64)
        self._person_ids = np.asarray(person_ids, dtype=np.int64)
        self._expires = dict(expires)
        self._index = index
        self._check = consent_check
        self.model = model or current_embedder().name
        """The face model of every embedding in this gallery; probes must come from the same model."""
        self.dim = int(dim if dim is not None else index.d)
        if int(index.d) != self.dim:
            raise ValueError(f"the index holds {index.d}-value embeddings, not {self.dim}")
        self.calibration = calib or calibration(self.model)
        self.fingerprint = fingerprint
        if vectors is None:
            vectors = index.reconstruct_n(0, int(index.ntotal)) if len(face_ids) else np.zeros((0, self.dim))
        self._vectors = _unit(np.asarray(vectors, dtype=np.float64))
        self._tpl_pids, tpl, self._tpl_photos = templates(self._vectors, self._person_ids)
        self._templates = tpl
        self._tpl_row = {int(p): n for n, p in enumerate(self._tpl_pids)}
        order = np.argsort(self._person_ids, kind="stable")
        chunks = np.split(order, np.cumsum(self._tpl_photos)[:-1]) if len(order) else []
        self._rows_of = dict(zip(self._tpl_pids.tolist(), chunks, strict=True))
        """Each person's rows in ``_vectors`` (her enrolled faces), for the photo most like a found face."""
        self._tpl_index = build_index(tpl.astype(np.float32), self.dim) if len(tpl) else None
        self._tpl_stats = self.calibration.cohort.stats(tpl) if len(tpl) else (np.zeros((0, 1)),) * 2

    def __len__(self) -> int:
        return len(self._face_ids)

    @property
    def people(self) -> int:
        return len(self._tpl_pids)

    @property
    def index_kind(self) -> str:
        return type(self._index).__name__

    def photos(self, person_id: int) -> int:
        """How many enrolled photos make up this person's template."""
        row = self._tpl_row.get(int(person_id))
        return 0 if row is None else int(self._tpl_photos[row])

    def search(
        self, embedding: np.ndarray, *, k: int = 5, threshold: float | None = None, verify: bool = True
    ) -> list[FaceMatch]:
        """Up to ``k`` enrolled people matching one face embedding, most likely first."""
        return self.search_many(_as_matrix(embedding, self.dim), k=k, threshold=threshold, verify=verify)[0]

    def search_many(
        self,
        embeddings: np.ndarray | Sequence[np.ndarray],
        *,
        k: int = 5,
        threshold: float | None = None,
        verify: bool = True,
    ) -> list[list[FaceMatch]]:
        """For each probe embedding, up to ``k`` candidate people, highest normalised score first.

        By default a person is a candidate when the calibrated rule for her number of enrolled photos accepts
        the face (similarity and normalised score, see the module docstring). ``threshold`` (an expert
        override: a Euclidean distance to her template) replaces that rule by a plain distance limit.
        ``verify`` (on by default; the benchmark turns it off to time the index alone) asks the store whether
        every matched person is still enrolled with valid consent, so withdrawals apply at once.
        """
        probes = _unit(_as_matrix(embeddings, self.dim))
        cal = self.calibration
        out: list[list[FaceMatch]] = [[] for _ in range(len(probes))]
        if self._tpl_index is None or k <= 0 or not len(probes):
            return out
        fixed = None if threshold is None else float(threshold)
        floor = (
            (1.0 - fixed * fixed / 2.0) if fixed is not None else min(p.lowest_similarity for p in cal.points)
        )
        now = datetime.now(UTC)
        kk = min(len(self._tpl_pids), max(4 * k, 16))
        d2, rows = self._tpl_index.search(probes.astype(np.float32), kk)
        probe_mu, probe_sd = cal.cohort.stats(probes)
        tmu, tsd = self._tpl_stats
        candidates: set[int] = set()
        found: list[list[tuple[int, float, float]]] = []
        for i, (qd, qr) in enumerate(zip(d2, rows, strict=True)):
            hits: list[tuple[int, float, float]] = []
            for dist2, row in zip(qd, qr, strict=True):
                if row < 0:
                    continue
                if 1.0 - float(dist2) / 2.0 < floor - 1e-4:
                    break  # templates come nearest first: no later one can pass the similarity limit
                sim = float(self._templates[row] @ probes[i])
                pid = int(self._tpl_pids[row])
                z = float(
                    normalised_scores(
                        np.array([[sim]]),
                        (probe_mu[i : i + 1], probe_sd[i : i + 1]),
                        (tmu[row : row + 1], tsd[row : row + 1]),
                    )[0, 0]
                )
                if fixed is not None:
                    if np.sqrt(max(2.0 - 2.0 * sim, 0.0)) > fixed:
                        continue
                elif not cal.point(int(self._tpl_photos[row])).accepts(sim, z):
                    continue
                exp = self._expires.get(pid)
                if exp is not None and exp <= now:
                    continue
                hits.append((row, sim, z))
            found.append(hits)
            candidates.update(int(self._tpl_pids[r]) for r, _, _ in hits)
        active = self._check(candidates) if (verify and candidates) else candidates
        for i, hits in enumerate(found):
            matches = []
            for row, sim, z in hits:
                pid = int(self._tpl_pids[row])
                if pid not in active:
                    continue
                mine = self._rows_of[pid]
                nearest = mine[int(np.argmax(self._vectors[mine] @ probes[i]))]
                photos = int(self._tpl_photos[row])
                matches.append(
                    FaceMatch(
                        person_id=pid,
                        face_id=int(self._face_ids[nearest]),
                        distance=float(np.sqrt(max(2.0 - 2.0 * sim, 0.0))),
                        score=cal.score(z),
                        far=cal.far(z, photos),
                        similarity=sim,
                        z=z,
                        photos=photos,
                    )
                )
            matches.sort(key=lambda m: (-m.z, m.distance))
            out[i] = matches[:k]
        return out

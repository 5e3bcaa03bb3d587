"""Deciding whether an analysed item is a finding, and why.

An item is a **finding** when any of these holds (each adds a reason):

- ``bank_match``: one of its hashes matches a hash bank (known abuse material, a victim's own hash list);
- ``enrolled_face``: a face in it matches a consenting, enrolled person;
- ``source_photo``: it is a derivative (undressed, cropped, resized, re-encoded, stickered, mirrored...) of
  one of the source photos a consenting, enrolled person added (``jikimi.index.source_photos``);
- ``explicit_synthetic``: it is explicit (the ``nudity`` analyser's own per-label flag) **and** shows
  synthetic evidence (any ``synthetic`` evidence item: C2PA, generator metadata, watermark; or the
  ``faceswap`` detector at or above its calibrated threshold).

The matchers are passed in by the caller (they hold big indexes and live in the parent process). This module
reads the analysers' JSON results through small, documented accessors, so a change in an analyser's output
shape breaks here loudly, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jikimi.errors import ConfigError
from jikimi.index.source_photos import SourceMatch
from jikimi.scan.pipeline import Analysis

REASONS = ("bank_match", "enrolled_face", "source_photo", "explicit_synthetic")


@dataclass(frozen=True)
class Thresholds:
    explicit: float = 0.6
    synthetic: float = 0.7
    faceswap: float = 0.7
    face_k: int = 3


class FaceMatcher(Protocol):
    """What the parent passes for enrolled-face search (``jikimi.index.faces.FaceGallery``)."""

    def search_many(self, embeddings: Any, *, k: int = ...) -> list[list[Any]]: ...


class SourceMatcher(Protocol):
    """What the parent passes for source-photo matching (``jikimi.index.source_photos.SourceIndex``)."""

    def search_frames(self, frames: Sequence[tuple[int, Any]]) -> list[SourceMatch]: ...


class BankMatcher(Protocol):
    """What the parent passes for hash-bank matching (``jikimi.store.banks.BankMatcher``):
    ``match_signals(results)`` over one item's signal results, returning matches with ``to_dict()``."""

    def match_signals(self, results: Mapping[str, Any]) -> Sequence[Any]: ...


def _score(value: Any, *keys: str) -> float | None:
    """A score from an analyser result: a number, or the first of ``keys`` present in a dict."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        for k in keys:
            v = value.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return float(v)
    return None


def nudity_score(signals: Mapping[str, Any]) -> float | None:
    """0..1: the highest explicit-class score from the ``nudity`` analyser (``explicit_score``)."""
    return _score(signals.get("nudity"), "explicit_score", "score")


def is_explicit(signals: Mapping[str, Any], threshold: float) -> bool:
    """The ``nudity`` analyser's own per-label ``explicit`` flag, or its score at or above ``threshold``."""
    value = signals.get("nudity")
    if isinstance(value, Mapping) and isinstance(value.get("explicit"), bool):
        return bool(value["explicit"])
    score = nudity_score(signals)
    return score is not None and score >= threshold


def synthetic_score(signals: Mapping[str, Any]) -> float | None:
    """How many pieces of generation/editing evidence the ``synthetic`` analyser found (C2PA, generator
    metadata, watermarks), or its ``score`` when it gives one."""
    value = signals.get("synthetic")
    if isinstance(value, Mapping) and isinstance(value.get("evidence"), list):
        return float(len(value["evidence"]))
    return _score(value, "score", "probability")


def faceswap_score(signals: Mapping[str, Any]) -> float | None:
    return _score(signals.get("faceswap"), "score", "max_score", "probability")


def synthetic_evidence(signals: Mapping[str, Any], th: Thresholds) -> list[str]:
    """What shows the item is generated or edited: each ``synthetic`` evidence item, and the face-swap
    detector when its score reaches its calibrated threshold (``above_threshold``; else ``th.faceswap``)."""
    out: list[str] = []
    syn = signals.get("synthetic")
    if isinstance(syn, Mapping) and isinstance(syn.get("evidence"), list):
        out += [str(e.get("finding") or e.get("kind") or "evidence") for e in syn["evidence"] if e]
    else:
        s = synthetic_score(signals)
        if s is not None and s >= th.synthetic:
            out.append(f"synthetic score {s:.2f}")
    fs = signals.get("faceswap")
    f = faceswap_score(signals)
    above = fs.get("above_threshold") if isinstance(fs, Mapping) else None
    if (above is True) or (above is None and f is not None and f >= th.faceswap):
        out.append(f"face-swap score {f:.2f}" if f is not None else "face-swap detected")
    return out


def face_embeddings(signals: Mapping[str, Any]) -> list[list[float]]:
    """The embeddings of the faces the ``face`` analyser found (a list or ``{"faces": [...]}``); their size is
    the face model's (128 for dlib)."""
    value = signals.get("face")
    faces = value.get("faces", []) if isinstance(value, Mapping) else value
    out: list[list[float]] = []
    for f in faces or []:
        emb = f.get("embedding") if isinstance(f, Mapping) else None
        if isinstance(emb, Sequence) and not isinstance(emb, str) and len(emb) > 0:
            out.append([float(x) for x in emb])
    return out


def face_model(signals: Mapping[str, Any]) -> str | None:
    """The face model that measured the ``face`` analyser's embeddings (None when not stated)."""
    value = signals.get("face")
    model = value.get("model") if isinstance(value, Mapping) else None
    return model if isinstance(model, str) and model else None


def face_count(signals: Mapping[str, Any]) -> int:
    """How many faces the ``face`` analyser found (with or without embeddings)."""
    value = signals.get("face")
    faces = value.get("faces", []) if isinstance(value, Mapping) else value
    return len(faces) if isinstance(faces, Sequence) else 0


@dataclass(frozen=True)
class PersonMatch:
    """An enrolled person's face in the item: the ``face``-th face found, and the gallery's figures."""

    person_id: int
    distance: float
    score: float
    face: int
    far: float | None = None
    """False-accept rate measured at this score (calibrated per population), when the gallery gives it."""
    similarity: float | None = None
    z: float | None = None
    """The normalised score (similarity against the cohort), when the gallery gives it."""
    enrolled_face: int | None = None
    """Her enrolled photo's face most like this one (``PersonFace.id``), to show beside it for review."""
    photos: int | None = None
    """How many enrolled photos make up her template."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "person_id": self.person_id,
            "distance": round(self.distance, 4),
            "score": round(self.score, 4),
            "face": self.face,
            "far": self.far,
        }
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 4)
        if self.z is not None:
            out["z"] = round(self.z, 3)
        if self.enrolled_face is not None:
            out["enrolled_face"] = self.enrolled_face
        if self.photos is not None:
            out["photos"] = self.photos
        return out


def source_score(inliers: int, min_inliers: int = 30) -> float:
    """0.5 at the match threshold, 0.75 at twice as many inliers, ... (a ranking, not a probability)."""
    return round(1.0 - 0.5 ** (inliers / max(1, min_inliers)), 4)


def people_entries(
    faces: Sequence[PersonMatch], sources: Sequence[SourceMatch], names: Mapping[int, str] | None = None
) -> list[dict[str, Any]]:
    """The ``people`` contract: one entry per person found in an item, with every way she was found.

    ``{"id", "name", "by": ["face", "source_photo"], "score", ...}``; for ``face``: ``face`` (the face's
    figures), ``far``, ``distance`` and ``similarity`` when known; for ``source_photo``: ``source_photo`` (the
    best matching source photo: ``source_id``, ``inliers``, ``region``...), ``source_id``, ``inliers`` and
    ``sources`` (every matching source photo of hers). ``score`` is the best of the reasons' scores."""
    out: dict[int, dict[str, Any]] = {}

    def entry(pid: int) -> dict[str, Any]:
        if pid not in out:
            out[pid] = {"id": pid, "name": (names or {}).get(pid, ""), "by": [], "score": 0.0}
        return out[pid]

    for f in faces:
        e = entry(f.person_id)
        e["by"].append("face")
        e["score"] = max(e["score"], round(f.score, 4))
        e["face"] = f.to_dict()
        e["distance"] = round(f.distance, 4)
        e["far"] = f.far
        if f.similarity is not None:
            e["similarity"] = round(f.similarity, 4)
        if f.z is not None:
            e["z"] = round(f.z, 3)
    for m in sources:
        e = entry(m.person_id)
        if "source_photo" not in e["by"]:
            e["by"].append("source_photo")
            e["source_photo"] = m.to_dict()
            e["source_id"] = m.source_id
            e["inliers"] = m.inliers
            e["sources"] = []
        e["sources"].append(m.to_dict())
        e["score"] = max(e["score"], source_score(m.inliers))
    return sorted(out.values(), key=lambda e: (-e["score"], e["id"]))


def match_faces(signals: Mapping[str, Any], gallery: FaceMatcher | None, k: int = 3) -> list[PersonMatch]:
    """Enrolled people whose face appears in the item (best match per person)."""
    embeddings = face_embeddings(signals)
    if gallery is None or not embeddings:
        return []
    measured, enrolled = face_model(signals), getattr(gallery, "model", None)
    if measured and isinstance(enrolled, str) and measured != enrolled:
        raise ConfigError(
            "faces measured with the face model {measured!r} cannot be searched among faces enrolled with "
            "{enrolled!r}",
            code="scan.face_model_mismatch",
            hint="ask an administrator to run every scan worker with the same face model",
            cli_hint="run every scan worker with the same JIKIMI_FACE_MODEL",
            measured=measured,
            enrolled=enrolled,
        )
    best: dict[int, PersonMatch] = {}
    for i, matches in enumerate(gallery.search_many(embeddings, k=k)):
        for m in matches:
            far, sim, z = getattr(m, "far", None), getattr(m, "similarity", None), getattr(m, "z", None)
            enrolled, photos = getattr(m, "face_id", None), getattr(m, "photos", None)
            pm = PersonMatch(
                int(m.person_id),
                float(m.distance),
                float(getattr(m, "score", 0.0)),
                i,
                None if far is None else float(far),
                None if sim is None else float(sim),
                None if z is None else float(z),
                None if enrolled is None else int(enrolled),
                None if photos is None else int(photos),
            )
            if pm.person_id not in best or pm.distance < best[pm.person_id].distance:
                best[pm.person_id] = pm
    return sorted(best.values(), key=lambda p: p.distance)


def _as_dict(match: Any) -> dict[str, Any]:
    if isinstance(match, Mapping):
        return dict(match)
    to_dict = getattr(match, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {"match": str(match)}


@dataclass
class Decision:
    """Whether the item is a finding, the reasons, the scores behind them and the matches."""

    is_finding: bool
    reasons: list[str] = field(default_factory=list)
    scores: dict[str, float | None] = field(default_factory=dict)
    bank_matches: list[dict[str, Any]] = field(default_factory=list)
    people: list[PersonMatch] = field(default_factory=list)
    """Enrolled people whose face is in the item."""
    synthetic_evidence: list[str] = field(default_factory=list)
    sources: list[SourceMatch] = field(default_factory=list)
    """Source photos the item is a derivative of (best per source photo)."""

    @property
    def person_ids(self) -> list[int]:
        """Everyone found, by face or by source photo (each once, faces first)."""
        ids = [p.person_id for p in self.people]
        return ids + sorted({m.person_id for m in self.sources} - set(ids))

    def people_json(self, names: Mapping[int, str] | None = None) -> list[dict[str, Any]]:
        """The ``people`` entries of this item (see :func:`people_entries`)."""
        return people_entries(self.people, self.sources, names)


def decide(
    analysis: Analysis,
    *,
    bank_matcher: BankMatcher | None = None,
    gallery: FaceMatcher | None = None,
    thresholds: Thresholds | None = None,
    sources: SourceMatcher | None = None,
) -> Decision:
    """Match one analysed item against the banks, the enrolled faces and the source photos (``sources``,
    using the probe features the worker computed) and decide whether it is a finding."""
    th = thresholds or Thresholds()
    sig = analysis.signals
    scores = {
        "nudity": nudity_score(sig),
        "synthetic": synthetic_score(sig),
        "faceswap": faceswap_score(sig),
        "faces": float(face_count(sig)),
    }
    if not analysis.ok:
        return Decision(False, scores=scores)
    banks = [_as_dict(m) for m in bank_matcher.match_signals(sig)] if bank_matcher is not None else []
    people = match_faces(sig, gallery, th.face_k)
    derived = sources.search_frames(analysis.features) if sources is not None and analysis.features else []
    reasons: list[str] = []
    if banks:
        reasons.append("bank_match")
    if people:
        reasons.append("enrolled_face")
        scores["face_distance"] = people[0].distance
    if derived:
        reasons.append("source_photo")
        scores["source_inliers"] = float(derived[0].inliers)
    synthetic = synthetic_evidence(sig, th)
    if synthetic and is_explicit(sig, th.explicit):
        reasons.append("explicit_synthetic")
    return Decision(bool(reasons), reasons, scores, banks, people, synthetic, derived)

"""Deciding whether an analysed item is a finding, and why.

An item is a **finding** when any of these holds (each adds a reason):

- ``bank_match``: one of its hashes matches a hash bank (known abuse material, a victim's own hash list);
- ``enrolled_face``: a face in it matches a consenting, enrolled person;
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
from jikimi.scan.pipeline import Analysis

REASONS = ("bank_match", "enrolled_face", "explicit_synthetic")


@dataclass(frozen=True)
class Thresholds:
    explicit: float = 0.6
    synthetic: float = 0.7
    faceswap: float = 0.7
    face_k: int = 3


class FaceMatcher(Protocol):
    """What the parent passes for enrolled-face search (``jikimi.index.faces.FaceGallery``)."""

    def search_many(self, embeddings: Any, *, k: int = ...) -> list[list[Any]]: ...


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
    person_id: int
    distance: float
    score: float
    face: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "distance": round(self.distance, 4),
            "score": round(self.score, 4),
            "face": self.face,
        }


def match_faces(signals: Mapping[str, Any], gallery: FaceMatcher | None, k: int = 3) -> list[PersonMatch]:
    """Enrolled people whose face appears in the item (best match per person)."""
    embeddings = face_embeddings(signals)
    if gallery is None or not embeddings:
        return []
    measured, enrolled = face_model(signals), getattr(gallery, "model", None)
    if measured and isinstance(enrolled, str) and measured != enrolled:
        raise ConfigError(
            f"faces measured with the face model {measured!r} cannot be searched among faces "
            f"enrolled with {enrolled!r}",
            "run every scan worker with the same JIKIMI_FACE_MODEL",
        )
    best: dict[int, PersonMatch] = {}
    for i, matches in enumerate(gallery.search_many(embeddings, k=k)):
        for m in matches:
            pm = PersonMatch(int(m.person_id), float(m.distance), float(getattr(m, "score", 0.0)), i)
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
    synthetic_evidence: list[str] = field(default_factory=list)


def decide(
    analysis: Analysis,
    *,
    bank_matcher: BankMatcher | None = None,
    gallery: FaceMatcher | None = None,
    thresholds: Thresholds | None = None,
) -> Decision:
    """Match one analysed item against the banks and the enrolled faces and decide whether it is a finding."""
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
    reasons: list[str] = []
    if banks:
        reasons.append("bank_match")
    if people:
        reasons.append("enrolled_face")
        scores["face_distance"] = people[0].distance
    synthetic = synthetic_evidence(sig, th)
    if synthetic and is_explicit(sig, th.explicit):
        reasons.append("explicit_synthetic")
    return Decision(bool(reasons), reasons, scores, banks, people, synthetic)
